"""``python -m phasetrace.cli``: the same command line as ``phasetrace``."""

from . import main

main()
