"""A self-contained HTML report of a series run: one file, no server, no network.

Tables (onsets, evidence, weight fractions, fit quality) and an interactive plot per series of
every fitted XRD scan (observed, calculated, background, difference, tick rows, hkl; wheel zoom,
drag, hover values). The plotting code is ``assets/plot.js`` (written for this report, no library),
inlined with the data into the page: evenly spaced axes as first value and step, curves as 16-bit
codes of their square root (base64), about a third of float32 values (:func:`_curve`).
"""

from __future__ import annotations

import base64
import html
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from .._json import json_safe
from .style import documents, formula_html, phase_label

__all__ = ["render_html", "write_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;
padding:0 1.2em 3em;
color:#111;line-height:1.4}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1.02em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.86em}
th,td{border:1px solid #ddd;padding:.22em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.35em;vertical-align:-.05em}
.pattern canvas{width:100%;height:440px;display:block;border:1px solid #eee;cursor:crosshair}
.controls{display:flex;gap:1em;align-items:center;margin:.3em 0;font-size:.9em}
.readout{font-size:.82em;color:#333;min-height:1.3em;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:.85em}.flag{color:#a00}
nav a{margin-right:1em}figure{margin:.5em 0}figure img{max-width:100%}
"""


#: Levels of the square-root intensity code of a curve (unsigned 16-bit).
_LEVELS = 65535


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.asarray(a, dtype="<f4").tobytes()).decode("ascii")


def _axis(x: np.ndarray) -> dict[str, Any] | str:
    """An x axis: first value, step and length when the points are evenly spaced, else float32 values.

    A diffractometer scans in equal 2θ steps, so a thousand scans' axes need not fill the page; the
    page computes ``x0 + i * step`` (float32 values round the same positions no more finely).
    """
    x = np.asarray(x, float)
    n = len(x)
    if n >= 3 and np.all(np.isfinite(x)):
        step = (x[-1] - x[0]) / (n - 1)
        ideal = x[0] + step * np.arange(n)
        # evenly spaced within float32 resolution of the values (as exact as the f32 encoding)
        tol = 4 * np.finfo(np.float32).eps * max(abs(x[0]), abs(x[-1]))
        if step > 0 and np.max(np.abs(x - ideal)) <= tol:
            return {"x0": float(x[0]), "step": float(step), "n": n}
    return _b64(x)


def _curve(y: np.ndarray) -> dict[str, Any] | str:
    """A curve as 16-bit codes of the square root of its height above its minimum.

    The code's step in intensity at height h over the minimum is about 2·√(h·range)/65535: in
    counts, under 1 % of the counting noise √h of the data wherever h is above a few counts, and
    far below one pixel of the page's plots at any zoom. Curves that are not finite everywhere keep
    float32 values.
    """
    y = np.asarray(y, float)
    if len(y) == 0 or not np.all(np.isfinite(y)):
        return _b64(y)
    lo, hi = float(y.min()), float(y.max())
    span = hi - lo
    if span <= 0:
        q = np.zeros(len(y), "<u2")
    else:
        q = np.rint(np.sqrt(np.clip((y - lo) / span, 0.0, 1.0)) * _LEVELS).astype("<u2")
    return {"lo": lo, "span": span, "q": base64.b64encode(q.tobytes()).decode("ascii")}


def _e(v: Any) -> str:
    return html.escape(str(v))


def _table(head: list[str], rows: list[list[str]], *, raw: bool = False, num: set[int] | None = None) -> str:
    num = num or set()
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for r in rows:
        cells = "".join(
            f"<td{' class=num' if k in num else ''}>{c if raw else _e(c)}</td>" for k, c in enumerate(r)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _pattern_data(
    prof: dict[str, Any], title: str, colours, library, names: dict[str, str]
) -> dict[str, Any]:
    from .pattern import hkl_labels

    res = prof["result"]
    phases = {p["id"]: p for p in res.get("phases", []) if p.get("in_model", True)}
    detected = {k: v for k, v in phases.items() if v.get("detected")}
    ticks = {k: [float(t) for t in v] for k, v in prof["ticks"].items() if k in phases}
    hkl = []
    if library is not None and prof.get("wavelength"):
        curves = {k: v for k, v in prof["phases"].items() if k in detected}
        for r in hkl_labels(prof["two_theta"], curves, detected, library, prof["wavelength"], per_phase=12):
            hkl.append({"x": round(r["two_theta"], 4), "phase": r["phase"], "label": r["label"]})
    for pid in ticks:
        names.setdefault(pid, pid.replace("_", " "))
    return {
        "title": title,
        "x": _axis(prof["two_theta"]),
        "observed": _curve(prof["observed"]),
        "calculated": _curve(prof["calculated"]),
        "background": _curve(prof["background"]),
        "ticks": ticks,
        "hkl": hkl,
        "colours": {pid: colours[pid] for pid in ticks},
        "names": {pid: names[pid] for pid in ticks},
    }


def _raman_data(
    f: dict[str, Any], system: dict[str, Any], run: Any, colours, names: dict[str, str]
) -> dict[str, Any] | None:
    """A Raman spectrum of ``system``'s series, with the band positions of each phase its fit detected."""
    import warnings

    from ..io import load
    from .figures import spectra_by_file, temperature_label

    rec = next(
        (r for r in (getattr(run, "records", None) or {}).values() if r and r["file"] == f["file"]), None
    )
    spectrum = spectra_by_file([rec]).get(f["file"]) if rec else None
    if spectrum is None:  # a store of an older version: the file is read again
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scan = load(f["file"])
        except Exception:  # noqa: BLE001 - a spectrum that cannot be read again is left out of the page
            return None
        spectrum = (scan.x, scan.y)
    sx, sy = spectrum
    order = np.argsort(sx, kind="stable")
    ticks, labels = {}, []
    for p in ((rec or {}).get("result") or {}).get("phases", []):
        if p.get("detected") and p.get("bands"):
            ticks[p["id"]] = [float(b) for b in p["bands"]]
            names.setdefault(p["id"], p["id"])
            labels += [{"x": round(float(b), 1), "phase": p["id"], "label": f"{b:.0f}"} for b in p["bands"]]
    return {
        "title": f"{Path(f['file']).name} ({temperature_label(f['temperature_C'], system)})",
        "xlabel": "Raman shift (cm⁻¹)",
        "x": _axis(sx[order]),
        "observed": _curve(sy[order]),
        "ticks": ticks,
        "hkl": labels,
        "colours": {pid: colours[pid] for pid in ticks},
        "names": {pid: names[pid] for pid in ticks},
    }


def _img(path: Path) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f'<figure><img alt="{_e(path.stem)}" src="data:{mime};base64,{data}"></figure>'


def render_html(run: Any, *, profiles: dict[str, dict[str, Any]] | None = None, library=None) -> str:
    """The report page of a run, as one string (see :func:`write_html`)."""
    from ..series.analyse import GRID_NOTE
    from .figures import run_colours, temperature_label
    from .tables import MISFIT_NOTE, evidence_rows, fmt_onset, misfit_text, results_rows, wt_cell

    colours = run_colours(documents(run.systems))
    profiles = profiles or {}
    names: dict[str, str] = {}
    patterns: dict[str, Any] = {}

    def sw(pid: str) -> str:
        return f'<span class="swatch" style="background:{colours[pid]}"></span>{phase_label(pid, html=True)}'

    body = [
        f"<h1>phasetrace series report</h1><p class=note>{_e(GRID_NOTE)} Weight fractions are of the "
        "crystalline part of each sample.</p>"
    ]
    nav = ['<nav id="nav">', '<a href="#overview">overview</a>']
    c = run.counts
    over = [
        '<section class="section" id="overview"><h2>Overview</h2>',
        f"<p>{len(run.systems)} series; {c.get('done', 0)} task(s) run, {c.get('skipped', 0)} reused, "
        f"{c.get('errors', 0)} failed.</p>",
    ]
    rows = []
    for s in documents(run.systems):
        for p in s["phases"]:
            o = p["onset"]
            if o.get("combined") or p.get("vanishes_at") is not None:
                rows.append(
                    [
                        _e(s["system"]),
                        sw(p["id"]),
                        _e(fmt_onset(o.get("xrd"), s)),
                        _e(fmt_onset(o.get("raman"), s) if p["raman_testable"] else "not testable"),
                        _e(fmt_onset(o.get("combined"), s)),
                        _e("–" if p["vanishes_at"] is None else f"{p['vanishes_at']:g} °C"),
                    ]
                )
    over.append("<h3>Onsets and vanishing</h3>")
    over.append(
        _table(["series", "phase", "onset XRD", "onset Raman", "combined", "vanishes at"], rows, raw=True)
        if rows
        else "<p>No phase appears or vanishes.</p>"
    )
    onsets_svg = Path(run.out) / "onsets.svg"
    over.append(_img(onsets_svg))
    if run.problems:
        over.append(
            "<h3>Problems</h3><ul>" + "".join(f"<li>{_e(p['error'])}</li>" for p in run.problems) + "</ul>"
        )
    over.append("</section>")
    body += over
    fitq = {}
    for r in results_rows(run):
        if r["technique"] == "xrd":
            fitq[(r["system"], r["file"])] = r
    for si, s in enumerate(documents(run.systems)):
        sid = f"series-{si}"
        nav.append(f'<a href="#{sid}">{_e(s["system"])}</a>')
        sec = [f'<section class="section series" id="{sid}"><h2>{_e(s["system"])}</h2>']
        sec.append("<h3>Phases and onsets</h3>")
        prow = []
        for p in s["phases"]:
            o = p["onset"]
            prow.append(
                [
                    sw(p["id"])
                    + (_e(" (or: " + ", ".join(p["alternatives"]) + ")") if p.get("alternatives") else ""),
                    formula_html(p["formula"]),
                    _e(p["role"]),
                    _e(fmt_onset(o["xrd"], s)),
                    _e(fmt_onset(o["raman"], s) if p["raman_testable"] else "not testable"),
                    _e(fmt_onset(o["combined"], s)),
                    _e("–" if p["vanishes_at"] is None else f"{p['vanishes_at']:g} °C"),
                ]
            )
        sec.append(
            _table(
                ["phase", "formula", "role", "onset XRD", "onset Raman", "combined", "vanishes at"],
                prow,
                raw=True,
            )
        )
        mis = s.get("misfit_peaks") or []
        if mis:
            sec.append("<h3>Misfit of modelled reflections</h3>")
            sec.append(f"<p class=note>{_e(MISFIT_NOTE)}</p>")
            sec.append("<ul>" + "".join(f"<li>{_e(misfit_text(m, library))}</li>" for m in mis) + "</ul>")
        ev = evidence_rows(s, library)
        sec.append("<h3>Evidence of the first detection</h3>")
        sec.append(
            _table(
                ["phase", "technique", "at", "evidence"],
                [[sw(r["phase"]), _e(r["technique"]), _e(r["at"]), _e(r["evidence"])] for r in ev],
                raw=True,
            )
            if ev
            else "<p class=note>No secondary phase detected.</p>"
        )
        sec.append("<h3>Weight fractions (wt % ± esd; &lt;x: not detected, below x)</h3>")
        labels = s["labels"]
        sec.append(
            _table(
                ["phase", *labels],
                [
                    [sw(p["id"]), *(_e(wt_cell(p["wt_percent_by_T"][lab])) for lab in labels)]
                    for p in s["phases"]
                ],
                raw=True,
                num=set(range(1, len(labels) + 1)),
            )
        )
        wt_svg = Path(run.out) / f"wt_{_slug(s['system'])}.svg"
        sec.append(_img(wt_svg))
        # fit quality and the interactive patterns
        xrd = sorted((f for f in s["files"] if f["technique"] == "xrd"), key=lambda f: f["temperature_C"])
        qrows = []
        keys = []
        for f in xrd:
            name = Path(f["file"]).name
            q = fitq.get((s["system"], name), {})
            qrows.append(
                [
                    _e(temperature_label(f["temperature_C"], s)),
                    _e(name),
                    _e(_f(q.get("rwp"), 100, "%")),
                    _e(_f(q.get("rexp"), 100, "%")),
                    _e(_f(q.get("gof"))),
                    f"<span class={_flag_class(q.get('flags'))}>{_e(q.get('flags') or '')}</span>",
                ]
            )
            prof = profiles.get(f["file"])
            if prof is not None:
                key = f"{si}-{len(keys)}"
                patterns[key] = _pattern_data(
                    prof, f"{name} ({temperature_label(f['temperature_C'], s)})", colours, library, names
                )
                keys.append((key, temperature_label(f["temperature_C"], s)))
        rkeys = []
        for f in sorted(
            (f for f in s["files"] if f["technique"] == "raman"), key=lambda f: f["temperature_C"]
        ):
            spec = _raman_data(f, s, run, colours, names)
            if spec is not None:
                key = f"r{si}-{len(rkeys)}"
                patterns[key] = spec
                rkeys.append((key, temperature_label(f["temperature_C"], s)))
        sec.append("<h3>Fit quality</h3>")
        sec.append(_table(["T", "file", "Rwp", "Rexp", "GoF", "flags"], qrows, raw=True, num={2, 3, 4}))
        if keys:
            opts = "".join(f'<option value="{k}">{_e(lab)}</option>' for k, lab in keys)
            sec.append(
                f'<h3>Fitted patterns</h3><div class="pattern" id="pattern-{si}" data-key="{keys[0][0]}">'
                f'<div class="controls"><label>scan <select>{opts}</select></label>'
                '<label><input type="checkbox" class="sqrt"> √ intensity</label>'
                '<button class="reset" type="button">whole range</button>'
                '<strong class="scan-title"></strong></div>'
                '<canvas></canvas><div class="readout"></div></div>'
            )
        if rkeys:
            opts = "".join(f'<option value="{k}">{_e(lab)}</option>' for k, lab in rkeys)
            sec.append(
                f'<h3>Raman spectra and the fitted bands of the phases detected</h3><div class="pattern" '
                f'id="raman-{si}" data-key="{rkeys[0][0]}"><div class="controls"><label>scan <select>{opts}'
                '</select></label><button class="reset" type="button">whole range</button>'
                '<strong class="scan-title"></strong></div><canvas></canvas><div class="readout"></div></div>'
            )
        sec.append("</section>")
        body += sec
    nav.append("</nav>")
    for pid in names:
        names[pid] = phase_label(pid)  # plain text with subscript digits, for the canvas
    for p in patterns.values():
        p["names"] = {k: names[k] for k in p["names"]}
    js = files("phasetrace.report").joinpath("assets/plot.js").read_text(encoding="utf-8")
    data = json.dumps(json_safe({"patterns": patterns}), separators=(",", ":"), allow_nan=False)
    data = data.replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        "<title>phasetrace series report</title>"
        f"<style>{_CSS}</style></head><body>"
        + "".join(nav)
        + "".join(body)
        + f'<script type="application/json" id="pt-data">{data}</script>'
        + f"<script>{js}</script></body></html>"
    )


def _flag_class(flag: Any) -> str:
    return "note" if flag in ("", "ok", None) else "flag"


def _slug(name: str) -> str:
    from .tables import slug

    return slug(name)


def _f(v: Any, scale: float = 1.0, unit: str = "") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(f):
        return "–"
    return f"{f * scale:.2f}{(' ' + unit) if unit else ''}"


def write_html(
    run: Any, path: str | Path, *, profiles: dict[str, dict[str, Any]] | None = None, library=None
) -> Path:
    """Write the self-contained report page of a run (atomically); returns its path."""
    path = Path(path)
    atomic_write_text(path, render_html(run, profiles=profiles, library=library))
    return path
