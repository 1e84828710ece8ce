"""``phasetrace instrument``: instrument descriptions (calibration of the profile on a standard)."""

from __future__ import annotations

from pathlib import Path

import click

from ._util import INDEX_HELP, dump_json, guard, load_scan


@click.group("instrument")
def instrument() -> None:
    """Instrument descriptions: the YAML files that ``--instrument`` takes.

    \b
    Example:
      phasetrace instrument calibrate lab6.xrdml --phase LaB6 --out my-diffractometer.yaml
    """


@instrument.command("calibrate")
@click.argument("scan_file", type=click.Path(path_type=Path))
@click.option("--phase", required=True, help="The standard: LaB6, Si, corundum, or a CIF file.")
@click.option(
    "--instrument",
    "base",
    type=click.Path(path_type=Path),
    help="Start from this instrument file (radiation, radius, slits, monochromator are kept).",
)
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Write the calibrated file here.")
@click.option("--index", type=int, help=INDEX_HELP)
@click.option(
    "--force",
    is_flag=True,
    help="Write the file even when the calibration fails its checks (a warning goes into the file).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def calibrate(scan_file, phase, base, out_path, index, force, as_json) -> None:
    """Refine the instrumental profile (U, V, W, η, asymmetry) and zero from a scan of a standard.

    The standard's own broadening is taken as negligible. Slit, monochromator and radiation
    values come from --instrument and from the scan's metadata (XRDML), and are kept.

    The calibration checks itself: the scan must span 30° of 2θ, show at least 5 of the
    standard's reflections (each 5σ, within a factor 2 of its calculated intensity), be fitted
    with GoF ≤ 10, and no profile, zero, displacement or cell term may end at its search limit.
    Otherwise nothing is written and the reason is given (--force writes it, marked as failed).

    \b
    Examples:
      phasetrace instrument calibrate si.xy --phase Si --out lab.yaml
      phasetrace instrument calibrate lab6.xrdml --phase LaB6 --instrument lab.yaml --out lab.yaml
    """
    import warnings

    from .._atomic import atomic_open
    from ..quantify.calibration import calibrate as run_calibration
    from ..quantify.instrument import load_instrument, metadata_instrument

    scan = load_scan(scan_file, index=index, kind="xrd")
    start = metadata_instrument(scan.meta, load_instrument(base) if base else None)
    inst, stats = run_calibration(scan, phase, start, check=not force)
    text = inst.to_yaml()
    for note in stats["notes"]:
        warnings.warn(f"{scan_file}: {note}", stacklevel=1)
    if stats["problems"]:
        failed = "; ".join(stats["problems"])
        warnings.warn(
            f"{scan_file}: the calibration failed its checks; kept because of --force", stacklevel=1
        )
        text = f"# WARNING: this calibration failed its checks: {failed}\n" + text
    if out_path is not None:
        with atomic_open(out_path, "w") as fh:
            fh.write(text)
    if as_json:
        dump_json(
            {"instrument": inst.to_dict(), "fit": stats, "written": str(out_path) if out_path else None}
        )
        return
    click.echo(
        f"{scan_file}: {stats['standard']} fitted, Rwp {100 * stats['rwp']:.2f} %, GoF {stats['gof']:.2f}, "
        f"{stats['significant_reflections']} of {stats['reflections']} reflections significant, "
        f"specimen displacement {stats['displacement_um']:.0f} µm (not part of the instrument)"
    )
    click.echo(text if out_path is None else f"instrument file: {out_path}")
