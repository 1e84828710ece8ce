"""The reader registry: one :class:`Reader` per format family, found by suffix and by content.

A reader is a plain function ``read(data: bytes, path: str) -> list[RawScan]``
registered with :func:`register_reader`. It parses; it does not validate.
Validation (finite values, monotonic x, kind, radiation default) happens once,
in :func:`phasetrace.io.load`, for every format alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LoadError, PhasetraceError, UnsupportedFormatError

__all__ = ["READERS", "RawScan", "Reader", "readers_for", "register_reader", "run_readers"]


@dataclass
class RawScan:
    """What a reader returns: arrays as found in the file and metadata as found.

    Parameters
    ----------
    x, y : array-like, shape (N,)
        Axis and intensity, in file order (the front door sorts and checks).
    sigma : array-like, shape (N,), optional
        Standard uncertainties, if the file states them.
    kind : {"xrd", "raman"} or None
        Technique if the format or the file says it; None to let the front
        door infer it from the x range.
    meta : dict
        Keys named like :class:`phasetrace.scan.ScanMeta` fields (``sample``,
        ``radiation``, ``laser_nm``, ``counting_time``, ``instrument``,
        ``temperature_C``, ``x_unit``, ...) go to those fields; any other key
        goes to ``ScanMeta.extra``.
    """

    x: Any
    y: Any
    sigma: Any = None
    kind: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        if self.sigma is not None:
            self.sigma = np.asarray(self.sigma, dtype=np.float64)


ReadFunc = Callable[[bytes, str], list[RawScan]]
SniffFunc = Callable[[bytes], bool]


@dataclass(frozen=True)
class Reader:
    """A registered file reader.

    Parameters
    ----------
    name : str
        Short name, reported as ``ScanMeta.format`` (e.g. ``"xrdml"``).
    description : str
        One line for ``phasetrace formats`` and error messages.
    suffixes : tuple of str
        Lower-case suffixes with the dot (``".xrdml"``).
    read : callable
        ``read(data, path) -> list[RawScan]``.
    sniff : callable or None
        ``sniff(head) -> bool`` on the first 4096 bytes; True when the content
        is surely of this format. Used to choose between readers sharing a
        suffix (``.raw``, ``.txt``) and for files with an unknown suffix.
    kind : {"xrd", "raman"} or None
        Technique the format always holds, if any.
    priority : int
        Order among readers that claim the same file (lower first).
    generic : bool
        A catch-all reader (column text). When a specific reader recognises a
        file by content and then fails, its error is reported rather than
        letting a generic reader read the file some other way.
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    read: ReadFunc
    sniff: SniffFunc | None = None
    kind: str | None = None
    priority: int = 50
    generic: bool = False


#: All registered readers by name, in registration order.
READERS: dict[str, Reader] = {}


def register_reader(
    name: str,
    *,
    suffixes: tuple[str, ...],
    description: str,
    sniff: SniffFunc | None = None,
    kind: str | None = None,
    priority: int = 50,
    generic: bool = False,
) -> Callable[[ReadFunc], ReadFunc]:
    """Register ``read(data, path) -> list[RawScan]`` as the reader ``name``.

    Examples
    --------
    >>> @register_reader("demo", suffixes=(".demo",), description="demo format")
    ... def read_demo(data, path):
    ...     return [RawScan([1.0, 2.0], [3.0, 4.0])]
    >>> _ = READERS.pop("demo")
    """

    def deco(func: ReadFunc) -> ReadFunc:
        if name in READERS:
            raise ValueError(f"a reader named {name!r} is already registered")
        READERS[name] = Reader(
            name=name,
            description=description,
            suffixes=tuple(s.lower() for s in suffixes),
            read=func,
            sniff=sniff,
            kind=kind,
            priority=priority,
            generic=generic,
        )
        return func

    return deco


def readers_for(suffix: str, head: bytes) -> list[Reader]:
    """Readers to try for a file, best first.

    Readers whose sniffer recognises the content come first (those with a
    matching suffix before others), then the remaining readers registered for
    the suffix. A file with an unknown suffix gets only sniffing readers.

    Parameters
    ----------
    suffix : str
        Lower-case suffix of the file name, with the dot.
    head : bytes
        The first bytes of the file.
    """
    sniffed: list[Reader] = []
    by_suffix: list[Reader] = []
    for r in sorted(READERS.values(), key=lambda r: r.priority):
        hit = False
        if r.sniff is not None:
            try:
                hit = bool(r.sniff(head))
            except Exception:  # noqa: BLE001 - a sniffer must never break loading
                hit = False
        if hit:
            sniffed.append(r)
        elif suffix in r.suffixes:
            by_suffix.append(r)
    sniffed.sort(key=lambda r: (suffix not in r.suffixes, r.priority))
    return sniffed + by_suffix


def run_readers(readers: list[Reader], data: bytes, p: str | Path) -> tuple[list[RawScan], Reader]:
    """Try readers in order; the first that succeeds wins, else the most telling error is raised.

    The one dispatch for plain files (:func:`phasetrace.io.load`) and archive members alike.

    A specific (non-generic) reader whose sniffer recognised the content owns
    the file: its error is final, so a damaged vendor file is reported as
    such instead of being read by the generic column-text reader.
    """
    head = data[:4096]
    first_error: PhasetraceError | None = None
    for reader in readers:
        try:
            raws = reader.read(data, str(p))
            return list(raws), reader
        except UnsupportedFormatError as exc:
            # the reader recognised its format and knows the variant is unsupported
            raise exc from None
        except PhasetraceError as exc:
            error = exc
        except RecursionError:
            error = LoadError(p, f"malformed {reader.description} file (nested too deeply)")
        except MemoryError:
            error = LoadError(p, f"malformed {reader.description} file (implausible size)")
        except Exception as exc:  # noqa: BLE001 - any parser failure becomes a one-line error
            error = LoadError(p, f"not a valid {reader.description} file ({type(exc).__name__}: {exc})")
        if not reader.generic and _sniffs(reader, head):
            raise error from None
        if reader.generic or first_error is None:
            # nothing recognised the content: the generic reader's complaint says most
            first_error = error
    assert first_error is not None
    raise first_error


def _sniffs(reader: Reader, head: bytes) -> bool:
    if reader.sniff is None:
        return False
    try:
        return bool(reader.sniff(head))
    except Exception:  # noqa: BLE001 - a sniffer must never break loading
        return False


def supported_suffixes() -> list[str]:
    """All suffixes a reader is registered for, sorted."""
    return sorted({s for r in READERS.values() for s in r.suffixes})


def describe() -> list[Mapping[str, Any]]:
    """Name, suffixes, kind and description of every reader."""
    return [
        {"name": r.name, "suffixes": list(r.suffixes), "kind": r.kind, "description": r.description}
        for r in READERS.values()
    ]


# --------------------------------------------------------------------------- writers
WriteFunc = Callable[[Any, str], None]


@dataclass(frozen=True)
class Writer:
    """A registered file writer: ``write(scan, path)`` writes one scan to ``path``."""

    name: str
    description: str
    suffixes: tuple[str, ...]
    write: WriteFunc
    kinds: tuple[str, ...] = ("xrd", "raman")


#: All registered writers by name.
WRITERS: dict[str, Writer] = {}


def register_writer(
    name: str, *, suffixes: tuple[str, ...], description: str, kinds: tuple[str, ...] = ("xrd", "raman")
) -> Callable[[WriteFunc], WriteFunc]:
    """Register ``write(scan, path)`` as the writer ``name`` for ``suffixes``.

    The writer writes to the path it is given; :func:`phasetrace.io.save`
    passes a temporary file and renames it, so writers need not be atomic.
    """

    def deco(func: WriteFunc) -> WriteFunc:
        if name in WRITERS:
            raise ValueError(f"a writer named {name!r} is already registered")
        WRITERS[name] = Writer(name, description, tuple(s.lower() for s in suffixes), func, kinds)
        return func

    return deco
