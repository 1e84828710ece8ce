"""Replicate pellets at one temperature merged into one point (the rule in phasetrace.series.replicates)."""

from __future__ import annotations

import math

import pytest

from phasetrace.series.replicates import merge_replicates, replicate_fields


def _rec(detected, wt=None, esd=None, lod=None, **more):
    out = {"detected": detected, **more}
    if wt is not None:
        out.update(wt_percent=wt, esd=esd, lod_wt_percent=lod)
    return out


def test_one_scan_is_passed_on_unchanged():
    recs = {"X": _rec(True, 2.0, 0.2, 0.5)}
    assert merge_replicates([("a.xy", recs)]) is recs
    assert replicate_fields(recs["X"], None) == {}


def test_detected_in_any_replicate_with_mean_sd_and_the_individual_values():
    scans = [
        ("a.xy", {"X": _rec(False, 0.1, 0.05, 0.4, evidence=["weak"]), "H": _rec(True, 60.0, 0.1, 0.3)}),
        ("b.xy", {"X": _rec(True, 1.3, 0.10, 0.5, evidence=["strong"]), "H": _rec(True, 58.0, 0.1, 0.3)}),
        ("c.xy", {"X": _rec(False, 0.4, 0.20, 0.6, evidence=[]), "H": _rec(True, 59.0, 0.1, 0.3)}),
    ]
    m = merge_replicates(scans)
    x = m["X"]
    assert x["detected"] is True and (x["n_detected"], x["n_replicates"]) == (1, 3)
    assert x["wt_percent"] == pytest.approx(0.6)
    assert x["wt_sd"] == pytest.approx(math.sqrt(((0.5**2) + (0.7**2) + (0.2**2)) / 2))
    assert x["lod_wt_percent"] == 0.6  # below the largest limit in every pellet
    # the evidence shown is the detecting pellet's
    assert x["file"] == "b.xy" and x["evidence"] == ["strong"]
    assert [r["file"] for r in x["replicates"]] == ["a.xy", "b.xy", "c.xy"]
    assert [r["wt_percent"] for r in x["replicates"]] == [0.1, 1.3, 0.4]
    # two pellets that agree closer than one fit's esd keep the fit's esd as the error bar
    h = m["H"]
    assert h["wt_sd"] == pytest.approx(1.0) and h["esd"] == pytest.approx(1.0)
    close = merge_replicates([("a", {"H": _rec(True, 59.0, 0.5, 0.3)}), ("b", {"H": _rec(True, 59.1, 0.5, 0.3)})])
    assert close["H"]["wt_sd"] == pytest.approx(0.0707, abs=1e-3) and close["H"]["esd"] == pytest.approx(0.5)


def test_not_detected_anywhere_and_untestable():
    m = merge_replicates([("a", {"X": _rec(False, 0.0, 0.1, 0.3)}), ("b", {"X": _rec(False, 0.1, 0.1, 0.5)})])
    assert m["X"]["detected"] is False and m["X"]["n_detected"] == 0 and m["X"]["lod_wt_percent"] == 0.5
    # a Raman-silent phase (detected None in every spectrum) stays untestable
    m = merge_replicates([("a", {"S": _rec(None, status="untestable")}), ("b", {"S": _rec(None)})])
    assert m["S"]["detected"] is None


def test_raman_replicates_keep_status_and_significance():
    m = merge_replicates(
        [
            ("a.txt", {"R": _rec(False, significance=1.2, status="not detected")}),
            ("b.txt", {"R": _rec(True, significance=9.0, status="detected", bands=[600.0])}),
        ]
    )
    r = m["R"]
    assert (r["detected"], r["status"], r["bands"], r["file"]) == (True, "detected", [600.0], "b.txt")
    assert "wt_percent" not in r
    fields = replicate_fields(None, r)
    assert fields["n_replicates"] == 2 and fields["n_detected_raman"] == 1
    assert [x["significance"] for x in fields["replicates_raman"]] == [1.2, 9.0]


def test_a_phase_missing_from_one_replicate_is_merged_from_the_others():
    m = merge_replicates([("a", {"X": _rec(True, 1.0, 0.1, 0.3)}), ("b", {})])
    assert m["X"]["n_replicates"] == 1 and m["X"]["wt_percent"] == 1.0 and m["X"]["wt_sd"] == 0.0
