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
operations (:func:`align_all`), so scoring all candidates of a system takes a
few tens of milliseconds per scan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..library.crystallography import lorentz_polarisation
from ..library.phases import PhaseLibrary, ReferencePhase
from ..peaks.find import PeakSearch, search_peaks
from ..peaks.profiles import pseudo_voigt
from ..preprocess.axes import kalpha2_position
from ..scan import Scan
from .alignment import CLUSTER_FWHM, MIN_RELATIVE_HEIGHT, CandidateFit, Layout, align_all, match_quality, pad
from .candidates import select_candidates
from .ranking import EVIDENCE_SCALE, assemble
from .result import (
    MatchConfig,
    NoCandidatesError,
    NoPeaksError,
    Ranking,
    TechniqueMismatchError,
    scan_label,
)

__all__ = ["rank_candidates", "select_candidates"]
#: Lorentzian fraction assumed for expected peak shapes (lab instruments: 0.3–0.7).
ETA = 0.5
#: Grid step of the lattice-scale search as a fraction of the finest tolerance in scale units.
SCALE_STEP_FRACTION = 0.4
#: Most grid points of the lattice-scale search (bounds the cost for phases with large allowed strain).
MAX_SCALE_POINTS = 401
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
#: Identification needs at least one peak this significant (σ): a noise-only scan can show a maximum or
#: two just above the 3σ peak threshold, and matching them would rank phases by chance.
MIN_IDENTIFY_SIGMA = 5.0


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
        obs_padded=pad(np.asarray(prim.position)),
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


def _positions(
    exp: _Expected, ctx: _Context, scale: np.ndarray, shift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Expected apex and resolved Kα2 line positions (NaN: unresolved), shape ``scale.shape + (K,)``."""
    tt1 = _tt(np.multiply.outer(scale, exp.d), ctx.lam1)
    corr = shift * np.cos(np.radians(tt1) / 2.0) if shift else 0.0
    return tt1 + exp.offset + corr, tt1 + exp.second + corr


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
    _, q, _ = match_quality(ctx.obs_padded, pos, pos2, exp.tol[use] * widen)
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


def _refined_scale(fit: CandidateFit, exp: _Expected, ctx: _Context, shift: float) -> float | None:
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


def _layout(
    index: int, exp: _Expected, ctx: _Context, shift: float, scale: float, widen: float = 1.0
) -> Layout:
    pos, pos2 = _positions(exp, ctx, np.array(scale), shift)
    strain = float(exp.phase.strain)
    fit = CandidateFit(
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
    return Layout(fit, pos, pos2, exp.unit_height, exp.width, exp.tol * widen, inside)


def _evaluate_all(layouts: Sequence[Layout], ctx: _Context, config: MatchConfig) -> list[CandidateFit]:
    """Match many XRD alignments against the scan at once (see :func:`align_all`)."""
    return align_all(
        layouts,
        obs_pos=ctx.obs_pos,
        obs_h=ctx.obs_h,
        x=ctx.x,
        net=ctx.net,
        noise=ctx.noise,
        threshold=ctx.threshold,
        config=config,
    )


def _estimate_shift(
    fits: Sequence[CandidateFit], ctx: _Context, config: MatchConfig, base: float = 0.0
) -> float:
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


# =============================================================================== public API
def _check_technique(scan: Scan, technique: str | None) -> None:
    if technique is not None and technique != scan.kind:
        raise TechniqueMismatchError(
            f"{scan_label(scan)}: is {'an XRD pattern' if scan.kind == 'xrd' else 'a Raman spectrum'}, "
            f"but {technique!r} was asked for"
        )
    lo, hi = scan.x_range
    if scan.kind == "xrd":
        if scan.meta.radiation is None:
            raise TechniqueMismatchError(f"{scan_label(scan)}: XRD scan without a wavelength; give the anode")
        if lo < 0 or hi > 180:
            raise TechniqueMismatchError(
                f"{scan_label(scan)}: x runs from {lo:g} to {hi:g}, which is not a 2θ range in degrees "
                "(a Raman spectrum read as XRD?)"
            )


def _no_peaks_message(search: PeakSearch) -> str:
    prim = search.peaks.primary()
    if len(prim):
        return (
            f"{scan_label(search.scan)}: no significant peak: the strongest of {len(prim)} maxima stands "
            f"{float(np.max(prim.significance)):.1f}σ above the local noise, and identification needs one "
            f"of at least {max(MIN_IDENTIFY_SIGMA, search.config.prominence):g}σ; nothing to identify"
        )
    net = search.smoothed
    best = float(np.max(net / search.noise)) if net.size else 0.0
    return (
        f"{scan_label(search.scan)}: no peak stands out by {search.config.prominence:g}σ of the local noise "
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
            f"{scan_label(search.scan)}: none of the {len(chosen)} candidate phases has a reflection in "
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
        best_per_phase: dict[int, CandidateFit] = {}
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
                CandidateFit(
                    index=i,
                    phase=p,
                    formula=library.reflections(p, wavelength=ctx.lam1).formula,
                    testable=False,
                    reason=f"no reflection in 2θ {ctx.lo:g}–{ctx.hi:g}°",
                )
            )
    return assemble(search, fits, ctx.obs_pos, ctx.obs_h, ctx.obs_sig, preferred, config, shift)
