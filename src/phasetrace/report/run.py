"""Everything a series run writes: summary.json, results.csv/.json, cells.csv, profiles, figures, reports.

:func:`write_reports` is what ``phasetrace series`` calls after the analysis.
"""

from __future__ import annotations

import contextlib
import functools
import json
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_text
from .._json import json_safe
from .style import documents, save_figure
from .tables import slug, write_cells, write_markdown, write_profiles, write_results

__all__ = ["write_figures", "write_reports"]


@functools.lru_cache(maxsize=1)
def _library():
    """The bundled library, read once per process (figure labels, tick marks, hkl)."""
    from ..library.phases import PhaseLibrary

    return PhaseLibrary.default()


def _system_records(run: Any, system: dict[str, Any]) -> list[dict[str, Any]]:
    files = {f["file"] for f in system["files"]}
    return [r for r in (getattr(run, "records", None) or {}).values() if r and r["file"] in files]


def _system_figures(
    system: dict[str, Any], out: Path, records: list[dict[str, Any]], colour_ids: list[str]
) -> dict[str, Path]:
    """The figures of one series (PNG and SVG) in ``out``; returns kind -> PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    from . import figures as F
    from .style import PhaseColours

    lib = _library()
    colours = PhaseColours(colour_ids)
    profiles = F.profiles_by_file(records)
    name = slug(system["system"])
    figs: dict[str, Path] = {}
    if any(f["technique"] == "xrd" for f in system["files"]):
        ax = F.plot_waterfall(system, lib, colours=colours, profiles=profiles)
        figs["waterfall"] = save_figure(ax.figure, out / f"waterfall_{name}")["png"]
        ax = F.plot_wt_vs_temperature(system, colours=colours)
        figs["wt"] = save_figure(ax.figure, out / f"wt_{name}")["png"]
        if profiles:
            ax = F.plot_lattice_vs_temperature(system, profiles, colours=colours)
            figs["lattice"] = save_figure(ax.figure, out / f"lattice_{name}")["png"]
    if any(f["technique"] == "raman" for f in system["files"]):
        ax = F.plot_raman_stack(system, lib, colours=colours)
        figs["raman"] = save_figure(ax.figure, out / f"raman_{name}")["png"]
    return figs


def _onsets_figure(systems: list[dict[str, Any]], out: Path, colour_ids: list[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from .figures import plot_onsets
    from .style import PhaseColours

    ax = plot_onsets(systems, _library(), colours=PhaseColours(colour_ids))
    return save_figure(ax.figure, out / "onsets")["png"]


def write_figures(run: Any, *, jobs: int = 1, executor: Executor | None = None) -> dict[str, dict[str, Path]]:
    """All figures of a run, PNG (300 dpi) and SVG (editable text), in ``run.out``.

    One phase has one colour in all of them. With ``jobs`` > 1 (or a worker pool, ``executor``)
    and several series, the series' figures are drawn in worker processes.

    Returns
    -------
    dict
        System -> {kind: PNG path}; the onset summary under ``"__onsets__"``.
    """
    from .figures import run_colours

    ids = list(run_colours(documents(run.systems)).as_dict())
    recs = [_system_records(run, s) for s in documents(run.systems)]
    out: dict[str, dict[str, Path]] = {}
    if (executor is not None or jobs > 1) and len(documents(run.systems)) > 2:
        with contextlib.ExitStack() as stack:
            if executor is None:
                from ..series.tasks import worker_pool

                executor = stack.enter_context(worker_pool(jobs))
            onsets = executor.submit(_onsets_figure, documents(run.systems), run.out, ids)
            n = len(documents(run.systems))
            done = executor.map(_system_figures, documents(run.systems), [run.out] * n, recs, [ids] * n)
            for s, figs in zip(documents(run.systems), done, strict=True):
                out[s["system"]] = figs
            out["__onsets__"] = {"onsets": onsets.result()}
    else:
        for s, r in zip(documents(run.systems), recs, strict=True):
            out[s["system"]] = _system_figures(s, run.out, r, ids)
        if documents(run.systems):
            out["__onsets__"] = {"onsets": _onsets_figure(documents(run.systems), run.out, ids)}
    return out


def write_reports(
    run: Any,
    *,
    figures: bool = True,
    html: bool = True,
    jobs: int = 1,
    executor: Executor | None = None,
) -> dict[str, Path]:
    """Write every output of a run into ``run.out``.

    ``summary.json``; ``results.csv`` and ``results.json`` (one row per file × phase);
    ``cells.csv`` (refined cells, sizes and the like with esds); ``profiles/<file>.csv`` (fitted
    curves per XRD scan); ``report_<system>.md`` with its figures (unless ``figures`` is False);
    ``report.html`` (self-contained, interactive; unless ``html`` is False).

    Returns
    -------
    dict
        Output kind -> path (``json``, ``csv``, ``results_json``, ``cells``, ``html``, ``onsets``,
        ``md:<system>``).
    """
    from ..series.analyse import GRID_NOTE
    from .figures import profiles_by_file

    out = Path(run.out)
    written: dict[str, Path] = {}
    summary = json.dumps(json_safe(run.to_dict()), indent=1, allow_nan=False, default=str)
    atomic_write_text(out / "summary.json", summary)
    written["json"] = out / "summary.json"
    written.update(write_results(run, out))
    written["cells"] = write_cells(run, out)
    profiles = profiles_by_file(getattr(run, "records", None) or {})
    write_profiles(run, out, profiles)
    figs: dict[str, dict[str, Path]] = {}
    if figures:
        figs = write_figures(run, jobs=jobs, executor=executor)
    lib = _library()
    for s in documents(run.systems):
        md = write_markdown(s, figs.get(s["system"], {}), run, lib, GRID_NOTE)
        path = out / f"report_{slug(s['system'])}.md"
        atomic_write_text(path, md)
        written[f"md:{s['system']}"] = path
    if figures and "__onsets__" in figs:
        written["onsets"] = figs["__onsets__"]["onsets"]
    if html:
        from .html import write_html

        written["html"] = write_html(run, out / "report.html", profiles=profiles, library=lib)
    return written
