"""Phase selection and :func:`fit_raman`: which band patterns a spectrum holds (see the package docs)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...library.phases import PhaseLibrary, ReferencePhase
from ...match.result import TechniqueMismatchError
from ...preprocess import estimate_noise
from ...scan import Scan
from ..core import project_out
from .bands import BandModel, band_model, is_counts, spike_mask, twin_groups
from .problem import RamanProblem, Statistics, statistics
from .result import RamanFit, RamanFitConfig, RamanFitError, RamanPhaseFit

__all__ = ["fit_raman"]


#: cm⁻¹ of fitted window per Chebyshev background term, and the fewest and most terms.
BACKGROUND_SPACING = 140.0


BACKGROUND_TERMS_RANGE = (4, 20)


SPIKE_MIN_BAND_POINTS = 2.0


#: χ² (+ prior) a twin must gain over the first of its group, in units of GoF², to replace it.
TWIN_MARGIN = 9.0


FORWARD_NFEV = 12


VERIFY_NFEV = 12


EXCHANGE_FRACTION = 0.9


EXCHANGE_ROUNDS = 2


#: Re-examination: a phase whose common shift reaches this fraction of its bound, or whose log width
#: scale is within this of a bound, is tried out of the model.
BOUND_FRACTION = 0.95


BOUND_LOGW = 0.02


#: Times a candidate may be tried in the forward selection.
MAX_TRIES = 2


EXCLUDED = 1000  # tries of a phase taken out by the re-examination: never again


#: Fewest points in the fitted window.
MIN_POINTS = 30


def _forward(prob: RamanProblem) -> Statistics:
    """Forward selection, exchanges of similar phases, and the verification (see the module docstring)."""
    cfg = prob.cfg
    t, tu = cfg.threshold, cfg.unique_threshold
    n = len(prob.models)
    prob.solve()
    grids = [prob.grid_columns(i) for i in range(n)]
    tries = np.zeros(n, dtype=int)
    for _ in range(EXCHANGE_ROUNDS + 1):
        _add(prob, grids, tries)
        changed = _exchange(prob, grids)
        # twin choices made while the model was incomplete are revisited
        for j in np.flatnonzero(prob.amp > 0):
            if len(prob.groups.get(int(j), ())) > 1 and _choose_member(prob, int(j), prob.groups[int(j)]):
                changed = True
        changed |= _reexamine(prob, grids, tries)
        if not changed:
            break
        prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=FORWARD_NFEV)
        # the model changed: candidates turned down against the old one get another chance
        tries[tries < EXCLUDED] = 0
    # verification: the dominant phases get per-band freedom, everything is refined together, and
    # phases that then fail either test are dropped, the weakest first
    for _ in range(n + 1):
        prob.make_flexible()
        prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=VERIFY_NFEV)
        st = statistics(prob)
        active = np.flatnonzero(prob.amp > 0)
        fail = [j for j in active if not st.passes(j, t, tu)]
        if not fail:
            break
        worst = min(fail, key=lambda j: st.score(j, t, tu))
        prob.on[worst] = False
        prob.why_out[worst] = _why(st, worst, t, tu)
        prob.models[worst].rigid()
        prob.refresh(worst)
        prob.solve()
    return st


def _add(prob: RamanProblem, grids: list, tries: np.ndarray) -> None:
    """Add the candidate that lowers χ² most while it reaches the threshold and passes both tests.

    A candidate is judged first at its grid shape (cheap), then again after all
    shapes are refined; one that fails is left out (it may be tried again, up to
    :data:`MAX_TRIES` times). Phases whose significance falls below the threshold
    after an addition are dropped.
    """
    cfg = prob.cfg
    t, tu = cfg.threshold, cfg.unique_threshold
    n = len(prob.models)
    for _ in range(MAX_TRIES * n + 1):
        r = prob.residual_w()
        chi2 = float(r @ r)
        active = np.flatnonzero(prob.on)
        lin = prob.weighted(active)
        best_i, best_gain, best_shape = -1, 0.0, (0.0, 0.0)
        for i in range(n):
            if prob.on[i] or tries[i] >= MAX_TRIES:
                continue
            gain, shape = prob.best_on_grid(i, grids[i], lin, r)
            if gain > best_gain:
                best_i, best_gain, best_shape = i, gain, shape
        if best_i < 0:
            return
        gof2 = (chi2 - best_gain) / prob.dof(active.size + 1)
        if math.sqrt(best_gain / max(1.0, gof2)) < t:
            return
        i = best_i
        saved = prob.states()
        m = prob.models[i]
        m.rigid()
        m.shift, m.logw = best_shape
        prob.refresh(i)
        prob.on[i] = True
        tries[i] += 1
        prob.solve()
        st = statistics(prob, full=False, unique=[i], rest=False)
        if st.passes(i, t, tu):
            if len(prob.groups.get(i, ())) > 1:
                _choose_member(prob, i, prob.groups[i])
            prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=FORWARD_NFEV)
            st = statistics(prob, full=False, unique=[i], rest=False)
        if not st.passes(i, t, tu):
            prob.on[i] = False
            prob.why_out[i] = _why(st, i, t, tu)
            prob.restore(saved)
            prob.solve()
            continue
        prob.why_out[i] = ""
        _drop_weak(prob)


def _exchange(prob: RamanProblem, grids: list) -> bool:
    """Replace phases of the model by similar candidates that fit better; True if any was replaced.

    Greedy selection can pick a phase that explains its own bands and a
    neighbour's together (a broadened NMC622 for NMC811 plus Li2MnO3); once the
    neighbour is in the model, the right phase fits better. Candidates whose band
    patterns correspond (:func:`corresponds`) and reach
    :data:`EXCHANGE_SIMILARITY` are tried in place of each phase of the model.
    """
    cfg = prob.cfg
    t, tu = cfg.threshold, cfg.unique_threshold
    changed = False
    for p in [int(j) for j in np.flatnonzero(prob.amp > 0)]:
        if not prob.amp[p] > 0:
            continue
        similar = [q for q in range(len(prob.models)) if not prob.on[q] and prob.similar(p, q)]
        if not similar:
            continue
        saved, obj0 = prob.states(), prob.objective()
        others = [j for j in np.flatnonzero(prob.amp > 0) if j != p]
        prob.on[p] = False
        prob.solve()
        r = prob.residual_w()
        lin = prob.weighted(others)
        col = project_out(prob.wcols[:, [p]], lin)[:, 0]
        cr = float(col @ r)
        gain_p = cr * cr / float(col @ col) if cr > 0 else 0.0
        best = max((prob.best_on_grid(q, grids[q], lin, r) + (q,) for q in similar), key=lambda b: b[0])
        if best[0] <= EXCHANGE_FRACTION * gain_p:
            prob.on[p] = True
            prob.solve()
            continue
        _, shape, q = best
        mq = prob.models[q]
        mq.rigid()
        mq.shift, mq.logw = shape
        prob.refresh(q)
        prob.on[q] = True
        prob.solve()
        prob.refine([q], max_nfev=FORWARD_NFEV)
        st = statistics(prob, full=False, unique=[q], rest=False)
        if prob.objective() < obj0 and st.passes(q, t, tu):
            prob.models[p].rigid()
            prob.refresh(p)
            prob.why_out[p] = f"replaced by {mq.id}, whose band pattern fits better"
            prob.why_out[q] = ""
            changed = True
        else:
            prob.on[q] = False
            prob.restore(saved)
            prob.on[p] = True
            prob.solve()
    return changed


def _reexamine(prob: RamanProblem, grids: list, tries: np.ndarray) -> bool:
    """Try the model without each phase whose shift or width sits at a bound; True if one went.

    A phase stretched to a bound is the mark of one that stands in for others
    (a broad, shifted spinel pattern taking a perovskite band and a host's
    misfit). Without it, the shapes are refined and the forward selection run
    again (it cannot come back); the new model is kept if it fits better
    (χ² + prior).
    """
    changed = False
    for p in [int(j) for j in np.flatnonzero(prob.amp > 0)]:
        m = prob.models[p]
        if not prob.amp[p] > 0 or not (
            abs(m.shift) >= BOUND_FRACTION * m.bound
            or m.logw <= prob.lw[0] + BOUND_LOGW
            or m.logw >= prob.lw[1] - BOUND_LOGW
        ):
            continue
        saved, on, why, obj0 = prob.states(), prob.on.copy(), list(prob.why_out), prob.objective()
        prob.on[p] = False
        prob.solve()
        prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=FORWARD_NFEV)
        trial = tries.copy()
        trial[p] = EXCLUDED
        _add(prob, grids, trial)
        if prob.objective() < obj0:
            tries[:] = trial
            m.rigid()
            prob.refresh(p)
            prob.why_out[p] = "the model fits better without it (it stood in for other phases)"
            changed = True
        else:
            prob.on[:] = on
            prob.why_out[:] = why
            prob.restore(saved)
            prob.solve()
    return changed


def _drop_weak(prob: RamanProblem) -> None:
    """Drop phases of the model whose significance fell below the threshold, the weakest first."""
    t = prob.cfg.threshold
    for _ in range(len(prob.models)):
        st = statistics(prob, full=False, unique=False, rest=False)
        weak = [j for j in np.flatnonzero(prob.amp > 0) if st.z[j] < t]
        if not weak:
            return
        worst = min(weak, key=lambda j: st.z[j])
        prob.on[worst] = False
        prob.why_out[worst] = ""
        prob.models[worst].rigid()
        prob.refresh(worst)
        prob.solve()


def _why(st: Statistics, i: int, t: float, tu: float) -> str:
    if st.z[i] < t:
        return ""
    if i in st.missing and st.zu[i] >= tu:
        return f"{st.missing[i]} (significance {st.z[i]:.1f})"
    return (
        f"no evidence of its own: {st.zu[i]:.1f} σ near its bands when the neighbouring bands "
        f"may be misfit (< {tu:g}; significance {st.z[i]:.1f})"
    )


def _choose_member(prob: RamanProblem, j: int, members: list[BandModel]) -> bool:
    """Put the member of a twin group that the data prefer in slot ``j``; True if it changed.

    The first member (in candidate order) stays unless another one lowers
    χ² + prior by more than :data:`TWIN_MARGIN` GoF²: for patterns this alike
    the difference is usually noise, and a choice that flipped from scan to scan
    would make up onsets in a series.
    """
    current = prob.models[j]
    others = [i for i in np.flatnonzero(prob.amp > 0) if i != j]
    lin = prob.weighted(others)
    results = []
    seen: dict[tuple, tuple] = {}
    for m in members:
        key = m.key()
        if key in seen:  # the same band pattern under another name fits the same
            results.append((seen[key][0], m, seen[key][1]))
            continue
        prob.models[j] = m
        m.rigid()
        m.shift, m.logw = 0.0, 0.0
        prob.refresh(j)
        prob.on[j] = False
        prob.solve()
        _, shape = prob.best_on_grid(j, prob.grid_columns(j), lin, prob.residual_w())
        m.shift, m.logw = shape
        prob.refresh(j)
        prob.on[j] = True
        prob.solve()
        prob.refine([j], max_nfev=FORWARD_NFEV)
        results.append((prob.objective(), m, m.state()))
        seen[key] = (results[-1][0], results[-1][2])
    gof2 = max(1.0, results[0][0] / prob.dof(len(others) + 1))
    obj0, _, state0 = results[0]
    best = min(results, key=lambda r: r[0])
    choice, state = (best[1], best[2]) if best[0] < obj0 - TWIN_MARGIN * gof2 else (members[0], state0)
    prob.models[j] = choice
    choice.restore(state)
    prob.refresh(j)
    prob.solve()
    return choice is not current


def fit_raman(
    scan: Scan,
    library: PhaseLibrary,
    phases: Sequence[str | ReferencePhase],
    *,
    config: RamanFitConfig | None = None,
) -> RamanFit:
    """Test candidate phases against a Raman spectrum with a whole-spectrum fit.

    Parameters
    ----------
    scan : Scan
        A Raman spectrum (``kind == "raman"``, x in cm⁻¹).
    library : PhaseLibrary
        Source of the band tables.
    phases : sequence of str or ReferencePhase
        Candidates (duplicates are ignored). Among indistinguishable ones the
        first stands for the others.
    config : RamanFitConfig, optional

    Returns
    -------
    RamanFit
        One :class:`RamanPhaseFit` per candidate, in the given order.

    Raises
    ------
    TechniqueMismatchError
        If the scan is not a Raman spectrum.
    RamanFitError
        If fewer than :data:`MIN_POINTS` finite points lie in the window.
    """
    cfg = config or RamanFitConfig()
    if scan.kind != "raman":
        raise TechniqueMismatchError(f"{_label(scan)}: fit_raman needs a Raman spectrum, got {scan.kind!r}")
    ids = list(dict.fromkeys(p.id if isinstance(p, ReferencePhase) else str(p) for p in phases))
    for pid in ids:
        library[pid]  # an unknown id fails here, with the library's message

    x, y = _window(scan, cfg)
    lo, hi = float(x[0]), float(x[-1])
    step = float(np.median(np.diff(x)))
    # noise: counting statistics for counts, the robust local estimate otherwise
    method = "counts" if is_counts(y) else "mad"
    sigma = np.asarray(estimate_noise(x, y, kind="raman", method=method)[0], dtype=float)

    models: list[BandModel] = []
    reasons: dict[str, str] = {}
    for pid in ids:
        m, why = band_model(library, pid, lo, hi, cfg)
        if m is None:
            reasons[pid] = why
        else:
            models.append(m)
    spikes = np.zeros(x.size, dtype=bool)
    if cfg.despike and models:
        narrowest = min(float(m.fwhm.min()) for m in models) * cfg.width_bounds[0]
        if narrowest >= SPIKE_MIN_BAND_POINTS * step:
            spikes = spike_mask(y, sigma)
    sw = np.where(spikes, 0.0, 1.0 / sigma)
    nbg = cfg.background_terms or int(np.clip(round((hi - lo) / BACKGROUND_SPACING), *BACKGROUND_TERMS_RANGE))
    nbg = max(1, min(nbg, x.size // 4))

    # one member of each group of indistinguishable phases enters the fit
    groups = twin_groups(models, cfg)
    prob = RamanProblem(x, y, sw, nbg, [models[g[0]] for g in groups], cfg)
    prob.groups = {j: [models[i] for i in g] for j, g in enumerate(groups) if len(g) > 1}
    st = _forward(prob)

    results: dict[str, RamanPhaseFit] = {}
    for j, m in enumerate(prob.models):
        z, zu = float(st.z[j]), float(st.zu[j])
        det = bool(prob.amp[j] > 0 and z >= cfg.threshold and zu >= cfg.unique_threshold)
        if det:
            reason = ""
        elif prob.why_out[j]:
            reason = prob.why_out[j]
        elif prob.amp[j] > 0 and z >= cfg.threshold:
            reason = _why(st, j, cfg.threshold, cfg.unique_threshold)
        else:
            reason = f"significance {z:.1f} < {cfg.threshold:g}"
        members = [models[i] for i in groups[j]]
        results[m.id] = RamanPhaseFit(
            id=m.id,
            detected=det,
            status="detected" if det else "not detected",
            reason=reason,
            amplitude=float(st.amp[j]),
            esd=float(st.esd[j]),
            esd_full=float(st.esd_full[j]),
            significance=z,
            unique_significance=zu,
            shift=m.mean_shift(),
            width_scale=math.exp(m.logw),
            bands=tuple(float(c) for c in m.centres()[m.inside]),
            band_areas=tuple(float(a) * float(st.amp[j]) for a in m.areas()[m.inside]),
            alternatives=tuple(a.id for a in members if a is not m),
        )
        for a in members:
            if a is m:
                continue
            nominal = tuple(float(p) for p in a.pos[a.inside])
            if det:
                results[a.id] = RamanPhaseFit(
                    id=a.id,
                    detected=None,
                    status="indistinguishable",
                    reason=f"band pattern indistinguishable by Raman from {m.id}, which stands for it",
                    bands=nominal,
                    twin_of=m.id,
                )
            else:
                results[a.id] = RamanPhaseFit(
                    id=a.id,
                    detected=False,
                    status="not detected",
                    reason=f"its band pattern (shared with {m.id}) is not detected",
                    esd=float(st.esd[j]),
                    bands=nominal,
                    twin_of=m.id,
                )
    for pid, why in reasons.items():
        results[pid] = RamanPhaseFit(id=pid, detected=None, status="not testable", reason=why)
    active = np.flatnonzero(prob.amp > 0)
    return RamanFit(
        phases=tuple(results[pid] for pid in ids),
        x=x,
        y=y,
        sigma=sigma,
        weight_mask=sw > 0,
        background=st.background,
        calculated=st.background + st.phase_sum,
        residual=y - st.background - st.phase_sum,
        contributions={prob.models[j].id: prob.cols[:, j] * prob.amp[j] for j in active},
        gof=math.sqrt(st.gof2),
        noise_method=method,
        n_spikes=int(spikes.sum()),
        background_terms=nbg,
        config=cfg,
    )


def _window(scan: Scan, cfg: RamanFitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, finite points of the scan inside the fitted window."""
    x = np.asarray(scan.x, dtype=float)
    y = np.asarray(scan.y, dtype=float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    hi_lim = cfg.max_shift if cfg.max_shift is not None else np.inf
    keep = np.isfinite(x) & np.isfinite(y) & (x >= cfg.min_shift) & (x <= hi_lim)
    x, y = x[keep], y[keep]
    if x.size < MIN_POINTS or not np.all(np.diff(x) > 0):
        raise RamanFitError(
            f"{_label(scan)}: {x.size} finite, distinct points in the fitted window "
            f"({cfg.min_shift:g}-{hi_lim:g} cm⁻¹); at least {MIN_POINTS} are needed"
        )
    return x, y


def _label(scan: Scan) -> str:
    meta = scan.meta
    return str(getattr(meta, "source_path", None) or getattr(meta, "sample", None) or "spectrum")
