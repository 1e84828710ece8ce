"""Small helpers shared by the file writers: exact numbers, one-line text, evenly stepped axes."""

from __future__ import annotations

import numpy as np

__all__ = [
    "EVEN_STEP_TOL",
    "exact_number",
    "is_evenly_stepped",
    "nominal_step",
    "one_line",
    "stated_radiation",
]

#: An axis counts as evenly stepped when start + i·step reproduces it to this fraction of a step
#: (float64 noise of a computed axis is ~1e-12).
EVEN_STEP_TOL = 1e-6


def exact_number(v: float, *, positional: bool = False, integer_point: bool = False) -> str:
    """Shortest text that reads back as the same float64.

    Integers are written without a decimal point (``"1200"``; ``"1200.0"`` with
    ``integer_point``). ``positional`` avoids exponents (``1e-05`` → ``0.00001``)
    for formats whose readers do not take them.
    """
    v = float(v)
    if v.is_integer() and abs(v) < 2.0**53:
        return f"{int(v)}.0" if integer_point else str(int(v))
    return np.format_float_positional(v, unique=True, trim="-") if positional else repr(v)


def one_line(value: object) -> str:
    """Text on one line: control characters become spaces, runs of spaces collapse."""
    return " ".join("".join(ch if ord(ch) >= 32 else " " for ch in str(value)).split())


def is_evenly_stepped(x: np.ndarray, tol: float = EVEN_STEP_TOL) -> bool:
    """True when ``np.linspace(x[0], x[-1], n)`` (what start/end/count formats rebuild) reproduces ``x``."""
    if x.size < 2:
        return True
    step = (x[-1] - x[0]) / (x.size - 1)
    return bool(np.max(np.abs(np.linspace(x[0], x[-1], x.size) - x)) <= tol * abs(step))


def nominal_step(x: np.ndarray) -> float:
    """Median step to 10 significant digits, for headers that state a step (0 for one point)."""
    return float(f"{np.median(np.diff(x)):.10g}") if x.size > 1 else 0.0


def stated_radiation(meta):
    """The radiation a writer states in the file: the scan's, or None when it is only the assumed default.

    A default the loader applied (``source == "default"``) was not in the original file and is not
    written, so the written file reads back with the same default and the same warning.
    """
    rad = meta.radiation
    return None if rad is None or rad.source == "default" else rad
