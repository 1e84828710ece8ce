"""Series-level honesty (issue 14): unidentified phases from T, onset evidence, twins fitted together."""

from __future__ import annotations

from phasetrace.series.onsets import combine, evolution, onset_basis, screen_onset_evidence, xrd_evidence_ok
from phasetrace.series.unidentified import unidentified_phases

TEMPS = [25.0, 600.0, 700.0, 800.0, 900.0]
LABELS = {t: ("RT" if t == 25.0 else str(int(t))) for t in TEMPS}


def _q(*peaks):
    return {
        "unexplained_peaks": [
            {"two_theta": tt, "d": 1.5406 / (2 * __import__("math").sin(__import__("math").radians(tt / 2))),
             "share": sh, "sigma": 20.0}
            for tt, sh in peaks
        ]
    }


def test_persistent_unexplained_peaks_are_an_unidentified_phase_with_an_onset():
    quality = {
        25.0: _q(),
        600.0: _q((44.1, 0.01)),  # a one-scan glitch: not a phase
        700.0: _q((32.30, 0.03), (36.08, 0.05)),
        800.0: _q((32.33, 0.06), (36.10, 0.09), (59.9, 0.01)),
        900.0: _q((32.36, 0.08), (36.12, 0.12)),
    }
    out = unidentified_phases(TEMPS, LABELS, {t: f"s{t}.xy" for t in TEMPS}, quality)
    assert len(out) == 1
    u = out[0]
    assert u["id"] == "unidentified from 700" and u["role"] == "unidentified"
    assert u["onset"]["combined"] == [600.0, 700.0] and not u["present_from_start"]
    assert [round(p["two_theta"], 1) for p in u["peaks"]] == [32.3, 36.1]
    assert u["peaks"][1]["share"] == 0.12
    assert u["wt_percent_by_T"]["800"]["detected_xrd"] is True
    assert u["wt_percent_by_T"]["RT"]["detected_xrd"] is False


def test_no_unidentified_phase_without_persistent_peaks():
    quality = {t: _q((30.0 + i, 0.01)) for i, t in enumerate(TEMPS)}  # a different peak every time
    assert unidentified_phases(TEMPS, LABELS, {}, quality) == []
    assert unidentified_phases(TEMPS, LABELS, {}, dict.fromkeys(TEMPS)) == []


def test_an_onset_needs_a_significant_reflection_of_its_own():
    own = [{"share": 0.9, "sigma": 12.0}, {"share": 0.3, "sigma": 5.0}]
    one_overlapped = [{"share": 0.2, "sigma": 8.0}]
    weak_own = [{"share": 0.9, "sigma": 2.0}, {"share": 0.1, "sigma": 9.0}]
    assert xrd_evidence_ok(own)
    assert not xrd_evidence_ok(one_overlapped)
    assert not xrd_evidence_ok(weak_own)
    assert not xrd_evidence_ok([])
    flags = [False, True, True, True, True]
    ev = [None, one_overlapped, one_overlapped, own, own]
    screened = screen_onset_evidence(flags, ev)
    assert screened == [False, None, None, True, True]
    assert evolution(TEMPS, screened).onset == (25.0, 800.0)
    # Raman at the same temperature confirms a weak XRD detection
    raman = [False, False, True, True, True]
    xrd = screen_onset_evidence(flags, ev, raman)
    assert evolution(TEMPS, xrd).onset == (25.0, 700.0)  # by XRD alone, 600 °C is no test either way
    assert evolution(TEMPS, combine(TEMPS, xrd, raman)).onset == (600.0, 700.0)
    assert onset_basis(TEMPS, (600.0, 700.0), [False, None, True, True, True], raman) == "XRD and Raman"
    assert onset_basis(TEMPS, (600.0, 700.0), [False, None, None, True, True], raman) == "Raman"


def test_twins_fitted_side_by_side_stay_two_phases(library):
    from phasetrace.series.rules import merge_twins

    found = ["NMC811", "NiO", "MgO"]
    kept, dropped = merge_twins(library, found, {"NiO": 3, "MgO": 3}, {"NMC811"})
    assert len(kept) == 2 and dropped  # found in different scans: one rock salt
    kept, dropped = merge_twins(library, found, {"NiO": 3, "MgO": 3}, {"NMC811"}, None, {frozenset(("NiO", "MgO"))})
    assert kept == found and not dropped
