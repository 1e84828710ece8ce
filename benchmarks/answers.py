"""Every answer of the automatic selection on the benchmark scans, to show that a change moved no number.

A developer's regression check, meant for speed work whose claim is "same answers, less time": it
fits, exactly as ``phasetrace fit --system`` does, the XRD scans of the validation set (series and
random mixtures, ``benchmarks/validation.py``) and the honesty mixtures (``benchmarks/honesty.py``,
phases outside the library included), and the CPD-1 round-robin scans with their three known phases
and the round-robin instrument file when ``../shared/`` is there. It records per scan the flag, the
detected set and per phase wt %, esd, detection limit and whether it was detected, and prints a
comparison of two such records::

    .venv/bin/python benchmarks/answers.py before.json          # record (about 2 minutes)
    .venv/bin/python benchmarks/answers.py after.json --diff before.json

The comparison lists scans whose detected set or flag changed, the largest |Δ wt %| (with the esd
it is to be read against) and the largest relative change of a detection limit, and the process
time of the fits. Numbers are compared as stored (full precision).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _record(res) -> dict[str, Any]:
    if res is None:
        return {"failed": True}
    return {
        "flag": res.flag,
        "gof": float(res.gof),
        "detected": sorted(p.id for p in res.phases if p.detected),
        "phases": {
            p.id: {
                "wt": float(p.wt_percent),
                "esd": float(p.esd),
                "lod": float(p.lod_wt_percent),
                "detected": bool(p.detected),
            }
            for p in res.phases
        },
    }


def _fit(label: str, fn, out: dict[str, Any], log) -> float:
    t0 = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fn()
    except Exception as exc:  # noqa: BLE001 - a failing fit is an answer too
        log(f"{label}: {type(exc).__name__}: {exc}")
        res = None
    dt = time.process_time() - t0
    out[label] = _record(res)
    return dt


def record(log=print) -> dict[str, Any]:
    """Fit every benchmark scan and return ``{"scans": {label: record}, "seconds": process time}``."""
    from benchmarks import cpd, honesty, run, validation
    from phasetrace.io import load
    from phasetrace.library.phases import PhaseLibrary
    from phasetrace.quantify.candidates import quantify_scan
    from phasetrace.simulate import simulate_xrd

    lib = PhaseLibrary.default(include_user=False)
    scans: dict[str, Any] = {}
    seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        vset = validation.generate(Path(tmp) / "validation", lib=lib)
        jobs = [(f"series/{s['file']}", vset.series_dir / s["file"], s["system"])
                for s in run._xrd_scans(vset.series_truth)]
        jobs += [(f"mixtures/{m['file']}", vset.mixtures_dir / m["file"], m["system"]) for m in vset.mixtures]
        for label, path, system in jobs:
            seconds += _fit(label, partial(quantify_scan, load(path), system=system, library=lib), scans, log)
    lib_sim, outside = honesty.outside_library(lib)
    for mix in honesty.make_mixtures(lib, lib_sim, outside, 40):
        scan = simulate_xrd(lib_sim, mix["wt"], **mix["kw"], seed=mix["seed"], sample=f"mixture {mix['i']}")
        seconds += _fit(f"honesty/{mix['i']:02d}", partial(honesty.fit_like_cli, scan, lib, mix["system"]),
                        scans, log)
    if cpd.available():
        t0 = time.process_time()
        for row in cpd.run():
            scans[f"cpd/{row['sample']}"] = {
                "phases": {p: {"wt": float(v)} for p, v in row["found"].items()},
                "gof": float(row.get("gof", math.nan)),
            }
        seconds += time.process_time() - t0
    else:
        log(f"CPD round robin not found under {cpd.REAL_DATA}: not recorded")
    return {"scans": scans, "seconds": seconds}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Lines comparing two records (changed sets and flags, largest wt % and LoD changes)."""
    b, a = before["scans"], after["scans"]
    lines = []
    changed = []
    max_dwt, where_wt = 0.0, ""
    max_dlod, where_lod = 0.0, ""
    for label in sorted(set(b) | set(a)):
        rb, ra = b.get(label), a.get(label)
        if rb is None or ra is None:
            changed.append(f"{label}: only in {'after' if rb is None else 'before'}")
            continue
        if rb.get("detected") != ra.get("detected") or rb.get("flag") != ra.get("flag"):
            was, now = (f"{r.get('detected')} {r.get('flag')}" for r in (rb, ra))
            changed.append(f"{label}: {was} -> {now}")
        for pid in set(rb.get("phases", {})) & set(ra.get("phases", {})):
            pb, pa = rb["phases"][pid], ra["phases"][pid]
            d = abs(pa["wt"] - pb["wt"])
            if d > max_dwt:
                max_dwt = d
                esd = pb.get("esd")
                where_wt = f"{label} {pid} {pb['wt']:.4f} -> {pa['wt']:.4f}"
                where_wt += f" (esd {esd:.3f})" if esd else ""
            if pb.get("lod") and pa.get("lod") is not None and pb["lod"] > 0:
                r = abs(pa["lod"] / pb["lod"] - 1.0)
                if r > max_dlod:
                    max_dlod, where_lod = r, f"{label} {pid} {pb['lod']:.4f} -> {pa['lod']:.4f}"
    lines.append(f"scans: {len(b)} before, {len(a)} after; changed sets or flags: {len(changed)}")
    lines += [f"  {c}" for c in changed]
    lines.append(f"max |dwt|: {max_dwt:.4f} wt %" + (f"  ({where_wt})" if where_wt else ""))
    lines.append(f"max relative LoD change: {100 * max_dlod:.2f} %" + (f"  ({where_lod})" * bool(where_lod)))
    lines.append(f"fit process time: {before.get('seconds', 0):.1f} -> {after.get('seconds', 0):.1f} s")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Record (and compare); see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="JSON record to write (or to read, with --no-run)")
    ap.add_argument("--diff", type=Path, help="an earlier record to compare with")
    ap.add_argument("--no-run", action="store_true", help="compare OUT with --diff without fitting again")
    args = ap.parse_args(argv)
    if args.no_run:
        doc = json.loads(args.out.read_text(encoding="utf-8"))
    else:
        doc = record(log=lambda m: print(m, file=sys.stderr))
        tmp = args.out.with_name(args.out.name + ".part")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        tmp.replace(args.out)
        print(f"{len(doc['scans'])} scans recorded in {args.out} ({doc['seconds']:.1f} s of fits)")
    if args.diff:
        print("\n".join(diff(json.loads(args.diff.read_text(encoding="utf-8")), doc)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
