"""The rules that turn a series' per-scan identifications into its refits: public and tested as such.

A series is analysed as a series: every XRD scan is identified on its own, then refitted with the
union of the phases found anywhere in its series, so that absence is measured (with a detection
limit) rather than assumed. These functions decide what goes into that union and where each
refit starts:

* :func:`identified` and :func:`raman_found`: what a scan's identification (XRD) or Raman test found;
* :func:`merge_twins`: one member of each group of isostructural twins in the union;
* :func:`refit_starts`: each refit's start values, a union phase the scan did not find held at its
  values from the nearest scan that did;
* :func:`attribute_raman_twins`: a Raman detection of indistinguishable phases goes to the member
  XRD found.

Records are the stored per-scan results (``{"status", "result": {"phases": [...], "start": {...}}}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..library.phases import PhaseLibrary

__all__ = ["attribute_raman_twins", "identified", "merge_twins", "raman_found", "refit_starts"]


def identified(rec: dict[str, Any] | None) -> list[str]:
    """The phases an identification record detected (none for a missing or failed task)."""
    if not rec or rec["status"] != "ok":
        return []
    return [p["id"] for p in rec["result"]["phases"] if p["detected"]]


def raman_found(lib: PhaseLibrary, recs: Sequence[dict[str, Any] | None], pool: Sequence[str]) -> list[str]:
    """Phases a system's Raman tests detected (any scan) that XRD can test: candidates, not Raman twins."""
    out: list[str] = []
    for rec in recs:
        if not rec or rec["status"] != "ok":
            continue
        for p in rec["result"]["phases"]:
            if p.get("detected") and p["id"] in pool and p["id"] in lib and p["id"] not in out:
                out.append(p["id"])
    return out


def merge_twins(
    lib: PhaseLibrary,
    found: list[str],
    count: dict[str, int],
    hosts: set[str],
    strength: dict[str, float] | None = None,
    together: set[frozenset[str]] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Keep one phase of each group of twins in a series' union.

    A host is kept; else the member found where the phase was strongest (``strength``: its
    largest wt %/esd over the scans; the strongest pattern tells twins apart best, while weak
    ones are decided by their reference cells), then the most often found (``count``: scans in
    which it was found). Twins that one scan's selection fitted side by side (``together``: NiO and
    MgO, both resolved) are two phases and both kept. Returns the union without the dropped twins,
    and dropped id -> kept id.
    """
    from ..quantify.selection import twins

    strength = strength or {}
    together = together or set()
    order = sorted(
        found, key=lambda p: (p not in hosts, -strength.get(p, 0.0), -count.get(p, 0), found.index(p))
    )
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for pid in order:
        twin = next((k for k in kept if twins(lib, pid, k) and frozenset((pid, k)) not in together), None)
        if twin is None:
            kept.append(pid)
        else:
            dropped[pid] = twin
    return [p for p in found if p in kept], dropped


def refit_starts(
    stage1: list[dict[str, Any]],
    records: dict[str, dict[str, Any]],
    union: dict[str, list[str]],
    merged: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per XRD file: the start values of its refit with the union, and the phases identified in it.

    A union phase that identification did not find in a scan enters its refit with the cell and
    profile refined where it was found (at the nearest temperature) held fixed: only its scale factor
    is fitted, so that a 3σ detection there is a one-parameter test and not the best of many cells
    and widths tried on the noise. A union phase no XRD identification of the series found (only
    Raman did, or only as a twin merged into it) has no such values: it is a trace for every scan,
    held at its library cell with the width an absent candidate's detection limit assumes
    (:data:`~phasetrace.quantify.limits.LOD_SIZE`), its scale factor the only term (the trace rule of
    the second stage: ΔB, cell and texture are refined for phases of a few wt %, held for traces).
    The refit then resumes the identification's fit (:mod:`phasetrace.quantify.resume`) instead of
    fitting two stages afresh.
    """
    from ..quantify.limits import LOD_SIZE

    done = [t for t in stage1 if records.get(t["key"]) and records[t["key"]]["status"] == "ok"]
    merged = merged or {}
    # a scan that found a dropped twin found the kept one (its start values, relative to the twin's
    # own reference cell, do not carry over)
    found = {
        t["path"]: {merged.get(t["system"], {}).get(pid, pid) for pid in identified(records[t["key"]])}
        for t in done
    }
    start = {t["path"]: records[t["key"]]["result"].get("start", {}) for t in done}
    out: dict[str, dict[str, Any]] = {}
    for t in done:
        st = dict(start[t["path"]])
        same = [u for u in done if u["system"] == t["system"]]
        for pid in union.get(t["system"], []):
            if pid in found[t["path"]]:
                continue
            where = [
                u for u in same if pid in found[u["path"]] and isinstance(start[u["path"]].get(pid), dict)
            ]
            if where:
                near = min(
                    where, key=lambda u: abs((u["temperature_C"] or 0.0) - (t["temperature_C"] or 0.0))
                )
                st[pid] = {**start[near["path"]][pid], "fixed": True}
            else:
                st[pid] = {"size": LOD_SIZE, "fixed": True}
        out[t["path"]] = {"start": st, "identified": sorted(found[t["path"]])}
    return out


def attribute_raman_twins(by_id: dict[str, Any], union: Sequence[str]) -> None:
    """Give a Raman detection of a group of indistinguishable phases to the member XRD found.

    The Raman fit tests one member of such a group (LaCoO3, LaNiO3, LaMnO3_R3c: one broad band) and
    reports the others with ``twin_of``; when XRD found another member, the evidence is its.
    """
    for pid, rec in list(by_id.items()):
        rep = rec.get("twin_of")
        if rec.get("status") != "indistinguishable" or not rep or rep not in by_id:
            continue
        if pid in union and rep not in union:
            tested = by_id[rep]
            by_id[pid] = {
                **rec,
                # the fitted band pattern is the evidence for either member
                **{k: tested[k] for k in ("significance", "bands", "band_areas", "shift") if k in tested},
                "detected": tested.get("detected"),
                "status": tested.get("status"),
                "reason": f"Raman cannot tell it from {rep}; the band pattern was tested as {rep}",
            }
            by_id[rep] = {**tested, "detected": None, "status": "indistinguishable", "twin_of": pid}
