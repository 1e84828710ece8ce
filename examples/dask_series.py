"""Analyse heating series on a Dask cluster: a local one with several workers, or one you started.

Run from the repository root (phasetrace installed, e.g. ``make install``)::

    .venv/bin/python examples/dask_series.py sample_data --out out/dask --workers 4
    .venv/bin/python examples/dask_series.py scans/ --out results --scheduler tcp://head-node:8786

Without ``--scheduler`` a :class:`distributed.LocalCluster` of ``--workers`` processes (one thread
each) is started on this machine and stopped at the end. With ``--scheduler`` the tasks go to a
cluster started elsewhere, e.g.::

    dask scheduler                                   # on the head node (port 8786)
    dask worker tcp://head-node:8786 --nthreads 1    # on every node, as many as it has cores

Every worker needs phasetrace installed (the same version) and must read the scan files at the
paths this process sees (a shared file system): a task carries the file's path, not its bytes.
Results come back here and are stored in ``OUT/series.sqlite`` as they arrive (a re-run skips
finished scans); the figures and reports are then written in this process. The numbers are the
same as with ``phasetrace series --jobs N`` (one BLAS thread per task wherever it runs).
``phasetrace series SOURCE --out OUT --scheduler tcp://HOST:8786`` does the same as the second
form from the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns the exit code (2 for a source that cannot be analysed)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="folder of scans, manifest or scan file")
    ap.add_argument("--out", required=True, help="output folder (reports, figures, SQLite store)")
    ap.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default 2)")
    ap.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://HOST:PORT)")
    ap.add_argument("--no-figures", action="store_true", help="skip the figures")
    args = ap.parse_args(argv)

    from distributed import LocalCluster

    from phasetrace.errors import PhasetraceError
    from phasetrace.report.run import write_reports
    from phasetrace.series import run_series

    with contextlib.ExitStack() as stack:
        address = args.scheduler
        if address is None:
            # processes, not threads: the fits hold the GIL; one thread per worker, one task per core
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            )
            address = cluster.scheduler_address
        t0 = time.perf_counter()
        try:
            run = run_series(args.source, args.out, scheduler=address, progress=sys.stderr.isatty())
        except PhasetraceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        analysed = time.perf_counter() - t0
    written = write_reports(run, figures=not args.no_figures)
    c = run.counts
    print(
        f"{c['done']} task(s) run on {address}, {c['skipped']} reused, {c['errors']} failed; "
        f"analysis {analysed:.1f} s; summary {written['json']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
