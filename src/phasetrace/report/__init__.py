"""Presentation of results: text, tables and exports, figures (matplotlib, imported lazily), HTML.

The layer reads results (``QuantResult``, ``Ranking``, a series run) and never the other way round:
result objects' ``.plot()`` and ``.report()`` import from here inside the method.

Modules
-------
style     phase colours fixed per run, formula labels, PNG 300 dpi / SVG with editable text
hkl       conventional Miller indices of a reflection family
pattern   Rietveld plot of a fit (``plot_fit``, ``fit_figure``), peak search and ranking figures
figures   series figures: waterfall with zoom windows, wt % vs T, onsets, Raman stack, lattice vs T
tables    results.csv/.json, cells.csv, fitted profiles, Markdown, terminal summary
html      the self-contained interactive HTML report of a run
run       ``write_reports``: every output of a series run
text      plain-text reports of single results
"""

from __future__ import annotations

__all__ = [
    "fit_figure",
    "format_fit",
    "plot_fit",
    "plot_lattice_vs_temperature",
    "plot_onsets",
    "plot_peaks",
    "plot_ranking",
    "plot_raman_stack",
    "plot_waterfall",
    "plot_wt_vs_temperature",
    "terminal_summary",
    "write_html",
    "write_reports",
]

_LAZY = {
    "fit_figure": "pattern",
    "plot_fit": "pattern",
    "plot_peaks": "pattern",
    "plot_ranking": "pattern",
    "plot_lattice_vs_temperature": "figures",
    "plot_onsets": "figures",
    "plot_raman_stack": "figures",
    "plot_waterfall": "figures",
    "plot_wt_vs_temperature": "figures",
    "terminal_summary": "tables",
    "write_html": "html",
    "write_reports": "run",
    "format_fit": "text",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'phasetrace.report' has no attribute {name!r}")
