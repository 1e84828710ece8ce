"""Seeded random phase mixtures with known answers, shared by the matcher tests."""

from __future__ import annotations

import numpy as np

#: Secondary phases (and the crucible/contaminants) that react with each host system in the core paper.
SYSTEMS = {
    "LCO+LLZTO": (["LiCoO2", "LLZTO_cubic"], ["La2Zr2O7", "LaCoO3", "Co3O4", "Li2CO3", "MgO", "La2O3"]),
    "NMC811+LLZTO": (
        ["NMC811", "LLZTO_cubic"],
        ["La2Zr2O7", "La2Ni0.5Li0.5O4", "LaNiO3", "NiO", "Li2CO3", "MgO"],
    ),
    "NMC111+LLZTO": (["NMC111", "LLZTO_cubic"], ["La2Zr2O7", "Li2MnO3", "LaCoO3", "Li2CO3", "MgO"]),
    "LNMO+LLZTO": (
        ["LNMO_Fd3m", "LLZTO_cubic"],
        ["La2Zr2O7", "Li2MnO3", "NiO", "La2O3", "Li6Zr2O7", "LaMnO3_R3c"],
    ),
    "NMC532+LLZTO": (
        ["NMC532", "LLZTO_cubic"],
        ["La2Zr2O7", "La2Ni0.5Li0.5O4", "LaNiO3", "Li2MnO3", "Li2CO3"],
    ),
}


def random_mixture(library, seed: int):
    """A seeded 2–5 phase mixture of one system, with what the fitter does not model exactly.

    Poisson noise at 5e3–3e4 counts, Cu Kα1/Kα2, ±0.5 % lattice shifts per phase, ±100 µm specimen
    displacement, crystallite sizes 80–400 nm, March–Dollase texture of layered phases. Minor phases
    are 1–12 wt %.

    Returns
    -------
    system : str
    fractions : dict of str to float (wt %)
    scan : Scan
    """
    from phasetrace.simulate import simulate_xrd

    rng = np.random.default_rng(seed)
    system = list(SYSTEMS)[seed % len(SYSTEMS)]
    hosts, secondary = SYSTEMS[system]
    n = int(rng.integers(2, 6))
    n_hosts = 2 if n >= 3 else int(rng.integers(1, 3))
    chosen_hosts = list(rng.choice(hosts, n_hosts, replace=False))
    wt = {str(p): float(rng.uniform(1.0, 12.0)) for p in rng.choice(secondary, n - n_hosts, replace=False)}
    rest = 100.0 - sum(wt.values())
    if n_hosts == 2:
        f = rng.uniform(0.3, 0.7)
        wt[str(chosen_hosts[0])], wt[str(chosen_hosts[1])] = rest * f, rest * (1 - f)
    else:
        wt[str(chosen_hosts[0])] = rest
    scan = simulate_xrd(
        library,
        wt,
        seed=seed,
        lattice_scale={p: float(1 + rng.uniform(-0.005, 0.005)) for p in wt},
        displacement_um=float(rng.uniform(-100, 100)),
        texture={p: ((0, 0, 1), float(rng.uniform(0.7, 1.0))) for p in wt if p.startswith(("NMC", "LiCoO2"))},
        crystallite_size_nm=float(rng.uniform(80, 400)),
        max_counts=float(rng.uniform(5e3, 3e4)),
    )
    return system, wt, scan
