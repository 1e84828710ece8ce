"""``make bench``: phasetrace's speed and accuracy benchmark; writes ``benchmarks/results.md``.

Run from the repository root::

    .venv/bin/python benchmarks/run.py                    # the default benchmark (about 10 minutes, 2 cores)
    .venv/bin/python benchmarks/run.py --batch-scans 24   # a smaller batch-throughput run
    .venv/bin/python benchmarks/run.py --quick            # skip the batch and the sample_data series runs
    .venv/bin/python benchmarks/run.py --only startup     # start-up times alone (a few seconds)
    .venv/bin/python benchmarks/run.py --only accuracy    # the validation-set accuracy alone
    .venv/bin/python benchmarks/run.py --only batch --batch-scans 1000 --batch-jobs 2
                                                          # issue 18's 1,000-scan batch and its stages
    .venv/bin/python benchmarks/speed.py                  # the two fit-speed rows alone, process time

The benchmark measures each pipeline stage through its public interface, and only when the stage exists
in the checked-out commit. Python stages are imported inside ``try/except ImportError`` (see
:data:`STAGE_NAMES`). Accuracy runs go through the documented CLI commands (``phasetrace identify / fit
--json``); heating series go through ``phasetrace.series.run_series``, or through ``phasetrace series``
if only the command exists. A missing stage is reported as "stage not available in this commit" and a
failing one with its error. No number is ever filled in.

Accuracy is measured on a validation set generated at run time (``benchmarks/validation.py``), distinct
from ``sample_data/``. Everything is seeded, so two runs on the same commit differ only in timings.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import importlib
import inspect
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from benchmarks import metrics, validation  # noqa: E402

#: Written in place of a number when the code under test does not exist yet.
NOT_AVAILABLE = "stage not available in this commit"
#: Timed repetitions of each fast measurement; the median is reported (robust to one slow outlier, and
#: the whole benchmark stays within a few minutes).
REPEATS = 5
#: Repetitions of slow measurements (cold library loads recompute every reflection list; a heating
#: series runs the whole pipeline on every scan).
SLOW_REPEATS = 2
#: Scans per stage timing (median over scans of the per-scan median).
STAGE_SCANS = 8
#: Scans in the batch-throughput run: issue 7 states its criterion for 200 scans (about 4 minutes for the
#: two runs on two cores; ``--batch-scans`` for a quicker look). Issue 18 states 1,000 scans with two jobs
#: in 3 minutes: ``--batch-scans 1000`` measures it; with fewer scans the table extrapolates and says so.
BATCH_SCANS = 200
#: The batch size of issue 18's throughput target.
TARGET_BATCH_SCANS = 1000
#: Worker counts of the batch runs: 1 and 2, and every core of a bigger machine.
BATCH_JOBS = tuple(sorted({1, 2, os.cpu_count() or 1}))
#: Parallel CLI calls and series jobs in the accuracy runs: the reference machine has two cores.
WORKERS = 2
#: A CLI call or series run that takes longer than this is reported as timed out.
TIMEOUT_S = 1200
#: Candidates shown per real file.
TOP_CANDIDATES = 3
#: Real data beside the clone (as in tests/conftest.py); override with PHASETRACE_REAL_DATA.
REAL_DATA = Path(os.environ.get("PHASETRACE_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
#: Folders of measured XRD files that the identify table covers.
REAL_DIRS = ("xrd/measured", "xrd/insitu")
#: Element hints for real files whose names do not spell a formula.
REAL_HINTS = Path(__file__).with_name("real_files.yaml")
RESULTS = Path(__file__).with_name("results.md")
SAMPLE = REPO / "sample_data"

#: Where each stage is looked up, in order: the name in the benchmark's brief first, then the names the
#: stage's own module uses (``phasetrace.peaks.find`` is a module whose entry point is ``find_peaks``).
STAGE_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "peaks": (
        ("phasetrace.peaks", "find"),
        ("phasetrace.peaks.find", "find_peaks"),
        ("phasetrace.peaks", "find_peaks"),
    ),
    "match": (("phasetrace.match", "rank_candidates"),),
    "quantify": (("phasetrace.quantify", "quantify"),),
    "series": (("phasetrace.series", "run_series"),),
}

#: Targets stated in the issues, keyed by measurement: (value, comparison, source).
TARGETS: dict[str, tuple[float, str, str]] = {
    "library_warm_s": (1.0, "<", "brief of issue 4"),
    "rank_ms": (50.0, "<=", "issue 5"),
    "rank_separation": (0.95, ">=", "issue 5"),
    "fit_s": (0.3, "<=", "issue 6"),
    "auto_fit_s": (1.0, "<=", "issue 6"),
    "minor_err": (metrics.MINOR_TARGET_WT, "<=", "issue 6"),
    "major_err": (metrics.MAJOR_TARGET_WT, "<=", "issue 6"),
    "false_rate": (0.02, "<=", "issue 6"),
    "below_lod": (0.0, "<=", "issue 6"),
    "onset_rate": (0.90, ">=", "issue 7"),
    "onset_all": (1.0, ">=", "issue 7: every onset of sample_data"),
    "rank_all": (1.0, ">=", "issue 5: all seven systems"),
    "speedup": (1.8, ">=", "issue 7"),
    "batch1000_s": (180.0, "<=", "issue 18: 1,000 scans, --jobs 2"),
    "startup_s": (0.3, "<=", "issue 12"),
}

#: Runs per start-up measurement (``phasetrace --help``, ``phasetrace formats``): the median is reported.
STARTUP_RUNS = 5


def log(msg: str) -> None:
    """Progress on stderr (the report goes to results.md)."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- formatting
def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |")
    return out


def fmt_s(seconds: float | None) -> str:
    """Seconds as ms below 1 s, else s."""
    if seconds is None or not np.isfinite(seconds):
        return "–"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def fmt_pct(x: float | None) -> str:
    """A rate as a percentage."""
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"


def verdict(key: str, value: float | None) -> str:
    """'met' / 'NOT met' against the issue's target, with the target."""
    target, op, src = TARGETS[key]
    if value is None or not np.isfinite(value):
        return f"{op} {target:g} ({src})"
    ok = value < target if op == "<" else value <= target if op == "<=" else value >= target
    return f"{'met' if ok else 'NOT met'} ({op} {target:g}, {src})"


def short_error(exc: BaseException | str) -> str:
    """One line of an error, for a table cell."""
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return (line[:160] + "…") if len(line) > 160 else line


# ----------------------------------------------------------------------------- environment
def machine() -> list[tuple[str, str]]:
    """Date, machine, Python and versions, as (label, value) rows."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import phasetrace

    return [
        ("date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")),
        ("commit", git_commit()),
        ("phasetrace", getattr(phasetrace, "__version__", "?")),
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} ({usable} usable)"),
        ("RAM", ram),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("OS", platform.platform()),
        ("numpy", np.__version__),
    ]


def git_commit(repo: Path = REPO) -> str:
    """The checked-out commit, read from the files in ``.git`` (the benchmark does not run git)."""
    gitdir = repo / ".git"
    try:
        if gitdir.is_file():  # a worktree: "gitdir: <path>"
            gitdir = Path(gitdir.read_text().split(":", 1)[1].strip())
        head = (gitdir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:12]
        ref = head.split(":", 1)[1].strip()
        branch = ref.rsplit("/", 1)[-1]
        if (gitdir / ref).is_file():
            return f"{(gitdir / ref).read_text().strip()[:12]} ({branch})"
        packed = gitdir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return f"{line.split()[0][:12]} ({branch})"
        return f"no commit yet ({branch})"
    except OSError:
        return "unknown (no .git)"


# ----------------------------------------------------------------------------- stages
def stage(key: str) -> tuple[Callable[..., Any] | None, str]:
    """The callable of a pipeline stage and its qualified name, or None and why it is missing."""
    why = []
    for module, name in STAGE_NAMES[key]:
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            why.append(short_error(exc))
            continue
        func = getattr(mod, name, None)
        if callable(func) and not inspect.ismodule(func):
            return func, f"{module}.{name}"
        why.append(f"{module} has no {name}")
    return None, f"{NOT_AVAILABLE} ({'; '.join(dict.fromkeys(why))})"


def cli_commands() -> set[str]:
    """Names of the ``phasetrace`` CLI commands in this commit."""
    try:
        import click

        from phasetrace.cli import main
    except ImportError:
        return set()
    # list_commands, not .commands: a lazily loading group registers its commands only when they run
    with click.Context(main) as ctx:
        return set(main.list_commands(ctx))


class StageCallError(TypeError):
    """The stage's signature asks for something the benchmark cannot supply."""


def call_stage(func: Callable[..., Any], first: Any, offer: Mapping[str, Any]) -> Any:
    """Call ``func(first, ...)`` passing, by name, those of ``offer`` its signature accepts.

    The stages are written in parallel with this benchmark, so their exact signatures are not known in
    advance; a required parameter the benchmark has no value for raises :class:`StageCallError`.
    """
    params = list(inspect.signature(func).parameters.values())
    args: list[Any] = [first]
    kwargs: dict[str, Any] = {}
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in offer:
            if p.kind == p.POSITIONAL_ONLY:
                args.append(offer[p.name])
            else:
                kwargs[p.name] = offer[p.name]
        elif p.default is inspect.Parameter.empty:
            raise StageCallError(f"{func.__module__}.{func.__qualname__} needs {p.name!r}")
    return func(*args, **kwargs)


def time_calls(fn: Callable[[], Any], repeats: int = REPEATS) -> list[float]:
    """Wall times of ``repeats`` calls after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


@dataclass
class Run:
    """One subprocess run (a CLI command or a series run)."""

    args: list[str]
    returncode: int
    seconds: float
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """Exit code 0."""
        return self.returncode == 0

    def json(self) -> Any:
        """The parsed standard output."""
        return json.loads(self.stdout)

    def error(self) -> str:
        """Why the run failed: the JSON ``message``, else the first line of stderr, else the exit code."""
        if self.returncode == -9:
            return f"timed out after {TIMEOUT_S} s"
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            msg = self.json().get("message")
            if msg:
                return short_error(str(msg))
        return short_error(self.stderr) or f"exit code {self.returncode}"


def cli_prefix() -> list[str]:
    """How to run the ``phasetrace`` command of this environment."""
    exe = Path(sys.executable).with_name("phasetrace")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from phasetrace.cli import main; main()"]


def run_proc(cmd: Sequence[Any], label: Sequence[Any] | None = None) -> Run:
    """Run a command and capture its output."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            list(map(str, cmd)), capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = -9, str(exc.stdout or ""), str(exc.stderr or "")
    return Run(list(map(str, label or cmd)), rc, time.perf_counter() - t0, out, err)


def run_cli(args: Sequence[Any]) -> Run:
    """Run ``phasetrace <args>``."""
    return run_proc([*cli_prefix(), *args], label=args)


def run_many(jobs: Sequence[Sequence[Any]]) -> list[Run]:
    """CLI runs, :data:`WORKERS` at a time, results in input order."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run_cli, jobs))


_SERIES_SNIPPET = """
import json, sys, time
from phasetrace.series import run_series
t0 = time.perf_counter()
run_series(sys.argv[1], sys.argv[2], jobs=int(sys.argv[3]), progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def run_series_stage(source: Path, out: Path, jobs: int, commands: set[str]) -> Run | None:
    """Analyse a folder or manifest of scans as heating series.

    The documented command ``phasetrace series`` is used when it exists (it writes the JSON summary the
    onset metrics read); otherwise ``phasetrace.series.run_series`` in a subprocess (its time excludes
    the interpreter's start-up). None when neither exists.
    """
    if "series" in commands:
        return run_cli(["series", source, "--out", out, "--jobs", jobs])
    if stage("series")[0] is not None:
        r = run_proc([sys.executable, "-c", _SERIES_SNIPPET, source, out, jobs], label=["run_series", source])
        with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError, IndexError):
            r.seconds = float(json.loads(r.stdout.strip().splitlines()[-1])["seconds"])
        return r
    return None


# ----------------------------------------------------------------------------- the run
@dataclass
class Bench:
    """State shared by the sections of one benchmark run."""

    tmp: Path
    batch_scans: int
    quick: bool = False
    batch_jobs: tuple[int, ...] = BATCH_JOBS
    #: stage timers of the one-series run: (system, scans, summary.json run section)
    series_stages: tuple[str, int, dict[str, Any]] | None = None
    #: stage timers of the batch run with 2 jobs: (scans, jobs, run section)
    batch_stages: tuple[int, int, dict[str, Any]] | None = None
    lines: list[str] = field(default_factory=list)
    lib: Any = None
    vset: Any = None
    commands: set[str] = field(default_factory=set)

    def section(self, title: str, body: Iterable[str]) -> None:
        """Append a Markdown section."""
        self.lines += ["", f"## {title}", "", *body]


def system_candidates(lib: Any, system: str) -> list[str]:
    """The library's candidate phases for a system: its elements, plus the crucible and contaminants."""
    from phasetrace.library.materials import resolve_system

    spec = resolve_system(system, lib.materials)
    always = list(lib.materials.get("always_candidates") or [])
    return [p.id for p in lib.select(elements=spec.elements, always=always)]


def _xrd_scans(truth: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in truth["scans"] if s["technique"] == "xrd"]


def _read_manifest_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _write_manifest_rows(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        wr.writeheader()
        wr.writerows(rows)


def _sample_truth() -> dict[str, Any]:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))


# --- environment and data ---------------------------------------------------------------------------------
def section_setup(b: Bench) -> None:
    """Machine, commit, stage availability, data sets."""
    from phasetrace.library.phases import PhaseLibrary

    b.lib = PhaseLibrary.default()
    log("generating the validation set")
    t0 = time.perf_counter()
    b.vset = validation.generate(b.tmp / "validation", lib=b.lib)
    gen_s = time.perf_counter() - t0
    b.commands = cli_commands()
    b.lines += ["# phasetrace benchmark", "", *md_table(["", ""], [*machine(), ("library", b.lib.version)])]
    rows = []
    for key, label in (
        ("peaks", "peak finding"),
        ("match", "candidate scoring"),
        ("quantify", "whole-pattern fit"),
        ("series", "heating series"),
    ):
        func, name = stage(key)
        rows.append(
            (label, name if func else f"{'.'.join(STAGE_NAMES[key][0])}", "available" if func else name)
        )
    for cmd in ("identify", "fit", "series"):
        rows.append(
            (f"CLI `{cmd}`", f"phasetrace {cmd}", "available" if cmd in b.commands else NOT_AVAILABLE)
        )
    b.section("Stages in this commit", md_table(["stage", "interface", "status"], rows))
    st = b.vset.series_truth
    n_x = len(_xrd_scans(st))
    b.section(
        "Data",
        [
            f"* Validation set (generated now in {fmt_s(gen_s)}, not committed): {len(st['systems'])} "
            f"heating series ({', '.join(s['system'] for s in st['systems'])}), {n_x} XRD + "
            f"{len(st['scans']) - n_x} Raman scans, and {len(b.vset.mixtures)} random 2–5-phase XRD "
            "mixtures (`benchmarks/validation_recipe.yaml`).",
            f"* `sample_data/` is byte-identical to a fresh run of its generator: {_sample_data_check()}.",
        ],
    )


def _sample_data_check() -> str:
    r = run_proc([sys.executable, SAMPLE / "generate.py", "--check"])
    return "yes" if r.ok else f"NO ({short_error(r.stderr or r.stdout)})"


# --- speed ------------------------------------------------------------------------------------------------
def _load_speed(b: Bench) -> list[list[Any]]:
    from phasetrace.io import load

    skip = {"manifest.csv", "truth.json", "README.md", "recipe.yaml", "generate.py"}
    files = [p for p in SAMPLE.iterdir() if p.is_file() and p.name not in skip]
    files += [p for p in b.vset.series_dir.iterdir() if p.name not in skip]
    by_fmt: dict[str, list[float]] = {}
    for p in sorted(files):
        try:
            fmt = load(p).meta.format
            t = metrics.median(time_calls(lambda p=p: load(p), repeats=3))
        except Exception as exc:  # noqa: BLE001 - a loader failure is a result to report
            by_fmt.setdefault(f"{p.suffix} (failed: {short_error(exc)})", [])
            continue
        by_fmt.setdefault(f"{fmt} (`{p.suffix}`)", []).append(t)
    return [
        [f"load one file: {k}", fmt_s(metrics.median(v)), f"{len(v)} files × 3", "", ""]
        for k, v in sorted(by_fmt.items())
    ]


_LIB_SNIPPET = """
import json, time
t0 = time.perf_counter()
from phasetrace.library.phases import PhaseLibrary
t1 = time.perf_counter()
lib = PhaseLibrary.default()
for pid in lib:
    lib.reflections(pid)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "phases": len(lib)}))
"""


def _library_run(cache: Path) -> tuple[float, dict[str, Any]]:
    env = dict(os.environ, PHASETRACE_CACHE=str(cache))
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", _LIB_SNIPPET], capture_output=True, text=True, env=env, check=True
    )
    return time.perf_counter() - t0, json.loads(p.stdout)


def _library_speed(b: Bench) -> list[list[Any]]:
    log("library load, cold and warm")
    cold, warm = [], []
    for i in range(SLOW_REPEATS):
        cache = b.tmp / f"cache_cold_{i}"
        cache.mkdir()
        cold.append(_library_run(cache))
        if i == 0:
            warm = [_library_run(cache) for _ in range(REPEATS)]
    n = cold[0][1]["phases"]
    rows = []
    for label, runs in (("cold (empty cache)", cold), ("warm (second load, fresh process)", warm)):
        load_s = metrics.median(r[1]["load_s"] for r in runs)
        wall = metrics.median(r[0] for r in runs)
        imp = metrics.median(r[1]["import_s"] for r in runs)
        target = verdict("library_warm_s", load_s) if label.startswith("warm") else ""
        rows.append(
            [
                f"library load, {n} phases with reflections, {label}",
                fmt_s(load_s),
                len(runs),
                target,
                f"process wall {fmt_s(wall)}, import {fmt_s(imp)}",
            ]
        )
    return rows


def _simulate_speed(b: Bench) -> list[list[Any]]:
    gen = validation.load_generator()
    recipe = gen.load_recipe(validation.DEFAULT_RECIPE)
    plans = [s for sp in gen.plan(recipe, b.lib) for s in sp.scans]
    rows = []
    for tech in ("xrd", "raman"):
        chosen = [s for s in plans if s.technique == tech][:STAGE_SCANS]
        per = [metrics.median(time_calls(lambda s=s: gen.simulate(b.lib, recipe, s))) for s in chosen]
        n_pts = len(gen.simulate(b.lib, recipe, chosen[0]).x)
        rows.append(
            [
                f"simulate one {'XRD' if tech == 'xrd' else 'Raman'} scan ({n_pts} points)",
                fmt_s(metrics.median(per)),
                len(per) * REPEATS,
                "",
                "phasetrace.simulate",
            ]
        )
    return rows


@dataclass
class StageInput:
    """A validation XRD scan for the per-scan stage timings, with what the stages may be given."""

    path: Path
    scan: Any
    system: str
    phases: list[str]

    def offer(self, key: str, lib: Any) -> dict[str, Any]:
        """Arguments offered to a stage (passed only where its signature asks for them).

        Candidate scoring gets the system (all its candidates); the fit gets the true phases.
        """
        out: dict[str, Any] = {"library": lib}
        if key == "match":
            out["system"] = self.system
        elif key == "quantify":
            out["phases"] = self.phases
        return out


def _stage_inputs(b: Bench) -> list[StageInput]:
    """Validation XRD scans with three or more phases, and their true phases (at most six, largest first)."""
    from phasetrace.io import load

    chosen = [s for s in _xrd_scans(b.vset.series_truth) if len(s["wt_percent"]) >= 3][:STAGE_SCANS]
    out = []
    for s in chosen:
        path = b.vset.series_dir / s["file"]
        phases = sorted(s["wt_percent"], key=lambda k: -s["wt_percent"][k])[:6]
        out.append(StageInput(path, load(path), s["system"], phases))
    return out


def _time_stage(label: str, key: str, b: Bench, inputs: list[StageInput], target: str | None) -> list[Any]:
    func, name = stage(key)
    if func is None:
        return [
            label,
            NOT_AVAILABLE,
            0,
            verdict(target, None) if target else "",
            ".".join(STAGE_NAMES[key][0]),
        ]
    try:
        per = [
            metrics.median(time_calls(lambda i=i: call_stage(func, i.scan, i.offer(key, b.lib))))
            for i in inputs
        ]
    except Exception as exc:  # noqa: BLE001 - the stage exists but the call failed: report it
        return [label, "stage failed", 0, "", f"{name}: {short_error(exc)}"]
    med = metrics.median(per)
    value = med * 1e3 if target == "rank_ms" else med
    return [label, fmt_s(med), len(per) * REPEATS, verdict(target, value) if target else "", name]


def _time_auto_fit(b: Bench, inputs: list[StageInput]) -> list[Any]:
    """Automatic phase selection + fit of one scan, as ``phasetrace fit --system`` does it, in-process."""
    label = "automatic phase selection + fit, one XRD scan (all candidates of its system)"
    if "fit" not in b.commands:
        return [label, NOT_AVAILABLE, 0, verdict("auto_fit_s", None), "phasetrace fit --system"]
    from click.testing import CliRunner

    from phasetrace.cli import main

    runner = CliRunner()
    cpu: list[float] = []

    def once(i: StageInput) -> float:
        t0, c0 = time.perf_counter(), time.process_time()
        res = runner.invoke(main, ["fit", str(i.path), "--system", i.system, "--json"])
        seconds = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        return seconds

    try:
        once(inputs[0])  # warm-up: imports, reflection lists
        cpu.clear()
        per = [once(i) for i in inputs]
    except Exception as exc:  # noqa: BLE001
        return [label, "stage failed", 0, "", short_error(exc)]
    med = metrics.median(per)
    # the machine may be shared: the process time (all threads) beside the wall time
    note = (
        "in-process `phasetrace fit --system` (library load included, no interpreter start-up); "
        f"process time median {fmt_s(metrics.median(cpu))}"
    )
    return [label, fmt_s(med), len(per), verdict("auto_fit_s", med), note]


def _memory_rows(b: Bench, inputs: list[StageInput]) -> list[list[Any]]:
    func, name = stage("quantify")
    label, what = "traced peak memory of one whole-pattern fit", f"tracemalloc, {name}"
    tracemalloc.start()
    try:
        if func is not None and inputs:
            call_stage(func, inputs[0].scan, inputs[0].offer("quantify", b.lib))
        else:
            gen = validation.load_generator()
            recipe = gen.load_recipe(validation.DEFAULT_RECIPE)
            gen.simulate(b.lib, recipe, gen.plan(recipe, b.lib)[0].scans[0])
            label, what = "traced peak memory of one XRD simulation", f"tracemalloc (fit: {NOT_AVAILABLE})"
        value = f"{tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB"
    except Exception as exc:  # noqa: BLE001
        value, what = "stage failed", short_error(exc)
    finally:
        tracemalloc.stop()
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return [
        [label, value, 1, "", what],
        ["peak RSS of the benchmark process", f"{self_rss:.0f} MB", 1, "", "getrusage(RUSAGE_SELF), so far"],
        [
            "peak RSS of the largest child process",
            f"{child_rss:.0f} MB",
            1,
            "",
            "getrusage(RUSAGE_CHILDREN): library loads, CLI and series runs so far",
        ],
    ]


def _one_series_dir(b: Bench) -> tuple[Path, str, int]:
    """A folder with the smallest validation series (its scans and a manifest)."""
    st = b.vset.series_truth
    system = min(st["systems"], key=lambda s: len(s["temperatures_C"]))["system"]
    out = b.tmp / "one_series"
    out.mkdir(exist_ok=True)
    fields, rows = _read_manifest_rows(b.vset.series_dir / "manifest.csv")
    keep = [r for r in rows if r["system"] == system]
    for r in keep:
        shutil.copy2(b.vset.series_dir / r["file"], out / r["file"])
    _write_manifest_rows(out / "manifest.csv", fields, keep)
    return out / "manifest.csv", system, len(keep)


def _batch_manifest(b: Bench) -> tuple[Path, int]:
    """``batch_scans`` distinct scans (the validation systems with replicate seeds) and their manifest."""
    gen = validation.load_generator()
    recipe = gen.load_recipe(validation.DEFAULT_RECIPE)
    out = b.tmp / "batch"
    rows: list[dict[str, str]] = []
    fields: list[str] = []
    rep = 0
    while len(rows) < b.batch_scans:
        rep += 1
        r = dict(recipe, seed=int(recipe["seed"]) + 1000 * rep)
        r["systems"] = [dict(s, system=f"{s['system']} r{rep}") for s in recipe["systems"]]
        gen.build(r, out / f"r{rep}", lib=b.lib, strict=False)
        fields, new = _read_manifest_rows(out / f"r{rep}" / "manifest.csv")
        rows += [dict(row, file=f"r{rep}/{row['file']}") for row in new]
    rows = rows[: b.batch_scans]
    _write_manifest_rows(out / "manifest.csv", fields, rows)
    return out / "manifest.csv", len(rows)


def _series_and_batch_rows(b: Bench) -> list[list[Any]]:
    if stage("series")[0] is None and "series" not in b.commands:
        return [
            ["one full heating series", NOT_AVAILABLE, 0, "", ".".join(STAGE_NAMES["series"][0])],
            ["batch throughput, --jobs 1 and 2", NOT_AVAILABLE, 0, verdict("speedup", None), ""],
        ]
    log("one full series")
    rows = []
    manifest, system, n = _one_series_dir(b)
    runs = []
    for i in range(SLOW_REPEATS):
        r = run_series_stage(manifest, b.tmp / f"one_series_out_{i}", 1, b.commands)
        if r is None or not r.ok:
            rows.append(["one full heating series", "stage failed", 0, "", r.error() if r else NOT_AVAILABLE])
            break
        runs.append(r.seconds)
    else:
        doc = _find_series_json(b.tmp / "one_series_out_0")
        if doc and doc.get("run"):
            b.series_stages = (system, n, doc["run"])
        rows.append(
            [
                f"one full heating series ({system}: {n} XRD + Raman scans, 1 job)",
                fmt_s(metrics.median(runs)),
                len(runs),
                "",
                "`phasetrace series` (incl. start-up)"
                if "series" in b.commands
                else "run_series (no start-up)",
            ]
        )
    if b.quick:
        return [*rows, ["batch throughput, 1 and 2 jobs", "skipped (--quick)", 0, "", ""]]
    return rows + _batch_rows(b)


def _batch_rows(b: Bench) -> list[list[Any]]:
    """Throughput of a generated batch with 1, 2 (and all cores') workers; identical numbers; 1,000 scans."""
    jobs_list = b.batch_jobs
    log(f"batch of {b.batch_scans} scans with {', '.join(map(str, jobs_list))} job(s)")
    manifest, n = _batch_manifest(b)
    rows: list[list[Any]] = []
    tput: dict[int, float] = {}
    walls: dict[int, float] = {}
    systems: dict[int, Any] = {}
    for jobs in jobs_list:
        out = b.tmp / f"batch_out_{jobs}"
        r = run_series_stage(manifest, out, jobs, b.commands)
        if r is None or not r.ok:
            rows.append([f"batch of {n} scans, {jobs} job(s)", "stage failed", 0, "", r.error() if r else ""])
            continue
        tput[jobs], walls[jobs] = n / r.seconds, r.seconds
        doc = _find_series_json(out)
        systems[jobs] = doc.get("systems") if doc else None
        # the machine is shared: the CPU seconds of the run's stages (all processes) beside its wall time
        cpu = sum(v.get("seconds", 0.0) for v in ((doc or {}).get("run") or {}).get("stages", {}).values())
        note = f"wall {fmt_s(r.seconds)}" + (f", CPU {fmt_s(cpu)} in all processes" if cpu else "")
        rows.append([f"batch of {n} scans, {jobs} job(s)", f"{tput[jobs]:.2f} scans/s", 1, "", note])
        if doc and doc.get("run") and (jobs == 2 or b.batch_stages is None):
            b.batch_stages = (n, jobs, doc["run"])
    if 1 in tput and 2 in tput:
        sp = tput[2] / tput[1]
        note = f"{n} scans" + ("" if n >= 200 else "; issue 7 states 200 (--batch-scans 200)")
        rows.append(["batch speed-up, 2 jobs over 1", f"{sp:.2f}×", 1, verdict("speedup", sp), note])
    for jobs in tput:
        if jobs > 2 and 1 in tput:
            rows.append([f"batch speed-up, {jobs} jobs over 1", f"{tput[jobs] / tput[1]:.2f}×", 1, "", ""])
    if 1 in systems and len(systems) > 1:
        same = [j for j in systems if j != 1 and systems[j] == systems[1]]
        differ = [j for j in systems if j != 1 and systems[j] != systems[1]]
        rows.append(
            [
                "batch results identical to --jobs 1",
                "yes" if not differ else f"NO for {', '.join(map(str, differ))} job(s)",
                len(same) + len(differ),
                "",
                "summary.json systems (phases, wt %, esd, onsets) compared",
            ]
        )
    if 2 in walls:
        est = walls[2] * TARGET_BATCH_SCANS / n
        how = (
            f"measured on {n} scans"
            if n == TARGET_BATCH_SCANS
            else f"EXTRAPOLATED linearly from {n} scans (--batch-scans {TARGET_BATCH_SCANS} measures it)"
        )
        rows.append(
            [f"batch of {TARGET_BATCH_SCANS} scans, 2 jobs", fmt_s(est), 1, verdict("batch1000_s", est), how]
        )
    return rows


def _stage_table(run_doc: Mapping[str, Any]) -> list[str]:
    """The per-stage rows of a series run's ``summary.json`` ``run`` section, as a Markdown table."""
    rows = [
        [name, fmt_s(v["per_scan_s"]), f"{100 * v['share']:.1f} %", fmt_s(v["seconds"])]
        for name, v in metrics.stage_shares(run_doc.get("stages") or {})
    ]
    return md_table(["stage", "per scan (median)", "share", "total (CPU)"], rows)


def section_stages(b: Bench) -> None:
    """Per-stage breakdown: where one series' and one batch's time goes."""
    lines = [
        "CPU seconds per stage from the stage timers of `phasetrace series` (`summary.json`, section "
        "`run`), summed over the processes. Per scan: the median over the scans the stage ran for "
        "(collect, figures and reports are run-wide: their total over the scans). Share: of the summed "
        "CPU time of all stages. `other` is task time outside the named stages; `final fit` is the "
        "refit of the union and the second-stage sample terms, `selection` the identification's "
        "phase-set selection."
    ]
    if b.series_stages:
        system, n, doc = b.series_stages
        lines += ["", f"One series ({system}: {n} XRD + Raman scans, 1 job):", "", *_stage_table(doc)]
    if b.batch_stages:
        n, jobs, doc = b.batch_stages
        wall = doc.get("analysis_wall_s")
        lines += [
            "",
            f"The batch of {n} scans with {jobs} jobs (analysis wall {fmt_s(wall)}, reports and figures "
            f"{fmt_s(doc.get('reports_wall_s'))}):",
            "",
            *_stage_table(doc),
        ]
    if not b.series_stages and not b.batch_stages:
        lines += ["", "No series run with stage timers in this benchmark (stage not available or skipped)."]
    b.section("Per-stage breakdown", lines)


def section_speed(b: Bench) -> None:
    """Speed of every stage (median of repeated runs)."""
    log("speed: loading, library, simulation")
    rows = _load_speed(b)
    rows += _library_speed(b)
    rows += _simulate_speed(b)
    log("speed: stages")
    inputs = _stage_inputs(b)
    rows.append(_time_stage("peak finding, one XRD scan", "peaks", b, inputs, None))
    rows.append(
        _time_stage(
            "candidate scoring, one XRD scan (all candidates of its system)", "match", b, inputs, "rank_ms"
        )
    )
    rows.append(
        _time_stage("whole-pattern fit, one XRD scan (its true phases, ≤ 6)", "quantify", b, inputs, "fit_s")
    )
    rows.append(_time_auto_fit(b, inputs))
    rows += _series_and_batch_rows(b)
    rows += _memory_rows(b, inputs)
    b.section(
        "Speed",
        [
            f"Median of repeated runs ({REPEATS} per item after a warm-up call unless the runs column says "
            f"otherwise). Stage timings use {STAGE_SCANS} validation XRD scans with three or more phases.",
            "",
            *md_table(["measurement", "median", "runs", "target", "note"], rows),
        ],
    )


def section_batch(b: Bench) -> None:
    """One heating series and the batch runs alone (``--only batch``)."""
    b.section(
        "Speed: series and batch",
        [*md_table(["measurement", "median", "runs", "target", "note"], _series_and_batch_rows(b))],
    )


def section_startup(b: Bench) -> None:
    """Start-up: wall time of commands that should not load the analysis stack."""
    log("start-up: phasetrace --help, phasetrace formats")
    rows = []
    for args in (["--help"], ["formats"]):
        walls = []
        for _ in range(STARTUP_RUNS):
            run = run_cli(args)
            if not run.ok:
                break
            walls.append(run.seconds)
        label = f"phasetrace {' '.join(args)}, wall"
        if len(walls) < STARTUP_RUNS:
            rows.append([label, f"failed: {run.error()}", len(walls), "", ""])
            continue
        med = float(np.median(walls))
        rows.append([label, fmt_s(med), STARTUP_RUNS, verdict("startup_s", med), "new interpreter per run"])
    b.section(
        "Start-up",
        [
            f"Median of {STARTUP_RUNS} runs of the installed command (interpreter start included).",
            "",
            *md_table(["measurement", "median", "runs", "target", "note"], rows),
        ],
    )


# --- accuracy ---------------------------------------------------------------------------------------------
def _fit_found(doc: Mapping[str, Any]) -> tuple[list[str], dict[str, float], list[tuple[Any, Any, bool]]]:
    """Detected ids, their wt % and (wt %, LoD, detected) rows from ``phasetrace fit --json``."""
    found, wt, lods = [], {}, []
    for p in doc.get("phases", []):
        det = bool(p.get("detected", True))
        lods.append((p.get("wt_percent"), p.get("lod_wt_percent"), det))
        if det:
            found.append(p["id"])
            wt[p["id"]] = float(p.get("wt_percent") or 0.0)
    return found, wt, lods


def _accuracy_fit(b: Bench) -> list[list[Any]]:
    if "fit" not in b.commands:
        return [["identification, wt % errors, false detections (CLI `fit`)", NOT_AVAILABLE, "", "", ""]]
    log("accuracy: automatic fits of the validation scans")
    scans = _xrd_scans(b.vset.series_truth)
    items = [(b.vset.series_dir / s["file"], s["system"], s["wt_percent"]) for s in scans]
    items += [(b.vset.mixtures_dir / m["file"], m["system"], m["wt_percent"]) for m in b.vset.mixtures]
    results = run_many([["fit", path, "--system", system, "--json"] for path, system, _ in items])
    rows: list[list[Any]] = []
    truth, found, wts, lods, cands = [], [], [], [], []
    failed = []
    for (_, system, tw), r in zip(items, results, strict=True):
        f, w, lo = [], {}, []
        if r.ok:
            try:
                f, w, lo = _fit_found(r.json())
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                failed.append(f"JSON not understood: {short_error(exc)}")
        else:
            failed.append(r.error())
        truth.append(tw)
        found.append(f)
        wts.append(w)
        lods += lo
        cands.append(system_candidates(b.lib, system))
    if failed:
        rows.append(
            [
                "fits that failed (counted as finding nothing)",
                f"{len(failed)} of {len(results)}",
                len(results),
                "",
                f"e.g. {failed[0]}",
            ]
        )
    eq = b.vset.series_truth.get("equivalents")
    for label, e in (("", None), (f" ({' and '.join(eq or {})} as one)", eq)):
        ident = metrics.identification(truth, found, equivalents=e)
        rows.append(
            [
                f"identification precision, phases ≥ 1 wt %{label}",
                fmt_pct(ident.precision),
                ident.tp + ident.fp,
                "",
                f"tp {ident.tp}, fp {ident.fp}",
            ]
        )
        rows.append(
            [
                f"identification recall, phases ≥ 1 wt %{label}",
                fmt_pct(ident.recall),
                ident.tp + ident.fn,
                "",
                f"fn {ident.fn}",
            ]
        )
        errs = metrics.wt_errors(truth, wts, equivalents=e)
        for cls, key in (("minor", "minor_err"), ("major", "major_err")):
            w = errs[cls]
            rows.append(
                [
                    f"abs. wt % error, {cls} phases{label}",
                    f"mean {w.mean:.2f}, max {w.max:.2f}",
                    w.n,
                    verdict(key, w.mean),
                    f"median {w.median:.2f}; {fmt_pct(w.within_rate)} within the target",
                ]
            )
        fd = metrics.false_detections(truth, found, cands, equivalents=e)
        rows.append(
            [
                f"false detections of absent candidates{label}",
                fmt_pct(fd.rate),
                fd.pairs,
                verdict("false_rate", fd.rate),
                f"{fd.false} of {fd.pairs} (scan, absent candidate) pairs",
            ]
        )
    n_low = metrics.below_own_lod(lods)
    rows.append(
        [
            "phases reported detected below their own detection limit",
            n_low,
            len(lods),
            verdict("below_lod", float(n_low)),
            "",
        ]
    )
    return rows


def _rankings(
    b: Bench, items: list[tuple[Path, list[str], dict[str, Any]]]
) -> tuple[list[Any], list[str | None], str]:
    """Candidate rankings of scans: ``phasetrace identify --json``, else ``rank_candidates``.

    Parameters
    ----------
    items : list of (path, CLI options, API keyword arguments)
        The options restrict the candidates (``["--system", S]`` / ``{"system": S}``, or elements).

    Returns
    -------
    (rankings, errors, how)
        Per item the candidate dicts best first (``id``, ``score``, ...), or None if the stage failed;
        per item the failure's message or None; which interface ran ("" if none exists).
    """
    out: list[Any] = []
    errors: list[str | None] = []
    if "identify" in b.commands:
        for r in run_many([["identify", path, *opts, "--json"] for path, opts, _ in items]):
            try:
                out.append(_candidates(r.json()) if r.ok else None)
                errors.append(None if r.ok else r.error())
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                out.append(None)
                errors.append(f"JSON not understood: {short_error(exc)}")
        return out, errors, "phasetrace identify"
    func, name = stage("match")
    if func is None:
        return [], [], ""
    from phasetrace.io import load

    for path, _, kw in items:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = call_stage(func, load(path), {"library": b.lib, **kw})
            out.append(_candidates(res.to_dict()))
            errors.append(None)
        except Exception as exc:  # noqa: BLE001 - a failing stage is a result
            out.append(None)
            errors.append(short_error(exc))
    return out, errors, name


def _candidates(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Candidate records best first, from ``identify --json`` (or a ranking's ``to_dict()``)."""
    return sorted(doc["candidates"], key=lambda c: c.get("rank", 0))


def _ids(cands: list[dict[str, Any]] | None) -> list[str]:
    return [c["id"] for c in cands or []]


def _accuracy_ranking(b: Bench) -> list[list[Any]]:
    log("accuracy: candidate rankings")
    mix = b.vset.mixtures
    items = [
        (b.vset.mixtures_dir / m["file"], ["--system", m["system"]], {"system": m["system"]}) for m in mix
    ]
    ranks, errors, how = _rankings(b, items)
    if not how:
        return [["candidate ranking", NOT_AVAILABLE, "", verdict("rank_separation", None), ""]]
    rows: list[list[Any]] = []
    failed = [e for e in errors if e]
    if failed:
        rows.append([f"rankings that failed ({how})", f"{len(failed)} of {len(mix)}", "", "", failed[0]])
    # a failed ranking lists nothing, so it fails the criterion
    sep = metrics.rank_separation([m["wt_percent"] for m in mix], [_ids(r) for r in ranks])
    rows.append(
        [
            "random mixtures: every phase ≥ 3 wt % ranks above every absent phase",
            fmt_pct(sep.rate),
            sep.cases,
            verdict("rank_separation", sep.rate),
            f"{sep.separated} of {sep.cases} ({how})",
        ]
    )
    st = _sample_truth()
    items, expected = [], []
    for sysr in st["systems"]:
        i = len(sysr["temperatures_C"]) - 1
        items.append(
            (SAMPLE / sysr["files"]["xrd"][i], ["--system", sysr["system"]], {"system": sysr["system"]})
        )
        expected.append([p["id"] for p in sysr["phases"] if p["seen_by_T"]["xrd"][i]])
    ranks, _, _ = _rankings(b, items)
    for label, e in (("", None), (" (families as one)", st.get("equivalents"))):
        good = sum(
            1
            for r, exp in zip(ranks, expected, strict=True)
            if r is not None and metrics.top_ranks_match(exp, _ids(r), equivalents=e)
        )
        rows.append(
            [
                f"sample data, highest temperature: the XRD-visible phases rank first{label}",
                f"{good} of {len(items)}",
                len(items),
                verdict("rank_all", good / len(items)),
                how,
            ]
        )
    return rows


def _temp(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, str) and v.strip().upper() == "RT":
        return 25.0
    return float(v)


def _reported_onsets(doc: Mapping[str, Any]) -> dict[str, dict[tuple[str, str], float | None]]:
    """Onsets by technique from a series JSON summary (an onset is [T without, T with]; T with counts)."""
    out: dict[str, dict[tuple[str, str], float | None]] = {"xrd": {}, "raman": {}, "combined": {}}
    for sysr in doc["systems"]:
        for p in sysr["phases"]:
            for tech in out:
                val = (p.get("onset") or {}).get(tech)
                if isinstance(val, Sequence) and not isinstance(val, str):
                    val = val[-1] if val else None
                out[tech][(sysr["system"], p["id"])] = _temp(val)
    return out


def _true_onsets(truth: Mapping[str, Any]) -> dict[str, dict[tuple[str, str], float | None]]:
    out: dict[str, dict[tuple[str, str], float | None]] = {"xrd": {}, "raman": {}, "combined": {}}
    for sysr in truth["systems"]:
        for p in sysr["phases"]:
            if p["role"] != "host":
                for tech in out:
                    out[tech][(sysr["system"], p["id"])] = p["onset"][tech]
    return out


def _find_series_json(out_dir: Path) -> dict[str, Any] | None:
    for p in sorted(out_dir.rglob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            doc = json.loads(p.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and isinstance(doc.get("systems"), list):
                return doc
    return None


def _accuracy_onsets(b: Bench) -> list[list[Any]]:
    if stage("series")[0] is None and "series" not in b.commands:
        return [["onset exact-match", NOT_AVAILABLE, "", verdict("onset_rate", None), ""]]
    rows: list[list[Any]] = []
    runs = [("validation series", b.vset.series_dir / "manifest.csv", b.vset.series_truth)]
    if b.quick:
        rows.append(["sample_data: onsets", "skipped (--quick)", "", "", ""])
    else:
        runs.append(("sample_data", SAMPLE / "manifest.csv", _sample_truth()))
    for label, manifest, truth in runs:
        log(f"accuracy: onsets of the {label}")
        out = b.tmp / f"series_{label.replace(' ', '_')}"
        r = run_series_stage(manifest, out, WORKERS, b.commands)
        doc = _find_series_json(out) if r is not None and r.ok else None
        if doc is None:
            why = r.error() if r is not None and not r.ok else "no JSON summary with 'systems' in the output"
            rows.append([f"{label}: onsets", "stage failed", "", "", why])
            continue
        try:
            rep = _reported_onsets(doc)
        except (KeyError, TypeError, ValueError) as exc:
            rows.append(
                [f"{label}: onsets", "stage failed", "", "", f"JSON not understood: {short_error(exc)}"]
            )
            continue
        want = _true_onsets(truth)
        for tech, fam in (("combined", ""), ("xrd", ""), ("raman", ""), ("combined", " (families as one)")):
            eq = truth.get("equivalents") if fam else None
            sc = metrics.onset_match(want[tech], rep[tech], equivalents=eq)
            note = f"{sc.exact} of {sc.n}; missed {sc.missed}, wrong {sc.wrong}, spurious {sc.spurious}"
            if sc.mismatches:
                (sysname, pid), t, got = sc.mismatches[0]
                note += f"; e.g. {sysname} {pid}: true {t}, reported {got}"
            target = ""
            if tech == "combined" and not fam:
                target = verdict("onset_rate" if label.startswith("validation") else "onset_all", sc.rate)
            rows.append([f"{label}: onset exact-match, {tech}{fam}", fmt_pct(sc.rate), sc.n, target, note])
    return rows


def section_accuracy(b: Bench) -> None:
    """Accuracy on the validation set (and the sample-data checks of issues 5 and 7)."""
    rows = _accuracy_fit(b)
    rows += _accuracy_ranking(b)
    rows += _accuracy_onsets(b)
    b.section(
        "Accuracy on the validation set",
        [
            "Known answers from `benchmarks/validation.py`: heating series and random mixtures, XRD fits "
            "with `--system`. Phases ≥ 1 wt % must be identified. Present phases below 1 wt % are neither "
            "hits nor false positives. wt % errors cover present phases ≥ 0.5 wt % (minor: ≤ 5 wt %). "
            "False detections are counted over (scan, absent candidate) pairs; the candidates are the "
            "library's phases for the system's elements, plus the crucible and the contaminants. Family "
            "rows count a confusion within the truth file's `equivalents` groups as a match. An onset is "
            "the first temperature at which a phase is seen; the truth says a phase is seen when its ideal "
            "significance is ≥ 3 (XRD) or ≥ 10 (Raman), see `sample_data/README.md`.",
            "",
            *md_table(["metric", "value", "n", "target", "note"], rows),
        ],
    )


def section_honesty(b: Bench) -> None:
    """Honest answers (issue 14): minor phases, detection limits, poor-fit flags, unidentified phases."""
    from benchmarks import honesty

    lines = honesty.run(n_mixtures=24 if b.quick else 40, n_series=2 if b.quick else 6, log=log)
    intro = (honesty.__doc__ or "").split("\n\n")[1].replace("\n", " ")
    b.section("Honest answers (issue 14)", [intro, "", *lines])


# --- real files -------------------------------------------------------------------------------------------
def elements_from_name(name: str) -> list[str]:
    """Element symbols in the formulae of a file name (``"2Fe3O4-3Y2O3_1000C_60min.xrdml"`` -> Fe, O, Y).

    The system part of the name is taken with :func:`phasetrace.io.metadata_from_filename` (so a "1000C"
    temperature is not read as carbon); all-capital names (``"SI3N4"``) are ambiguous and need a hint.
    """
    from pymatgen.core.periodic_table import Element

    from phasetrace.io import metadata_from_filename

    meta = metadata_from_filename(name)
    text = meta.get("system") or Path(name).stem
    found: list[str] = []
    for word in re.findall(r"[A-Za-z]+", text):
        syms = re.findall(r"[A-Z][a-z]?", word)
        if syms and "".join(syms) == word and all(Element.is_valid_symbol(s) for s in syms):
            found += [s for s in syms if s not in found]
    return found


def section_real(b: Bench) -> None:
    """What `phasetrace identify` finds in the measured real files (no answer key)."""
    from phasetrace.io import load_all, save

    if not REAL_DATA.is_dir():
        b.section("Measured real files", [f"Not run: {REAL_DATA} is not there."])
        return
    log("real files")
    hints = (yaml.safe_load(REAL_HINTS.read_text(encoding="utf-8")) or {}).get("elements", {})
    rows: list[list[Any]] = []
    items: list[tuple[Path, list[str], dict[str, Any]]] = []
    where: list[int] = []
    for sub in REAL_DIRS:
        for path in sorted(p for p in (REAL_DATA / sub).rglob("*") if p.is_file()):
            rel = path.relative_to(REAL_DATA).as_posix()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scans = load_all(path)
            except Exception as exc:  # noqa: BLE001 - an unreadable file is a result
                rows.append([rel, "not read", "", "", short_error(exc)])
                continue
            els = [str(e) for e in (hints.get(rel) or elements_from_name(path.name))]
            for k in sorted({0, len(scans) // 2, len(scans) - 1}):
                sc = scans[k]
                label = f"{rel} [{sc.meta.extra.get('member') or k}]" if len(scans) > 1 else rel
                desc = f"{sc.meta.format}, {len(sc)} pts, {sc.x[0]:.2f}–{sc.x[-1]:.2f}"
                rad = sc.meta.radiation
                note = (
                    "no wavelength in the file: Cu Kα assumed"
                    if rad is not None and rad.source == "default"
                    else ""
                )
                if not els:
                    rows.append([label, desc, "?", "–", "no elements known for this file"])
                    continue
                target = path
                if len(scans) > 1:  # one scan of an archive: written out so that the command can read it
                    target = b.tmp / "real" / f"{path.stem}_{k}.xye"
                    save(sc, target)
                rows.append([label, desc, ",".join(els), "", note])
                items.append((target, ["--elements", ",".join(els)], {"elements": els}))
                where.append(len(rows) - 1)
    ranks, errors, how = _rankings(b, items)
    for n, i in enumerate(where):
        if not how:
            rows[i][3] = NOT_AVAILABLE
        elif ranks[n] is None:
            rows[i][3], rows[i][4] = "–", "; ".join(x for x in (errors[n], rows[i][4]) if x)
        else:
            top = ranks[n][:TOP_CANDIDATES]
            rows[i][3] = (
                "; ".join(f"{c['id']} ({float(c.get('score', float('nan'))):.2f})" for c in top) or "none"
            )
    b.section(
        "Measured real files (`phasetrace identify`, no answer key)",
        [
            f"Every file under `{'`, `'.join(REAL_DIRS)}` of the shared real data; archives with several "
            "scans show their first, middle and last scan. Candidates are restricted to the elements shown "
            "(from the file name, or `benchmarks/real_files.yaml`). The library holds cathode/garnet phases, "
            "so for most of these files the plausible answer is a weak match or none. "
            f"Ranked with: {how or NOT_AVAILABLE}.",
            "",
            *md_table(["file", "scan", "elements", f"top {TOP_CANDIDATES} candidates (score)", "note"], rows),
        ],
    )


def section_physics(b: Bench) -> None:
    """Weighed real mixtures (IUCr CPD round robin) and the independent forward model (issue 13)."""
    from benchmarks import cpd, independent

    log("CPD round robin and independent forward model")
    body: list[str] = []
    if cpd.available(REAL_DATA):
        rows = cpd.run(REAL_DATA)
        s = cpd.summary(rows)
        body += [
            "### Measured weighed mixtures: IUCr CPD round robin",
            "",
            "Every scan fitted with its weighed phases, the same defaults, and the instrument file "
            "`benchmarks/instruments/cpd-roundrobin.yaml` (the README's instrument). Errors are found − "
            "weighed wt %; CPU s is process time of the fit.",
            "",
            *cpd.table(rows),
            "",
            *md_table(
                ["metric", "value", "target"],
                [
                    ["CPD-1 mean abs. error", f"{s['cpd1_mean']:.2f} wt %", "<= 0.5 (issue 13)"],
                    ["CPD-1 worst abs. error", f"{s['cpd1_max']:.2f} wt %", "<= 1.0 (issue 13)"],
                    ["CPD-2 worst abs. error", f"{s.get('cpd2_max', np.nan):.2f} wt %", "<= 2.0 (issue 13)"],
                    ["CPD-2 GoF", f"{s.get('cpd2_gof', float('nan')):.2f}", "<= 2 (issue 13)"],
                ],
            ),
            "",
        ]
    else:
        body += [f"CPD round robin: not run, {REAL_DATA / cpd.SCANS} is not there.", ""]
    rows = independent.run(b.tmp / "independent")
    errs = independent.errors(rows)
    body += [
        "### Independent forward model",
        "",
        "Mixtures simulated by `benchmarks/independent.py` (not `phasetrace.simulate`: convolution profiles, "
        "P1 structure factors of structures with cells 0.5 % off and shifted atoms, per-phase B, texture, "
        "Brindley microabsorption, an amorphous hump), fitted with their phases and particle sizes. "
        "The own-simulator figures are in the accuracy section above.",
        "",
        *md_table(
            ["metric", "value", "n", "target"],
            [
                [
                    "abs. wt % error, phases <= 5 wt %",
                    f"mean {errs['minor'][0]:.2f}, max {errs['minor'][1]:.2f}",
                    errs["minor"][2],
                    "<= 0.3 (issue 13)",
                ],
                [
                    "abs. wt % error, major phases",
                    f"mean {errs['major'][0]:.2f}, max {errs['major'][1]:.2f}",
                    errs["major"][2],
                    "<= 1.0 (issue 13)",
                ],
                [
                    "mixtures flagged poor fit",
                    f"{sum(r['flag'] == 'poor' for r in rows)} of {len(rows)}",
                    len(rows),
                    "",
                ],
            ],
        ),
    ]
    b.section("Quantification physics: measured weighed mixtures and an independent forward model", body)


# ----------------------------------------------------------------------------- main
def _summary(lines: Sequence[str]) -> list[str]:
    """Rows of the speed and accuracy tables that carry a verdict or a missing stage, for the terminal."""
    out, section = [], ""
    for line in lines:
        if line.startswith("## "):
            section = line[3:]
        elif line.startswith("| ") and section.startswith(("Speed", "Accuracy")):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 4 and ("met (" in cells[3] or cells[1] in (NOT_AVAILABLE, "stage failed")):
                out.append(f"  {cells[0]}: {cells[1]}" + (f"  [{cells[3]}]" if cells[3] else ""))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write the report."""
    ap = argparse.ArgumentParser(description="phasetrace benchmark (make bench)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="report file (default benchmarks/results.md)")
    ap.add_argument("--batch-scans", type=int, default=BATCH_SCANS, help="scans in the batch-throughput run")
    ap.add_argument("--quick", action="store_true", help="skip the batch run and the sample_data series run")
    ap.add_argument("--keep", type=Path, help="write the generated files here and keep them")
    ap.add_argument(
        "--physics", action="store_true", help="only the CPD round robin and the independent-model sections"
    )
    ap.add_argument(
        "--batch-jobs",
        default=",".join(map(str, BATCH_JOBS)),
        help="worker counts of the batch runs, comma-separated (default: 1, 2 and all cores)",
    )
    ap.add_argument(
        "--only",
        choices=["startup", "accuracy", "batch"],
        help="run only this section and print it (startup: seconds; accuracy: with the set-up, minutes; "
        "batch: one series with its per-stage table and the batch runs of --batch-scans, --batch-jobs); "
        "results.md is left alone",
    )
    args = ap.parse_args(argv)
    try:
        jobs = tuple(sorted({int(j) for j in args.batch_jobs.split(",") if j.strip()}))
    except ValueError:
        ap.error(f"--batch-jobs: not a comma-separated list of worker counts: {args.batch_jobs!r}")
    if args.only:
        with tempfile.TemporaryDirectory(prefix="phasetrace-bench-") as tmpname:
            tmp = args.keep or Path(tmpname)
            tmp.mkdir(parents=True, exist_ok=True)
            os.environ["PHASETRACE_USER_LIBRARY"] = str(tmp / "empty-user-library")
            os.environ["PHASETRACE_PROJECT_LIBRARY"] = str(tmp / "empty-project-library")
            b = Bench(tmp=tmp, batch_scans=args.batch_scans, quick=args.only != "batch", batch_jobs=jobs)
            sections = {
                "startup": [section_startup],
                "accuracy": [section_setup, section_accuracy],
                "batch": [section_setup, section_batch, section_stages],
            }[args.only]
            for sec in sections:
                sec(b)
        print("\n".join(b.lines))
        return 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="phasetrace-bench-") as tmpname:
        tmp = args.keep or Path(tmpname)
        tmp.mkdir(parents=True, exist_ok=True)
        # phases a user added with `phases add` would change the candidates: bundled library only
        os.environ["PHASETRACE_USER_LIBRARY"] = str(tmp / "empty-user-library")
        os.environ["PHASETRACE_PROJECT_LIBRARY"] = str(tmp / "empty-project-library")
        b = Bench(tmp=tmp, batch_scans=args.batch_scans, quick=args.quick, batch_jobs=jobs)
        walls = []
        from benchmarks.library_index import section_library_index

        sections = (
            section_setup,
            section_startup,
            section_speed,
            section_stages,
            section_library_index,
            section_accuracy,
            section_honesty,
            section_physics,
            section_real,
        )
        if args.physics:
            sections = (section_setup, section_physics)
        for sec in sections:
            t1 = time.perf_counter()
            try:
                sec(b)
            except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
                if sec is section_setup:
                    raise
                title = (sec.__doc__ or sec.__name__).split("\n")[0]
                b.section(title, [f"Section failed: {short_error(exc)}"])
            walls.append(f"{sec.__name__.removeprefix('section_')} {fmt_s(time.perf_counter() - t1)}")
        total = fmt_s(time.perf_counter() - t0)
        b.lines += ["", f"Benchmark wall time: {total} ({', '.join(walls)}).", ""]
    args.out.write_text("\n".join(b.lines).lstrip("\n"), encoding="utf-8")
    print(f"wrote {args.out} in {fmt_s(time.perf_counter() - t0)}")
    print("\n".join(_summary(b.lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
