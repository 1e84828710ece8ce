"""``phasetrace info`` and ``phasetrace formats``: what a file holds, what phasetrace reads."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click

from ..errors import PhasetraceError, bounded, escape_controls
from ._util import EXIT_BAD_INPUT, dump_json, guard


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
        lines.append(f"  warning: {bounded(w)}")
    # values come from the file (sample names, archive member names): one value, one line
    return [escape_controls(line) for line in lines]


@click.command()
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
    from ..io import load_all, read_manifest
    from ..scan import Radiation

    man = read_manifest(manifest) if manifest else None
    if man is not None:
        unlisted = [f for f in files if man.lookup(f) is None]
        if unlisted:
            # its files are matched by path (relative to the manifest's folder): a name that matches no
            # row leaves the scan's own metadata in force, which looked like the manifest being applied
            shown = ", ".join(str(f) for f in unlisted[:3]) + (" ..." if len(unlisted) > 3 else "")
            click.echo(
                bounded(
                    f"phasetrace: warning: {manifest}: lists no row for {len(unlisted)} of the "
                    f"{len(files)} file(s), which keep their own metadata: {shown}"
                ),
                err=True,
            )
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
        entry["warnings"] = [bounded(_strip_path(str(w.message), f)) for w in caught]
        results.append(entry)
        if not as_json:
            if entry["ok"]:
                click.echo("\n".join(_info_text(entry)))
            else:
                click.echo(bounded(f"phasetrace: error: {entry['error']}"), err=True)
    if as_json:
        dump_json({"files": results, "failed": failed})
    if failed:
        if not as_json and len(files) > 1:
            click.echo(f"phasetrace: {failed} of {len(files)} file(s) could not be read", err=True)
        sys.exit(EXIT_BAD_INPUT)


def _strip_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@guard
def formats(as_json: bool) -> None:
    """List the file formats phasetrace reads.

    \b
    Example:
      phasetrace formats --json
    """
    from ..io import describe

    rows = describe()
    if as_json:
        dump_json({"formats": rows})
        return
    for r in rows:
        suffixes = " ".join(r["suffixes"]) or "(by content)"
        kind = r["kind"] or "xrd/raman"
        click.echo(f"{r['name']:<14} {kind:<10} {suffixes:<40} {r['description']}")
