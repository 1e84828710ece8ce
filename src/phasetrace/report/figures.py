"""Figures of a series run: waterfall with zoom windows, wt % against T, onsets, Raman stack, lattice.

Each ``plot_*`` draws on an Axes (``ax=None`` makes a figure) and returns it; the functions take
the per-system dictionaries of :class:`phasetrace.series.SeriesRun` and, where a figure needs the
measured or fitted curves, the run's profiles (:func:`profiles_by_file`). One
:class:`~phasetrace.report.style.PhaseColours` made from the whole run (:func:`run_colours`) gives
every phase the same colour in every figure.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .hkl import conventional_hkl, format_hkl
from .style import FAMILY_MARKERS, PhaseColours, documents, figure_style, phase_label, temperature_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "diagnostic_windows",
    "plot_lattice_vs_temperature",
    "plot_onsets",
    "plot_raman_stack",
    "plot_waterfall",
    "plot_wt_vs_temperature",
    "profiles_by_file",
    "run_colours",
    "temperature_label",
]

#: Half-width (degrees 2θ) of a zoom window around a new phase's diagnostic reflection.
WINDOW_HALF_WIDTH = 1.5

#: Raman bands marked per phase: every band at least this fraction of its strongest band.
RAMAN_STRONG = 0.25


def run_colours(systems: Sequence[dict[str, Any]]) -> PhaseColours:
    """One colour per phase of a run, in the order the phases are first met (hosts of a system first)."""
    ids: list[str] = []
    for s in documents(systems):
        phases = sorted(s["phases"], key=lambda p: p["role"] != "host")
        ids += [p["id"] for p in phases if p["id"] not in ids]
    return PhaseColours(ids)


def profiles_by_file(
    records: dict[str, dict[str, Any]] | Sequence[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """File -> unpacked fitted profile of its refit (``two_theta``, ``observed``, ... , ``phases``).

    Records without a profile (older stores, failed fits) are left out.
    """
    from ..series.store import unpack_arrays

    out: dict[str, dict[str, Any]] = {}
    recs = records.values() if isinstance(records, dict) else records
    for rec in recs:
        if not rec or rec.get("stage") != "refit" or rec.get("status") != "ok":
            continue
        res = rec.get("result") or {}
        prof = res.get("profile")
        if not prof:
            continue
        cols = unpack_arrays(prof)
        out[rec["file"]] = {
            "two_theta": cols["two_theta"],
            "observed": cols["observed"],
            "calculated": cols["calculated"],
            "background": cols["background"],
            "phases": {k.split(":", 1)[1]: v for k, v in cols.items() if k.startswith("phase:")},
            "ticks": {k: np.asarray(v, float) for k, v in (prof.get("ticks") or {}).items()},
            "wavelength": prof.get("wavelength"),
            "result": res,
        }
    return out


def spectra_by_file(
    records: dict[str, dict[str, Any]] | Sequence[dict[str, Any]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """File -> (Raman shift, intensity) of the spectra the run's Raman tasks read.

    Records without a spectrum (older stores) are left out; their files are read again.
    """
    from ..series.store import unpack_arrays

    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for rec in records.values() if isinstance(records, dict) else records:
        if not rec or rec.get("stage") != "raman":
            continue
        spec = (rec.get("result") or {}).get("spectrum")
        if spec:
            cols = unpack_arrays(spec)
            out[rec["file"]] = (cols["x"], cols["y"])
    return out


def _load(path: str):
    from ..io import load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load(path)


def _xy_of(scan) -> tuple[np.ndarray, np.ndarray]:
    return scan.x, scan.y


def _xy(f: dict[str, Any], profiles: dict[str, dict[str, Any]] | None):
    prof = (profiles or {}).get(f["file"])
    if prof is not None:
        return prof["two_theta"], prof["observed"]
    scan = _load(f["file"])
    return scan.x, scan.y


def _legend_outside(ax: Axes, handles=None, labels=None, **kw) -> None:
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        handles, labels = list(uniq.values()), list(uniq.keys())
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kw)


def _marker(library, pid: str) -> str:
    return FAMILY_MARKERS.get(library[pid].family, "v") if library is not None and pid in library else "v"


def _new_phase_marks(
    system: dict[str, Any], library, wavelength: float | None = None
) -> list[dict[str, Any]]:
    """Per non-host phase first seen by XRD: the temperature and its diagnostic reflections."""
    marks = []
    for p in system["phases"]:
        ev = (p.get("evidence") or {}).get("xrd")
        if p["role"] == "host" or not ev or not ev.get("reflections"):
            continue
        refl = library.reflections(p["id"]) if library is not None and p["id"] in library else None
        rows = []
        for r in ev["reflections"][:3]:
            hkl = r["hkl"][0] if r.get("hkl") else None
            if hkl is not None and refl is not None:
                hkl = conventional_hkl(hkl, refl.space_group, refl.cell)
            rows.append({"two_theta": float(r["two_theta"]), "label": format_hkl(hkl) if hkl else ""})
        marks.append({"id": p["id"], "temperature_C": ev["temperature_C"], "reflections": rows})
    return marks


def diagnostic_windows(system: dict[str, Any], *, most: int = 3) -> list[tuple[float, float]]:
    """Zoom windows on the reflections that carry each new phase's first XRD detection.

    Each window is ±``WINDOW_HALF_WIDTH``° around a phase's strongest evidence reflection;
    overlapping windows are merged; at most ``most``, in increasing 2θ.
    """
    system = documents([system])[0]
    centres = []
    for p in system["phases"]:
        ev = (p.get("evidence") or {}).get("xrd")
        if p["role"] != "host" and ev and ev.get("reflections"):
            centres.append(float(ev["reflections"][0]["two_theta"]))
    wins: list[list[float]] = []
    for c in sorted(centres):
        lo, hi = c - WINDOW_HALF_WIDTH, c + WINDOW_HALF_WIDTH
        if wins and lo <= wins[-1][1]:
            wins[-1][1] = max(wins[-1][1], hi)
        else:
            wins.append([lo, hi])
    wins = sorted(wins, key=lambda w: w[0])
    if len(wins) > most:  # keep the windows of the earliest phases
        wins = wins[:most]
    # whole half degrees: windows a reader can quote
    return [(float(np.floor(2 * a) / 2), float(np.ceil(2 * b) / 2)) for a, b in wins]


def plot_waterfall(
    system: dict[str, Any],
    library=None,
    ax: Axes | None = None,
    *,
    offset: float = 1.0,
    windows: Sequence[tuple[float, float]] | None = None,
    colours: PhaseColours | None = None,
    profiles: dict[str, dict[str, Any]] | None = None,
) -> Axes:
    """XRD patterns of a series stacked by temperature (√ intensity), with zoom windows.

    A phase's diagnostic reflections are marked on the trace of the temperature where it first
    appears, with their hkl. ``windows`` (2θ ranges; by default :func:`diagnostic_windows`) get
    panels of their own to the right of the whole pattern, each trace scaled within the window.

    Returns
    -------
    matplotlib Axes
        The whole-pattern axes.
    """
    system = documents([system])[0]
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    files = sorted((f for f in system["files"] if f["technique"] == "xrd"), key=lambda f: f["temperature_C"])
    colours = colours or run_colours([system])
    wins = list(diagnostic_windows(system) if windows is None else windows)
    marks = _new_phase_marks(system, library)
    with figure_style():
        h = 1.4 + 0.55 * max(len(files), 1)
        if ax is None:
            fig = plt.figure(figsize=(4.2 + 2.0 * len(wins), h))
            gs = fig.add_gridspec(1, 1 + len(wins), width_ratios=[3.2] + [1.6] * len(wins), wspace=0.08)
            ax = fig.add_subplot(gs[0, 0])
            zooms = [fig.add_subplot(gs[0, k + 1], sharey=ax) for k in range(len(wins))]
        else:
            zooms = [ax.inset_axes((1.02 + 0.42 * k, 0, 0.4, 1), sharey=ax) for k in range(len(wins))]
        data = [(f, *_xy(f, profiles)) for f in files]
        for k, (f, x, y) in enumerate(data):
            r = np.sqrt(np.maximum(y, 0))
            base = k * offset
            r0 = (r - r.min()) / max(float(np.ptp(r)), 1e-12) * 0.9
            ax.plot(x, r0 + base, lw=0.6, color="0.15")
            for z, (lo, hi) in zip(zooms, wins, strict=True):
                m = (x >= lo) & (x <= hi)
                if m.sum() < 2:
                    continue
                rz = (r[m] - r[m].min()) / max(float(np.ptp(r[m])), 1e-12) * 0.9
                z.plot(x[m], rz + base, lw=0.7, color="0.15")
            for mk in marks:
                if abs(mk["temperature_C"] - f["temperature_C"]) > 1e-6:
                    continue
                c = colours[mk["id"]]
                for axis, norm in [(ax, None)] + [(z, w) for z, w in zip(zooms, wins, strict=True)]:
                    labelled: list[tuple[float, Any]] = []  # (2θ, annotation) of this phase in this panel
                    for refl in mk["reflections"]:
                        t = refl["two_theta"]
                        lo, hi = norm if norm else (x[0], x[-1])
                        if not lo <= t <= hi:
                            continue
                        m = (x >= lo) & (x <= hi)
                        rr = r[m]
                        yy = (rr - rr.min()) / max(float(np.ptp(rr)), 1e-12) * 0.9
                        near = np.abs(x[m] - t) < 0.004 * (hi - lo) + 0.05
                        ytop = float(np.max(yy[near])) if near.any() else float(np.interp(t, x[m], yy))
                        axis.plot(
                            t,
                            base + ytop + 0.07,
                            marker=_marker(library, mk["id"]),
                            color=c,
                            ms=5,
                            ls="none",
                            zorder=4,
                        )
                        if norm and refl["label"]:
                            # reflections closer than a label's width share one label: "(1 1 0)/(2 0 0)"
                            close = [a for tt, a in labelled if abs(tt - t) < 0.06 * (hi - lo)]
                            if close:
                                close[0].set_text(f"{close[0].get_text()}/{refl['label']}")
                                continue
                            ann = axis.annotate(
                                refl["label"],
                                (t, base + ytop + 0.12),
                                xytext=(0, 2),
                                textcoords="offset points",
                                ha="center",
                                va="bottom",
                                fontsize=5.5,
                                color=c,
                                rotation=90,
                            )
                            labelled.append((t, ann))
        n = max(len(data), 1)
        ax.set_ylim(-0.05, (n - 1) * offset + 1.45)  # room for the hkl labels of the top trace
        ax.set_yticks([k * offset for k in range(len(data))])
        ax.set_yticklabels([temperature_label(f["temperature_C"], system) for f, _, _ in data])
        ax.tick_params(axis="y", length=0)
        ax.set_ylabel("√intensity, offset by temperature")
        ax.set_xlabel("2θ (°)")
        if data:
            ax.set_xlim(min(float(d[1][0]) for d in data), max(float(d[1][-1]) for d in data))
        ax.set_title(system["system"], loc="left")
        for z, (lo, hi) in zip(zooms, wins, strict=True):
            z.set_xlim(lo, hi)
            z.tick_params(axis="y", labelleft=False, length=0)
            z.set_xlabel("2θ (°)")
            z.locator_params(axis="x", nbins=3)
            z.set_title(f"{lo:g}–{hi:g}°", fontsize=8)
            ax.axvspan(lo, hi, color="0.93", zorder=0, lw=0)
        handles = [
            Line2D(
                [],
                [],
                ls="none",
                marker=_marker(library, mk["id"]),
                color=colours[mk["id"]],
                ms=5,
                label=f"{phase_label(mk['id'])} (new at {temperature_label(mk['temperature_C'], system)})",
            )
            for mk in marks
        ]
        last = zooms[-1] if zooms else ax
        _legend_outside(last, handles, [hd.get_label() for hd in handles])
    return ax


def _value(v: dict[str, Any], key: str) -> float:
    x = v.get(key)
    return float(x) if x is not None else np.nan


def plot_wt_vs_temperature(
    system: dict[str, Any], ax: Axes | None = None, *, colours: PhaseColours | None = None
) -> Axes:
    """Weight fraction of every phase against temperature, hosts included.

    Detected values with ± esd bars (filled markers); non-detections as open downward
    triangles at the phase's own detection limit ("below this"), in the phase's colour.
    Hosts (tens of wt %) are drawn in an upper panel, the other phases in the lower one, so that
    a host vanishing and a minor phase appearing are both visible.

    Returns
    -------
    matplotlib Axes
        The axes of the non-host phases.
    """
    system = documents([system])[0]
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colours = colours or run_colours([system])
    hosts = [p for p in system["phases"] if p["role"] == "host"]
    minors = [p for p in system["phases"] if p["role"] != "host"]
    with figure_style():
        if ax is None:
            fig, (hax, ax) = plt.subplots(
                2, 1, figsize=(6.4, 5.2), sharex=True, height_ratios=[1, 1.4] if hosts else [0.01, 1]
            )
            if not hosts:
                hax.set_visible(False)
        else:
            hax = ax.inset_axes((0, 1.08, 1, 0.6), sharex=ax) if hosts else None
        for axis, group in ((hax, hosts), (ax, minors)):
            if axis is None or not group:
                continue
            for p in group:
                c = colours[p["id"]]
                vals = [p["wt_percent_by_T"][lab] for lab in system["labels"]]
                t = np.array([v["temperature_C"] for v in vals], float)
                det = np.array([bool(v["detected_xrd"]) for v in vals])
                wt = np.array([_value(v, "wt_percent") for v in vals])
                esd = np.array([_value(v, "esd") for v in vals])
                lod = np.array([_value(v, "lod_wt_percent") for v in vals])
                shown = np.where(det, wt, np.nan)
                axis.errorbar(
                    t,
                    shown,
                    yerr=np.where(det, esd, np.nan),
                    marker="o",
                    ms=4,
                    capsize=2.5,
                    lw=1.0,
                    color=c,
                    label=phase_label(p["id"]),
                )
                nd = ~det & np.isfinite(lod)
                if nd.any():
                    axis.plot(t[nd], lod[nd], ls="none", marker="v", mfc="none", mew=1.0, ms=5, color=c)
            axis.set_ylim(bottom=0)
            axis.set_ylabel("wt % (host)" if axis is hax else "wt %")
        ax.set_xlabel("sintering temperature (°C)")
        temps = system["temperatures"]
        ax.set_xticks(temps)
        ax.set_xticklabels([temperature_label(t, system) for t in temps])
        (hax if hosts and hax is not None else ax).set_title(
            f"{system['system']}: wt % of the crystalline part", loc="left"
        )
        handles = [
            Line2D([], [], marker="o", ms=4, color=colours[p["id"]], label=phase_label(p["id"]))
            for p in hosts + minors
        ]
        handles += [
            Line2D([], [], ls="none", marker="o", ms=4, color="0.3", label="detected (± esd)"),
            Line2D(
                [],
                [],
                ls="none",
                marker="v",
                mfc="none",
                ms=5,
                color="0.3",
                label="not detected: below this (LoD)",
            ),
        ]
        _legend_outside(hax if hosts and hax is not None else ax, handles, [h.get_label() for h in handles])
    return ax


def plot_onsets(
    systems: Sequence[dict[str, Any]],
    library=None,
    ax: Axes | None = None,
    *,
    colours: PhaseColours | None = None,
) -> Axes:
    """Onset summary: per system and phase, the onset interval by XRD, by Raman, or by both.

    An onset is the interval (last temperature without, first with): a bar across it, filled for
    XRD, hatched for Raman, filled and hatched where both give the same interval. A cross marks
    the temperature at which a phase (hosts included) vanishes again.

    Returns
    -------
    matplotlib Axes
    """
    systems = documents(systems)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours = colours or run_colours(systems)
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for s in systems:
        for p in s["phases"]:
            o = p["onset"]
            if o.get("xrd") or o.get("raman") or o.get("combined") or p.get("vanishes_at") is not None:
                rows.append((s["system"], s, p))
    with figure_style():
        if ax is None:
            _, ax = plt.subplots(figsize=(7.0, 1.2 + 0.24 * max(len(rows), 3)))
        tmin = min((min(s["temperatures"]) for s in systems), default=0.0)
        tmax = max((max(s["temperatures"]) for s in systems), default=1.0)
        step = min(
            (np.min(np.diff(s["temperatures"])) for s in systems if len(s["temperatures"]) > 1), default=50.0
        )
        labels = []
        prev = None
        for k, (name, s, p) in enumerate(rows):
            c = colours[p["id"]]
            o = p["onset"]
            if prev is not None and name != prev:
                ax.axhline(k - 0.5, color="0.8", lw=0.6)
            prev = name
            ax.hlines(k, min(s["temperatures"]), max(s["temperatures"]), color="0.9", lw=5, zorder=0)
            x, r = o.get("xrd"), o.get("raman")
            same = x is not None and r is not None and x == r
            for iv, kind in ((x, "xrd"), (r, "raman")):
                if iv is None or (same and kind == "raman"):
                    continue
                lo = iv[0] if iv[0] is not None else iv[1] - 0.5 * step
                both = x is not None and r is not None
                dy = 0.0 if same or not both else (-0.17 if kind == "xrd" else 0.17)
                height = 0.32 if both and not same else 0.5
                if same:  # XRD and Raman: filled, with a white hatch
                    ax.barh(
                        k, iv[1] - lo, left=lo, height=height, color=c, edgecolor="white", hatch="////", lw=0
                    )
                elif kind == "xrd":
                    ax.barh(k + dy, iv[1] - lo, left=lo, height=height, color=c, edgecolor=c, lw=0.8)
                else:
                    ax.barh(
                        k + dy,
                        iv[1] - lo,
                        left=lo,
                        height=height,
                        color="none",
                        edgecolor=c,
                        hatch="////",
                        lw=0.8,
                    )
            if p.get("vanishes_at") is not None:
                ax.plot(p["vanishes_at"], k, marker="X", ms=7, color=c, mec="k", mew=0.5, ls="none")
            alts = p.get("alternatives") or []
            labels.append(f"{name}: {phase_label(p['id'])}" + (" (or twin)" if alts else ""))
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels, fontsize=7)
        for lab, (_, _, p) in zip(ax.get_yticklabels(), rows, strict=True):
            lab.set_color(colours[p["id"]])
        # one row's height without any onset: limits (-0.5, -0.5) are singular (matplotlib warns)
        ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        ax.set_xlim(tmin - 0.6 * step, tmax + 0.6 * step)
        ax.set_xlabel("temperature (°C)")
        ax.set_title("Onsets (last temperature without → first with) and vanishing", loc="left")
        handles = [
            Patch(facecolor="0.4", edgecolor="0.4", label="XRD"),
            Patch(facecolor="none", edgecolor="0.4", hatch="////", label="Raman"),
            Patch(facecolor="0.4", edgecolor="white", hatch="////", lw=0, label="XRD and Raman"),
            Line2D([], [], ls="none", marker="X", ms=7, color="0.4", mec="k", mew=0.5, label="vanishes"),
        ]
        _legend_outside(ax, handles, [h.get_label() for h in handles])
        if not rows:
            ax.text(0.5, 0.5, "no onsets", transform=ax.transAxes, ha="center")
    return ax


def _spread(positions: list[float], min_gap: float) -> list[int]:
    """Label rows so that labels closer than ``min_gap`` go to different rows (greedy, left to right)."""
    last: list[float] = []
    rows = []
    for x in positions:
        for k, lx in enumerate(last):
            if x - lx >= min_gap:
                last[k] = x
                rows.append(k)
                break
        else:
            last.append(x)
            rows.append(len(last) - 1)
    return rows


def plot_raman_stack(
    system: dict[str, Any],
    library=None,
    ax: Axes | None = None,
    *,
    offset: float = 1.0,
    colours: PhaseColours | None = None,
    spectra: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Axes:
    """Raman spectra of a series stacked by temperature, with every strong band of the phases found.

    Bands of at least ``RAMAN_STRONG`` of a phase's strongest band are marked by a line in the
    phase's colour above the spectra; phase labels sit in rows above them, never on top of each
    other or of the title. ``spectra`` (file -> (x, y), :func:`spectra_by_file`) are the spectra as
    the run read them; a file not in it is read again.

    Returns
    -------
    matplotlib Axes
    """
    system = documents([system])[0]
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colours = colours or run_colours([system])
    files = sorted(
        (f for f in system["files"] if f["technique"] == "raman"), key=lambda f: f["temperature_C"]
    )
    found = [p for p in system["phases"] if _raman_seen(p)]
    with figure_style():
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 1.8 + 0.6 * max(len(files), 1)))
        xs = []
        for k, f in enumerate(files):
            sx, sy = (spectra or {}).get(f["file"]) or _xy_of(_load(f["file"]))
            y = (sy - np.percentile(sy, 2)) / max(float(np.ptp(sy)), 1e-12) * 0.9
            ax.plot(sx, y + k * offset, lw=0.7, color="0.15")
            xs.append((float(sx.min()), float(sx.max())))
        top = offset * max(len(files), 1)
        lo = min((a for a, _ in xs), default=100.0)
        hi = max((b for _, b in xs), default=1200.0)
        marks = []
        for p in found:
            bands = library.raman_bands(p["id"]) if library is not None and p["id"] in library else None
            if not bands:
                continue
            imax = max(float(b.rel_intensity or 0.0) for b in bands)
            for b in bands:
                if float(b.rel_intensity or 0.0) >= RAMAN_STRONG * imax and lo <= b.position <= hi:
                    marks.append((float(b.position), p["id"]))
        marks.sort()
        label_rows = _spread([m[0] for m in marks], 0.035 * (hi - lo))
        nrows = max(label_rows, default=-1) + 1
        for (pos, pid), row in zip(marks, label_rows, strict=True):
            c = colours[pid]
            ax.vlines(pos, -0.05, top + 0.05, color=c, lw=0.6, ls=(0, (3, 2)), zorder=0)
            ax.text(pos, top + 0.12 + 0.32 * row, f"{pos:.0f}", color=c, fontsize=6, ha="center", va="bottom")
        ax.set_ylim(-0.1, top + 0.2 + 0.32 * nrows)
        ax.set_xlim(lo, hi)
        ax.set_yticks([k * offset for k in range(len(files))])
        ax.set_yticklabels([temperature_label(f["temperature_C"], system) for f in files])
        ax.tick_params(axis="y", length=0)
        ax.set_ylabel("intensity (normalised), offset by temperature")
        ax.set_xlabel("Raman shift (cm⁻¹)")
        ax.set_title(f"{system['system']}: Raman", loc="left")
        handles = [
            Line2D(
                [], [], color=colours[p["id"]], lw=1.0, ls=(0, (3, 2)), label=f"{phase_label(p['id'])} bands"
            )
            for p in found
            if any(pid == p["id"] for _, pid in marks)
        ]
        _legend_outside(ax, handles, [h.get_label() for h in handles])
    return ax


def _raman_seen(p: dict[str, Any]) -> bool:
    return (
        any(v.get("raman") == "detected" for v in p["wt_percent_by_T"].values())
        or bool((p.get("onset") or {}).get("raman"))
        or (p["role"] == "host" and p.get("raman_testable", False))
    )


#: Margins of the lattice figure (inches): left, right, top, bottom, and the gaps between panels
#: (width: the next panel's tick labels and y label; height: a row's title above its panels).
_LATTICE_MARGINS = (0.75, 0.1, 0.5, 0.5, 0.85, 0.35)


#: Cell parameters drawn against temperature, per crystal family: cubic a; others a and c and c/a.
def _cell_series(system: dict[str, Any], profiles: dict[str, dict[str, Any]]) -> dict[str, dict[str, list]]:
    """Phase -> {T, a, c, a_esd, c_esd} over the scans in which the phase was detected."""
    out: dict[str, dict[str, list]] = {}
    for f in sorted(system["files"], key=lambda f: f["temperature_C"]):
        prof = profiles.get(f["file"])
        if f["technique"] != "xrd" or prof is None:
            continue
        for p in prof["result"].get("phases", []):
            if not p.get("detected") or not p.get("cell"):
                continue
            esd = p.get("cell_esd") or {}
            d = out.setdefault(p["id"], {k: [] for k in ("T", "a", "c", "a_esd", "c_esd")})
            d["T"].append(f["temperature_C"])
            for k in ("a", "c"):
                d[k].append(float(p["cell"].get(k, np.nan)))
                d[f"{k}_esd"].append(float(esd[k]) if esd.get(k) is not None else np.nan)
    return out


def plot_lattice_vs_temperature(
    system: dict[str, Any],
    profiles: dict[str, dict[str, Any]],
    ax: Axes | None = None,
    *,
    colours: PhaseColours | None = None,
) -> Axes:
    """Refined lattice parameters against temperature, with esd where the fit gives one.

    One row per phase detected at two or more temperatures: a (and c and c/a for non-cubic cells).

    Returns
    -------
    matplotlib Axes
        The first panel.
    """
    system = documents([system])[0]
    import matplotlib.pyplot as plt

    colours = colours or run_colours([system])
    series = {k: v for k, v in _cell_series(system, profiles).items() if len(v["T"]) >= 2}
    with figure_style():
        if not series:
            if ax is None:
                _, ax = plt.subplots(figsize=(5, 2))
            ax.text(0.5, 0.5, "no phase refined at two temperatures", ha="center", transform=ax.transAxes)
            ax.set_axis_off()
            return ax
        panels_of = {}
        for pid, d in series.items():
            a, c_ = np.array(d["a"]), np.array(d["c"])
            ae, ce = np.array(d["a_esd"]), np.array(d["c_esd"])
            panels = [("a (Å)", a, ae)]
            if not np.allclose(a, c_, rtol=1e-6):
                panels.append(("c (Å)", c_, ce))
                ratio = c_ / a
                # an isotropic cell scale keeps c/a at its reference value: nothing to show
                if np.ptp(ratio) > 1e-7 * np.mean(ratio):
                    panels.append(("c/a", ratio, ratio * np.sqrt((ae / a) ** 2 + (ce / c_) ** 2)))
            panels_of[pid] = panels
        ncol = max(len(v) for v in panels_of.values())
        temps = [t for d in series.values() for t in d["T"]]
        span = (min(temps), max(temps))
        pad = 0.06 * max(span[1] - span[0], 1.0)
        if ax is not None:
            axes = np.array([[ax] + [None] * (ncol - 1)])
            panels_of = dict(list(panels_of.items())[:1])
        else:
            # only the panels that are drawn get axes (a grid of rows x ncol with the empty cells left
            # out: an axes costs as much to create and lay out as to draw); x shared, tick labels on the
            # last row (and where the code below puts them back), as subplots(sharex=True) has them.
            # Fixed margins in inches instead of the constrained layout engine (which cost as much as
            # drawing the figure twice): y tick labels and label left of every panel, a title above
            # every row; x labels sit only under a panel with no panel below it
            nrow = len(panels_of)
            width, height = 2.5 * ncol + 1.2, 1.6 * nrow + 0.8
            fig = plt.figure(figsize=(width, height))
            left, right, top, bottom, wgap, hgap = _LATTICE_MARGINS
            panel_w = (width - left - right - (ncol - 1) * wgap) / ncol
            panel_h = (height - top - bottom - (nrow - 1) * hgap) / nrow
            grid = fig.add_gridspec(
                nrow,
                ncol,
                left=left / width,
                right=1 - right / width,
                top=1 - top / height,
                bottom=bottom / height,
                wspace=wgap / panel_w,
                hspace=hgap / panel_h,
            )
            axes = np.full((len(panels_of), ncol), None, dtype=object)
            for r, panels in enumerate(panels_of.values()):
                for k2 in range(len(panels)):
                    axes[r, k2] = fig.add_subplot(grid[r, k2], sharex=axes[0, 0])
                    if r < len(panels_of) - 1:
                        axes[r, k2].xaxis.set_tick_params(which="both", labelbottom=False)
        first = None
        for r, (pid, panels) in enumerate(panels_of.items()):
            c = colours[pid]
            t = np.array(series[pid]["T"])
            for k2 in range(ncol):
                axis = axes[r, k2]
                if axis is None or k2 >= len(panels):
                    continue
                name, v, e = panels[k2]
                axis.errorbar(
                    t,
                    v,
                    yerr=np.where(np.isfinite(e), e, np.nan),
                    marker="o",
                    ms=3.5,
                    capsize=2,
                    color=c,
                    lw=0.9,
                )
                axis.set_ylabel(name)
                axis.ticklabel_format(axis="y", useOffset=False)
                axis.locator_params(axis="y", nbins=4)
                axis.set_xlim(span[0] - pad, span[1] + pad)
                if k2 == 0:
                    axis.set_title(phase_label(pid), loc="left", color=c, fontsize=8.5)
                if r == len(panels_of) - 1 or (
                    r + 1 < len(panels_of) and k2 >= len(list(panels_of.values())[r + 1])
                ):
                    axis.tick_params(labelbottom=True)
                    axis.set_xlabel("temperature (°C)")
                first = first or axis
        if ax is None:
            fig.suptitle(
                f"{system['system']}: refined lattice parameters (± esd where the fit gives one)",
                x=0.02,
                y=1 - 0.12 / height,
                ha="left",
                fontsize=10,
            )
    return first
