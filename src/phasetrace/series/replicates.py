"""Replicate pellets: several scans of one system, technique and temperature, reported as one point.

Every replicate is analysed on its own (identification, refit with the series'
union, Raman test); this module merges their per-phase records into the one
record per temperature that onsets and tables read, and keeps the individual
values beside it.

The rules (also in the README):

* **Detection.** A phase is detected at a temperature when at least one
  replicate detects it. Each replicate's detection has already passed the
  per-scan evidence test (a significant scale factor carried by reflections or
  bands of the phase's own), so one pellet that shows it is evidence that the
  reaction happened at that temperature; the record says in how many of the
  replicates (``n_detected`` of ``n_replicates``) so a 1-of-3 detection can be
  judged. The evidence shown is that of the replicate with the strongest
  detection.
* **Weight fraction.** The mean over the replicates of the fitted wt % (a
  replicate in which the phase is not detected contributes its fitted value,
  which may be near zero); ``wt_sd`` is the sample standard deviation between
  pellets, and ``esd`` the larger of that spread and the replicates' typical
  fit esd (root mean square), so that two pellets that agree by chance do not
  produce an error bar smaller than one fit's own uncertainty.
* **Detection limit.** The largest of the replicates' limits: a phase detected
  in none is below that limit in every pellet.

With a single scan at a temperature its record is passed on unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["merge_replicates", "replicate_fields"]

#: What each replicate's entry in a merged record keeps of its own record (besides file and detected).
_PER_REPLICATE = ("wt_percent", "esd", "lod_wt_percent", "significance", "status")


def _strength(p: dict[str, Any]) -> tuple[bool, float]:
    """Order of replicates for the representative record: detected first, then by significance."""
    sig = p.get("significance")
    if sig is None and p.get("wt_percent") is not None and p.get("esd"):
        sig = p["wt_percent"] / p["esd"]
    return bool(p.get("detected")), float(sig) if sig is not None and math.isfinite(sig) else -math.inf


def _values(recs: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [
        float(r[key]) for r in recs if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))
    ]


def _merge_phase(items: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One phase's records from several replicates (file, record) -> one record with the individual values."""
    recs = [p for _, p in items]
    best = max(range(len(items)), key=lambda i: _strength(recs[i]))
    out = dict(recs[best])
    flags = [p.get("detected") for p in recs]
    tested = [f for f in flags if f is not None]
    out["detected"] = None if not tested else any(tested)
    wts, esds, lods = _values(recs, "wt_percent"), _values(recs, "esd"), _values(recs, "lod_wt_percent")
    if wts:
        mean = sum(wts) / len(wts)
        sd = math.sqrt(sum((w - mean) ** 2 for w in wts) / (len(wts) - 1)) if len(wts) > 1 else 0.0
        rms_esd = math.sqrt(sum(e * e for e in esds) / len(esds)) if esds else 0.0
        out["wt_percent"], out["wt_sd"], out["esd"] = mean, sd, max(sd, rms_esd)
    if lods:
        out["lod_wt_percent"] = max(lods)
    out["file"] = items[best][0]
    out["n_replicates"] = len(recs)
    out["n_detected"] = sum(1 for f in flags if f)
    out["replicates"] = [
        {
            "file": f,
            "detected": p.get("detected"),
            **{k: p[k] for k in _PER_REPLICATE if k in p},
        }
        for f, p in items
    ]
    return out


def merge_replicates(scans: Sequence[tuple[str, dict[str, dict[str, Any]]]]) -> dict[str, dict[str, Any]]:
    """Merge the per-phase records of the replicates at one temperature.

    Parameters
    ----------
    scans : sequence of (str, dict)
        Per replicate: its file and its records, phase id -> phase record
        (``detected``, ``wt_percent``, ``esd``, ``lod_wt_percent``, evidence ...).

    Returns
    -------
    dict
        Phase id -> merged record (see the module docstring); with one scan, its
        records unchanged. A merged record also has ``file`` (the replicate whose
        evidence it shows), ``n_replicates``, ``n_detected``, ``wt_sd`` and
        ``replicates`` (file, detected, wt %, esd, LoD of each).

    Examples
    --------
    >>> a = {"X": {"detected": True, "wt_percent": 2.0, "esd": 0.3, "lod_wt_percent": 0.5}}
    >>> b = {"X": {"detected": False, "wt_percent": 1.0, "esd": 0.3, "lod_wt_percent": 0.6}}
    >>> m = merge_replicates([("a.xy", a), ("b.xy", b)])["X"]
    >>> m["detected"], m["wt_percent"], m["n_detected"], m["file"], m["lod_wt_percent"]
    (True, 1.5, 1, 'a.xy', 0.6)
    """
    if len(scans) == 1:
        return scans[0][1]
    ids = list(dict.fromkeys(pid for _, recs in scans for pid in recs))
    return {pid: _merge_phase([(f, recs[pid]) for f, recs in scans if pid in recs]) for pid in ids}


def replicate_fields(*records: dict[str, Any] | None) -> dict[str, Any]:
    """The replicate keys of merged records (XRD, Raman) for a per-temperature table row; {} for one scan.

    Examples
    --------
    >>> replicate_fields({"wt_percent": 1.0}, None)
    {}
    """
    out: dict[str, Any] = {}
    for name, rec in zip(("xrd", "raman"), records, strict=False):
        if rec and rec.get("replicates"):
            out["n_replicates"] = max(out.get("n_replicates", 0), rec["n_replicates"])
            if name == "xrd":
                out["wt_sd"] = rec.get("wt_sd")
            out[f"replicates_{name}"] = rec["replicates"]
            out[f"n_detected_{name}"] = rec["n_detected"]
    return out
