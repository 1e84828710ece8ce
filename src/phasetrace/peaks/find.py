"""Peak finding: scipy.signal.find_peaks on the background-subtracted scan, thresholded in local noise.

A peak is kept when its prominence exceeds ``prominence`` times the noise at
its apex (3σ by default). The noise is per point (counting statistics for XRD
counts, see :mod:`phasetrace.preprocess.noise`), so a weak reflection on the
flank of a strong one must stand out against the larger noise there, and
noise wiggles on top of a strong peak are not reported as peaks.

Maxima are located on a Savitzky–Golay smoothed copy of the net signal whose
window follows the scan's own peak width (about one FWHM), which suppresses
noise maxima without shifting or flattening real peaks noticeably.

For Cu Kα (or any doublet radiation) a resolved Kα2 line at higher angle is
a local maximum of its own. It is *flagged* (``kalpha2`` True, ``parent`` =
index of its Kα1 peak) rather than dropped, so the table shows it but the
matcher never treats it as a reflection; ``refine=True`` fits each Kα1/Kα2
pair as one doublet instead (see :mod:`phasetrace.peaks.fit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..preprocess.axes import kalpha1_from_kalpha2
from ..preprocess.background import BackgroundConfig, scan_background
from ..preprocess.noise import NoiseMethod, scan_noise
from ..preprocess.smoothing import odd_window, savgol
from ..scan import Scan
from .table import PV_AREA_FACTOR, PeakError, PeakTable

__all__ = [
    "PV_AREA_FACTOR",
    "PeakConfig",
    "PeakError",
    "PeakSearch",
    "PeakTable",
    "find_peaks",
    "flag_kalpha2",
    "search_peaks",
]


#: Peaks that decide the smoothing window must stand this far (in σ) above the noise.
STRONG_PEAK_SIGMA = 10.0

#: How many of the strongest peaks give the scan's typical width, and which percentile of their widths
#: (a low one: unresolved blends look broader than single peaks).
STRONG_PEAKS_USED = 20
TYPICAL_WIDTH_PERCENTILE = 25

#: Smoothing window used to *locate* maxima, as a fraction of the typical FWHM (points): averaging over
#: a little more than a peak width brings the false-alarm rate of a 3σ threshold on pure noise from
#: ~200 to < 1 per 7000 points; the apex is lowered by 5–10 %, so heights are read elsewhere (below).
SMOOTH_FRACTION_OF_FWHM = 1.3

#: Lighter smoothing (fraction of the typical FWHM) of the signal that heights are read from (< 2 % bias).
HEIGHT_SMOOTH_FRACTION = 0.5

#: Typical FWHM assumed when a scan has no strong peak to measure it on (x units per technique): a lab
#: diffractometer's instrument width, and a sharp oxide Raman band.
FALLBACK_FWHM = {"xrd": 0.08, "raman": 8.0}

#: Maxima narrower than this fraction of the typical FWHM are noise (real reflections are never much
#: sharper than the instrument), unless they are very strong (:data:`STRONG_PEAK_SIGMA`).
MIN_WIDTH_FRACTION = 0.4

#: Smallest window worth smoothing heights with (points).
MIN_SMOOTH_POINTS = 5

#: Smallest window maxima are located with (points), whatever the peak width: a 3σ threshold on a
#: 5-point smooth still passes ~20 noise maxima per 3500 points; 7 points pass < 1 while a 3-point-wide
#: peak keeps most of its height.
MIN_DETECTION_WINDOW = 7

#: Prominence is searched within this many median FWHM either side of a maximum (keeps it local and fast).
PROMINENCE_WINDOW_FWHM = 30.0

#: Kα2/Kα1 apex-height ratios accepted for a Kα2 satellite (nominal 0.5; overlap and noise widen it).
KALPHA2_HEIGHT_RATIO = (0.2, 0.85)

#: A satellite must lie within this fraction of its parent's FWHM (or 1.5 steps) of the Kα2 position.
KALPHA2_POSITION_TOL_FWHM = 0.35

#: A shoulder must lie at least this many typical FWHM from every peak found as a maximum.
SHOULDER_MIN_SEPARATION_FWHM = 0.75

#: Smoothing of the second derivative that finds shoulders, in typical FWHM (the curvature is noisier
#: than the signal, so it is averaged over more points).
SHOULDER_SMOOTH_FWHM = 1.5

#: Fewest points a scan needs for peak finding.
MIN_SCAN_POINTS = 20


@dataclass(frozen=True)
class PeakConfig:
    """Settings of the peak finder (all defaults are the documented behaviour).

    Parameters
    ----------
    prominence : float
        Keep peaks whose prominence is at least this many local σ (default 3).
    background : BackgroundConfig or None
        Background method and smoothness; None: the technique's default.
    noise : {"auto", "file", "counts", "mad"}
        Noise model (see :mod:`phasetrace.preprocess.noise`).
    smooth : int or None
        Savitzky–Golay window (points) used to locate maxima; None: about
        one FWHM of the scan's strong peaks; 0: no smoothing.
    min_fwhm_points : float
        Narrower maxima are spikes (cosmic rays, hot pixels), not peaks.
    kalpha2 : {"flag", "ignore"}
        Flag resolved Kα2 satellites of doublet radiation (XRD), or not.
    refine : bool
        Refine overlapped groups with lmfit pseudo-Voigt (doublet) profiles.
    shoulders : bool or None
        Also report shoulders (bands without a maximum of their own, found as
        maxima of the negative second derivative). None: on for Raman, where
        broad bands sit on each other's flanks; off for XRD, where Kα2 lines
        and profile asymmetry make curvature shoulders ambiguous.
    """

    prominence: float = 3.0
    background: BackgroundConfig | None = None
    noise: NoiseMethod = "auto"
    smooth: int | None = None
    min_fwhm_points: float = 1.5
    kalpha2: Literal["flag", "ignore"] = "flag"
    refine: bool = False
    shoulders: bool | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.prominence) and self.prominence > 0):
            raise PeakError(f"prominence must be a positive number of σ, got {self.prominence!r}")
        if self.smooth is not None and self.smooth < 0:
            raise PeakError(f"smooth must be ≥ 0 points, got {self.smooth!r}")
        if self.kalpha2 not in ("flag", "ignore"):
            raise PeakError(f"kalpha2 must be 'flag' or 'ignore', got {self.kalpha2!r}")


@dataclass(frozen=True, eq=False)
class PeakSearch:
    """Everything the peak finder computed for one scan (for the matcher and for plots).

    Attributes
    ----------
    scan : Scan
    background : ndarray, shape (N,)
    net : ndarray, shape (N,)
        ``scan.y - background``.
    smoothed : ndarray, shape (N,)
        The smoothed net signal the maxima were located on.
    noise : ndarray, shape (N,)
        Per-point σ.
    peaks : PeakTable
    background_params, noise_params : dict
        As returned by the preprocessing functions.
    smooth_window : int
        Savitzky–Golay window used (points; 0 = none).
    typical_fwhm : float
        Typical (lower-quartile) FWHM of the scan's strong peaks (x units), or
        the technique's fallback width when it has none.
    config : PeakConfig
    """

    scan: Scan
    background: np.ndarray
    net: np.ndarray
    smoothed: np.ndarray
    noise: np.ndarray
    peaks: PeakTable
    background_params: dict[str, Any]
    noise_params: dict[str, Any]
    smooth_window: int
    typical_fwhm: float
    config: PeakConfig

    def noise_at(self, x: np.ndarray) -> np.ndarray:
        """Local noise σ interpolated at positions ``x``."""
        return np.interp(x, self.scan.x, self.noise)

    def background_at(self, x: np.ndarray) -> np.ndarray:
        """Background interpolated at positions ``x``."""
        return np.interp(x, self.scan.x, self.background)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the settings and what was found."""
        p = self.peaks
        n_sat = int(np.sum(p.saturated))
        return {
            "peaks": len(p),
            "kalpha2_satellites": int(np.sum(p.kalpha2)),
            "prominence_sigma": self.config.prominence,
            "background": {k: v for k, v in self.background_params.items() if not isinstance(v, np.ndarray)},
            "noise": self.noise_params,
            "smooth_window_points": self.smooth_window,
            "typical_fwhm": self.typical_fwhm,
            "refined": bool(self.config.refine),
            # peaks whose top the detector cut off (their heights and positions are not measured)
            **({"saturated_peaks": n_sat} if n_sat else {}),
        }


# --------------------------------------------------------------------------- helpers
def _flag_saturated(table: PeakTable, scan: Scan) -> PeakTable:
    """Mark the peaks with a saturated point (``scan.meta.extra["saturated"]``) within half their width."""
    sat = scan.meta.extra.get("saturated")
    if not sat or not len(table):
        return table
    half = np.maximum(0.5 * table.fwhm, scan.step)
    hit = np.zeros(len(table), dtype=bool)
    for a, b in sat.get("ranges", ()):
        hit |= (table.position + half >= float(a)) & (table.position - half <= float(b))
    if not hit.any():
        return table
    cols = {f: getattr(table, f) for f in table.columns}
    cols["saturated"] = hit
    return PeakTable(**cols)


def _check_scan(scan: Scan) -> None:
    if len(scan) < MIN_SCAN_POINTS:
        raise PeakError(
            f"{_name(scan)}: only {len(scan)} points; peak finding needs at least {MIN_SCAN_POINTS}"
        )
    if not (np.all(np.isfinite(scan.x)) and np.all(np.isfinite(scan.y))):
        raise PeakError(f"{_name(scan)}: the scan contains non-finite values")
    if np.any(np.diff(scan.x) <= 0):
        raise PeakError(f"{_name(scan)}: x is not strictly increasing")


def _name(scan: Scan) -> str:
    return scan.meta.source_path or scan.meta.sample or "scan"


def _x_at(x: np.ndarray, fractional_index: np.ndarray) -> np.ndarray:
    return np.interp(fractional_index, np.arange(x.size), x)


def _signal():
    """``scipy.signal``, imported at first use.

    The import takes ~0.5 s (scipy builds docstrings for its whole signal and stats API), which
    commands that find no peaks (a fit of given phases) never need.
    """
    from scipy import signal

    return signal


def _typical_fwhm_points(net: np.ndarray, sigma: np.ndarray, fallback: float) -> tuple[float, bool]:
    """Typical FWHM (points) of the strongest peaks of the raw net signal, or ``fallback`` if none."""
    idx, props = _signal().find_peaks(net, prominence=STRONG_PEAK_SIGMA * float(np.min(sigma)))
    if idx.size:
        strong = props["prominences"] / sigma[idx] >= STRONG_PEAK_SIGMA
        idx, prom = idx[strong], props["prominences"][strong]
        if idx.size:
            top = idx[np.argsort(prom)[::-1][:STRONG_PEAKS_USED]]
            w = _signal().peak_widths(net, np.sort(top), rel_height=0.5)[0]
            return float(np.percentile(w, TYPICAL_WIDTH_PERCENTILE)), True
    return float(fallback), False


def _window_for(fwhm_points: float) -> int:
    return odd_window(max(SMOOTH_FRACTION_OF_FWHM * fwhm_points, MIN_DETECTION_WINDOW))


def _apex(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-step apex position and height: a parabola through the highest point near ``idx``."""
    n = y.size
    i0 = np.clip(idx, 1, n - 2)
    # the local maximum of ``y`` within one point of ``idx``
    shift = np.argmax(np.stack([y[np.maximum(i0 - 1, 0)], y[i0], y[np.minimum(i0 + 1, n - 1)]]), axis=0) - 1
    i0 = np.clip(i0 + shift, 1, n - 2)
    ym, y0, yp = y[i0 - 1], y[i0], y[i0 + 1]
    denom = ym - 2.0 * y0 + yp
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(denom < 0, 0.5 * (ym - yp) / denom, 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    return _x_at(x, i0 + delta), y0 - 0.25 * (ym - yp) * delta


def _detect(
    x: np.ndarray,
    smoothed: np.ndarray,
    light: np.ndarray,
    sigma: np.ndarray,
    cfg: PeakConfig,
    typical_fwhm_pts: float,
) -> PeakTable:
    wlen = int(max(21, PROMINENCE_WINDOW_FWHM * typical_fwhm_pts)) | 1
    floor = cfg.prominence * float(np.min(sigma))
    idx, props = _signal().find_peaks(smoothed, prominence=floor, wlen=wlen)
    if idx.size == 0:
        return PeakTable.empty()
    prom = props["prominences"]
    significance = prom / sigma[idx]
    keep = significance >= cfg.prominence
    idx, prom, significance = idx[keep], prom[keep], significance[keep]
    if idx.size == 0:
        return PeakTable.empty()
    lb, rb = props["left_bases"][keep], props["right_bases"][keep]
    wid, _, left, right = _signal().peak_widths(smoothed, idx, rel_height=0.5, prominence_data=(prom, lb, rb))
    keep = (wid >= cfg.min_fwhm_points) & (
        (wid >= MIN_WIDTH_FRACTION * typical_fwhm_pts) | (significance >= STRONG_PEAK_SIGMA)
    )
    idx, prom, significance, left, right = idx[keep], prom[keep], significance[keep], left[keep], right[keep]
    if idx.size == 0:
        return PeakTable.empty()
    position, _ = _apex(x, smoothed, idx)
    _, height = _apex(x, light, idx)
    fwhm = _x_at(x, right) - _x_at(x, left)
    return PeakTable(
        position=position,
        height=height,
        area=height * fwhm * PV_AREA_FACTOR,
        fwhm=fwhm,
        significance=significance,
        prominence=prom,
        noise=sigma[idx],
    )


def find_shoulders(
    x: np.ndarray,
    net: np.ndarray,
    sigma: np.ndarray,
    peaks: PeakTable,
    *,
    typical_fwhm_pts: float,
    threshold: float,
) -> PeakTable:
    """Bands hidden on a neighbour's flank, found as maxima of the negative second derivative.

    The curvature ``-d²y/dx²`` of a Savitzky–Golay smooth (window
    :data:`SHOULDER_SMOOTH_FWHM` typical widths) has a maximum at every band,
    also where the band has no maximum of its own. A curvature maximum counts
    when it exceeds ``threshold`` times the noise of the curvature (σ
    propagated through the filter), the net signal there is above
    ``threshold`` σ, and no peak of ``peaks`` lies within
    :data:`SHOULDER_MIN_SEPARATION_FWHM` typical widths.

    Parameters
    ----------
    x, net, sigma : ndarray, shape (N,)
        Axis, background-subtracted signal and per-point σ.
    peaks : PeakTable
        Peaks found as maxima.
    typical_fwhm_pts : float
        The scan's typical FWHM, points.
    threshold : float
        Significance threshold, σ.

    Returns
    -------
    PeakTable
        ``peaks`` with the shoulders added (``shoulder`` True), sorted by position.
    """
    from scipy.signal import savgol_coeffs, savgol_filter

    window = odd_window(max(SHOULDER_SMOOTH_FWHM * typical_fwhm_pts, 7.0))
    if window >= x.size:
        return peaks
    curvature = -savgol_filter(net, window, 3, deriv=2, mode="interp")
    gain = float(np.sqrt(np.sum(savgol_coeffs(window, 3, deriv=2) ** 2)))
    sc = sigma * gain
    # one shoulder per band: curvature maxima closer than a typical width are the same band
    spacing = max(1, int(round(typical_fwhm_pts)))
    idx, _ = _signal().find_peaks(curvature, height=threshold * float(np.min(sc)), distance=spacing)
    if idx.size == 0:
        return peaks
    keep = (curvature[idx] >= threshold * sc[idx]) & (net[idx] >= threshold * sigma[idx])
    step = np.gradient(x)
    if len(peaks):
        _, dist = _nearest_sorted(np.asarray(peaks.position), x[idx])
        keep &= dist > SHOULDER_MIN_SEPARATION_FWHM * typical_fwhm_pts * step[idx]
    idx = idx[keep]
    if idx.size == 0:
        return peaks
    fwhm = typical_fwhm_pts * step[idx]
    height = net[idx]
    found = PeakTable(
        position=x[idx],
        height=height,
        area=height * fwhm * PV_AREA_FACTOR,
        fwhm=fwhm,
        significance=curvature[idx] / sc[idx],
        prominence=np.full(idx.size, np.nan),
        noise=sigma[idx],
        shoulder=np.ones(idx.size, dtype=bool),
    )
    cols = {f: np.concatenate([getattr(peaks, f), getattr(found, f)]) for f in peaks.columns}
    n_old = len(peaks)
    order = np.argsort(cols["position"], kind="stable")
    # parents index the old rows: map them through the new order
    where = np.empty(order.size, dtype=np.int64)
    where[order] = np.arange(order.size)
    par = cols["parent"]
    cols["parent"] = np.where(par >= 0, where[np.clip(par, 0, n_old - 1 if n_old else 0)], -1)
    return PeakTable(**{k: v[order] for k, v in cols.items()})


def _nearest_sorted(sorted_values: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i = np.clip(np.searchsorted(sorted_values, pos), 1, max(sorted_values.size - 1, 1))
    left = sorted_values[np.maximum(i - 1, 0)]
    right = sorted_values[np.minimum(i, sorted_values.size - 1)]
    dl, dr = np.abs(pos - left), np.abs(right - pos)
    return np.where(dr < dl, i, i - 1), np.minimum(dl, dr)


def flag_kalpha2(table: PeakTable, kalpha1: float, kalpha2: float, *, step: float = 0.0) -> PeakTable:
    """Mark peaks that are the resolved Kα2 line of a stronger peak at lower angle.

    A peak at 2θ₂ is a satellite when a peak lies within
    :data:`KALPHA2_POSITION_TOL_FWHM` of its FWHM (or 1.5 steps) of the Kα1
    angle with the same d, and the height ratio is within
    :data:`KALPHA2_HEIGHT_RATIO`. A peak that is too strong for a Kα2 line is
    left unflagged: it is (or hides) a reflection of its own.

    Parameters
    ----------
    table : PeakTable
    kalpha1, kalpha2 : float
        Wavelengths, Å.
    step : float
        Scan step (x units), for the position tolerance.

    Returns
    -------
    PeakTable
        A copy with ``kalpha2`` and ``parent`` set.
    """
    n = len(table)
    if n < 2:
        return table
    pos = table.position
    parent_pos = kalpha1_from_kalpha2(pos, kalpha1, kalpha2)
    is_sat = np.zeros(n, dtype=bool)
    parent = np.full(n, -1, dtype=np.int64)
    order = np.searchsorted(pos, parent_pos)
    for j in range(n):
        best = -1
        best_d = np.inf
        for i in (order[j] - 1, order[j]):
            if i < 0 or i >= j or is_sat[i]:
                continue
            tol = max(KALPHA2_POSITION_TOL_FWHM * table.fwhm[i], 1.5 * step)
            d = abs(pos[i] - parent_pos[j])
            if d <= tol and d < best_d:
                best, best_d = i, d
        if best < 0:
            continue
        ratio = table.height[j] / table.height[best] if table.height[best] > 0 else np.inf
        if KALPHA2_HEIGHT_RATIO[0] <= ratio <= KALPHA2_HEIGHT_RATIO[1]:
            is_sat[j] = True
            parent[j] = best
    cols = {f: getattr(table, f) for f in table.columns}
    cols["kalpha2"] = is_sat
    cols["parent"] = parent
    return PeakTable(**cols)


# --------------------------------------------------------------------------- API
def search_peaks(scan: Scan, config: PeakConfig | None = None) -> PeakSearch:
    """Find the peaks of a scan, keeping the background, noise and smoothed signal.

    Parameters
    ----------
    scan : Scan
        XRD pattern or Raman spectrum.
    config : PeakConfig, optional

    Returns
    -------
    PeakSearch
        ``.peaks`` is the :class:`PeakTable`; an empty table means no peak
        stands out by ``config.prominence`` σ.

    Raises
    ------
    PeakError
        Too few points, non-finite values, or x not increasing.
    """
    cfg = config or PeakConfig()
    _check_scan(scan)
    background, bg_params = scan_background(scan, cfg.background)
    sigma, noise_params = scan_noise(scan, method=cfg.noise)
    net = scan.y - background
    typical, measured = _typical_fwhm_points(net, sigma, FALLBACK_FWHM[scan.kind] / scan.step)
    window = _window_for(typical) if cfg.smooth is None else int(cfg.smooth)
    smoothed = savgol(net, window=window) if window > 1 else net.copy()
    light_window = odd_window(HEIGHT_SMOOTH_FRACTION * typical) if window > 1 else 0
    light = savgol(net, window=light_window) if light_window >= MIN_SMOOTH_POINTS else net
    table = _detect(scan.x, smoothed, light, sigma, cfg, typical)
    shoulders = cfg.shoulders if cfg.shoulders is not None else scan.kind == "raman"
    if shoulders:
        table = find_shoulders(scan.x, net, sigma, table, typical_fwhm_pts=typical, threshold=cfg.prominence)
    rad = scan.meta.radiation
    if scan.kind == "xrd" and rad is not None and rad.is_doublet and cfg.kalpha2 == "flag":
        table = flag_kalpha2(table, rad.kalpha1, float(rad.kalpha2), step=scan.step)
    if cfg.refine and len(table):
        from .fit import refine_peaks

        table = refine_peaks(scan.x, net, sigma, table, radiation=rad if scan.kind == "xrd" else None)
    table = _flag_saturated(table, scan)
    for arr in (background, net, smoothed, sigma):
        arr.setflags(write=False)
    return PeakSearch(
        scan=scan,
        background=background,
        net=net,
        smoothed=smoothed,
        noise=sigma,
        peaks=table,
        background_params=bg_params,
        noise_params=noise_params,
        smooth_window=window,
        typical_fwhm=typical * scan.step,
        config=cfg,
    )


def find_peaks(
    scan: Scan,
    *,
    prominence: float = 3.0,
    refine: bool = False,
    config: PeakConfig | None = None,
) -> PeakTable:
    """Peak table of a scan (see :func:`search_peaks` for the details).

    Parameters
    ----------
    scan : Scan
    prominence : float
        Threshold in local σ (ignored when ``config`` is given).
    refine : bool
        Refine overlapped groups with pseudo-Voigt profiles (ignored when
        ``config`` is given).
    config : PeakConfig, optional

    Returns
    -------
    PeakTable

    Examples
    --------
    >>> from phasetrace.simulate import simulate_xrd               # doctest: +SKIP
    >>> table = find_peaks(simulate_xrd(lib, {"LLZTO_cubic": 1}))  # doctest: +SKIP
    >>> table.to_records()[0]["position"]                          # doctest: +SKIP
    16.7...
    """
    cfg = config or PeakConfig(prominence=prominence, refine=refine)
    return search_peaks(scan, cfg).peaks
