"""phasetrace: which crystalline phases are in a sample, how much, and from which temperature on."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import LoadError, PhasetraceError, PhasetraceWarning
from .scan import CU_KALPHA, Radiation, Scan, ScanMeta

try:
    __version__ = version("phasetrace")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "CU_KALPHA",
    "LoadError",
    "PhasetraceError",
    "PhasetraceWarning",
    "Radiation",
    "Scan",
    "ScanMeta",
    "__version__",
    "load",
    "load_all",
]


def __getattr__(name: str):
    # io pulls in every reader; import it on first use, not with the package.
    if name in ("load", "load_all"):
        from . import io

        return getattr(io, name)
    raise AttributeError(f"module 'phasetrace' has no attribute {name!r}")
