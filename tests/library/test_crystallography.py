"""Pure crystallographic helpers and the structure-factor physics, pinned to hand calculations."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.library.crystallography import cell_volume, d_spacings, lorentz_polarisation, two_theta
from phasetrace.library.reflections import compute_reflections


def test_cubic_d_spacing_and_bragg_angle():
    d = d_spacings(np.array([[2, 2, 2], [4, 4, 0]]), (10.8, 10.8, 10.8, 90, 90, 90))
    np.testing.assert_allclose(d, [10.8 / np.sqrt(12), 10.8 / np.sqrt(32)])
    # La2Zr2O7 (222) for Cu Kα1 at a = 10.80 Å: 28.6° (digest §3c)
    assert two_theta(d[:1], 1.540598)[0] == pytest.approx(28.60, abs=0.02)


def test_hexagonal_d_spacing():
    # LiCoO2 a = 2.816, c = 14.05: d(003) = c/3, d(110) = a/2
    cell = (2.816, 2.816, 14.05, 90, 90, 120)
    d = d_spacings(np.array([[0, 0, 3], [1, 1, 0]]), cell)
    np.testing.assert_allclose(d, [14.05 / 3, 2.816 / 2])
    assert cell_volume(cell) == pytest.approx(2.816**2 * np.sqrt(3) / 2 * 14.05)


def test_no_reflection_beyond_two_d():
    assert np.isnan(two_theta(np.array([0.5]), 1.540598)[0])


def test_lorentz_polarisation_values():
    # unpolarised (no monochromator): (1 + cos²2θ) / (2 sin²θ cosθ)
    assert lorentz_polarisation(np.array([90.0]))[0] == pytest.approx(1 / (0.5 * np.sqrt(0.5)) / 2)
    tt = 30.0
    th = np.radians(tt / 2)
    expect = (1 + np.cos(np.radians(tt)) ** 2) / (np.sin(th) ** 2 * np.cos(th)) / 2
    assert lorentz_polarisation(np.array([tt]))[0] == pytest.approx(expect)


NIO_CIF = """data_NiO_test
_cell_length_a 4.1770
_cell_length_b 4.1770
_cell_length_c 4.1770
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
_atom_site_B_iso_or_equiv
Ni1 Ni 0 0 0 1 0.40
O1 O 0.5 0.5 0.5 1 0.60
"""


def test_structure_factors_include_anomalous_dispersion_and_b():
    import xraydb

    refl = compute_reflections(NIO_CIF, wavelength=1.540598)
    by_hkl = {tuple(sorted(abs(int(v)) for v in h)): (m, f2) for h, m, f2 in zip(refl.hkl, refl.multiplicity, refl.f2, strict=True)}
    e = 12398.419843320026 / 1.540598

    def f(el, d, b):
        s = 1 / (2 * d)
        return (xraydb.f0(el, s)[0] + xraydb.f1_chantler(el, e) + 1j * xraydb.f2_chantler(el, e)) * np.exp(-b * s * s)

    a = 4.177
    for hkl, sign in (((1, 1, 1), -1), ((0, 0, 2), +1)):
        d = a / np.sqrt(sum(v * v for v in hkl))
        fexp = 4 * (f("Ni", d, 0.40) + sign * f("O", d, 0.60))
        assert by_hkl[hkl][1] == pytest.approx(abs(fexp) ** 2, rel=1e-6)
    assert by_hkl[(1, 1, 1)][0] == 8 and by_hkl[(0, 0, 2)][0] == 6
    # mixed-parity reflections are systematically absent in Fm-3m
    assert (0, 1, 1) not in by_hkl and (0, 0, 1) not in by_hkl
    assert refl.formula == "NiO" and refl.z == 4
    assert refl.density == pytest.approx(6.81, abs=0.02)
