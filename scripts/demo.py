"""`make demo`: run the furthest the pipeline gets end to end on real files and say where the output is.

Today that is loading: every measured XRD pattern, in situ series and Raman
spectrum under ../shared/data/real is read with its metadata, and the result
is written as text and JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from phasetrace._atomic import atomic_write_text
from phasetrace.errors import PhasetraceError
from phasetrace.io import load_all

FOLDERS = ("xrd/measured", "xrd/insitu", "xrd/formats", "raman/formats", "raman/calibration")


def main(argv: list[str] | None = None) -> int:
    """Load every real file and write the report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("out/demo"))
    ap.add_argument("--real", type=Path, default=Path("../shared/data/real"))
    args = ap.parse_args(argv)
    if not args.real.is_dir():
        print(f"demo: real data folder {args.real} not found; nothing to run on", file=sys.stderr)
        return 1
    files = [p for sub in FOLDERS for p in sorted((args.real / sub).rglob("*")) if p.is_file()]
    records, lines = [], []
    n_ok = n_scans = 0
    for f in files:
        rel = f.relative_to(args.real)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                scans = load_all(f)
            except PhasetraceError as exc:
                records.append({"file": str(rel), "ok": False, "error": str(exc)})
                lines.append(f"  --  {rel}: {str(exc).split(': ', 1)[-1]}")
                continue
        n_ok += 1
        n_scans += len(scans)
        s0 = scans[0]
        lo, hi = s0.x_range
        unit = "deg 2θ" if s0.kind == "xrd" else "cm-1"
        rad = s0.meta.radiation
        rad_txt = "" if rad is None else f", λ1 {rad.kalpha1:.5f} Å ({rad.source})"
        more = f" (+{len(scans) - 1} more scans)" if len(scans) > 1 else ""
        lines.append(
            f"  ok  {rel}: {s0.meta.format}, {s0.kind}, {len(s0)} pts, {lo:.2f}–{hi:.2f} {unit}"
            f"{rad_txt}{more}"
        )
        records.append(
            {
                "file": str(rel),
                "ok": True,
                "scans": [s.summary() for s in scans],
                "warnings": [str(w.message) for w in caught],
            }
        )
    summary = f"read {n_ok} of {len(files)} files ({n_scans} scans); the rest gave one-line errors"
    text = "phasetrace demo: loading every real file\n" + "\n".join(lines) + "\n" + summary + "\n"
    atomic_write_text(args.out / "load_report.txt", text)
    atomic_write_text(args.out / "load_report.json", json.dumps({"files": records}, indent=1, default=str))
    print(text)
    print(f"demo output: {args.out / 'load_report.txt'} and {args.out / 'load_report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
