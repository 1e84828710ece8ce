"""Benchmark of the large-folder library index (issue 16): build time, selection time, ranking.

A folder of thousands of CIFs is generated from the bundled library by element
substitution (Co→Ni, La→Nd, Zr→Hf, ...) and cell scaling (±2 %, ±4 %); the index
of it is built cold with two worker processes, reopened warm, and asked for
candidates for XRD patterns simulated from members of the folder.

Run alone (a few minutes at 5,000 CIFs)::

    .venv/bin/python benchmarks/library_index.py --n 5000

``make bench`` runs it as one section (:func:`section_library_index`). The test
suite uses :func:`make_variant_folder` with fewer files.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Targets of issue 16 (2 cores): index build for 5,000 CIFs, and one candidate selection.
TARGET_BUILD_S = 120.0
TARGET_SELECT_S = 0.5
#: Files in the benchmark folder and worker processes for the build.
N_FILES = 5000
JOBS = 2
#: Members of the folder whose simulated scans are searched for.
N_PROBES = 12

#: Chemically sensible substitutions (same charge or similar size), as in the solid solutions and
#: analogues a COD or ICSD export holds.
SUBSTITUTES = {
    "Co": ("Ni", "Fe", "Mn", "Cr", "Ti", "V", "Cu", "Zn", "Mg", "Al", "Ga", "Sc", "Rh"),
    "Ni": ("Co", "Fe", "Mn", "Cu", "Mg", "Zn", "Cd", "Pd"),
    "Mn": ("Fe", "Cr", "Co", "V", "Ti", "Ru", "Re"),
    "La": ("Nd", "Pr", "Ce", "Sm", "Gd", "Y", "Eu", "Bi", "Sr", "Ca", "Ba"),
    "Zr": ("Hf", "Ti", "Sn", "Ce", "Pb", "Ge", "Mo"),
    "Ta": ("Nb", "Sb", "W", "Bi"),
    "Mg": ("Ca", "Sr", "Ba", "Zn", "Cd", "Fe", "Mn"),
    "Li": ("Na", "Ag", "Cu", "K"),
}
#: Cell scales: 2 % apart, wider than the ±1 % lattice strain the selection allows.
SCALES = (0.96, 0.98, 1.00, 1.02, 1.04)


def _value(text: str) -> float:
    """A CIF number without its standard uncertainty: '5.4113(2)' -> 5.4113."""
    return float(text.split("(")[0])


def _substitute(text: str, subs: dict[str, str], scale: float) -> str:
    """A CIF with elements replaced (atom sites, formula) and cell lengths scaled; comments dropped."""
    body = text[text.index("data_") :] if "data_" in text else text
    pat = re.compile(r"(?<![A-Za-z_])(" + "|".join(sorted(subs, key=len, reverse=True)) + r")(?![a-z])")
    out = []
    for line in body.splitlines():
        if line.lstrip().startswith("#"):
            continue
        low = line.strip().lower()
        if low.startswith(("_cell_length_a", "_cell_length_b", "_cell_length_c")):
            tag, val = line.split()[:2]
            line = f"{tag} {_value(val) * scale:.5f}"
        elif low.startswith("_cell_volume"):
            tag, val = line.split()[:2]
            line = f"{tag} {_value(val) * scale**3:.3f}"
        elif subs and not low.startswith(("_symmetry", "_space_group", "data_")):
            line = pat.sub(lambda m: subs[m.group(1)], line)
        out.append(line)
    return "\n".join(out) + "\n"


def variant_plan(library: Any, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct (parent phase, substitutions, scale) variants of the bundled phases, shuffled."""
    plans = []
    for p in library.phases:
        els = sorted(e for e in p.elements if e in SUBSTITUTES)
        options: list[dict[str, str]] = [{}]
        options += [{e: r} for e in els for r in SUBSTITUTES[e] if r not in p.elements]
        options += [
            {a: ra, b: rb}
            for i, a in enumerate(els)
            for b in els[i + 1 :]
            for ra in SUBSTITUTES[a]
            for rb in SUBSTITUTES[b]
            if ra != rb and ra not in p.elements and rb not in p.elements
        ]
        for subs in options:
            for scale in SCALES:
                plans.append({"parent": p.id, "subs": subs, "scale": scale})
    rng = random.Random(seed)
    rng.shuffle(plans)
    return plans[:n]


def make_variant_folder(folder: Path, n: int, *, seed: int = 0, library: Any = None) -> list[dict[str, Any]]:
    """Write ``n`` CIF variants of the bundled phases into ``folder``; returns what each file is."""
    from phasetrace.library.phases import PhaseLibrary

    lib = library or PhaseLibrary.default(include_user=False)
    texts = {p.id: p.cif_path.read_text(encoding="utf-8") for p in lib.phases}
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for plan in variant_plan(lib, n, seed):
        tag = "-".join(f"{a}2{b}" for a, b in sorted(plan["subs"].items()))
        name = f"{plan['parent']}{'_' + tag if tag else ''}_s{plan['scale']:.2f}.cif"
        (folder / name).write_text(_substitute(texts[plan["parent"]], plan["subs"], plan["scale"]))
        made.append({**plan, "name": name, "id": name[:-4]})
    return made


def probe(index: Any, folder: Path, member: dict[str, Any], *, seed: int = 0) -> tuple[int | None, float]:
    """Rank of a member among the index's candidates for a pattern simulated from it, and the selection time.

    The pattern (Cu Kα, 10–80°, counting noise) is simulated from the member's own CIF with the full
    reflection list; the sample's elements are the member's.
    """
    from phasetrace.library.index import ObservedPeaks
    from phasetrace.library.phases import PhaseLibrary
    from phasetrace.peaks import search_peaks
    from phasetrace.simulate import simulate_xrd

    lib = PhaseLibrary.default(extra=[folder / member["name"]], include_user=False)
    scan = simulate_xrd(lib, {member["id"]: 100.0}, seed=seed)
    prim = search_peaks(scan).peaks.primary()
    peaks = ObservedPeaks(prim.position, prim.height, scan.meta.radiation.kalpha1)
    elements = lib[member["id"]].elements
    t0 = time.perf_counter()
    cands = index.candidates(elements=elements, peaks=peaks, top=20)
    dt = time.perf_counter() - t0
    ids = [c.id for c in cands]
    return (ids.index(member["id"]) + 1 if member["id"] in ids else None), dt


def run(tmp: Path, n: int = N_FILES, jobs: int = JOBS, probes: int = N_PROBES) -> dict[str, Any]:
    """Generate the folder, build the index cold, reopen it warm, and probe members."""
    from phasetrace.library.index import LibraryIndex

    folder = tmp / "cif-folder"
    t0 = time.perf_counter()
    made = make_variant_folder(folder, n)
    gen_s = time.perf_counter() - t0
    cache = tmp / "index-cache"
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    idx = LibraryIndex.open(folder, cache_dir=cache, jobs=jobs)
    build_s = time.perf_counter() - t0
    build_cpu = _cpu_seconds() - cpu0
    t0 = time.perf_counter()
    idx = LibraryIndex.open(folder, cache_dir=cache, jobs=jobs)
    warm_s = time.perf_counter() - t0
    rng = random.Random(1)
    ranks, times = [], []
    for k, member in enumerate(rng.sample(made, probes)):
        rank, dt = probe(idx, folder, member, seed=k)
        ranks.append(rank)
        times.append(dt)
    return {
        "files": n,
        "generate_s": gen_s,
        "build_s": build_s,
        "build_cpu_s": build_cpu,
        "load": os.getloadavg()[0],
        "warm_open_s": warm_s,
        "select_s": statistics.median(times),
        "select_max_s": max(times),
        "errors": idx.stats["errors"],
        "first": sum(r == 1 for r in ranks),
        "top5": sum(r is not None and r <= 5 for r in ranks),
        "probes": probes,
    }


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the index's worker processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _verdict(value: float, target: float) -> str:
    return f"{'met' if value <= target else 'NOT met'} (<= {target:g} s, issue 16)"


def table_rows(res: dict[str, Any]) -> list[list[Any]]:
    """Rows (metric, value, n, target, note) for the benchmark report."""
    return [
        [
            f"library index: build, {res['files']} CIFs, {JOBS} processes",
            f"{res['build_s']:.1f} s",
            res["files"],
            _verdict(res["build_s"], TARGET_BUILD_S),
            f"{res['build_cpu_s']:.1f} CPU s in all processes (load average {res['load']:.1f} at the end); "
            f"{res['errors']} unreadable; folder generated in {res['generate_s']:.1f} s",
        ],
        ["library index: warm open (unchanged folder)", f"{res['warm_open_s']:.2f} s", res["files"], "", ""],
        [
            "library index: candidate selection (median)",
            f"{res['select_s'] * 1e3:.1f} ms",
            res["probes"],
            _verdict(res["select_s"], TARGET_SELECT_S),
            f"max {res['select_max_s'] * 1e3:.1f} ms",
        ],
        [
            "library index: simulated member ranked first",
            f"{res['first']}/{res['probes']}",
            res["probes"],
            "",
            f"in the top 5: {res['top5']}/{res['probes']}",
        ],
    ]


def section_library_index(b: Any) -> None:
    """Speed: library index of a large CIF folder (``make bench`` section)."""
    from benchmarks.run import md_table

    res = run(b.tmp / "library-index")
    b.section(
        "Speed: library index of a large CIF folder",
        md_table(["metric", "value", "n", "target", "note"], table_rows(res)),
    )


def main(argv: list[str] | None = None) -> int:
    """Run this benchmark alone and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=N_FILES, help="CIFs in the generated folder")
    ap.add_argument("--probes", type=int, default=N_PROBES, help="members searched for")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="phasetrace-index-") as tmp:
        res = run(Path(tmp), n=args.n, probes=args.probes)
    for row in table_rows(res):
        print(" | ".join(str(c) for c in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
