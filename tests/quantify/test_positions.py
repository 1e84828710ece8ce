"""Free atomic coordinates (issue 13): symmetry-allowed shifts, their |F|², and when the fit refines them."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.library.reflections import compute_reflections, positional_f2
from phasetrace.quantify import QuantConfig
from phasetrace.quantify.fit import (
    POSITIONS_MIN_WT,
    fit_pattern,
    refine_sample_terms,
    weight_percent,
)
from phasetrace.quantify.model import PhaseModel, phase_pattern
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

LAMS, WTS = (CU_KALPHA.kalpha1, CU_KALPHA.kalpha2), (1.0, CU_KALPHA.ratio)
PROFILE = {"u": 0.003, "v": -0.001, "w": 0.002, "size_x": 0.03, "strain_y": 0.01, "eta": 0.5}
#: Corundum's O x and Al z as the library's CIF gives them (Lewis et al. 1982) and the displaced ones
#: the simulated scans are made with: 0.004 × 4.76 Å = 0.019 Å and 0.002 × 12.99 Å = 0.026 Å.
O_X, AL_Z = "0.30624", "0.35216"
O_X_SHIFT, AL_Z_SHIFT = 0.004, -0.002


def _cif(library, pid: str) -> str:
    (phase,) = [p for p in library.phases if p.id == pid]
    return phase.cif_bytes.decode()


def _displaced_corundum(library):
    lines = _cif(library, "Al2O3").splitlines()
    for n, line in enumerate(lines):  # the atom-site rows only (the header quotes the values too)
        if line.startswith("O1 ") and O_X in line:
            lines[n] = line.replace(O_X, f"{float(O_X) + O_X_SHIFT:.5f}")
        elif line.startswith("Al1 ") and AL_Z in line:
            lines[n] = line.replace(AL_Z, f"{float(AL_Z) + AL_Z_SHIFT:.5f}")
    text = "\n".join(lines)
    assert f"{float(O_X) + O_X_SHIFT:.5f}" in text and f"{float(AL_Z) + AL_Z_SHIFT:.5f}" in text
    return compute_reflections(text, wavelength=LAMS[0], d_min=0.8, name="Al2O3 displaced")


def _scan(parts, *, seed=0):
    """``parts`` = {pid: (reflection list, wt %)}: a Poisson scan 10-120° 2θ (scale factor wt/ZMV)."""
    xs = np.arange(10.0, 120.0 + 0.01, 0.02)
    y = np.full(xs.size, 150.0)
    for pid, (refl, wt) in parts.items():
        scale = wt / refl.zmv
        m = PhaseModel.build(pid, refl, (xs[0], xs[-1]), LAMS)
        y += scale * phase_pattern(
            xs, m, wavelengths=LAMS, weights=WTS, zero=0.0, displacement=0.0, radius_mm=240.0, **PROFILE
        )
    y = np.random.default_rng(seed).poisson(y).astype(float)
    return Scan(x=xs, y=y, kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="synthetic"))


def _fit(library, scan, pids, **cfg):
    from phasetrace.quantify.phase_models import phase_models

    config = QuantConfig(texture=None, texture_search=False, **cfg)
    models, strains, textured = phase_models(scan, library, pids, config)
    state = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    return refine_sample_terms(scan, state, config, strains, textured)


def test_free_coordinates_follow_the_site_symmetry(library):
    """Corundum: Al z and O x; a polar axis (LiNbO3, R3c) holds the heaviest atom's z; Li is held."""
    al2o3 = library.reflections("Al2O3", d_min=0.8)
    assert al2o3.positions["names"] == ("Al1_z", "O1_x")
    assert al2o3.positions["values"] == pytest.approx([0.35216, 0.30624])
    names = library.reflections("LiNbO3", d_min=0.8).positions["names"]
    assert "Nb1_z" not in names and not any(n.startswith("Li") for n in names)
    assert {"O1_x", "O1_y", "O1_z"} <= set(names)
    assert library.reflections("MgO", d_min=0.8).positions is None  # rock salt: no free coordinate


def test_positional_f2_and_its_derivatives(library):
    """At zero shift the list's own |F|²; analytic derivatives equal central differences; and the
    recomputed |F|² of a shifted structure equal those of a CIF written with the shifted coordinates."""
    refl = library.reflections("Al2O3", d_min=0.8)
    rows = np.arange(refl.d.size)
    f2, df2 = positional_f2(refl, rows, np.zeros(2))
    assert np.allclose(f2, refl.f2, rtol=1e-10)
    for j in range(2):
        e = np.zeros(2)
        e[j] = 1e-6
        num = (positional_f2(refl, rows, e)[0] - positional_f2(refl, rows, -e)[0]) / 2e-6
        assert np.allclose(num, df2[:, j], rtol=1e-5, atol=1e-6 * np.abs(df2[:, j]).max())
    moved = _displaced_corundum(library)
    shifted, _ = positional_f2(refl, rows, np.array([AL_Z_SHIFT, O_X_SHIFT]))
    by_hkl = {tuple(h): f for h, f in zip(moved.hkl.tolist(), moved.f2, strict=True)}
    mine = {tuple(h): f for h, f in zip(refl.hkl.tolist(), shifted, strict=True)}
    common = [k for k in mine if k in by_hkl]
    assert len(common) > 40
    assert np.allclose([mine[k] for k in common], [by_hkl[k] for k in common], rtol=1e-8)


def test_displaced_coordinates_are_recovered_with_the_fraction(library):
    """A scan of corundum with O x +0.004 and Al z −0.002 beside MgO (60 : 40 wt %), fitted with the
    CIF's structure: the second stage finds both shifts within three esds (O x 0.0043 ± 0.0005, Al z
    −0.00193 ± 0.0001), χ² falls by 4 %, and the weight fractions stay within 0.4 wt % (about 1.5 esd
    of a scale factor here; held coordinates, the fractions are as close: a shift of this size moves
    intensity between corundum's own reflections, hardly its total)."""
    moved = _displaced_corundum(library)
    mgo = library.reflections("MgO", d_min=0.8)
    parts = {"Al2O3": (moved, 60.0), "MgO": (mgo, 40.0)}
    scan = _scan(parts)
    state = _fit(library, scan, ["Al2O3", "MgO"])
    p = state.per_phase[0]
    sig = state.nonlinear_sigma
    for key, true in (("xyz_Al1_z", AL_Z_SHIFT), ("xyz_O1_x", O_X_SHIFT)):
        assert 0 < sig[f"Al2O3:{key}"] < 0.25 * abs(true)
        assert abs(p[key] - true) < 3.0 * sig[f"Al2O3:{key}"], (key, p[key], sig[f"Al2O3:{key}"])
    wt = weight_percent(state)
    assert np.abs(wt - [60.0, 40.0]).max() < 0.4, wt
    held = _fit(library, scan, ["Al2O3", "MgO"], refine_positions=False)
    assert not any("xyz_" in n for n in held.names)
    assert state.chi2 < 0.97 * held.chi2, (state.chi2, held.chi2)


def test_right_coordinates_are_not_refined(library):
    """The same mixture made with the CIF's own coordinates: the χ² test (POSITIONS_MIN_GAIN) finds
    nothing to gain, and "auto" keeps them; True refines them and finds shifts within three esds of 0."""
    from phasetrace.quantify.fit import POSITIONS_MIN_GAIN, positions_gain
    from phasetrace.quantify.phase_models import phase_models

    parts = {
        "Al2O3": (library.reflections("Al2O3", d_min=0.8), 60.0),
        "MgO": (library.reflections("MgO", d_min=0.8), 40.0),
    }
    scan = _scan(parts)
    config = QuantConfig(texture=None, texture_search=False)
    models, strains, textured = phase_models(scan, library, ["Al2O3", "MgO"], config)
    first = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    assert positions_gain(scan, first, config, 0, [True, True]) < 0.1 * POSITIONS_MIN_GAIN
    auto = refine_sample_terms(scan, first, config, strains, textured)
    assert not any("xyz_" in n for n in auto.names)
    forced = _fit(library, scan, ["Al2O3", "MgO"], refine_positions=True)
    for key in ("Al2O3:xyz_Al1_z", "Al2O3:xyz_O1_x"):
        k = forced.names.index(key)
        assert abs(forced.theta[k]) < 3.0 * forced.nonlinear_sigma[key]


def test_a_minor_phase_keeps_its_coordinates(library):
    """Corundum at 2 wt % (displaced as above) beside MgO keeps its coordinates even without the χ²
    test (``refine_positions=True``): the fraction rule alone holds them."""
    moved = _displaced_corundum(library)
    mgo = library.reflections("MgO", d_min=0.8)
    parts = {"Al2O3": (moved, 2.0), "MgO": (mgo, 98.0)}
    state = _fit(library, _scan(parts, seed=3), ["Al2O3", "MgO"], refine_positions=True)
    assert weight_percent(state)[0] < POSITIONS_MIN_WT
    assert not any(n.startswith("Al2O3:xyz_") for n in state.names)
    assert not any(k.startswith("xyz_") for k in state.per_phase[0])


def test_the_reflection_cache_keeps_the_free_coordinates(library, tmp_path):
    """A cached list (npz) gives the same |F|² for shifted coordinates as the computed one."""
    from phasetrace.library.reflections import ReflectionCache

    (phase,) = [p for p in library.phases if p.id == "Al2O3"]
    cache = ReflectionCache(tmp_path)
    fresh = cache.get("Al2O3", phase.cif_bytes, d_min=0.8)
    second = ReflectionCache(tmp_path)
    stored = second.get("Al2O3", phase.cif_bytes, d_min=0.8)
    assert cache.misses == 1 and second.hits == 1
    assert stored.positions["names"] == fresh.positions["names"]
    rows = np.arange(fresh.d.size)
    shift = np.array([AL_Z_SHIFT, O_X_SHIFT])
    assert np.allclose(
        positional_f2(stored, rows, shift)[0], positional_f2(fresh, rows, shift)[0], rtol=1e-12
    )
