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


def _tail_point_by_point(y, xp, tau20, derivative_of=None):
    """The tail's recursion one point at a time (no blocks), and optionally its derivative by τ₂₀.

    Below 90° from the high-angle end downwards, above from the low-angle end upwards:
    ``z_k = a_k z_(k−1) + c0_k n_k y_k + c1_k n_(k−1) y_(k−1)`` along each part, n the source factor
    that keeps every point's total weight 1.
    """
    from phasetrace.peaks.profiles import _tail_coefficients, _unit_area

    a, c0, c1, da, dc0, dc1 = _tail_coefficients(xp, tau20)
    n, dn = _unit_area(xp, tau20)
    cut = int(np.searchsorted(xp, 90.0))
    cols = y.reshape(xp.size, -1)
    out = np.zeros((xp.size, cols.shape[1] + (derivative_of is not None)))
    for part in (list(range(cut - 1, -1, -1)), list(range(cut, xp.size))):
        for col in range(out.shape[1]):
            z, prev = 0.0, None
            for i in part:
                if col < cols.shape[1]:
                    g = c0[i] * n[i] * cols[i, col]
                    if prev is not None:
                        g += c1[i] * n[prev] * cols[prev, col]
                else:  # z' = a z'_prev + a' z0_prev + (c0 n)' y0 + (c1 n_prev)' y0_prev
                    y0, z0 = derivative_of
                    g = (dc0[i] * n[i] + c0[i] * dn[i]) * y0[i]
                    if prev is not None:
                        g += (dc1[i] * n[prev] + c1[i] * dn[prev]) * y0[prev] + da[i] * z0[prev]
                z = a[i] * z + g
                out[i, col] = z
                prev = i
    return out.reshape(y.shape) if derivative_of is None else out


def _grid(lo, hi, size):
    return np.linspace(lo, hi, size)


@pytest.mark.parametrize(
    ("xp", "tau20"),
    [
        (_grid(10.0, 80.0, 3501), 0.06),  # below 90° only, many blocks
        (_grid(10.0, 80.0, 3501), 2.0),  # a tail far longer than a block: the chaining of blocks carries it
        (_grid(20.0, 140.0, 1203), 0.03),  # both parts, of different lengths
        (_grid(60.0, 150.0, 900), 0.5),  # the upward part longer, a block count not a power of 2
        (_grid(89.0, 91.0, 37), 0.05),  # short parts, the downward one not a whole number of blocks
        (_grid(30.0, 40.0, 16), 0.2),  # exactly one block
        (_grid(30.0, 40.0, 5), 0.2),  # one block, mostly padding
        (_grid(89.9, 120.0, 40), 0.1),  # a downward part of one point
        (_grid(10.0, 80.0, 701), 1e-4),  # a tail far shorter than a step: factors 0, the pattern unchanged
    ],
)
def test_blocked_tail_is_the_point_by_point_recursion(xp, tau20):
    from phasetrace.peaks import profiles

    rng = np.random.default_rng(7)
    y = _pv(xp, xp[xp.size // 3], 0.3) + rng.uniform(0.0, 0.1, xp.size)
    cols = np.column_stack([y, rng.normal(size=xp.size), -2.0 * y])
    profiles._TAIL_PLANS.clear()
    z = axial_tail(y, xp, tau20)
    ref = _tail_point_by_point(y, xp, tau20)
    assert np.allclose(z, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    both = axial_tail(cols, xp, tau20, derivative_of=(y, z))
    ref_both = _tail_point_by_point(cols, xp, tau20, derivative_of=(y, z))
    assert both.shape == (xp.size, 4)
    scale = np.abs(ref_both).max(axis=0)
    assert np.allclose(both, ref_both, rtol=1e-12, atol=1e-12 * scale)
    # a column through the plan alone or with others is the same numbers, bit for bit
    assert np.array_equal(both[:, 0], z)
    assert np.array_equal(axial_tail(cols[:, 1], xp, tau20), both[:, 1])


def test_blocks_of_one_point_and_empty_inputs(monkeypatch):
    from phasetrace.peaks import profiles

    xp = _grid(40.0, 130.0, 301)
    y = _pv(xp, 60.0, 0.5) + _pv(xp, 110.0, 0.4)
    ref = _tail_point_by_point(y, xp, 0.3)
    profiles._TAIL_PLANS.clear()
    monkeypatch.setattr(profiles, "_TAIL_BLOCK", 1)  # every point its own block: all by the chaining
    try:
        one = axial_tail(y, xp, 0.3)
    finally:
        profiles._TAIL_PLANS.clear()
    assert np.allclose(one, ref, rtol=1e-12, atol=1e-12 * ref.max())
    monkeypatch.undo()
    # no columns: an empty result, or with derivative_of only the derivative column
    z = axial_tail(y, xp, 0.3)
    assert axial_tail(np.zeros((xp.size, 0)), xp, 0.3).shape == (xp.size, 0)
    der = axial_tail(np.zeros((xp.size, 0)), xp, 0.3, derivative_of=(y, z))
    assert der.shape == (xp.size, 1)
    ref_der = _tail_point_by_point(np.zeros((xp.size, 0)), xp, 0.3, derivative_of=(y, z))
    assert np.allclose(der, ref_der, rtol=1e-12, atol=1e-12 * np.abs(ref_der).max())
    # a grid of one point (no step) and of none: the input unchanged
    assert np.array_equal(axial_tail(np.array([2.0]), np.array([30.0]), 0.3), [2.0])
    assert axial_tail(np.zeros(0), np.zeros(0), 0.3).shape == (0,)
