"""``phasetrace phases``: list, show, add and remove reference phases."""

from __future__ import annotations

from pathlib import Path

import click

from ._util import dump_json, guard, library_option, load_library, system_elements


# --------------------------------------------------------------------------- phases
@click.group()
def phases() -> None:
    """The reference-phase library: list, show, add and remove phases.

    Phases are looked up in the project-local folder (.phasetrace/library/ in
    the working directory or a parent, or $PHASETRACE_PROJECT_LIBRARY), then in
    the user-global folder ($PHASETRACE_USER_LIBRARY, default
    ~/.local/share/phasetrace/phases), then in the bundled library; --library
    adds CIFs or folders for one command.

    \b
    Examples:
      phasetrace phases list --elements Li,La,Zr,Co,O
      phasetrace phases show La2Zr2O7
      phasetrace phases add my_phase.cif --role contaminant --raman my_bands.csv
      phasetrace phases remove my_phase
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
                "scope": p.scope,
                "provenance": p.provenance or ("user CIF" if p.origin != "bundled" else ""),
                "cif": str(p.cif_path),
                "raman": "silent" if lib.is_raman_silent(p) else ("yes" if lib.raman_bands(p) else "no data"),
            }
        )
    indexed = [
        {
            "folder": str(idx.folder),
            "cifs": len(idx),
            "unreadable": len(idx.errors),
            "errors": idx.errors,
            "index": str(idx.path),
        }
        for idx in lib.indexes
    ]
    if as_json:
        dump_json({"elements": sorted(els) if els else None, "phases": rows, "indexed_folders": indexed})
        return
    for f in indexed:
        click.echo(
            f"indexed folder {f['folder']}: {f['cifs']} CIFs ({f['unreadable']} unreadable); its phases are "
            "chosen per scan by elements and lines (here: by elements only)"
        )
    if not rows:
        click.echo("no phase in the library matches")
        return
    click.echo(
        f"{'id':<18} {'formula':<24} {'role':<12} {'family':<18} {'space group':<12} {'Raman':<8} "
        f"{'structure':<15} from"
    )
    for r in rows:
        click.echo(
            f"{r['id']:<18} {r['nominal_formula']:<24} {r['role']:<12} {r['family']:<18} "
            f"{r['space_group']:<12} {r['raman']:<8} {r['provenance']:<15} {r['scope']}"
        )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["provenance"]] = counts.get(r["provenance"], 0) + 1
    click.echo(
        f"{len(rows)} phase(s); structure: "
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        + " (published: the cited refinement; composition adjusted: a published refinement with its partial"
        " occupancies set to the nominal formula; published-cell: published cell, some coordinates chosen; "
        "model: no published refinement used; see `phases show ID`)"
    )
    folders = {r["scope"]: str(Path(r["cif"]).parent) for r in rows if r["scope"] != "bundled"}
    for scope, folder in folders.items():
        click.echo(f"{scope}: {folder}")


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
    from ..scan import Radiation

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
    if p.twin_of:
        click.echo(
            f"  the same structure as {p.twin_of} (family {p.family}): one of them enters a fit, the other "
            "is named as its alternative; where both fit equally well this one is taken"
        )
    click.echo(
        f"  space group {refl.space_group} ({refl.crystal_system}), Z = {refl.z:g}, "
        f"density {refl.density:.3f} g/cm³"
    )
    click.echo(
        f"  cell a {c['a']:.4f} b {c['b']:.4f} c {c['c']:.4f} Å, "
        f"α {c['alpha']:.2f} β {c['beta']:.2f} γ {c['gamma']:.2f}°"
    )
    click.echo(f"  source: {p.source}" + (f" [provenance: {p.provenance}]" if p.provenance else ""))
    if p.origin == "bundled":
        click.echo(
            f"  checked: {p.checked}"
            if p.checked
            else "  checked: citation and values written from the curators' knowledge, not re-checked "
            "against the original publication"
        )
    click.echo(f"  CIF: {p.cif_path} ({_SCOPE_LABEL.get(p.scope, p.scope)})")
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
                f"    {b.position:7.1f} {b.rel_intensity:5.2f} {b.fwhm:5.0f}  {b.assignment}"
                + (f" (every {b.shared_by} has it)" if b.shared_by else "")
                + (f"  [{b.source}]" if b.source else "")
            )


#: How a user folder is named in messages ("library" is a --library-dir folder).
_SCOPE_LABEL = {
    "bundled": "bundled library",
    "project": "project library",
    "global": "global library",
    "library": "library folder",
    "index": "indexed library folder",
}


def _where_options(func):
    func = click.option(
        "--library-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="This library folder instead of the project-local or user-global one.",
    )(func)
    func = click.option(
        "--global", "where", flag_value="global", help="The user-global folder ($PHASETRACE_USER_LIBRARY)."
    )(func)
    func = click.option(
        "--project",
        "where",
        flag_value="project",
        help="The project-local folder (.phasetrace/library/, created in the working directory if none).",
    )(func)
    return func


@phases.command("add")
@click.argument("cif", type=click.Path(path_type=Path))
@click.option(
    "--role",
    type=click.Choice(["host", "secondary", "contaminant", "crucible"]),
    default="secondary",
    show_default=True,
    help="Role in a sample; contaminants and crucibles are tested in every sample.",
)
@click.option("--family", help="Structure family, e.g. fluorite (isostructural phases share one).")
@click.option(
    "--raman",
    "raman_csv",
    type=click.Path(path_type=Path),
    help="Raman bands: CSV with the columns of reference_patterns/raman_bands.csv.",
)
@click.option("--id", "phase_id", help="Phase id (default: _phasetrace_id in the CIF, else the file name).")
@click.option("--strain", type=float, help="Lattice strain the matcher may allow (default 0.01).")
@click.option("--force", is_flag=True, help="Replace a phase of the same id in the target folder.")
@_where_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def phases_add(cif, role, family, raman_csv, phase_id, strain, force, where, library_dir, as_json) -> None:
    """Check a CIF (and its Raman bands) and add it to your phase library, so every command uses it.

    The CIF is refused for parse errors, site occupancies over 1 or an
    implausible density; a composition without charge-balanced oxidation
    states is accepted with a warning. The band file needs the columns
    phase_id, band_cm1, rel_intensity, fwhm_cm1 (assignment, source, note,
    shared_by optional); its rows for the phase's id are used.

    The phase is stored in the project-local folder when there is one
    (.phasetrace/library/ in the working directory or a parent), else in the
    user-global folder; --project or --global choose. A phase of the same id
    is replaced only with --force.

    \b
    Examples:
      phasetrace phases add LaCo0.5Ni0.5O3.cif
      phasetrace phases add CeO2.cif --role contaminant --raman CeO2_bands.csv --project
    """
    from ..library.phases import add_user_phase

    res = add_user_phase(
        cif,
        role=role,
        family=family,
        raman=raman_csv,
        phase_id=phase_id,
        strain=strain,
        force=force,
        where=where,
        directory=library_dir,
    )
    r = res.reflections
    out = {
        "id": res.phase.id,
        "formula": r.formula,
        "space_group": r.space_group,
        "density_g_cm3": r.density,
        "role": res.phase.role,
        "family": res.phase.family,
        "raman_bands": None if res.bands is None else len(res.bands),
        "library": res.scope,
        "folder": str(res.folder),
        "stored_as": str(res.phase.cif_path),
        "replaced": res.replaced,
        "warnings": res.warnings,
    }
    if as_json:
        dump_json(out)
        return
    bands = "" if res.bands is None else f", {len(res.bands)} Raman band(s)"
    click.echo(
        f"{'replaced' if res.replaced else 'added'} {out['id']} ({r.formula}, {r.space_group}, "
        f"{r.density:.3f} g/cm³, {res.phase.role}{bands}) in the {_SCOPE_LABEL.get(res.scope, res.scope)}: "
        f"{out['stored_as']}"
    )
    for w in res.warnings:
        click.echo(f"  warning: {w}")


@phases.command("remove")
@click.argument("phase_id")
@_where_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def phases_remove(phase_id, where, library_dir, as_json) -> None:
    """Remove a phase you added (its CIF copy, role and Raman bands).

    Looks in the project-local folder, then the user-global one, unless
    --project, --global or --library-dir names one. Bundled phases cannot be
    removed.

    \b
    Example:
      phasetrace phases remove CeO2_user
    """
    from ..library.phases import remove_user_phase

    scope, folder = remove_user_phase(phase_id, where=where, directory=library_dir)
    if as_json:
        dump_json({"id": phase_id, "library": scope, "folder": str(folder)})
        return
    click.echo(f"removed {phase_id} from the {_SCOPE_LABEL.get(scope, scope)} ({folder})")


# --------------------------------------------------------------------------- simulate
