"""Reports of a series run: JSON, tidy CSV, Markdown per series with figures, and a terminal table."""

from __future__ import annotations

import csv
import io
import json
import re
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_text
from .analyse import GRID_NOTE, SeriesRun

__all__ = ["terminal_summary", "write_reports"]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "series"


def _fmt_t(t: float | None) -> str:
    return "?" if t is None else ("RT" if t <= 30 else f"{t:g}")


def _fmt_onset(o: list | None) -> str:
    if not o:
        return "–"
    return f"{_fmt_t(o[0])}→{_fmt_t(o[1])} °C"


def tidy_rows(run: SeriesRun) -> list[dict[str, Any]]:
    """One row per scan temperature × phase."""
    rows = []
    for s in run.systems:
        for p in s["phases"]:
            for label, v in p["wt_percent_by_T"].items():
                rows.append(
                    {
                        "system": s["system"],
                        "temperature_C": v["temperature_C"],
                        "label": label,
                        "phase": p["id"],
                        "formula": p["formula"],
                        "role": p["role"],
                        "detected_xrd": v["detected_xrd"],
                        "wt_percent": v["wt_percent"],
                        "esd": v["esd"],
                        "lod_wt_percent": v["lod_wt_percent"],
                        "raman": v["raman"],
                    }
                )
    return rows


def write_reports(
    run: SeriesRun, *, figures: bool = True, jobs: int = 1, executor: Executor | None = None
) -> dict[str, Path]:
    """Write summary.json, results.csv, one Markdown report per series (and its figures) into run.out.

    ``jobs`` worker processes (or the pool ``executor``) draw the figures of many series.
    """
    out = run.out
    written: dict[str, Path] = {}
    doc = run.to_dict()
    atomic_write_text(out / "summary.json", json.dumps(doc, indent=1, default=str))
    written["json"] = out / "summary.json"
    rows = tidy_rows(run)
    buf = io.StringIO()
    fields = [
        "system",
        "temperature_C",
        "label",
        "phase",
        "formula",
        "role",
        "detected_xrd",
        "wt_percent",
        "esd",
        "lod_wt_percent",
        "raman",
    ]
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / "results.csv", buf.getvalue())
    written["csv"] = out / "results.csv"
    figs: dict[str, dict[str, Path]] = {}
    if figures:
        from . import plots

        figs = plots.write_figures(run, jobs=jobs, executor=executor)
    for s in run.systems:
        md = _markdown(s, figs.get(s["system"], {}), run)
        path = out / f"report_{_slug(s['system'])}.md"
        atomic_write_text(path, md)
        written[f"md:{s['system']}"] = path
    if figures and "__onsets__" in figs:
        written["onsets"] = figs["__onsets__"]["onsets"]
    return written


def _markdown(s: dict[str, Any], figs: dict[str, Path], run: SeriesRun) -> str:
    labels = s["labels"]
    lines = [f"# {s['system']}", "", f"Temperatures: {', '.join(labels)} (°C unless RT).", ""]
    lines += [
        "## Phases and onsets",
        "",
        "| phase | formula | role | onset XRD | onset Raman | onset combined | vanishes at |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in s["phases"]:
        o = p["onset"]
        role = p["role"] + (
            " (present from the start)" if p["present_from_start"] and p["role"] != "host" else ""
        )
        raman = _fmt_onset(o["raman"]) if p["raman_testable"] else "not testable"
        van = "–" if p["vanishes_at"] is None else f"{p['vanishes_at']:g} °C"
        lines.append(
            f"| {_name(p)} | {p['formula']} | {role} | {_fmt_onset(o['xrd'])} | {raman} | "
            f"{_fmt_onset(o['combined'])} | {van} |"
        )
    if any(p.get("alternatives") for p in s["phases"]):
        lines += [
            "",
            "'(or: …)' names isostructural phases the scans cannot tell from the one named (the LaMO3 "
            "perovskites, the rock salts, LLZO/LLZTO): the phase is one of them, its metal undetermined.",
        ]
    ev_lines = _evidence_lines(s)
    if ev_lines:
        lines += [
            "",
            "## Evidence of the first detection",
            "",
            "Reflections: hkl at 2θ (Kα1, refined cell), the phase's share of the calculated Bragg intensity "
            "there and the local significance; a share below 50 % means the peak is overlapped and the "
            "detection rests on the whole-pattern fit. Raman: the strongest fitted bands and their share of "
            "the phase's band area.",
            "",
            "| phase | technique | at | evidence |",
            "|---|---|---|---|",
            *ev_lines,
        ]
    lines += [
        "",
        "## Weight fractions (wt % of the crystalline part, ± esd; '<x' = not detected, below x)",
        "",
    ]
    lines.append("| phase | " + " | ".join(labels) + " |")
    lines.append("|---|" + "---|" * len(labels))
    for p in s["phases"]:
        cells = []
        for lab in labels:
            v = p["wt_percent_by_T"][lab]
            if v["detected_xrd"]:
                cells.append(f"{v['wt_percent']:.2f} ± {v['esd']:.2f}")
            elif v["lod_wt_percent"] is not None:
                cells.append(f"<{v['lod_wt_percent']:.2f}")
            else:
                cells.append("–")
        lines.append(f"| {p['id']} | " + " | ".join(cells) + " |")
    lines += ["", GRID_NOTE, ""]
    for key, title in (
        ("waterfall", "XRD series"),
        ("wt", "Weight fraction against temperature"),
        ("raman", "Raman series"),
    ):
        if key in figs:
            lines += [f"## {title}", "", f"![{title}]({figs[key].name})", ""]
    probs = [p for p in run.problems if any(f["file"] == p["file"] for f in s["files"])]
    if probs:
        lines += ["## Problems", ""] + [f"- {p['error']}" for p in probs] + [""]
    return "\n".join(lines)


def _name(p: dict[str, Any]) -> str:
    """A phase's id, with the twins the scans could not tell from it."""
    alt = p.get("alternatives") or []
    return p["id"] + (f" (or: {', '.join(alt)})" if alt else "")


def _hkl(h: list[list[int]]) -> str:
    return "/".join("(" + " ".join(str(v) for v in one) + ")" for one in h)


def _evidence_lines(s: dict[str, Any]) -> list[str]:
    """Table rows: the reflections and bands behind each non-host phase's first detection."""
    rows = []
    for p in s["phases"]:
        if p["role"] == "host":
            continue
        ev = p.get("evidence") or {}
        x = ev.get("xrd")
        if x and x.get("reflections"):
            refl = "; ".join(
                f"{_hkl(r['hkl'])} {r['two_theta']:.2f}° ({100 * r['share']:.0f} %, {r['sigma']:.0f}σ)"
                for r in x["reflections"]
            )
            rows.append(f"| {p['id']} | XRD | {x['label']} | {refl} |")
        r = ev.get("raman")
        if r and r.get("bands"):
            bands = "; ".join(
                f"{b['position_cm1']:.0f} cm⁻¹ ({100 * b['area_share']:.0f} %)" for b in r["bands"]
            )
            sig = r.get("significance")
            if sig is not None:
                bands += f"; fit significance {sig:.0f}"
            rows.append(f"| {p['id']} | Raman | {r['label']} | {bands} |")
    return rows


def terminal_summary(run: SeriesRun) -> str:
    """A compact table per system for the terminal (rich if installed, else plain text)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        Console = None
    blocks = []
    if Console is not None:
        console = Console(record=True, width=120, file=io.StringIO())
        for s in run.systems:
            t = Table(title=s["system"], show_lines=False)
            for col in ("phase", "role", "onset XRD", "onset Raman", "combined", "vanishes", "max wt %"):
                t.add_column(col)
            for p in s["phases"]:
                wts = [v["wt_percent"] for v in p["wt_percent_by_T"].values() if v["detected_xrd"]]
                t.add_row(
                    _name(p),
                    p["role"],
                    _fmt_onset(p["onset"]["xrd"]),
                    _fmt_onset(p["onset"]["raman"]) if p["raman_testable"] else "n/t",
                    _fmt_onset(p["onset"]["combined"]),
                    "–" if p["vanishes_at"] is None else f"{p['vanishes_at']:g}",
                    f"{max(wts):.2f}" if wts else "–",
                )
            console.print(t)
        return console.export_text()
    for s in run.systems:
        blocks.append(s["system"])
        for p in s["phases"]:
            blocks.append(f"  {p['id']:<18} {p['role']:<11} onset {_fmt_onset(p['onset']['combined'])}")
    return "\n".join(blocks)
