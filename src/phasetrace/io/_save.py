"""Writing scans: :func:`save` picks a writer by suffix (or name) and writes atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .._atomic import publish
from ..errors import PhasetraceError
from ..scan import Scan
from ._registry import WRITERS, Writer

__all__ = ["SaveError", "save", "writer_for"]


class SaveError(PhasetraceError, ValueError):
    """A scan cannot be written in the requested format."""


def writer_for(path: str | os.PathLike[str], format: str | None = None) -> Writer:  # noqa: A002
    """The writer for a file name (by suffix) or a format name."""
    if format is not None:
        if format not in WRITERS:
            raise SaveError(f"unknown output format {format!r}; known: {', '.join(sorted(WRITERS))}")
        return WRITERS[format]
    suffix = Path(path).suffix.lower()
    for w in WRITERS.values():
        if suffix in w.suffixes:
            return w
    known = sorted({s for w in WRITERS.values() for s in w.suffixes})
    raise SaveError(f"{path}: no writer for {suffix or 'files without a suffix'!r}; known: {' '.join(known)}")


def save(scan: Scan, path: str | os.PathLike[str], *, format: str | None = None) -> Path:  # noqa: A002
    """Write a scan to ``path`` in the format its suffix (or ``format``) names.

    The file appears complete or not at all: it is written to a temporary
    file beside the target and renamed.

    Returns
    -------
    Path
        The written file.
    """
    writer = writer_for(path, format)
    if scan.kind not in writer.kinds:
        kinds = "/".join(writer.kinds)
        raise SaveError(f"{path}: the {writer.name} format holds {kinds} scans, not {scan.kind}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        writer.write(scan, tmp)
        publish(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target
