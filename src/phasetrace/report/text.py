"""Plain-text reports of single results (what the CLI prints and ``result.report()`` returns)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_fit"]


def format_fit(result: Any) -> str:
    """Report of a whole-pattern fit: phase, wt % ± esd, LoD, cell, size, and the fit statistics."""
    if not result.success:
        return f"{result.file}: FIT FAILED: {result.message}"
    lines = [
        f"{result.file}",
        f"  Rwp {100 * result.rwp:.2f} %, Rexp {100 * result.rexp:.2f} %, GoF {result.gof:.2f}",
        f"  {'phase':<18} {'wt %':>8} {'± esd':>7} {'LoD':>7}  {'a (Å)':>8} {'size nm':>8}  status",
    ]
    for p in result.phases:
        a = p.cell.get("a", float("nan"))
        size = f"{p.size_nm:8.0f}" if p.size_nm else f"{'':>8}"
        if p.detected:
            status = "detected"
            wt = f"{p.wt_percent:8.2f} {p.esd:7.2f}"
        else:
            status = f"not detected, < {p.lod_wt_percent:.2f} wt %"
            wt = f"{'–':>8} {'':>7}"
        if p.alternatives:
            status += f" (or: {', '.join(p.alternatives)})"
        lines.append(f"  {p.id:<18} {wt} {p.lod_wt_percent:7.2f}  {a:8.4f} {size}  {status}")
    g = result.globals
    lines.append(
        f"  displacement {g.get('displacement', 0.0):.0f} µm, zero {g.get('zero', 0.0):.3f}°, "
        f"η {g.get('eta', float('nan')):.2f}"
    )
    instrument = getattr(result, "instrument", None)
    if instrument:
        where = instrument.get("source", "scan metadata")
        lines.append(f"  instrument: {instrument.get('name', '')} ({where})")
    b = [
        f"{p.id} {p.b_iso:.2f}" for p in result.phases if p.detected and getattr(p, "b_iso", None) is not None
    ]
    if b:
        lines.append(f"  B (Å²): {', '.join(b)}")
    lines.append(f"  {result.note}")
    return "\n".join(lines)
