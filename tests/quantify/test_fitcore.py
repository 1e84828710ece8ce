"""The XRD fit on the shared variable-projection core: analytic derivatives, the linear solve, the fit."""

from __future__ import annotations

import pickle

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


def _tail_loop(y, xp, tau20):
    """The axial-divergence tail as a plain loop of its recursion (``model.axial_tail`` runs it by doubling)."""
    step = (xp[-1] - xp[0]) / (xp.size - 1)
    z = np.zeros_like(y)
    tau = np.maximum(
        tau20 * np.tan(np.radians(20.0)) / np.abs(np.tan(np.radians(np.clip(xp, 5, 175)))), 1e-12
    )
    r = tau / step
    a = np.where(1 / r < 60, np.exp(-np.minimum(1 / r, 60)), 0.0)
    c1 = r * (1 - a) - a
    c0 = 1 - a - c1
    # every source point's total weight kept 1: divided by 1 + |dτ/d2θ|
    inside = (xp > 5) & (xp < 175)
    slope = inside * np.tan(np.radians(20.0)) / np.sin(np.radians(np.clip(xp, 5, 175))) ** 2 * np.pi / 180
    y = y / (1.0 + tau20 * slope)
    for i in range(xp.size - 1, -1, -1):  # below 90°: from the high end down
        if xp[i] < 90.0:
            nxt, ynxt = (z[i + 1], y[i + 1]) if i + 1 < xp.size and xp[i + 1] < 90.0 else (0.0, 0.0)
            z[i] = a[i] * nxt + c0[i] * y[i] + c1[i] * ynxt
    for i in range(xp.size):  # above: upwards
        if xp[i] >= 90.0:
            prv, yprv = (z[i - 1], y[i - 1]) if i > 0 and xp[i - 1] >= 90.0 else (0.0, 0.0)
            z[i] = a[i] * prv + c0[i] * y[i] + c1[i] * yprv
    return z


def _reference_pattern(x, m, *, texture_r=1.0, scale=1.0, **p):
    """phase_pattern written out line by line over each line's own window (no blocks, no caches), the
    axial-divergence tail run point by point over the scan and the windows' reach beyond it."""
    from phasetrace.library.crystallography import lorentz_polarisation
    from phasetrace.quantify.model import MAX_WINDOW_DEG, WINDOW_FWHM

    d = m.d0 * scale
    md = m.march_dollase(texture_r) * np.exp(-p["b_delta"] / (2.0 * d * d))
    step = (x[-1] - x[0]) / (x.size - 1)
    xp = x[0] + step * np.arange(-x.size, 2 * x.size + 1)  # the scan extended by its own length
    out = np.zeros(xp.size)
    g4 = 4.0 * np.log(2.0)
    lines = []
    for lam, wt in zip(LAMS, WTS, strict=True):
        th = np.arcsin(lam / (2.0 * d))
        tt = 2.0 * np.degrees(th)
        centre = tt + p["zero"] - np.degrees(2e-3 * p["displacement"] / p["radius_mm"]) * np.cos(th)
        keep = (centre > x[0] - 2.0) & (centre < x[-1] + 2.0)
        tan_t = np.tan(th)
        fwhm = np.sqrt(
            np.maximum(p["u"] * tan_t**2 + p["v"] * tan_t + p["w"], 1e-8)
            + (p["size_x"] / np.cos(th)) ** 2
            + (p["strain_y"] * tan_t) ** 2
        )
        area = wt * m.mf2 * md * lorentz_polarisation(tt, None)
        lines += [(centre[j], fwhm[j], area[j]) for j in np.flatnonzero(keep)]
    # one window half width for all lines: WINDOW_FWHM of the broadest
    half_deg = min(WINDOW_FWHM * max(f for _, f, _ in lines), MAX_WINDOW_DEG)
    half = min(int(np.ceil(half_deg / step)), x.size)
    for c, f, a in lines:
        i0 = int(np.searchsorted(x, c)) + x.size
        pts = np.arange(i0 - half, i0 + half + 1)
        dx = (xp[pts] - c) / f
        prof = p["eta"] * 2 / np.pi / (1 + 4 * dx * dx) + (1 - p["eta"]) * np.sqrt(g4 / np.pi) * np.exp(
            -g4 * dx * dx
        )
        out[pts] += a / f * prof
    # the scan and its padding (the widest window) beyond its ends: what the tail carries into the scan
    pad = min(int(np.ceil(MAX_WINDOW_DEG / step)), x.size)
    reach = slice(x.size - pad, 2 * x.size + pad + 1)
    total = np.zeros(xp.size)
    total[reach] = _tail_loop(out[reach], xp[reach], p["asymmetry"])
    return total[x.size : 2 * x.size]


@pytest.mark.parametrize(("pid", "axis"), [("LiCoO2", (0, 0, 1)), ("LLZTO_cubic", None), ("MgO", None)])
def test_pattern_and_reused_blocks_match_a_line_by_line_reference(library, pid, axis):
    """The block evaluation equals a plain per-line loop; derivatives reusing the value call's blocks
    equal those computed afresh (bit for bit), at two parameter sets in turn."""
    m = _model(library, pid, axis)
    names = ["zero", "displacement", "u", "v", "w", "asymmetry", "eta", "scale", "size", "strain", "b"]
    for kw in ({**PROFILE, "scale": 1.003, "texture_r": 0.8 if axis else 1.0}, {**PROFILE, "eta": 0.7}):
        fresh = phase_pattern(X, _model(library, pid, axis), wavelengths=LAMS, weights=WTS, wrt=names, **kw)
        col = phase_pattern(X, m, wavelengths=LAMS, weights=WTS, **kw)
        ref = _reference_pattern(X, m, **kw)
        assert np.allclose(col, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
        reused = phase_pattern(X, m, wavelengths=LAMS, weights=WTS, wrt=names, **kw)
        assert np.array_equal(reused[0], col)
        assert np.array_equal(reused[0], fresh[0]) and np.array_equal(reused[1], fresh[1])
    # the kept blocks are scratch: a pickled model (sent to a worker process) leaves them behind
    assert m._last_blocks and pickle.loads(pickle.dumps(m))._last_blocks == {}
    # a derivative call at other parameters than the last value call does not reuse its blocks
    other = phase_pattern(X, m, wavelengths=LAMS, weights=WTS, wrt=names, **{**PROFILE, "eta": 0.2})
    assert np.array_equal(
        other[0],
        phase_pattern(
            X, _model(library, pid, axis), wavelengths=LAMS, weights=WTS, **{**PROFILE, "eta": 0.2}
        ),
    )


def _mgo_lco_scan(library):
    """MgO + LiCoO2 with size and strain broadening, Poisson noise: (models, scan, config)."""
    models = [_model(library, "MgO"), _model(library, "LiCoO2")]
    prof = {**PROFILE, "asymmetry": 0.0, "zero": 0.0, "b_delta": 0.0, "strain_y": 0.03}
    y = np.full(X.size, 300.0)
    for m, s in zip(models, (2e-3, 4e-3), strict=True):
        y += s * phase_pattern(X, m, wavelengths=LAMS, weights=WTS, scale=1.001, **prof)
    y = np.random.default_rng(0).poisson(y).astype(float)
    scan = Scan(x=X, y=y, kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="synthetic"))
    cfg = QuantConfig(refine_asymmetry=False, background_terms=6)
    return models, scan, cfg


def test_width_terms_at_zero_grow_by_their_square_in_fewer_steps(library):
    """Size and strain started at 0 (their lower bound) on a scan whose lines have both: with
    ``square_width_steps`` (the known-phase fits) the fit reaches the same solution as with plain steps,
    where the first steps of a term at 0 ran to its upper bound and were rejected, in half the evaluations."""
    models, scan, cfg = _mgo_lco_scan(library)
    start = {m.id: {"size": 0.0, "strain": 0.0} for m in models}
    plain, square = (
        fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg, start=start, square_width_steps=sq)
        for sq in (False, True)
    )
    assert square.chi2 <= plain.chi2 + 0.1  # the fits' tolerance (CHI2_TOL)
    assert square.theta == pytest.approx(plain.theta, rel=1e-3, abs=1e-4)
    assert square.theta[square.names.index("LiCoO2:size")] == pytest.approx(0.05, abs=0.005)
    assert square.nfev * 2 <= plain.nfev


def test_nonnegative_amplitudes_of_an_underflowing_column_are_zero():
    """A phase column whose peaks are narrower than the step holds only far-tail values (~1e-200): its norm
    underflowed to 0, the amplitude came out ~1e217 and the next Jacobian held inf and NaN (calibration
    of RM20220915Si01.rasx on Silicon.cif crashed in NNLS)."""
    from phasetrace.quantify.core import nonnegative_amplitudes

    rng = np.random.default_rng(0)
    a = np.column_stack([np.full(200, 1e-200), np.exp(-np.linspace(-3, 3, 200) ** 2)])
    y = 5.0 * a[:, 1] + rng.normal(0.0, 0.01, 200)
    for normal in (False, True):
        c, chi2 = nonnegative_amplitudes(a, y, normal=normal)
        assert c[0] == 0.0 and c[1] == pytest.approx(5.0, rel=0.01) and np.isfinite(chi2)
    c, chi2 = nonnegative_amplitudes(a[:, :1], y, normal=True)
    assert c.tolist() == [0.0] and chi2 == pytest.approx(float(y @ y))


def test_gauss_newton_promise_is_the_reduction_of_a_linear_problem():
    """For a linear residual r(p) = A p - b the undamped step's promise is exactly the χ² it removes."""
    from phasetrace.quantify.core import _gauss_newton_reduction

    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 4)) * [1.0, 1e3, 1e-3, 10.0]  # parameters of very different units
    b = rng.normal(size=50)
    p0 = np.zeros(4)
    r = a @ p0 - b
    best = np.linalg.lstsq(a, b, rcond=None)[0]
    drop = float(r @ r) - float((a @ best - b) @ (a @ best - b))
    assert _gauss_newton_reduction(a.T @ a, a.T @ r) == pytest.approx(drop, rel=1e-9)
    # a direction the data do not see (a zero column) promises nothing and does not blow up
    a0 = np.column_stack([a, np.zeros(50)])
    assert _gauss_newton_reduction(a0.T @ a0, a0.T @ r) == pytest.approx(drop, rel=1e-9)


def test_a_fit_abandoned_by_its_caller_stops_and_says_so(library):
    """``give_up`` is asked at every Jacobian with the χ² and the promised reduction; True ends the fit
    there, marked unsuccessful, with the model evaluated at the point it reached."""
    models, scan, cfg = _mgo_lco_scan(library)
    full = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg)
    asked: list[tuple[float, float]] = []

    def never(chi2, reduction):
        asked.append((chi2, reduction))
        return False

    same = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg, give_up=never)
    assert same.chi2 == full.chi2 and same.success
    assert len(asked) >= 2 and all(r >= 0 for _, r in asked)
    # the promises shrink as the fit converges, and the χ² it was asked at only falls
    assert asked[-1][1] < asked[0][1]
    assert all(b[0] <= a[0] for a, b in zip(asked, asked[1:], strict=False))
    calls = []

    def second(chi2, reduction):
        calls.append(chi2)
        return len(calls) == 2

    cut = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg, give_up=second)
    assert not cut.success and "abandoned" in cut.message
    assert len(calls) == 2 and cut.nfev < full.nfev
    assert cut.chi2 == pytest.approx(calls[-1])  # the state is the point it stopped at
