"""The two fit-speed rows of ``make bench`` alone, in process time, with an optional profile.

Run from the repository root::

    .venv/bin/python benchmarks/speed.py                  # known-phase fit and automatic fit, 8 scans
    .venv/bin/python benchmarks/speed.py --profile fit    # cProfile of the known-phase fits (top 30)
    .venv/bin/python benchmarks/speed.py --profile auto   # ... of the automatic selection + fit
    .venv/bin/python benchmarks/speed.py --cpd            # also a 3-phase fit of the CPD-1 scans
    .venv/bin/python benchmarks/speed.py --counts         # evaluations per fit of the known-phase fits

The rows are those of ``benchmarks/run.py`` (section "Speed"): the first :data:`run.STAGE_SCANS`
validation XRD scans with three or more phases, fitted with their true phases (``quantify``), and
identified + fitted from all candidates of their system (``phasetrace fit --system``, in process).
Times are process times (the machine is shared; wall times there measure the neighbours), wall times
beside them, median over scans of the median of ``--repeats`` runs after one warm-up. One JSON line
is printed last, so that two commits can be compared run by run (interleaved) by calling this script
alternately.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _inputs(tmp: Path, lib) -> list[tuple[Path, object, str, list[str]]]:
    from benchmarks import run, validation
    from phasetrace.io import load

    vset = validation.generate(tmp / "validation", lib=lib)
    chosen = [s for s in run._xrd_scans(vset.series_truth) if len(s["wt_percent"]) >= 3][: run.STAGE_SCANS]
    out = []
    for s in chosen:
        path = vset.series_dir / s["file"]
        phases = sorted(s["wt_percent"], key=lambda k: -s["wt_percent"][k])[:6]
        out.append((path, load(path), s["system"], phases))
    return out


def _times(fn) -> tuple[float, float]:
    """Process and wall time of one call."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - t0


def _counts(fn, items) -> None:
    """Per known-phase fit (first and second stage): residual evaluations, phase columns and derivatives."""
    from phasetrace.quantify import fit as fit_module

    seen = []
    original = fit_module.fit_pattern

    def counted(*args, **kwargs):
        state = original(*args, **kwargs)
        _ = state.sigma_scales  # the standard errors' derivative evaluation, as every caller reads them
        stage = "second" if (kwargs.get("start") or {}).get("aligned") else "first"
        seen.append(
            (stage, state.nfev, state.evaluations.get("columns", 0), state.evaluations.get("derivatives", 0))
        )
        return state

    fit_module.fit_pattern = counted
    import phasetrace.quantify.api as api

    api.fit_pattern = counted
    try:
        print("| scan | stage | evaluations | phase columns | phase derivatives |")
        print("|---|---|---|---|---|")
        for n, it in enumerate(items):
            seen.clear()
            fn(it)
            for stage, nfev, cols, ders in seen:
                print(f"| {n} | {stage} | {nfev} | {cols} | {ders} |")
    finally:
        fit_module.fit_pattern = original
        api.fit_pattern = original


def main(argv: list[str] | None = None) -> int:
    """Time (or profile) the known-phase and the automatic fits."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per scan after a warm-up (default 3)")
    ap.add_argument("--profile", choices=["fit", "auto", "cpd"], help="cProfile this row instead of timing")
    ap.add_argument("--cpd", action="store_true", help="also time a 3-phase fit of each CPD-1 scan")
    ap.add_argument("--top", type=int, default=30, help="profile rows shown (default 30)")
    ap.add_argument("--rows", default="fit,auto", help="rows timed, comma-separated (default fit,auto)")
    ap.add_argument(
        "--counts", action="store_true", help="print the evaluations of each fit of the known-phase row"
    )
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="phasetrace-speed-") as tmpname:
        tmp = Path(tmpname)
        os.environ["PHASETRACE_USER_LIBRARY"] = str(tmp / "empty-user-library")
        os.environ["PHASETRACE_PROJECT_LIBRARY"] = str(tmp / "empty-project-library")
        from click.testing import CliRunner

        from benchmarks import cpd
        from phasetrace.cli import main as cli
        from phasetrace.io import load
        from phasetrace.library.phases import PhaseLibrary
        from phasetrace.quantify import QuantConfig, quantify
        from phasetrace.quantify.instrument import load_instrument

        lib = PhaseLibrary.default()
        inputs = _inputs(tmp, lib)
        runner = CliRunner()

        def fit(i):
            return quantify(i[1], i[3], library=lib)

        def auto(i):
            res = runner.invoke(cli, ["fit", str(i[0]), "--system", i[2], "--json"])
            if res.exception is not None and not isinstance(res.exception, SystemExit):
                raise res.exception

        rows = {"fit": (fit, inputs), "auto": (auto, inputs)}
        if args.cpd or args.profile == "cpd" or "cpd" in args.rows:
            cpd_lib = PhaseLibrary.default(extra=(cpd.REAL_DATA / cpd.CIFS,))
            config = QuantConfig(instrument=load_instrument(cpd.INSTRUMENT))
            scans = []
            for entry in cpd.weighed():
                if not entry["sample"].startswith("1"):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scans.append(
                        (load(cpd.REAL_DATA / cpd.SCANS / entry["file"], kind="xrd"), list(entry["weighed"]))
                    )
            rows["cpd"] = (lambda s: quantify(s[0], s[1], config, library=cpd_lib), scans)

        if args.counts:
            _counts(rows["fit"][0], inputs)
            return 0

        if args.profile:
            fn, items = rows[args.profile]
            for it in items[:1]:
                fn(it)  # warm-up: imports, reflection lists
            prof = cProfile.Profile()
            c0 = time.process_time()
            prof.enable()
            for it in items:
                fn(it)
            prof.disable()
            total = time.process_time() - c0
            buf = io.StringIO()
            st = pstats.Stats(prof, stream=buf)
            st.sort_stats("tottime").print_stats(args.top)
            st.sort_stats("cumulative").print_stats(args.top)
            print(buf.getvalue())
            print(f"{args.profile}: {total:.2f} s process time for {len(items)} items (profiled)")
            return 0

        out = {}
        wanted = set(args.rows.split(",")) | ({"cpd"} if args.cpd else set())
        for key, (fn, items) in rows.items():
            if key not in wanted:
                continue
            fn(items[0])  # warm-up
            cpu, wall = [], []
            for it in items:
                runs = [_times(lambda it=it, fn=fn: fn(it)) for _ in range(args.repeats)]
                cpu.append(statistics.median(r[0] for r in runs))
                wall.append(statistics.median(r[1] for r in runs))
            out[key] = statistics.median(cpu)
            out[f"{key}_wall"] = statistics.median(wall)
            print(
                f"{key}: median {out[key] * 1e3:.0f} ms process time, "
                f"{out[key + '_wall'] * 1e3:.0f} ms wall, over {len(cpu)} items",
                flush=True,
            )
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
