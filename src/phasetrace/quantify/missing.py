"""The missing-reflection test: a phase is only there if its own strong reflections are.

A whole-pattern fit weighs a phase by all its reflections at once. When the sample
holds a phase the library lacks (rutile, tenorite, a crucible reaction product),
the nearest library phase can strain its cell onto one or two of the outsider's
peaks and gain enough χ² to be "detected" (Mn3O4 or MnO on rutile's 110, a
tetragonal garnet on a shoulder), while its other strong reflections, predicted
at the refined cell, stand where the data show nothing. A careful analyst rejects
such a phase: a reflection that must be there is not.

For each reflection group of the phase (Kα1 positions at the refined cell,
groups closer than :data:`GROUP_DEG` merged), the phase's own fitted curve is
fitted locally (± :data:`CORE_DEG` about its maximum, which follows zero shift and
displacement) to the data less the background and the other phases as fitted:
a local amplitude ``a`` against the whole-pattern one ``s``, with its standard
error ``σ`` (scaled by the goodness of fit). Two ways to fail:

* **A stranger's peaks**: groups where the data show far more than the phase
  predicts (``a > EXCESS_RATIO × s`` by :data:`MISSING_SIGMA` standard errors:
  the phase explains a sliver of someone else's peak; tenorite's 35.5° under
  LiOH's 110) are masked, and the phase's scale refitted linearly on the rest of
  the pattern. If it is no longer significant (``sigma_needed``: the
  selection's bar), the detection rested on those peaks.
* **Missing reflections**: the :data:`CARRIERS` groups that carry most of the
  evidence (and show the phase) are set aside: they may be a stranger's peaks
  the cell was strained onto. The remaining groups are pooled (the other
  phases' profile misfit under some of them averages out). If the phase would stand :data:`TEST_SIGMA`
  there and the pooled amplitude is below ``MISSING_RATIO × s`` by
  :data:`MISSING_SIGMA` standard errors, its own reflections are missing.

A third test (:func:`misfit_borne`, for a phase just added) asks whether the phase stands on other
phases' profile misfit. A group whose fitted peak is lower than :data:`UNEXPLAINED_RATIO` of another
phase's calculated intensity within :data:`MISFIT_REACH` stands where the residual reading would take a
residual peak for that reflection's misfit (on the measured CPD scans, the low-angle shoulders of the
strong reflections, 2-3 % of their height 0.1-0.2° below them, which the profile model does not
describe). Such a misfit is systematic: it recurs beside every reflection of the phase in proportion to
its height, so it is measured beside the phase's other reflections, and in the candidate's window it
may take over what it explains, beside a straight local background (the excess under a neighbour's
flank). If the candidate is then below ``sigma_needed``, it was detected on its neighbours' misfit
(MgO at 0.4 wt % in the CPD mixtures, on the flanks of corundum 113 and zincite 103, 35 and 130 times
higher, its other reflections showing nothing). A real phase's peak stands at
its own positions only, beside one reflection of the neighbour and not the others: it keeps its
evidence (MgO at 0.45 wt % simulated at the same place is found).

A real phase shows its reflections in proportion (texture and structure-factor
errors move intensities by tens of per cent, not to nothing or to thirty times
the prediction). A phase that fails is left out, and the peaks it had absorbed
are left to the residual reading (:mod:`phasetrace.quantify.residual`), which
lists them as unexplained. The thresholds are statistical (standard errors) or
structural (an intensity ratio), not tuned to a data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from .core import normal_lstsq
from .fit import FitState
from .residual import MISFIT_REACH, UNEXPLAINED_RATIO, misfit_gof2, perpendicular_fit

__all__ = [
    "MissingReflections",
    "broad_resolved_significance",
    "misfit_borne",
    "missing_reflections",
    "resolved_significance",
    "sample_fwhm",
]

#: Reflections of the phase closer than this (degrees 2θ, Kα1) are one group.
GROUP_DEG = 0.08
#: Half-width (degrees) of the peak core in which a group's local amplitude is fitted.
CORE_DEG = 0.10
#: A group is missing when its local amplitude is below this fraction of the fitted one ...
MISSING_RATIO = 0.3
#: ... by at least this many standard errors.
MISSING_SIGMA = 4.0
#: The pooled groups are tested when the fitted phase would stand this many standard errors there: as
#: soon as the test can be decisive (a deficit of MISSING_SIGMA needs that much signal). A higher gate let a
#: detection that rests on one reflection group alone pass untested (LaMnO3 at 0.2 wt %, strained onto a
#: tenorite peak at 32.5 deg, its other predicted reflections 4.3 standard errors in all, and absent).
TEST_SIGMA = MISSING_SIGMA
#: Reflection groups that carry the most evidence (set aside: they may be a stranger's peaks).
CARRIERS = 2
#: A group whose local amplitude exceeds this multiple of the fitted one is a stranger's peak.
EXCESS_RATIO = 3.0


@dataclass(frozen=True)
class MissingReflections:
    """The verdict of the missing-reflection test for one phase.

    Attributes
    ----------
    share : float
        How much of the fitted amount the phase's own reflections lack, beyond those carrying
        the detection: 1 - a / s (0 when nothing is testable).
    missing : tuple of float
        2θ (Kα1, degrees) of reflection groups below ``MISSING_RATIO`` of the fit, most informative first.
    tested : int
        Number of groups pooled.
    fails : bool
        Whether the phase's own reflections are missing.
    strangers : tuple of float
        2θ of peaks far stronger than the phase predicts there, on which alone it was detected.
    unresolved : bool
        Whether the phase fails because its reflections are broad (:data:`BROAD_FWHM_DEG`) and none
        is resolved from a local straight background (:func:`broad_resolved_significance`).
    misfit : tuple of float
        2θ of its reflection groups in the misfit zone of a much higher reflection of another phase,
        when the phase fails because it is not significant without what that misfit can carry.
    """

    share: float
    missing: tuple[float, ...] = ()
    tested: int = 0
    fails: bool = False
    strangers: tuple[float, ...] = ()
    unresolved: bool = False
    misfit: tuple[float, ...] = ()


def missing_reflections(
    state: FitState, index: int, wavelength: float, sigma_needed: float = 3.0
) -> MissingReflections:
    """Test whether phase ``index`` of a fitted model shows its strong reflections.

    Parameters
    ----------
    state : FitState
        A fitted model (the phase with a positive scale).
    index : int
        The phase's column.
    wavelength : float
        Kα1 wavelength (Å).
    sigma_needed : float
        Significance a detection needs (``QuantConfig.detection_sigma``).

    Returns
    -------
    MissingReflections
    """
    s = float(state.scales[index])
    col = state.columns[:, index]
    if s <= 0 or not np.any(col > 0):
        return MissingReflections(0.0)
    x = state.x
    mine = col * s
    bragg = state.ycalc - state.background
    rest = state.y - state.background - (bragg - mine)
    # the standard errors scale with the misfit of the modelled reflections: a stranger's unexplained
    # peaks would otherwise blunt the test exactly where it is needed
    gof2 = misfit_gof2(
        x, state.y, state.ycalc, state.background, state.weights, state.n_params, state.columns * state.scales
    )
    rows: list[tuple[float, float, float]] = []  # (numerator c·w·r, information c·w·c, 2θ) per own group
    strangers: list[tuple[float, float, float]] = []
    for j in _group_maxima(state, index, wavelength):
        near = np.abs(x - x[j]) <= CORE_DEG
        c, w = col[near], state.weights[near]
        info = float(c @ (w * c))
        if info <= 0:
            continue
        num = float(c @ (w * rest[near]))
        # a peak far stronger than the phase predicts there is a stranger's, the phase explains a
        # sliver of it (under another phase's peak too: then it is that phase's misfit)
        if num / info > EXCESS_RATIO * s and (num / info - s) * np.sqrt(info / gof2) >= MISSING_SIGMA:
            strangers.append((num, info, float(x[j])))
            continue
        rows.append((num, info, float(x[j])))
    # without the strangers' peaks, does the whole pattern still show the phase?
    if strangers:
        t_rest = _significance_without(state, index, [r[2] for r in strangers], gof2)
        if t_rest < sigma_needed:
            return MissingReflections(
                share=1.0,
                missing=(),
                tested=len(rows),
                fails=True,
                strangers=tuple(round(r[2], 3) for r in strangers),
            )
    # the groups that carry the detection (a stranger's peak the phase was strained onto) are set aside;
    # the phase's remaining own reflections, pooled, must show it in proportion
    rows.sort(key=lambda r: -r[0])
    shown = [r for r in rows if r[0] / r[1] >= MISSING_RATIO * s]
    keep = [r for r in rows if r not in shown[:CARRIERS]]
    info_sum = sum(r[1] for r in keep)
    if info_sum <= 0:
        return MissingReflections(0.0, tested=0)
    sigma = float(np.sqrt(gof2 / info_sum))
    if s / sigma < TEST_SIGMA:
        return MissingReflections(0.0, tested=len(keep))
    a = sum(r[0] for r in keep) / info_sum
    deficit = (s - a) / sigma
    missing = tuple(
        round(t, 3) for num, info, t in sorted(keep, key=lambda r: -r[1]) if num / info < MISSING_RATIO * s
    )
    share = 1.0 - max(a, 0.0) / s
    fails = a < MISSING_RATIO * s and deficit >= MISSING_SIGMA
    return MissingReflections(share=float(share), missing=missing[:6], tested=len(keep), fails=fails)


def _group_maxima(state: FitState, index: int, wavelength: float) -> list[int]:
    """Where phase ``index``'s fitted curve peaks in each of its reflection groups (indices into ``x``).

    Reflections at the refined cell (Kα1) closer than :data:`GROUP_DEG` are one group; its curve's
    maximum within ±:data:`CORE_DEG` follows zero shift and displacement.
    """
    x = state.x
    mine = state.columns[:, index]
    m, p = state.models[index], state.per_phase[index]
    d = np.asarray(m.d_spacings(p["cell"], p["scale"]), float)
    arg = wavelength / (2.0 * d)
    ok = arg < 1.0
    tt = np.sort(2.0 * np.degrees(np.arcsin(arg[ok])))
    tt = tt[(tt > x[0] + CORE_DEG) & (tt < x[-1] - CORE_DEG)]
    groups: list[list[float]] = []
    for t in tt:
        if groups and t - groups[-1][-1] <= GROUP_DEG:
            groups[-1].append(float(t))
        else:
            groups.append([float(t)])
    out = []
    for g in groups:
        win = (x >= g[0] - CORE_DEG) & (x <= g[-1] + CORE_DEG)
        if win.any():
            out.append(int(np.flatnonzero(win)[np.argmax(mine[win])]))
    return out


def misfit_borne(
    state: FitState, index: int, wavelength: float, sigma_needed: float = 3.0
) -> MissingReflections:
    """Test whether phase ``index`` of a fitted model was detected on other phases' profile misfit.

    Its reflection groups whose fitted peak is lower than :data:`UNEXPLAINED_RATIO` of another phase's
    calculated intensity within :data:`MISFIT_REACH` stand where the residual reading takes a residual
    peak for that reflection's misfit. There, in windows of ±:data:`MISFIT_REACH`, each other phase's
    systematic misfit, as measured beside its own other reflections (:func:`_misfit_template`), gets a
    free amplitude; the rest of the pattern is refitted linearly without the windows. The phase fails
    when, so counted, it is not significant (``sigma_needed``). Parameters as for
    :func:`missing_reflections`.

    Returns
    -------
    MissingReflections
        ``misfit`` lists the groups in other reflections' misfit zones (empty when there are none).
    """
    s = float(state.scales[index])
    if s <= 0 or not np.any(state.columns[:, index] > 0):
        return MissingReflections(0.0)
    x = state.x
    curves = state.columns * state.scales
    mine = curves[:, index]
    # the other phases' highest calculated intensity within MISFIT_REACH of each point
    others_near = maximum_filter1d(np.sum(curves, axis=1) - mine, size=2 * _reach_points(x) + 1)
    maxima = _group_maxima(state, index, wavelength)
    zones = [float(x[j]) for j in maxima if mine[j] < UNEXPLAINED_RATIO * others_near[j]]
    if not zones:
        return MissingReflections(0.0, tested=len(maxima))
    gof2 = misfit_gof2(x, state.y, state.ycalc, state.background, state.weights, state.n_params, curves)
    t_own, a_own = _significance_beside_misfit(state, index, zones, gof2, wavelength)
    return MissingReflections(
        share=float(1.0 - max(a_own, 0.0) / s),
        tested=len(maxima),
        fails=t_own < sigma_needed,
        misfit=tuple(round(t, 3) for t in zones),
    )


def _significance_without(state: FitState, index: int, centres: list[float], gof2: float) -> float:
    """Significance of phase ``index`` refitted without the cores of the given peaks.

    A linear refit of the background, the other phases' and the phase's scales (their profiles as
    fitted); the standard error is scaled by the goodness of fit.
    """
    keep = np.ones(state.x.size, dtype=bool)
    for c in centres:
        keep &= np.abs(state.x - c) > 2 * CORE_DEG
    num, info = _refit_terms(state, index, keep)
    return float(num / np.sqrt(info * gof2)) if info > 0 else 0.0


def _refit_terms(state: FitState, index: int, keep: np.ndarray) -> tuple[float, float]:
    """Phase ``index``'s scale refitted linearly on the points ``keep``: (amplitude × info, info).

    Background and the other phases' scales are refitted with it (their profiles as fitted); the
    information is the inverse of the scale's variance before GoF scaling (0 when undetermined).
    """
    from .model import chebyshev_basis

    x = state.x
    others = [j for j in range(state.columns.shape[1]) if j != index and state.scales[j] > 0]
    a = np.column_stack(
        [chebyshev_basis(x, len(state.bg_coef)), state.columns[:, others], state.columns[:, index]]
    )
    sw = np.sqrt(state.weights)[keep]
    a = a[keep] * sw[:, None]
    coef, inv_diag = normal_lstsq(a, state.y[keep] * sw)
    if not inv_diag[-1] > 0:
        return 0.0, 0.0
    info = 1.0 / float(inv_diag[-1])
    return float(coef[-1]) * info, info


def _significance_beside_misfit(
    state: FitState, index: int, zones: list[float], gof2: float, wavelength: float
) -> tuple[float, float]:
    """Significance and amplitude of phase ``index`` with its neighbours' profile misfit free about ``zones``.

    In a window of ±:data:`MISFIT_REACH` about each of the given 2θ, every other phase whose measured
    misfit (:func:`_misfit_template`) stands :data:`NEIGHBOUR_SIGMA` there gets it with a free amplitude,
    beside a straight background, on the data less the phases as fitted; the phase's amplitude is fitted
    with them. Outside the windows the phase's scale is refitted linearly with the background and the
    other phases. The two are combined by their information (disjoint points).
    """
    x = state.x
    curves = state.columns * state.scales
    mine = curves[:, index]
    reach = _reach_points(x)
    own = np.array([x[j] for j in _group_maxima(state, index, wavelength)])
    templates = [
        t
        for q in range(curves.shape[1])
        if q != index and state.scales[q] > 0
        and (t := _misfit_template(state, q, wavelength, own, reach)) is not None
    ]
    windows = _merged_windows(np.sort(np.asarray(zones, float)), MISFIT_REACH)
    rest = state.y - state.background - (np.sum(curves, axis=1) - mine)
    nuisance = np.column_stack(templates) if templates else np.zeros((x.size, 0))
    num, info = _window_terms(x, rest, state.weights, nuisance, state.columns[:, index], windows)
    keep = np.ones(x.size, dtype=bool)
    for lo, hi in windows:
        keep &= (x < lo) | (x > hi)
    num_r, info_r = _refit_terms(state, index, keep)
    num, info = num + num_r, info + info_r
    if info <= 0:
        return 0.0, 0.0
    return float(num / np.sqrt(info * gof2)), float(num / info)


def _reach_points(x: np.ndarray) -> int:
    """:data:`MISFIT_REACH` in points of the scan's step."""
    return max(1, int(round(MISFIT_REACH / max(float(np.median(np.diff(x))), 1e-9))))


def _misfit_template(
    state: FitState, q: int, wavelength: float, exclude: np.ndarray, reach: int
) -> np.ndarray | None:
    """Phase ``q``'s systematic profile misfit, measured at its reflections, as a curve over the scan.

    The residual (data less the fitted model) within ±``reach`` points of each of the phase's reflection
    groups is modelled as the group's fitted height times one shape T(offset), fitted by weighted least
    squares over the groups that show only this phase's misfit: no other phase within
    :data:`MISFIT_REACH` at :data:`UNEXPLAINED_RATIO` of its height, no candidate reflection (``exclude``,
    2θ) within :data:`MISFIT_REACH`. An unmodelled shoulder, tail or asymmetry recurs beside every
    reflection of the phase in proportion to its height; a peak of another phase does not. The curve is
    Σ height × T(2θ - position) over all the phase's groups; None when fewer than two groups measure it.
    """
    x, w = state.x, state.weights
    curves = state.columns * state.scales
    height_of = curves[:, q]
    maxima = _group_maxima(state, q, wavelength)
    others_near = maximum_filter1d(np.sum(curves, axis=1) - height_of, size=2 * reach + 1)
    r = state.y - state.ycalc
    num = np.zeros(2 * reach + 1)
    den = np.zeros(2 * reach + 1)
    used = 0
    for j in maxima:
        h = height_of[j]
        if j < reach or j + reach >= x.size or h <= 0 or others_near[j] >= UNEXPLAINED_RATIO * h:
            continue
        if exclude.size and float(np.min(np.abs(exclude - x[j]))) <= MISFIT_REACH:
            continue
        part = slice(j - reach, j + reach + 1)
        num += w[part] * h * r[part]
        den += w[part] * h * h
        used += 1
    if used < 2:
        return None
    shape = num / den
    out = np.zeros(x.size)
    for j in maxima:
        lo, hi = max(0, j - reach), min(x.size, j + reach + 1)
        out[lo:hi] += height_of[j] * shape[lo - (j - reach) : hi - (j - reach)]
    return out


#: Half-width (degrees 2θ) of the window about a candidate's reflection in which it is tested against
#: its neighbours' peaks (three lab peak widths: the neighbours' flanks are in it).
RESOLVE_DEG = 0.30
#: A neighbour's peak is modelled freely in a window when it stands this many standard errors there.
NEIGHBOUR_SIGMA = 3.0


def resolved_significance(
    x: np.ndarray,
    rest: np.ndarray,
    weights: np.ndarray,
    others: np.ndarray,
    col: np.ndarray,
    centres: np.ndarray,
    gof2: float,
    half: float = RESOLVE_DEG,
) -> float:
    """Significance of a candidate's reflections that its neighbours' peaks cannot take over.

    The unique-evidence test only counts points where the candidate dominates the calculated
    pattern; a phase whose strong lines sit on the flanks of major reflections (Li2O at 5.7 wt %
    beside a garnet: 33.7° and 56.5° next to much stronger peaks) never dominates and is never
    found, although a careful analyst sees its peaks. Here, in a window of ±:data:`RESOLVE_DEG` about
    each reflection, every neighbouring phase that stands there gets a free local amplitude (the
    misfit a whole-pattern fit cannot refine away: texture and structure-factor errors move single
    reflections by tens of per cent, while positions and widths are tied to all reflections of the
    phase), beside a linear background; the candidate's amplitude is fitted with them. The
    windows' amplitudes are combined by their information. A candidate on top of a neighbour's
    reflection gains nothing (its column is collinear with the free amplitude: no information);
    one beside it, resolved, keeps its evidence.

    Parameters
    ----------
    x, rest, weights : ndarray, shape (N,)
        2θ, the data less the fitted background, and the fit's weights.
    others : ndarray, shape (N, m)
        The other phases' fitted curves (scaled).
    col : ndarray, shape (N,)
        The candidate's column (any scale).
    centres : ndarray
        2θ of the candidate's reflections to test.
    gof2 : float
        Squared goodness of fit scaling the standard errors.
    half : float
        Half-width of the windows (degrees 2θ).

    Returns
    -------
    float
        The combined amplitude over its standard error (0 when nothing is testable).
    """
    windows = _merged_windows(np.sort(np.asarray(centres, float)), half)
    num_sum, info_sum = _window_terms(x, rest, weights, others, col, windows)
    if info_sum <= 0:
        return 0.0
    return float(num_sum / np.sqrt(info_sum * max(gof2, 1.0)))


def _window_terms(
    x: np.ndarray,
    rest: np.ndarray,
    weights: np.ndarray,
    others: np.ndarray,
    col: np.ndarray,
    windows: list[tuple[float, float]],
) -> tuple[float, float]:
    """A candidate's amplitude terms (Σ c⊥ᵀWr, Σ c⊥ᵀWc⊥) over windows, nuisance curves free.

    In each window a straight background and every column of ``others`` (the neighbours' peaks, or
    their measured misfit) standing :data:`NEIGHBOUR_SIGMA` there get free amplitudes.
    """
    num_sum = info_sum = 0.0
    for lo, hi in windows:
        win = (x >= lo) & (x <= hi)
        if win.sum() < 8 or not np.any(col[win] > 0):
            continue
        xw, w = x[win], weights[win]
        cols = [np.ones(xw.size), (xw - xw.mean()) / max(hi - lo, 1e-9)]
        for j in range(others.shape[1]):
            c = others[win, j]
            if float(np.sqrt(c @ (w * c))) < NEIGHBOUR_SIGMA:
                continue
            cols.append(c)
        num, info = perpendicular_fit(np.column_stack(cols), col[win], rest[win], w)
        # information-weighted combination of the windows' amplitudes (num / info each, weight info)
        num_sum += num
        info_sum += info
    return num_sum, info_sum


#: Sample broadening (FWHM, degrees 2θ: size and strain terms in quadrature, at the phase's strongest
#: reflection) from which a phase's reflections are as broad as the bumps that a smooth background and the
#: other phases' profile misfit leave (on a real Mn2O3 scan: 1-2° wide Li2MnO3, MnO, LiOH, "found" at
#: 2-11 wt % with no peak of their own, their widths at or near the broadening limit
#: :data:`~phasetrace.quantify.fit.MAX_SIZE_TERM`). Nanocrystalline products of 20-30 nm (0.3-0.45°
#: in Cu Kα) are below it and tested as before.
BROAD_FWHM_DEG = 0.5


def sample_fwhm(state: FitState, index: int, wavelength: float) -> float:
    """The sample broadening (FWHM, degrees 2θ) of phase ``index`` at its strongest reflection."""
    m, p = state.models[index], state.per_phase[index]
    d = np.asarray(m.d_spacings(p["cell"], p["scale"]), float)
    arg = wavelength / (2.0 * d)
    ok = arg < 1.0
    if not ok.any():
        return 0.0
    theta = np.arcsin(arg[ok][np.argmax(np.asarray(m.mf2, float)[ok])])
    size, strain = float(p.get("size", 0.0)), float(p.get("strain", 0.0))
    return float(np.hypot(size / np.cos(theta), strain * np.tan(theta)))


def broad_resolved_significance(state: FitState, index: int, wavelength: float) -> float:
    """:func:`resolved_significance` of a broad phase of a fitted model (inf for one that is not broad).

    A whole-pattern fit lets a phase's size and strain terms broaden its reflections up to the
    bounds; a phase broadened to ~1° fills the slow bumps between the Chebyshev background and the
    data (the tail of an amorphous hump, the flanks of the other phases' peaks) and gains χ² there
    with no peak of its own. Its scale is then significant, but what it measures is the smooth misfit.
    A phase broader than :data:`BROAD_FWHM_DEG` is only there if some of its reflections (carrying
    at least 3 % of its strongest, inside the scan) are resolved from a straight local background
    and the neighbouring peaks' free amplitudes (:func:`resolved_significance`, at its fitted
    profile, on the data less the fitted background).
    """
    fwhm = sample_fwhm(state, index, wavelength)
    if fwhm < BROAD_FWHM_DEG:
        return float("inf")
    x = state.x
    m, p = state.models[index], state.per_phase[index]
    d = np.asarray(m.d_spacings(p["cell"], p["scale"]), float)
    arg = wavelength / (2.0 * d)
    ok = arg < 1.0
    tt = 2.0 * np.degrees(np.arcsin(arg[ok]))
    weight = np.asarray(m.mf2, float)[ok] / max(float(np.max(m.mf2)), 1e-300)
    centres = np.sort(tt[(weight >= BROAD_MIN_INTENSITY) & (tt > x[0]) & (tt < x[-1])])
    curves = state.columns * state.scales
    gof2 = misfit_gof2(x, state.y, state.ycalc, state.background, state.weights, state.n_params, curves)
    others = np.delete(curves, index, axis=1)
    rest = state.y - state.background
    return resolved_significance(
        x, rest, state.weights, others, state.columns[:, index], centres, gof2, max(RESOLVE_DEG, fwhm / 2)
    )


#: Reflections of a broad phase tested for resolution: those carrying this fraction of its strongest.
BROAD_MIN_INTENSITY = 0.03


def _merged_windows(centres: np.ndarray, half: float) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for c in centres:
        if out and c - half <= out[-1][1]:
            out[-1][1] = c + half
        else:
            out.append([c - half, c + half])
    return [(a, b) for a, b in out]

