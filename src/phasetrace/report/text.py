"""Plain-text reports of single results (what the CLI prints and ``result.report()`` returns)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_fit"]


def format_fit(result: Any) -> str:
    """Report of a whole-pattern fit: phase, wt % ± esd, LoD, cell, size, and the fit statistics."""
    if not result.success:
        return f"{result.file}: FIT FAILED: {result.message}"
    lines = [
        f"{result.file}",
        f"  Rwp {100 * result.rwp:.2f} %, Rexp {100 * result.rexp:.2f} %, GoF {result.gof:.2f}",
    ]
    # the residual reading (quantify/residual.py): the poor-fit verdict and the unexplained peaks
    q = getattr(result, "quality", None)
    if q is not None and q.poor:
        lines.append(f"  {q.message}")
    if q is not None and q.peaks:
        lines.append("  unexplained peaks: 2θ (d Å, share of diffracted intensity, σ)")
        for pk in q.peaks:
            near = getattr(pk, "near", "")
            # at a modelled reflection: more likely its misfit than another phase (or one beneath it)
            at = f"  at {near}: misfit of that reflection, or a phase beneath it" if near else ""
            where = f"{pk.two_theta:7.2f}° ({pk.d:.3f} Å, {100 * pk.share:.1f} %, {pk.sigma:.0f}σ)"
            lines.append(f"    {where}{at}")
    lines.append(f"  {'phase':<18} {'wt %':>8} {'± esd':>7} {'LoD':>7}  {'a (Å)':>8} {'size nm':>8}  status")
    for p in result.phases:
        a = p.cell.get("a", float("nan"))
        size = f"{p.size_nm:8.0f}" if p.size_nm else f"{'':>8}"
        reliable = getattr(p, "reliable", True)
        if p.detected and not reliable:
            # no "100.00 ± 0.00" from a fit that does not explain the pattern
            status = "detected; amount unreliable (poor fit)"
            wt = f"{'~' + format(p.wt_percent, '.0f'):>8} {'?':>7}"
        elif p.detected:
            status = "detected"
            wt = f"{p.wt_percent:8.2f} {p.esd:7.2f}"
        elif getattr(p, "same_as", None):
            # the data cannot tell it from a detected phase: its amount is in that one's
            status = f"not separable from {p.same_as} (detected): counted in its amount"
            wt = f"{'–':>8} {'':>7}"
        elif math.isfinite(p.lod_wt_percent):
            status = f"not detected, < {p.lod_wt_percent:.2f} wt %"
            wt = f"{'–':>8} {'':>7}"
        else:
            status = "not detected (no limit: no phase identified)"
            wt = f"{'–':>8} {'':>7}"
        alternatives = [a for a in p.alternatives if a != getattr(p, "same_as", None)]
        if alternatives:
            status += f" (or: {', '.join(alternatives)})"
        at_limit = getattr(p, "at_limit", ())
        if p.detected and at_limit:
            # a value at the bound of its range is the bound, not a measurement
            status += f"; at limit: {', '.join(at_limit)}"
            if "size" in at_limit and p.size_nm:
                size = f"{'≤' + format(p.size_nm, '.0f'):>8}"
        if (p.detected and reliable or getattr(p, "same_as", None)) and not math.isfinite(p.lod_wt_percent):
            lod = f"{'–':>7}"  # alone in the model (any amount is all of it), or a detected phase's twin
        elif math.isfinite(p.lod_wt_percent) and (reliable or not p.detected):
            lod = f"{p.lod_wt_percent:7.2f}"
        else:
            lod = f"{'?':>7}"
        lines.append(f"  {p.id:<18} {wt} {lod}  {a:8.4f} {size}  {status}")
    lines.append(f"  {_globals_line(result)}")
    instrument = getattr(result, "instrument", None)
    if instrument:
        where = instrument.get("source", "scan metadata")
        slit = instrument.get("divergence_slit") or {}
        # the one setting that changes relative intensities, whether a file or the scan stated it
        auto = (
            f"; automatic divergence slit, {slit['irradiated_length_mm']:g} mm irradiated length"
            if slit.get("mode") == "automatic" and slit.get("irradiated_length_mm")
            else ""
        )
        lines.append(f"  instrument: {instrument.get('name', '')} ({where}){auto}")
    b = [
        f"{p.id} {p.b_iso:.2f}" + (" (at limit)" if "B" in getattr(p, "at_limit", ()) else "")
        for p in result.phases
        if p.detected and getattr(p, "b_iso", None) is not None
    ]
    if b:
        lines.append(f"  B (Å²): {', '.join(b)}")
    lines.append(f"  {result.note}")
    if any(p.detected for p in result.phases):
        lines.append(f"  {ESD_NOTE}")
    return "\n".join(lines)


#: What the esd column is (and is not): said wherever esds are shown.
ESD_NOTE = (
    "esd: statistical (counting noise, scaled by the GoF) only; model errors (profile, structure, "
    "microabsorption) are not in it and on weighed mixtures are several times larger."
)


def _globals_line(result: Any) -> str:
    """Displacement, zero and η: a value at a bound of its range said so, an unrefined zero omitted."""
    g = result.globals
    fixed = set(getattr(result, "globals_fixed", ()))
    at = set(getattr(result, "globals_at_limit", ()))

    def mark(key: str) -> str:
        return " (at limit)" if key in at else ""

    parts = [f"displacement {g.get('displacement', 0.0):.0f} µm{mark('displacement')}"]
    zero = g.get("zero", 0.0)
    if "zero" not in fixed:
        parts.append(f"zero {zero:.3f}°{mark('zero')}")
    elif zero:
        parts.append(f"zero {zero:.3f}° (held)")
    parts.append(f"η {g.get('eta', float('nan')):.2f}{mark('eta')}")
    return ", ".join(parts)
