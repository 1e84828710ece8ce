"""Everything a series run writes: summary.json, results.csv/.json, cells.csv, profiles, figures, reports.

:func:`write_reports` is what ``phasetrace series`` calls after the analysis.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_text, synced_once
from .._json import json_safe
from ..timing import cpu_seconds, recording, stage
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
        ax = F.plot_raman_stack(system, lib, colours=colours, spectra=F.spectra_by_file(records))
        figs["raman"] = save_figure(ax.figure, out / f"raman_{name}")["png"]
    return figs


def _timed(fn, *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and its CPU seconds in the process that ran it (a pool worker's figures too)."""
    t0 = cpu_seconds()
    return fn(*args), cpu_seconds() - t0


def _onsets_figure(systems: list[dict[str, Any]], out: Path, colour_ids: list[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from .figures import plot_onsets
    from .style import PhaseColours

    ax = plot_onsets(systems, _library(), colours=PhaseColours(colour_ids))
    return save_figure(ax.figure, out / "onsets")["png"]


def write_figures(
    run: Any,
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, dict[str, Path]]:
    """All figures of a run, PNG (300 dpi) and SVG (editable text), in ``run.out``.

    One phase has one colour in all of them. With ``jobs`` > 1 (or a worker pool, ``executor``)
    and several series, the series' figures are drawn in worker processes, and ``meanwhile``
    (other outputs of the run) is called in this process while they are drawn; without workers
    it is called first.

    Returns
    -------
    dict
        System -> {kind: PNG path}; the onset summary under ``"__onsets__"``.
    """
    from .figures import run_colours

    docs = documents(run.systems)
    ids = list(run_colours(docs).as_dict())
    recs = [_system_records(run, s) for s in docs]
    out: dict[str, dict[str, Path]] = {}
    seconds = 0.0
    if (executor is not None or jobs > 1) and len(docs) > 2:
        with contextlib.ExitStack() as stack:
            if executor is None:
                from ..series.tasks import worker_pool

                executor = stack.enter_context(worker_pool(jobs))
            onsets = executor.submit(_timed, _onsets_figure, docs, run.out, ids)
            n = len(docs)
            done = executor.map(_timed, [_system_figures] * n, docs, [run.out] * n, recs, [ids] * n)
            if meanwhile is not None:
                meanwhile()  # the workers draw while this process writes the tables and pages
            for s, (figs, sec) in zip(docs, done, strict=True):
                out[s["system"]] = figs
                seconds += sec
            path, sec = onsets.result()
            out["__onsets__"] = {"onsets": path}
            seconds += sec
    else:
        if meanwhile is not None:
            meanwhile()
        t0 = cpu_seconds()
        for s, r in zip(docs, recs, strict=True):
            out[s["system"]] = _system_figures(s, run.out, r, ids)
        if docs:
            out["__onsets__"] = {"onsets": _onsets_figure(docs, run.out, ids)}
        seconds = cpu_seconds() - t0
    timing = getattr(run, "timing", None)
    if isinstance(timing, dict):
        # CPU seconds of the figures wherever they were drawn (the run's per-stage breakdown)
        level = timing.setdefault("run_level", {})
        level["figures"] = level.get("figures", 0.0) + seconds
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
    t0 = time.perf_counter()
    out = Path(run.out)
    written: dict[str, Path] = {}
    # every file appears by an atomic rename; the folder is flushed to disk once, at the end
    with synced_once():
        with recording() as clock, stage("reports"):
            _write_reports(run, out, written, figures, html, jobs, executor)
        timing = getattr(run, "timing", None)
        if isinstance(timing, dict):
            level = timing.setdefault("run_level", {})
            level["reports"] = level.get("reports", 0.0) + clock.seconds.get("reports", 0.0)
            timing["reports_wall_s"] = time.perf_counter() - t0
        # written last, so that its run section has the reports' and figures' times too
        summary = json.dumps(json_safe(run.to_dict()), indent=1, allow_nan=False, default=str)
        atomic_write_text(out / "summary.json", summary)
    written["json"] = out / "summary.json"
    return written


def _write_reports(run, out, written, figures, html, jobs, executor) -> None:
    from ..series.analyse import GRID_NOTE

    lib = _library()

    def tables_and_page() -> None:
        with stage("reports"):  # its own stage also while the figures are being drawn
            _tables_and_page(run, out, written, html, lib)

    figs: dict[str, dict[str, Path]] = {}
    if figures:
        with stage("figures"):
            figs = write_figures(run, jobs=jobs, executor=executor, meanwhile=tables_and_page)
    else:
        tables_and_page()
    for s in documents(run.systems):
        md = write_markdown(s, figs.get(s["system"], {}), run, lib, GRID_NOTE)
        path = out / f"report_{slug(s['system'])}.md"
        atomic_write_text(path, md)
        written[f"md:{s['system']}"] = path
    if figures and "__onsets__" in figs:
        written["onsets"] = figs["__onsets__"]["onsets"]


def _tables_and_page(run, out, written, html, lib) -> None:
    """results.csv/.json, cells.csv, the fitted profiles and report.html."""
    from .figures import profiles_by_file

    written.update(write_results(run, out))
    written["cells"] = write_cells(run, out)
    profiles = profiles_by_file(getattr(run, "records", None) or {})
    write_profiles(run, out, profiles)
    if html:
        from .html import write_html

        written["html"] = write_html(run, out / "report.html", profiles=profiles, library=lib)
