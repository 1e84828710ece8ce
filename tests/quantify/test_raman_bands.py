"""Raman band profiles: the split pseudo-Voigt formulas, their derivatives, and their far tails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasetrace.quantify.raman.bands import _gaussian_core, band_derivatives, band_profiles, band_terms

_G = 4.0 * math.log(2.0)
_SQ = math.sqrt(_G / math.pi)


def _formulas(x, centre, fwhm, area, eta, asym):
    """The profile and its derivatives written out as in the module's docstring (fresh arrays, np.exp)."""
    u = x[:, None] - centre[None, :]
    side = np.where(u < 0, 1.0, -1.0)
    w = fwhm[None, :] * (1.0 + side * asym[None, :]) if np.any(asym) else np.broadcast_to(fwhm, u.shape)
    d = u / w
    d2 = d * d
    q = 1.0 / (1.0 + 4.0 * d2)
    lor = (2.0 / np.pi) * q / w
    gau = _SQ * np.exp(-_G * d2) / w
    pv = eta * lor + (1.0 - eta) * gau
    scale = area[None, :] if not np.any(asym) else area[None, :] * (w / fwhm[None, :])
    dc = (eta * lor * 8.0 * q + (1.0 - eta) * gau * 2.0 * _G) * d / w
    wdw = eta * lor * (4.0 * d2 - 1.0) * q + (1.0 - eta) * gau * (2.0 * _G * d2 - 1.0)
    return pv * scale, dc * scale, wdw * scale, side * (pv + wdw) * area[None, :]


@pytest.fixture
def bands():
    rng = np.random.default_rng(7)
    n = 12
    # a window much wider than the bands: most points lie in the far Gaussian tails, where exp's
    # result is subnormal or exactly zero
    x = np.linspace(50.0, 1400.0, 2701)
    return x, rng.uniform(100.0, 1300.0, n), rng.uniform(2.0, 40.0, n), rng.uniform(0.05, 1.0, n), rng


def test_gaussian_core_is_numpys_exp_through_the_underflow_range():
    d2 = np.concatenate([np.linspace(0.0, 300.0, 200_001), [1e6, np.inf]])
    a = -_G * d2
    assert np.any((a < -708.4) & (a > -745.2)), "the grid must reach the subnormal results"
    got, want = _gaussian_core(d2), np.exp(-_G * d2)
    assert np.array_equal(got, want)
    assert got[-1] == 0.0 and got[0] == 1.0


@pytest.mark.parametrize("eta", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_band_profiles_are_the_formulas_bit_for_bit(bands, eta, asymmetric):
    x, centre, fwhm, area, rng = bands
    asym = rng.uniform(-0.3, 0.3, centre.size) if asymmetric else np.zeros(centre.size)
    want = _formulas(x, centre, fwhm, area, eta, asym)
    (val,) = band_profiles(x, centre, fwhm, area, eta, asym)
    assert np.array_equal(val, want[0])
    got = band_profiles(x, centre, fwhm, area, eta, asym, derivs=True)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)
    got = band_profiles(x, centre, fwhm, area, eta, asym, derivs=True, dasym=False)
    assert got[3] is None
    for g, w in zip(got[:3], want[:3], strict=True):
        assert np.array_equal(g, w)


def test_band_profiles_area_and_centre_derivative(bands):
    x, _, _, _, _ = bands
    centre, fwhm, area = np.array([700.0]), np.array([12.0]), np.array([2.5])
    # a Gaussian band (no Lorentzian tail beyond the window) integrates to its area
    (val,) = band_profiles(x, centre, fwhm, area, 0.0)
    assert np.trapezoid(val[:, 0], x) == pytest.approx(2.5, rel=1e-6)
    # ∂/∂centre against a central difference
    val, dc, _, _ = band_profiles(x, centre, fwhm, area, 0.7, derivs=True)
    h = 1e-4
    up = band_profiles(x, centre + h, fwhm, area, 0.7)[0]
    down = band_profiles(x, centre - h, fwhm, area, 0.7)[0]
    np.testing.assert_allclose(dc[:, 0], (up - down)[:, 0] / (2 * h), atol=1e-9 * float(val.max()))


def test_band_terms_kept_for_the_jacobian_are_not_changed_by_it(bands):
    x, centre, fwhm, area, rng = bands
    asym = rng.uniform(-0.3, 0.3, centre.size)
    t = band_terms(x, centre, fwhm, area, 0.7, asym)
    before = [None if a is None else a.copy() for a in t]
    first = band_derivatives(t, dasym=True)
    second = band_derivatives(t, dasym=True)  # a second Jacobian at the same shape
    for a, b in zip(t, before, strict=True):
        assert (a is None and b is None) or np.array_equal(a, b)
    want = _formulas(x, centre, fwhm, area, 0.7, asym)
    assert np.array_equal(t.val, want[0])
    for g1, g2, w in zip(first, second, want[1:], strict=True):
        assert np.array_equal(g1, w) and np.array_equal(g2, w)
