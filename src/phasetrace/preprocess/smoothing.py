"""Savitzky–Golay smoothing, sized in points or in x units.

Smoothing is optional in the pipeline: the peak finder smooths a copy of the
background-subtracted scan to locate maxima (never the data that are fitted).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..scan import Scan

__all__ = ["DEFAULT_POLYORDER", "odd_window", "savgol", "smooth_scan"]

#: Polynomial order of the smoothing: cubic keeps peak heights within a few % for windows up to one FWHM.
DEFAULT_POLYORDER = 3


def odd_window(points: float, polyorder: int = DEFAULT_POLYORDER) -> int:
    """Nearest odd window length ≥ ``polyorder + 2`` for a width given in points (0 means no smoothing)."""
    if points <= 0:
        return 0
    w = int(round(points))
    w += 1 - w % 2
    return max(w, polyorder + 2 + (polyorder + 2 + 1) % 2)


def savgol(y: ArrayLike, *, window: int, polyorder: int = DEFAULT_POLYORDER) -> np.ndarray:
    """Savitzky–Golay smooth of ``y``.

    Parameters
    ----------
    y : array-like, shape (N,)
    window : int
        Window length in points (made odd and at least ``polyorder + 2``);
        0 or 1 returns a copy of ``y``.
    polyorder : int

    Returns
    -------
    numpy.ndarray, shape (N,)
    """
    ya = np.asarray(y, dtype=float)
    if window <= 1:
        return ya.copy()
    w = odd_window(window, polyorder)
    if w > ya.size:
        w = ya.size if ya.size % 2 else ya.size - 1
    if w <= polyorder:
        return ya.copy()
    from scipy.signal import savgol_filter  # ~0.5 s to import: only where smoothing is done

    return savgol_filter(ya, w, polyorder, mode="interp")


def smooth_scan(
    scan: Scan,
    *,
    width: float | None = None,
    points: int | None = None,
    polyorder: int = DEFAULT_POLYORDER,
) -> Scan:
    """A copy of ``scan`` with Savitzky–Golay smoothed intensities.

    Parameters
    ----------
    scan : Scan
    width : float, optional
        Window in x units (degrees 2θ, cm⁻¹).
    points : int, optional
        Window in points (instead of ``width``).
    polyorder : int

    Returns
    -------
    Scan
        Same x, metadata and σ; ``meta.extra["smoothed"]`` records the window.
    """
    if (width is None) == (points is None):
        raise ValueError("give either width or points")
    n = int(points) if points is not None else odd_window(float(width) / scan.step, polyorder)
    y = savgol(scan.y, window=n, polyorder=polyorder)
    extra = {**dict(scan.meta.extra), "smoothed": {"method": "savgol", "window": n, "polyorder": polyorder}}
    return scan.replace(y=y, meta=scan.meta.replace(extra=extra))
