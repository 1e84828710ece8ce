"""Figures of peak searches and rankings (matplotlib, imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..peaks.find import PeakSearch
from .result import Ranking

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_peaks", "plot_ranking"]

#: Colours of the candidates' tick rows (colour-blind safe, Okabe–Ito).
TICK_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(11, 5.5), constrained_layout=True)
    return ax


def _xlabel(search: PeakSearch) -> str:
    return "2θ (°)" if search.scan.kind == "xrd" else "Raman shift (cm⁻¹)"


def plot_peaks(search: PeakSearch, *, ax: Axes | None = None) -> Axes:
    """Scan, background and found peaks (Kα2 satellites open).

    Parameters
    ----------
    search : PeakSearch
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    scan = search.scan
    ax.plot(scan.x, scan.y, lw=0.7, color="0.2", label="scan")
    ax.plot(scan.x, search.background, lw=1.0, color="tab:orange", label="background")
    p = search.peaks
    if len(p):
        y_at = np.interp(p.position, scan.x, search.background) + p.height
        prim = ~p.kalpha2
        ax.plot(p.position[prim], y_at[prim], "v", ms=4, color="tab:red", label=f"peaks ({int(prim.sum())})")
        if np.any(p.kalpha2):
            ax.plot(
                p.position[~prim],
                y_at[~prim],
                "v",
                ms=4,
                mfc="none",
                color="tab:red",
                label=f"Kα2 satellites ({int((~prim).sum())})",
            )
    ax.set_xlabel(_xlabel(search))
    ax.set_ylabel("intensity")
    ax.set_xlim(scan.x[0], scan.x[-1])
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(scan.meta.sample or scan.meta.source_path or "scan", fontsize="medium")
    return ax


def plot_ranking(ranking: Ranking, *, top: int = 4, ax: Axes | None = None) -> Axes:
    """Scan, background, peaks, and one row of tick marks per top candidate below the pattern.

    Ticks are the candidates' expected peak positions at their fitted lattice
    scaling; matched ones are full height, missing ones are drawn as crosses.

    Parameters
    ----------
    ranking : Ranking
    top : int
        How many of the best testable candidates get a tick row.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    search = ranking.search
    ax = plot_peaks(search, ax=ax)
    scan = search.scan
    span = float(np.max(scan.y) - min(0.0, float(np.min(scan.y))))
    row = 0.08 * span
    base = float(np.min(scan.y)) - 0.5 * row
    for n, cand in enumerate(ranking.top(top)):
        colour = TICK_COLOURS[n % len(TICK_COLOURS)]
        y0 = base - (n + 1) * row
        pos = [m.expected for m in cand.matched]
        if pos:
            ax.vlines(pos, y0 - 0.3 * row, y0 + 0.3 * row, color=colour, lw=1.2)
        miss = [m.expected for m in cand.missing]
        if miss:
            ax.plot(miss, [y0] * len(miss), "x", color=colour, ms=5)
        scale = f", s = {cand.lattice_scale:.4f}" if cand.lattice_scale is not None else ""
        ax.text(
            scan.x[0],
            y0 + 0.38 * row,
            f" {cand.rank}. {cand.id} ({cand.status}, {cand.score:.2f}{scale})",
            color=colour,
            fontsize="x-small",
            va="bottom",
            ha="left",
        )
    ax.set_ylim(base - (min(top, len(ranking.top(top))) + 1) * row, float(np.max(scan.y)) + 0.05 * span)
    return ax
