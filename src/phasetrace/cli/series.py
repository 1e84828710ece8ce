"""``phasetrace series``: analyse heating series end to end."""

from __future__ import annotations

from pathlib import Path

import click

from ._util import (
    check_out_dir,
    dump_json,
    guard,
    instrument_option,
    library_option,
    load_instrument_file,
    parse_elements,
)


@click.command("series")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (reports, figures, and the run's SQLite store).",
)
@click.option(
    "--system",
    help='System of every scan that does not state one (in a manifest or the file), e.g. "pc-NMC631 + '
    'LLZTO"; it replaces the system a file name suggests.',
)
@click.option(
    "--elements", help="Sample elements for every series, e.g. Li,La,Zr,Co,O (else from the system)."
)
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes.")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run the per-scan tasks on a Dask cluster.")
@click.option("--no-figures", is_flag=True, help="Skip the figures (faster).")
@library_option
@instrument_option
@click.option("--json", "as_json", is_flag=True, help="Print the JSON summary instead of tables.")
@guard
def series(
    source, out_dir, system, elements, jobs, scheduler, no_figures, libraries, instrument_file, as_json
) -> None:
    """Analyse heating series: phases, wt % ± esd, onset temperatures from XRD and Raman.

    SOURCE is a folder of scans (with a manifest.csv, or file names such as
    "pc-NMC631 + LLZTO-800.xrdml" or "LCO_LLZTO_700C.xy"), a manifest, or one
    scan file. Scans are grouped by system,
    ordered by temperature; XRD and Raman of the same pellet are paired. A
    re-run with the same --out skips the scans already analysed.

    \b
    Examples:
      phasetrace series sample_data --out results
      phasetrace series scans/manifest.csv --out results --jobs 2 --json
      phasetrace series exports/ --system "LCO + LLZTO" --out results
    """
    from ..report.run import write_reports
    from ..report.tables import terminal_summary
    from ..series.analyse import run_series
    from ..series.tasks import worker_pool

    check_out_dir(out_dir)
    els = sorted(parse_elements(elements)) if elements else None
    libs = [str(p) for p in libraries]
    inst = load_instrument_file(instrument_file)
    # the description travels to the workers (and into the store's task keys) as plain data
    quant = {"instrument": inst.to_dict()} if inst is not None else None
    # one pool of workers for the scans and the figures, started before the scans are collected (with a
    # Dask scheduler the scans run on the cluster and the figures here)
    local_jobs = 1 if scheduler else jobs
    with worker_pool(local_jobs, libs) as pool:
        run = run_series(
            source,
            out_dir,
            system=system,
            elements=els,
            libraries=libs,
            jobs=jobs,
            scheduler=scheduler,
            progress=not as_json,
            executor=pool,
            quant=quant,
        )
        written = write_reports(run, figures=not no_figures, jobs=local_jobs, executor=pool)
    if as_json:
        dump_json(run.to_dict())
    else:
        click.echo(terminal_summary(run))
        c = run.counts
        # a file that could not be used (unreadable, no temperature) failed too
        bad_files = c.get("unusable_files", 0)
        click.echo(
            f"{c['done']} task(s) run, {c['skipped']} reused from {run.store_path}, "
            f"{c['errors'] + bad_files} failed" + (f" ({bad_files} file(s) not usable)" if bad_files else "")
        )
        for p in run.problems:
            click.echo(f"problem: {p['error']}", err=True)
        for w in run.warnings:
            click.echo(f"warning: {w}", err=True)
        reports = [str(v) for k, v in written.items() if k.startswith("md:")]
        if reports:
            click.echo(f"reports: {', '.join(reports)}")
        else:
            click.echo("reports: none, no series could be analysed (see the problems above)")
        click.echo(f"summary: {written['json']}  table: {written['csv']}")
        if "html" in written and run.systems:
            click.echo(f"interactive report: {written['html']}")
    if not run.systems:
        raise SystemExit(2)
