"""The benchmark's validation set: simulated scans with known answers, distinct from ``sample_data/``.

It is generated at benchmark time into a temporary folder (never committed) from
``benchmarks/validation_recipe.yaml`` with the same machinery as the sample data
(``sample_data/generate.py``): other systems (LLZO hosts, NMC622, LMO, ordered LNMO), other mass ratios,
temperatures, onsets, instrument settings, seeds and file formats. It has two parts:

* ``series/``: heating series with ``manifest.csv`` and ``truth.json`` (onsets, wt % per scan);
* ``mixtures/``: random two- to five-phase XRD mixtures for the candidate-ranking criterion, with
  ``mixtures.json`` (wt % and the system each mixture's candidates come from).

Run alone to look at the set::

    .venv/bin/python benchmarks/validation.py --out /tmp/validation
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from phasetrace.io import save
from phasetrace.library.materials import resolve_system
from phasetrace.library.phases import PhaseLibrary
from phasetrace.scan import Radiation
from phasetrace.simulate import Instrument, simulate_xrd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: The recipe of the validation set.
DEFAULT_RECIPE = HERE / "validation_recipe.yaml"
#: The sample-data generator, whose machinery the validation set shares.
GENERATOR = REPO / "sample_data" / "generate.py"
#: Library roles a random mixture's minor phases are drawn from (hosts are the system's own phases).
MINOR_ROLES = ("secondary", "contaminant", "crucible")


def load_generator() -> ModuleType:
    """Import ``sample_data/generate.py`` (a script beside the data, not a package module)."""
    spec = importlib.util.spec_from_file_location("phasetrace_sample_generate", GENERATOR)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@dataclass
class ValidationSet:
    """A generated validation set.

    Attributes
    ----------
    root : Path
        The folder it was written to.
    series_dir : Path
        Heating series: scans, ``manifest.csv``, ``truth.json``.
    series_truth : dict
        The parsed ``truth.json`` (same schema as ``sample_data/truth.json``).
    mixtures_dir : Path
        Random mixtures: scans and ``mixtures.json``.
    mixtures : list of dict
        One record per mixture: ``file``, ``system``, ``elements``, ``wt_percent``, ``significance``,
        ``seen``, ``settings``.
    """

    root: Path
    series_dir: Path
    series_truth: dict[str, Any]
    mixtures_dir: Path
    mixtures: list[dict[str, Any]]


def primary_hosts(system: str, lib: PhaseLibrary) -> list[str]:
    """The first library phase of each material in a system name (the phase the material is made of)."""
    spec = resolve_system(system, lib.materials)
    return [m.phases[0] for m in spec.materials if m.phases]


def mixture_candidates(system: str, lib: PhaseLibrary) -> list[str]:
    """Phases a mixture of ``system`` may contain besides its hosts: the library's choice for its elements."""
    spec = resolve_system(system, lib.materials)
    always = list(lib.materials.get("always_candidates") or [])
    hosts = set(primary_hosts(system, lib))
    chosen = lib.select(elements=spec.elements, roles=MINOR_ROLES, always=always)
    return [p.id for p in chosen if p.id not in hosts]


def random_mixtures(
    recipe: dict[str, Any], out_dir: Path, lib: PhaseLibrary, gen: ModuleType
) -> list[dict[str, Any]]:
    """Write the recipe's random mixtures into ``out_dir`` and return their truth records."""
    spec = recipe["random_mixtures"]
    x = recipe["xrd"]
    out_dir.mkdir(parents=True, exist_ok=True)
    inst = dict(x.get("instrument", {}))
    instrument = Instrument(radiation=Radiation.from_anode(x.get("radiation", "Cu")), **inst)
    lo_n, hi_n = (int(v) for v in spec["n_phases"])
    records = []
    for i in range(int(spec["count"])):
        system = spec["systems"][i % len(spec["systems"])]
        seed = gen.stable_seed(spec["seed"], "mixture", i)
        rng = np.random.default_rng(seed)
        hosts = primary_hosts(system, lib)
        pool = mixture_candidates(system, lib)
        n = int(rng.integers(lo_n, hi_n + 1))
        n_hosts = 1 if n == 2 else min(2, len(hosts))
        chosen_hosts = list(rng.choice(hosts, size=n_hosts, replace=False))
        minors = list(rng.choice(pool, size=min(n - n_hosts, len(pool)), replace=False))
        fr = {str(p): round(gen.draw(spec["minor_wt"], rng), 2) for p in minors}
        rest = 100.0 - sum(fr.values())
        if n_hosts == 2:
            first = min(gen.draw(spec["host_wt"], rng), rest - 1.0)
            fr = {str(chosen_hosts[0]): round(first, 2), str(chosen_hosts[1]): round(rest - first, 2), **fr}
        else:
            fr = {str(chosen_hosts[0]): round(rest, 2), **fr}
        jitter = float(spec["lattice_jitter"])
        kw = {
            "instrument": instrument,
            "two_theta_range": tuple(float(v) for v in x["two_theta_range"]),
            "step": float(x["step"]),
            "max_counts": round(gen.draw(x["max_counts"], rng)),
            "background": round(gen.draw(x["background"], rng), 1),
            "background_rise": round(gen.draw(x.get("background_rise", 1.0), rng), 3),
            "crystallite_size_nm": {p: round(gen.draw(spec["crystallite_nm"], rng), 1) for p in fr},
            "lattice_scale": {p: round(1.0 + float(rng.uniform(-jitter, jitter)), 5) for p in fr},
            "zero_shift": float(x.get("zero_shift", 0.0)),
            "displacement_um": round(gen.draw(spec["displacement_um"], rng), 1),
        }
        file = f"mixture_{i:02d}" + spec.get("xrd_format", ".xy")
        sp = gen.ScanPlan(system, 25.0, "RT", "xrd", file, seed, fr, kwargs=kw)
        z = gen.significance(lib, sp)
        scan = simulate_xrd(lib, fr, **kw, seed=seed, sample=f"mixture {i} ({system})")
        save(gen.strip_truth(scan), out_dir / file)
        settings = {k: v for k, v in kw.items() if k != "instrument"}
        settings["two_theta_range"] = list(kw["two_theta_range"])
        records.append(
            {
                "file": file,
                "system": system,
                "elements": sorted(resolve_system(system, lib.materials).elements),
                "candidates": sorted(set(pool) | set(hosts)),
                "wt_percent": fr,
                "significance": {k: round(v, 2) for k, v in z.items()},
                "seen": {k: v >= gen.Z_DETECT["xrd"] for k, v in z.items()},
                "seed": seed,
                "settings": settings,
            }
        )
    (out_dir / "mixtures.json").write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return records


def generate(
    out_dir: str | Path, *, recipe_path: str | Path = DEFAULT_RECIPE, lib: PhaseLibrary | None = None
) -> ValidationSet:
    """Generate the validation set into ``out_dir`` (deterministic: same recipe, same bytes).

    Parameters
    ----------
    out_dir : path
        Folder to write into; ``series/`` and ``mixtures/`` are created inside.
    recipe_path : path
        The validation recipe (default ``benchmarks/validation_recipe.yaml``).
    lib : PhaseLibrary, optional
        Default: the bundled library without user phases.

    Returns
    -------
    ValidationSet
    """
    gen = load_generator()
    lib = lib or PhaseLibrary.default(include_user=False)
    root = Path(out_dir)
    recipe = gen.load_recipe(recipe_path)
    built = gen.build(recipe, root / "series", lib=lib, recipe_name=Path(recipe_path).name)
    mixtures = random_mixtures(recipe, root / "mixtures", lib, gen) if "random_mixtures" in recipe else []
    return ValidationSet(root, root / "series", built.truth, root / "mixtures", mixtures)


def main(argv: list[str] | None = None) -> int:
    """Write the validation set to a folder and summarise it."""
    ap = argparse.ArgumentParser(description="Generate phasetrace's benchmark validation set.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE)
    args = ap.parse_args(argv)
    vs = generate(args.out, recipe_path=args.recipe)
    n_series = len(vs.series_truth["scans"])
    print(
        f"wrote {n_series} series scans of {len(vs.series_truth['systems'])} systems and "
        f"{len(vs.mixtures)} random mixtures to {vs.root}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
