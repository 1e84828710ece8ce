"""A refit resumes the second stage of a finished fit of the same phases (quantify/resume.py)."""

from __future__ import annotations

import pytest

from phasetrace.quantify import QuantConfig, quantify
from phasetrace.quantify.phase_models import phase_models
from phasetrace.quantify.resume import SECOND_STAGE_KEY, resume_second_stage
from phasetrace.simulate import simulate_xrd

TRUTH = {"LLZTO_cubic": 55.0, "LiCoO2": 40.0, "La2Zr2O7": 5.0}


@pytest.fixture(scope="module")
def textured_scan(library):
    return simulate_xrd(
        library, TRUTH, seed=5, lattice_scale={"LLZTO_cubic": 1.002, "LiCoO2": 1.003},
        displacement_um=30, crystallite_size_nm={"LLZTO_cubic": 300, "LiCoO2": 150, "La2Zr2O7": 50},
        texture={"LiCoO2": ((0, 0, 1), 0.85)},
    )


@pytest.fixture(scope="module")
def first(library, textured_scan):
    """The finished two-stage fit whose start values a refit gets."""
    return quantify(textured_scan, list(TRUTH), QuantConfig(), library=library)


def _resume(library, scan, phases, start):
    cfg = QuantConfig()
    models, strains, textured = phase_models(scan, library, phases, cfg)
    return resume_second_stage(scan, models, strains, textured, cfg, start)


def test_the_second_stage_is_recorded_with_the_start_values(first):
    terms = first.start_values[SECOND_STAGE_KEY]
    assert set(terms) == set(TRUTH)
    # the strong layered phase got the full cell, ΔB and its (00l) texture axis
    assert terms["LiCoO2"]["full_cell"] and terms["LiCoO2"]["b"]
    assert terms["LiCoO2"]["texture_axis"] == [0, 0, 1]
    assert first["LiCoO2"].cell_refinement == "full"
    # a cubic phase has one cell parameter: no "full" cell
    assert not terms["LLZTO_cubic"]["full_cell"]


def test_refit_of_the_same_phases_resumes_and_lands_where_the_fit_ended(library, textured_scan, first):
    state = _resume(library, textured_scan, list(TRUTH), first.start_values)
    assert state is not None
    assert {"LiCoO2:cell_c", "LiCoO2:b", "LiCoO2:texture"} <= set(state.names)
    # from the converged values: a few evaluations, not a fit from the first stage
    assert state.nfev <= 6
    again = quantify(textured_scan, list(TRUTH), QuantConfig(), library=library, start=first.start_values)
    for pid in TRUTH:
        assert again[pid].wt_percent == pytest.approx(first[pid].wt_percent, abs=0.05)
        assert again[pid].detected == first[pid].detected
    assert again.rwp == pytest.approx(first.rwp, rel=1e-3)
    # the same refit done in full (no recorded terms) decides the same terms and lands at the same place
    plain = {k: v for k, v in first.start_values.items() if k != SECOND_STAGE_KEY}
    full = quantify(textured_scan, list(TRUTH), QuantConfig(), library=library, start=plain)
    for pid in TRUTH:
        assert again[pid].wt_percent == pytest.approx(full[pid].wt_percent, abs=0.1)
    assert again["LiCoO2"].texture_axis == full["LiCoO2"].texture_axis == (0, 0, 1)


def test_a_held_union_phase_joins_the_resumed_refit(library, textured_scan, first):
    start = dict(first.start_values)
    start["LaCoO3"] = {"scale": 1.0, "size": 0.05, "strain": 0.03, "fixed": True}
    state = _resume(library, textured_scan, [*TRUTH, "LaCoO3"], start)
    assert state is not None
    # held: its scale factor is fitted, nothing else
    assert not [n for n in state.names if n.startswith("LaCoO3:")]
    assert "LiCoO2:b" in state.names
    # a union phase no identification found (Raman only) enters as a held trace: its library cell and
    # the detection limit's width (series.rules.refit_starts), and the refit still resumes
    from phasetrace.quantify.limits import LOD_SIZE

    start["LaCoO3"] = {"size": LOD_SIZE, "fixed": True}
    state = _resume(library, textured_scan, [*TRUTH, "LaCoO3"], start)
    assert state is not None and state.nfev <= 6
    assert not [n for n in state.names if n.startswith("LaCoO3:")]
    held = state.per_phase[[m.id for m in state.models].index("LaCoO3")]
    assert held["scale"] == 1.0 and held["size"] == LOD_SIZE


def test_other_phase_sets_take_the_full_fit(library, textured_scan, first):
    start = first.start_values
    plain = {k: v for k, v in start.items() if k != SECOND_STAGE_KEY}
    assert _resume(library, textured_scan, list(TRUTH), plain) is None
    # a phase with neither the fit's own values nor held ones (a series holds a Raman-only phase)
    assert _resume(library, textured_scan, [*TRUTH, "LaCoO3"], start) is None
    # a phase of the finished fit left out of the refit
    assert _resume(library, textured_scan, ["LLZTO_cubic", "LiCoO2"], start) is None
    assert _resume(library, textured_scan, list(TRUTH), None) is None
