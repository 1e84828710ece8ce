"""The axial-divergence tail (``model.axial_tail``): its shape against a direct convolution, and a fit that
needs it.

The tail replaced split pseudo-Voigt half widths because the independent forward model's peaks (a Voigt
convolved with a one-sided exponential) left a residual the split profile could not remove: at 10-35° the
observed exceeded the fit by 3-4 % of the peak height 0.1-0.2° below each peak and fell short by 9 % at the
maximum (benchmarks/profile_shape.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.quantify.fit import QuantConfig, fit_pattern
from phasetrace.quantify.model import PhaseModel, axial_tail, phase_pattern
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

STEP = 0.01
XP = np.arange(5.0, 150.0, STEP)
G4 = 4.0 * np.log(2.0)


def _pv(x, c, fwhm, eta=0.5):
    q = ((x - c) / fwhm) ** 2
    return eta * 2.0 / (np.pi * fwhm) / (1.0 + 4.0 * q) + (1.0 - eta) * np.sqrt(G4 / np.pi) / fwhm * np.exp(
        -G4 * q
    )


@pytest.mark.parametrize("centre", [15.0, 30.0, 60.0, 120.0])
def test_tail_is_the_exponential_convolution_with_the_angle_law(centre):
    tau20 = 0.06
    z = axial_tail(_pv(XP, centre, 0.08), XP, tau20)
    # direct convolution on a grid 50x finer with the line's own tail length
    tau = tau20 * np.tan(np.radians(20.0)) / abs(np.tan(np.radians(centre)))
    fine = 0.0002
    xf = np.arange(centre - 3.0, centre + 3.0, fine)
    t = np.arange(0.0, 30.0 * tau, fine)
    kern = np.exp(-t / tau)
    kern /= kern.sum()
    # below 90° the tail points to low angle, above to high angle
    kern = np.r_[np.zeros(t.size - 1), kern][::-1] if centre < 90.0 else np.r_[np.zeros(t.size - 1), kern]
    ref = np.interp(XP, xf, np.convolve(_pv(xf, centre, 0.08), kern, mode="same"))
    near = np.abs(XP - centre) < 2.0
    # (the recursion takes the profile as linear between grid points: ~1 % of the peak at 8 points per FWHM)
    assert np.max(np.abs(z - ref)[near]) < 0.012 * ref.max()
    # the tail moves intensity, it does not make or lose it
    assert np.sum(z) == pytest.approx(np.sum(_pv(XP, centre, 0.08)), rel=1e-4)
    # the centroid moves by about τ towards the nearer end of the range
    shift = np.sum(XP[near] * z[near]) / np.sum(z[near]) - centre
    assert shift == pytest.approx(-tau if centre < 90.0 else tau, rel=0.1)


def test_no_tail_leaves_the_pattern_and_its_derivative_is_exact():
    y = _pv(XP, 20.0, 0.1) + _pv(XP, 100.0, 0.2)
    assert np.allclose(axial_tail(y, XP, 0.0), y, rtol=1e-9, atol=1e-9 * y.max())
    cols = np.column_stack([y, 2.0 * y])
    z = axial_tail(y, XP, 0.05)
    both = axial_tail(cols, XP, 0.05, derivative_of=(y, z))
    assert np.allclose(both[:, 0], z) and np.allclose(both[:, 1], 2.0 * z)
    h = 1e-6
    fd = (axial_tail(y, XP, 0.05 + h) - axial_tail(y, XP, 0.05 - h)) / (2.0 * h)
    assert np.linalg.norm(both[:, 2] - fd) < 1e-6 * np.linalg.norm(fd)


def _tailed_mixture(library, tau20=0.06, seed=4):
    """LLZTO 90 + La2Zr2O7 10 (by scale), the fit's own lines with a 0.06° tail, Poisson counts."""
    lams, wts = (CU_KALPHA.kalpha1, CU_KALPHA.kalpha2), (1.0, CU_KALPHA.ratio)
    x = np.arange(10.0, 80.0, 0.01)
    models = [
        PhaseModel.build(p, library.reflections(p, d_min=0.9), (10.0, 80.0), lams)
        for p in ("LLZTO_cubic", "La2Zr2O7")
    ]
    prof = {"u": 0.003, "v": -0.001, "w": 0.002, "size_x": 0.04, "strain_y": 0.02, "eta": 0.5}
    cols = [
        phase_pattern(
            x,
            m,
            wavelengths=lams,
            weights=wts,
            radius_mm=240.0,
            asymmetry=tau20,
            zero=0.0,
            displacement=0.0,
            **prof,
        )
        for m in models
    ]
    s = np.array([0.9, 0.1]) * 2e4 / max(c.max() for c in cols)
    y = 200.0 + s[0] * cols[0] + s[1] * cols[1]
    y = np.random.default_rng(seed).poisson(y).astype(float)
    scan = Scan(x=x, y=y, kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="tailed"))
    return scan, models, s


def test_a_fit_recovers_the_tail_and_the_scales_the_symmetric_profile_misses(library):
    scan, models, s = _tailed_mixture(library)
    cfg = QuantConfig(refine_b=False, texture_search=False, background_terms=6)
    state = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg)
    assert state.globals_["asymmetry"] == pytest.approx(0.06, abs=0.005)
    assert state.gof < 1.1
    ratio = state.scales[1] / state.scales[0]
    assert ratio == pytest.approx(s[1] / s[0], rel=0.01)
    # without the tail (symmetric lines) the same scan is not described
    flat = fit_pattern(
        scan, models, strains=[0.01, 0.01], config=QuantConfig(refine_b=False, texture_search=False,
                                                               background_terms=6, refine_asymmetry=False)
    )  # fmt: skip
    assert flat.gof > 1.5 * state.gof


def test_kept_tail_plans_belong_to_their_own_grid():
    """Two grids of the same range and size (scans whose angles differ in the last digits) get their own
    tail: the numbers do not depend on which scan a process saw first."""
    from phasetrace.peaks import profiles

    xp1 = np.linspace(10.0, 80.0, 3501)
    xp2 = xp1.copy()
    xp2[1:-1] += 1e-9 * np.sin(np.arange(xp1.size - 2))
    y = _pv(xp1, 20.0, 0.08) + _pv(xp1, 45.0, 0.1)
    profiles._TAIL_PLANS.clear()
    profiles._TAIL_LAWS.clear()
    fresh = axial_tail(y, xp2, 0.03)
    profiles._TAIL_PLANS.clear()
    profiles._TAIL_LAWS.clear()
    other = axial_tail(y, xp1, 0.03)
    assert not np.array_equal(other, fresh)
    assert np.array_equal(axial_tail(y, xp2, 0.03), fresh)
    assert np.array_equal(axial_tail(y, xp1, 0.03), other)
