"""Figures of a series run (matplotlib; PNG and SVG): waterfall, wt % against T, onsets, Raman stack.

Each ``plot_*`` function draws on an Axes (``ax=None`` makes one) and returns it.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import publish
from .analyse import SeriesRun

__all__ = ["plot_onsets", "plot_raman_stack", "plot_waterfall", "plot_wt_vs_temperature", "write_figures"]

#: Marker per phase family, after the core paper's legend (▼ pyrochlore, ◆ LaMO3, ► Li2MnO3, ...).
FAMILY_MARKERS = {
    "pyrochlore": "v",
    "LaMO3-perovskite": "D",
    "layered-Li2MnO3": ">",
    "K2NiF4": "<",
    "lithium-zirconate": "^",
    "rare-earth-oxide": "o",
    "rock-salt": "s",
    "spinel": "P",
    "carbonate": "*",
    "hydroxide": "X",
    "garnet": "h",
    "layered-LiMO2": "p",
}


def _load(path: str):
    from ..io import load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load(path)


def plot_waterfall(system: dict[str, Any], library, ax=None, *, offset: float = 1.1):
    """XRD patterns of a series stacked by temperature, with tick marks of the phases found.

    A phase's strongest reflections are highlighted at the temperature where it first appears.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 1.2 + 1.1 * len(system["temperatures"])))
    files = [f for f in system["files"] if f["technique"] == "xrd"]
    files.sort(key=lambda f: f["temperature_C"])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    onset_at = {
        p["id"]: (p["onset"]["combined"] or [None, None])[1] for p in system["phases"] if p["role"] != "host"
    }
    for k, f in enumerate(files):
        scan = _load(f["file"])
        y = np.sqrt(np.maximum(scan.y, 0))  # square-root scale shows minor phases next to hosts
        y = (y - y.min()) / max(np.ptp(y), 1e-12)
        ax.plot(scan.x, y + k * offset, lw=0.6, color="0.15")
        label = "RT" if f["temperature_C"] <= 30 else f"{f['temperature_C']:g} °C"
        ax.text(scan.x[-1], k * offset + 0.15, label, ha="right", fontsize=8)
        for j, (pid, t_on) in enumerate(onset_at.items()):
            if t_on is not None and abs(t_on - f["temperature_C"]) < 1e-6 and pid in library:
                refl = library.reflections(pid)
                tab = refl.table((scan.meta.radiation.kalpha1,), two_theta_range=scan.x_range)
                strong = tab["two_theta_1"][np.argsort(-tab["intensity"])[:4]]
                ax.plot(
                    strong,
                    np.full(strong.size, k * offset + 1.0),
                    ls="none",
                    marker=FAMILY_MARKERS.get(library[pid].family, "v"),
                    color=colors[j % len(colors)],
                    ms=6,
                    label=f"{pid} (new)",
                )
    ax.set_yticks([])
    ax.set_xlabel("2θ (degrees)")
    ax.set_ylabel("√intensity (offset by temperature)")
    ax.set_title(system["system"], fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        uniq = dict(zip(labels, handles, strict=True))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left")
    return ax


def plot_wt_vs_temperature(system: dict[str, Any], ax=None):
    """Weight fraction of each non-host phase against temperature, esd bars, detection limit shaded."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    temps = system["temperatures"]
    lod_max = np.zeros(len(temps))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    k = 0
    for p in system["phases"]:
        if p["role"] == "host":
            continue
        vals = [p["wt_percent_by_T"][lab] for lab in system["labels"]]
        wt = np.array([v["wt_percent"] if v["detected_xrd"] else np.nan for v in vals], dtype=float)
        esd = np.array([v["esd"] if v["detected_xrd"] else np.nan for v in vals], dtype=float)
        lod = np.array(
            [v["lod_wt_percent"] if v["lod_wt_percent"] is not None else np.nan for v in vals], float
        )
        lod_max = np.fmax(lod_max, np.nan_to_num(lod))
        ax.errorbar(
            temps, wt, yerr=esd, marker="o", ms=4, capsize=3, color=colors[k % len(colors)], label=p["id"]
        )
        k += 1
    ax.fill_between(temps, 0, lod_max, color="0.85", label="detection limit (largest)", zorder=0)
    ax.set_xlabel("sintering temperature (°C)")
    ax.set_ylabel("wt % (crystalline part)")
    ax.set_title(system["system"], fontsize=10)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    return ax


def plot_onsets(systems: list[dict[str, Any]], library, ax=None):
    """Onset summary across systems: one row per system, a marker per phase at its combined onset."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.0 + 0.7 * len(systems)))
    colors = [plt.get_cmap("tab10")(k) for k in range(10)]
    phase_color: dict[str, str] = {}
    for row, s in enumerate(systems):
        ax.hlines(row, min(s["temperatures"]), max(s["temperatures"]), color="0.85", lw=6, zorder=0)
        onsets = [
            (p["onset"]["combined"][1], p["id"])
            for p in s["phases"]
            if p["role"] != "host" and p["onset"]["combined"]
        ]
        if not onsets:
            ax.text(min(s["temperatures"]), row + 0.22, "no secondary phase", va="center", fontsize=7)
        # phases with the same onset are stacked across the row's height, not on top of each other
        for t in sorted({t for t, _ in onsets}):
            same = sorted(pid for tt, pid in onsets if tt == t)
            step = min(0.18, 0.7 / max(len(same), 1))
            for j, pid in enumerate(same):
                c = phase_color.setdefault(pid, colors[len(phase_color) % len(colors)])
                marker = FAMILY_MARKERS.get(library[pid].family, "o") if pid in library else "o"
                ax.plot(
                    t,
                    row + step * (j - (len(same) - 1) / 2),
                    marker=marker,
                    color=c,
                    ls="none",
                    ms=6,
                    label=pid,
                )
    ax.set_yticks(range(len(systems)), [s["system"] for s in systems], fontsize=8)
    ax.set_xlabel("onset temperature (°C, first temperature at which detected)")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    ax.legend(uniq.values(), uniq.keys(), fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title("Onset of secondary phases (XRD or Raman)", fontsize=10)
    return ax


def plot_raman_stack(system: dict[str, Any], library, ax=None, *, offset: float = 1.1):
    """Raman spectra of a series stacked by temperature, with band markers of the phases found."""
    import matplotlib.pyplot as plt

    files = sorted(
        (f for f in system["files"] if f["technique"] == "raman"), key=lambda f: f["temperature_C"]
    )
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.2 + 1.0 * max(len(files), 1)))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, f in enumerate(files):
        scan = _load(f["file"])
        y = (scan.y - np.percentile(scan.y, 2)) / max(np.ptp(scan.y), 1e-12)
        ax.plot(scan.x, y + k * offset, lw=0.7, color="0.15")
        label = "RT" if f["temperature_C"] <= 30 else f"{f['temperature_C']:g} °C"
        ax.text(scan.x[-1], k * offset + 0.1, label, ha="right", fontsize=8)
    top = offset * max(len(files), 1)
    for j, p in enumerate(p for p in system["phases"] if p["role"] != "host"):
        bands = library.raman_bands(p["id"]) if p["id"] in library else None
        for b in (bands or [])[:3]:
            ax.axvline(b.position, color=colors[j % len(colors)], lw=0.6, ls="--")
        if bands:
            ax.text(
                bands[0].position,
                top,
                p["id"],
                rotation=90,
                fontsize=7,
                va="bottom",
                color=colors[j % len(colors)],
            )
    ax.set_yticks([])
    ax.set_xlabel("Raman shift (cm⁻¹)")
    ax.set_title(f"{system['system']}: Raman", fontsize=10)
    return ax


def _save(fig, base: Path) -> dict[str, Path]:
    import matplotlib.pyplot as plt

    paths = {}
    for ext in ("png", "svg"):
        target = base.with_suffix(f".{ext}")
        tmp = target.with_name(f".{target.name}.tmp.{ext}")
        fig.savefig(tmp, dpi=130, bbox_inches="tight")
        publish(tmp, target)
        paths[ext] = target
    plt.close(fig)
    return paths


@functools.lru_cache(maxsize=1)
def _library():
    """The bundled library, read once per process (for figure labels and tick marks)."""
    from ..library.phases import PhaseLibrary

    return PhaseLibrary.default()


def _system_figures(system: dict[str, Any], out: Path) -> dict[str, Path]:
    """The figures of one series (PNG and SVG) in ``out``; returns kind -> PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    from .report import _slug

    lib = _library()
    slug = _slug(system["system"])
    figs: dict[str, Path] = {}
    if any(f["technique"] == "xrd" for f in system["files"]):
        ax = plot_waterfall(system, lib)
        figs["waterfall"] = _save(ax.figure, out / f"waterfall_{slug}")["png"]
        ax = plot_wt_vs_temperature(system)
        figs["wt"] = _save(ax.figure, out / f"wt_{slug}")["png"]
    if any(f["technique"] == "raman" for f in system["files"]):
        ax = plot_raman_stack(system, lib)
        figs["raman"] = _save(ax.figure, out / f"raman_{slug}")["png"]
    return figs


def write_figures(
    run: SeriesRun, *, jobs: int = 1, executor: Executor | None = None
) -> dict[str, dict[str, Path]]:
    """All figures of a run, PNG and SVG, in run.out; returns system -> {kind: PNG path}.

    With ``jobs`` > 1 (or a worker pool, ``executor``) and several series, the series'
    figures are drawn in worker processes (a batch of many series spends a good part of
    its time here).
    """
    import matplotlib

    matplotlib.use("Agg")
    out: dict[str, dict[str, Path]] = {}
    if (executor is not None or jobs > 1) and len(run.systems) > 2:
        with contextlib.ExitStack() as stack:
            if executor is None:
                from .tasks import worker_pool

                executor = stack.enter_context(worker_pool(jobs))
            onsets = executor.submit(_onsets_figure, run.systems, run.out)
            done = executor.map(_system_figures, run.systems, [run.out] * len(run.systems))
            for s, figs in zip(run.systems, done, strict=True):
                out[s["system"]] = figs
            out["__onsets__"] = {"onsets": onsets.result()}
    else:
        for s in run.systems:
            out[s["system"]] = _system_figures(s, run.out)
        if run.systems:
            out["__onsets__"] = {"onsets": _onsets_figure(run.systems, run.out)}
    return out


def _onsets_figure(systems: list[dict[str, Any]], out: Path) -> Path:
    """The onset summary across systems (PNG and SVG); returns the PNG path."""
    ax = plot_onsets(systems, _library())
    return _save(ax.figure, out / "onsets")["png"]
