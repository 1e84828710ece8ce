"""Tables and exports of a series run: tidy results (CSV, JSON), cells, fitted profiles, Markdown, terminal.

Per-scan numbers are read from the run's stored records with ``dict.get``, so fields that newer
fits add (Rexp, fit-quality flags, displacement parameters, esds of cells) appear in the exports
as soon as the records carry them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from .style import documents, temperature_label

__all__ = [
    "RESULT_FIELDS",
    "cell_rows",
    "fit_quality_lines",
    "misfit_lines",
    "misfit_text",
    "results_rows",
    "slug",
    "terminal_summary",
    "tidy_rows",
    "unidentified_lines",
    "write_cells",
    "write_fit_profile",
    "write_markdown",
    "write_profiles",
    "write_results",
]

#: Columns of results.csv / results.json (one row per file × phase).
RESULT_FIELDS = (
    "file",
    "system",
    "temperature_C",
    "technique",
    "phase",
    "formula",
    "role",
    "detected",
    "wt_percent",
    "esd",
    "lod_wt_percent",
    "rwp",
    "rexp",
    "gof",
    "flags",
    "raman_status",
)

#: Decimals kept per kind of number in the exports (wt % to 0.001, R factors to 0.0001).
DECIMALS = {"wt": 3, "r": 4, "cell": 5, "size": 1, "two_theta": 4, "intensity": 2}


def slug(name: str) -> str:
    """A file-name-safe form of a system or file name."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "series"


def _num(v: Any, nd: int) -> float:
    """A rounded float, NaN for missing or non-finite values."""
    if v is None:
        return math.nan
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return round(f, nd) if math.isfinite(f) else math.nan


def _flags(res: dict[str, Any]) -> str:
    """The fit-quality flag of a record (``ok``, or the flag and what the residual reading found)."""
    f = res.get("flags") or res.get("flag") or ()
    if isinstance(f, str):
        msg = (res.get("quality") or {}).get("message")
        return f"{f}: {msg}" if msg and f != "ok" else f
    if isinstance(f, dict):
        return "; ".join(f"{k}: {v}" if v not in (True, None) else str(k) for k, v in f.items() if v)
    return "; ".join(str(x) for x in f)


def _records_by_file(run: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(file, stage) -> stored record of the run."""
    out = {}
    for rec in (getattr(run, "records", None) or {}).values():
        if rec:
            out[(rec["file"], rec["stage"])] = rec
    return out


def results_rows(run: Any) -> list[dict[str, Any]]:
    """One row per file × phase of the run (the ``results.csv`` table).

    XRD files take their numbers from the refit with the series' phases; Raman files give the
    detection decision of the band fit (no wt %). Numbers not quantified are NaN.
    """
    recs = _records_by_file(run)
    rows = []
    for s in documents(run.systems):
        phases = {p["id"]: p for p in s["phases"]}
        for f in sorted(s["files"], key=lambda f: (f["temperature_C"], f["technique"])):
            stage = "refit" if f["technique"] == "xrd" else "raman"
            rec = recs.get((f["file"], stage))
            res = (rec or {}).get("result") or {}
            by_id = {p["id"]: p for p in res.get("phases", [])}
            rexp = res.get("rexp", (res.get("profile") or {}).get("rexp"))
            # an unidentified phase is no phase of the fit: whether its peaks are there is the series'
            # (left blank, its row read as a repeat of the scan's last library phase)
            at = dict(zip(s["temperatures"], s["labels"], strict=True)).get(f["temperature_C"])
            for pid, sp in phases.items():
                p = by_id.get(pid, {})
                xrd = f["technique"] == "xrd"
                detected = p.get("detected")
                if sp["role"] == "unidentified" and xrd:
                    detected = (sp["wt_percent_by_T"].get(at) or {}).get("detected_xrd")
                rows.append(
                    {
                        "file": Path(f["file"]).name,
                        "system": s["system"],
                        "temperature_C": f["temperature_C"],
                        "technique": f["technique"],
                        "phase": pid,
                        "formula": sp["formula"],
                        "role": sp["role"],
                        "detected": None if detected is None else bool(detected),
                        "wt_percent": _num(p.get("wt_percent"), 3) if xrd and detected else math.nan,
                        "esd": _num(p.get("esd"), 3) if xrd and detected else math.nan,
                        "lod_wt_percent": _num(p.get("lod_wt_percent"), 3) if xrd else math.nan,
                        "rwp": _num(res.get("rwp"), 4) if xrd else math.nan,
                        "rexp": _num(rexp, 4) if xrd else math.nan,
                        "gof": _num(res.get("gof"), 3),
                        "flags": _flags(res) if rec else ("no result" if rec is None else ""),
                        "raman_status": None if xrd else p.get("status"),
                    }
                )
    return rows


def tidy_rows(run: Any) -> list[dict[str, Any]]:
    """One row per series temperature × phase (the per-system summary, as in ``summary.json``)."""
    rows = []
    for s in documents(run.systems):
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


def _csv_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if v is None:
        return ""
    return v


def _json_value(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _write_table(path: Path, rows: list[dict[str, Any]], fields: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_value(r.get(k)) for k in fields})
    atomic_write_text(path, buf.getvalue())


def write_results(run: Any, out: Path) -> dict[str, Path]:
    """``results.csv`` and ``results.json``: one row per file × phase (:data:`RESULT_FIELDS`)."""
    rows = results_rows(run)
    _write_table(out / "results.csv", rows, list(RESULT_FIELDS))
    doc = {
        "columns": list(RESULT_FIELDS),
        "note": "wt % of the crystalline part; NaN/null where a number was not quantified "
        "(not detected: see lod_wt_percent; Raman: detection only).",
        "rows": [{k: _json_value(r.get(k)) for k in RESULT_FIELDS} for r in rows],
    }
    atomic_write_text(out / "results.json", json.dumps(doc, indent=1, allow_nan=False))
    return {"csv": out / "results.csv", "results_json": out / "results.json"}


#: Phase-record keys that are not refined structure parameters (left out of cells.csv).
_NOT_STRUCTURE = {
    "id",
    "formula",
    "wt_percent",
    "esd",
    "lod_wt_percent",
    "detected",
    "in_model",
    "alternatives",
    "role",
    "evidence",
    "scale_factor",
    "scale_sigma",
    "status",
    "reason",
}


def _flatten(p: dict[str, Any]) -> dict[str, float]:
    """Numeric structure parameters of a phase record, dicts flattened (``cell_esd.a`` -> ``a_esd``)."""
    out: dict[str, float] = {}
    for k, v in p.items():
        if k in _NOT_STRUCTURE:
            continue
        if isinstance(v, dict):
            for kk, vv in v.items():
                if isinstance(vv, (int, float)) and not isinstance(vv, bool):
                    name = kk if k == "cell" else (f"{kk}_esd" if k == "cell_esd" else f"{k}_{kk}")
                    out[name] = float(vv)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = float(v)
    return out


def _decimals(name: str) -> int:
    """Decimals kept for a structure parameter: sizes (nm) and displacements (µm) 0.1, c/a 1e-6, else 1e-5."""
    if name.startswith(("size", "displacement")):
        return 1
    return 6 if name.startswith("c_over_a") else 5


def cell_rows(run: Any) -> list[dict[str, Any]]:
    """Per XRD file and phase in its refit: cell (and c/a), size, texture, displacement, with esds."""
    recs = _records_by_file(run)
    rows = []
    for s in documents(run.systems):
        for f in sorted(s["files"], key=lambda f: f["temperature_C"]):
            rec = recs.get((f["file"], "refit"))
            res = (rec or {}).get("result") or {}
            if f["technique"] != "xrd" or not res:
                continue
            for p in res.get("phases", []):
                if not p.get("in_model", True):
                    continue
                vals = _flatten(p)
                a, c = vals.get("a"), vals.get("c")
                # c/a of non-cubic cells (layered cathodes); the fit's own (with the a-c covariance) if given
                if "c_over_a" not in p and a and c and abs(c - a) > 1e-6 * a:
                    vals["c_over_a"] = c / a
                    if "a_esd" in vals and "c_esd" in vals:
                        vals["c_over_a_esd"] = (c / a) * math.hypot(vals["a_esd"] / a, vals["c_esd"] / c)
                row = {
                    "file": Path(f["file"]).name,
                    "system": s["system"],
                    "temperature_C": f["temperature_C"],
                    "phase": p["id"],
                    "detected": bool(p.get("detected")),
                }
                for k, v in vals.items():
                    if k.endswith("_esd") and v == 0:
                        continue  # a parameter the fit held (an angle of a cell, a scale-only cell): blank
                    row[k] = _num(v, _decimals(k))
                for k, v in (res.get("globals") or {}).items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        row[f"scan_{k}"] = _num(v, _decimals(k))
                rows.append(row)
    return rows


#: The cell columns of cells.csv, in this order (each followed by its esd).
_CELL_COLUMNS = ("a", "b", "c", "alpha", "beta", "gamma", "volume", "c_over_a")


def write_cells(run: Any, out: Path) -> Path:
    """``cells.csv``: :func:`cell_rows` (columns are the union of what the fits refined)."""
    rows = cell_rows(run)
    lead = ["file", "system", "temperature_C", "phase", "detected"]
    # the cell, each value beside its esd; then the phase's other terms; the scan's terms last
    cell = [x for k in _CELL_COLUMNS for x in (k, f"{k}_esd")]
    others = {k for r in rows for k in r} - set(lead) - set(cell)
    rest = sorted(others, key=lambda k: (k.startswith("scan_"), k))
    fields = lead + [k for k in cell if any(k in r for r in rows)] + rest
    _write_table(out / "cells.csv", rows, fields)
    return out / "cells.csv"


def profile_text(columns: dict[str, Any], header: str = "") -> str:
    """CSV text of a fitted profile: 2θ to 0.0001°, intensities to 0.01 count; ``header`` as a # line."""
    buf = io.StringIO()
    if header:
        buf.write(f"# {header}\n")
    names = list(columns)
    buf.write(",".join(names) + "\n")
    data = np.column_stack([np.asarray(columns[k], float) for k in names])
    # the rows as np.savetxt writes them, formatted in one operation (a third of its time)
    row = ",".join(["%.4f"] + ["%.2f"] * (len(names) - 1)) + "\n"
    buf.write((row * len(data)) % tuple(data.ravel().tolist()))
    return buf.getvalue()


_PHASE_NOTE = "phase columns are each phase's calculated Bragg intensity (without background)"


def write_fit_profile(result: Any, path: str | Path) -> Path:
    """The fitted profile of one whole-pattern fit (``QuantResult``) as CSV (see :func:`profile_text`)."""
    cols = {
        "two_theta": result.x,
        "observed": result.y,
        "calculated": result.ycalc,
        "background": result.background,
        **result.phase_curves,
    }
    path = Path(path)
    atomic_write_text(path, profile_text(cols, f"{Path(result.file).name}: fitted profile; {_PHASE_NOTE}"))
    return path


def write_profiles(run: Any, out: Path, profiles: dict[str, dict[str, Any]]) -> list[Path]:
    """``profiles/<file>.csv`` per XRD scan: 2θ, observed, calculated, background, each phase."""
    folder = out / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    used: set[str] = set()
    for s in documents(run.systems):
        for f in s["files"]:
            prof = profiles.get(f["file"])
            if prof is None:
                continue
            name = slug(Path(f["file"]).stem)
            while name in used:
                name += "_"
            used.add(name)
            cols = {k: prof[k] for k in ("two_theta", "observed", "calculated", "background")}
            cols.update(prof["phases"])
            where = f"{s['system']}, {f['temperature_C']:g} °C"
            head = f"{Path(f['file']).name}: fitted profile ({where}); {_PHASE_NOTE}"
            path = folder / f"{name}.csv"
            atomic_write_text(path, profile_text(cols, head))
            written.append(path)
    return written


# ------------------------------------------------------------------------------------ Markdown
def _fmt_t(t: float | None, system: dict[str, Any] | None) -> str:
    return "?" if t is None else temperature_label(t, system, unit=False)


def fmt_onset(o: list | None, system: dict[str, Any] | None = None) -> str:
    """``700→800 °C`` for an onset interval, ``–`` for none; ``RT`` where ``system`` labels it so."""
    if not o:
        return "–"
    return f"{_fmt_t(o[0], system)}→{_fmt_t(o[1], system)} °C"


def phase_name(p: dict[str, Any]) -> str:
    """A phase's id, with the twins the scans could not tell from it."""
    alt = p.get("alternatives") or []
    return p["id"] + (f" (or: {', '.join(alt)})" if alt else "")


def evidence_rows(s: dict[str, Any], library=None) -> list[dict[str, str]]:
    """The reflections and bands behind each non-host phase's first detection (conventional hkl)."""
    from .hkl import conventional_hkl, format_hkl

    rows = []
    for p in s["phases"]:
        if p["role"] == "host":
            continue
        ev = p.get("evidence") or {}
        refl = library.reflections(p["id"]) if library is not None and p["id"] in library else None
        x = ev.get("xrd")
        if x and x.get("reflections"):
            parts = []
            for r in x["reflections"]:
                if p["role"] == "unidentified":
                    # no calculated pattern to take a share of: its peaks' d and significance
                    parts.append(f"{r['two_theta']:.2f}° ({r['d']:.3f} Å, {r['sigma']:.0f}σ)")
                    continue
                hkls = [
                    format_hkl(conventional_hkl(h, refl.space_group, refl.cell) if refl else h)
                    for h in r.get("hkl") or []
                ]
                parts.append(
                    f"{'/'.join(dict.fromkeys(hkls))} {r['two_theta']:.2f}° "
                    f"({100 * r['share']:.0f} %, {r['sigma']:.0f}σ)"
                )
            rows.append(
                {"phase": p["id"], "technique": "XRD", "at": x["label"], "evidence": "; ".join(parts)}
            )
        r = ev.get("raman")
        if r and r.get("bands"):
            bands = "; ".join(
                f"{b['position_cm1']:.0f} cm⁻¹ ({100 * b['area_share']:.0f} %)" for b in r["bands"]
            )
            sig = r.get("significance")
            if sig is not None:
                bands += f"; fit significance {sig:.0f}"
            rows.append({"phase": p["id"], "technique": "Raman", "at": r["label"], "evidence": bands})
    return rows


def _share(v: float) -> str:
    """A share of the diffracted intensity in %: ``<0.1 %`` rather than a "0.0 %" that reads as none."""
    return f"{100 * v:.1f} %" if v >= 0.0005 else "<0.1 %"


def unidentified_lines(s: dict[str, Any]) -> list[str]:
    """Markdown lines listing a system's unidentified phases (persistent unexplained peaks)."""
    unk = [p for p in s["phases"] if p["role"] == "unidentified"]
    if not unk:
        return []
    lines = [
        "",
        "## Unidentified phases",
        "",
        "Peaks no phase of the library explains, persisting from one temperature to the next: a phase "
        "the library lacks. 2θ (Kα1), d, largest share of the diffracted intensity, significance.",
        "",
    ]
    for p in unk:
        peaks = "; ".join(
            f"{k['two_theta']:.2f}° ({k['d']:.3f} Å, {_share(k['share'])}, {k['sigma']:.0f}σ)"
            for k in p.get("peaks") or []
        )
        lines.append(f"- **{p['id']}** (onset {fmt_onset(p['onset']['combined'], s)}): {peaks}")
    return lines


#: What a residual peak at a modelled reflection means (Markdown and HTML reports say it once).
MISFIT_NOTE = (
    "Residual peaks beside a modelled reflection at least as high, persisting from one temperature "
    "to the next (or seen at the last): the misfit of that reflection (its intensity, position or "
    "shape), or a phase beneath it; not counted as unidentified phases. Reflection, residual peak "
    "2θ (Kα1) and its offset from the reflection, largest significance, temperatures."
)


def misfit_text(m: dict[str, Any], library=None) -> str:
    """One residual peak at a modelled reflection: ``corundum (1 0 4): 34.94° (−0.21°, 13σ) at 400``.

    With the library, the reflection is named by the conventional member of its family, as in the
    evidence table (the fit's own list may hold (1 0 −2) for corundum's (0 1 2)).
    """
    from .hkl import conventional_hkl, format_hkl

    labels = m.get("labels") or [str(t) for t in m["temperatures_C"]]
    # "to", not a dash: below 0 °C a dash reads as a minus (-266.372–-116.25)
    at = labels[0] if len(labels) == 1 else f"{labels[0]} to {labels[-1]}"
    offset = f"{m['offset']:+.2f}".replace("-", "−")
    try:
        hkl = [int(v) for v in str(m["hkl"]).split()]
        refl = library.reflections(m["phase"]) if library is not None and m["phase"] in library else None
        name = format_hkl(conventional_hkl(hkl, refl.space_group, refl.cell) if refl else hkl)
    except ValueError:  # not three or four integers: as the fit named it
        name = f"({m['hkl']})"
    return f"{m['phase']} {name}: {m['two_theta']:.2f}° ({offset}°, {m['sigma']:.0f}σ) at {at}"


def misfit_lines(s: dict[str, Any], library=None) -> list[str]:
    """Markdown lines listing a system's persistent residual peaks at modelled reflections."""
    mis = s.get("misfit_peaks") or []
    if not mis:
        return []
    lines = ["", "## Misfit of modelled reflections", "", MISFIT_NOTE, ""]
    return lines + [f"- {misfit_text(m, library)}" for m in mis]


def fit_quality_lines(s: dict[str, Any]) -> list[str]:
    """Markdown table of a system's per-scan fit quality (Rwp, Rexp, GoF, flag)."""
    rows = s.get("fit_quality") or []
    if not rows:
        return []

    def pct(v):
        return "–" if v is None else f"{100 * v:.2f} %"

    lines = ["", "## Fit quality", "", "| T | file | Rwp | Rexp | GoF | flag |", "|---|---|---|---|---|---|"]
    for q in rows:
        gof = "–" if q["gof"] is None else f"{q['gof']:.2f}"
        flag = q["flag"] + (f": {q['message']}" if q.get("message") else "")
        lines.append(
            f"| {q['label']} | {Path(q['file']).name} | {pct(q['rwp'])} | {pct(q['rexp'])} | {gof} | {flag} |"
        )
    return lines


def wt_cell(v: dict[str, Any]) -> str:
    """``1.23 ± 0.05`` detected, ``<0.30`` not detected, ``–`` not measured.

    Replicate pellets: the mean ± its uncertainty, then the individual values
    (``1.30 ± 0.10 (n = 2: 1.23, <0.30)``).
    """
    if v["detected_xrd"] and v["wt_percent"] is None:
        return "present"  # an unidentified phase: seen, not quantified
    if v["detected_xrd"] and v.get("reliable") is False:
        # no "± esd" from a fit that leaves peaks unexplained (quantify/residual.py)
        text = f"~{v['wt_percent']:.1f} (poor fit)"
    elif v["detected_xrd"]:
        text = f"{v['wt_percent']:.2f} ± {v['esd']:.2f}"
    elif v["lod_wt_percent"] is not None:
        text = f"<{v['lod_wt_percent']:.2f}"
    else:
        return "–"
    reps = v.get("replicates_xrd") or []
    if len(reps) > 1:
        each = [
            f"{r['wt_percent']:.2f}"
            if r.get("detected") and r.get("wt_percent") is not None
            else (f"<{r['lod_wt_percent']:.2f}" if r.get("lod_wt_percent") is not None else "–")
            for r in reps
        ]
        text += f" (n = {len(reps)}: {', '.join(each)})"
    return text


FIGURE_TITLES = (
    ("waterfall", "XRD series"),
    ("wt", "Weight fraction against temperature"),
    ("lattice", "Lattice parameters against temperature"),
    ("raman", "Raman series"),
)


def write_markdown(
    s: dict[str, Any], figs: dict[str, Path], run: Any, library=None, grid_note: str = ""
) -> str:
    """The Markdown report of one series."""
    labels = s["labels"]
    lines = [f"# {s['system']}", "", f"Temperatures: {', '.join(labels)} (°C unless RT).", ""]
    lines += [
        "## Phases and onsets",
        "",
        "| phase | formula | role | onset XRD | onset Raman | onset combined | onset rests on "
        "| vanishes at |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in s["phases"]:
        o = p["onset"]
        role = p["role"] + (
            " (present from the start)" if p["present_from_start"] and p["role"] != "host" else ""
        )
        raman = fmt_onset(o["raman"], s) if p["raman_testable"] else "not testable"
        van = "–" if p["vanishes_at"] is None else f"{p['vanishes_at']:g} °C"
        lines.append(
            f"| {phase_name(p)} | {p['formula']} | {role} | {fmt_onset(o['xrd'], s)} | {raman} | "
            f"{fmt_onset(o['combined'], s)} | {p.get('onset_basis') or '–'} | {van} |"
        )
    if any(p.get("alternatives") for p in s["phases"]):
        lines += [
            "",
            "'(or: …)' names isostructural phases the scans cannot tell from the one named (the LaMO3 "
            "perovskites, the rock salts, LLZO/LLZTO): the phase is one of them, its metal undetermined.",
        ]
    lines += unidentified_lines(s)
    lines += misfit_lines(s, library)
    lines += fit_quality_lines(s)
    ev = evidence_rows(s, library)
    if ev:
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
            *[f"| {r['phase']} | {r['technique']} | {r['at']} | {r['evidence']} |" for r in ev],
        ]
    lines += [
        "",
        "## Weight fractions (wt % of the crystalline part, ± esd; '<x' = not detected, below x)",
        "",
    ]
    lines.append("| phase | " + " | ".join(labels) + " |")
    lines.append("|---|" + "---|" * len(labels))
    for p in s["phases"]:
        lines.append(
            f"| {p['id']} | " + " | ".join(wt_cell(p["wt_percent_by_T"][lab]) for lab in labels) + " |"
        )
    lines += ["", grid_note, ""]
    for key, title in FIGURE_TITLES:
        if key in figs:
            lines += [f"## {title}", "", f"![{title}]({figs[key].name})", ""]
    probs = [p for p in run.problems if any(f["file"] == p["file"] for f in s["files"])]
    if probs:
        lines += ["## Problems", ""] + [f"- {p['error']}" for p in probs] + [""]
    return "\n".join(lines)


def terminal_summary(run: Any) -> str:
    """A compact table per system for the terminal (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=120, file=io.StringIO())
    for s in documents(run.systems):
        t = Table(title=s["system"], show_lines=False)
        for col in ("phase", "role", "onset XRD", "onset Raman", "combined", "basis", "vanishes", "max wt %"):
            t.add_column(col)
        for p in s["phases"]:
            wts = [
                v["wt_percent"]
                for v in p["wt_percent_by_T"].values()
                if v["detected_xrd"] and v["wt_percent"] is not None
            ]
            t.add_row(
                phase_name(p),
                p["role"],
                fmt_onset(p["onset"]["xrd"], s),
                fmt_onset(p["onset"]["raman"], s) if p["raman_testable"] else "n/t",
                fmt_onset(p["onset"]["combined"], s),
                p.get("onset_basis") or "–",
                "–" if p["vanishes_at"] is None else f"{p['vanishes_at']:g}",
                f"{max(wts):.2f}" if wts else "–",
            )
        console.print(t)
        # fit quality per scan: Rwp/GoF of every refit, and what a poor fit leaves unexplained
        fq = s.get("fit_quality") or []
        if fq:
            worst = max(fq, key=lambda q: q["gof"] or 0.0)
            console.print(
                f"fit quality: {len(fq)} XRD refits, Rwp {_range([q['rwp'] for q in fq], 100)} %, "
                f"GoF {_range([q['gof'] for q in fq])} (worst at {worst['label']})"
            )
        for q in fq:
            if q["flag"] != "ok":
                console.print(f"  {q['label']}: {q['flag']}: {q['message']}", soft_wrap=True)
        for p in s["phases"]:
            if p["role"] == "unidentified":
                peaks = ", ".join(f"{k['two_theta']:.2f}°" for k in p.get("peaks") or [])
                console.print(f"  {p['id']}: unexplained peaks at {peaks}", soft_wrap=True)
        mis = s.get("misfit_peaks") or []
        if mis:
            # said apart from the unidentified phases: these peaks sit at reflections the model has
            by_phase: dict[str, int] = {}
            for m in mis:
                by_phase[m["phase"]] = by_phase.get(m["phase"], 0) + 1
            which = ", ".join(f"{n} at {pid}" for pid, n in by_phase.items())
            console.print(
                f"  misfit of modelled reflections (not unidentified): {len(mis)} residual peak(s), {which}",
                soft_wrap=True,
            )
    return console.export_text()


def _range(values, scale: float = 1.0) -> str:
    """``lo–hi`` of the finite values (scaled), ``–`` without any."""
    v = [scale * float(x) for x in values if x is not None and math.isfinite(float(x))]
    return f"{min(v):.2f}–{max(v):.2f}" if v else "–"
