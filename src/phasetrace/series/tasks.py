"""Per-scan tasks and their execution: sequential, a process pool, or a Dask cluster.

A task is a plain dictionary (picklable, JSON-able) and :func:`analyse_scan` a
pure function of it plus the library, so the same task gives the same result
wherever it runs. Results are stored by the caller as they arrive.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from ..errors import PhasetraceError
from ..timing import cpu_seconds, recording, stage
from .store import ResultStore, task_key

__all__ = ["analyse_scan", "execute", "make_task"]

_LIBRARIES: dict[tuple[str, ...], Any] = {}

#: Environment variables that set the thread count of the numerical libraries in worker processes.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _library(paths: Sequence[str]):
    """The library of ``paths`` plus the user library folders, read once per process while they are unchanged.

    The key holds the user folders' files with their sizes and modification times: a worker process
    (or a notebook, or the tests) that outlives a ``phases add`` or ``phases remove`` would otherwise
    analyse the next series without the added phase, or with the removed one.
    """
    from ..library.phases import PhaseLibrary, library_dirs

    state = []
    for scope, folder in library_dirs():
        stats = [(f.name, f.stat()) for f in folder.iterdir() if f.is_file()]
        files = sorted((name, st.st_size, st.st_mtime_ns) for name, st in stats)
        state.append((scope, str(folder.resolve()), tuple(files)))
    key = (tuple(paths), tuple(state))
    if key not in _LIBRARIES:
        _LIBRARIES[key] = PhaseLibrary.default(extra=list(paths))
    return _LIBRARIES[key]


def file_sha256(path: str) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_task(
    *,
    path: str,
    stage: str,
    technique: str,
    system: str,
    temperature_C: float,
    meta: dict[str, Any],
    phases: Sequence[str],
    config: dict[str, Any],
    libraries: Sequence[str],
    library_version: str,
    sha256: str | None = None,
) -> dict[str, Any]:
    """A task dictionary with its store key."""
    sha = sha256 or file_sha256(path)
    cfg = {"stage": stage, "phases": list(phases), "config": config, "meta": meta}
    return {
        "key": task_key(sha, stage, cfg, library_version),
        "path": path,
        "sha256": sha,
        "stage": stage,
        "technique": technique,
        "system": system,
        "temperature_C": temperature_C,
        "meta": meta,
        "phases": list(phases),
        "config": config,
        "libraries": list(libraries),
    }


def analyse_scan(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task; never raises for bad input (the error is returned, one line).

    Stages
    ------
    identify (XRD)
        Rank the candidates and select the phase set by whole-pattern fitting.
    refit (XRD)
        Fit exactly ``phases`` (the union found in the series).
    raman (Raman)
        Test ``phases`` against the Raman band table.
    """
    t0, c0 = time.perf_counter(), cpu_seconds()
    with recording() as clock:
        try:
            # one BLAS thread wherever a task runs (this process, pool workers, Dask workers): one task is
            # one core's work, and the results do not depend on where it ran
            from ..quantify.core import one_blas_thread

            with one_blas_thread():
                result = _run(task)
            status, error = "ok", None
        except PhasetraceError as exc:
            result, status, error = None, "error", str(exc)
        except Exception as exc:  # noqa: BLE001 - a batch goes on past any single failure
            why = f"internal error ({type(exc).__name__}: {exc})"
            result, status, error = None, "error", f"{task['path']}: {why}"
    seconds = time.perf_counter() - t0
    # CPU time of the task outside its timed stages (start values, evidence, conversions)
    clock.add("other", max(cpu_seconds() - c0 - sum(clock.seconds.values()), 0.0))
    return {
        "key": task["key"],
        "status": status,
        "error": error,
        "result": result,
        "seconds": seconds,
        "stages": clock.seconds,
    }


def _run(task: dict[str, Any]) -> dict[str, Any]:
    from ..io import load
    from ..quantify.api import quantify
    from ..quantify.candidates import rank_or_none, select_by_fit
    from ..quantify.fit import QuantConfig

    cfg = QuantConfig(**task["config"].get("quant", {}))
    inst = cfg.instrument  # its lines (--instrument) are the radiation of matching and fit alike
    with stage("library"):
        lib = _library(task["libraries"])
    with stage("load"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = load(task["path"], meta=task["meta"] or None, radiation=inst.radiation(None) if inst else None)
    kind = task["stage"]
    phases = [p for p in task["phases"] if p in lib]
    if kind == "raman":
        return _raman(scan, lib, phases)
    if kind == "identify":
        # the one selection sequence of every single-scan caller (phasetrace fit/identify)
        prefer = task["config"].get("prefer", ())
        with stage("ranking"):
            ranking = rank_or_none(scan, lib, phases, system=task.get("system"))
        # the series reads the identification's phases, start values and alternatives; the detection
        # limits of the candidates left out are the refit's to give (of the union), not computed here
        res, _ = select_by_fit(
            scan,
            lib,
            phases,
            system=task.get("system"),
            prefer=prefer,
            config=cfg,
            ranking=ranking,
            absent_limits=False,
        )
    else:
        start = task["config"].get("start", {}).get(task["path"]) or None
        identified = task["config"].get("identified")
        verify = [p for p in phases if p not in identified] if identified is not None else ()
        res = quantify(scan, phases, cfg, library=lib, select=False, start=start, verify=verify)
    # the refits' fitted curves, for the reports' profile exports and interactive plots
    with stage("results"):
        return _xrd_record(res, _profile(res, scan) if kind == "refit" and res.success else None)


def _xrd_record(res, profile: dict[str, Any] | None) -> dict[str, Any]:
    """The stored record of an XRD task."""
    return {
        "success": res.success,
        "message": res.message,
        "rwp": res.rwp,
        "rexp": res.rexp,
        "gof": res.gof,
        "flag": res.flag,
        "quality": res.quality.to_dict() if res.quality is not None else None,
        "globals": res.globals,
        "phases": [p.to_dict() for p in res.phases],
        "selection": res.selection,
        "start": res.start_values,
        **({"profile": profile} if profile else {}),
    }


def _profile(res, scan) -> dict[str, Any]:
    """The fitted curves of a refit, for the reports' profile exports and interactive plots."""
    from .store import pack_arrays

    cols = {"two_theta": res.x, "observed": res.y, "calculated": res.ycalc, "background": res.background}
    cols.update({f"phase:{k}": v for k, v in res.phase_curves.items()})
    ticks = {k: [round(float(t), 4) for t in v] for k, v in res.ticks.items()}
    return pack_arrays(cols, wavelength=scan.meta.radiation.kalpha1, ticks=ticks, rexp=res.rexp)


def _raman(scan, lib, phases) -> dict[str, Any]:
    """Raman evidence per phase: detected (True/False) or untestable/indistinguishable (None).

    ``detected``, ``status``, the significances and the fitted bands come from the
    whole-spectrum fit (:func:`phasetrace.quantify.raman.fit_raman`).
    """
    from ..quantify.raman import fit_raman
    from .store import pack_arrays

    # the spectrum as read (with the task's metadata), so that the figures and the HTML report
    # draw it without reading the file again
    spectrum = pack_arrays({"x": scan.x, "y": scan.y})
    try:
        with stage("raman"):
            fit = fit_raman(scan, lib, phases)
    except PhasetraceError as exc:
        why = f"no Raman fit: {exc}"
        out = [{"id": pid, "detected": None, "status": "not testable", "reason": why} for pid in phases]
        return {"success": False, "message": str(exc), "phases": out, "spectrum": spectrum}
    return {
        "success": True,
        "gof": fit.gof if math.isfinite(fit.gof) else None,
        "noise_method": fit.noise_method,
        "n_spikes": fit.n_spikes,
        "phases": [p.to_dict() for p in fit.phases],
        "spectrum": spectrum,
    }


def execute(
    tasks: Sequence[dict[str, Any]],
    store: ResultStore,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    label: str = "scans",
    on_result: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    followup: Callable[[dict[str, Any]], Sequence[dict[str, Any]]] | None = None,
    executor: Executor | None = None,
) -> dict[str, int]:
    """Run the tasks not yet in the store; store each result as it arrives.

    Parameters
    ----------
    tasks : sequence of dict
    store : ResultStore
    jobs : int
        Worker processes (1 = in this process). The workers live for the whole
        call, follow-up tasks included.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); the same
        tasks are submitted there instead.
    progress : bool
        Show a progress bar on stderr.
    on_result : callable, optional
        Called with (task, output) for each task run now.
    followup : callable, optional
        Called with each task once its result is in the store (run now or
        stored before); returns further tasks to run, which start at once.
        This lets one series' refits run while another is still identified.
    executor : concurrent.futures.Executor, optional
        An existing worker pool (see :func:`worker_pool`) to use instead of
        starting ``jobs`` processes.

    Returns
    -------
    dict
        Counts: ``done`` (run now), ``skipped`` (already stored), ``errors``.
    """
    counts = {"done": 0, "skipped": 0, "errors": 0}
    by_key: dict[str, dict[str, Any]] = {}
    bar = _Progress(0, label) if progress else None

    def record(out: dict[str, Any]) -> dict[str, Any]:
        t = by_key[out["key"]]
        with stage("store"):
            _put(store, t, out)
        counts["done"] += 1
        counts["errors"] += out["status"] != "ok"
        if on_result is not None:
            on_result(t, out)
        if bar:
            bar.step()
        return t

    try:
        with _backend(jobs, scheduler, executor) as backend:

            def feed(new: Sequence[dict[str, Any]]) -> None:
                todo = list(new)
                while todo:
                    t = todo.pop(0)
                    if t["key"] in by_key:
                        continue
                    by_key[t["key"]] = t
                    with stage("store"):
                        stored = store.has(t["key"])
                    if stored:
                        counts["skipped"] += 1
                        if followup is not None:
                            todo.extend(followup(t))
                    else:
                        if bar:
                            bar.grow(1)
                        backend.submit(t)

            feed(tasks)
            while backend.busy():
                for out in backend.finished():
                    t = record(out)
                    if followup is not None:
                        feed(followup(t))
    finally:
        if bar:
            bar.close()
    return counts


def _put(store: ResultStore, t: dict[str, Any], out: dict[str, Any]) -> None:
    """Store a task's output under its key."""
    store.put(
        out["key"],
        stage=t["stage"],
        file=t["path"],
        sha256=t["sha256"],
        system=t["system"],
        temperature_C=t["temperature_C"],
        technique=t["technique"],
        status=out["status"],
        error=out["error"],
        result=out["result"],
        seconds=out["seconds"],
    )


class _Inline:
    """Tasks run one by one in this process, in submission order."""

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []

    def submit(self, task: dict[str, Any]) -> None:
        self.queue.append(task)

    def busy(self) -> bool:
        return bool(self.queue)

    def finished(self) -> list[dict[str, Any]]:
        return [analyse_scan(self.queue.pop(0))]


class _Pool:
    """Spawned worker processes, each with one BLAS thread, kept for all submitted tasks.

    A worker that dies (a segfault in a compiled library, the kernel's OOM killer) breaks the
    pool and every task in it: those tasks are submitted once more to a fresh pool, and a task
    caught in a second break runs alone, where dying again fails that scan only.
    """

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        self.running: dict[Any, dict[str, Any]] = {}
        self.breaks: dict[str, int] = {}

    def submit(self, task: dict[str, Any]) -> None:
        self.running[self.pool.submit(analyse_scan, task)] = task

    def busy(self) -> bool:
        return bool(self.running)

    def finished(self) -> list[dict[str, Any]]:
        done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        out = []
        for f in done:
            task = self.running.pop(f)
            try:
                out.append(f.result())
                continue
            except BrokenProcessPool:
                pass
            self.breaks[task["key"]] = self.breaks.get(task["key"], 0) + 1
            if self.breaks[task["key"]] == 1 and isinstance(self.pool, _RenewablePool):
                self.submit(task)
            else:
                out.append(_run_alone(task))
        return out


def _run_alone(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task in a process of its own; its death fails this task only."""
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(analyse_scan, task).result()
        except BrokenProcessPool:
            error = f"{task['path']}: the analysis process died (a crash in a compiled library?)"
    seconds = time.perf_counter() - t0
    return {"key": task["key"], "status": "error", "error": error, "result": None, "seconds": seconds}


class _RenewablePool(Executor):
    """A process pool that starts afresh when a worker died, so one crash does not end the run."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._pool = ProcessPoolExecutor(**kwargs)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = ProcessPoolExecutor(**self._kwargs)
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class _Dask:
    """Tasks submitted to a Dask distributed scheduler."""

    def __init__(self, client: Any) -> None:
        from distributed import as_completed as dask_completed

        self.client = client
        self.results = dask_completed()
        self.n = 0

    def submit(self, task: dict[str, Any]) -> None:
        self.results.add(self.client.submit(analyse_scan, task, pure=False))
        self.n += 1

    def busy(self) -> bool:
        return self.n > 0

    def finished(self) -> list[dict[str, Any]]:
        fut = next(self.results)
        self.n -= 1
        return [fut.result()]


@contextmanager
def _backend(jobs: int, scheduler: str | None, executor: Executor | None = None):
    if scheduler:
        from distributed import Client

        with Client(scheduler, timeout="20s") as client:
            yield _Dask(client)
        return
    if executor is not None:
        yield _Pool(executor)
        return
    with worker_pool(jobs) as pool:
        yield _Inline() if pool is None else _Pool(pool)


def _warm_worker(libraries: Sequence[str]) -> None:
    """Worker initializer: import the analysis stack and load the library before the first task.

    matplotlib (with the Agg backend) is imported too: the same workers draw the figures at the
    end, and its import costs nearly a second that is free while the main process collects.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    from .. import io, match, quantify  # noqa: F401 - imported for their start-up cost

    _library(libraries)


def _ready() -> None:
    """A no-op task: submitting one per worker starts the workers at once."""


@contextmanager
def worker_pool(jobs: int, libraries: Sequence[str] = ()) -> Iterator[Executor | None]:
    """A pool of ``jobs`` worker processes for a whole run (None for ``jobs`` <= 1).

    The workers are fresh interpreters with one BLAS thread each (the per-scan linear algebra is
    small, and N workers x N BLAS threads on N cores only fight for them). They are started at once
    and import the analysis stack and load the library (``libraries``: extra phase files) while the
    caller goes on, e.g. collecting the scans; tasks and figures of the run then share them.
    """
    if jobs <= 1:
        yield None
        return
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
    try:
        ctx = multiprocessing.get_context("spawn")
        with _RenewablePool(
            max_workers=jobs, mp_context=ctx, initializer=_warm_worker, initargs=(list(libraries),)
        ) as pool:
            for _ in range(jobs):
                pool.submit(_ready)
            yield pool
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Progress:
    """A one-line progress bar on stderr, silent when stderr is not a terminal.

    The total grows as tasks are submitted (follow-up tasks join later).
    """

    WIDTH = 36

    def __init__(self, total: int, label: str):
        self._label = label
        self._total = total
        self._done = 0
        self._live = sys.stderr.isatty()
        self._t0 = time.perf_counter()

    def grow(self, n: int) -> None:
        self._total += n
        self._draw()

    def step(self) -> None:
        self._done += 1
        self._draw()

    def _draw(self) -> None:
        if not self._live or self._total <= 0:
            return
        frac = min(self._done / self._total, 1.0)
        filled = int(round(frac * self.WIDTH))
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.perf_counter() - self._t0
        sys.stderr.write(f"\r{self._label} [{bar}] {self._done}/{self._total}  {elapsed:5.0f} s")
        sys.stderr.flush()

    def close(self) -> None:
        if self._live and self._total > 0:
            sys.stderr.write("\n")
            sys.stderr.flush()
