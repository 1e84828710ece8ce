"""``phasetrace peaks`` and ``phasetrace identify``: thin commands over the peak finder and the matcher."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from . import _util
from ._util import (
    INDEX_HELP,
    dump_json,
    guard,
    instrument_option,
    library_option,
    load_instrument_file,
    load_library,
    load_scan,
    scan_radiation,
    system_elements,
)

__all__ = ["identify", "peaks"]

_ANODES = ["Cu", "Co", "Mo", "Fe", "Cr", "Ag"]


def _input_options(func: Any) -> Any:
    """Options that say how to read the scan (shared by both commands)."""
    func = click.option("--index", type=int, help=INDEX_HELP)(func)
    func = click.option(
        "--laser-nm", type=float, help="Raman laser wavelength, for files that do not state it."
    )(func)
    func = click.option(
        "--anode",
        type=click.Choice(_ANODES, case_sensitive=False),
        help="X-ray anode, for files that do not state their wavelength.",
    )(func)
    func = click.option(
        "--kind", type=click.Choice(["xrd", "raman"]), help="Expect this technique (an error otherwise)."
    )(func)
    return func


def _peak_options(func: Any) -> Any:
    func = click.option(
        "--background",
        "background_method",
        type=click.Choice(["arpls", "asls", "snip", "imodpoly", "none"]),
        help="Background method (default: arPLS, 1° 2θ for XRD and 100 cm⁻¹ for Raman).",
    )(func)
    func = click.option(
        "--prominence",
        type=float,
        default=3.0,
        show_default=True,
        help="Keep peaks whose prominence is at least this many σ of the local noise.",
    )(func)
    return func


def _load_scan(
    file: Path, kind: str | None, anode: str | None, laser_nm: float | None, index: int | None, inst=None
):
    """Read the scan; warnings (e.g. an assumed wavelength) are returned as notes, not printed.

    With an instrument description that states its lines (``--instrument``), those are the radiation.
    """
    radiation = scan_radiation(anode, inst)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scan = load_scan(file, kind=kind, radiation=radiation, laser_nm=laser_nm, index=index)
    prefix = f"{file}: "
    notes = []
    for w in caught:
        msg = str(w.message)
        notes.append(msg[len(prefix) :] if msg.startswith(prefix) else msg)
    return scan, notes


def _peak_config(prominence: float, background_method: str | None, refine: bool):
    from ..peaks.find import PeakConfig
    from ..preprocess.background import BackgroundConfig

    if not prominence > 0:
        raise click.BadParameter("must be a positive number of σ", param_hint="--prominence")
    bg = BackgroundConfig(method=background_method) if background_method else None
    return PeakConfig(prominence=prominence, background=bg, refine=refine)


def _save_plot(fig_path: Path, draw: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..report.style import save_figure

    ax = draw()
    try:
        save_figure(ax.figure, fig_path, formats=(fig_path.suffix.lstrip(".").lower() or "png",))
    finally:
        plt.close(ax.figure)


# --------------------------------------------------------------------------- peaks
@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@_peak_options
@click.option(
    "--refine", is_flag=True, help="Refine overlapped peaks with pseudo-Voigt (Kα1/Kα2) profile fits."
)
@_input_options
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Save a figure (PNG, PDF, SVG).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def peaks(
    file: Path,
    prominence: float,
    background_method: str | None,
    refine: bool,
    kind: str | None,
    anode: str | None,
    laser_nm: float | None,
    index: int | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """Find the peaks of an XRD pattern or Raman spectrum.

    The background (arPLS by default) is subtracted and every maximum whose
    prominence exceeds --prominence σ of the local noise (counting statistics
    for XRD counts) is listed with position, d-spacing (XRD), height, area,
    FWHM and significance. Resolved Cu Kα2 lines are flagged as satellites of
    their Kα1 peak; --refine fits each Kα1/Kα2 pair as one doublet instead.
    Raman bands without a maximum of their own (on a neighbour's flank) are
    listed as shoulders.

    \b
    Examples:
      phasetrace peaks pattern.xy
      phasetrace peaks spectrum.txt --prominence 5 --json
      phasetrace peaks pattern.xrdml --refine --plot peaks.png
    """
    from ..peaks.find import search_peaks
    from ..preprocess.axes import two_theta_to_d

    scan, notes = _load_scan(file, kind, anode, laser_nm, index)
    search = search_peaks(scan, _peak_config(prominence, background_method, refine))
    table = search.peaks
    records = table.to_records()
    rad = scan.meta.radiation
    if scan.kind == "xrd" and rad is not None:
        for r in records:
            r["d"] = float(two_theta_to_d(r["position"], rad.kalpha1))
    if plot_path is not None:
        from ..report.pattern import plot_peaks

        _save_plot(plot_path, lambda: plot_peaks(search))
    if as_json:
        dump_json(
            {
                "file": str(file),
                "technique": scan.kind,
                "x_unit": scan.meta.x_unit,
                "peaks": records,
                "settings": search.summary(),
                "notes": notes,
            }
        )
        return
    unit = "2θ (°)" if scan.kind == "xrd" else "shift (cm⁻¹)"
    technique = "XRD" if scan.kind == "xrd" else "Raman"
    click.echo(f"{file}: {len(table)} peak(s) above {prominence:g}σ ({technique})")
    for n in notes:
        click.echo(f"  note: {n}")
    if not records:
        return
    dcol = f" {'d (Å)':>8}" if scan.kind == "xrd" else ""
    click.echo(f"  {'#':>3} {unit:>13}{dcol} {'height':>10} {'area':>10} {'FWHM':>7} {'σ':>7}  note")
    for i, r in enumerate(records):
        note = f"Kα2 of #{r['parent']}" if r["kalpha2"] else ("shoulder" if r["shoulder"] else "")
        if r["saturated"]:
            note = (note + " " if note else "") + "saturated (top cut off)"
        if r.get("position_err") is not None:
            note = (note + " " if note else "") + f"±{r['position_err']:.4f}"
        dval = f" {r['d']:8.4f}" if "d" in r else ""
        click.echo(
            f"  {i:>3} {r['position']:13.4f}{dval} {r['height']:10.1f} {r['area']:10.2f} "
            f"{r['fwhm']:7.4f} {r['significance']:7.1f}  {note}"
        )


# --------------------------------------------------------------------------- identify
@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--elements", help="The sample's elements, e.g. Li,La,Zr,Co,O.")
@click.option("--system", help='The material system, e.g. "LCO+LLZTO" or "pc-NMC811 + LLZTO".')
@click.option("--phases", "phase_ids", help="Test exactly these phase ids (comma-separated).")
@library_option
@instrument_option
@click.option("--top", type=int, default=10, show_default=True, help="Show the N best candidates.")
@_peak_options
@click.option(
    "--tolerance",
    type=float,
    help="Raman band position tolerance in cm⁻¹ (default 8); XRD: tolerance in peak widths (default 0.5).",
)
@_input_options
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Save a figure of the scan, background, peaks and the top candidates' ticks (PNG, PDF, SVG).",
)
@click.option(
    "--fit/--no-fit",
    "confirm",
    default=True,
    show_default=True,
    help="XRD: confirm the ranking with a whole-pattern fit (the phases it selects rank first, with wt %); "
    "--no-fit ranks by peak matching alone (faster).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def identify(
    file: Path,
    elements: str | None,
    system: str | None,
    phase_ids: str | None,
    libraries: tuple[Path, ...],
    top: int,
    prominence: float,
    background_method: str | None,
    tolerance: float | None,
    kind: str | None,
    anode: str | None,
    laser_nm: float | None,
    index: int | None,
    plot_path: Path | None,
    confirm: bool,
    instrument_file: Path | None,
    as_json: bool,
) -> None:
    """Rank the library phases that may be in a scan.

    Candidates are the library phases made of the sample's elements (from
    --elements, --system, or the system in the file name or manifest), plus
    the MgO crucible and the usual contaminants. Each is scored by how well its
    reflections (XRD, within its allowed lattice strain, Kα1/Kα2-aware) or its
    Raman bands explain the peaks, penalised for strong reflections that are
    missing; phases that only explain peaks already explained by better
    candidates sink. Raman-silent phases are listed as not testable. For XRD the
    ranking is then confirmed by a whole-pattern fit (unless --no-fit): the
    phases the fit selects rank first, with their weight fractions.

    \b
    Examples:
      phasetrace identify pattern.xy --system "LCO+LLZTO"
      phasetrace identify pattern.xy --elements Li,La,Zr,Co,O --top 5 --plot ranking.png
      phasetrace identify spectrum.txt --system "pc-NMC811 + LLZTO" --json
    """
    import dataclasses

    from ..match import MatchConfig

    if top < 1:
        raise click.BadParameter("must be at least 1", param_hint="--top")
    lib = load_library(libraries)
    inst = load_instrument_file(instrument_file)
    scan, notes = _load_scan(file, kind, anode, laser_nm, index, inst)
    chosen_ids = _util.phase_ids(phase_ids) if phase_ids else None
    if chosen_ids is not None and (elements or system):
        raise click.UsageError("give --phases, or --elements/--system, not both")
    if chosen_ids is None and not elements and not system:
        if scan.meta.system:
            system = scan.meta.system
            notes.append(f"system {system!r} taken from the file's metadata")
        else:
            raise click.UsageError("say what the sample contains: --elements, --system or --phases")
    els = None
    if chosen_ids is None:
        els, _ = system_elements(lib, system, elements)  # checks "not both" and the element symbols
        if system:
            els = None  # the matcher resolves the system itself: its elements and its host phases
    cfg = MatchConfig(peaks=_peak_config(prominence, background_method, False))
    if tolerance is not None:
        if not tolerance > 0:
            raise click.BadParameter("must be positive", param_hint="--tolerance")
        field = "raman_tolerance" if scan.kind == "raman" else "tolerance_fwhm"
        cfg = dataclasses.replace(cfg, **{field: tolerance})
    from ..pipeline import PipelineConfig
    from ..pipeline import identify as identify_scan
    from ..quantify.fit import QuantConfig

    quant = QuantConfig(instrument=inst) if inst is not None else QuantConfig()
    ranking = identify_scan(
        scan,
        system=system,
        elements=els,
        library=lib,
        fit=confirm,
        config=PipelineConfig(match=cfg, quant=quant),
        phases=chosen_ids,
    )
    if plot_path is not None:
        _save_plot(plot_path, lambda: ranking.plot(top=min(top, 6)))
    if as_json:
        out = ranking.to_dict(top=top)
        out["file"] = str(file)
        out["notes"] = notes
        dump_json(out)
        return
    click.echo(ranking.report(top=top, notes=notes))
