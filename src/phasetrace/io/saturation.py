"""Detector saturation: points where the read-out stopped at its ceiling, so a band there is cut off.

A CCD pixel or an ADC that saturates reports its largest number however much more light arrives:
a band on it has a flat top, and its height, width and apex position are wrong (the Rayleigh line
or a strong silicon band at a long exposure). Two signatures, both read from the numbers alone:

* **full scale**: the scan's maximum is the largest value of an integer read-out
  (:data:`FULL_SCALE_COUNTS`, or the format's own when the reader knows its data type, e.g. 65535
  for 16-bit): every point at it is saturated, however few;
* **flat top**: where the format says the counts are integers, a run of at least
  :data:`MIN_FLAT_TOP_POINTS` consecutive points exactly at the scan's maximum (a read-out clipped
  below full scale, e.g. after an offset). Counting noise makes equal neighbours at a peak's apex
  rare once the counts are high (:data:`MIN_FLAT_TOP_COUNTS`).

Scaled or averaged floating-point data only show the first signature (a mean of clipped frames
is still the ceiling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CEILING_TOLERANCE",
    "FULL_SCALE_COUNTS",
    "MIN_FLAT_TOP_COUNTS",
    "MIN_FLAT_TOP_POINTS",
    "Saturation",
    "find_saturation",
]

#: Largest values of the integer read-outs of spectrometer detectors: unsigned 12-, 14-, 16-, 18-, 20-,
#: 24- and 32-bit ADCs (2ⁿ − 1) and signed 16- and 32-bit ones (2ⁿ⁻¹ − 1).
FULL_SCALE_COUNTS: tuple[int, ...] = tuple(
    sorted({2**n - 1 for n in (12, 14, 16, 18, 20, 24, 32)} | {2**15 - 1, 2**31 - 1})
)

#: Consecutive points at the maximum that make a flat top in integer data (two equal neighbours at an
#: apex happen by chance; three at high counts hardly do).
MIN_FLAT_TOP_POINTS = 3

#: A flat top counts only at or above this many counts: at Poisson σ ≥ 10, equal neighbours at an apex
#: have a chance below 3 % per pair.
MIN_FLAT_TOP_COUNTS = 100.0


#: Relative distance from a full-scale value that still counts as it (float text of an integer).
CEILING_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Saturation:
    """Saturated points of a scan.

    Attributes
    ----------
    mask : numpy.ndarray of bool, shape (N,)
        True at a saturated point.
    value : float
        The ceiling the points sit at.
    full_scale : bool
        True when ``value`` is an integer read-out's full scale; False for a flat top below it.
    """

    mask: np.ndarray
    value: float
    full_scale: bool

    @property
    def count(self) -> int:
        """Number of saturated points."""
        return int(np.count_nonzero(self.mask))

    def ranges(self, x: np.ndarray) -> list[tuple[float, float]]:
        """First and last ``x`` of each run of saturated points, in order."""
        idx = np.flatnonzero(self.mask)
        if idx.size == 0:
            return []
        breaks = np.flatnonzero(np.diff(idx) > 1)
        starts = np.concatenate(([idx[0]], idx[breaks + 1]))
        ends = np.concatenate((idx[breaks], [idx[-1]]))
        return [(float(x[a]), float(x[b])) for a, b in zip(starts, ends, strict=True)]

    def to_dict(self, x: np.ndarray) -> dict[str, Any]:
        """JSON-ready record (what a scan's metadata keeps under ``extra["saturated"]``)."""
        return {
            "points": self.count,
            "value": self.value,
            "full_scale": self.full_scale,
            "ranges": [list(r) for r in self.ranges(x)],
        }


def _runs_at_least(mask: np.ndarray, n: int) -> np.ndarray:
    """``mask`` kept only in runs of at least ``n`` consecutive True values."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    out = np.zeros(mask.size, dtype=bool)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= n:
            out[a:b] = True
    return out


def find_saturation(
    y: np.ndarray, *, integer_counts: bool = False, full_scale: float | None = None
) -> Saturation | None:
    """Saturated points of an intensity array, or None when there are none.

    Parameters
    ----------
    y : array-like, shape (N,)
        Intensities as read (before any background subtraction).
    integer_counts : bool
        The format stores integer counts (a flat top below full scale then counts too).
    full_scale : float, optional
        The read-out's largest value when the format states its data type (``np.iinfo(dtype).max``);
        otherwise any of :data:`FULL_SCALE_COUNTS`.

    Returns
    -------
    Saturation or None

    Examples
    --------
    >>> y = np.array([10.0, 300.0, 65535.0, 65535.0, 280.0, 12.0])
    >>> find_saturation(y).count
    2
    >>> find_saturation(np.array([10.0, 300.0, 280.0])) is None
    True
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return None
    top = float(np.max(y))
    at_top = y == top  # a clipped read-out repeats one number exactly
    ceilings = (full_scale,) if full_scale is not None else FULL_SCALE_COUNTS
    if any(abs(top - c) <= CEILING_TOLERANCE * c for c in ceilings):
        return Saturation(mask=at_top, value=top, full_scale=True)
    if integer_counts and top >= MIN_FLAT_TOP_COUNTS:
        flat = _runs_at_least(at_top, MIN_FLAT_TOP_POINTS)
        if flat.any():
            return Saturation(mask=flat, value=top, full_scale=False)
    return None
