"""The selection's fast paths give the numbers of the plain solves they replace (issue 18)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from phasetrace.quantify import QuantConfig
from phasetrace.quantify import fit as fit_module
from phasetrace.quantify import selection as sel
from phasetrace.quantify.core import normal_lstsq
from phasetrace.quantify.fit import ColumnCache, fit_pattern
from phasetrace.quantify.phase_models import phase_models
from phasetrace.simulate import simulate_xrd


def test_normal_lstsq_is_the_least_squares_solution_and_its_variances():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3000, 12)) * np.logspace(-3, 3, 12)  # columns of very different norms
    b = a @ rng.normal(size=12) + rng.normal(size=3000)
    coef, inv_diag = normal_lstsq(a, b)
    assert np.allclose(coef, np.linalg.lstsq(a, b, rcond=None)[0], rtol=1e-9, atol=0)
    assert np.allclose(inv_diag, np.diag(np.linalg.inv(a.T @ a)), rtol=1e-8, atol=0)
    # a rank-deficient matrix falls back to the pseudo-inverse solution
    a[:, 3] = a[:, 2]
    coef, _ = normal_lstsq(a, b)
    assert np.allclose(a @ coef, a @ np.linalg.lstsq(a, b, rcond=None)[0], rtol=1e-8)


@pytest.fixture(scope="module")
def trial_setup(library):
    truth = {"LiCoO2": 60.0, "LLZO_cubic": 37.0, "La2Zr2O7": 3.0}
    scan = simulate_xrd(library, truth, seed=11)
    config = QuantConfig()
    models, strains, textured = phase_models(scan, library, ["LiCoO2", "LLZO_cubic"], config)
    state = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    pool, _, _ = phase_models(scan, library, ["La2Zr2O7", "Li2CO3", "Co3O4", "LaCoO3"], config)
    return scan, state, config, pool


def test_a_candidates_block_update_equals_the_full_nonnegative_solve(trial_setup):
    scan, state, config, pool = trial_setup
    trial = sel._Trial(scan, state, config)
    base = state.columns[:, state.scales > 0]
    for m in pool:
        for s in (0.996, 1.0, 1.004):
            col = trial.column(m, s, 0.03)
            c2, sc = trial.chi2_added(base, col)
            ref_c2, ref_sc = trial.chi2(np.column_stack([base, col]))
            assert c2 == pytest.approx(ref_c2, rel=1e-9)
            assert sc == pytest.approx(float(ref_sc[-1]), rel=1e-7, abs=1e-12 * max(abs(ref_sc[-1]), 1.0))
    # a column that only makes sense at a negative scale: the non-negative solve decides (scale 0)
    c2, sc = trial.chi2_added(base, -base[:, 0])
    ref_c2, ref_sc = trial.chi2(np.column_stack([base, -base[:, 0]]))
    assert c2 == pytest.approx(ref_c2, rel=1e-9) and sc == pytest.approx(float(ref_sc[-1]), abs=1e-12)


def test_kept_candidate_columns_are_the_computed_ones(trial_setup):
    scan, state, config, pool = trial_setup
    sel._COLUMNS.clear()
    trial = sel._Trial(scan, state, config)
    m = pool[0]
    first = trial.column(m, 1.002, 0.12, coarse=True)
    again = sel._Trial(scan, state, config).column(m, 1.002, 0.12, coarse=True)
    assert again is first and not again.flags.writeable
    fresh = trial._compute_column(m, 1.002, 0.12, coarse=True)
    assert np.array_equal(fresh, first)
    # another parameter is another column
    assert not np.array_equal(trial.column(m, 1.004, 0.12, coarse=True), first)
    moved = sel._Trial(scan, state, config)
    moved.state = type(state)(**{**state.__dict__, "globals_": {**state.globals_, "zero": 0.01}})
    assert not np.array_equal(moved.column(m, 1.002, 0.12, coarse=True), first)
    # the budget holds
    small = ColumnCache(3 * first.nbytes)
    for k in range(5):
        small.put(("k", k), first)
    assert small.bytes <= 3 * first.nbytes and small.get(("k", 0)) is None and small.get(("k", 4)) is first


def test_a_refit_from_the_same_start_reuses_the_prealignment_columns_and_gives_the_same_fit(library):
    # the refits of one selection round (twins tried in a chosen phase's place) start from the same state:
    # their broadened pre-alignment columns are the ones the first refit made, and the fit is identical
    truth = {"LiCoO2": 60.0, "LLZO_cubic": 37.0, "La2Zr2O7": 3.0}
    scan = simulate_xrd(library, truth, seed=12)
    config = QuantConfig(max_nfev=20)
    models, strains, textured = phase_models(scan, library, ["LiCoO2", "LLZO_cubic", "La2Zr2O7"], config)
    fit_module._PREALIGN_COLUMNS.clear()
    first = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    again = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    fit_module._PREALIGN_COLUMNS.clear()
    fresh = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    assert np.array_equal(again.theta, first.theta) and np.array_equal(fresh.theta, first.theta)
    assert again.chi2 == first.chi2 == fresh.chi2
    assert np.array_equal(again.scales, fresh.scales)
    # the pre-alignment scanned three phases over their cell grids: now not one broadened column is made
    grid = sum(round(2 * s / fit_module.PREALIGN_STEP) for s in strains)
    assert first.evaluations["columns"] >= grid
    assert again.evaluations["columns"] <= first.evaluations["columns"] - grid


def test_a_rejected_candidate_leaves_the_other_candidates_tests_as_they_were(library, monkeypatch):
    # after a rejection the model is unchanged: the next round takes the other candidates' tests from the
    # round before instead of searching their cells again (one test per candidate and model state)
    truth = {"LiCoO2": 60.0, "LLZO_cubic": 37.0, "La2Zr2O7": 3.0}
    scan = simulate_xrd(library, truth, seed=11)
    pool = ["LiCoO2", "LLZO_cubic", "La2Zr2O7", "Li2CO3", "Co3O4", "LaCoO3", "CoO", "Li2ZrO3"]
    calls: list[tuple] = []
    real = sel._Trial.best_scale

    def counted(self, model, strain, base, start=None):
        calls.append((float(self.state.chi2), model.id, base.shape[1], strain, start))
        return real(self, model, strain, base, start)

    real_own = sel._own_pattern
    asked: list[str] = []

    def reject_once(state, pid, *args):
        # the add-time missing-reflection test rejects the true minor phase the first time
        asked.append(pid)
        if pid == "La2Zr2O7" and asked.count(pid) == 1:
            return type("Verdict", (), {"missing": ("x",), "strangers": (), "misfit": (), "share": 0.0, "fails": True})()
        return real_own(state, pid, *args)

    monkeypatch.setattr(sel._Trial, "best_scale", counted)
    monkeypatch.setattr(sel, "_own_pattern", reject_once)
    state, steps, _ = sel.select_phases(scan, library, pool, QuantConfig())
    rejected = [k for k, s in enumerate(steps) if s["action"] == "reject" and s["phase"] == "La2Zr2O7"]
    assert rejected and any(s["action"] == "stop" for s in steps[rejected[0] :])  # a round ran after it
    assert len(calls) == len(set(calls)), "a candidate was tested twice against the same model"
    assert {m.id for m in state.models} >= {"LiCoO2", "LLZO_cubic"}


def test_standard_errors_made_when_first_read_are_those_made_at_once(library):
    # the covariance step of a fit runs when its errors are first read; read after other fits of the
    # same phases (which replace the models' kept profile blocks) they are the same numbers
    truth = {"LiCoO2": 60.0, "LLZO_cubic": 37.0, "La2Zr2O7": 3.0}
    scan = simulate_xrd(library, truth, seed=13)
    config = QuantConfig(max_nfev=15)
    models, strains, textured = phase_models(scan, library, ["LiCoO2", "LLZO_cubic", "La2Zr2O7"], config)
    now = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    sigma_now, cov_now = now.sigma_scales.copy(), now.nonlinear_cov.copy()
    later = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    assert later._pending is not None  # nothing made yet
    fit_pattern(scan, models[:2], strains=strains[:2], config=QuantConfig(max_nfev=5), textured=textured[:2])
    assert np.array_equal(later.sigma_scales, sigma_now) and np.array_equal(later.nonlinear_cov, cov_now)
    assert later._pending is None and later.nonlinear_sigma == now.nonlinear_sigma
    assert np.all(sigma_now > 0) and now.scales[2] / sigma_now[2] > 3  # real errors: La2Zr2O7 at 3 wt % seen
    # a pickled state carries its errors
    again = pickle.loads(pickle.dumps(fit_pattern(scan, models, strains=strains, config=config, textured=textured)))
    assert np.array_equal(again.sigma_scales, sigma_now)


def test_only_chosen_phases_with_a_family_member_in_the_pool_are_quick_tested_for_a_swap(library, monkeypatch):
    # the family-swap stage tests a chosen phase against its family members; a phase without one among the
    # candidates (LiCoO2 with no other layered oxide, the pyrochlore) has nothing to be swapped for and is
    # not tested, while the garnet beside its twin LLZTO is - and the twin is still reported
    truth = {"LiCoO2": 60.0, "LLZO_cubic": 37.0, "La2Zr2O7": 3.0}
    scan = simulate_xrd(library, truth, seed=11)
    pool = ["LiCoO2", "LLZO_cubic", "La2Zr2O7", "Li2CO3", "Co3O4", "LLZTO_cubic"]
    tested: list[str] = []
    real = sel._Trial.best_scale

    def counted(self, model, strain, base, start=None):
        if model.id in {m.id for m in self.state.models}:  # a phase of the model tested against the others
            tested.append(model.id)
        return real(self, model, strain, base, start)

    monkeypatch.setattr(sel._Trial, "best_scale", counted)
    state, steps, alternatives = sel.select_phases(scan, library, pool, QuantConfig())
    chosen = {m.id for m in state.models}
    assert chosen == {"LiCoO2", "LLZO_cubic", "La2Zr2O7"}
    # (only the swap stage tests a phase of the model; the forward steps, pairs and alternatives test others)
    assert set(tested) == {"LLZO_cubic"}
    assert "LLZTO_cubic" in alternatives["LLZO_cubic"]
