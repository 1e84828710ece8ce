"""Per-point noise of a scan: counting statistics for XRD counts, a robust local estimate otherwise.

The noise sets every threshold downstream (peak prominence, the detection
limit of a missing reflection), so it must be right where it matters: on the
background between peaks and on the peaks themselves.

Methods
-------
``"file"``
    The uncertainties the file gives (``Scan.sigma``).
``"counts"``
    Counting statistics, ``σ = g · sqrt(max(y, 1))``. The gain ``g`` is 1 for
    raw counts. It is estimated from the point-to-point scatter when that
    disagrees with Poisson statistics by more than a factor
    :data:`GAIN_TOLERANCE` (count rates, summed or rescaled detector channels).
``"mad"``
    A robust local estimate: the median absolute second difference in a
    moving window (Raman spectra, whose CCD noise is not pure shot noise, and
    intensities that are not counts).

The point-to-point scatter is measured with second differences at lags 1–3
and the largest is kept: for white noise all lags agree, while for spectra
that were smoothed by the instrument software the lag-1 difference
underestimates the noise that matters for a peak several points wide.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.ndimage import median_filter, uniform_filter1d

from ..errors import PhasetraceError
from ..scan import Scan, ScanKind

__all__ = ["NOISE_METHODS", "NoiseError", "estimate_noise", "point_scatter", "scan_noise"]

NoiseMethod = Literal["auto", "file", "counts", "mad"]

#: Noise methods by name.
NOISE_METHODS = ("auto", "file", "counts", "mad")

#: Normal-consistent scale of the median absolute deviation.
MAD_TO_SIGMA = 1.4826

#: Standard deviation of a second difference y[i-k] - 2 y[i] + y[i+k] of white noise, in σ.
SECOND_DIFFERENCE_GAIN = np.sqrt(6.0)

#: Lags of the second differences that measure the point-to-point scatter (see the module docstring).
SCATTER_LAGS = (1, 2, 3)

#: Counting statistics are trusted while the measured scatter is within this factor of sqrt(y).
GAIN_TOLERANCE = 1.5

#: Window of the local robust estimate, points; long enough for a stable median, short enough to follow
#: a background that changes by an order of magnitude across a scan.
MAD_WINDOW_POINTS = 101

#: Fraction of values that must be whole numbers for y to be taken as counts.
INTEGER_FRACTION = 0.98

#: Smallest σ returned, as a fraction of the median σ (keeps zero-count stretches from dividing by zero).
SIGMA_FLOOR_FRACTION = 0.05


class NoiseError(PhasetraceError, ValueError):
    """The noise of a scan cannot be estimated with the requested method."""


def _second_differences(y: np.ndarray, lag: int) -> np.ndarray:
    return y[: -2 * lag] - 2.0 * y[lag:-lag] + y[2 * lag :]


def point_scatter(y: ArrayLike, *, scale: ArrayLike | None = None) -> float:
    """Robust point-to-point noise of ``y`` (in units of ``scale`` if given).

    Parameters
    ----------
    y : array-like, shape (N,)
    scale : array-like, shape (N,), optional
        Divide each second difference by the scale at its centre (e.g.
        ``sqrt(y)`` to measure the noise relative to counting statistics).

    Returns
    -------
    float
        The largest of the MAD-based estimates at the lags in
        :data:`SCATTER_LAGS`; NaN for fewer than 7 points.
    """
    ya = np.asarray(y, dtype=float)
    out = []
    for lag in SCATTER_LAGS:
        if ya.size < 2 * lag + 3:
            continue
        d2 = _second_differences(ya, lag)
        if scale is not None:
            d2 = d2 / np.asarray(scale, dtype=float)[lag:-lag]
        out.append(MAD_TO_SIGMA * np.median(np.abs(d2)) / SECOND_DIFFERENCE_GAIN)
    return float(max(out)) if out else float("nan")


def _local_mad(y: np.ndarray, window: int) -> np.ndarray:
    """Local robust σ: moving median of |second differences| at the lag with the largest scatter."""
    n = y.size
    best = None
    for lag in SCATTER_LAGS:
        if n < 2 * lag + 3:
            continue
        d2 = np.abs(_second_differences(y, lag))
        full = np.concatenate([np.full(lag, d2[0]), d2, np.full(lag, d2[-1])])
        w = int(min(window, n)) | 1
        loc = MAD_TO_SIGMA * median_filter(full, size=w, mode="nearest") / SECOND_DIFFERENCE_GAIN
        best = loc if best is None else np.maximum(best, loc)
    if best is None:
        raise NoiseError(f"too few points ({n}) to estimate the noise")
    return uniform_filter1d(best, size=max(3, window // 4), mode="nearest")


def _looks_like_counts(y: np.ndarray) -> bool:
    if y.size == 0 or np.min(y) < 0:
        return False
    whole = np.abs(y - np.round(y)) < 1e-6
    return bool(np.mean(whole) >= INTEGER_FRACTION and np.max(y) > 1)


def estimate_noise(
    x: ArrayLike,
    y: ArrayLike,
    *,
    kind: ScanKind = "xrd",
    sigma: ArrayLike | None = None,
    method: NoiseMethod = "auto",
    window: int = MAD_WINDOW_POINTS,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-point standard uncertainty of ``y``.

    Parameters
    ----------
    x : array-like, shape (N,)
        Increasing x (only its length is used).
    y : array-like, shape (N,)
        Intensities.
    kind : {"xrd", "raman"}
        Technique, for ``method="auto"``.
    sigma : array-like, shape (N,), optional
        Uncertainties from the file.
    method : {"auto", "file", "counts", "mad"}
        ``"auto"``: the file's σ if given; else counting statistics for XRD
        intensities that are non-negative whole numbers, else ``"mad"``.
    window : int
        Window of the ``"mad"`` estimate, points.

    Returns
    -------
    sigma : numpy.ndarray, shape (N,)
        Standard uncertainty per point (strictly positive).
    params : dict
        ``"method"`` (the method used), ``"gain"`` (counts: the factor applied
        to sqrt(y), 1.0 for raw counts), ``"scatter_ratio"`` (counts: measured
        scatter / sqrt(y)), ``"median_sigma"`` (float).

    Raises
    ------
    NoiseError
        ``method="file"`` without uncertainties, or too few points.
    """
    ya = np.asarray(y, dtype=float)
    if np.asarray(x).shape != ya.shape:
        raise NoiseError("x and y differ in length")
    if method not in NOISE_METHODS:
        raise NoiseError(f"unknown noise method {method!r}; choose one of {', '.join(NOISE_METHODS)}")
    params: dict[str, Any] = {}
    if method == "auto":
        if sigma is not None:
            method = "file"
        elif kind == "xrd" and _looks_like_counts(ya):
            method = "counts"
        else:
            method = "mad"
    if method == "file":
        if sigma is None:
            raise NoiseError("the scan has no uncertainties from its file; use another noise method")
        out = np.asarray(sigma, dtype=float).copy()
        bad = ~np.isfinite(out) | (out <= 0)
        if np.all(bad):
            raise NoiseError("the file's uncertainties are all zero or missing")
        out[bad] = np.median(out[~bad])
    elif method == "counts":
        if np.min(ya) < 0:
            raise NoiseError("counting statistics need non-negative intensities; use the 'mad' noise method")
        level = uniform_filter1d(ya, size=3, mode="nearest")
        root = np.sqrt(np.maximum(level, 1.0))
        ratio = point_scatter(ya, scale=root)
        gain = 1.0
        if np.isfinite(ratio) and ratio > 0 and not (1.0 / GAIN_TOLERANCE <= ratio <= GAIN_TOLERANCE):
            gain = ratio
        out = gain * root
        params.update(gain=float(gain), scatter_ratio=float(ratio))
    else:
        out = _local_mad(ya, window)
    positive = out[out > 0]
    floor = SIGMA_FLOOR_FRACTION * (np.median(positive) if positive.size else 1.0)
    if floor <= 0:
        floor = 1e-12
    out = np.maximum(out, floor)
    params.update(method=method, median_sigma=float(np.median(out)))
    return out, params


def scan_noise(scan: Scan, *, method: NoiseMethod = "auto") -> tuple[np.ndarray, dict[str, Any]]:
    """Per-point noise of a :class:`~phasetrace.scan.Scan` (see :func:`estimate_noise`)."""
    return estimate_noise(scan.x, scan.y, kind=scan.kind, sigma=scan.sigma, method=method)
