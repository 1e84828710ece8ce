"""``quantify(scan, phases, config)``: fit, weight fractions, detection limits, and phase-set selection."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import PhasetraceError
from ..library.crystallography import cell_volume
from ..library.phases import PhaseLibrary
from ..scan import Scan
from ..timing import stage
from .core import single_blas_thread
from .fit import FitState, QuantConfig, fit_pattern, refine_sample_terms
from .instrument import metadata_instrument
from .limits import candidate_lod_scale
from .missing import broad_resolved_significance, missing_reflections
from .model import chebyshev_basis
from .phase_models import phase_models, start_from
from .result import PhaseResult, QuantResult
from .resume import resume_second_stage, second_stage_terms
from .sample_terms import cell_with_esd

__all__ = ["FitError", "quantify"]

#: Size broadening (degrees at cos θ = 1) is converted to a crystallite size with Scherrer's K.
SCHERRER_K = 0.9

#: Scans with fewer points, or whose strongest point stands less than this many standard errors
#: above a smooth background, have nothing a whole-pattern fit could use (pure Poisson noise over
#: ten thousand points reaches about 4.5 σ).
MIN_POINTS = 200
MIN_SIGNAL_SIGMA = 6.0


class FitError(PhasetraceError, ValueError):
    """The fit cannot be done (no peaks, no phases, wrong technique)."""


def _check_scan(scan: Scan) -> None:
    where = scan.meta.source_path or scan.meta.sample or "scan"
    if scan.kind != "xrd":
        raise FitError(f"{where}: whole-pattern fitting needs an XRD scan, this is {scan.kind}")
    if len(scan) < MIN_POINTS:
        raise FitError(f"{where}: {len(scan)} points are too few for a whole-pattern fit")
    from .fit import LinearSolver
    x, y = np.asarray(scan.x), np.asarray(scan.y)
    sigma = np.sqrt(np.maximum(y, 1.0)) if scan.sigma is None else np.maximum(np.asarray(scan.sigma), 1e-12)
    _, _, smooth = LinearSolver(chebyshev_basis(x, 10), y, 1.0 / sigma)(np.zeros((x.size, 0)))
    if np.max((y - smooth) / sigma) < MIN_SIGNAL_SIGMA:
        raise FitError(f"{where}: the scan has no peaks above its noise; nothing to fit")


def _results(
    scan: Scan,
    library: PhaseLibrary,
    state: FitState,
    config: QuantConfig,
    tested: Sequence[str],
    alternatives: Mapping[str, Sequence[str]],
    unconfirmed: Collection[str] = (),
    sigma_needed: float | None = None,
) -> list[PhaseResult]:
    rad = scan.meta.radiation
    n_sig = config.detection_sigma
    zmv = []
    for m, p in zip(state.models, state.per_phase, strict=True):
        cell = p["cell"] if p["cell"] is not None else np.r_[m.refl.cell[:3] * p["scale"], m.refl.cell[3:]]
        zmv.append(m.refl.cell_mass * cell_volume(cell))
    zmv = np.array(zmv)
    mass = state.scales * zmv
    total = float(mass.sum())
    tau = np.ones(len(state.models))
    if config.brindley_um:
        tau = np.array(
            [
                _brindley_tau(library, m.id, config.brindley_um.get(m.id), rad.kalpha1, state, zmv)
                for m in state.models
            ]
        )
        mass = mass / tau
        total = float(mass.sum())
    out: list[PhaseResult] = []
    sig = state.sigma_scales if state.sigma_scales is not None else np.full(len(state.models), np.nan)
    cov = state.cov_scales
    for i, (m, p) in enumerate(zip(state.models, state.per_phase, strict=True)):
        wt = 100.0 * mass[i] / total if total > 0 else 0.0
        # esd of W_i = S_i Z_i / Σ S_j Z_j from the scale covariance
        if cov is not None and total > 0:
            grad = -mass[i] * zmv / total**2
            grad[i] += zmv[i] / total
            var = float(grad @ cov @ grad)
            esd = 100.0 * np.sqrt(max(var, 0.0))
        else:
            esd = float("nan")
        s_lod = n_sig * sig[i]
        # detected when the scale factor stands above its own 3σ limit
        detected = bool(state.scales[i] > s_lod) and m.id not in unconfirmed
        # the limit's mass as the phase's own (microabsorption-corrected like it), beside the rest
        m_lod = s_lod * zmv[i] / tau[i]
        lod = 100.0 * m_lod / (total - mass[i] + m_lod) if total > 0 else float("nan")
        if detected:
            # a detected phase was found at its amount with its own standard error, so its limit is no
            # higher than that; nor higher than an absent candidate's in this scan, which is the limit
            # that means something for a major phase (its own 3σ over a small rest is not one)
            # (alone in the model it has none: NaN)
            matrix_lod = _matrix_lod(scan, state, config, i, mass, tau, sigma_needed)
            lod = min(lod, matrix_lod) if np.isfinite(matrix_lod) else matrix_lod
        cells = cell_with_esd(state, i)
        at_limit = _phase_at_limit(state, m.id)
        size = p.get("size", 0.0)
        # size term: FWHM (degrees) = size / cos θ  ->  Scherrer L = K λ / (size in radians), Å -> nm
        size_nm = float(SCHERRER_K * rad.kalpha1 / np.radians(size) / 10.0) if size and size > 1e-4 else None
        out.append(
            PhaseResult(
                id=m.id,
                formula=m.refl.formula,
                wt_percent=float(wt) if detected else 0.0,
                esd=float(esd) if detected else 0.0,
                lod_wt_percent=float(lod),
                detected=detected,
                in_model=True,
                cell=cells["cell"],
                cell_scale=float(p["scale"]),
                cell_esd=cells["cell_esd"],
                volume=cells["volume"],
                volume_esd=cells["volume_esd"],
                c_over_a=cells["c_over_a"],
                c_over_a_esd=cells["c_over_a_esd"],
                cell_refinement=cells["cell_refinement"],
                size_nm=size_nm,
                texture_r=float(p["texture"]) if m.texture_axis is not None else None,
                texture_axis=tuple(int(v) for v in m.texture_axis) if m.texture_axis is not None else None,
                b_iso=float(m.refl.b_iso + p.get("b", 0.0)) if np.isfinite(m.refl.b_iso) else None,
                scale_factor=float(state.scales[i]),
                scale_sigma=float(sig[i]),
                alternatives=tuple(alternatives.get(m.id, ())),
                role=library[m.id].role,
                at_limit=at_limit,
            )
        )
    # renormalise the detected phases (undetected ones are reported as < LoD, not as a share)
    det_total = sum(r.wt_percent for r in out if r.detected)
    if det_total > 0:
        out = [
            replace(r, wt_percent=100.0 * r.wt_percent / det_total, esd=100.0 * r.esd / det_total)
            if r.detected
            else r
            for r in out
        ]
    # candidates tested and not in the model: detection limits from their own columns
    from .selection import inseparable

    in_model = {m.id for m in state.models}
    detected_ids = [r.id for r in out if r.detected]
    for pid in tested:
        if pid in in_model:
            continue
        models, _, _ = phase_models(scan, library, [pid], config)
        if not models:
            continue
        m = models[0]
        # a twin of a detected phase whose reference cell coincides with it is not absent: the data cannot
        # tell the two apart, and its amount is in the detected one's. A limit computed beside that twin
        # (corundum "< 36 wt %" beside 56 wt % of the bundled Al2O3) means nothing. Twins with resolved
        # cells (tried side by side by the selection) and other alternatives keep their limits
        same_as = next(
            (a for a in alternatives.get(pid, ()) if a in detected_ids and inseparable(library, pid, a)), None
        )
        if same_as is not None:
            lod = float("nan")
        else:
            # as for the phase in the refined model, at the significance the procedure needs (limits.py)
            s_lod, _ = candidate_lod_scale(
                scan, state, m, config, sigma_needed=sigma_needed or n_sig, unique=sigma_needed is not None
            )
            zmv_p = m.refl.zmv
            lod = 100.0 * s_lod * zmv_p / (total + s_lod * zmv_p) if total > 0 else float("nan")
        out.append(
            PhaseResult(
                id=pid,
                formula=m.refl.formula,
                wt_percent=0.0,
                esd=0.0,
                lod_wt_percent=float(lod),
                detected=False,
                in_model=False,
                cell=dict(
                    zip(("a", "b", "c", "alpha", "beta", "gamma"), map(float, m.refl.cell), strict=True)
                ),
                cell_scale=1.0,
                alternatives=tuple(alternatives.get(pid, ())),
                role=library[pid].role,
                same_as=same_as,
            )
        )
    out.sort(key=lambda r: (not r.detected, not r.in_model, -r.wt_percent, r.lod_wt_percent))
    return out


#: Per-phase parameters (``FitState.names`` suffix) whose value at a bound is reported, by report label,
#: and which bound counts: a size or strain term at 0 is "no measurable broadening", a result; at its upper
#: bound it is the broadening limit. B, the cell scale and the texture ratio count at either bound.
_PHASE_LIMITS = {
    "b": ("B", "both"),
    "size": ("size", "upper"),
    "strain": ("strain", "upper"),
    "scale": ("cell", "both"),
    "cell_a": ("cell", "both"),
    "cell_b": ("cell", "both"),
    "cell_c": ("cell", "both"),
    "cell_α": ("cell", "both"),
    "cell_β": ("cell", "both"),
    "cell_γ": ("cell", "both"),
    "texture": ("texture", "both"),
}


def _phase_at_limit(state: FitState, pid: str) -> tuple[str, ...]:
    """Report labels of phase ``pid``'s refined terms that ended at a bound (see :data:`_PHASE_LIMITS`)."""
    out: list[str] = []
    for name, side in state.at_bounds:
        owner, _, key = name.partition(":")
        if owner != pid or key not in _PHASE_LIMITS:
            continue
        label, which = _PHASE_LIMITS[key]
        if which == "upper" and side != "upper":
            continue
        if label not in out:
            out.append(label)
    return tuple(out)


def _matrix_lod(
    scan: Scan,
    state: FitState,
    config: QuantConfig,
    i: int,
    mass: np.ndarray,
    tau: np.ndarray,
    sigma_needed: float | None,
) -> float:
    """Detection limit (wt %) of detected phase ``i`` in this sample, as an absent candidate's.

    The amount at which this phase would still be detected in this scan, beside the other phases
    as fitted and at the scan's noise: computed as for an absent candidate
    (:func:`~phasetrace.quantify.limits.candidate_lod_scale`, the same significance, against the
    model without it) and, like an absent candidate's, relative to the whole crystalline part,
    so that a phase's limits compare across the scans of a series whether it is detected in them or
    not. The 3σ of its own scale factor relative to the other phases' mass is no limit: that is the
    standard error of a major phase over a small rest (CPD-1A fluorite at 94.8 wt %: "LoD 15 %").
    NaN for a phase alone in the model: at any amount it is all of the crystalline part.
    """
    total = float(mass.sum())
    if total - mass[i] <= 0 or not np.isfinite(total):
        return float("nan")
    keep = [j for j in range(len(state.models)) if j != i]
    matrix = replace(
        state,
        columns=state.columns[:, keep],
        scales=state.scales[keep],
        models=[state.models[j] for j in keep],
        per_phase=[state.per_phase[j] for j in keep],
    )
    need = sigma_needed or config.detection_sigma
    s_lod, _ = candidate_lod_scale(
        scan, matrix, state.models[i], config, sigma_needed=need, unique=sigma_needed is not None
    )
    if not np.isfinite(s_lod):
        return float("nan")
    m_lod = s_lod * state.models[i].refl.zmv / tau[i]
    return float(100.0 * m_lod / (total + m_lod))


def _unreliable(results: list[PhaseResult], unexplained: float) -> list[PhaseResult]:
    """Weight fractions of a poor fit: a share of the part the model explains, marked unreliable.

    The unexplained peaks belong to something the model lacks; its amount is unknown, and the
    share of the diffracted intensity it carries is the only measure at hand. The detected phases'
    fractions are scaled by the share the model explains, and their standard errors widened by the
    change, so that no phase is stated at 100 % ± 0 from a pattern the fit does not explain.
    """
    keep = max(0.0, 1.0 - min(unexplained, 1.0))
    out = []
    for r in results:
        # limits are shares of the same whole, scaled alike
        lod = r.lod_wt_percent * keep
        if r.detected:
            wt = r.wt_percent * keep
            esd = float(np.hypot(r.esd, r.wt_percent - wt))
            r = replace(r, wt_percent=wt, esd=esd, lod_wt_percent=lod, reliable=False)
        else:
            r = replace(r, lod_wt_percent=lod, reliable=False)
        out.append(r)
    return out


#: Reflections of a phase within this many degrees 2θ are reported as one position.
EVIDENCE_MERGE = 0.05
#: Half-width (degrees) of the window around a reflection in which its height and significance are taken.
EVIDENCE_WINDOW = 0.10
#: Reflections weaker than this fraction of the phase's strongest peak are not listed as evidence.
EVIDENCE_MIN_HEIGHT = 0.03
#: ... nor reflections whose local significance is below this.
EVIDENCE_MIN_SIGMA = 3.0
#: At most this many reflections are listed.
EVIDENCE_MAX = 5


def _evidence(state: FitState, i: int, lam: float, bragg: np.ndarray) -> tuple[dict[str, Any], ...]:
    """The reflections that carry the detection of phase ``i`` of a fitted model, strongest first.

    At each of the phase's reflection positions (Kα1, refined cell; the fitted displacement is
    followed by taking the maximum of its curve within ±EVIDENCE_WINDOW), its fitted peak height is
    compared with the calculated Bragg intensity of all other phases there (``share``), and its
    local significance is the matched-filter signal-to-noise of its fitted curve over the window,
    sqrt(Σ c² w). The reflections it dominates with a local significance of at least
    EVIDENCE_MIN_SIGMA are listed; if there are none, its strongest ones (their share tells the
    reader that the detection rests on the whole-pattern fit).
    """
    x = state.x
    mine = state.columns[:, i] * state.scales[i]
    others = bragg - mine
    m, p = state.models[i], state.per_phase[i]
    d = m.d_spacings(p["cell"], p["scale"])
    arg = lam / (2.0 * d)
    ok = arg < 1.0
    tt = np.where(ok, 2.0 * np.degrees(np.arcsin(np.clip(arg, 0.0, 1.0))), np.inf)
    inside = ok & (tt >= x[0]) & (tt <= x[-1])
    if not inside.any() or mine.max() <= 0:
        return ()
    order = np.argsort(tt[inside])
    pos, hkl = tt[inside][order], m.hkl[inside][order]
    groups: list[list[int]] = []
    for k in range(pos.size):
        if groups and pos[k] - pos[groups[-1][0]] <= EVIDENCE_MERGE:
            groups[-1].append(k)
        else:
            groups.append([k])
    rows = []
    for g in groups:
        centre = float(np.mean(pos[g]))
        w = np.abs(x - centre) <= EVIDENCE_WINDOW
        if not w.any():
            continue
        j = np.flatnonzero(w)[np.argmax(mine[w])]
        height = float(mine[j])
        share = height / max(height + max(float(others[j]), 0.0), 1e-300)
        sigma = float(np.sqrt(np.sum(mine[w] ** 2 * state.weights[w])))
        rows.append(
            {
                "hkl": [[int(v) for v in h] for h in hkl[g]],
                "two_theta": round(centre, 3),
                "height": height,
                "share": round(share, 3),
                "sigma": round(sigma, 1),
            }
        )
    top = max((r["height"] for r in rows), default=0.0)
    rows = [r for r in rows if r["height"] >= EVIDENCE_MIN_HEIGHT * top]
    rows.sort(key=lambda r: -r["height"])
    own = [r for r in rows if r["share"] >= 0.5 and r["sigma"] >= EVIDENCE_MIN_SIGMA]
    chosen = own[:EVIDENCE_MAX] if own else rows[:3]
    return tuple({**r, "height": round(r["height"], 1)} for r in chosen)


def _brindley_tau(library, pid, size_um, lam, state, zmv) -> float:
    """Brindley particle-absorption factor τ for spheres of diameter ``size_um`` (1 if not given)."""
    if not size_um:
        return 1.0
    import xraydb

    energy = 12398.419843320026 / lam
    # linear attenuation coefficient of each phase (1/cm) from its formula and X-ray density
    mus = np.array(
        [
            xraydb.material_mu(library[m.id].formula.replace("·", ""), energy, density=m.refl.density)
            for m in state.models
        ]
    )
    del zmv
    vol = state.scales * np.array([m.refl.volume for m in state.models]) ** 2  # ∝ volume fraction
    vol = vol / vol.sum() if vol.sum() > 0 else vol
    mu_mean = float(np.sum(vol * mus))
    mu_p = mus[[m.id for m in state.models].index(pid)]
    r_cm = size_um * 1e-4
    # chord-length average over a sphere: p(l) = l / (2R²), l in [0, 2R]
    ll = np.linspace(0.0, r_cm, 200)
    pl = ll / (2 * (r_cm / 2) ** 2)
    return float(np.trapezoid(pl * np.exp(-(mu_p - mu_mean) * ll), ll))


@single_blas_thread
def quantify(
    scan: Scan,
    phases: Sequence[str] | None = None,
    config: QuantConfig = QuantConfig(),  # noqa: B008 - frozen dataclass
    *,
    library: PhaseLibrary | None = None,
    candidates: Sequence[str] | None = None,
    start: Mapping[str, Any] | None = None,
    select: bool | None = None,
    prefer: Collection[str] = (),
    verify: Collection[str] = (),
    absent_limits: bool = True,
) -> QuantResult:
    """Whole-pattern quantification of an XRD scan.

    Parameters
    ----------
    scan : Scan
        XRD scan.
    phases : sequence of str, optional
        Fit exactly these phases (no selection), unless ``select`` is True.
    config : QuantConfig
    library : PhaseLibrary, optional
        Default: the bundled library plus user phases.
    candidates : sequence of str, optional
        For automatic selection: candidate phase ids, best first (e.g. from
        :func:`phasetrace.match.rank_candidates`). Required when ``phases`` is None.
    start : mapping, optional
        Start values, e.g. per phase id ``{"scale": 1.003}`` from peak matching.
    select : bool, optional
        Force or prevent automatic phase-set selection.
    prefer : collection of str
        Phases preferred among candidates the data cannot tell apart (the
        system's host phases): an isostructural twin replaces a preferred phase
        only when it fits clearly better.
    verify : collection of str
        Phases of a fixed model that count as detected only when their
        evidence also stands where they dominate the calculated pattern (the
        test the automatic selection applies): for phases fitted because a
        neighbouring scan of a series has them, which could otherwise soak up
        profile misfit.
    absent_limits : bool
        Report the candidates that were tested and left out of the model with
        their detection limits (False: the model's phases only, for a caller
        that reads no more, such as a series' identification).

    Returns
    -------
    QuantResult
        ``success`` False (with ``message``) when the fit failed; then no
        number in it is to be used.

    Raises
    ------
    FitError
        For scans without peaks, Raman scans, and empty phase lists.

    Notes
    -----
    Runs with one BLAS thread (:func:`phasetrace.quantify.core.one_blas_thread`): faster for these
    problem sizes, and the numbers are those of a series task, wherever it runs.
    """
    lib = library or PhaseLibrary.default()
    _check_scan(scan)
    instrument = metadata_instrument(scan.meta, config.instrument)
    if instrument is not None:
        scan, config = instrument.apply(scan, config)
    where = scan.meta.source_path or scan.meta.sample or "scan"
    do_select = select if select is not None else phases is None
    if phases is not None:
        for pid in phases:
            lib[pid]  # unknown ids raise LibraryError with a suggestion
    if do_select:
        pool = list(dict.fromkeys([*(phases or []), *(candidates or [])]))
        if not pool:
            raise FitError(
                f"{where}: no candidate phases to select from (give --phases, --elements or --system)"
            )
        from .selection import select_phases

        with stage("selection"):
            state, steps, alternatives = select_phases(
                scan, lib, pool, config, start=start, fixed=list(phases or []), prefer=prefer
            )
        with stage("final fit"):
            state = refine_sample_terms(
                scan, state, config, [lib[m.id].strain for m in state.models],
                [m.texture_axis is not None for m in state.models], start,
            )
        tested = pool
    else:
        if not phases:
            raise FitError(f"{where}: no phases to fit")
        models, strains, textured = phase_models(scan, lib, phases, config)
        if not models:
            raise FitError(f"{where}: none of {', '.join(phases)} has a reflection in the scan range")
        with stage("final fit"):
            # a refit of the phase set a finished fit ended with resumes its second stage (resume.py)
            state = resume_second_stage(scan, models, strains, textured, config, start)
            if state is None:
                # (the width terms' square steps: see fit_pattern; the selection keeps its steps)
                state = fit_pattern(
                    scan, models, strains=strains, config=config, start=start, textured=textured,
                    square_width_steps=True,
                )
                state = refine_sample_terms(
                    scan, state, config, strains, textured, start, square_width_steps=True
                )
        steps, alternatives, tested = [], {}, list(phases)
    ok = bool(state.success and np.isfinite(state.chi2))
    unconfirmed = set()
    if verify and ok:
        from .selection import unique_evidence

        for i, m in enumerate(state.models):
            if m.id in verify and state.scales[i] > 0:
                t_u = unique_evidence(scan, state, config, i)
                if t_u < config.detection_sigma:
                    unconfirmed.add(m.id)
                    steps.append({"action": "unconfirmed", "phase": m.id, "t_unique": t_u})
                    continue
                # its own strong reflections must be there too (the selection's test, missing.py)
                verdict = missing_reflections(state, i, scan.meta.radiation.kalpha1, config.detection_sigma)
                if verdict.fails:
                    unconfirmed.add(m.id)
                    steps.append({"action": "unconfirmed", "phase": m.id, "missing": list(verdict.missing)})
                    continue
                # and, broadened onto the background's bumps, a resolved reflection (missing.py)
                t_r = broad_resolved_significance(state, i, scan.meta.radiation.kalpha1)
                if t_r < config.detection_sigma:
                    unconfirmed.add(m.id)
                    steps.append({"action": "unconfirmed", "phase": m.id, "t_resolved_broad": t_r})
    # the significance an absent candidate would have needed: the selection's criterion (see limits.py)
    sigma_needed = None
    if do_select:
        from .selection import BIC_MARGIN, PARAMS_PER_PHASE

        need = PARAMS_PER_PHASE * np.log(len(scan)) + BIC_MARGIN
        sigma_needed = max(config.detection_sigma, float(np.sqrt(need)))
        if ok:
            # a phase broadened onto the background's bumps is only detected if it shows a resolved
            # reflection (missing.py): the selection tested each phase as it was added, and the final
            # fit may still broaden one
            for i, m in enumerate(state.models):
                if m.id in (phases or ()) or m.id in unconfirmed or state.scales[i] <= 0:
                    continue
                t_r = broad_resolved_significance(state, i, scan.meta.radiation.kalpha1)
                if t_r < sigma_needed:
                    unconfirmed.add(m.id)
                    steps.append({"action": "unconfirmed", "phase": m.id, "t_resolved_broad": t_r})
    if not absent_limits:
        tested = [m.id for m in state.models]
    results = _results(scan, lib, state, config, tested, alternatives, unconfirmed, sigma_needed)
    rad = scan.meta.radiation
    if ok:
        index = {m.id: i for i, m in enumerate(state.models)}
        bragg = state.columns @ state.scales  # all phases' calculated intensity
        results = [
            replace(r, evidence=_evidence(state, index[r.id], rad.kalpha1, bragg)) if r.detected else r
            for r in results
        ]
    # each phase's reflections (Kα1 sin θ at the refined cell) and curve: the residual's names and the ticks
    sines = {
        m.id: rad.kalpha1 / (2.0 * np.asarray(m.d_spacings(p["cell"], p["scale"]), float))
        for m, p in zip(state.models, state.per_phase, strict=True)
    }
    curves = {m.id: state.columns[:, i] * state.scales[i] for i, m in enumerate(state.models)}
    quality = None
    if ok:
        from .residual import nearest_reflection, read_residual

        quality = read_residual(
            state.x,
            state.y,
            state.ycalc,
            state.background,
            state.weights,
            rad.kalpha1,
            rwp=state.rwp,
            rexp=state.rexp,
            gof=state.gof,
            curves=state.columns * state.scales,
        )
        if quality.poor:
            results = _unreliable(results, quality.unexplained_share)
        # an unexplained peak at a modelled reflection is named with it: its misfit, or a phase beneath it
        reflections = []
        for m in state.models:
            real = sines[m.id] < 1.0
            tt = 2.0 * np.degrees(np.arcsin(sines[m.id][real]))
            reflections.append((m.id, tt, m.hkl[real], curves[m.id]))
        named = tuple(replace(pk, near=nearest_reflection(pk, state.x, reflections)) for pk in quality.peaks)
        quality = replace(quality, peaks=named)
    ticks = {k: np.sort(np.degrees(2 * np.arcsin(np.clip(v, 0, 1)))) for k, v in sines.items()}
    lo, hi = state.x[0], state.x[-1]
    ticks = {k: v[(v >= lo) & (v <= hi)] for k, v in ticks.items()}
    return QuantResult(
        file=where,
        phases=results,
        rwp=state.rwp,
        rexp=state.rexp,
        gof=state.gof,
        success=ok,
        message=state.message if ok else f"fit did not converge: {state.message}",
        x=state.x,
        y=state.y,
        ycalc=state.ycalc,
        background=state.background,
        phase_curves=curves,
        ticks=ticks,
        globals=dict(state.globals_),
        globals_fixed=tuple(k for k in state.globals_ if k not in state.names),
        globals_at_limit=tuple(n for n, _ in state.at_bounds if ":" not in n),
        selection=steps,
        start_values={
            **{k: v for k, v in start_from(state).items() if k != "aligned"},
            **second_stage_terms(state),
        },
        instrument=instrument.to_dict() if instrument is not None else {},
        quality=quality,
    )
