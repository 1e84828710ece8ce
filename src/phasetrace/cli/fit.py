"""``phasetrace fit``: whole-pattern quantification on the command line."""

from __future__ import annotations

from pathlib import Path

import click

from ._util import (
    INDEX_HELP,
    check_file_system,
    check_out_file,
    check_window,
    dump_json,
    guard,
    instrument_option,
    library_option,
    load_instrument_file,
    load_library,
    load_scan,
    phase_ids,
    scan_radiation,
    system_elements,
)


@click.command("fit")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--phases", "phase_list", help="Fit exactly these phases, e.g. LLZTO_cubic,LiCoO2,La2Zr2O7.")
@click.option("--elements", help="Select the phase set automatically among phases of these elements.")
@click.option(
    "--system", help='Select automatically among phases possible in a system, e.g. "pc-LCO + LLZTO".'
)
@click.option(
    "--cell",
    type=click.Choice(["auto", "isotropic", "full", "fixed"]),
    default="auto",
    show_default=True,
    help="Refine one cell scale per phase, the free cell parameters of its crystal system, or none; "
    "auto: the free parameters for phases of >= 3 wt % (second stage), one scale for traces.",
)
@click.option("--range", "tt_range", nargs=2, type=float, help="Fit only this 2θ range (degrees).")
@click.option(
    "--anode",
    type=click.Choice(["Cu", "Co", "Mo", "Fe", "Cr", "Ag"], case_sensitive=False),
    help="X-ray anode, for files that do not state their wavelength.",
)
@click.option("--index", type=int, help=INDEX_HELP)
@library_option
@instrument_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), help="Write the fit plot (PNG or SVG).")
@click.option(
    "--zoom",
    type=(float, float),
    multiple=True,
    metavar="LO HI",
    help="Add a zoom panel on this 2θ range to the --plot figure (repeatable).",
)
@click.option(
    "--intensity",
    type=click.Choice(["linear", "sqrt", "log"]),
    default="linear",
    show_default=True,
    help="Intensity axis of the --plot figure.",
)
@guard
def fit(
    file,
    phase_list,
    elements,
    system,
    cell,
    tt_range,
    anode,
    index,
    libraries,
    instrument_file,
    as_json,
    plot_path,
    zoom,
    intensity,
) -> None:
    """Quantify the phases of an XRD scan by a Rietveld-style whole-pattern fit.

    With --phases exactly those phases are fitted; otherwise the phase set is
    selected automatically among the phases possible for --elements or
    --system (default: the system in the file name or manifest). Weight
    fractions are of the crystalline part; every phase gets a detection limit
    from the scan's own noise.

    \b
    Examples:
      phasetrace fit "pc-LCO + LLZTO-900.xrdml" --system "pc-LCO + LLZTO"
      phasetrace fit scan.xy --phases LLZTO_cubic,LiCoO2,La2Zr2O7 --json --plot fit.png
      phasetrace fit CPD-1A.xye --library cifs/ --phases corundum,fluorite,zincite --instrument pw1050.yaml
    """
    from dataclasses import replace

    from ..pipeline import PipelineConfig, quantify
    from ..quantify.fit import QuantConfig
    plot_path = check_out_file(plot_path, "--plot") if plot_path else None
    lib = load_library(libraries)
    inst = load_instrument_file(instrument_file)
    scan = load_scan(file, index=index, kind="xrd", radiation=scan_radiation(anode, inst))
    quant = QuantConfig(cell=cell, instrument=inst)
    covered = scan.x_range
    if tt_range:
        check_window(file, "--range", *tt_range, covered)
        quant = replace(quant, two_theta_range=tuple(tt_range))
        covered = (max(covered[0], tt_range[0]), min(covered[1], tt_range[1]))
    for lo, hi in zoom:
        check_window(file, "--zoom", lo, hi, covered, "the fitted" if tt_range else "the scan's")
    config = PipelineConfig(quant=quant)
    if phase_list:
        if elements or system:
            raise click.UsageError("give --phases, or --elements/--system for automatic selection, not both")
        ids = phase_ids(phase_list)
        result = quantify(scan, ids, library=lib, config=config)
    else:
        if not (elements or system or scan.meta.system):
            raise click.UsageError("give --phases, --elements or --system")
        if not (elements or system):
            check_file_system(lib, file, scan.meta.system)
        els, _ = system_elements(lib, system, elements)  # "not both", and the element symbols checked
        els = els if elements else None
        result = quantify(scan, system=system, elements=els, library=lib, config=config)
    if plot_path:
        import matplotlib

        matplotlib.use("Agg")
        from ..report.pattern import fit_figure
        from ..report.style import save_figure

        fig = fit_figure(result, zoom=zoom, scale=intensity, library=lib,
                         wavelength=scan.meta.radiation.kalpha1)
        save_figure(fig, plot_path, formats=(plot_path.suffix.lstrip(".").lower() or "png",))
    if as_json:
        dump_json(result.to_dict())
    else:
        click.echo(result.report())
        if plot_path:
            click.echo(f"plot: {plot_path}")
    if not result.success:
        raise SystemExit(1)
