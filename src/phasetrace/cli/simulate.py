"""``phasetrace simulate``: write a simulated XRD pattern or Raman spectrum with known phases."""

from __future__ import annotations

from pathlib import Path

import click

from ._util import dump_json, guard, library_option, load_library


def _parse_fractions(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise click.BadParameter(f"{part!r}: write ID=WT, e.g. LLZTO_cubic=97", param_hint="--phases")
        pid, wt = part.split("=", 1)
        try:
            out[pid.strip()] = float(wt)
        except ValueError:
            raise click.BadParameter(f"{part!r}: {wt!r} is not a number", param_hint="--phases") from None
    if not out:
        raise click.BadParameter("no phases given", param_hint="--phases")
    return out


@click.command()
@click.option(
    "--phases",
    "phase_text",
    required=True,
    help="Phases and weight fractions, e.g. LLZTO_cubic=97,La2Zr2O7=3 (normalised to 100).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file; the suffix picks the format (see 'phasetrace formats').",
)
@click.option("--technique", type=click.Choice(["xrd", "raman"]), default="xrd", show_default=True)
@click.option(
    "--range",
    "x_range",
    nargs=2,
    type=float,
    help="x range: 2θ degrees (default 10 80) or Raman shift cm⁻¹ (default 100 1200).",
)
@click.option("--step", type=float, help="Step: default 0.01° (XRD) or 1 cm⁻¹ (Raman).")
@click.option("--counts", type=float, help="Counts of the strongest peak (default 1e4 XRD, 5000 Raman).")
@click.option("--background", type=float, help="Background counts (default 150 XRD, 300 Raman).")
@click.option(
    "--anode",
    type=click.Choice(["Cu", "Co", "Mo", "Fe", "Cr", "Ag"], case_sensitive=False),
    default="Cu",
    show_default=True,
)
@click.option("--size-nm", type=float, default=200.0, show_default=True, help="Crystallite size.")
@click.option("--strain", type=float, default=0.0, show_default=True, help="Microstrain (fraction).")
@click.option("--laser-nm", type=float, default=532.0, show_default=True, help="Raman laser.")
@click.option("--seed", type=int, help="Random seed for the counting noise.")
@click.option("--no-noise", is_flag=True, help="Write expected counts without Poisson noise.")
@click.option("--sample", help="Sample name written into the file.")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def simulate(
    phase_text,
    out_path,
    technique,
    x_range,
    step,
    counts,
    background,
    anode,
    size_nm,
    strain,
    laser_nm,
    seed,
    no_noise,
    sample,
    libraries,
    as_json,
) -> None:
    """Simulate an XRD pattern or Raman spectrum of a phase mixture and write it to a file.

    Plan experiments and detection limits: how strong is 1 wt % La2Zr2O7 in
    LLZTO at your counting statistics?

    \b
    Examples:
      phasetrace simulate --phases LLZTO_cubic=97,La2Zr2O7=3 --out mix.xy
      phasetrace simulate --technique raman --phases LLZTO_cubic=90,LaCoO3=10 --out mix_raman.txt
    """
    from ..io import save
    from ..scan import Radiation
    from ..simulate import Instrument, simulate_raman, simulate_xrd

    lib = load_library(libraries)
    fractions = _parse_fractions(phase_text)
    name = sample or out_path.stem
    if technique == "xrd":
        scan = simulate_xrd(
            lib,
            fractions,
            instrument=Instrument(radiation=Radiation.from_anode(anode)),
            two_theta_range=tuple(x_range) if x_range else (10.0, 80.0),
            step=step or 0.01,
            max_counts=counts or 1e4,
            background=150.0 if background is None else background,
            crystallite_size_nm=size_nm,
            microstrain=strain,
            noise=not no_noise,
            seed=seed,
            sample=name,
        )
    else:
        scan = simulate_raman(
            lib,
            fractions,
            shift_range=tuple(x_range) if x_range else (100.0, 1200.0),
            step=step or 1.0,
            laser_nm=laser_nm,
            max_counts=counts or 5000.0,
            background=300.0 if background is None else background,
            noise=not no_noise,
            seed=seed,
            sample=name,
        )
    written = save(scan, out_path)
    truth = scan.meta.extra["truth"]["wt_percent"]
    out = {
        "file": str(written),
        "technique": technique,
        "points": len(scan),
        "phases": [
            {"id": k, "formula": lib.reflections(k).formula, "wt_percent": v} for k, v in truth.items()
        ],
    }
    if as_json:
        dump_json(out)
        return
    parts = ", ".join(f"{k} {v:.2f} wt%" for k, v in truth.items())
    click.echo(f"wrote {written} ({technique}, {len(scan)} points): {parts}")
