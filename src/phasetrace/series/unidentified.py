"""Unidentified phases of a heating series: unexplained peaks that persist across temperatures.

Each refit of a series reads its residual (:mod:`phasetrace.quantify.residual`)
and lists the peaks no phase of the union explains. One scan's unexplained peak
may be a glitch; a set of peaks that appears at one temperature and is still
there at the next is a phase the library lacks (Mn3O4 or LiMnO2 from a Mn-rich
cathode, a crucible reaction product). It is reported as "unidentified phase
from T" with its peak list, and it counts in the onset table like any phase.

A residual peak that the single-scan reading names with a modelled reflection at least as high
within reach (``near``, :func:`phasetrace.quantify.residual.nearest_reflection`) is that
reflection's misfit, or a phase beneath it: a peak that stays such a misfit at every temperature it
is seen at is no evidence of a phase the library lacks, and is listed apart with its reflection
(:func:`misfit_reflections`), not dated as an onset. The 0.22° shoulders of every corundum
reflection of a corundum-rich round-robin mixture are the case.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .onsets import evolution
from .results import PhaseAtTemperature, PhaseSeries

__all__ = ["misfit_reflections", "unidentified_phases"]

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


#: The residual reading's name of a modelled reflection: "phase (h k l) +0.12°" (phase ids may hold
#: parentheses, CaNi(PO3)4: the hkl is the last parenthesised group).
_NEAR = re.compile(r"^(?P<phase>.+) \((?P<hkl>[^()]*)\) (?P<offset>[-+−]?\d+(?:\.\d+)?)°$")


def parse_near(near: str | None) -> tuple[str, str, float] | None:
    """(phase, "h k l", offset in degrees 2θ of the residual peak from it) of a ``near`` name, or None."""
    m = _NEAR.match(near or "")
    if m is None:
        return None
    return m["phase"], m["hkl"], float(m["offset"].replace("−", "-"))


def _persistent_tracks(tested: Sequence[float], quality_by_t: Mapping[float, Mapping[str, Any] | None]):
    """The unexplained-peak tracks that persist (:data:`PERSIST` temperatures, or seen at the last)."""
    peaks_by_t = {t: (quality_by_t[t] or {}).get("unexplained_peaks") or [] for t in tested}
    last = len(tested) - 1
    return [
        tr
        for tr in _tracks(tested, peaks_by_t)
        if len(tr) >= PERSIST or (min(tr) == last and last > 0)
    ]


def _is_misfit(track: Mapping[int, Mapping[str, Any]]) -> bool:
    """Whether every peak of a track lies at a modelled reflection at least as high (its misfit)."""
    return all(parse_near(p.get("near")) is not None for p in track.values())


def misfit_reflections(
    temps: Sequence[float],
    labels: Mapping[float, str],
    quality_by_t: Mapping[float, Mapping[str, Any] | None],
) -> list[dict[str, Any]]:
    """Persistent residual peaks that are the misfit of a modelled reflection (or a phase beneath it).

    Parameters
    ----------
    temps, labels, quality_by_t
        As for :func:`unidentified_phases`.

    Returns
    -------
    list of dict
        One per tracked peak, by phase and 2θ: ``phase``, ``hkl`` (the reflection most of its
        scans name), ``two_theta`` and ``d`` (means), ``offset`` (mean 2θ of the peak less the
        reflection's), largest ``share`` and ``sigma``, ``temperatures_C`` and ``labels``.
    """
    tested = [t for t in temps if quality_by_t.get(t) is not None]
    out = []
    for tr in _persistent_tracks(tested, quality_by_t):
        if not _is_misfit(tr):
            continue
        idx = sorted(tr)
        vals = [tr[i] for i in idx]
        named = [parse_near(p["near"]) for p in vals]
        (phase, hkl), _ = Counter((n[0], n[1]) for n in named if n).most_common(1)[0]
        offsets = [n[2] for n in named if n and (n[0], n[1]) == (phase, hkl)]
        out.append(
            {
                "phase": phase,
                "hkl": hkl,
                "two_theta": round(sum(p["two_theta"] for p in vals) / len(vals), 3),
                "d": round(sum(p["d"] for p in vals) / len(vals), 4),
                "offset": round(sum(offsets) / len(offsets), 2),
                "share": max(p["share"] for p in vals),
                "sigma": max(p["sigma"] for p in vals),
                "temperatures_C": [tested[i] for i in idx],
                "labels": [labels.get(tested[i], str(tested[i])) for i in idx],
            }
        )
    out.sort(key=lambda m: (m["phase"], m["two_theta"]))
    return out


def unidentified_phases(
    temps: Sequence[float],
    labels: Mapping[float, str],
    files: Mapping[float, str],
    quality_by_t: Mapping[float, Mapping[str, Any] | None],
) -> list[PhaseSeries]:
    """Phases of a series that the library does not explain, with their onsets.

    Tracks of peaks that are a modelled reflection's misfit at every temperature they are seen at
    are left out (:func:`misfit_reflections` lists them).

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
    # a peak that is a modelled reflection's misfit wherever it is seen is no phase the library lacks
    # (misfit_reflections lists it); one that is free of any modelled reflection at some temperature is
    keep = [tr for tr in _persistent_tracks(tested, quality_by_t) if not _is_misfit(tr)]
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
