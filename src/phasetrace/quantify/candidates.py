"""The one sequence from a candidate pool to a phase set: rank, reorder, seed, prefer hosts, quantify.

Every caller that lets the data choose the phases of an XRD scan (``phasetrace
fit --system``, ``phasetrace identify``, the identification stage of a series,
:func:`phasetrace.identify` and :func:`phasetrace.quantify`) goes through
:func:`select_by_fit`, so that the same scan gives the same answer whichever
way it is analysed:

1. rank the pool by peak matching (:func:`phasetrace.match.rank_candidates`);
   a ranking that fails with the system's host preference is retried without
   it, one that fails altogether leaves the pool in its given order;
2. reorder the pool: the testable candidates in ranking order, then the rest;
3. seed each candidate's cell scale with the lattice scale the matcher found;
4. prefer the system's host phases among isostructural twins;
5. select the phase set by whole-pattern fitting (:func:`phasetrace.quantify.api.quantify`).

:func:`rerank_by_fit` then turns the fit's verdict into a ranking: the phases
of the selected model first (by weight fraction), every other candidate in its
matching order; a confirmed phase is ``"likely"``, a ``"likely"`` match the fit
does not need becomes ``"possible"``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any

from ..errors import PhasetraceError
from ..library.phases import PhaseLibrary
from ..match import Candidate, MatchConfig, NoCandidatesError, Ranking, rank_candidates
from ..match.candidates import candidate_pool, sample_system
from ..scan import Scan
from .api import quantify
from .fit import QuantConfig
from .result import QuantResult

__all__ = ["quantify_scan", "rank_or_none", "rerank_by_fit", "seed_from_ranking", "select_by_fit"]


def rank_or_none(
    scan: Scan,
    library: PhaseLibrary,
    pool: Sequence[str],
    *,
    system: str | None = None,
    config: MatchConfig | None = None,
) -> Ranking | None:
    """Rank ``pool`` by peak matching; None when the scan cannot be ranked.

    The system lets the ranking prefer its own host phases among isostructural twins; a
    system the matcher cannot resolve is dropped rather than failing the whole fit.
    """
    try:
        return rank_candidates(scan, library, phases=pool, system=system, config=config)
    except PhasetraceError:
        if system is None:
            return None
        try:
            return rank_candidates(scan, library, phases=pool, config=config)
        except PhasetraceError:
            return None


def seed_from_ranking(
    ranking: Ranking | None, pool: Sequence[str]
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Candidate order and start values from a ranking.

    Returns
    -------
    order : list of str
        The ranking's testable candidates best first, then the rest of ``pool`` in its order.
    start : dict
        Phase id -> ``{"scale": lattice scale}`` for every candidate the matcher scaled and
        found at least ``"possible"``.

    Notes
    -----
    The lattice scale of an ``"unlikely"`` candidate is not a measurement: the matcher lined the
    reflections up with whatever weak or borrowed peaks it could (its own status says the
    evidence is poor), often at the edge of the allowed strain. A wrong seed is worse than the
    reference cell: the selection tests a candidate near its seed, so a present minor phase
    seeded one percent off is missed (LaCoO3 at 0.9 wt % in ``pc-LCO + LLZTO-700``: seeded at
    0.990, its strongest reflection matched as the wrong one, and not selected; from the
    reference cell it is found at 0.90 wt %). Such candidates start from the reference cell.
    """
    if ranking is None:
        return list(pool), {}
    ranked = [c.id for c in ranking.candidates if c.testable]
    order = ranked + [p for p in pool if p not in ranked]
    start = {
        c.id: {"scale": c.lattice_scale}
        for c in ranking.candidates
        if c.lattice_scale is not None and c.status in ("likely", "possible")
    }
    return order, start


def select_by_fit(
    scan: Scan,
    library: PhaseLibrary,
    pool: Sequence[str],
    *,
    system: str | None = None,
    prefer: Collection[str] = (),
    ranking: Ranking | None = None,
    config: QuantConfig | None = None,
    match_config: MatchConfig | None = None,
    absent_limits: bool = True,
) -> tuple[QuantResult, Ranking | None]:
    """Select and quantify the phase set of an XRD scan among ``pool``, seeded by peak matching.

    Parameters
    ----------
    scan : Scan
        XRD scan.
    library : PhaseLibrary
    pool : sequence of str
        Candidate phase ids.
    system : str, optional
        The material system, for the ranking's host preference.
    prefer : collection of str
        Phases preferred among twins in the fit (the system's host phases).
    ranking : Ranking, optional
        A ranking of this scan to use (else one is made of ``pool``).
    config : QuantConfig, optional
    match_config : MatchConfig, optional
        For the ranking made here.
    absent_limits : bool
        Give the candidates left out of the model their detection limits (see
        :func:`~phasetrace.quantify.quantify`).

    Returns
    -------
    result : QuantResult
    ranking : Ranking or None
        The ranking that seeded the fit (None when the scan could not be ranked).
    """
    if ranking is None:
        ranking = rank_or_none(scan, library, pool, system=system, config=match_config)
    order, start = seed_from_ranking(ranking, pool)
    result = quantify(
        scan,
        None,
        config or QuantConfig(),
        library=library,
        candidates=order,
        start=start,
        prefer=prefer,
        absent_limits=absent_limits,
    )
    return result, ranking


def rerank_by_fit(ranking: Ranking, result: QuantResult | None, message: str = "") -> Ranking:
    """A ranking re-ordered by the phase set a whole-pattern fit selected.

    Parameters
    ----------
    ranking : Ranking
        The matcher's ranking.
    result : QuantResult or None
        The fit (None when it could not be made; ``message`` says why).
    message : str

    Returns
    -------
    Ranking
        ``ranking.fit`` summarises the fit; ``Candidate.fit`` carries the verdict per phase.
        A failed fit confirms nothing: the matching order stands.
    """
    if result is None:
        return replace(ranking, fit={"rwp": None, "gof": None, "success": False, "message": message})
    summary = {
        "rwp": result.rwp,
        "rexp": result.rexp,
        "gof": result.gof,
        "flag": result.flag,
        "quality": result.quality.to_dict() if result.quality is not None else None,
        "success": result.success,
        "message": result.message,
    }
    if not result.success:
        return replace(ranking, fit=summary)
    ranked = [c for c in ranking.candidates if c.rank is not None]
    by_id = {p.id: p for p in result.phases}
    verdict: dict[str, dict[str, Any]] = {}
    for c in ranked:
        p = by_id.get(c.id)
        if p is None:
            continue
        sig = p.scale_factor / p.scale_sigma if p.in_model and p.scale_sigma > 0 else 0.0
        verdict[c.id] = {
            "detected": bool(p.detected),
            "wt_percent": round(p.wt_percent, 4),
            "esd": round(p.esd, 4),
            "lod_wt_percent": round(p.lod_wt_percent, 4),
            "same_as": p.same_as,
            "significance": round(float(sig), 2),
            "alternatives": list(p.alternatives),
            "reliable": bool(p.reliable),
        }
    ranked = _twin_evidence(ranked, verdict)
    found = sorted(
        (c for c in ranked if verdict.get(c.id, {}).get("detected")),
        key=lambda c: -verdict[c.id]["wt_percent"],
    )
    others = [c for c in ranked if c not in found]
    out = []
    for k, c in enumerate([*found, *others], start=1):
        v = verdict.get(c.id)
        status, reason = c.status, c.reason
        if v is not None and v["detected"]:
            status = "likely"
        elif v is not None and c.status == "likely":
            status = "possible"
            reason = "not needed by the whole-pattern fit" + (f"; {reason}" if reason else "")
        out.append(replace(c, rank=k, status=status, reason=reason, fit=v))
    rest = [c for c in ranking.candidates if c.rank is None]
    return replace(ranking, candidates=(*out, *rest), fit=summary)


def _twin_evidence(ranked: list[Candidate], verdict: dict[str, dict[str, Any]]) -> list[Candidate]:
    """Give the matching evidence of a pair of twins to the one the fit selected.

    Peak positions cannot tell twins apart (a round robin's corundum.cif and the bundled Al2O3):
    the matcher credits their shared peaks to whichever it chose first and names the other as its
    alternative, with score 0 and no unique peak. When the fit selects that other one, the score,
    the unique peaks and the matching status go with it, and the twin it replaced keeps what the
    fit's choice had (otherwise the fit's phase reads "likely, score 0.00, 0 unique" above its twin's
    "possible, 0.95").
    """
    by_id = {c.id: c for c in ranked}
    out = {c.id: c for c in ranked}
    for c in ranked:
        if not verdict.get(c.id, {}).get("detected"):
            continue
        for t in ranked:
            if (
                c.id not in t.alternatives
                or verdict.get(t.id, {}).get("detected")
                or (t.score or 0.0) <= (c.score or 0.0)
                or out[t.id] is not t  # already given away
            ):
                continue
            shared = {round(m.observed, 4) for m in t.unique if m.observed is not None}
            c_matched, c_unique = _mark_unique(c, shared)
            t_matched, t_unique = _mark_unique(t, set())
            out[c.id] = replace(
                c,
                score=t.score,
                status=t.status,
                matched=c_matched,
                unique=c_unique,
                alternatives=(t.id, *[a for a in c.alternatives if a != t.id]),
            )
            out[t.id] = replace(
                t,
                score=c.score,
                status=by_id[c.id].status,
                matched=t_matched,
                unique=t_unique,
                alternatives=(c.id, *[a for a in t.alternatives if a != c.id]),
            )
            break
    return [out[c.id] for c in ranked]


def _mark_unique(cand: Candidate, observed: set[float]) -> tuple[tuple, tuple]:
    """A candidate's matched rows, ``unique`` where the observed peak is in ``observed``; and those."""
    rows = tuple(
        replace(m, unique=m.observed is not None and round(m.observed, 4) in observed) for m in cand.matched
    )
    return rows, tuple(m for m in rows if m.unique)


def quantify_scan(
    scan: Scan,
    phases: Sequence[str] | None = None,
    *,
    system: str | None = None,
    elements: Iterable[str] | str | None = None,
    library: PhaseLibrary | Sequence[str | os.PathLike[str]] | None = None,
    config: Any = None,
) -> QuantResult:
    """Quantify exactly ``phases``, or the phase set :func:`select_by_fit` chooses among the candidates.

    This is :func:`phasetrace.quantify` (and :func:`phasetrace.pipeline.quantify`).

    Parameters
    ----------
    scan : Scan
        XRD scan.
    phases : sequence of str, optional
        Fit exactly these phases.
    system, elements : optional
        What the sample contains (not with ``phases``); by default the scan's own
        system (file name or manifest).
    library : PhaseLibrary or sequence of path, optional
        A library, or extra CIF files/folders besides the bundled phases.
    config : PipelineConfig or QuantConfig, optional
        A :class:`~phasetrace.pipeline.PipelineConfig` (its ``quant`` and ``match``)
        or a QuantConfig.

    Returns
    -------
    QuantResult
    """
    quant = getattr(config, "quant", config) or QuantConfig()
    match = getattr(config, "match", None)
    lib = library if isinstance(library, PhaseLibrary) else PhaseLibrary.default(extra=list(library or ()))
    if phases is not None:
        if system is not None or elements is not None:
            raise NoCandidatesError("give phases, or system/elements for automatic selection, not both")
        return quantify(scan, list(phases), quant, library=lib)
    system, elements = sample_system(scan, system, elements)
    peaks = None
    if getattr(lib, "indexes", None):  # a large --library folder: its candidates by elements and lines
        from ..library.index import ObservedPeaks
        from ..peaks import search_peaks

        peaks = ObservedPeaks.from_search(search_peaks(scan))
    pool, hosts = candidate_pool(lib, system=system, elements=elements, peaks=peaks)
    result, _ = select_by_fit(scan, lib, pool, system=system, prefer=hosts, config=quant, match_config=match)
    return result
