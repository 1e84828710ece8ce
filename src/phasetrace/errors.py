"""Exceptions and warnings of phasetrace.

Every error a user can cause (a bad file, an unknown phase, a bad option) is a
:class:`PhasetraceError`; its message is one line that names the file or the
object and the problem, so that the command line can print it without a
traceback.
"""

from __future__ import annotations

import re
from os import PathLike

__all__ = [
    "MAX_MESSAGE_CHARS",
    "CifError",
    "DataWarning",
    "DefaultRadiationWarning",
    "LoadError",
    "MetadataError",
    "OptionError",
    "PhasetraceError",
    "PhasetraceWarning",
    "UnsupportedFormatError",
    "bounded",
    "escape_controls",
]

#: Longest message phasetrace prints for one error (characters): a file can put
#: anything in a field that ends up quoted in a message, and one line must stay one line.
MAX_MESSAGE_CHARS = 300

# C0 and C1 control characters and DEL: never echoed raw to a terminal (ESC sequences, newlines).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    r"""``text`` with control characters written as escapes (``\n``, ``\x1b``), so it stays one line.

    Examples
    --------
    >>> escape_controls("a\nb\x1b[31m")
    'a\\nb\\x1b[31m'
    """
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], str(text))


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """One printable line of at most ``limit`` characters: controls escaped, the middle cut out if long.

    The start (usually the file name) and the end (usually the problem, so the larger part) are kept.

    Examples
    --------
    >>> len(bounded("x" * 10_000))
    300
    """
    text = escape_controls(text)
    if len(text) <= limit:
        return text
    mark = " … "
    head = (limit - len(mark)) * 2 // 5  # the problem is at the end: it keeps the larger part
    tail = limit - len(mark) - head
    return text[:head] + mark + text[len(text) - tail :]


#: Longest single word (no white space) kept whole in a problem description.
_MAX_WORD = 48


def _shorten(word: str) -> str:
    if len(word) <= _MAX_WORD:
        return word
    keep = (_MAX_WORD - 1) // 2
    return f"{word[:keep]}…{word[-keep:]}"


class PhasetraceError(Exception):
    """Base class of every error phasetrace raises on purpose."""


class LoadError(PhasetraceError, ValueError):
    """A scan file could not be read.

    Parameters
    ----------
    path : str or path-like
        The file that was being read.
    problem : str
        What is wrong with it, in one line.
    """

    def __init__(self, path: str | PathLike[str], problem: str):
        self.path = escape_controls(str(path))
        words = (_shorten(w) for w in str(problem).split())  # a 1 MB "value" quoted from a file
        self.problem = bounded(" ".join(words), MAX_MESSAGE_CHARS - 60)
        super().__init__(bounded(f"{self.path}: {self.problem}"))


class UnsupportedFormatError(LoadError):
    """The file is of a format, or a variant of one, that phasetrace cannot read."""


class CifError(PhasetraceError, ValueError):
    """A CIF cannot be used as a reference structure (the library's reader, checks and calculator)."""


class OptionError(PhasetraceError, ValueError):
    """A command-line option is unusable (an output path that cannot be written, a repeated id)."""


class MetadataError(PhasetraceError, ValueError):
    """A manifest or a metadata value is malformed."""


class PhasetraceWarning(UserWarning):
    """A warning that a result rests on an assumption the user should know about."""


class DataWarning(PhasetraceWarning):
    """The data needed a documented repair at load time (e.g. zero uncertainties replaced)."""


class DefaultRadiationWarning(PhasetraceWarning):
    """The scan file does not state its wavelength; the documented default was applied."""
