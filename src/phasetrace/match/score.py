"""Search-match: score every library phase the sample's elements allow against a scan's peaks.

How a candidate is scored (XRD)
-------------------------------
1. **Expected peaks.** The phase's reflections (m·|F|²·LP) that could fall in
   the scan range; reflections closer than half the local peak width merge
   into one expected peak (an unresolved group). Every reflection is a Kα1/Kα2
   doublet: where the lines are unresolved the expected *apex* lies between
   them, and its height follows from the doublet profile (both tabulated once
   per radiation, :func:`_doublet_tables`); where they are resolved an observed
   peak may also be explained by the Kα2 line alone (its Kα1 line hidden under
   another peak). Peak widths come from a Caglioti-type fit to the scan's own
   peaks.
2. **Lattice scaling.** One isotropic scale ``s`` of the reference cell in
   ``[1 - strain, 1 + strain]`` (the phase's allowed strain): a coarse search
   over the whole range keeps up to three distinct alignments (a phase may
   line up with more than one set of peaks), each refined on a fine grid and
   then by weighted least squares on its matched peaks. The search maximises
   Σ sqrt(relative height) × match quality, crediting unmatched reflections
   that sit in a blend with signal support. Sample displacement and zero
   errors shift all peaks by Δ2θ ∝ cos θ (not like a lattice change, ∝ tan θ):
   one common shift is estimated by least squares from the confidently matched
   phases (jointly with their scales) and removed before the final matching.
3. **Intensity scale and missing reflections.** The phase's intensity scale
   is a low quantile of observed/expected height over its matched peaks (a
   peak shared with another phase only makes the ratio larger). Every
   expected peak then has a predicted height; one predicted above
   ``missing_margin × prominence`` local σ that is not matched, and whose
   position carries less than half its predicted signal, is *missing*.
4. **Coverage** = matched expected intensity / (matched + missing, the latter
   weighted up to 3× for reflections predicted far above the threshold).
5. **Evidence and ranking.** Candidates are ranked greedily. Each step takes
   the candidate that explains the most *new* observed intensity with good
   coverage; its score is ``coverage × (1 - exp(-N / 1.5))`` (× a small
   intensity-agreement factor), where N counts the observed peaks it explains
   that the phases ranked above do not (a peak counts fully at ≥ 10σ, less
   when weaker, not at all once the higher-ranked phases predict ≥ 40 % of its
   height, and only for the share the candidate's own prediction can account
   for). Phases whose reflections all coincide with better candidates
   (isostructural twins, rock-salt lines under layered oxides) therefore sink,
   and the unique reflections carry the evidence of minor phases. Near-tied
   twins are ordered by prior knowledge (:func:`_tie_order`: the system's host
   phases, better relative intensities, the simpler pattern, the likelier
   lattice scale); the losers are listed as the winner's ``alternatives``.

Speed: reflection lists come from the library's disk cache; per scan every
candidate's expected peaks are prepared once, the scale searches are
vectorised over the grid, and all alignments are matched in one set of array
operations (:func:`_align_all`), so scoring all candidates of a system takes a
few tens of milliseconds per scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cmp_to_key, lru_cache

import numpy as np

from ..library.crystallography import lorentz_polarisation
from ..library.phases import PhaseLibrary, ReferencePhase
from ..peaks.find import PeakSearch, search_peaks
from ..peaks.profiles import pseudo_voigt
from ..preprocess.axes import kalpha2_position
from ..scan import Scan
from .result import (
    Candidate,
    MatchConfig,
    NoCandidatesError,
    NoPeaksError,
    PeakMatch,
    Ranking,
    TechniqueMismatchError,
)

__all__ = ["rank_candidates", "select_candidates"]

#: Lorentzian fraction assumed for expected peak shapes (lab instruments: 0.3–0.7).
ETA = 0.5

#: Reflections closer than this many local FWHM are one expected peak (a diffractometer cannot split them).
CLUSTER_FWHM = 0.5

#: Expected peaks weaker than this fraction of the phase's strongest are ignored (never detectable).
MIN_RELATIVE_HEIGHT = 0.002

#: Grid step of the lattice-scale search as a fraction of the finest tolerance in scale units.
SCALE_STEP_FRACTION = 0.4

#: Most grid points of the lattice-scale search (bounds the cost for phases with large allowed strain).
MAX_SCALE_POINTS = 401

#: Quantile of observed/expected height ratios that sets a phase's intensity scale (low: overlaps inflate).
INTENSITY_QUANTILE = 0.35

#: A missing reflection predicted at k × the threshold weighs up to this many times its intensity.
MISSING_WEIGHT_CAP = 3.0

#: An unmatched expected peak is missing only where the smoothed net signal is below this fraction of
#: its predicted height (else it may hide in a blend the peak finder did not split).
MISSING_SIGNAL_FRACTION = 0.5

#: An observed peak is fully explained once the phases ranked above predict 1 / INTENSITY_SLACK of its
#: height (texture and peak-height approximations make predictions good to about a factor 2).
INTENSITY_SLACK = 2.5

#: Significance at which an observed peak counts as a full piece of evidence (weaker peaks count less).
EVIDENCE_SIGMA = 10.0

#: Evidence scale: score factor 1 - exp(-N / EVIDENCE_SCALE) for N new explained peaks (1: 0.49, 3: 0.86).
EVIDENCE_SCALE = 1.5

#: Weight of intensity disagreement (log observed/predicted) in the score; it only breaks near-ties.
AGREEMENT_WEIGHT = 0.1

#: Candidates within this fraction of the best priority are near-tied; twins among them are ordered by
#: prior knowledge (see :func:`_tie_order`).
TIE_MARGIN = 0.1

#: Near-tied twins differ in how well they predict the heights of their n shared peaks (mean |log ratio|)
#: only beyond TIE_MISFIT / sqrt(n), and in the log prior of their lattice scale only beyond
#: TIE_LOG_PRIOR (smaller differences are noise).
TIE_MISFIT = 0.12
TIE_LOG_PRIOR = 0.2
#: ...and only among candidates with at least this score (below it the order hardly matters).
TIE_MIN_SCORE = 0.1

#: An expected peak one twin has and the other lacks tells them apart only if it would be visible
#: (predicted height in local σ).
EXTRA_VISIBLE_SIGMA = 1.0

#: Twins whose invisible extra peaks differ by at least this many differ in symmetry (a superlattice).
SUPERLATTICE_MIN_PEAKS = 2

#: Expected peaks at or above this fraction of a phase's strongest decide whether two phases are twins.
TWIN_STRONG_FRACTION = 0.1

#: Phases used to estimate the displacement need this standalone score and this many matched peaks.
DISPLACEMENT_MIN_SCORE = 0.6
DISPLACEMENT_MIN_PEAKS = 5

#: A second displacement estimate smaller than this (degrees) is not worth re-matching every alignment.
SHIFT_UPDATE_MIN = 0.002

#: The search tolerance is widened by this factor for the displacement estimate (before correcting it).
DISPLACEMENT_SEARCH_WIDENING = 1.5

#: Expected peaks below this fraction of the strongest take no part in the scale search (speed).
SCALE_SEARCH_MIN_HEIGHT = 0.01

#: Most alignments (lattice scales) tried per candidate, and how good a runner-up must be (fraction of
#: the best objective) to be tried.
MAX_HYPOTHESES = 3
HYPOTHESIS_FRACTION = 0.6

#: The first, full-range scale search uses a grid this many times coarser (with a widened tolerance);
#: each alignment it finds is then searched locally on the fine grid.
COARSE_FACTOR = 2.0

#: Distinct alignments are at least this many coarse grid steps apart.
HYPOTHESIS_SEPARATION = 2

#: Half-width (fine grid steps) of the local scale search.
LOCAL_SEARCH_STEPS = 5

#: Weight of the signal support of an unmatched expected peak in the scale search.
SUPPORT_WEIGHT = 0.5

#: Kα1/Kα2 pairs separated by at least this many line FWHM are resolved: an observed peak may then be
#: the Kα2 line of a reflection whose Kα1 line hides under another peak.
KALPHA2_RESOLVED = 1.5

#: Match quality of an observed peak explained only by a reflection's Kα2 line (half its intensity).
KALPHA2_MATCH_WEIGHT = 0.7

#: Identification needs at least one peak this significant (σ): a noise-only scan can show a maximum or
#: two just above the 3σ peak threshold, and matching them would rank phases by chance.
MIN_IDENTIFY_SIGMA = 5.0

#: Role order for ties: hosts are the likeliest phases of these samples.
ROLE_PRIOR = {"host": 3, "secondary": 2, "crucible": 1, "contaminant": 0}


# =============================================================================== scan context
@lru_cache(maxsize=16)
def _doublet_tables(ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apex offset, apex height and apparent FWHM of a Kα1/Kα2 pair versus line separation.

    Both lines are pseudo-Voigts (η = :data:`ETA`) of unit FWHM and total area 1
    split 1 : ``ratio``.

    Returns
    -------
    u : ndarray, shape (U,)
        Separation of the lines in units of the line FWHM.
    shift : ndarray, shape (U,)
        Apex position relative to the Kα1 line, as a fraction of the separation.
    height : ndarray, shape (U,)
        Apex height.
    width : ndarray, shape (U,)
        Apparent FWHM of the pair around its apex, in line FWHM.
    """
    u = np.linspace(0.0, 6.0, 241)
    x = np.linspace(-4.0, 10.0, 7001)
    shift, height, width = (np.empty_like(u) for _ in range(3))
    for i, sep in enumerate(u):
        prof = (pseudo_voigt(x, 0.0, 1.0, ETA) + ratio * pseudo_voigt(x, sep, 1.0, ETA)) / (1.0 + ratio)
        k = int(np.argmax(prof))
        height[i] = prof[k]
        shift[i] = x[k] / sep if sep > 0 else ratio / (1.0 + ratio)
        above = prof >= 0.5 * prof[k]
        # contiguous region above half maximum around the apex
        lo = k
        while lo > 0 and above[lo - 1]:
            lo -= 1
        hi = k
        while hi < x.size - 1 and above[hi + 1]:
            hi += 1
        width[i] = x[hi] - x[lo]
    return u, shift, height, width


@dataclass(frozen=True)
class _Context:
    """What every candidate is matched against in one scan."""

    lo: float
    hi: float
    step: float
    lam1: float
    lam2: float
    ratio: float
    obs_pos: np.ndarray  # (M,) observed primary peak positions (apex, or Kα1 centre when refined)
    obs_h: np.ndarray
    obs_sig: np.ndarray
    obs_noise: np.ndarray
    obs_padded: np.ndarray  # obs_pos with ±inf sentinels
    width_w: float  # line FWHM² = width_w + width_u · tan²θ
    width_u: float
    kalpha1_positions: bool  # observed positions are refined Kα1 centres
    x: np.ndarray
    noise: np.ndarray
    net: np.ndarray  # (N,) smoothed net signal
    support: np.ndarray  # (N,) smoothed net signal / (threshold σ), clipped to [0, 1]
    threshold: float  # prominence threshold, σ

    def width(self, tt: np.ndarray) -> np.ndarray:
        t = np.tan(np.radians(tt) / 2.0)
        return np.sqrt(np.maximum(self.width_w + self.width_u * t * t, (0.5 * self.step) ** 2))

    def doublet(self, tt1: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apex offset, apex height per unit area and resolved Kα2 offset of lines at ``tt1``, width ``w``.

        The Kα2 offset (from the Kα1 line) is NaN where the pair is not resolved.
        """
        if self.ratio <= 0:
            return np.zeros_like(tt1), np.full_like(tt1, _pv_peak(1.0)) / w, np.full_like(tt1, np.nan)
        u_tab, shift, height, _ = _doublet_tables(round(self.ratio, 4))
        sep = kalpha2_position(tt1, self.lam1, self.lam2) - tt1
        u = np.clip(sep / w, 0.0, u_tab[-1])
        off = np.interp(u, u_tab, shift) * sep
        if self.kalpha1_positions:
            off = np.zeros_like(off)
        second = np.where(u >= KALPHA2_RESOLVED, sep, np.nan)
        return off, np.interp(u, u_tab, height) / w, second


def _tt(d: np.ndarray, wavelength: float) -> np.ndarray:
    """Bragg angle 2θ (degrees) without NaN handling: λ > 2d is clipped to 180° (outside any scan)."""
    return 2.0 * np.degrees(np.arcsin(np.minimum(wavelength / (2.0 * d), 1.0)))


def _pv_peak(fwhm: float) -> float:
    return float(pseudo_voigt(np.array([0.0]), 0.0, fwhm, ETA)[0])


def _d_of(tt: np.ndarray, wavelength: float) -> np.ndarray:
    return wavelength / (2.0 * np.sin(np.radians(tt) / 2.0))


def _width_model(search: PeakSearch, ratio: float, lam1: float, lam2: float) -> tuple[float, float]:
    """Fit line FWHM² = W + U tan²θ to the observed peaks (robust; Kα2 broadening removed)."""
    p = search.peaks.primary()
    fallback = float(search.typical_fwhm)
    if len(p) == 0:
        return fallback**2, 0.0
    pos, f, sig = p.position, p.fwhm.copy(), p.significance
    if ratio > 0 and not np.all(p.refined):
        u_tab, _, _, width_tab = _doublet_tables(round(ratio, 4))
        sep = kalpha2_position(pos, lam1, lam2) - pos
        w = f.copy()
        for _ in range(4):
            w = f / np.interp(np.clip(sep / np.maximum(w, 1e-6), 0, u_tab[-1]), u_tab, width_tab)
        f = w
    good = sig >= 8.0
    if np.count_nonzero(good) < 4:
        good = np.ones_like(sig, dtype=bool)
    t2 = np.tan(np.radians(pos[good]) / 2.0) ** 2
    y = f[good] ** 2
    wts = np.minimum(sig[good], 50.0)
    keep = np.ones(y.size, dtype=bool)
    coef = np.array([np.median(y), 0.0])
    for _ in range(3):
        if np.count_nonzero(keep) < 4:
            break
        a = np.column_stack([np.ones(np.count_nonzero(keep)), t2[keep]]) * wts[keep, None]
        coef, *_ = np.linalg.lstsq(a, y[keep] * wts[keep], rcond=None)
        resid = np.abs(np.sqrt(np.maximum(coef[0] + coef[1] * t2, 1e-12)) - f[good])
        mad = np.median(resid) + 1e-12
        keep = resid <= 3.0 * 1.4826 * mad
    w0, u0 = float(coef[0]), float(coef[1])
    if not (np.isfinite(w0) and np.isfinite(u0)) or w0 <= 0 or u0 < 0:
        med = float(np.median(f[good]))
        return med**2, 0.0
    return w0, u0


def _context(search: PeakSearch, config: MatchConfig) -> _Context:
    scan = search.scan
    rad = scan.meta.radiation
    assert rad is not None
    lam2 = float(rad.kalpha2) if rad.is_doublet else rad.kalpha1
    ratio = float(rad.ratio) if rad.is_doublet else 0.0
    prim = search.peaks.primary()
    w0, u0 = _width_model(search, ratio, rad.kalpha1, lam2)
    return _Context(
        lo=float(scan.x[0]),
        hi=float(scan.x[-1]),
        step=scan.step,
        lam1=rad.kalpha1,
        lam2=lam2,
        ratio=ratio,
        obs_pos=np.asarray(prim.position),
        obs_h=np.asarray(prim.height),
        obs_sig=np.asarray(prim.significance),
        obs_noise=np.asarray(prim.noise),
        obs_padded=_pad(np.asarray(prim.position)),
        width_w=w0,
        width_u=u0,
        kalpha1_positions=bool(len(prim) and np.all(prim.refined)),
        x=scan.x,
        noise=search.noise,
        net=search.smoothed,
        support=np.clip(search.smoothed / (search.config.prominence * search.noise), 0.0, 1.0),
        threshold=search.config.prominence,
    )


# =============================================================================== per-candidate
@dataclass
class _Expected:
    """Expected peaks of one candidate in one scan (reference cell)."""

    phase: ReferencePhase
    formula: str
    d: np.ndarray  # (K,) effective spacing of each expected peak at the reference cell
    unit_height: np.ndarray  # (K,) expected apex height per unit phase scale, max 1
    offset: np.ndarray  # (K,) apex offset from the Kα1 line, degrees
    second: np.ndarray  # (K,) offset of a resolved Kα2 line from the Kα1 line (NaN: not resolved)
    width: np.ndarray  # (K,) line FWHM, degrees
    tol: np.ndarray  # (K,) match tolerance, degrees
    hkl: np.ndarray  # (K, 3) indices of the strongest reflection of each expected peak
    members: np.ndarray  # (K,) reflections merged into each expected peak
    scale_step: float  # lattice-scale grid step fine enough for the tolerance at the highest angle


@dataclass
class _Fit:
    """A candidate at its best alignment: what matched, what is missing, and its coverage."""

    index: int
    phase: ReferencePhase
    formula: str
    testable: bool
    reason: str
    scale: float | None = None
    positions: np.ndarray | None = None  # (K,) expected positions
    line_positions: np.ndarray | None = None  # (K,) position of the line that matched (apex or Kα2)
    predicted: np.ndarray | None = None  # (K,) predicted net heights
    unit_height: np.ndarray | None = None
    tol: np.ndarray | None = None
    noise: np.ndarray | None = None
    match: np.ndarray | None = None  # (K,) index of the matched observed peak, -1 if none
    quality: np.ndarray | None = None  # (K,) 0..1
    missing: np.ndarray | None = None  # (K,) bool
    labels: list[str] | None = None  # (Raman) band labels; XRD labels come from ``hkl``
    hkl: np.ndarray | None = None  # (K, 3)
    members: np.ndarray | None = None  # (K,)
    d: np.ndarray | None = None
    coverage: float = 0.0
    disagreement: float = 0.0
    strain_use: float = 0.0
    n_expected: int = 0
    slot: int = -1  # position in the list of fits being ranked


def _prepare(
    lib: PhaseLibrary, phase: ReferencePhase, ctx: _Context, config: MatchConfig
) -> _Expected | None:
    """Expected peaks of a candidate in this scan at its reference cell (None: none in range)."""
    refl = lib.reflections(phase, wavelength=ctx.lam1)
    strain = float(phase.strain)
    d = refl.d
    margin = config.max_displacement_deg + 0.5
    tt_lo = _tt(d * (1.0 + strain), ctx.lam1)  # largest d → smallest angle
    tt_hi = _tt(d * (1.0 - strain), ctx.lam1)
    ok = (tt_hi >= ctx.lo - margin) & (tt_lo <= ctx.hi + margin) & (tt_lo < 179.0)
    if not np.any(ok):
        return None
    d = d[ok]
    tt = _tt(d, ctx.lam1)
    area = refl.mf2[ok] * lorentz_polarisation(tt)
    hkl = refl.hkl[ok]
    order = np.argsort(tt, kind="stable")
    tt, area, hkl = tt[order], area[order], hkl[order]
    w = ctx.width(tt)
    # merge unresolvable neighbours into one expected peak
    brk = np.ones(tt.size, dtype=bool)
    brk[1:] = np.diff(tt) >= CLUSTER_FWHM * 0.5 * (w[1:] + w[:-1])
    group = np.cumsum(brk) - 1
    ng = int(group[-1]) + 1
    g_area = np.bincount(group, weights=area, minlength=ng)
    g_tt = np.bincount(group, weights=area * tt, minlength=ng) / np.maximum(g_area, 1e-300)
    by_strength = np.lexsort((-area, group))
    lead = by_strength[np.r_[True, group[by_strength][1:] != group[by_strength][:-1]]]
    counts = np.bincount(group, minlength=ng)
    gw = ctx.width(g_tt)
    offset, hper, second = ctx.doublet(g_tt, gw)
    height = g_area * hper
    keep = height >= MIN_RELATIVE_HEIGHT * height.max()
    if not np.any(keep):
        return None
    tol = np.maximum(config.tolerance_fwhm * gw[keep], config.min_tolerance_steps * ctx.step)
    gd = _d_of(g_tt[keep], ctx.lam1)
    unit = height[keep] / height.max()
    used = unit >= SCALE_SEARCH_MIN_HEIGHT
    t = np.tan(np.radians(g_tt[keep][used]) / 2.0)
    ds = float(np.min(np.radians(tol[used]) / (2.0 * np.maximum(t, 1e-3)))) * SCALE_STEP_FRACTION
    return _Expected(
        phase=phase,
        formula=refl.formula,
        d=gd,
        unit_height=unit,
        offset=offset[keep],
        second=second[keep],
        width=gw[keep],
        tol=tol,
        hkl=hkl[lead][keep],
        members=counts[keep],
        scale_step=ds,
    )


def _pad(obs: np.ndarray) -> np.ndarray:
    """Sorted positions with ±inf sentinels, for :func:`_nearest_padded`."""
    return np.concatenate(([-np.inf], obs, [np.inf]))


def _nearest_padded(padded: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index (into the unpadded array) of and distance to the nearest position; needs ≥ 1 real value."""
    i = np.searchsorted(padded, pos)
    dl = pos - padded[i - 1]
    dr = padded[i] - pos
    use_r = dr < dl
    idx = np.where(use_r, i - 1, i - 2)
    return np.minimum(np.maximum(idx, 0), padded.size - 3), np.where(use_r, dr, dl)


def _nearest(obs: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest observed position, for any shape of ``pos``."""
    if obs.size == 0:
        return np.full(pos.shape, -1), np.full(pos.shape, np.inf)
    return _nearest_padded(_pad(obs), pos)


def _positions(
    exp: _Expected, ctx: _Context, scale: np.ndarray, shift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Expected apex and resolved Kα2 line positions (NaN: unresolved), shape ``scale.shape + (K,)``."""
    tt1 = _tt(np.multiply.outer(scale, exp.d), ctx.lam1)
    corr = shift * np.cos(np.radians(tt1) / 2.0) if shift else 0.0
    return tt1 + exp.offset + corr, tt1 + exp.second + corr


def _match_quality(
    obs: np.ndarray, pos: np.ndarray, pos2: np.ndarray | None, tol: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest observed peak and match quality ``1 - (distance / tol)²`` (0 beyond ``tol``).

    ``obs`` are the observed positions padded with ±inf sentinels (:func:`_pad`).

    A resolved Kα2 line (``pos2``) may match instead, at :data:`KALPHA2_MATCH_WEIGHT`; the third
    result is True where it did.
    """
    if obs.size <= 2:  # only the ±inf sentinels: nothing observed
        return np.full(pos.shape, -1), np.zeros(pos.shape), np.zeros(pos.shape, dtype=bool)
    j, dist = _nearest_padded(obs, pos)
    q = np.maximum(1.0 - (dist / tol) ** 2, 0.0)
    second = np.zeros(q.shape, dtype=bool)
    if pos2 is not None:
        ok = np.isfinite(pos2)
        if np.any(ok):
            j2, d2 = _nearest_padded(obs, np.where(ok, pos2, -1e9))
            q2 = np.where(ok, KALPHA2_MATCH_WEIGHT * np.maximum(1.0 - (d2 / tol) ** 2, 0.0), 0.0)
            second = q2 > q
            j = np.where(second, j2, j)
            q = np.where(second, q2, q)
    return j, q, second


def _scale_grid(exp: _Expected, factor: float) -> tuple[np.ndarray, float]:
    """Grid of lattice scales over the allowed strain, ``factor`` times coarser than the fine step."""
    strain = float(exp.phase.strain)
    ds = exp.scale_step * factor
    n = int(min(MAX_SCALE_POINTS, max(5, math.ceil(2.0 * strain / max(ds, 1e-6)) + 1)))
    return np.linspace(1.0 - strain, 1.0 + strain, n), ds


def _scale_objective(
    exp: _Expected, ctx: _Context, grid: np.ndarray, shift: float, widen: float
) -> np.ndarray:
    """Alignment objective of each scale in ``grid``.

    Σ sqrt(relative height) × max(match quality, ½ × signal support): square-root weights let several
    matched reflections outweigh one strong reflection that happens to sit on another phase's peak, and
    the support term (the smoothed net signal at the expected position, in units of the detection
    threshold) credits a reflection hidden in a blend with a stronger peak.
    """
    use = exp.unit_height >= SCALE_SEARCH_MIN_HEIGHT
    pos, pos2 = _positions(exp, ctx, grid, shift)
    pos, pos2 = pos[:, use], pos2[:, use]
    _, q, _ = _match_quality(ctx.obs_padded, pos, pos2, exp.tol[use] * widen)
    support = np.interp(pos, ctx.x, ctx.support)
    inside = (pos >= ctx.lo) & (pos <= ctx.hi)
    obj = np.sum(np.sqrt(exp.unit_height[use]) * np.maximum(q, SUPPORT_WEIGHT * support) * inside, axis=1)
    strain = max(float(exp.phase.strain), 1e-9)
    return obj - 1e-3 * max(float(obj.max()), 1e-9) * np.abs(grid - 1.0) / strain


def _scale_hypotheses(exp: _Expected, ctx: _Context, shift: float, widen: float) -> list[float]:
    """The best lattice scale and up to :data:`MAX_HYPOTHESES` - 1 distinct runners-up.

    A phase can align with more than one set of peaks within its allowed strain (e.g. MgO with its own
    lines or with NiO's when both are present); the ranking tries each alignment.
    """
    if float(exp.phase.strain) <= 0:
        return [1.0]
    grid, _ = _scale_grid(exp, COARSE_FACTOR)
    obj = _scale_objective(exp, ctx, grid, shift, widen)
    order = np.argsort(obj)[::-1]
    best = float(obj[order[0]])
    picked: list[int] = []
    sep = HYPOTHESIS_SEPARATION
    for i in order:
        if obj[i] < HYPOTHESIS_FRACTION * best or len(picked) >= MAX_HYPOTHESES:
            break
        if all(abs(int(i) - k) > sep for k in picked):
            picked.append(int(i))
    return [float(grid[i]) for i in picked]


def _local_scales(exp: _Expected, ctx: _Context, shift: float, starts: Sequence[float]) -> list[float]:
    """Best scale on a fine grid around each of ``starts`` (one objective evaluation for all)."""
    strain = float(exp.phase.strain)
    if strain <= 0 or not starts:
        return [1.0 for _ in starts]
    steps = exp.scale_step * np.arange(-LOCAL_SEARCH_STEPS, LOCAL_SEARCH_STEPS + 1)
    grids = np.clip(np.add.outer(np.asarray(starts), steps), 1.0 - strain, 1.0 + strain)
    obj = _scale_objective(exp, ctx, grids.ravel(), shift, 1.0).reshape(grids.shape)
    return [float(g[int(np.argmax(o))]) for g, o in zip(grids, obj, strict=True)]


def _refined_scale(fit: _Fit, exp: _Expected, ctx: _Context, shift: float) -> float | None:
    """Weighted least-squares lattice scale from a fit's matched peaks (None if fewer than 2)."""
    m = fit.match >= 0
    if np.count_nonzero(m) < 2:
        return None
    tt = fit.line_positions[m]
    th = np.radians(tt) / 2.0
    # d(2θ)/ds (degrees per unit scale) = -2 tan θ · 180/π
    slope = -2.0 * np.tan(th) * 180.0 / math.pi
    res = ctx.obs_pos[fit.match[m]] - tt
    w = np.sqrt(exp.unit_height[m]) / np.maximum(exp.tol[m], 1e-9)
    den = float(np.sum((w * slope) ** 2))
    if den <= 0:
        return None
    ds = float(np.sum(w * w * slope * res) / den)
    strain = float(exp.phase.strain)
    return float(np.clip(fit.scale + ds, 1.0 - strain, 1.0 + strain))


@dataclass
class _Layout:
    """Expected peaks of one alignment, waiting to be matched (see :func:`_align_all`)."""

    fit: _Fit
    pos: np.ndarray
    pos2: np.ndarray | None
    unit_height: np.ndarray
    width: np.ndarray
    tol: np.ndarray
    inside: np.ndarray


def _layout(
    index: int, exp: _Expected, ctx: _Context, shift: float, scale: float, widen: float = 1.0
) -> _Layout:
    pos, pos2 = _positions(exp, ctx, np.array(scale), shift)
    strain = float(exp.phase.strain)
    fit = _Fit(
        index=index,
        phase=exp.phase,
        formula=exp.formula,
        testable=True,
        reason="",
        scale=scale,
        hkl=exp.hkl,
        members=exp.members,
        d=exp.d * scale,
        strain_use=abs(scale - 1.0) / strain if strain > 0 else 0.0,
    )
    inside = (pos >= ctx.lo) & (pos <= ctx.hi)
    return _Layout(fit, pos, pos2, exp.unit_height, exp.width, exp.tol * widen, inside)


def _evaluate_all(layouts: Sequence[_Layout], ctx: _Context, config: MatchConfig) -> list[_Fit]:
    """Match many XRD alignments against the scan at once (see :func:`_align_all`)."""
    return _align_all(
        layouts,
        obs_pos=ctx.obs_pos,
        obs_h=ctx.obs_h,
        x=ctx.x,
        net=ctx.net,
        noise=ctx.noise,
        threshold=ctx.threshold,
        config=config,
    )


def _segment_quantile(
    values: np.ndarray, weights: np.ndarray, seg: np.ndarray, n: int, q: float
) -> np.ndarray:
    """Weighted ``q``-quantile of ``values`` within each segment ``0..n-1`` (0 for empty segments)."""
    out = np.zeros(n)
    if values.size == 0:
        return out
    order = np.lexsort((values, seg))
    v, w, sg = values[order], weights[order], seg[order]
    cw = np.cumsum(w)
    first = np.ones(sg.size, dtype=bool)
    first[1:] = sg[1:] != sg[:-1]
    base = np.zeros(n)
    base[sg[first]] = (cw - w)[first]
    within = cw - base[sg]
    total = np.bincount(sg, weights=w, minlength=n)
    idx = np.flatnonzero(within >= q * total[sg] - 1e-12)
    segs, firsts = np.unique(sg[idx], return_index=True)
    out[segs] = v[idx[firsts]]
    return out


def _align_all(
    layouts: Sequence[_Layout],
    *,
    obs_pos: np.ndarray,
    obs_h: np.ndarray,
    x: np.ndarray,
    net: np.ndarray,
    noise: np.ndarray,
    threshold: float,
    config: MatchConfig,
) -> list[_Fit]:
    """Match expected peaks at fixed positions; set intensity scales, missing peaks and coverages.

    All alignments are concatenated and processed in one set of array operations.

    Parameters
    ----------
    layouts : sequence of _Layout
        Per alignment: expected positions, resolved Kα2 positions (or None), relative heights (max 1),
        line widths, match tolerances and the in-range mask, all of shape (K,).
    obs_pos, obs_h : ndarray, shape (M,)
        Observed primary peaks (sorted) and their net heights.
    x, net, noise : ndarray, shape (N,)
        Scan axis, smoothed background-subtracted signal (where an unmatched expected peak may still
        hide) and per-point σ.
    threshold : float
        Peak prominence threshold, σ.
    config : MatchConfig

    Returns
    -------
    list of _Fit
        The layouts' fits, filled in.
    """
    n = len(layouts)
    if n == 0:
        return []
    sizes = np.array([lay.pos.size for lay in layouts])
    ends = np.cumsum(sizes)
    seg = np.repeat(np.arange(n), sizes)
    pos = np.concatenate([lay.pos for lay in layouts])
    pos2 = np.concatenate(
        [lay.pos2 if lay.pos2 is not None else np.full(lay.pos.size, np.nan) for lay in layouts]
    )
    uh = np.concatenate([lay.unit_height for lay in layouts])
    tol = np.maximum(np.concatenate([lay.tol for lay in layouts]), 1e-12)
    inside = np.concatenate([lay.inside for lay in layouts])
    j, q, second = _match_quality(_pad(obs_pos), pos, pos2, tol)
    q = np.where(inside, q, 0.0)
    matched = q > 0
    sigma = np.interp(pos, x, noise)
    jm = np.where(matched, j, 0)
    hm = obs_h[jm] if obs_h.size else np.zeros_like(pos)
    scale_i = _segment_quantile(
        hm[matched] / uh[matched], uh[matched] * q[matched], seg[matched], n, INTENSITY_QUANTILE
    )
    predicted = scale_i[seg] * uh
    limit = config.missing_margin * threshold * sigma
    detectable = inside & (predicted >= limit)
    # missing: predicted above the threshold, but the smoothed net signal there is far below the
    # prediction (a reflection inside a blend or under a neighbour's flank still has its signal)
    signal = np.interp(pos, x, net)
    missing = detectable & ~matched & (signal < MISSING_SIGNAL_FRACTION * predicted)
    weight_missing = np.clip(predicted / np.maximum(limit, 1e-300), 1.0, MISSING_WEIGHT_CAP)
    num = np.bincount(seg, weights=uh * q, minlength=n)
    den = np.bincount(seg, weights=uh * matched, minlength=n) + np.bincount(
        seg, weights=uh * weight_missing * missing, minlength=n
    )
    lr = np.abs(np.log(np.maximum(hm, 1e-12) / np.maximum(predicted, 1e-12)))
    wts = uh * q
    dis_num = np.bincount(seg, weights=np.minimum(lr / np.log(4.0), 1.0) * wts, minlength=n)
    dis_den = np.bincount(seg, weights=wts, minlength=n)
    n_exp = np.bincount(seg, weights=inside & (uh >= MIN_RELATIVE_HEIGHT), minlength=n)
    line = np.where(second, pos2, pos)
    match = np.where(matched, j, -1)
    out = []
    start = 0
    for k, lay in enumerate(layouts):
        end = int(ends[k])
        f = lay.fit
        sl = slice(start, end)
        f.positions = pos[sl]
        f.line_positions = line[sl]
        f.predicted = predicted[sl]
        f.unit_height = uh[sl]
        f.tol = tol[sl]
        f.noise = sigma[sl]
        f.match = match[sl]
        f.quality = q[sl]
        f.missing = missing[sl]
        f.coverage = float(num[k] / den[k]) if den[k] > 0 else 0.0
        f.disagreement = float(dis_num[k] / dis_den[k]) if dis_den[k] > 0 else 1.0
        f.n_expected = int(n_exp[k])
        out.append(f)
        start = end
    return out


def _estimate_shift(fits: Sequence[_Fit], ctx: _Context, config: MatchConfig, base: float = 0.0) -> float:
    """Common displacement shift (deg at 2θ → 0) from the confidently matched phases, by least squares.

    The residuals of fits made with a shift ``base`` give the correction to add to it.
    """
    rows, rhs, wts = [], [], []
    conf = [f for f in fits if f.testable and f.match is not None]
    scored = []
    for f in conf:
        n = int(np.count_nonzero(f.match >= 0))
        s0 = f.coverage * (1.0 - math.exp(-n / EVIDENCE_SCALE))
        if s0 >= DISPLACEMENT_MIN_SCORE and n >= DISPLACEMENT_MIN_PEAKS:
            scored.append((s0 * n, f))
    scored.sort(key=lambda t: -t[0])
    chosen = [f for _, f in scored[:3]]
    if not chosen:
        return 0.0
    for pi, f in enumerate(chosen):
        m = f.match >= 0
        tt = f.line_positions[m]
        res = ctx.obs_pos[f.match[m]] - tt
        th = np.radians(tt) / 2.0
        for k in range(tt.size):
            row = np.zeros(1 + len(chosen))
            row[0] = math.cos(th[k])
            row[1 + pi] = -2.0 * math.tan(th[k]) * 180.0 / math.pi
            rows.append(row)
            rhs.append(res[k])
            wts.append(math.sqrt(f.unit_height[m][k]) / max(f.tol[m][k], 1e-6))
    a = np.array(rows) * np.array(wts)[:, None]
    b = np.array(rhs) * np.array(wts)
    prior = 1.0 / max(0.5 * config.max_displacement_deg, 1e-6)
    reg = np.zeros((1, a.shape[1]))
    reg[0, 0] = prior
    sol, *_ = np.linalg.lstsq(np.vstack([a, reg]), np.concatenate([b, [-base * prior]]), rcond=None)
    lim = config.max_displacement_deg
    z = float(np.clip(sol[0], -lim - base, lim - base))
    return z if math.isfinite(z) else 0.0


# =============================================================================== ranking (shared)
@dataclass
class _Outcome:
    order: list[int]
    score: dict[int, float]
    standalone: dict[int, float]


def _evidence_pairs(
    fits: Sequence[_Fit], obs_h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened (candidate, observed peak, weight, predicted height) of every match, one per peak.

    The weight is the match quality times the share of the observed peak the candidate can explain,
    ``min(1, INTENSITY_SLACK × predicted / observed)``: a reflection predicted far weaker than the peak
    it sits on is no evidence for the candidate.
    """
    cand, obs, qual, pred = [], [], [], []
    for ci, f in enumerate(fits):
        if not f.testable or f.match is None:
            continue
        m = f.match >= 0
        if not np.any(m):
            continue
        j, q, p = f.match[m], f.quality[m], f.predicted[m]
        # one entry per observed peak: the best quality, the summed predicted height
        uj, inv = np.unique(j, return_inverse=True)
        qbest = np.zeros(uj.size)
        np.maximum.at(qbest, inv, q)
        psum = np.bincount(inv, weights=p, minlength=uj.size)
        share = np.minimum(1.0, INTENSITY_SLACK * psum / np.maximum(obs_h[uj], 1e-300))
        cand.append(np.full(uj.size, ci))
        obs.append(uj)
        qual.append(qbest * share)
        pred.append(psum)
    if not cand:
        z = np.zeros(0)
        return z.astype(int), z.astype(int), z, z
    return np.concatenate(cand), np.concatenate(obs), np.concatenate(qual), np.concatenate(pred)


def _greedy(
    fits: Sequence[_Fit],
    obs_h: np.ndarray,
    obs_sig: np.ndarray,
    *,
    preferred: set[str],
    twins: Callable[[_Fit, _Fit], bool],
) -> _Outcome:
    """Choose candidates one by one, each scored on the peaks the ones chosen before leave unexplained."""
    n = len(fits)
    phase_of = np.array([f.index for f in fits])
    cand, obs, qual, pred = _evidence_pairs(fits, obs_h)
    strength = np.minimum(1.0, obs_sig / EVIDENCE_SIGMA) if obs_sig.size else obs_sig
    cover = np.array([f.coverage for f in fits])
    agree = 1.0 - AGREEMENT_WEIGHT * np.array([f.disagreement for f in fits])
    remaining = np.array([f.testable for f in fits])
    explained = np.zeros(obs_h.size)
    out = _Outcome(order=[], score={}, standalone={})
    first = True
    while np.any(remaining):
        novelty = np.clip(1.0 - INTENSITY_SLACK * explained / np.maximum(obs_h, 1e-300), 0.0, 1.0)
        if obs.size:
            evidence = np.bincount(cand, weights=qual * novelty[obs] * strength[obs], minlength=n)
            new_intensity = np.bincount(cand, weights=qual * novelty[obs] * obs_h[obs], minlength=n)
            fraction = new_intensity / max(float(np.sum(novelty * obs_h)), 1e-300)
        else:
            evidence = fraction = np.zeros(n)
        scores = cover * (1.0 - np.exp(-evidence / EVIDENCE_SCALE)) * agree
        scores = np.where(remaining, scores, -np.inf)
        # the next phase is the one that explains the most new intensity with good coverage
        priority = scores * (1.0 + fraction)
        if first:
            for i in np.flatnonzero(remaining):
                out.standalone[int(i)] = float(scores[i])
            first = False
        best = int(np.argmax(priority))
        near = (
            []
            if scores[best] < TIE_MIN_SCORE
            else [
                int(i)
                for i in np.flatnonzero(priority >= (1.0 - TIE_MARGIN) * priority[best])
                if phase_of[i] != phase_of[best]
            ]
        )
        if near:
            group = [best] + [i for i in near if twins(fits[best], fits[i])]
            if len(group) > 1:
                order = _tie_order(fits, preferred, scores, obs_h, obs_sig)
                best = sorted(group, key=cmp_to_key(order))[0]
        out.order.append(best)
        out.score[best] = max(float(scores[best]), 0.0)
        remaining[phase_of == phase_of[best]] = False  # every alignment of the chosen phase
        sel = cand == best
        np.add.at(explained, obs[sel], pred[sel])
    return out


def _strain_log_prior(f: _Fit) -> float:
    """Log prior density of the fitted lattice scale: Gaussian with the allowed strain as its 2σ bound.

    A phase that fits with little of a tight allowance is the sharper, likelier hypothesis; one that
    needs all of it is not.
    """
    strain = max(float(f.phase.strain), 1e-4)
    z = 2.0 * (float(f.scale) - 1.0) / strain if f.scale is not None else 0.0
    return -0.5 * z * z - math.log(strain)


def _intensity_misfit(a: _Fit, b: _Fit, obs_h: np.ndarray, obs_sig: np.ndarray) -> tuple[float, int]:
    """How much worse ``a`` reproduces the relative heights of the peaks both candidates match than ``b``.

    For each candidate, the log ratios observed / predicted over the shared peaks, each peak weighted by
    its significance (capped), less their weighted median (the intensity scale is free, and a peak that
    another phase overlaps must not shift it); the misfit is the weighted mean absolute residual.

    Returns
    -------
    misfit : float
        Positive: ``a`` fits worse.
    n_shared : int
        Number of shared peaks.
    """
    if a.match is None or b.match is None:
        return 0.0, 0
    ma, mb = a.match >= 0, b.match >= 0
    if not (np.any(ma) and np.any(mb)):
        return 0.0, 0
    n = obs_h.size
    pa = np.bincount(a.match[ma], weights=a.predicted[ma], minlength=n)
    pb = np.bincount(b.match[mb], weights=b.predicted[mb], minlength=n)
    shared = (pa > 0) & (pb > 0)
    n_shared = int(np.count_nonzero(shared))
    if n_shared < 2:
        return 0.0, n_shared
    h = np.log(np.maximum(obs_h[shared], 1e-12))
    w = np.minimum(obs_sig[shared], EVIDENCE_SIGMA)

    def spread(p: np.ndarray) -> float:
        r = h - np.log(p[shared])
        order = np.argsort(r)
        cw = np.cumsum(w[order])
        centre = r[order][min(int(np.searchsorted(cw, 0.5 * cw[-1])), r.size - 1)]  # weighted median
        return float(np.sum(w * np.abs(r - centre)) / np.sum(w))

    return spread(pa) - spread(pb), n_shared


def _tie_order(
    fits: Sequence[_Fit], preferred: set[str], scores: np.ndarray, obs_h: np.ndarray, obs_sig: np.ndarray
) -> Callable[[int, int], int]:
    """Comparator of near-tied twins (negative: the first is better).

    In order, each criterion decides only if the two differ by more than its tolerance: the system's
    host phases first; better relative heights of the shared peaks (:func:`_intensity_misfit`); the
    simpler pattern (fewer visible expected peaks that the other lacks; then fewer weak ones, if they
    differ by a whole superlattice); the likelier lattice scale (:func:`_strain_log_prior`); the library
    role; the score.
    """

    def compare(a: int, b: int) -> int:
        fa, fb = fits[a], fits[b]
        pa, pb = fa.phase.id in preferred, fb.phase.id in preferred
        if pa != pb:
            return -1 if pa else 1
        misfit, n_shared = _intensity_misfit(fa, fb, obs_h, obs_sig)
        if n_shared >= 2 and abs(misfit) > TIE_MISFIT / math.sqrt(n_shared):
            return -1 if misfit < 0 else 1
        ea, eb = _extra_peaks(fa, fb), _extra_peaks(fb, fa)
        if ea != eb:
            return -1 if ea < eb else 1
        # a whole set of weak extra lines (a superlattice: ordered vs disordered spinel) marks the
        # lower-symmetry model even when none is visible; a single one is an accident of |F|²
        ea, eb = _extra_peaks(fa, fb, visible=False), _extra_peaks(fb, fa, visible=False)
        if abs(ea - eb) >= SUPERLATTICE_MIN_PEAKS:
            return -1 if ea < eb else 1
        la, lb = _strain_log_prior(fa), _strain_log_prior(fb)
        if abs(la - lb) > TIE_LOG_PRIOR:
            return -1 if la > lb else 1
        ra, rb = ROLE_PRIOR.get(fa.phase.role, 0), ROLE_PRIOR.get(fb.phase.role, 0)
        if ra != rb:
            return -1 if ra > rb else 1
        return -1 if scores[a] >= scores[b] else 1

    return compare


def _extra_peaks(a: _Fit, b: _Fit, *, visible: bool = True) -> int:
    """Expected peaks of ``a`` that ``b`` lacks, within the span of ``b``'s expected peaks.

    With ``visible``, only those that would be seen (predicted ≥ :data:`EXTRA_VISIBLE_SIGMA` σ); a
    reflection too weak to see cannot tell the two apart by itself.
    """
    use = (
        (a.unit_height >= MIN_RELATIVE_HEIGHT)
        & (a.positions >= b.positions.min())
        & (a.positions <= b.positions.max())
    )
    if visible:
        use &= a.predicted >= EXTRA_VISIBLE_SIGMA * a.noise
    if not np.any(use):
        return 0
    other = np.sort(b.positions[b.unit_height >= MIN_RELATIVE_HEIGHT])
    _, dist = _nearest(other, a.positions[use])
    return int(np.count_nonzero(dist > a.tol[use]))


def _twin_test(config: MatchConfig) -> Callable[[_Fit, _Fit], bool]:
    """Twins: each candidate's strong expected peaks all lie on the other's expected peaks."""
    cache: dict[tuple[int, int], bool] = {}
    views: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def view(f: _Fit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if f.slot not in views:
            strong = (f.unit_height >= TWIN_STRONG_FRACTION) & np.isfinite(f.positions)
            views[f.slot] = (
                f.positions[strong],
                1.5 * np.maximum(f.tol[strong], 1e-9),
                np.sort(f.positions[f.unit_height >= 0.01]),
            )
        return views[f.slot]

    def covered(a: _Fit, b: _Fit) -> bool:
        pos, tol, _ = view(a)
        if pos.size == 0:
            return False
        _, dist = _nearest(view(b)[2], pos)
        return bool(np.all(dist <= tol))

    def test(a: _Fit, b: _Fit) -> bool:
        if a.positions is None or b.positions is None:
            return False
        key = (min(a.slot, b.slot), max(a.slot, b.slot))
        if key not in cache:
            cache[key] = covered(a, b) and covered(b, a)
        return cache[key]

    return test


# =============================================================================== public API
def select_candidates(
    library: PhaseLibrary,
    *,
    elements: Iterable[str] | None = None,
    system: str | None = None,
    phases: Iterable[str] | None = None,
    peaks: object = None,
) -> tuple[list[ReferencePhase], set[str]]:
    """The library phases to test, and the system's host phases (preferred among twins).

    Parameters
    ----------
    library : PhaseLibrary
    elements : iterable of str, optional
        The sample's elements; the crucible and usual contaminants are added.
    system : str, optional
        A material system (``"pc-NMC811 + LLZTO"``), resolved with the
        library's material aliases; gives the elements and the host phases.
    phases : iterable of str, optional
        Explicit phase ids (used as given).
    peaks : ObservedPeaks, optional
        The scan's peaks, for the library's indexed large folders (candidates by elements and lines).

    Returns
    -------
    candidates : list of ReferencePhase
    preferred : set of str

    Raises
    ------
    NoCandidatesError
        If the selection is empty or no selector is given.
    """
    from ..library.materials import resolve_system

    preferred: set[str] = set()
    if phases is not None:
        ids = list(dict.fromkeys(phases))
        if not ids:
            raise NoCandidatesError("the phase list is empty")
        chosen = [library[p] for p in ids]
        if system is not None:
            preferred = set(resolve_system(system, library.materials).host_phases)
        return chosen, preferred
    always = tuple(library.materials.get("always_candidates") or ())
    if system is not None:
        spec = resolve_system(system, library.materials)
        els = set(spec.elements) if elements is None else {e.strip().capitalize() for e in elements}
        always = tuple(spec.always) or always
        preferred = set(spec.host_phases)
        where = f"system {system!r} (elements {', '.join(sorted(els))})"
    elif elements is not None:
        els = {e.strip().capitalize() for e in elements if e.strip()}
        if not els:
            raise NoCandidatesError("no elements given")
        where = f"elements {', '.join(sorted(els))}"
    else:
        raise NoCandidatesError("say what the sample contains: give elements, a system or a list of phases")
    chosen = library.select(elements=els, always=always, peaks=peaks)
    if not [p for p in chosen if p.id not in always]:
        raise NoCandidatesError(
            f"{where} select no library phase (only the always-tested {', '.join(always) or 'none'}); "
            "check the element symbols, or add a CIF with --library"
        )
    return chosen, preferred


def _label(scan: Scan) -> str:
    return scan.meta.source_path or scan.meta.sample or "scan"


def _check_technique(scan: Scan, technique: str | None) -> None:
    if technique is not None and technique != scan.kind:
        raise TechniqueMismatchError(
            f"{_label(scan)}: is {'an XRD pattern' if scan.kind == 'xrd' else 'a Raman spectrum'}, "
            f"but {technique!r} was asked for"
        )
    lo, hi = scan.x_range
    if scan.kind == "xrd":
        if scan.meta.radiation is None:
            raise TechniqueMismatchError(f"{_label(scan)}: XRD scan without a wavelength; give the anode")
        if lo < 0 or hi > 180:
            raise TechniqueMismatchError(
                f"{_label(scan)}: x runs from {lo:g} to {hi:g}, which is not a 2θ range in degrees "
                "(a Raman spectrum read as XRD?)"
            )


def _no_peaks_message(search: PeakSearch) -> str:
    prim = search.peaks.primary()
    if len(prim):
        return (
            f"{_label(search.scan)}: no significant peak: the strongest of {len(prim)} maxima stands "
            f"{float(np.max(prim.significance)):.1f}σ above the local noise, and identification needs one "
            f"of at least {max(MIN_IDENTIFY_SIGMA, search.config.prominence):g}σ; nothing to identify"
        )
    net = search.smoothed
    best = float(np.max(net / search.noise)) if net.size else 0.0
    return (
        f"{_label(search.scan)}: no peak stands out by {search.config.prominence:g}σ of the local noise "
        f"(the highest point is {best:.1f}σ above the background); nothing to identify"
    )


def rank_candidates(
    scan: Scan,
    library: PhaseLibrary,
    *,
    elements: Iterable[str] | None = None,
    system: str | None = None,
    phases: Iterable[str] | None = None,
    technique: str | None = None,
    config: MatchConfig | None = None,
    search: PeakSearch | None = None,
) -> Ranking:
    """Rank the library phases the sample may contain by how well they explain the scan's peaks.

    Parameters
    ----------
    scan : Scan
        XRD pattern (with its radiation) or Raman spectrum.
    library : PhaseLibrary
    elements : iterable of str, optional
        The sample's elements (``{"Li", "La", "Zr", "Co", "O"}``).
    system : str, optional
        Material system (``"LCO+LLZTO"``); its host phases win ties between
        indistinguishable (isostructural) candidates.
    phases : iterable of str, optional
        Explicit candidate ids instead of a selection by elements.
    technique : {"xrd", "raman"}, optional
        Expected technique; a scan of the other kind is an error.
    config : MatchConfig, optional
    search : PeakSearch, optional
        A peak search of this scan to reuse (else one is run with ``config.peaks``).

    Returns
    -------
    Ranking

    Raises
    ------
    NoCandidatesError
        Nothing selected, or no candidate testable on this scan.
    NoPeaksError
        No significant peak in the scan.
    TechniqueMismatchError
        The scan is not of the expected technique, or not a usable XRD scan.

    Examples
    --------
    >>> lib = PhaseLibrary.default()                                    # doctest: +SKIP
    >>> r = rank_candidates(scan, lib, system="pc-LCO + LLZTO")         # doctest: +SKIP
    >>> [(c.id, round(c.score, 2)) for c in r.top(3)]                  # doctest: +SKIP
    [('LLZTO_cubic', 0.99), ('LiCoO2', 0.98), ('La2Zr2O7', 0.81)]
    """
    cfg = config or MatchConfig()
    _check_technique(scan, technique)
    chosen, preferred = select_candidates(library, elements=elements, system=system, phases=phases)
    srch = search if search is not None else search_peaks(scan, cfg.peaks)
    prim = srch.peaks.primary()
    if len(prim) == 0 or float(np.max(prim.significance)) < max(MIN_IDENTIFY_SIGMA, srch.config.prominence):
        raise NoPeaksError(_no_peaks_message(srch))
    if phases is None and scan.kind == "xrd" and getattr(library, "indexes", None):
        from ..library.index import ObservedPeaks  # a large --library folder: its candidates by lines

        peaks = ObservedPeaks.from_search(srch)
        chosen, preferred = select_candidates(library, elements=elements, system=system, peaks=peaks)
    if scan.kind == "raman":
        from .raman import rank_raman

        return rank_raman(srch, library, chosen, preferred=preferred, config=cfg)
    return _rank_xrd(srch, library, chosen, preferred=preferred, config=cfg)


def _rank_xrd(
    search: PeakSearch,
    library: PhaseLibrary,
    chosen: Sequence[ReferencePhase],
    *,
    preferred: set[str],
    config: MatchConfig,
) -> Ranking:
    ctx = _context(search, config)
    expected: list[_Expected | None] = [_prepare(library, p, ctx, config) for p in chosen]
    if all(e is None for e in expected):
        raise NoCandidatesError(
            f"{_label(search.scan)}: none of the {len(chosen)} candidate phases has a reflection in "
            f"2θ {ctx.lo:g}–{ctx.hi:g}°"
        )
    widen = DISPLACEMENT_SEARCH_WIDENING if config.displacement else 1.0
    hypotheses = [_scale_hypotheses(e, ctx, 0.0, widen) if e is not None else [] for e in expected]
    shift = delta = 0.0
    if config.displacement:
        first = _evaluate_all(
            [
                _layout(i, e, ctx, 0.0, hypotheses[i][0], widen)
                for i, e in enumerate(expected)
                if e is not None
            ],
            ctx,
            config,
        )
        shift = _estimate_shift(first, ctx, config)
    layouts = [
        _layout(i, e, ctx, shift, s1)
        for i, e in enumerate(expected)
        if e is not None
        for s1 in _local_scales(e, ctx, shift, hypotheses[i])
    ]
    fits = _evaluate_all(layouts, ctx, config)
    if config.displacement:
        # a second estimate from the better-aligned matches
        best_per_phase: dict[int, _Fit] = {}
        for f in fits:
            if f.index not in best_per_phase or f.coverage > best_per_phase[f.index].coverage:
                best_per_phase[f.index] = f
        delta = _estimate_shift(list(best_per_phase.values()), ctx, config, base=shift)
        shift = float(np.clip(shift + delta, -config.max_displacement_deg, config.max_displacement_deg))
        if abs(delta) > SHIFT_UPDATE_MIN:
            fits = _evaluate_all(
                [_layout(f.index, expected[f.index], ctx, shift, f.scale) for f in fits], ctx, config
            )
    # least-squares lattice scale from each alignment's matched peaks; kept where it matches better
    refined = [_refined_scale(f, expected[f.index], ctx, shift) for f in fits]
    redo = [(n, r) for n, r in enumerate(refined) if r is not None and r != fits[n].scale]
    again = _evaluate_all(
        [_layout(fits[n].index, expected[fits[n].index], ctx, shift, r) for n, r in redo], ctx, config
    )
    for (n, _), g in zip(redo, again, strict=True):
        f = fits[n]
        if np.sum(g.quality * g.unit_height) >= np.sum(f.quality * f.unit_height):
            fits[n] = g
    for i, (p, e) in enumerate(zip(chosen, expected, strict=True)):
        if e is None:
            fits.append(
                _Fit(
                    index=i,
                    phase=p,
                    formula=library.reflections(p, wavelength=ctx.lam1).formula,
                    testable=False,
                    reason=f"no reflection in 2θ {ctx.lo:g}–{ctx.hi:g}°",
                )
            )
    return _assemble(search, fits, ctx.obs_pos, ctx.obs_h, ctx.obs_sig, preferred, config, shift)


def _assemble(
    search: PeakSearch,
    fits: Sequence[_Fit],
    obs_pos: np.ndarray,
    obs_h: np.ndarray,
    obs_sig: np.ndarray,
    preferred: set[str],
    config: MatchConfig,
    shift: float,
    *,
    lattice: bool = True,
) -> Ranking:
    """Greedy ranking, statuses, unique/missing/extra peaks and alternatives, as a :class:`Ranking`.

    ``fits`` may hold several alignments of one phase (same ``index``); the ranking keeps the first
    one chosen.
    """
    for k, f in enumerate(fits):
        f.slot = k
    twins = _twin_test(config)
    outcome = _greedy(fits, obs_h, obs_sig, preferred=preferred, twins=twins)
    # rank by score (stable: the order of choice breaks ties); each score is conditional on the
    # phases chosen before it, which almost always rank above it too
    order = sorted(outcome.order, key=lambda i: -outcome.score[i])
    status = {i: config.status(outcome.score[i]) for i in order}
    plausible = [i for i in order if status[i] != "unlikely"]
    # alternatives: lower-ranked, explained-away twins of a plausible candidate
    alternatives: dict[int, list[int]] = {}
    for r, i in enumerate(order):
        if status[i] == "unlikely":
            continue
        for k in order[r + 1 :]:
            similar = outcome.standalone.get(k, 0.0) >= 0.5 * outcome.standalone.get(i, 0.0)
            if status[k] == "unlikely" and similar and twins(fits[i], fits[k]):
                alternatives.setdefault(i, []).append(k)
    # observed peaks still unexplained after each candidate and all ranked above it
    explained = np.zeros(obs_h.size)
    extra: dict[int, np.ndarray] = {}
    for i in order:
        f = fits[i]
        m = f.match >= 0
        np.add.at(explained, f.match[m], f.predicted[m])
        extra[i] = np.flatnonzero(INTENSITY_SLACK * explained < 0.5 * obs_h)
    candidates: list[Candidate] = []
    for rank, i in enumerate(order, start=1):
        f = fits[i]
        others = [fits[k] for k in plausible if k != i]
        uniq = _unique_mask(f, others)
        matched, missing, unique = _peak_matches(f, uniq, obs_pos, obs_h, obs_sig)
        candidates.append(
            Candidate(
                id=f.phase.id,
                formula=f.formula,
                score=outcome.score[i],
                rank=rank,
                status=status[i],
                lattice_scale=f.scale if lattice else None,
                matched=tuple(matched),
                missing=tuple(missing),
                extra=tuple(float(obs_pos[j]) for j in extra[i]),
                unique=tuple(unique),
                standalone_score=outcome.standalone.get(i),
                coverage=f.coverage,
                alternatives=tuple(fits[k].phase.id for k in alternatives.get(i, [])),
                role=f.phase.role,
                reason=f.reason,
            )
        )
    for f in fits:
        if not f.testable:
            candidates.append(
                Candidate(
                    id=f.phase.id,
                    formula=f.formula,
                    score=None,
                    rank=None,
                    status="not testable",
                    role=f.phase.role,
                    reason=f.reason,
                )
            )
    explained_by_plausible = set()
    for i in plausible:
        m = fits[i].match
        explained_by_plausible.update(int(j) for j in m[m >= 0])
    unexplained = tuple(float(obs_pos[j]) for j in range(obs_pos.size) if j not in explained_by_plausible)
    return Ranking(
        file=_label(search.scan),
        technique=search.scan.kind,
        candidates=tuple(candidates),
        search=search,
        displacement_deg=shift,
        unexplained=unexplained,
        config=config,
    )


def _peak_matches(
    f: _Fit, uniq: np.ndarray, obs_pos: np.ndarray, obs_h: np.ndarray, obs_sig: np.ndarray
) -> tuple[list[PeakMatch], list[PeakMatch], list[PeakMatch]]:
    """Matched, missing and unique expected peaks of a fit as :class:`PeakMatch` rows."""
    idx = np.flatnonzero((f.match >= 0) | f.missing)
    pos, pred = f.positions[idx].tolist(), f.predicted[idx].tolist()
    js, uq = f.match[idx].tolist(), uniq[idx].tolist()
    hkl = f.hkl[idx].tolist() if f.hkl is not None else None
    members = f.members[idx].tolist() if f.members is not None else None
    d = f.d[idx].tolist() if f.d is not None else None
    matched, missing, unique = [], [], []
    for n, k in enumerate(idx.tolist()):
        if hkl is not None:
            h = tuple(hkl[n])
            more = f" +{members[n] - 1}" if members is not None and members[n] > 1 else ""
            label = f"({h[0]} {h[1]} {h[2]}){more}"
        else:
            h = None
            label = f.labels[k] if f.labels is not None else ""
        base = {
            "label": label,
            "expected": pos[n],
            "expected_height": pred[n],
            "hkl": h,
            "d": d[n] if d is not None else None,
        }
        j = js[n]
        if j >= 0:
            pm = PeakMatch(
                **base,
                observed=float(obs_pos[j]),
                observed_height=float(obs_h[j]),
                significance=float(obs_sig[j]),
                unique=bool(uq[n]),
            )
            matched.append(pm)
            if uq[n]:
                unique.append(pm)
        else:
            missing.append(PeakMatch(**base))
    return matched, missing, unique


def _unique_mask(f: _Fit, others: Sequence[_Fit]) -> np.ndarray:
    """Expected peaks of ``f`` with no detectable expected peak of another plausible candidate nearby."""
    uniq = np.ones(f.positions.size, dtype=bool)
    for o in others:
        if o.positions is None:
            continue
        visible = o.predicted >= 0.5 * o.noise
        if not np.any(visible):
            continue
        op = np.sort(o.positions[visible])
        _, dist = _nearest(op, f.positions)
        uniq &= dist > f.tol
    return uniq & (f.match >= 0)
