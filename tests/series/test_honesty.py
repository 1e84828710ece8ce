"""Series-level honesty (issue 14): unidentified phases from T, onset evidence, twins fitted together."""

from __future__ import annotations

from pathlib import Path

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


def test_reports_carry_fit_quality_onset_basis_and_unidentified_phases():
    """summary.json, results rows, the Markdown report and the terminal summary show what issue 14 adds."""
    import json
    from types import SimpleNamespace

    from phasetrace.report.tables import terminal_summary, write_markdown
    from phasetrace.series.results import ScanQuality, SeriesResult, SystemResult

    quality = {
        25.0: _q(),
        600.0: _q(),
        700.0: _q((32.30, 0.03), (36.08, 0.05)),
        800.0: _q((32.33, 0.06), (36.10, 0.09)),
        900.0: _q((32.36, 0.08), (36.12, 0.12)),
    }
    unknown = unidentified_phases(TEMPS, LABELS, {t: f"s{t}.xy" for t in TEMPS}, quality)
    fq = tuple(
        ScanQuality.from_record(
            t, LABELS[t], f"s{t}.xy",
            {"rwp": 0.1, "rexp": 0.05, "gof": 2.0 if t < 700 else 4.5, "flag": "ok" if t < 700 else "poor",
             "quality": {"message": "" if t < 700 else "poor fit: unexplained peaks at 32.33°, 36.10°"}},
        )
        for t in TEMPS
    )
    sysr = SystemResult(
        system="X + Y", temperatures=tuple(TEMPS), labels=tuple(LABELS[t] for t in TEMPS),
        files=tuple({"file": f"s{t}.xy", "technique": "xrd", "temperature_C": t} for t in TEMPS),
        phases=tuple(unknown), fit_quality=fq,
    )
    doc = json.loads(json.dumps(sysr.to_dict(), allow_nan=False))
    assert doc["unidentified"] == ["unidentified from 700"]
    assert [q["flag"] for q in doc["fit_quality"]] == ["ok", "ok", "poor", "poor", "poor"]
    assert doc["phases"][0]["onset_basis"] == "XRD (unexplained peaks)"
    rows = sysr.to_records()
    assert {r["fit_flag"] for r in rows if r["temperature_C"] >= 700} == {"poor"}
    assert all(r["gof"] == 4.5 for r in rows if r["temperature_C"] == 800)
    md = write_markdown(doc, {}, SimpleNamespace(problems=[]))
    assert "## Unidentified phases" in md and "32.33°" in md
    assert "## Fit quality" in md and "poor: poor fit: unexplained peaks" in md
    assert "XRD (unexplained peaks)" in md and "present" in md  # wt cell of an unquantified phase
    run = SeriesResult(systems=[sysr], problems=[], counts={}, out=Path("."), store_path=Path("x"))
    text = terminal_summary(run)
    assert "fit quality: 5 XRD refits" in text and "unidentified from 700: unexplained peaks at" in text
