"""Confirm an XRD ranking with a whole-pattern fit: the phases the data need come first.

Peak matching (:func:`~phasetrace.match.rank_candidates`) scores each phase by
the peaks it explains. It is fast, but it cannot weigh overlapping reflections
against each other: a minor phase whose peaks sit on a host's shoulders, or two
phases that share most positions, are ranked by heuristics. The whole-pattern
selection of :mod:`phasetrace.quantify` decides with the full profile instead
(every phase must lower the information criterion, be significant, and show
evidence where it dominates the pattern). This module runs that selection,
seeded by the ranking, and re-ranks:

1. the phases of the selected model, by weight fraction;
2. every other candidate, in its matching order.

Candidates keep their matching score and peaks; ``Candidate.fit`` carries the
fit's verdict, and the status follows it: a confirmed phase is ``"likely"``, a
``"likely"`` match that the fit does not need becomes ``"possible"``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from ..errors import PhasetraceError
from ..library.phases import PhaseLibrary
from ..scan import Scan
from .result import Ranking

__all__ = ["confirm_by_fit"]


def confirm_by_fit(
    scan: Scan,
    ranking: Ranking,
    library: PhaseLibrary,
    *,
    prefer: Collection[str] = (),
    config=None,
) -> Ranking:
    """Re-rank an XRD ranking by the phase set a whole-pattern fit selects.

    Parameters
    ----------
    scan : Scan
        The XRD scan that was ranked.
    ranking : Ranking
        Its ranking (testable candidates best first).
    library : PhaseLibrary
    prefer : collection of str
        Phases preferred among twins (the system's host phases).
    config : QuantConfig, optional

    Returns
    -------
    Ranking
        A new ranking; ``ranking.fit`` summarises the fit. A Raman ranking, or
        one without testable candidates, is returned unchanged.
    """
    from ..quantify import QuantConfig, quantify

    ranked = [c for c in ranking.candidates if c.rank is not None]
    if ranking.technique != "xrd" or not ranked:
        return ranking
    start = {c.id: {"scale": c.lattice_scale} for c in ranked if c.lattice_scale is not None}
    try:
        res = quantify(
            scan,
            None,
            config or QuantConfig(),
            library=library,
            candidates=[c.id for c in ranked],
            start=start,
            prefer=prefer,
        )
    except PhasetraceError as exc:  # e.g. no phase has a reflection in the scan's range
        return replace(ranking, fit={"rwp": None, "gof": None, "success": False, "message": str(exc)})
    summary = {"rwp": res.rwp, "gof": res.gof, "success": res.success, "message": res.message}
    if not res.success:
        return replace(ranking, fit=summary)  # a failed fit confirms nothing: the matching order stands
    by_id = {p.id: p for p in res.phases}
    verdict = {}
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
            "significance": round(float(sig), 2),
            "alternatives": list(p.alternatives),
        }
    found = sorted(
        (c for c in ranked if verdict.get(c.id, {}).get("detected")),
        key=lambda c: -verdict[c.id]["wt_percent"],
    )
    others = [c for c in ranked if c not in found]
    out = []
    for k, c in enumerate([*found, *others], start=1):
        v = verdict.get(c.id)
        status = c.status
        reason = c.reason
        if v is not None and v["detected"]:
            status = "likely"
        elif v is not None and c.status == "likely":
            status = "possible"
            reason = "not needed by the whole-pattern fit" + (f"; {reason}" if reason else "")
        out.append(replace(c, rank=k, status=status, reason=reason, fit=v))
    rest = [c for c in ranking.candidates if c.rank is None]
    return replace(ranking, candidates=(*out, *rest), fit=summary)
