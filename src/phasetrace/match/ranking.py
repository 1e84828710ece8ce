"""Ranking candidates by the evidence each adds: greedy selection, twins and tie order, the Ranking.

Shared by the XRD scorer (:mod:`phasetrace.match.score`) and the Raman band matcher
(:mod:`phasetrace.match.raman`); see the former's module docstring, step 5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cmp_to_key

import numpy as np

from ..peaks.find import PeakSearch
from .alignment import MIN_RELATIVE_HEIGHT, CandidateFit, nearest
from .result import (
    Candidate,
    MatchConfig,
    PeakMatch,
    Ranking,
    scan_label,
)

__all__ = ["EVIDENCE_SCALE", "Cap", "assemble"]


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
#: Role order for ties: hosts are the likeliest phases of these samples.
ROLE_PRIOR = {"host": 3, "secondary": 2, "crucible": 1, "contaminant": 0}


#: Statuses from strongest to weakest claim, for capping a status (:data:`Cap`).
_CLAIM_ORDER = ("likely", "possible", "unlikely")

#: A technique's limit on what a candidate's matched peaks can claim, whatever its score: given the fit,
#: the strongest status allowed (None: no limit), a note saying why, and the compound classes whose
#: shared peaks carry the match (Raman: ``("carbonate",)`` for the CO3 stretch every carbonate has).
Cap = Callable[[CandidateFit], tuple[str | None, str, tuple[str, ...]]]


# =============================================================================== ranking (shared)
@dataclass
class _Outcome:
    order: list[int]
    score: dict[int, float]
    standalone: dict[int, float]


def _evidence_pairs(
    fits: Sequence[CandidateFit], obs_h: np.ndarray
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
    fits: Sequence[CandidateFit],
    obs_h: np.ndarray,
    obs_sig: np.ndarray,
    *,
    preferred: set[str],
    twins: Callable[[CandidateFit, CandidateFit], bool],
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


def _strain_log_prior(f: CandidateFit) -> float:
    """Log prior density of the fitted lattice scale: Gaussian with the allowed strain as its 2σ bound.

    A phase that fits with little of a tight allowance is the sharper, likelier hypothesis; one that
    needs all of it is not.
    """
    strain = max(float(f.phase.strain), 1e-4)
    z = 2.0 * (float(f.scale) - 1.0) / strain if f.scale is not None else 0.0
    return -0.5 * z * z - math.log(strain)


def _intensity_misfit(
    a: CandidateFit, b: CandidateFit, obs_h: np.ndarray, obs_sig: np.ndarray
) -> tuple[float, int]:
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
    fits: Sequence[CandidateFit],
    preferred: set[str],
    scores: np.ndarray,
    obs_h: np.ndarray,
    obs_sig: np.ndarray,
) -> Callable[[int, int], int]:
    """Comparator of near-tied twins (negative: the first is better).

    In order, each criterion decides only if the two differ by more than its tolerance: the system's
    host phases first; better relative heights of the shared peaks (:func:`_intensity_misfit`); the
    simpler pattern (fewer visible expected peaks that the other lacks; then fewer weak ones, if they
    differ by a whole superlattice); a user's phase before a bundled one; the likelier lattice scale
    (:func:`_strain_log_prior`); the library role; the score.
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
        # the user's own phase before a bundled one: it was added for these samples on purpose (a
        # round robin's corundum.cif rather than the bundled Al2O3 crucible), and the strain prior
        # below would otherwise favour the bundled entry for its tighter curated strain alone
        ua, ub = fa.phase.origin != "bundled", fb.phase.origin != "bundled"
        if ua != ub:
            return -1 if ua else 1
        la, lb = _strain_log_prior(fa), _strain_log_prior(fb)
        if abs(la - lb) > TIE_LOG_PRIOR:
            return -1 if la > lb else 1
        ra, rb = ROLE_PRIOR.get(fa.phase.role, 0), ROLE_PRIOR.get(fb.phase.role, 0)
        if ra != rb:
            return -1 if ra > rb else 1
        return -1 if scores[a] >= scores[b] else 1

    return compare


def _extra_peaks(a: CandidateFit, b: CandidateFit, *, visible: bool = True) -> int:
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
    _, dist = nearest(other, a.positions[use])
    return int(np.count_nonzero(dist > a.tol[use]))


def _twin_test(config: MatchConfig) -> Callable[[CandidateFit, CandidateFit], bool]:
    """Twins: each candidate's strong expected peaks all lie on the other's expected peaks."""
    cache: dict[tuple[int, int], bool] = {}
    views: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def view(f: CandidateFit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if f.slot not in views:
            strong = (f.unit_height >= TWIN_STRONG_FRACTION) & np.isfinite(f.positions)
            views[f.slot] = (
                f.positions[strong],
                1.5 * np.maximum(f.tol[strong], 1e-9),
                np.sort(f.positions[f.unit_height >= 0.01]),
            )
        return views[f.slot]

    def covered(a: CandidateFit, b: CandidateFit) -> bool:
        pos, tol, _ = view(a)
        if pos.size == 0:
            return False
        _, dist = nearest(view(b)[2], pos)
        return bool(np.all(dist <= tol))

    def test(a: CandidateFit, b: CandidateFit) -> bool:
        if a.positions is None or b.positions is None:
            return False
        key = (min(a.slot, b.slot), max(a.slot, b.slot))
        if key not in cache:
            cache[key] = covered(a, b) and covered(b, a)
        return cache[key]

    return test


def assemble(
    search: PeakSearch,
    fits: Sequence[CandidateFit],
    obs_pos: np.ndarray,
    obs_h: np.ndarray,
    obs_sig: np.ndarray,
    preferred: set[str],
    config: MatchConfig,
    shift: float,
    *,
    lattice: bool = True,
    cap: Cap | None = None,
) -> Ranking:
    """Greedy ranking, statuses, unique/missing/extra peaks and alternatives, as a :class:`Ranking`.

    ``fits`` may hold several alignments of one phase (same ``index``); the ranking keeps the first
    one chosen. ``cap`` limits each candidate's status by what its matched peaks can tell (the Raman
    matcher's rule on distinctive bands); its note becomes the candidate's ``reason``.
    """
    for k, f in enumerate(fits):
        f.slot = k
    twins = _twin_test(config)
    outcome = _greedy(fits, obs_h, obs_sig, preferred=preferred, twins=twins)
    # rank by score (stable: the order of choice breaks ties); each score is conditional on the
    # phases chosen before it, which almost always rank above it too
    order = sorted(outcome.order, key=lambda i: -outcome.score[i])
    status = {i: config.status(outcome.score[i]) for i in order}
    notes: dict[int, tuple[str, tuple[str, ...]]] = {}
    if cap is not None:
        for i in order:
            limit, note, classes = cap(fits[i])
            lowered = limit is not None and _CLAIM_ORDER.index(status[i]) < _CLAIM_ORDER.index(limit)
            if lowered:
                status[i] = limit
            # the note of a candidate that is "unlikely" on its score alone says nothing worth reading
            notes[i] = (note if lowered or status[i] != "unlikely" else "", classes)
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
    # observed peaks whose top the detector cut off (obs_* are the primary peaks, in the same order)
    obs_sat = np.asarray(search.peaks.primary().saturated, dtype=bool)
    if obs_sat.size != obs_pos.size:
        obs_sat = np.zeros(obs_pos.size, dtype=bool)
    candidates: list[Candidate] = []
    for rank, i in enumerate(order, start=1):
        f = fits[i]
        others = [fits[k] for k in plausible if k != i]
        uniq = _unique_mask(f, others)
        matched, missing, unique = _peak_matches(f, uniq, obs_pos, obs_h, obs_sig, obs_sat)
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
                reason=notes.get(i, (f.reason, ()))[0],
                or_any=notes.get(i, ("", ()))[1],
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
        file=scan_label(search.scan),
        technique=search.scan.kind,
        candidates=tuple(candidates),
        search=search,
        displacement_deg=shift,
        unexplained=unexplained,
        config=config,
    )


def _peak_matches(
    f: CandidateFit,
    uniq: np.ndarray,
    obs_pos: np.ndarray,
    obs_h: np.ndarray,
    obs_sig: np.ndarray,
    obs_sat: np.ndarray,
) -> tuple[list[PeakMatch], list[PeakMatch], list[PeakMatch]]:
    """Matched, missing and unique expected peaks of a fit as :class:`PeakMatch` rows."""
    idx = np.flatnonzero((f.match >= 0) | f.missing)
    pos, pred = f.positions[idx].tolist(), f.predicted[idx].tolist()
    js, uq = f.match[idx].tolist(), uniq[idx].tolist()
    hkl = f.hkl[idx].tolist() if f.hkl is not None else None
    members = f.members[idx].tolist() if f.members is not None else None
    shared = [f.shared[k] for k in idx.tolist()] if f.shared is not None else None
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
            "shared_by": shared[n] if shared is not None else "",
        }
        j = js[n]
        if j >= 0:
            pm = PeakMatch(
                **base,
                observed=float(obs_pos[j]),
                observed_height=float(obs_h[j]),
                significance=float(obs_sig[j]),
                unique=bool(uq[n]),
                saturated=bool(obs_sat[j]),
            )
            matched.append(pm)
            if uq[n]:
                unique.append(pm)
        else:
            missing.append(PeakMatch(**base))
    return matched, missing, unique


def _unique_mask(f: CandidateFit, others: Sequence[CandidateFit]) -> np.ndarray:
    """Expected peaks of ``f`` with no detectable expected peak of another plausible candidate nearby."""
    uniq = np.ones(f.positions.size, dtype=bool)
    for o in others:
        if o.positions is None:
            continue
        visible = o.predicted >= 0.5 * o.noise
        if not np.any(visible):
            continue
        op = np.sort(o.positions[visible])
        _, dist = nearest(op, f.positions)
        uniq &= dist > f.tol
    return uniq & (f.match >= 0)
