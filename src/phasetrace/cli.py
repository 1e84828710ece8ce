"""The ``phasetrace`` command line: thin commands over the library.

Every command has ``--json`` for scripts and an example in its ``--help``.
Errors a user can cause print one line and exit with code 2; no traceback
unless ``phasetrace --debug`` is given.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click

from . import __version__
from ._cli_util import (
    EXIT_BAD_INPUT,
    dump_json,
    guard,
    library_option,
    load_library,
    system_elements,
)
from .errors import PhasetraceError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="phasetrace")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors (for bug reports).")
def main(debug: bool) -> None:
    """Phase identification, quantification and onsets from XRD and Raman heating series.

    \b
    Example:
      phasetrace info scans/*.xrdml
      phasetrace formats
    """


# --------------------------------------------------------------------------- info
def _describe_radiation(rad: dict[str, Any] | None) -> str:
    if not rad:
        return "unknown"
    parts = [f"Kα1 {rad['kalpha1']:.6f} Å"]
    if rad.get("kalpha2"):
        parts.append(f"Kα2 {rad['kalpha2']:.6f} Å, ratio {rad['ratio']:g}")
    else:
        parts.append("monochromatic")
    anode = f"{rad['anode']} " if rad.get("anode") else ""
    origin = {
        "file": "from the file",
        "default": "NOT in the file: documented Cu Kα default assumed",
        "user": "given by the user",
        "manifest": "from the manifest",
    }.get(rad.get("source", ""), rad.get("source", ""))
    return f"{anode}{', '.join(parts)} ({origin})"


def _info_text(entry: dict[str, Any]) -> list[str]:
    lines = []
    for s in entry["scans"]:
        m = s["meta"]
        unit = "°" if s["kind"] == "xrd" else " cm⁻¹"
        axis = "2θ" if s["kind"] == "xrd" else "Raman shift"
        label = entry["file"] if len(entry["scans"]) == 1 else f"{entry['file']} [scan {s['index']}]"
        lines.append(f"{label}")
        lines.append(f"  format       {s['format']} ({s['kind'].upper() if s['kind'] == 'xrd' else 'Raman'})")
        lines.append(
            f"  points       {s['points']}, {axis} {s['x_min']:.4f}–{s['x_max']:.4f}{unit}, "
            f"step {s['step']:.5g}{unit}" + (", with uncertainties" if s["has_sigma"] else "")
        )
        lines.append(f"  intensity    {s['y_min']:.6g} – {s['y_max']:.6g}")
        if s["kind"] == "xrd":
            lines.append(f"  radiation    {_describe_radiation(m.get('radiation'))}")
        elif m.get("laser_nm"):
            lines.append(f"  laser        {m['laser_nm']:g} nm")
        for key, name in (
            ("sample", "sample"),
            ("system", "system"),
            ("temperature_C", "temperature"),
            ("technique", "technique"),
            ("atmosphere", "atmosphere"),
            ("dwell", "dwell"),
            ("instrument", "instrument"),
            ("counting_time", "count time"),
        ):
            v = m.get(key)
            if v is None:
                continue
            if key == "temperature_C":
                label_t = m.get("extra", {}).get("temperature_label")
                v = f"{v:g} °C" + (f" ({label_t})" if label_t else "")
            elif key == "counting_time":
                v = f"{v:g} s"
            lines.append(f"  {name:<12} {v}")
        lines.append(f"  sha256       {m['sha256']}")
    for w in entry.get("warnings", []):
        lines.append(f"  warning: {w}")
    return lines


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV or YAML manifest with system, temperature_C, technique, atmosphere, dwell per file.",
)
@click.option("--kind", type=click.Choice(["xrd", "raman"]), help="Expect this technique.")
@click.option("--format", "fmt", metavar="NAME", help="Force a reader (see 'phasetrace formats').")
@click.option(
    "--anode",
    type=click.Choice(["Cu", "Co", "Mo", "Fe", "Cr", "Ag"], case_sensitive=False),
    help="X-ray anode, for files that do not state their wavelength.",
)
@click.option("--laser-nm", type=float, help="Raman laser wavelength, for files that do not state it.")
@guard
def info(
    files: tuple[Path, ...],
    as_json: bool,
    manifest: Path | None,
    kind: str | None,
    fmt: str | None,
    anode: str | None,
    laser_nm: float | None,
) -> None:
    """Show format, points, range, step, radiation and metadata of scan files.

    A file that cannot be read gets a one-line error; the others are still
    shown, and the exit code is 2 if any file failed.

    \b
    Examples:
      phasetrace info "pc-NMC631 + LLZTO-800.xrdml"
      phasetrace info --json --manifest manifest.csv scans/*
    """
    from .io import load_all, read_manifest
    from .scan import Radiation

    man = read_manifest(manifest) if manifest else None
    radiation = Radiation.from_anode(anode, source="user") if anode else None
    results = []
    failed = 0
    for f in files:
        entry: dict[str, Any] = {"file": str(f)}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                scans = load_all(
                    f,
                    kind=kind,
                    format=fmt,
                    radiation=radiation,
                    laser_nm=laser_nm,
                    meta=man.lookup(f) if man else None,
                )
            except PhasetraceError as exc:
                entry.update(ok=False, error=str(exc))
                failed += 1
            else:
                entry.update(ok=True, scans=[s.summary() for s in scans])
        entry["warnings"] = [_strip_path(str(w.message), f) for w in caught]
        results.append(entry)
        if not as_json:
            if entry["ok"]:
                click.echo("\n".join(_info_text(entry)))
            else:
                click.echo(f"phasetrace: error: {entry['error']}", err=True)
    if as_json:
        dump_json({"files": results, "failed": failed})
    if failed:
        if not as_json and len(files) > 1:
            click.echo(f"phasetrace: {failed} of {len(files)} file(s) could not be read", err=True)
        sys.exit(EXIT_BAD_INPUT)


def _strip_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def formats(as_json: bool) -> None:
    """List the file formats phasetrace reads.

    \b
    Example:
      phasetrace formats --json
    """
    from .io import describe

    rows = describe()
    if as_json:
        dump_json({"formats": rows})
        return
    for r in rows:
        suffixes = " ".join(r["suffixes"]) or "(by content)"
        kind = r["kind"] or "xrd/raman"
        click.echo(f"{r['name']:<14} {kind:<10} {suffixes:<40} {r['description']}")


if __name__ == "__main__":  # pragma: no cover
    main()


# --------------------------------------------------------------------------- phases
@main.group()
def phases() -> None:
    """The reference-phase library: list, show and add phases.

    \b
    Examples:
      phasetrace phases list --elements Li,La,Zr,Co,O
      phasetrace phases show La2Zr2O7
      phasetrace phases add my_phase.cif
    """


@phases.command("list")
@click.option("--elements", help="Only phases whose elements all occur in this list, e.g. Li,La,Zr,Co,O.")
@click.option("--system", help='Only phases possible in a system, e.g. "pc-NMC811 + LLZTO".')
@click.option("--role", type=click.Choice(["host", "secondary", "contaminant", "crucible"]), multiple=True)
@click.option("--family", multiple=True, help="Structure family, e.g. garnet, LaMO3-perovskite.")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def phases_list(elements, system, role, family, libraries, as_json) -> None:
    """List reference phases, optionally only those possible for a sample's elements.

    With --elements or --system the crucible and the usual contaminants
    (MgO, Li2CO3, LiOH) are always listed.

    \b
    Examples:
      phasetrace phases list
      phasetrace phases list --system "pc-LCO + LLZTO" --json
    """
    lib = load_library(libraries)
    els, always = system_elements(lib, system, elements)
    chosen = lib.select(
        elements=els,
        roles=role or None,
        families=family or None,
        always=always if els is not None else (),
    )
    rows = []
    for p in chosen:
        refl = lib.reflections(p)
        rows.append(
            {
                "id": p.id,
                "formula": refl.formula,
                "nominal_formula": p.formula,
                "name": p.name,
                "role": p.role,
                "family": p.family,
                "space_group": p.space_group,
                "origin": p.origin,
                "raman": "silent" if lib.is_raman_silent(p) else ("yes" if lib.raman_bands(p) else "no data"),
            }
        )
    if as_json:
        dump_json({"elements": sorted(els) if els else None, "phases": rows})
        return
    if not rows:
        click.echo("no phase in the library matches")
        return
    click.echo(f"{'id':<18} {'formula':<24} {'role':<12} {'family':<18} {'space group':<12} Raman")
    for r in rows:
        click.echo(
            f"{r['id']:<18} {r['nominal_formula']:<24} {r['role']:<12} {r['family']:<18} "
            f"{r['space_group']:<12} {r['raman']}" + ("  (user)" if r["origin"] == "user" else "")
        )
    click.echo(f"{len(rows)} phase(s)")


@phases.command("show")
@click.argument("phase_id")
@click.option(
    "--range",
    "tt_range",
    nargs=2,
    type=float,
    default=(10.0, 80.0),
    show_default=True,
    help="2θ range of the reflection table, degrees.",
)
@click.option(
    "--anode",
    type=click.Choice(["Cu", "Co", "Mo", "Fe", "Cr", "Ag"], case_sensitive=False),
    default="Cu",
    show_default=True,
)
@click.option(
    "--min-intensity",
    type=float,
    default=0.5,
    show_default=True,
    help="Hide reflections weaker than this (strongest = 100).",
)
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def phases_show(phase_id, tt_range, anode, min_intensity, libraries, as_json) -> None:
    """Show a phase: cell, reflections (Kα1 and Kα2), Raman bands and sources.

    \b
    Example:
      phasetrace phases show La2Zr2O7 --range 10 60
    """
    from .scan import Radiation

    lib = load_library(libraries)
    p = lib[phase_id]
    rad = Radiation.from_anode(anode)
    refl = lib.reflections(p, wavelength=rad.kalpha1)
    tab = refl.table((rad.kalpha1, rad.kalpha2), two_theta_range=tuple(tt_range))
    keep = tab["intensity"] >= min_intensity
    reflections = [
        {
            "hkl": [int(v) for v in tab["hkl"][i]],
            "d": float(tab["d"][i]),
            "two_theta_ka1": float(tab["two_theta_1"][i]),
            "two_theta_ka2": float(tab["two_theta_2"][i]),
            "multiplicity": int(tab["multiplicity"][i]),
            "intensity": float(tab["intensity"][i]),
        }
        for i in range(len(keep))
        if keep[i]
    ]
    bands = lib.raman_bands(p)
    out = {
        **p.to_dict(),
        "formula": refl.formula,
        "nominal_formula": p.formula,
        "cell": dict(zip(("a", "b", "c", "alpha", "beta", "gamma"), map(float, refl.cell), strict=True)),
        "crystal_system": refl.crystal_system,
        "z": refl.z,
        "zmv": refl.zmv,
        "density_g_cm3": refl.density,
        "radiation": rad.to_dict(),
        "reflections": reflections,
        "raman_bands": None if bands is None else [b.__dict__ for b in bands],
        "raman_silent": bands == [],
    }
    if as_json:
        dump_json(out)
        return
    c = out["cell"]
    click.echo(f"{p.id}: {p.name} ({p.formula}), {p.role}, {p.family}")
    click.echo(
        f"  space group {refl.space_group} ({refl.crystal_system}), Z = {refl.z:g}, "
        f"density {refl.density:.3f} g/cm³"
    )
    click.echo(
        f"  cell a {c['a']:.4f} b {c['b']:.4f} c {c['c']:.4f} Å, "
        f"α {c['alpha']:.2f} β {c['beta']:.2f} γ {c['gamma']:.2f}°"
    )
    click.echo(f"  source: {p.source}")
    click.echo(f"  CIF: {p.cif_path}")
    if p.notes:
        click.echo(f"  notes: {p.notes}")
    click.echo(
        f"  reflections ({rad.anode} Kα1 {rad.kalpha1} Å / Kα2 {rad.kalpha2} Å), "
        f"{tt_range[0]:g}–{tt_range[1]:g}° 2θ:"
    )
    click.echo(f"    {'h k l':>10} {'d (Å)':>8} {'2θ Kα1':>8} {'2θ Kα2':>8} {'mult':>5} {'I':>6}")
    for r in reflections:
        hkl = " ".join(f"{v:d}" for v in r["hkl"])
        click.echo(
            f"    {hkl:>10} {r['d']:8.4f} {r['two_theta_ka1']:8.3f} {r['two_theta_ka2']:8.3f} "
            f"{r['multiplicity']:5d} {r['intensity']:6.1f}"
        )
    if bands is None:
        click.echo("  Raman: no reference bands in the table (not testable by Raman)")
    elif not bands:
        click.echo("  Raman: silent (no first-order Raman spectrum)")
    else:
        click.echo("  Raman bands (cm⁻¹, rel. intensity, FWHM, source):")
        for b in bands:
            click.echo(
                f"    {b.position:7.1f} {b.rel_intensity:5.2f} {b.fwhm:5.0f}  {b.assignment}  [{b.source}]"
            )


@phases.command("add")
@click.argument("cif", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def phases_add(cif, as_json) -> None:
    """Check a CIF and add it to your phase library, so every command uses it.

    The CIF is refused for parse errors, site occupancies over 1 or an
    implausible density; a composition without charge-balanced oxidation
    states is accepted with a warning. The phase id is the file name without
    .cif unless the CIF sets _phasetrace_id. User phases are kept in
    $PHASETRACE_USER_LIBRARY (default ~/.local/share/phasetrace/phases).

    \b
    Example:
      phasetrace phases add LaCo0.5Ni0.5O3.cif
    """
    from .library.phases import add_user_cif

    res = add_user_cif(cif)
    r = res.reflections
    out = {
        "id": res.phase.id,
        "formula": r.formula,
        "space_group": r.space_group,
        "density_g_cm3": r.density,
        "stored_as": str(res.phase.cif_path),
        "warnings": res.warnings,
    }
    if as_json:
        dump_json(out)
        return
    click.echo(
        f"added {out['id']} ({r.formula}, {r.space_group}, {r.density:.3f} g/cm³) as {out['stored_as']}"
    )
    for w in res.warnings:
        click.echo(f"  warning: {w}")


# --------------------------------------------------------------------------- simulate
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


@main.command()
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
    from .io import save
    from .scan import Radiation
    from .simulate import Instrument, simulate_raman, simulate_xrd

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


from .quantify import commands as _quantify_commands  # noqa: E402

main.add_command(_quantify_commands.fit)

from .series import commands as _series_commands  # noqa: E402

main.add_command(_series_commands.series)


from .match import commands as _match_commands  # noqa: E402

main.add_command(_match_commands.peaks)
main.add_command(_match_commands.identify)
