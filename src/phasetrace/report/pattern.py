"""Figures of one scan: the Rietveld plot of a whole-pattern fit, peak searches and candidate rankings.

Every ``plot_*`` draws on an Axes (``ax=None`` makes a figure) and returns it; matplotlib is
imported inside the functions.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .hkl import conventional_hkl, format_hkl
from .style import CURVE, PhaseColours, figure_style, phase_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "fit_figure",
    "hkl_labels",
    "infer_wavelength",
    "plot_fit",
    "plot_peaks",
    "plot_ranking",
]

#: Intensity axes a Rietveld plot can use: counts, their square root (minor phases beside hosts), log.
SCALES = ("linear", "sqrt", "log")

#: hkl labels per phase at most, on its strongest calculated peaks in view.
HKL_PER_PHASE = 6


@functools.lru_cache(maxsize=1)
def default_library():
    """The bundled phase library, read once per process."""
    from ..library.phases import PhaseLibrary

    return PhaseLibrary.default()


def _title(path: str) -> str:
    return Path(path).name if path else "scan"


def infer_wavelength(ticks: dict[str, np.ndarray], library, phases: dict[str, Any]) -> float | None:
    """The wavelength at which a fit's tick positions are the phases' reflections (Å), or None.

    Ticks are Kα1 positions of the refined cells; each tick paired with a large-d reflection
    proposes λ = 2 d sin θ, and the λ that places most reflections on ticks wins.
    """
    from ..library.crystallography import d_spacings

    best, best_hits = None, 0
    for pid, pos in ticks.items():
        if pid not in library or len(pos) == 0 or pid not in phases:
            continue
        refl = library.reflections(pid)
        d = d_spacings(refl.hkl, _cell(phases[pid], refl))
        s = np.sin(np.radians(np.asarray(pos)) / 2)
        for dj in np.sort(d)[::-1][:8]:
            for lam in 2 * dj * s:
                sin_t = lam / (2 * d)
                tt = np.degrees(2 * np.arcsin(sin_t[sin_t < 1]))
                hits = int(np.sum(np.min(np.abs(tt[:, None] - pos[None, :]), axis=1) < 1e-3))
                if hits > best_hits:
                    best, best_hits = float(lam), hits
        if best is not None:
            return best
    return best


def _cell(phase: Any, refl) -> np.ndarray:
    cell = phase.get("cell") if isinstance(phase, dict) else getattr(phase, "cell", None)
    if not cell:
        return np.asarray(refl.cell, float)
    return np.array([cell[k] for k in ("a", "b", "c", "alpha", "beta", "gamma")], float)


def hkl_labels(
    x: np.ndarray,
    curves: dict[str, np.ndarray],
    phases: dict[str, Any],
    library,
    wavelength: float,
    *,
    per_phase: int = HKL_PER_PHASE,
    window: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    """The strongest calculated reflections of each phase in view, with conventional hkl.

    Returns
    -------
    list of dict
        ``phase``, ``two_theta``, ``hkl`` (tuple), ``label`` and ``height`` (the phase's
        calculated intensity there), strongest first.
    """
    from ..library.crystallography import two_theta

    lo, hi = window if window is not None else (float(x[0]), float(x[-1]))
    out = []
    for pid, curve in curves.items():
        if pid not in library or pid not in phases:
            continue
        refl = library.reflections(pid)
        cell = _cell(phases[pid], refl)
        tab_tt = two_theta(refl.d_for_cell(cell), wavelength)
        keep = np.isfinite(tab_tt) & (tab_tt >= lo) & (tab_tt <= hi)
        if not np.any(keep):
            continue
        tt = tab_tt[keep]
        h = np.interp(tt, x, curve)
        rows = []
        for j in np.argsort(-h):
            if h[j] <= 0 or len(rows) >= per_phase:
                break
            # reflections of one phase within a step of each other are one peak: label the strongest
            if any(abs(tt[j] - r["two_theta"]) < 0.05 for r in rows):
                continue
            hkl = conventional_hkl(refl.hkl[keep][j], refl.space_group, refl.cell)
            rows.append(
                {
                    "phase": pid,
                    "two_theta": float(tt[j]),
                    "hkl": hkl,
                    "label": format_hkl(hkl),
                    "height": float(h[j]),
                }
            )
        out += rows
    return sorted(out, key=lambda r: -r["height"])


def _legend_outside(ax: Axes, handles=None, labels=None, **kw) -> None:
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kw)


def _wt_text(p: Any) -> str:
    if getattr(p, "detected", False) and not getattr(p, "reliable", True):
        return f"~{p.wt_percent:.0f} wt % (poor fit: amount unreliable)"
    if getattr(p, "detected", False):
        return f"{p.wt_percent:.2f} ± {p.esd:.2f} wt %"
    if getattr(p, "same_as", None):
        return f"not separable from {p.same_as} (counted there)"
    lod = getattr(p, "lod_wt_percent", None)
    return f"not detected, < {lod:.2f} wt %" if lod is not None and np.isfinite(lod) else "not detected"


def _set_scale(ax: Axes, scale: str, y: np.ndarray) -> None:
    if scale == "sqrt":
        ax.set_yscale("function", functions=(lambda v: np.sqrt(np.clip(v, 0, None)), lambda v: np.square(v)))
    elif scale == "log":
        pos = y[y > 0]
        ax.set_yscale("log")
        if pos.size:
            ax.set_ylim(bottom=max(float(np.percentile(pos, 0.5)) * 0.5, 1e-3))
    elif scale != "linear":
        raise ValueError(f"intensity scale must be one of {', '.join(SCALES)}, got {scale!r}")


def _room_for_labels(ax: Axes, texts: list, scale: str) -> None:
    """Raise the top of the y axis until every hkl label is inside the axes."""
    if not texts:
        return
    fig = ax.figure
    for _ in range(4):
        fig.draw_without_rendering()  # the strips' locator sets the axes' size at draw time
        renderer = fig.canvas.get_renderer()
        top_px = max(t.get_window_extent(renderer).y1 for t in texts)
        ax_top_px = ax.get_window_extent(renderer).y1
        if top_px <= ax_top_px - 2:
            return
        lo, hi = ax.get_ylim()
        frac = (top_px - ax.get_window_extent(renderer).y0) / max(ax.get_window_extent(renderer).height, 1)
        frac = min(frac * 1.04, 4.0)
        if scale == "log":
            ax.set_ylim(lo, lo * (hi / lo) ** frac)
        elif scale == "sqrt":
            ax.set_ylim(lo, (np.sqrt(max(lo, 0)) + (np.sqrt(hi) - np.sqrt(max(lo, 0))) * frac) ** 2)
        else:
            ax.set_ylim(lo, lo + (hi - lo) * frac)


def plot_fit(
    result: Any,
    ax: Axes | None = None,
    *,
    ticks: bool = True,
    difference: bool = True,
    scale: str = "linear",
    window: tuple[float, float] | None = None,
    colours: PhaseColours | None = None,
    library=None,
    wavelength: float | None = None,
    hkl: int = HKL_PER_PHASE,
    legend: bool = True,
    title: str | None = None,
) -> Axes:
    """Rietveld plot of a whole-pattern fit.

    Observed points, calculated line and background on the main axes; below it one row of tick
    marks per phase (its own strip, so the intensity axis is not stretched for them) and the
    difference curve. The legend, outside the axes on the right, gives each phase's wt % ± esd.

    Parameters
    ----------
    result : QuantResult
    ax : matplotlib Axes, optional
        Main axes; the tick and difference strips are appended below it.
    ticks, difference : bool
        Draw the tick rows and the difference curve.
    scale : {"linear", "sqrt", "log"}
        Intensity axis.
    window : (float, float), optional
        2θ range shown (a zoom); the intensity axis fits the data in it.
    colours : PhaseColours, optional
        Colours shared with other figures of a run; by default in the order of ``result.phases``.
    library : PhaseLibrary, optional
        For hkl labels (the bundled library by default).
    wavelength : float, optional
        Kα1 wavelength, Å, for hkl labels (inferred from the ticks when not given).
    hkl : int
        hkl labels per phase on its strongest peaks in view (0: none).
    legend : bool
    title : str, optional
        Default: the file name (not its path), Rwp and GoF.

    Returns
    -------
    matplotlib Axes
        The main axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    with figure_style():
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 4.8))
        in_model = [p for p in result.phases if p.in_model]
        if colours is None:
            colours = PhaseColours(p.id for p in in_model)
        x, y = np.asarray(result.x), np.asarray(result.y)
        lo, hi = window if window is not None else (float(x[0]), float(x[-1])) if x.size else (0.0, 1.0)
        view = (x >= lo) & (x <= hi)
        ms = 1.6 if view.sum() > 3000 else 2.5
        ax.plot(x, y, ".", ms=ms, color=CURVE["observed"], mew=0, label="observed", zorder=2)
        ax.plot(x, result.ycalc, "-", lw=0.8, color=CURVE["calculated"], label="calculated", zorder=3)
        ax.plot(x, result.background, "-", lw=0.7, color=CURVE["background"], label="background", zorder=1)
        ax.set_xlim(lo, hi)
        _set_scale(ax, scale, y[view])
        if view.any() and scale != "log":
            top = float(max(np.max(y[view]), np.max(np.asarray(result.ycalc)[view])))
            bottom = float(min(np.min(y[view]), np.min(np.asarray(result.background)[view])))
            bottom = max(0.0, bottom - 0.03 * (top - bottom)) if scale == "sqrt" else bottom
            ax.set_ylim(bottom - (0.02 * (top - bottom) if scale == "linear" else 0), top * 1.05)
        ax.set_ylabel(
            {"linear": "intensity (counts)", "sqrt": "intensity (counts, √ scale)"}.get(
                scale, "intensity (counts, log scale)"
            )
        )
        ax.tick_params(labelbottom=False)
        ax.set_title(title if title is not None else _fit_title(result), fontsize=9)
        divider = make_axes_locatable(ax)
        bottom_ax = ax
        # tick rows in the legend's order (by wt %)
        tick_ids = [p.id for p in in_model if p.id in result.ticks] if ticks else []
        if tick_ids:
            tax = divider.append_axes("bottom", size=f"{min(5 * len(tick_ids), 30)}%", pad=0.0, sharex=ax)
            for k, pid in enumerate(tick_ids):
                pos = np.asarray(result.ticks[pid])
                pos = pos[(pos >= lo) & (pos <= hi)]
                tax.vlines(pos, k + 0.15, k + 0.85, color=colours[pid], lw=0.8)
            tax.set_ylim(len(tick_ids), 0)
            tax.set_yticks([k + 0.5 for k in range(len(tick_ids))])
            if legend:  # a zoom panel beside the main plot shares its legend and row names
                tax.set_yticklabels([phase_label(pid) for pid in tick_ids], fontsize=6.5)
                for lab, pid in zip(tax.get_yticklabels(), tick_ids, strict=True):
                    lab.set_color(colours[pid])
            else:
                tax.set_yticklabels([])
            tax.tick_params(axis="y", length=0)
            tax.tick_params(labelbottom=False)
            bottom_ax = tax
        if difference:
            dax = divider.append_axes("bottom", size="25%", pad=0.0, sharex=ax)
            diff = y - np.asarray(result.ycalc)
            dax.plot(x, diff, "-", lw=0.6, color=CURVE["difference"])
            dax.axhline(0, color="0.7", lw=0.5, zorder=0)
            if view.any():
                m = float(np.max(np.abs(diff[view]))) or 1.0
                dax.set_ylim(-1.1 * m, 1.1 * m)
            if legend:
                dax.set_ylabel("obs − calc", fontsize=7)
            dax.tick_params(axis="y", labelsize=6.5)
            dax.locator_params(axis="y", nbins=3)
            bottom_ax = dax
        for a in {ax, bottom_ax}:
            a.set_xlim(lo, hi)
        bottom_ax.tick_params(labelbottom=True)
        bottom_ax.set_xlabel("2θ (°)")
        texts = []
        if hkl and x.size:
            texts = _draw_hkl(ax, result, colours, library, wavelength, hkl, (lo, hi))
            _room_for_labels(ax, texts, scale)
        if legend:
            handles = [
                Line2D([], [], ls="none", marker=".", color=CURVE["observed"], label="observed"),
                Line2D([], [], color=CURVE["calculated"], lw=0.8, label="calculated"),
                Line2D([], [], color=CURVE["background"], lw=0.7, label="background"),
            ]
            if difference:
                handles.append(Line2D([], [], color=CURVE["difference"], lw=0.6, label="obs − calc"))
            for p in in_model:
                handles.append(
                    Line2D(
                        [],
                        [],
                        ls="none",
                        marker="|",
                        ms=9,
                        mew=1.5,
                        color=colours[p.id],
                        label=f"{phase_label(p.id)}: {_wt_text(p)}",
                    )
                )
            _legend_outside(ax, handles, [h.get_label() for h in handles])
    return ax


def _fit_title(result: Any) -> str:
    stats = []
    if np.isfinite(getattr(result, "rwp", np.nan)):
        stats.append(f"Rwp {100 * result.rwp:.2f} %")
    if np.isfinite(getattr(result, "gof", np.nan)):
        stats.append(f"GoF {result.gof:.2f}")
    return _title(result.file) + ("  (" + ", ".join(stats) + ")" if stats else "")


def _draw_hkl(ax, result, colours, library, wavelength, per_phase, window) -> list:
    """Hkl labels above the strongest peaks, in the phase's colour, never two on one spot."""
    lib = library if library is not None else default_library()
    phases = {p.id: p for p in result.phases if p.in_model and p.detected}
    curves = {pid: c for pid, c in result.phase_curves.items() if pid in phases}
    if not curves:
        return []
    lam = wavelength or infer_wavelength(result.ticks, lib, phases)
    if lam is None:
        return []
    rows = hkl_labels(result.x, curves, phases, lib, lam, per_phase=per_phase, window=window)
    lo, hi = window
    min_sep = 0.012 * (hi - lo)
    placed: list[float] = []
    texts = []
    x = np.asarray(result.x)
    top = np.maximum(np.asarray(result.y), np.asarray(result.ycalc))
    # half the width of a rotated label (one line of 5.5 pt text), in degrees: the label stands
    # above the highest data under it, not inside a neighbouring peak
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    half = 0.6 * 5.5 / max(width_pt, 1.0) * (hi - lo)
    min_sep = max(min_sep, 2.0 * half)  # two labels never closer than a label's width (line height)
    for r in rows:
        if any(abs(r["two_theta"] - t) < min_sep for t in placed):
            continue
        placed.append(r["two_theta"])
        near = np.abs(x - r["two_theta"]) < max(half, 0.002 * (hi - lo))
        ytop = float(np.max(top[near])) if near.any() else float(np.interp(r["two_theta"], x, top))
        texts.append(
            ax.annotate(
                r["label"],
                (r["two_theta"], ytop),
                xytext=(0, 3),
                textcoords="offset points",
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=5.5,
                color=colours[r["phase"]],
                annotation_clip=True,
            )
        )
    return texts


def fit_figure(
    result: Any,
    *,
    zoom: Sequence[tuple[float, float]] = (),
    scale: str = "linear",
    colours: PhaseColours | None = None,
    library=None,
    wavelength: float | None = None,
):
    """A figure with the whole pattern on top and a panel per zoom window below it.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    with figure_style():
        n = len(zoom)
        fig = plt.figure(figsize=(7.5, 4.8 + (3.0 if n else 0)))
        if colours is None:
            colours = PhaseColours(p.id for p in result.phases if p.in_model)
        if not n:
            ax = fig.add_subplot(1, 1, 1)
            plot_fit(result, ax, scale=scale, colours=colours, library=library, wavelength=wavelength)
            return fig
        gs = fig.add_gridspec(2, n, height_ratios=[1.7, 1.0], hspace=0.3, wspace=0.3)
        main = fig.add_subplot(gs[0, :])
        plot_fit(result, main, scale=scale, colours=colours, library=library, wavelength=wavelength)
        for k, w in enumerate(zoom):
            a = fig.add_subplot(gs[1, k])
            plot_fit(
                result,
                a,
                scale=scale,
                window=(float(w[0]), float(w[1])),
                colours=colours,
                library=library,
                wavelength=wavelength,
                legend=False,
                title=f"{w[0]:g}–{w[1]:g}°",
                hkl=3,
            )
            a.set_ylabel("")
            main.axvspan(w[0], w[1], color="0.92", zorder=0, lw=0)
    return fig


# ----------------------------------------------------------------------------- peak search and ranking
def _xlabel(kind: str) -> str:
    return "2θ (°)" if kind == "xrd" else "Raman shift (cm⁻¹)"


def plot_peaks(search: Any, *, ax: Axes | None = None) -> Axes:
    """Scan, background and found peaks (Kα2 satellites open).

    Parameters
    ----------
    search : PeakSearch
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    with figure_style():
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 4.8))
        scan = search.scan
        ax.plot(scan.x, scan.y, lw=0.7, color=CURVE["observed"], label="scan")
        ax.plot(scan.x, search.background, lw=1.0, color=CURVE["background"], label="background")
        p = search.peaks
        if len(p):
            y_at = np.interp(p.position, scan.x, search.background) + p.height
            prim = ~p.kalpha2
            ax.plot(
                p.position[prim], y_at[prim], "v", ms=4, color="#D55E00", label=f"peaks ({int(prim.sum())})"
            )
            if np.any(p.kalpha2):
                ax.plot(
                    p.position[~prim],
                    y_at[~prim],
                    "v",
                    ms=4,
                    mfc="none",
                    color="#D55E00",
                    label=f"Kα2 satellites ({int((~prim).sum())})",
                )
        ax.set_xlabel(_xlabel(scan.kind))
        ax.set_ylabel("intensity (counts)")
        ax.set_xlim(scan.x[0], scan.x[-1])
        _legend_outside(ax)
        ax.set_title(_title(scan.meta.source_path or scan.meta.sample or ""), fontsize=9)
    return ax


def plot_ranking(
    ranking: Any, *, top: int = 4, ax: Axes | None = None, colours: PhaseColours | None = None
) -> Axes:
    """Scan, background, peaks, and one row of tick marks per top candidate in a strip below.

    Ticks are the candidates' expected peak positions at their fitted lattice scaling; matched
    ones are full height, missing ones are crosses.

    Parameters
    ----------
    ranking : Ranking
    top : int
        How many of the best testable candidates get a tick row.
    ax : matplotlib Axes, optional
    colours : PhaseColours, optional

    Returns
    -------
    matplotlib Axes
    """
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    with figure_style():
        ax = plot_peaks(ranking.search, ax=ax)
        cands = ranking.top(top)
        if not cands:
            return ax
        colours = colours or PhaseColours(c.id for c in cands)
        tax = make_axes_locatable(ax).append_axes(
            "bottom", size=f"{min(6 * len(cands), 36)}%", pad=0.0, sharex=ax
        )
        for n, cand in enumerate(cands):
            c = colours[cand.id]
            pos = [m.expected for m in cand.matched]
            if pos:
                tax.vlines(pos, n + 0.15, n + 0.85, color=c, lw=1.0)
            miss = [m.expected for m in cand.missing]
            if miss:
                tax.plot(miss, [n + 0.5] * len(miss), "x", color=c, ms=4)
        tax.set_ylim(len(cands), 0)
        tax.set_yticks([k + 0.5 for k in range(len(cands))])
        tax.set_yticklabels(
            [f"{c.rank}. {phase_label(c.id)} ({c.status}, {c.score:.2f})" for c in cands], fontsize=6.5
        )
        for lab, cand in zip(tax.get_yticklabels(), cands, strict=True):
            lab.set_color(colours[cand.id])
        tax.tick_params(axis="y", length=0)
        ax.tick_params(labelbottom=False)
        ax.set_xlabel("")
        tax.set_xlabel(_xlabel(ranking.search.scan.kind))
        tax.set_xlim(*ax.get_xlim())
    return ax
