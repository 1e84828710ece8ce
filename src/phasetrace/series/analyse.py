"""A heating series analysed as a series: identify every scan, refit all with the union, find onsets."""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import PhasetraceError
from ..library.materials import UnknownMaterialError
from ..library.phases import PhaseLibrary
from ..match.candidates import candidate_pool
from ..timing import recording, stage
from .collect import collect, group_by_system, nothing_usable
from .onsets import Evolution, combine, evolution, onset_basis, screen_onset_evidence
from .replicates import merge_replicates, replicate_fields
from .results import (
    GRID_NOTE,
    PhaseAtTemperature,
    PhaseSeries,
    ScanQuality,
    SeriesResult,
    SeriesRun,
    SystemResult,
)
from .rules import attribute_raman_twins, identified, merge_twins, raman_found, refit_starts
from .store import ResultStore
from .tasks import execute, file_sha256, make_task, worker_pool
from .unidentified import misfit_reflections, unidentified_phases

__all__ = ["GRID_NOTE", "SeriesResult", "SeriesRun", "run_series", "summarise_system"]


def _pool(
    lib: PhaseLibrary,
    system: str,
    elements: Sequence[str] | None,
    entries: Sequence[Any] = (),
    quant: dict[str, Any] | None = None,
) -> tuple[list[str], set[str]]:
    """Candidate phases of a system and its host phases (the pool every single-scan caller uses)."""
    peaks = _index_peaks(lib, entries, quant)
    if elements:
        pool, hosts = candidate_pool(lib, elements=elements, peaks=peaks)
    else:
        pool, hosts = candidate_pool(lib, system=system, peaks=peaks)
    return pool, set(hosts)


def _index_peaks(
    lib: PhaseLibrary, entries: Sequence[Any], quant: dict[str, Any] | None = None
) -> list[Any] | None:
    """Peaks of a system's XRD scans, when a large indexed --library folder needs them to pick candidates.

    The scans are loaded as the series tasks load them: with the radiation lines of the
    instrument (``quant["instrument"]``, from ``--instrument``) when it gives them, so that the
    peaks' d-spacings, and hence the candidates, rest on the wavelength the fit will use.
    """
    if not lib.indexes:
        return None
    from ..io import load
    from ..library.index import ObservedPeaks
    from ..peaks import search_peaks
    from ..quantify.fit import QuantConfig

    inst = QuantConfig(**(quant or {})).instrument
    radiation = inst.radiation(None) if inst is not None else None
    out = []
    for e in entries:
        if e.technique != "xrd":
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scan = load(e.path, meta=_jsonable_meta(e.meta) or None, radiation=radiation)
            out.append(ObservedPeaks.from_search(search_peaks(scan)))
        except PhasetraceError:
            continue  # the scan's own task reports the problem
    return out


def run_series(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    system: str | None = None,
    elements: Sequence[str] | None = None,
    libraries: Sequence[str] = (),
    jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    quant: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> SeriesResult:
    """Analyse every series under ``source`` (a folder or a manifest) into ``out``.

    Parameters
    ----------
    source : path-like
        Folder of scans (with or without ``manifest.csv``) or a manifest file.
    out : path-like
        Output folder: the SQLite store of the run lives here, with reports.
    system : str, optional
        System name for every scan (else from the manifest or file names).
    elements : sequence of str, optional
        Sample elements for every series (else from the system name).
    libraries : sequence of str
        Extra CIF files or folders.
    jobs : int
        Worker processes.
    scheduler : str, optional
        Dask distributed scheduler address.
    quant : dict, optional
        QuantConfig overrides.
    executor : concurrent.futures.Executor, optional
        A worker pool to run the tasks in (:func:`phasetrace.series.tasks.worker_pool`),
        e.g. shared with the figures of :func:`write_reports`; by default ``jobs``
        workers are started for this call.

    Returns
    -------
    SeriesResult
    """
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        clock = stack.enter_context(recording())
        if executor is None and not scheduler and jobs > 1:
            # the workers start (imports, library) while the scans are collected here
            executor = stack.enter_context(worker_pool(jobs, [str(p) for p in libraries]))
        per_scan: dict[str, dict[str, float]] = {}
        result = _run_series(
            source, out, system, elements, libraries, jobs, scheduler, progress, quant, executor, per_scan
        )
    result.timing = {
        "jobs": jobs,
        "scheduler": scheduler,
        "analysis_wall_s": time.perf_counter() - t0,
        "per_scan": per_scan,
        "run_level": dict(clock.seconds),
    }
    return result


def _run_series(
    source, out, system, elements, libraries, jobs, scheduler, progress, quant, executor, per_scan
):
    out = Path(out)
    with stage("collect"):
        found = collect(source, system=system)
    entries, problems = found
    if not entries:  # nothing to analyse: one line, and no output folder
        raise PhasetraceError(nothing_usable(source, problems))
    out.mkdir(parents=True, exist_ok=True)
    with stage("library"):
        lib = PhaseLibrary.default(extra=list(libraries))
    problems_out = [{"file": f, "error": msg} for f, msg in problems]
    groups = group_by_system(entries)
    config = {"quant": dict(quant or {})}
    store_path = out / "series.sqlite"
    counts = {"done": 0, "skipped": 0, "errors": 0, "unusable_files": len(problems)}
    with ResultStore(store_path) as store:
        run_id = store.start_run(config, lib.version, __version__)
        pools: dict[str, tuple[list[str], set[str]]] = {}
        for name in list(groups):
            try:
                with stage("library"):
                    pools[name] = _pool(lib, name, elements, groups[name], quant)
            except UnknownMaterialError as exc:
                # a name that is not a library system (a reaction's, Cr2O3-2ZnO): the elements are the way in
                reason = str(exc).split("; known:", 1)[0]
                msg = f"series {name!r}: {reason}; give --elements (the sample's elements)"
                problems_out.append({"file": name, "error": msg})
                del groups[name]
            except PhasetraceError as exc:
                problems_out.append({"file": name, "error": f"series {name!r}: {exc}"})
                del groups[name]
        # hashes from collecting (the files were read once already); files are never modified
        shas = {str(e.path): e.sha256 or file_sha256(str(e.path)) for es in groups.values() for e in es}

        def tasks_for(
            stage: str,
            technique: str,
            phases_by_system: dict[str, list[str]],
            extra: dict[str, Any] | None = None,
            names: Sequence[str] | None = None,
        ) -> list[dict[str, Any]]:
            """Tasks of one stage; ``extra`` maps a file to its identification (start values, phases)."""
            out_tasks = []
            for name in groups if names is None else names:
                for e in groups[name]:
                    if e.technique != technique:
                        continue
                    cfg = {**config, "prefer": sorted(pools[name][1])}
                    if extra and str(e.path) in extra:
                        cfg["start"] = {str(e.path): extra[str(e.path)]["start"]}
                        cfg["identified"] = extra[str(e.path)]["identified"]
                    out_tasks.append(
                        make_task(
                            path=str(e.path),
                            stage=stage,
                            technique=e.technique,
                            system=name,
                            temperature_C=e.temperature_C,
                            meta=_jsonable_meta(e.meta),
                            phases=phases_by_system[name],
                            config=cfg,
                            libraries=list(libraries),
                            library_version=lib.version,
                            sha256=shas[str(e.path)],
                        )
                    )
            return out_tasks

        # stage 1: identify every XRD scan among the system's candidates, and test every Raman scan
        # for the same candidates (the union found by XRD is a subset of them, so Raman need not wait)
        pool_ids = {n: p[0] for n, p in pools.items()}
        stage1 = tasks_for("identify", "xrd", pool_ids)
        stage_r = tasks_for("raman", "raman", pool_ids)
        union: dict[str, list[str]] = {name: [] for name in groups}
        records: dict[str, dict[str, Any]] = {}
        stage2: list[dict[str, Any]] = []
        # a system's refits wait for its XRD identifications and its Raman tests: a phase that only Raman
        # found is refitted in the XRD scans too (it gets a wt % or a detection limit there)
        waiting = {
            name: {t["key"] for t in [*stage1, *stage_r] if t["system"] == name} for name in groups
        }

        def refits_of(name: str) -> list[dict[str, Any]]:
            """Stage 2 of one system: every XRD scan refitted with the union of its identifications."""
            ident = [t for t in stage1 if t["system"] == name]
            with stage("store"):
                for t in ident:
                    records[t["key"]] = store.get(t["key"])
            # per phase: scans that found it, and its largest wt %/esd among them
            n_found: dict[str, int] = {}
            strength: dict[str, float] = {}
            together: set[frozenset[str]] = set()
            for t in ident:
                rec = records[t["key"]]
                det = identified(rec)
                together |= {frozenset((a, b)) for a in det for b in det if a != b}
                for p in rec["result"]["phases"] if rec and rec["status"] == "ok" else ():
                    if p["detected"]:
                        n_found[p["id"]] = n_found.get(p["id"], 0) + 1
                        z = p["wt_percent"] / p["esd"] if p.get("esd") else 0.0
                        strength[p["id"]] = max(strength.get(p["id"], 0.0), z)
            found = list(n_found)
            if ident:
                raman = [t for t in stage_r if t["system"] == name]
                with stage("store"):
                    for t in raman:
                        records[t["key"]] = store.get(t["key"])
                for pid in raman_found(lib, [records[t["key"]] for t in raman], pool_ids[name]):
                    if pid not in n_found:
                        found.append(pid)
                        n_found[pid] = 0
            # twins found at different temperatures (LNMO here, LiMn2O4 there) are one phase to the refit:
            # both in one model would share its peaks arbitrarily
            union[name], merged = merge_twins(lib, found, n_found, pools[name][1], strength, together)
            if not union[name]:
                return []
            # each refit starts where the scan's identification ended; a union phase that identification
            # did not find in a scan must show evidence of its own there (not only soak up misfit)
            starts = refit_starts(ident, records, union, {name: merged})
            new = tasks_for("refit", "xrd", union, extra=starts, names=[name])
            stage2.extend(new)
            return new

        def followup(t: dict[str, Any]) -> list[dict[str, Any]]:
            # a system's refits start as soon as its last identification is in: no barrier between systems
            if t["stage"] not in ("identify", "raman"):
                return []
            left = waiting[t["system"]]
            left.discard(t["key"])
            return refits_of(t["system"]) if not left else []

        def on_result(t: dict[str, Any], out: dict[str, Any]) -> None:
            # the stage timers of the task, added up per scan (an XRD scan is identified and refitted)
            mine = per_scan.setdefault(t["path"], {})
            for k, v in (out.get("stages") or {}).items():
                mine[k] = mine.get(k, 0.0) + v

        # systems without XRD scans have nothing to wait for
        # one system after another, so that the first systems' refits can start while later ones are
        # still being identified
        first = [t for name in groups for t in [*stage1, *stage_r] if t["system"] == name]
        for name, left in waiting.items():
            if not left:
                refits_of(name)
        _add(
            counts,
            execute(
                first,
                store,
                jobs=jobs,
                scheduler=scheduler,
                progress=progress,
                label="scans",
                followup=followup,
                executor=executor,
                on_result=on_result,
            ),
        )
        with stage("store"):
            for t in [*stage2, *stage_r]:
                records[t["key"]] = store.get(t["key"])
        for t in [*stage1, *stage2, *stage_r]:
            rec = records.get(t["key"])
            if rec and rec["status"] == "error":
                problems_out.append({"file": t["path"], "error": rec["error"]})
        systems = [
            summarise_system(
                name, groups[name], lib, pools[name][1], union[name], stage2, stage_r, records, stage1
            )
            for name in groups
        ]
        store.finish_run(run_id)
    seen = set()
    problems_out = [p for p in problems_out if not (p["error"] in seen or seen.add(p["error"]))]
    return SeriesResult(
        systems=systems,
        problems=problems_out,
        counts=counts,
        out=out,
        store_path=store_path,
        entries=groups,
        records=records,
        warnings=found.warnings,
    )


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for k, v in more.items():
        total[k] = total.get(k, 0) + v


def _jsonable_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v if isinstance(v, (str, int, float, bool, type(None), list)) else str(v))
        for k, v in meta.items()
    }


#: Raman bands listed as a phase's evidence: its strongest fitted bands, at most this many.
EVIDENCE_BANDS = 4


def _first_detection(ev: Evolution, by_t: dict[float, dict[str, Any]], pid: str):
    """Temperature and record of the first scan that detected a phase (its onset, or the first scan)."""
    if not ev.detected_at:
        return None, None
    t = ev.detected_at[0]
    return t, by_t.get(t, {}).get(pid)


def _xrd_evidence(ev, by_t, pid, labels, files) -> dict[str, Any] | None:
    """The reflections that carry a phase's first XRD detection (see PhaseResult.evidence)."""
    t, p = _first_detection(ev, by_t, pid)
    if p is None:
        return None
    return {
        "temperature_C": t,
        "label": labels[t],
        "file": p.get("file") or files.get(("xrd", t)),
        "reflections": p.get("evidence", []),
    }


def _raman_evidence(ev, by_t, pid, labels, files) -> dict[str, Any] | None:
    """The strongest fitted bands of a phase's first Raman detection, with their share of its area."""
    t, p = _first_detection(ev, by_t, pid)
    if p is None:
        return None
    bands = p.get("bands") or []
    areas = [a if a is not None else 0.0 for a in (p.get("band_areas") or [])]
    if len(areas) != len(bands):
        areas = [0.0] * len(bands)
    total = sum(a for a in areas if a > 0) or 1.0
    rows = sorted(zip(bands, areas, strict=True), key=lambda r: -r[1])[:EVIDENCE_BANDS]
    return {
        "temperature_C": t,
        "label": labels[t],
        "file": p.get("file") or files.get(("raman", t)),
        "significance": p.get("significance"),
        "bands": [{"position_cm1": round(b, 1), "area_share": round(a / total, 3)} for b, a in rows],
    }


def _by_temperature(tasks, name: str, records: dict[str, Any]):
    """Per temperature, a system's successful results of one stage: phase id -> phase record, and file.

    Replicates at one temperature are merged (:func:`~phasetrace.series.replicates.merge_replicates`).
    """
    scans: dict[float, list[tuple[str, dict[str, Any]]]] = {}
    for t in tasks:
        rec = records.get(t["key"])
        if t["system"] == name and rec and rec["status"] == "ok":
            phases = {p["id"]: p for p in rec["result"]["phases"]}
            scans.setdefault(t["temperature_C"], []).append((t.get("path", ""), phases))
    by_t = {temp: merge_replicates(reps) for temp, reps in scans.items()}
    return by_t, {temp: reps[0][0] for temp, reps in scans.items()}


def summarise_system(name, entries, lib, hosts, union, stage2, stage_r, records, stage1=()) -> SystemResult:
    """One system's series from its stored per-scan records: onsets, evidence, wt % per temperature.

    Parameters
    ----------
    name : str
        The system.
    entries : list of SeriesEntry
        Its scans.
    lib : PhaseLibrary
    hosts : collection of str
        Its host phases (no onset).
    union : sequence of str
        The phases its XRD scans were refitted with.
    stage2, stage_r, stage1 : sequence of dict
        The refit, Raman and identification tasks (``key``, ``system``, ``temperature_C``, ``path``).
    records : dict
        Task key -> stored record.

    Returns
    -------
    SystemResult
    """
    temps = sorted({e.temperature_C for e in entries})
    # the identifications name the twins that fit as well in a phase's place (the refits, with a
    # fixed phase set, do not test them)
    ident_by_t, _ = _by_temperature(stage1, name, records)
    labels = {e.temperature_C: e.label for e in entries}
    xrd_by_t, xrd_files = _by_temperature(stage2, name, records)
    raman_by_t, raman_files = _by_temperature(stage_r, name, records)
    files = {("xrd", t): f for t, f in xrd_files.items()} | {("raman", t): f for t, f in raman_files.items()}
    for d in raman_by_t.values():
        attribute_raman_twins(d, union)
    raman_found = {pid for d in raman_by_t.values() for pid, p in d.items() if p.get("detected")}
    phase_ids = list(dict.fromkeys([*union, *sorted(raman_found)]))
    phases = []
    for pid in phase_ids:
        xrd_flags = [
            xrd_by_t[t][pid]["detected"] if t in xrd_by_t and pid in xrd_by_t[t] else None for t in temps
        ]
        raman_flags = [
            raman_by_t[t][pid]["detected"] if t in raman_by_t and pid in raman_by_t[t] else None
            for t in temps
        ]
        # an XRD detection dates a phase's appearance only with evidence a careful analyst accepts
        # (its own reflection among at least two significant ones), or with Raman at the same temperature
        xrd_ev = [((xrd_by_t.get(t) or {}).get(pid) or {}).get("evidence") for t in temps]
        xrd_flags = screen_onset_evidence(xrd_flags, xrd_ev, raman_flags)
        ev_x = evolution(temps, xrd_flags)
        ev_r = evolution(temps, raman_flags)
        ev_c = evolution(temps, combine(temps, xrd_flags, raman_flags))
        role = lib[pid].role if pid in lib else ""
        is_host = pid in hosts or role == "host"
        # contaminants (Li2CO3, LiOH from moisture and CO2) are handling artefacts, not products of
        # the sintering: their presence is reported, but they get no onset
        no_onset = is_host or role == "contaminant"
        wt_by_t = {}
        for t in temps:
            p = xrd_by_t.get(t, {}).get(pid)
            r = raman_by_t.get(t, {}).get(pid)
            wt_by_t[labels[t]] = PhaseAtTemperature(
                temperature_C=t,
                wt_percent=p["wt_percent"] if p else None,
                esd=p["esd"] if p else None,
                lod_wt_percent=p["lod_wt_percent"] if p else None,
                detected_xrd=p["detected"] if p else None,
                raman=None if r is None else r.get("status"),
                replicates=replicate_fields(p, r),
                reliable=bool(p.get("reliable", True)) if p else True,
            )
        formula = lib.reflections(pid).formula if pid in lib else pid
        # twins the data could not tell from it where it was found (XRD fit alternatives, Raman twins):
        # "LaNiO3 or LaCoO3" is what the scans say about a LaMO3 perovskite
        alternatives: list[str] = []
        for by_t in (ident_by_t, xrd_by_t, raman_by_t):
            for t in temps:
                p = by_t.get(t, {}).get(pid)
                if p and p.get("detected"):
                    alternatives += [a for a in p.get("alternatives") or [] if a not in union]
        for t in temps:
            alternatives += [
                q
                for q, r in raman_by_t.get(t, {}).items()
                if r.get("twin_of") == pid and r.get("status") == "indistinguishable" and q not in union
            ]
        alternatives = list(dict.fromkeys(a for a in alternatives if a != pid))
        phases.append(
            PhaseSeries(
                id=pid,
                formula=formula,
                role="host" if is_host else role,
                alternatives=tuple(alternatives),
                onset={
                    "xrd": None if no_onset else ev_x.to_list(),
                    "raman": None if no_onset else ev_r.to_list(),
                    "combined": None if no_onset else ev_c.to_list(),
                },
                onset_basis=None if no_onset else onset_basis(temps, ev_c.onset, xrd_flags, raman_flags),
                evidence={
                    "xrd": _xrd_evidence(ev_x, xrd_by_t, pid, labels, files),
                    "raman": _raman_evidence(ev_r, raman_by_t, pid, labels, files),
                },
                present_from_start=ev_c.present_from_start,
                vanishes_at=ev_c.vanishes_at,
                raman_testable=ev_r.testable,
                by_temperature=wt_by_t,
            )
        )
    # per XRD scan: the refit's quality, and the peaks no union phase explains that persist
    quality_by_t: dict[float, dict[str, Any] | None] = {}
    fit_quality = []
    for t in stage2:
        rec = records.get(t["key"])
        if t["system"] != name or not rec or rec["status"] != "ok":
            continue
        res = rec["result"]
        quality_by_t[t["temperature_C"]] = res.get("quality")
        label = labels.get(t["temperature_C"])
        fit_quality.append(ScanQuality.from_record(t["temperature_C"], label, t.get("path", ""), res))
    fit_quality.sort(key=lambda r: r.temperature_C or 0.0)
    xrd_files_t = {t: f for (k, t), f in files.items() if k == "xrd"}
    phases += unidentified_phases(temps, labels, xrd_files_t, quality_by_t)
    return SystemResult(
        system=name,
        temperatures=tuple(temps),
        labels=tuple(labels[t] for t in temps),
        fit_quality=tuple(fit_quality),
        files=tuple(
            {"file": str(e.path), "technique": e.technique, "temperature_C": e.temperature_C} for e in entries
        ),
        phases=tuple(phases),
        misfit=tuple(misfit_reflections(temps, labels, quality_by_t)),
    )
