"""Unidentified phases of a heating series: unexplained peaks that persist across temperatures.

Each refit of a series reads its residual (:mod:`phasetrace.quantify.residual`)
and lists the peaks no phase of the union explains. One scan's unexplained peak
may be a glitch; a set of peaks that appears at one temperature and is still
there at the next is a phase the library lacks (Mn3O4 or LiMnO2 from a Mn-rich
cathode, a crucible reaction product). It is reported as "unidentified phase
from T" with its peak list, and it counts in the onset table like any phase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .onsets import evolution
from .results import PhaseAtTemperature, PhaseSeries

__all__ = ["unidentified_phases"]

#: Unexplained peaks of neighbouring temperatures within this many degrees 2θ are the same reflection
#: (a cell that expands with temperature or composition moves a peak by a few hundredths of a degree).
TRACK_TOLERANCE = 0.2
#: A reflection counts once it is unexplained at this many consecutive temperatures (or at the last).
PERSIST = 2
#: An unidentified phase needs at least this many persistent reflections appearing together.
MIN_PEAKS = 2


def _tracks(temps: Sequence[float], peaks_by_t: Mapping[float, Sequence[Mapping[str, Any]]]):
    """Follow unexplained peaks from temperature to temperature: list of {t index -> peak}."""
    tracks: list[dict[int, Mapping[str, Any]]] = []
    for i, t in enumerate(temps):
        for pk in peaks_by_t.get(t, ()) or ():
            best = None
            for tr in tracks:
                last = max(tr)
                if last != i - 1 or i in tr:
                    continue
                dist = abs(tr[last]["two_theta"] - pk["two_theta"])
                if dist <= TRACK_TOLERANCE and (best is None or dist < best[0]):
                    best = (dist, tr)
            if best is not None:
                best[1][i] = pk
            else:
                tracks.append({i: pk})
    return tracks


def unidentified_phases(
    temps: Sequence[float],
    labels: Mapping[float, str],
    files: Mapping[float, str],
    quality_by_t: Mapping[float, Mapping[str, Any] | None],
) -> list[PhaseSeries]:
    """Phases of a series that the library does not explain, with their onsets.

    Parameters
    ----------
    temps : sequence of float
        The series' temperatures, increasing.
    labels, files : mapping
        Temperature -> label, and -> XRD file.
    quality_by_t : mapping
        Temperature -> the refit's fit-quality dictionary (``FitQuality.to_dict``), or None where
        no XRD refit exists.

    Returns
    -------
    list of PhaseSeries
        One per unidentified phase (``role`` "unidentified", formula "?"), with its onset,
        ``peaks``: its reflections (mean 2θ and d, largest share of the diffracted intensity and
        significance, temperatures) and ``first_seen_C``.
    """
    tested = [t for t in temps if quality_by_t.get(t) is not None]
    peaks_by_t = {t: (quality_by_t[t] or {}).get("unexplained_peaks") or [] for t in tested}
    tracks = _tracks(tested, peaks_by_t)
    last = len(tested) - 1
    keep = []
    for tr in tracks:
        idx = sorted(tr)
        run = len(idx)
        if run >= PERSIST or (idx[0] == last and last > 0):
            keep.append(tr)
    groups: dict[int, list[dict[int, Mapping[str, Any]]]] = {}
    for tr in keep:
        groups.setdefault(min(tr), []).append(tr)
    # reflections that appear while an unidentified phase is already there are taken as its weaker
    # reflections growing in (XRD alone cannot tell a second unknown phase from a growing first one)
    merged: dict[int, list[dict[int, Mapping[str, Any]]]] = {}
    for first, trs in sorted(groups.items()):
        host = next(
            (f for f, ts in merged.items() if len(ts) >= MIN_PEAKS and any(first - 1 in tr for tr in ts)),
            None,
        )
        if host is not None:
            merged[host] += trs
        else:
            merged[first] = list(trs)
    out = []
    for first, trs in sorted(merged.items()):
        if len(trs) < MIN_PEAKS:
            continue
        present = set().union(*(set(tr) for tr in trs))
        flags: list[bool | None] = []
        for t in temps:
            flags.append(None if t not in tested else tested.index(t) in present)
        ev = evolution(temps, flags)
        t0 = tested[first]
        peaks = []
        for tr in sorted(trs, key=lambda tr: -max(p["share"] for p in tr.values())):
            vals = list(tr.values())
            tt = sum(p["two_theta"] for p in vals) / len(vals)
            d = sum(p["d"] for p in vals) / len(vals)
            peaks.append(
                {
                    "two_theta": round(tt, 3),
                    "d": round(d, 4),
                    "share": max(p["share"] for p in vals),
                    "sigma": max(p["sigma"] for p in vals),
                    "temperatures_C": [tested[i] for i in sorted(tr)],
                }
            )
        peaks.sort(key=lambda p: p["two_theta"])
        name = f"unidentified from {labels.get(t0, t0)}"
        out.append(
            PhaseSeries(
                id=name,
                formula="?",
                role="unidentified",
                alternatives=(),
                onset={"xrd": ev.to_list(), "raman": None, "combined": ev.to_list()},
                onset_basis="XRD (unexplained peaks)" if ev.onset else None,
                evidence={
                    "xrd": {
                        "temperature_C": t0,
                        "label": labels.get(t0),
                        "file": files.get(t0),
                        "reflections": [
                            {k: p[k] for k in ("two_theta", "d", "share", "sigma")} for p in peaks
                        ],
                    },
                    "raman": None,
                },
                present_from_start=ev.present_from_start,
                vanishes_at=ev.vanishes_at,
                raman_testable=False,
                by_temperature={
                    labels[t]: PhaseAtTemperature(
                        temperature_C=t,
                        wt_percent=None,
                        esd=None,
                        lod_wt_percent=None,
                        detected_xrd=f,
                        raman=None,
                    )
                    for t, f in zip(temps, flags, strict=True)
                },
                peaks=tuple(peaks),
                first_seen_C=t0,
            )
        )
    return out
