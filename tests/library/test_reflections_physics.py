"""Reflection lists: displacement parameters from the CIF (B, U, anisotropic U), d_min for a scan."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.library.reflections import (
    DEFAULT_D_MIN,
    _b_factors_from_cif,
    compute_reflections,
    d_min_for_scan,
)

ROCKSALT = """data_NiO
_cell_length_a 4.1771
_cell_length_b 4.1771
_cell_length_c 4.1771
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
loop_
_symmetry_equiv_pos_as_xyz
x,y,z
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
{extra_head}
Ni1 Ni 0 0 0 1 {ni}
O1 O 0.5 0.5 0.5 1 {o}
"""


def _cif(extra_head="", ni="", o="", tail=""):
    return ROCKSALT.format(extra_head=extra_head, ni=ni, o=o) + tail


def test_b_and_u_columns_are_read_and_converted():
    b = _b_factors_from_cif(_cif("_atom_site_B_iso_or_equiv", "0.40", "0.60"))
    assert b == pytest.approx({"Ni1": 0.40, "O1": 0.60})
    u = _b_factors_from_cif(_cif("_atom_site_U_iso_or_equiv", "0.005(1)", "0.0100"))
    assert u == pytest.approx({"Ni1": 8 * np.pi**2 * 0.005, "O1": 8 * np.pi**2 * 0.01})


def test_anisotropic_u_becomes_u_equivalent():
    """U_eq = trace/3 for orthogonal axes (Fischer & Tillmanns 1988)."""
    aniso = """loop_
_atom_site_aniso_label
_atom_site_aniso_U_11
_atom_site_aniso_U_22
_atom_site_aniso_U_33
_atom_site_aniso_U_12
_atom_site_aniso_U_13
_atom_site_aniso_U_23
Ni1 0.004 0.005 0.006 0 0 0
O1 0.009 0.009 0.012 0.001 0 0
"""
    b = _b_factors_from_cif(_cif(tail=aniso))
    assert b["Ni1"] == pytest.approx(8 * np.pi**2 * 0.005)
    assert b["O1"] == pytest.approx(8 * np.pi**2 * 0.010)


def test_cif_b_values_damp_the_high_angle_reflections():
    soft = compute_reflections(_cif("_atom_site_B_iso_or_equiv", "1.5", "1.5"))
    stiff = compute_reflections(_cif("_atom_site_B_iso_or_equiv", "0.2", "0.2"))
    assert soft.b_source == "cif" and soft.b_iso == pytest.approx(1.5)
    assert stiff.b_iso == pytest.approx(0.2)
    ratio = soft.f2 / stiff.f2
    # |F|² ratio = exp(-2 ΔB s²) = exp(-ΔB / 2d²) for every reflection
    np.testing.assert_allclose(ratio, np.exp(-1.3 / (2 * soft.d**2)), rtol=1e-6)
    typical = compute_reflections(_cif())
    assert typical.b_source == "typical"


def test_d_min_follows_the_scan_end():
    assert d_min_for_scan(80.0, 1.544426) == DEFAULT_D_MIN  # the cached lists most scans use
    d150 = d_min_for_scan(150.0, 1.544426)
    assert d150 <= 1.544426 / (2 * np.sin(np.radians(76.0)))  # reaches past 150° (+ margin)
    assert d150 == pytest.approx(0.75)
    refl = compute_reflections(_cif(), d_min=d150)
    assert refl.d.min() < 0.84 and refl.d_min == pytest.approx(0.75)
