"""Reading the residual of a whole-pattern fit: unexplained peaks and a fit-quality verdict.

A fit can only weigh the phases it was given. When the sample holds a phase the
library lacks (Mn3O4 next to LiMnO2, a crucible reaction product), the fit still
returns weight fractions, and a single-phase model returns "100.00 ± 0.00". The
residual says whether that answer explains the data:

* **Unexplained peaks**: the difference curve is matched-filtered with a peak
  profile (:data:`PEAK_FWHM`); local maxima standing :data:`PEAK_SIGMA` above
  the residual's own noise that no modelled phase can carry are listed with 2θ,
  d, their share of the diffracted intensity and their significance. A peak is
  carried when it is a modelled reflection's misfit: given the phases' fitted
  curves, each phase standing within :data:`CARRY_DEG` gets a free local
  intensity, shift and width, and a peak that loses its significance against
  them is theirs (intensity-weighted, so that a weak reflection of a dense
  low-symmetry phase beside a strong unexplained peak does not explain it).
  Without the curves, a peak must be at least :data:`UNEXPLAINED_RATIO` of the
  largest calculated Bragg intensity within :data:`MISFIT_REACH`.
* **Misfit GoF**: the reduced χ² outside those peaks (:func:`misfit_gof2`)
  measures how well the modelled reflections are described; the phase
  selection scales evidence by it, so that a stranger's peaks do not hide real
  minor phases.
* **Goodness of fit against the noise**: the point-to-point scatter of the
  weighted residual measures the noise the data really have (counts that were
  rescaled or summed are not Poisson); a GoF more than :data:`GOF_FACTOR` times
  that is more misfit than noise.

A fit is flagged "poor" when its unexplained peaks carry at least
:data:`POOR_SHARE` of the diffracted intensity, or its GoF is beyond what its
noise allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d

from .core import normal_lstsq

__all__ = [
    "FitQuality",
    "UnexplainedPeak",
    "misfit_gof2",
    "perpendicular_fit",
    "read_residual",
    "unexplained_mask",
]

#: FWHM (degrees 2θ) of the matched filter that finds residual peaks (a lab diffractometer's peaks).
PEAK_FWHM = 0.12
#: A residual peak must stand this many standard errors above the residual's noise (with ~700
#: independent peak positions in a 10-80° scan, pure noise reaches about 3.5).
PEAK_SIGMA = 6.0
#: ... and be at least this fraction of the calculated Bragg intensity at its position.
UNEXPLAINED_RATIO = 0.5
#: A modelled reflection's misfit (profile shape, tails, a small shift) reaches this far (degrees 2θ,
#: three lab peak widths): a residual peak is only unexplained if it is large against the calculated
#: Bragg intensity everywhere within this distance, not just at its own maximum.
MISFIT_REACH = 3 * PEAK_FWHM
#: Peaks closer than this (degrees) are one (the Kα2 of a peak, a split maximum).
MERGE_DEG = 0.15
#: Unexplained peaks carrying this share of the diffracted intensity make the fit poor.
POOR_SHARE = 0.02
#: A GoF above this multiple of the noise level (1 for counting statistics) makes the fit poor.
GOF_FACTOR = 2.0
#: At most this many unexplained peaks are listed (strongest first).
MAX_PEAKS = 15
#: The region of an unexplained peak extends as far as the matched-filter significance stays above this.
REGION_SIGMA = 3.0
#: The misfit GoF ignores unexplained peaks only while they cover at most this fraction of the scan.
MAX_MASKED = 0.5
#: Shown in text and JSON when a fit is poor.
POOR_MESSAGE = "a phase may be missing from the library; numbers below are not reliable"


@dataclass(frozen=True)
class UnexplainedPeak:
    """A peak in the residual that no phase of the model accounts for.

    Attributes
    ----------
    two_theta, d : float
        Position (degrees) and d-spacing (Å, Kα1).
    height : float
        Residual peak height, counts.
    share : float
        Its integrated intensity as a fraction of the pattern's diffracted intensity.
    sigma : float
        Matched-filter significance against the residual's noise.
    near : str
        A modelled reflection within :data:`MISFIT_REACH` that is at least as high as the residual
        peak, as "phase (h k l) Δ2θ" (empty when there is none): the peak may be that reflection's
        misfit (intensity, position or shape) rather than another phase, or a phase beneath it.
    """

    two_theta: float
    d: float
    height: float
    share: float
    sigma: float
    near: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "two_theta": round(self.two_theta, 3),
            "d": round(self.d, 4),
            "height": round(self.height, 1),
            "share": round(self.share, 4),
            "sigma": round(self.sigma, 1),
            "near": self.near or None,
        }


def nearest_reflection(
    peak: UnexplainedPeak,
    x: np.ndarray,
    reflections: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
) -> str:
    """The modelled reflection an unexplained peak may be the misfit of ("" when none).

    Parameters
    ----------
    peak : UnexplainedPeak
    x : ndarray
        2θ of the fit.
    reflections : sequence of (phase id, 2θ of its reflections (Kα1, refined cell), their hkl,
        the phase's fitted curve)

    Returns
    -------
    str
        "phase (h k l) +Δ2θ°" of the highest reflection within :data:`MISFIT_REACH` whose fitted
        curve there is at least the residual peak's height, else "".
    """
    best: tuple[float, str] | None = None
    for pid, tt, hkl, curve in reflections:
        for t, h in zip(tt, hkl, strict=True):
            if abs(t - peak.two_theta) > MISFIT_REACH:
                continue
            j = int(np.clip(np.searchsorted(x, t), 0, x.size - 1))
            height = float(curve[j])
            if height < peak.height or (best is not None and height <= best[0]):
                continue
            label = f"{pid} ({' '.join(str(int(v)) for v in h)}) {peak.two_theta - t:+.2f}°"
            best = (height, label)
    return best[1] if best is not None else ""


@dataclass(frozen=True)
class FitQuality:
    """Fit statistics and the verdict of the residual reading.

    Attributes
    ----------
    rwp, rexp, gof : float
    noise : float
        Point-to-point scatter of the weighted residual (1 for counting statistics).
    gof_allowed : float
        Largest GoF the noise allows (``GOF_FACTOR × max(noise, 1)``).
    peaks : tuple of UnexplainedPeak
    unexplained_share : float
        Share of the diffracted intensity in unexplained peaks.
    poor : bool
    reasons : tuple of str
    """

    rwp: float
    rexp: float
    gof: float
    noise: float = 1.0
    gof_allowed: float = GOF_FACTOR
    peaks: tuple[UnexplainedPeak, ...] = ()
    unexplained_share: float = 0.0
    poor: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def flag(self) -> str:
        """"poor" or "ok"."""
        return "poor" if self.poor else "ok"

    @property
    def message(self) -> str:
        """One line for reports: empty for a good fit."""
        if not self.poor:
            return ""
        return f"poor fit: {'; '.join(self.reasons)}; {POOR_MESSAGE}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "flag": self.flag,
            "message": self.message,
            "rwp": float(self.rwp) if np.isfinite(self.rwp) else None,
            "rexp": float(self.rexp) if np.isfinite(self.rexp) else None,
            "gof": float(self.gof) if np.isfinite(self.gof) else None,
            "noise": round(self.noise, 3),
            "gof_allowed": round(self.gof_allowed, 3),
            "unexplained_share": round(self.unexplained_share, 4),
            "unexplained_peaks": [p.to_dict() for p in self.peaks],
        }


def _gaussian_kernel(step: float) -> np.ndarray:
    sd = PEAK_FWHM / 2.3548 / max(step, 1e-6)
    half = max(2, int(np.ceil(3 * sd)))
    t = np.arange(-half, half + 1)
    return np.exp(-0.5 * (t / max(sd, 1e-6)) ** 2)


def _filtered(x: np.ndarray, r: np.ndarray, w: np.ndarray, ycalc, background):
    """Matched-filter significance and height of the residual, and the Bragg intensity within reach."""
    step = float(np.median(np.diff(x)))
    from ..preprocess.noise import point_scatter

    noise = point_scatter(r * np.sqrt(w))
    noise = float(noise) if np.isfinite(noise) and noise > 0 else 1.0
    g = _gaussian_kernel(step)
    num = np.convolve(r * w, g, mode="same")
    info = np.maximum(np.convolve(w, g * g, mode="same"), 1e-300)
    sig = num / np.sqrt(info) / max(noise, 1.0)
    amp = num / info
    bragg = np.maximum(np.asarray(ycalc, float) - np.asarray(background, float), 0.0)
    bragg_near = maximum_filter1d(bragg, size=2 * max(1, int(round(MISFIT_REACH / step))) + 1)
    return step, noise, g, sig, amp, bragg, bragg_near


#: Half-width (degrees 2θ) of the window in which the modelled phases may take a residual peak over
#: (their local intensity, position and width free).
CARRY_DEG = MISFIT_REACH
#: A modelled phase is freed in that window when its curve stands this many standard errors there.
CARRY_SIGMA = 3.0


def _carried_significance(x, r, w, curves, i: int, g: np.ndarray, noise: float) -> float:
    """Significance of a residual peak at ``x[i]`` that no modelled phase can take over locally.

    In a window of ±:data:`CARRY_DEG`, each modelled phase that stands there gets a free local
    amplitude, shift and width (its curve and the curve's first and second derivatives in 2θ: the
    linearised misfit of intensity, position and profile), beside a linear background; a peak of
    the filter's shape at ``x[i]`` is fitted with them. A residual that is the misfit of a modelled
    reflection is taken over by these columns; a peak where no reflection can be moved to keeps
    its significance. The count is weighted by intensity, not by reflection positions: a weak
    reflection of a dense low-symmetry phase near a strong unexplained peak cannot carry it.
    """
    step = float(np.median(np.diff(x)))
    half = max(4, int(round(CARRY_DEG / step)))
    lo, hi = max(0, i - half), min(x.size, i + half + 1)
    xs, ws, rs = x[lo:hi], w[lo:hi], r[lo:hi]
    k = np.zeros(hi - lo)
    gh = g.size // 2
    for j in range(g.size):
        t = i - gh + j - lo
        if 0 <= t < k.size:
            k[t] = g[j]
    cols = [np.ones(xs.size), (xs - x[i]) / max(CARRY_DEG, 1e-9)]
    if curves is not None:
        for c in np.atleast_2d(np.asarray(curves, float).T):
            cw = c[lo:hi]
            if float(np.sqrt(cw @ (ws * cw))) < CARRY_SIGMA:
                continue
            d1 = np.gradient(cw, xs)
            cols += [cw, d1, np.gradient(d1, xs)]
    num, info = perpendicular_fit(np.column_stack(cols), k, rs, ws)
    if info <= 0:
        return 0.0
    return float(num / np.sqrt(info) / max(noise, 1.0))


def _unexplained_maxima(x, r, w, ycalc, background, curves, sigma_min: float):
    """Local maxima of the filtered residual that no modelled phase carries, and the filter state."""
    step, noise, g, sig, amp, bragg, bragg_near = _filtered(x, r, w, ycalc, background)
    is_max = np.r_[False, (sig[1:-1] >= sig[:-2]) & (sig[1:-1] > sig[2:]), False]
    cand = np.flatnonzero(is_max & (sig >= sigma_min))
    if curves is None:
        # no per-phase curves: a peak is unexplained if large against the Bragg intensity within reach
        keep = cand[amp[cand] >= UNEXPLAINED_RATIO * bragg_near[cand]]
    else:
        # the obvious ones (far above anything calculated within reach) need no local fit
        clear = amp[cand] >= UNEXPLAINED_RATIO * bragg_near[cand]
        keep = cand[clear]
        rest = cand[~clear]
        ok = [i for i in rest if _carried_significance(x, r, w, curves, int(i), g, noise) >= sigma_min]
        keep = np.sort(np.r_[keep, np.asarray(ok, dtype=int)]).astype(int)
    return keep, (step, noise, g, sig, amp, bragg)


def unexplained_mask(x, y, ycalc, background, weights, curves=None) -> np.ndarray:
    """Points under intensity no modelled phase carries (a stranger's peaks), as boolean mask.

    The points where the matched-filtered residual stands :data:`REGION_SIGMA` above its noise and
    is at least :data:`UNEXPLAINED_RATIO` of the calculated Bragg intensity within
    :data:`MISFIT_REACH` (the criteria of :func:`read_residual`, with the lower significance that
    follows a peak out into its flanks), widened by the filter's half-width. The misfit of a
    modelled reflection is not in it.
    """
    x = np.asarray(x, float)
    if x.size < 20:
        return np.zeros(x.size, dtype=bool)
    r = np.asarray(y, float) - np.asarray(ycalc, float)
    w = np.asarray(weights, float)
    peaks, (_, _, g, sig, _, _) = _unexplained_maxima(x, r, w, ycalc, background, curves, PEAK_SIGMA)
    # each peak's region: the run of points about it where the filtered residual stays significant
    above = sig >= REGION_SIGMA
    core = np.zeros(x.size, dtype=bool)
    for i in peaks:
        lo = hi = int(i)
        while lo > 0 and above[lo - 1]:
            lo -= 1
        while hi < x.size - 1 and above[hi + 1]:
            hi += 1
        core[lo : hi + 1] = True
    half = g.size // 2
    return maximum_filter1d(core.astype(np.uint8), size=2 * half + 1).astype(bool)


def misfit_gof2(x, y, ycalc, background, weights, n_params: int, curves=None) -> float:
    """Squared goodness of fit of the modelled part of a pattern (at least 1).

    The reduced χ² outside the peaks no modelled phase carries (:func:`unexplained_mask`): what
    measures how well the model's own reflections are described. A phase outside the library
    inflates the plain GoF, and scaling every candidate's evidence by it hides real minor phases
    (LiOH·H2O at 1.9 wt % beside 16 wt % of rutile); its peaks are judged by the
    missing-reflection test instead. When the unexplained peaks cover more than
    :data:`MAX_MASKED` of the scan (no model yet), the plain reduced χ² is returned.
    """
    y = np.asarray(y, float)
    w = np.asarray(weights, float)
    r2 = w * (y - np.asarray(ycalc, float)) ** 2
    mask = unexplained_mask(x, y, ycalc, background, w, curves)
    keep = ~mask
    if keep.sum() < (1.0 - MAX_MASKED) * y.size:
        keep = np.ones(y.size, dtype=bool)
    dof = max(int(keep.sum()) - n_params, 1)
    return max(float(np.sum(r2[keep])) / dof, 1.0)


def read_residual(
    x: np.ndarray,
    y: np.ndarray,
    ycalc: np.ndarray,
    background: np.ndarray,
    weights: np.ndarray,
    wavelength: float,
    *,
    rwp: float,
    rexp: float,
    gof: float,
    curves: np.ndarray | None = None,
) -> FitQuality:
    """Read a fit's residual: unexplained peaks and the fit-quality flag.

    Parameters
    ----------
    x, y, ycalc, background, weights : ndarray, shape (N,)
        2θ (degrees), observed, calculated, background and the fit's weights (1/σ²).
    wavelength : float
        Kα1 wavelength (Å), for the d-spacings.
    rwp, rexp, gof : float
        The fit's statistics.
    curves : ndarray, shape (N, m), optional
        The modelled phases' fitted curves: a residual peak that one of them can take over with a
        local change of intensity, position or width is its misfit, not unexplained intensity.

    Returns
    -------
    FitQuality
    """
    x = np.asarray(x, float)
    if x.size < 20:
        return FitQuality(rwp, rexp, gof)
    r = np.asarray(y, float) - np.asarray(ycalc, float)
    w = np.asarray(weights, float)
    # significance, smoothed residual height (least-squares amplitude of the kernel) and the Bragg
    # model; the peaks no modelled phase carries
    cand, (step, noise, g, sig, amp, bragg) = _unexplained_maxima(
        x, r, w, ycalc, background, curves, PEAK_SIGMA
    )
    cand = cand[np.argsort(-sig[cand])]
    half = max(1, int(round(1.5 * PEAK_FWHM / step)))
    taken: list[int] = []
    found: list[tuple[int, float]] = []
    for i in cand:
        if any(abs(x[i] - x[j]) < MERGE_DEG for j in taken):
            continue
        taken.append(int(i))
        lo, hi = max(0, i - half), min(x.size, i + half + 1)
        found.append((int(i), max(float(np.sum(r[lo:hi])), 0.0) * step))
    # the diffracted intensity: what the model's phases explain plus what they leave unexplained
    diffracted = float(np.sum(bragg)) * step + sum(a for _, a in found)
    peaks: list[UnexplainedPeak] = []
    for i, area in found:
        theta = np.radians(x[i] / 2.0)
        d = wavelength / (2.0 * np.sin(theta)) if theta > 0 else float("nan")
        peaks.append(
            UnexplainedPeak(
                two_theta=float(x[i]),
                d=float(d),
                height=float(amp[i]),
                share=area / diffracted if diffracted > 0 else 0.0,
                sigma=float(sig[i]),
            )
        )
    share = float(sum(p.share for p in peaks))
    gof_allowed = GOF_FACTOR * max(noise, 1.0)
    reasons = []
    if peaks and share >= POOR_SHARE:
        where = ", ".join(f"{p.two_theta:.2f}°" for p in sorted(peaks[:6], key=lambda p: p.two_theta))
        more = f" and {len(peaks) - 6} more" if len(peaks) > 6 else ""
        reasons.append(
            f"unexplained peaks at {where}{more} ({100 * share:.1f} % of the diffracted intensity)"
        )
    if gof > gof_allowed:
        reasons.append(f"GoF {gof:.2f} is above the {gof_allowed:.2f} the noise allows")
    return FitQuality(
        rwp=rwp,
        rexp=rexp,
        gof=gof,
        noise=noise,
        gof_allowed=gof_allowed,
        peaks=tuple(peaks[:MAX_PEAKS]),
        unexplained_share=share,
        poor=bool(reasons),
        reasons=tuple(reasons),
    )


def perpendicular_fit(nuisance: np.ndarray, col: np.ndarray, data: np.ndarray, w: np.ndarray):
    """Weighted least squares of ``data`` on ``nuisance`` columns and ``col``: ``col``'s amplitude terms.

    ``col`` is reduced to its part orthogonal (weights' metric) to the nuisance columns;
    returns (c⊥ᵀ W data, c⊥ᵀ W c⊥): the amplitude is their ratio and its variance the inverse of
    the second. A column that the nuisances reproduce carries no information (not a finite
    variance from a pseudo-inverse).
    """
    sw = np.sqrt(w)
    a = nuisance * sw[:, None]
    c = col * sw
    coef, _ = normal_lstsq(a, c)
    perp = c - a @ coef
    info = float(perp @ perp)
    if info <= 1e-9 * float(c @ c):
        return 0.0, 0.0
    return float(perp @ (data * sw)), info
