"""An independent forward model: simulated mixtures the fit does not share any code or assumption with.

The validation set of ``benchmarks/validation.py`` is made by ``phasetrace.simulate``, which uses the
fit's own reflection lists and profile function. This module writes a second set with a simulator of
its own (it imports neither ``phasetrace.quantify`` nor ``phasetrace.library.reflections``, except for
the fit and the ``--factors`` diagnostic, :func:`compare_factors`):

* structures: the library's CIFs read with pymatgen, then changed as another source would have them:
  cell edges 0.5 % off (random sign per phase), every atom shifted by up to 0.004 in fractional
  coordinates; structure factors summed over all hkl in P1 (no symmetry merging), with f0, f′, f″
  from xraydb at the Kα1 energy and a per-phase displacement B drawn between 0.3 and 1.5 Å²;
* profile: a convolution, not a pseudo-Voigt: for every reflection a Voigt (Lorentzian Scherrer size,
  Gaussian instrument and strain) convolved with the receiving-slit box and a one-sided exponential
  axial-divergence tail that grows towards low angle, on a fine grid;
* Cu Kα1/Kα2 with their natural Lorentzian widths, monochromator polarisation (graphite, 26.6°);
* March–Dollase texture per hkl (each of the P1 reflections has its own angle to the axis);
* Brindley microabsorption for spherical particles of a stated size (closed-form chord average);
* an amorphous hump, a curved background, specimen displacement, Poisson counts.

The fit is told what a user would know: the phases and the particle sizes (for its own Brindley
correction). Everything is seeded; files go to a temporary folder and are never committed.

Run alone::

    .venv/bin/python benchmarks/independent.py        # fits the set and prints the errors
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: Mixtures: (phases with weighed wt %, particle size µm, March–Dollase (phase, axis, r) or None).
MIXTURES: list[tuple[dict[str, float], float, tuple[str, tuple[int, int, int], float] | None]] = [
    ({"LLZTO_cubic": 95.0, "La2Zr2O7": 3.0, "Li2CO3": 2.0}, 1.0, None),
    ({"LLZTO_cubic": 60.0, "LiCoO2": 37.0, "Co3O4": 3.0}, 1.0, ("LiCoO2", (0, 0, 1), 0.85)),
    ({"LLZO_cubic": 70.0, "La2Zr2O7": 25.0, "La2O3": 5.0}, 2.0, None),
    ({"NMC811": 55.0, "LLZTO_cubic": 40.0, "NiO": 5.0}, 1.0, ("NMC811", (0, 0, 1), 0.9)),
    ({"LiMn2O4": 50.0, "LLZTO_cubic": 46.0, "Li2MnO3": 4.0}, 1.0, None),
    ({"LLZTO_cubic": 80.0, "La2Zr2O7": 18.0, "MgO": 2.0}, 2.0, None),
    ({"LiCoO2": 50.0, "LLZTO_cubic": 45.0, "LaCoO3": 5.0}, 1.0, ("LiCoO2", (0, 0, 1), 0.9)),
    ({"LLZO_tetragonal": 90.0, "Li2CO3": 6.0, "La2Zr2O7": 4.0}, 1.0, None),
]

#: Scan: 10-100° 2θ in 0.01° steps (9,001 points), Cu Kα.
RANGE = (10.0, 100.0)
STEP = 0.01
#: Cu Kα1/Kα2 (Hölzer et al., Phys. Rev. A 56 (1997) 4554): wavelength Å, intensity, Lorentzian FWHM Å.
LINES = ((1.5405929, 1.0, 0.000437), (1.5444140, 0.5, 0.000577))
MONO_2THETA = 26.6
RADIUS_MM = 240.0
RECEIVING_SLIT_DEG = 0.04
#: Instrument Gaussian FWHM (degrees) at low angle and its tan θ growth.
GAUSS_W = 0.035
GAUSS_TAN = 0.03
#: Axial divergence tail length (degrees) at 2θ = 20°, scaling as 1/tan 2θ.
AXIAL_TAIL = 0.06
#: Fine grid step (degrees) of the profile convolution.
FINE = 0.002


def _structure(cif_path: Path, rng: np.random.Generator):
    """The CIF's structure with its cell 0.5 % off and every atom shifted a little."""
    import warnings

    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = CifParser(str(cif_path), occupancy_tolerance=1.0).parse_structures(primitive=False)[0]
    f = 1.0 + 0.005 * rng.choice([-1.0, 1.0])
    lat = Lattice.from_parameters(*(np.array(s.lattice.abc) * f), *s.lattice.angles)
    coords = s.frac_coords + rng.uniform(-0.004, 0.004, size=s.frac_coords.shape)
    return Structure(lat, [site.species for site in s], coords)


def _reflections(structure, b_iso: float, d_min: float, energy_ev: float):
    """Reflections in P1 (Friedel pairs kept): hkl, d and |F|² with anomalous dispersion and B."""
    import xraydb

    lat = structure.lattice
    rec = lat.reciprocal_lattice_crystallographic.matrix
    hmax = np.ceil(np.array(lat.abc) / d_min).astype(int)
    grids = np.meshgrid(*(np.arange(-m, m + 1) for m in hmax), indexing="ij")
    hkl = np.stack([g.ravel() for g in grids], axis=1)
    hkl = hkl[np.any(hkl != 0, axis=1)]
    q = hkl @ rec
    d = 1.0 / np.linalg.norm(q, axis=1)
    keep = d >= d_min
    hkl, d = hkl[keep], d[keep]
    s = 1.0 / (2.0 * d)
    f_total = np.zeros(hkl.shape[0], dtype=complex)
    for site in structure:
        for sp, occ in site.species.items():
            el = sp.symbol
            f = xraydb.f0(el, s) + xraydb.f1_chantler(el, energy_ev) + 1j * xraydb.f2_chantler(el, energy_ev)
            f_total += occ * f * np.exp(2j * np.pi * (hkl @ site.frac_coords))
    f2 = np.abs(f_total) ** 2 * np.exp(-2.0 * b_iso * s * s)
    return hkl, d, f2


def _march_dollase(hkl: np.ndarray, structure, axis: tuple[int, int, int], r: float) -> np.ndarray:
    rec = structure.lattice.reciprocal_lattice_crystallographic.matrix
    g = hkl @ rec
    a = np.asarray(axis, dtype=float) @ rec
    cos2 = (g @ a) ** 2 / (np.sum(g * g, axis=1) * (a @ a))
    return (r * r * cos2 + (1.0 - cos2) / r) ** -1.5


def _brindley(mu: np.ndarray, vol_frac: np.ndarray, size_um: float) -> np.ndarray:
    """Brindley τ for spheres of diameter D: mean of exp(−Δμ l) over the chord distribution (closed form)."""
    mu_bar = float(np.sum(mu * vol_frac))
    k = (mu - mu_bar) * size_um * 1e-4  # Δμ · D
    out = np.ones_like(k)
    nz = np.abs(k) > 1e-9
    kk = k[nz]
    # chords of a sphere of diameter D: p(l) = 2 l / D², 0 <= l <= D  ->  τ = 2 (1 − (1 + k) e^{−k}) / k²
    out[nz] = 2.0 * (1.0 - (1.0 + kk) * np.exp(-kk)) / (kk * kk)
    return out


def _profile_kernel(
    tt: float, size_nm: float, strain: float, lam: float, lam_fwhm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Peak profile around 0 on the fine grid (area 1): Voigt ⊗ slit box ⊗ axial-divergence tail."""
    from scipy.special import voigt_profile

    th = np.radians(tt / 2.0)
    lor = np.degrees(0.9 * lam / (size_nm * 10.0) / np.cos(th))  # Scherrer FWHM (deg)
    lor += np.degrees(2.0 * np.tan(th) * lam_fwhm / lam)  # emission-line width
    gau = np.hypot(GAUSS_W + GAUSS_TAN * np.tan(th), np.degrees(4.0 * strain * np.tan(th)))
    half = 30.0 * (lor + gau) + 0.5
    x = np.arange(-half, half + FINE / 2, FINE)
    prof = voigt_profile(x, gau / 2.3548, lor / 2.0)
    box = np.ones(max(1, int(round(RECEIVING_SLIT_DEG / FINE))))
    prof = np.convolve(prof, box / box.sum(), mode="same")
    tail = AXIAL_TAIL * np.tan(np.radians(20.0)) / abs(np.tan(np.radians(tt)))
    if tail > FINE:
        t = np.arange(0.0, 8.0 * tail, FINE)
        kern = np.exp(-t / tail)
        kern = np.r_[np.zeros(t.size - 1), kern][::-1] if tt < 90 else np.r_[np.zeros(t.size - 1), kern]
        prof = np.convolve(prof, kern / kern.sum(), mode="same")
    return x, prof / (prof.sum() * FINE)


def simulate(
    mixture: dict[str, float], size_um: float, texture, seed: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    """One scan of a mixture: (2θ, counts, truth)."""
    import xraydb

    from phasetrace.library.phases import PhaseLibrary

    lib = PhaseLibrary.default()
    rng = np.random.default_rng(seed)
    x = np.round(np.arange(RANGE[0], RANGE[1] + STEP / 2, STEP), 6)
    energy = 12398.419843320026 / LINES[0][0]
    k = np.cos(np.radians(MONO_2THETA)) ** 2
    d_min = LINES[1][0] / (2 * np.sin(np.radians(RANGE[1] + 2) / 2))
    phases = {}
    for pid in mixture:
        st = _structure(lib[pid].cif_path, rng)
        b = float(rng.uniform(0.3, 1.5))
        hkl, d, f2 = _reflections(st, b, d_min, energy)
        dens = st.density
        formula = st.composition.formula.replace(" ", "")
        mu = xraydb.material_mu(formula, energy, density=dens)  # 1/cm
        phases[pid] = {"structure": st, "hkl": hkl, "d": d, "f2": f2, "b": b, "rho": dens, "mu": mu}
    wt = np.array([mixture[p] for p in mixture]) / sum(mixture.values())
    vol = wt / np.array([phases[p]["rho"] for p in mixture])
    vol /= vol.sum()
    tau = _brindley(np.array([phases[p]["mu"] for p in mixture]), vol, size_um)
    pattern = np.zeros_like(x)
    disp_um = float(rng.uniform(-60, 60))
    for i, pid in enumerate(mixture):
        ph = phases[pid]
        st = ph["structure"]
        # intensity ∝ volume fraction × τ / V_cell² × Σ |F|² LP (per unit cell scattering)
        scale = vol[i] * tau[i] / st.lattice.volume**2
        inten = ph["f2"].copy()
        if texture and texture[0] == pid:
            inten *= _march_dollase(ph["hkl"], st, texture[1], texture[2])
        size_nm = float(rng.uniform(80, 300))
        strain = float(rng.uniform(0.0, 4e-4))
        for lam, rel, lam_fwhm in LINES:
            arg = lam / (2 * ph["d"])
            ok = arg < 1
            tt = 2 * np.degrees(np.arcsin(arg[ok]))
            sel = (tt > RANGE[0] - 1) & (tt < RANGE[1] + 1)
            tt, ii = tt[sel], inten[ok][sel]
            # merge reflections at the same angle (equivalent hkl): one profile each
            key = np.round(tt, 5)
            uniq, inv = np.unique(key, return_inverse=True)
            area = np.bincount(inv, weights=ii)
            th = np.radians(uniq / 2)
            lp = (1 + k * np.cos(2 * th) ** 2) / (np.sin(th) ** 2 * np.cos(th))
            area = area * lp * rel * scale
            centre = uniq - np.degrees(2 * disp_um * 1e-3 * np.cos(th) / RADIUS_MM)
            for c, a, t0 in zip(centre, area, uniq, strict=True):
                xf, prof = _profile_kernel(t0, size_nm, strain, lam, lam_fwhm)
                pattern += a * np.interp(x - c, xf, prof, left=0.0, right=0.0)
    pattern *= 2.0e4 / pattern.max()
    hump = (
        0.04 * np.trapezoid(pattern, x) * np.exp(-0.5 * ((x - 24.0) / 5.0) ** 2) / (5.0 * np.sqrt(2 * np.pi))
    )
    bg = 120.0 + 200.0 * np.exp(-(x - RANGE[0]) / 10.0) + 30.0 * (x - RANGE[0]) / (RANGE[1] - RANGE[0])
    y = rng.poisson(pattern + hump + bg).astype(float)
    truth = {
        "wt_percent": {p: 100.0 * w for p, w in zip(mixture, wt, strict=True)},
        "b_iso": {p: phases[p]["b"] for p in mixture},
        "particle_um": size_um,
        "texture": texture,
    }
    return x, y, truth


#: First line of every scan file: what the simulator used, stated as a user's data file would state it
#: (the loader reads both lines from it; a fit without Kα2 leaves every high-angle Kα2 peak unexplained).
HEADER = "# independent forward model (benchmarks/independent.py); Cu Ka1 1.5405929 Ka2 1.5444140"


def write_scan(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Write one simulated scan as a two-column text file with :data:`HEADER`."""
    path.write_text(HEADER + "\n" + "\n".join(f"{a:.3f} {b:.0f}" for a, b in zip(x, y, strict=True)) + "\n")
    return path


def run(out_dir: Path, seeds: int = 1) -> list[dict[str, Any]]:
    """Simulate every mixture into ``out_dir`` (.xy files), fit each with its phases; rows of errors."""
    from phasetrace.io import load
    from phasetrace.library.phases import PhaseLibrary
    from phasetrace.quantify import QuantConfig, quantify

    lib = PhaseLibrary.default()
    rows = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for n, (mix, size_um, tex) in enumerate(MIXTURES):
        for s in range(seeds):
            seed = 1300 + 17 * n + s
            x, y, truth = simulate(mix, size_um, tex, seed)
            path = write_scan(out_dir / f"independent-{n:02d}-{s}.xy", x, y)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scan = load(path, kind="xrd")
            config = QuantConfig(monochromator_2theta=MONO_2THETA, brindley_um=dict.fromkeys(mix, size_um))
            t0 = time.process_time()
            res = quantify(scan, list(mix), config, library=lib)
            cpu = time.process_time() - t0
            rows.append(
                {
                    "file": path.name,
                    "truth": truth["wt_percent"],
                    "found": {p: res[p].wt_percent for p in mix},
                    "b_true": truth["b_iso"],
                    "b_found": {p: getattr(res[p], "b_iso", None) for p in mix},
                    "gof": res.gof,
                    "flag": res.quality.flag if res.quality is not None else "ok",
                    "seconds": cpu,
                }
            )
    return rows


def errors(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float, int]]:
    """(mean, max, n) of |error| for phases ≤ 5 wt % (minor) and > 5 wt % (major)."""
    minor, major = [], []
    for r in rows:
        for p, w in r["truth"].items():
            e = abs(r["found"][p] - w)
            (minor if w <= 5.0 else major).append(e)
    out = {}
    for name, vals in (("minor", minor), ("major", major)):
        out[name] = (
            float(np.mean(vals)) if vals else float("nan"),
            float(np.max(vals)) if vals else float("nan"),
            len(vals),
        )
    return out


def compare_factors(pid: str) -> dict[str, float]:
    """Reflection intensity of this simulator against the fit's, factor by factor, for one library phase.

    A diagnostic (``--factors PHASE``), the one place here that imports the fit's code: the structure
    factors of the library structure (unperturbed) with f0, f′, f″ and no displacement on both sides,
    summed over reflections of equal d, and the Lorentz–polarisation factor of both over 10–100°.

    Returns
    -------
    dict
        ``f2_max_rel_diff`` (largest |ratio − 1| of Σ m|F|² per d over the reflections stronger than
        10⁻³ of the strongest), ``n_d`` (their number), ``lp_ratio_min``/``lp_ratio_max`` (ours over
        this one: the constant 1/(1+K) when they agree).
    """
    import warnings
    from unittest import mock

    from pymatgen.io.cif import CifParser

    from phasetrace.library import reflections as fit_refl
    from phasetrace.library.crystallography import lorentz_polarisation
    from phasetrace.library.phases import PhaseLibrary

    p = PhaseLibrary.default()[pid]
    energy = 12398.419843320026 / LINES[0][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = CifParser(str(p.cif_path), occupancy_tolerance=1.0).parse_structures(primitive=False)[0]
    _, d, f2 = _reflections(structure, 0.0, 0.75, energy)
    # the fit's reflection list with every B set to 0, so that f0 + f′ + i f″ alone are compared
    with (
        mock.patch.object(fit_refl, "_b_factors_from_cif", lambda text: {}),
        mock.patch.object(fit_refl, "TYPICAL_B", {}),
        mock.patch.object(fit_refl, "TYPICAL_B_OTHER", 0.0),
    ):
        ours = fit_refl.compute_reflections(p.cif_path.read_text(), wavelength=LINES[0][0], d_min=0.75)
    theirs_d, inv = np.unique(np.round(d, 4), return_inverse=True)
    theirs = np.bincount(inv, weights=f2)
    ours_d, oinv = np.unique(np.round(ours.d, 4), return_inverse=True)
    mine = np.bincount(oinv, weights=ours.mf2)
    _, ia, io = np.intersect1d(theirs_d, ours_d, return_indices=True)
    strong = theirs[ia] > 1e-3 * theirs.max()
    tt = np.linspace(RANGE[0], RANGE[1], 91)
    th = np.radians(tt / 2.0)
    k = np.cos(np.radians(MONO_2THETA)) ** 2
    lp_ratio = lorentz_polarisation(tt, MONO_2THETA) / (
        (1 + k * np.cos(2 * th) ** 2) / (np.sin(th) ** 2 * np.cos(th))
    )
    return {
        "f2_max_rel_diff": float(np.max(np.abs(mine[io][strong] / theirs[ia][strong] - 1.0))),
        "n_d": int(strong.sum()),
        "lp_ratio_min": float(lp_ratio.min()),
        "lp_ratio_max": float(lp_ratio.max()),
    }


def main(argv: list[str] | None = None) -> int:
    """Simulate, fit and print the errors."""
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, help="write the scans here and keep them")
    ap.add_argument(
        "--factors", metavar="PHASE", nargs="+", help="compare |F|² and LP with the fit's, then stop"
    )
    args = ap.parse_args(argv)
    if args.factors:
        for pid in args.factors:
            c = compare_factors(pid)
            print(
                f"{pid}: Σm|F|² per d (f0 + f′ + i f″, B = 0) differs by at most {c['f2_max_rel_diff']:.1e} "
                f"over {c['n_d']} d values; LP ours/this {c['lp_ratio_min']:.6f}..{c['lp_ratio_max']:.6f}"
            )
        return 0
    with tempfile.TemporaryDirectory(prefix="phasetrace-independent-") as tmp:
        rows = run(args.keep or Path(tmp))
    for r in rows:
        errs = ", ".join(f"{p} {r['truth'][p]:.1f}→{r['found'][p]:.2f}" for p in r["truth"])
        print(f"{r['file']}: {errs}  GoF {r['gof']:.2f} ({r['flag']})  {r['seconds']:.2f} s")
    for k, (mean, mx, n) in errors(rows).items():
        print(f"{k}: mean |err| {mean:.2f}, max {mx:.2f} (n={n})")
    print(f"flagged poor: {sum(r['flag'] == 'poor' for r in rows)} of {len(rows)}")
    return 0


if __name__ == "__main__":
    if str(REPO / "src") not in sys.path:
        sys.path.insert(0, str(REPO / "src"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
