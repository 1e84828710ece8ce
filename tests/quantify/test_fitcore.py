"""The XRD fit on the shared variable-projection core: analytic derivatives, the linear solve, the fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from phasetrace.quantify.fit import LinearSolver, QuantConfig, fit_pattern, weight_percent
from phasetrace.quantify.model import PhaseModel, chebyshev_basis, phase_pattern
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

LAMS, WTS = (CU_KALPHA.kalpha1, CU_KALPHA.kalpha2), (1.0, CU_KALPHA.ratio)
X = np.arange(10.0, 80.0 + 1e-9, 0.02)
#: Every profile term away from zero (and from its clip limits), so that each derivative is exercised.
PROFILE = {
    "u": 0.003,
    "v": -0.001,
    "w": 0.002,
    "size_x": 0.05,
    "strain_y": 0.08,
    "eta": 0.4,
    "zero": 0.01,
    "displacement": 60.0,
    "asymmetry": 0.15,
    "b_delta": 0.3,
    "radius_mm": 240.0,
}
#: phase_pattern keyword of each derivative name
KEYWORD = {"size": "size_x", "strain": "strain_y", "texture": "texture_r", "b": "b_delta"}


def _model(library, pid, texture_axis=None):
    refl = library.reflections(pid, d_min=0.9)
    return PhaseModel.build(pid, refl, (X[0], X[-1]), LAMS, max_strain=0.02, texture_axis=texture_axis)


def _central(fn, kw, key, h):
    up, down = dict(kw), dict(kw)
    up[key] = kw[key] + h
    down[key] = kw[key] - h
    return (fn(**up) - fn(**down)) / (2.0 * h)


def _rel_err(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


#: Agreement asked of analytic and central-difference derivatives (relative, in norm). A wrong term is off
#: by O(1); the differences carry ~1e-4 from a line's window moving by a point within the step.
DERIVATIVE_TOL = 1e-3


@pytest.mark.parametrize(("pid", "axis"), [("LiCoO2", (0, 0, 1)), ("LLZTO_cubic", None)])
def test_analytic_derivatives_match_finite_differences(library, pid, axis):
    m = _model(library, pid, axis)
    kw = {**PROFILE, "scale": 1.003, "texture_r": 0.8 if axis else 1.0}
    names = ["zero", "displacement", "u", "v", "w", "asymmetry", "eta", "scale", "size", "strain", "b"]
    names += ["texture"] if axis else []

    def fn(**k):
        return phase_pattern(X, m, wavelengths=LAMS, weights=WTS, **k)

    col, jac = fn(**kw, wrt=[*names, "size_sq", "strain_sq"])
    assert np.array_equal(col, fn(**kw))
    for k, name in enumerate(names):
        key = KEYWORD.get(name, name)
        fd = _central(fn, kw, key, 1e-6 * max(abs(kw[key]), 1e-2))
        assert np.linalg.norm(fd) > 0, name
        assert _rel_err(jac[:, k], fd) < DERIVATIVE_TOL, name
    # by the squares of the width terms: ∂/∂s = 2s ∂/∂s²
    for j, name in enumerate(("size", "strain")):
        s = kw[KEYWORD[name]]
        assert np.allclose(2.0 * s * jac[:, len(names) + j], jac[:, names.index(name)])


def test_cell_derivatives_match_finite_differences(library):
    """Full-cell derivatives by a, b, c and the angles (monoclinic-like distortion of a hexagonal cell)."""
    m = _model(library, "LiCoO2", (0, 0, 1))
    cell = m.refl.cell * np.array([1.002, 0.999, 0.998, 1.0, 1.001, 1.0])
    kw = {**PROFILE, "texture_r": 0.85}
    names = [f"cell_{j}" for j in range(6)]

    def fn(cell):
        return phase_pattern(X, m, wavelengths=LAMS, weights=WTS, cell=cell, **kw)

    _, jac = phase_pattern(X, m, wavelengths=LAMS, weights=WTS, cell=cell, wrt=names, **kw)
    for j in (0, 2, 4, 5):  # the representatives are h0l: b and alpha do not move them
        h = 1e-6 * cell[j]
        up, down = cell.copy(), cell.copy()
        up[j] += h
        down[j] -= h
        fd = (fn(up) - fn(down)) / (2.0 * h)
        assert _rel_err(jac[:, j], fd) < DERIVATIVE_TOL, j


def test_unknown_derivative_is_an_error(library):
    with pytest.raises(ValueError, match="no derivative"):
        phase_pattern(X, _model(library, "MgO"), wavelengths=LAMS, weights=WTS, wrt=["nonsense"], **PROFILE)


def test_linear_solver_is_the_bounded_least_squares_solution():
    """Free background, non-negative scales: the same answer as scipy's bounded least squares."""
    rng = np.random.default_rng(3)
    x = np.linspace(10, 80, 2000)
    bg = chebyshev_basis(x, 8)
    peaks = np.column_stack([np.exp(-(((x - c) / 0.3) ** 2)) for c in (20, 20.4, 35, 50, 61)])
    y = bg @ rng.normal(100, 10, 8) + peaks @ np.array([500.0, 0.0, 80.0, 300.0, 0.0])
    y = rng.poisson(np.maximum(y, 1)).astype(float)
    sw = 1 / np.sqrt(np.maximum(y, 1))
    coef, scales, ycalc = LinearSolver(bg, y, sw)(peaks)
    a = np.column_stack([bg, peaks]) * sw[:, None]
    ref = lsq_linear(a, y * sw, bounds=(np.r_[np.full(8, -np.inf), np.zeros(5)], np.inf), tol=1e-12).x
    assert np.all(scales >= 0)
    assert np.allclose(scales, ref[8:], rtol=1e-6, atol=1e-6 * np.abs(ref[8:]).max())
    assert np.allclose(ycalc, bg @ coef + peaks @ scales)
    assert np.allclose(bg @ coef, bg @ ref[:8], rtol=1e-6)


def test_two_phase_fit_recovers_weight_fractions(library):
    """A simulated MgO + LiCoO2 scan with known scales and cell: the fit finds them from the defaults."""
    models = [_model(library, "MgO"), _model(library, "LiCoO2")]
    truth = {"MgO": 2e-3, "LiCoO2": 4e-3}
    prof = {**PROFILE, "asymmetry": 0.0, "zero": 0.0, "b_delta": 0.0, "strain_y": 0.03}
    y = np.full(X.size, 300.0)
    for m in models:
        y += truth[m.id] * phase_pattern(X, m, wavelengths=LAMS, weights=WTS, scale=1.001, **prof)
    y = np.random.default_rng(0).poisson(y).astype(float)
    scan = Scan(x=X, y=y, kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="synthetic"))
    cfg = QuantConfig(refine_asymmetry=False, background_terms=6)
    state = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg)
    assert state.success
    assert state.gof < 1.1
    got = dict(zip([m.id for m in models], state.scales, strict=True))
    for pid, s in truth.items():
        assert got[pid] == pytest.approx(s, rel=0.02)
    expect = np.array([truth[m.id] * m.refl.zmv for m in models])
    assert weight_percent(state) == pytest.approx(100 * expect / expect.sum(), abs=0.5)
    assert state.theta[state.names.index("MgO:scale")] == pytest.approx(1.001, abs=2e-4)
    # the counter says how many columns the fit evaluated, with and without derivatives
    assert state.evaluations["columns"] > 0 and state.evaluations["derivatives"] > 0
