"""Exceptions and warnings of phasetrace.

Every error a user can cause (a bad file, an unknown phase, a bad option) is a
:class:`PhasetraceError`; its message is one line that names the file or the
object and the problem, so that the command line can print it without a
traceback.
"""

from __future__ import annotations

from os import PathLike


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
        self.path = str(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}")


class UnsupportedFormatError(LoadError):
    """The file is of a format, or a variant of one, that phasetrace cannot read."""


class MetadataError(PhasetraceError, ValueError):
    """A manifest or a metadata value is malformed."""


class PhasetraceWarning(UserWarning):
    """A warning that a result rests on an assumption the user should know about."""


class DefaultRadiationWarning(PhasetraceWarning):
    """The scan file does not state its wavelength; the documented default was applied."""
