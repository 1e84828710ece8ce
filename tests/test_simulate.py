"""Simulated patterns: the known answer must be in the pattern, by the Hill–Howard relation."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.library.crystallography import lorentz_polarisation
from phasetrace.library.phases import LibraryError
from phasetrace.scan import Radiation
from phasetrace.simulate import Instrument, SimulationError, simulate_raman, simulate_xrd

MONO = Instrument(radiation=Radiation(1.540598, None, 0.0, "Cu"))


def _area(scan, center, half=0.25):
    sel = (scan.x > center - half) & (scan.x < center + half)
    return np.trapezoid(scan.y[sel], scan.x[sel])


def _expected_area(library, pid, hkl, wt):
    refl = library.reflections(pid)
    i = next(k for k, h in enumerate(refl.hkl) if sorted(abs(int(v)) for v in h) == sorted(hkl))
    tt = 2 * np.degrees(np.arcsin(1.540598 / (2 * refl.d[i])))
    return wt / refl.zmv * refl.mf2[i] * lorentz_polarisation(np.array([tt]))[0], tt


def test_peak_areas_follow_weight_fraction_over_zmv(library):
    """NiO (220) vs La2Zr2O7 (222) in a 30/70 mixture: area ratio = ratio of W·m|F|²·LP / ZMV.

    (NiO (111) and (200) sit on weak pyrochlore reflections, so (220) is the clean one.)
    """
    scan = simulate_xrd(library, {"NiO": 30, "La2Zr2O7": 70}, instrument=MONO, noise=False, background=0.0,
                        two_theta_range=(25, 70), step=0.002)
    a_nio, tt_nio = _expected_area(library, "NiO", (0, 2, 2), 30)
    a_lzo, tt_lzo = _expected_area(library, "La2Zr2O7", (2, 2, 2), 70)
    measured = _area(scan, tt_nio, 0.3) / _area(scan, tt_lzo, 0.3)
    assert measured == pytest.approx(a_nio / a_lzo, rel=0.02)


def test_weight_fractions_are_normalised_and_recorded(library):
    scan = simulate_xrd(library, {"LLZTO_cubic": 3, "La2Zr2O7": 1}, seed=3)
    truth = scan.meta.extra["truth"]
    assert truth["wt_percent"] == pytest.approx({"LLZTO_cubic": 75.0, "La2Zr2O7": 25.0})
    assert scan.kind == "xrd" and scan.meta.radiation.is_doublet
    assert scan.x[0] == pytest.approx(10.0) and scan.x[-1] == pytest.approx(80.0)
    assert np.all(scan.y == np.round(scan.y))  # Poisson counts


def test_kalpha2_doublet_and_lattice_scale(library):
    scan = simulate_xrd(library, {"MgO": 1}, noise=False, background=0.0, two_theta_range=(40, 46), step=0.002,
                        lattice_scale={"MgO": 1.01})
    refl = library.reflections("MgO")
    d200 = refl.d[[k for k, h in enumerate(refl.hkl) if sorted(abs(int(v)) for v in h) == [0, 0, 2]][0]] * 1.01
    for lam, frac in ((1.540598, 1.0), (1.544426, 0.5)):
        tt = 2 * np.degrees(np.arcsin(lam / (2 * d200)))
        i = np.argmin(np.abs(scan.x - tt))
        assert scan.y[i] > 0.3 * frac * scan.y.max()
    # the Kα2 component is half the Kα1 one
    tt1 = 2 * np.degrees(np.arcsin(1.540598 / (2 * d200)))
    tt2 = 2 * np.degrees(np.arcsin(1.544426 / (2 * d200)))
    assert _area(scan, tt2, 0.04) / _area(scan, tt1, 0.04) == pytest.approx(0.5, rel=0.1)


def test_noise_is_seeded(library):
    a = simulate_xrd(library, {"NiO": 1}, seed=7)
    b = simulate_xrd(library, {"NiO": 1}, seed=7)
    c = simulate_xrd(library, {"NiO": 1}, seed=8)
    assert np.array_equal(a.y, b.y) and not np.array_equal(a.y, c.y)


def test_texture_changes_layered_intensity_ratio(library):
    plain = simulate_xrd(library, {"LiCoO2": 1}, noise=False, background=0.0)
    plates = simulate_xrd(library, {"LiCoO2": 1}, noise=False, background=0.0, texture={"LiCoO2": ((0, 0, 1), 0.7)})
    r_plain = _area(plain, 18.93) / _area(plain, 45.25)
    r_plates = _area(plates, 18.93) / _area(plates, 45.25)
    assert r_plates > 1.5 * r_plain  # (003) enhanced for plates lying flat


def test_raman_bands_and_silent_phases(library):
    scan = simulate_raman(library, {"La2Zr2O7": 50, "NiO": 50}, noise=False, background=0.0, fluorescence=0.0)
    assert scan.kind == "raman" and scan.meta.laser_nm == 532.0
    assert scan.x[np.argmax(scan.y)] == pytest.approx(304, abs=2)
    with pytest.raises(SimulationError, match="has a Raman band"):
        simulate_raman(library, {"NiO": 1})


@pytest.mark.parametrize(
    ("fractions", "error", "match"),
    [
        ({}, SimulationError, "no phases"),
        ({"NiO": -1}, SimulationError, "must be ≥ 0"),
        ({"NiO": 0}, SimulationError, "sum to zero"),
        ({"Unobtainium": 1}, LibraryError, "unknown phase"),
    ],
)
def test_bad_simulation_settings(library, fractions, error, match):
    with pytest.raises(error, match=match):
        simulate_xrd(library, fractions)


@pytest.mark.parametrize(("pid", "window"), [("LiCoO2", (16.0, 22.0)), ("MgO", (100.0, 112.0))])
def test_axial_divergence_tail_moves_intensity_towards_the_nearer_end(library, pid, window):
    """The instrument's ``asymmetry`` is the fit's exponential tail (τ at 20°, ∝ 1/|tan 2θ|): each line
    keeps its area and its centroid moves by the tail's mean length τ(2θ), to low angle below 90° (LiCoO2
    (003) at 18.9°) and to high angle above (MgO (331) at 105.7°)."""
    kw = {"instrument": MONO, "noise": False, "background": 0.0, "two_theta_range": window, "step": 0.002}
    plain = simulate_xrd(library, {pid: 1}, **kw)
    tailed = simulate_xrd(library, {pid: 1}, **kw | {"instrument": Instrument(radiation=MONO.radiation,
                                                                               asymmetry=0.06)})
    centre = plain.x[np.argmax(plain.y)]
    sel = np.abs(plain.x - centre) < 1.5
    x, y0, y1 = plain.x[sel], plain.y[sel], tailed.y[sel]
    # normalise both to one area (the simulator scales its highest peak to max_counts)
    y0, y1 = y0 / np.trapezoid(y0, x), y1 / np.trapezoid(y1, x)
    shift = np.trapezoid(x * y1, x) - np.trapezoid(x * y0, x)
    tau = 0.06 * np.tan(np.radians(20.0)) / abs(np.tan(np.radians(centre)))
    assert shift == pytest.approx(-np.sign(np.tan(np.radians(centre))) * tau, rel=0.05)


def test_reflections_reach_the_end_of_a_wide_range(library):
    """User review finding 10: a Cu Kα pattern to 140° was flat above ≈ 133° (d_min 0.84 Å whatever the
    range). MgO (422) at d 0.860 Å sits at 127.3°, (511)/(333) at 0.811 Å at 143.5° (beyond 140°), (440) at
    0.745 Å beyond 180°: a range to 150° must show (511)."""
    scan = simulate_xrd(library, {"MgO": 1}, instrument=MONO, noise=False, background=0.0,
                        two_theta_range=(120, 150), step=0.01)  # fmt: skip
    refl = library.reflections("MgO", d_min=0.7)
    d511 = refl.d[[k for k, h in enumerate(refl.hkl) if sorted(abs(int(v)) for v in h) == [1, 1, 5]][0]]
    tt = 2 * np.degrees(np.arcsin(1.540598 / (2 * d511)))
    assert 140 < tt < 148
    near = np.abs(scan.x - tt) < 0.3
    assert scan.y[near].max() > 0.05 * scan.y.max()  # 0.15; 0 before
