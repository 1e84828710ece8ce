"""The benchmark's accuracy metrics on hand-made inputs."""

from __future__ import annotations

import math

import pytest

from benchmarks import metrics as m

LAMO3 = {"LaMO3": ["LaCoO3", "LaNiO3"]}


# ----------------------------------------------------------------------------- identification
def test_identification_counts_tp_fp_fn_and_ignores_small_phases():
    truth = [
        {"LiCoO2": 48.0, "LLZTO_cubic": 48.0, "La2Zr2O7": 3.0, "Li2CO3": 0.5, "MgO": 0.0},
        {"NMC811": 50.0, "LLZTO_cubic": 48.5, "LaNiO3": 1.5},
    ]
    found = [
        ["LiCoO2", "LLZTO_cubic", "Li2CO3", "MgO"],  # misses La2Zr2O7; Li2CO3 < 1 wt % ignored; MgO false
        ["NMC811", "LLZTO_cubic", "LaNiO3"],
    ]
    r = m.identification(truth, found)
    assert (r.tp, r.fp, r.fn, r.ignored) == (5, 1, 1, 1)
    assert r.precision == pytest.approx(5 / 6)
    assert r.recall == pytest.approx(5 / 6)


def test_identification_threshold_is_inclusive():
    r = m.identification([{"A": 1.0}], [[]])
    assert (r.tp, r.fn) == (0, 1)
    assert math.isnan(r.precision) and r.recall == 0.0


def test_identification_with_equivalents_accepts_a_family_confusion():
    truth = [{"NMC811": 97.0, "LaNiO3": 3.0}]
    found = [["NMC811", "LaCoO3"]]
    strict = m.identification(truth, found)
    assert (strict.tp, strict.fp, strict.fn) == (1, 1, 1)
    family = m.identification(truth, found, equivalents=LAMO3)
    assert (family.tp, family.fp, family.fn) == (2, 0, 0)


def test_identification_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        m.identification([{}], [[], []])


# ----------------------------------------------------------------------------- wt % errors
def test_wt_errors_split_minor_major_and_count_missing_as_zero():
    truth = [{"A": 60.0, "B": 36.0, "C": 3.0, "D": 1.0, "E": 0.2}]
    pred = [{"A": 61.5, "B": 33.0, "C": 3.4}]  # D missing -> predicted 0; E below min_wt not scored
    r = m.wt_errors(truth, pred)
    assert r["major"].n == 2
    assert r["major"].mean == pytest.approx((1.5 + 3.0) / 2)
    assert r["major"].max == pytest.approx(3.0)
    assert r["major"].within == 1 and r["major"].within_rate == pytest.approx(0.5)
    assert r["minor"].n == 2
    assert r["minor"].median == pytest.approx((0.4 + 1.0) / 2)
    assert r["minor"].within == 1


def test_wt_errors_minor_boundary_is_inclusive_and_empty_is_nan():
    r = m.wt_errors([{"A": 5.0}], [{"A": 5.0}])
    assert r["minor"].n == 1 and r["major"].n == 0
    assert math.isnan(r["major"].mean)


def test_wt_errors_merge_equivalents():
    r = m.wt_errors([{"LaNiO3": 2.0}], [{"LaCoO3": 1.8}], equivalents=LAMO3)
    assert r["minor"].mean == pytest.approx(0.2)


# ----------------------------------------------------------------------------- onsets
def test_onset_match_counts_exact_missed_wrong_and_spurious():
    truth = {
        ("S", "La2Zr2O7"): 700.0,
        ("S", "LaCoO3"): 700.0,
        ("S", "Li2MnO3"): 800.0,
        ("S", "Li2CO3"): None,  # present from the start: no onset
    }
    reported = {
        ("S", "La2Zr2O7"): 700.0,
        ("S", "LaCoO3"): 800.0,
        ("S", "Li2CO3"): 600.0,
        ("S", "MgO"): 900.0,  # not in the truth at all
    }
    r = m.onset_match(truth, reported)
    assert (r.n, r.exact, r.missed, r.wrong, r.spurious) == (3, 1, 1, 1, 2)
    assert r.rate == pytest.approx(1 / 3)
    assert (("S", "LaCoO3"), 700.0, 800.0) in r.mismatches


def test_onset_match_equivalents_merge_twins():
    # the truth's LaCoO3 reported as its twin LaNiO3: a miss and a spurious onset, one match as a family
    truth = {("S", "LaCoO3"): 700.0, ("S", "LaNiO3"): None, ("S", "NiO"): 800.0}
    reported = {("S", "LaNiO3"): 700.0, ("S", "NiO"): 800.0}
    r = m.onset_match(truth, reported)
    assert (r.n, r.exact, r.missed, r.spurious) == (2, 1, 1, 1)
    r = m.onset_match(truth, reported, equivalents=LAMO3)
    assert (r.n, r.exact, r.missed, r.spurious) == (2, 2, 0, 0)
    # a family's onset is its earliest member's
    r = m.onset_match(truth, {("S", "LaNiO3"): 800.0, ("S", "LaCoO3"): 700.0}, equivalents=LAMO3)
    assert r.exact == 1 and r.wrong == 0


def test_onset_match_empty_truth():
    r = m.onset_match({}, {})
    assert r.n == 0 and math.isnan(r.rate)


# ----------------------------------------------------------------------------- false detections
def test_false_detections_over_absent_candidate_pairs():
    truth = [{"A": 50.0, "B": 50.0}, {"A": 99.0, "C": 1.0}]
    found = [["A", "B", "X"], ["A", "Y", "C"]]
    cands = [["A", "B", "X", "Y", "Z"], ["A", "C", "X", "Y"]]
    r = m.false_detections(truth, found, cands)
    assert r.pairs == 3 + 2
    assert r.false == 2
    assert r.rate == pytest.approx(0.4)


def test_false_detections_with_equivalents():
    truth = [{"NMC811": 50.0, "LaNiO3": 2.0}]
    found = [["NMC811", "LaCoO3"]]
    cands = [["NMC811", "LaNiO3", "LaCoO3", "MgO"]]
    assert m.false_detections(truth, found, cands).false == 1
    r = m.false_detections(truth, found, cands, equivalents=LAMO3)
    assert (r.pairs, r.false) == (1, 0)  # only MgO is absent


def test_false_detections_needs_one_entry_per_scan():
    with pytest.raises(ValueError):
        m.false_detections([{}], [[]], [])


def test_below_own_lod():
    rows = [(0.3, 0.5, True), (0.3, 0.5, False), (0.8, 0.5, True), (0.1, None, True), (None, 0.2, True)]
    assert m.below_own_lod(rows) == 1


# ----------------------------------------------------------------------------- ranking
def test_rank_separation():
    truth = [
        {"A": 60.0, "B": 37.0, "C": 3.0},
        {"A": 60.0, "B": 37.0, "C": 3.0},
        {"A": 98.0, "C": 2.0},  # C below 3 wt % may rank anywhere
        {"A": 95.0, "B": 5.0},  # B not listed -> fails
        {"Q": 0.5},  # no phase >= 3 wt %: not a case
    ]
    rankings = [
        ["A", "C", "B", "X"],
        ["A", "X", "B", "C"],  # absent X above B
        ["A", "X", "C"],
        ["A", "X"],
        ["X"],
    ]
    r = m.rank_separation(truth, rankings)
    assert (r.cases, r.separated) == (4, 2)
    assert r.failures == [1, 3]


def test_top_ranks_match():
    assert m.top_ranks_match(["A", "B"], ["B", "A", "C"])
    assert not m.top_ranks_match(["A", "B"], ["B", "C", "A"])
    assert not m.top_ranks_match(["A", "B"], ["A"])
    assert m.top_ranks_match(["NMC811", "LaNiO3"], ["LaCoO3", "NMC811"], equivalents=LAMO3)


def test_median_ignores_nan_and_none():
    assert m.median([3.0, float("nan"), 1.0, None, 2.0]) == 2.0
    assert math.isnan(m.median([]))


def test_merge_equivalents_sums_a_group():
    assert m.merge_equivalents({"LaCoO3": 1.0, "LaNiO3": 0.5, "X": 2.0}, LAMO3) == {"LaMO3": 1.5, "X": 2.0}


def test_stage_shares_keep_the_pipeline_order_and_refuse_a_breakdown_that_does_not_add_up():
    stages = {
        "load": {"seconds": 1.0, "per_scan_s": 0.01, "share": 0.1},
        "selection": {"seconds": 8.0, "per_scan_s": 0.2, "share": 0.8},
        "figures": {"seconds": 1.0, "per_scan_s": 0.01, "share": 0.1},
    }
    assert [k for k, _ in m.stage_shares(stages)] == ["load", "selection", "figures"]
    assert [k for k, _ in m.stage_shares(stages, min_share=0.5)] == ["selection"]
    assert m.stage_shares({}) == []
    with pytest.raises(ValueError, match="add up"):
        m.stage_shares({**stages, "load": {"seconds": 1.0, "per_scan_s": 0.01, "share": 0.3}})
    with pytest.raises(ValueError):
        m.stage_shares({"load": {"seconds": -1.0, "per_scan_s": 0.0, "share": 1.0}})
