"""Atomic output: write to a temporary file beside the target, then rename over it.

Each file is made durable (``fsync``) before its rename, so that after a crash of the machine a
target holds its old or its complete new content. A run that writes many files into one folder
(a thousand fitted profiles) pays one such flush per file; inside :func:`synced_once` the files'
own flushes are left out and one flush of the file system at the end of the block makes them all
durable together. The renames stay atomic: a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "atomic_write_text", "publish", "synced_once"]

#: Folders written into inside :func:`synced_once` (None outside one: every file is flushed itself).
_DEFERRED: ContextVar[set[Path] | None] = ContextVar("phasetrace_deferred_sync", default=None)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Give a finished temporary file normal permissions (0666 less umask) and rename it to ``target``.

    ``tempfile.mkstemp`` creates files readable by the owner only; outputs
    should look like any other file the user writes.
    """
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` only if the block succeeds.

    A reader of ``path`` sees the old content or the complete new content,
    never a half-written file; on an exception the temporary file is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    deferred = _DEFERRED.get()
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            if deferred is None:
                os.fsync(fh.fileno())
        publish(tmp, target)
        if deferred is not None:
            deferred.add(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write text to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


@contextlib.contextmanager
def synced_once() -> Iterator[None]:
    """Atomic writes in the block skip their own ``fsync``; the file system is flushed once at its end.

    For outputs of many files (a run's profiles, tables and pages): each file still appears by an
    atomic rename, and when the block ends its data and the folders' entries are on disk, as if
    each file had been flushed. Nested blocks flush with the outermost one.
    """
    if _DEFERRED.get() is not None or os.name == "nt":  # Windows cannot open a folder to flush it
        yield
        return
    folders: set[Path] = set()
    token = _DEFERRED.set(folders)
    try:
        yield
    finally:
        _DEFERRED.reset(token)
        for folder in sorted(folders):
            with contextlib.suppress(OSError):
                _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Flush the file system holding ``folder`` (data and metadata), then the folder's entries."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        if not _syncfs(fd):
            os.sync()
        os.fsync(fd)  # the renames (a no-op after syncfs, needed after a plain sync on some systems)
    finally:
        os.close(fd)


_LIBC: list[object] = []


def _syncfs(fd: int) -> bool:
    """``syncfs(2)`` (Linux: flush one file system, not all of them); False where it is not available."""
    if not _LIBC:
        import ctypes  # here: most runs never flush a folder, and start-up time counts
        import ctypes.util

        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name, use_errno=True) if name else None
        except OSError:
            lib = None
        _LIBC.append(getattr(lib, "syncfs", None))
    fn = _LIBC[0]
    return fn is not None and fn(fd) == 0  # type: ignore[operator]
