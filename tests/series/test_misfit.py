"""Residual peaks at a modelled reflection (its misfit) are not an unidentified phase of the series.

The single-scan residual reading names an unexplained peak within reach of a modelled reflection at
least as high with that reflection (``near``). A series keeps the distinction: such peaks are listed
as the misfit of their reflection, and only peaks free of any modelled reflection date an
"unidentified from T" onset. The quality records below are the refits' own, from the CPD round robin
run as a series (CPD-1A, 1G, 1E, 1B at 100-400, the phases of its CIF folder).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from phasetrace.quantify.residual import UnexplainedPeak, nearest_reflection
from phasetrace.series.unidentified import misfit_reflections, parse_near, unidentified_phases

TEMPS = [100.0, 200.0, 300.0, 400.0]
LABELS = {t: str(int(t)) for t in TEMPS}


def _pk(tt, d, share, sigma, near=None):
    return {"two_theta": tt, "d": d, "height": 100.0, "share": share, "sigma": sigma, "near": near}


#: unexplained peaks of the four refits (rounded as the records store them)
CPD_QUALITY = {
    100.0: {"unexplained_peaks": [_pk(46.88, 1.9364, 0.0058, 11.5, "fluorite (2 2 0) -0.12°")]},
    200.0: {
        "unexplained_peaks": [
            _pk(46.88, 1.9364, 0.0019, 11.5, "fluorite (2 2 0) -0.12°"),
            _pk(28.32, 3.1488, 0.0004, 8.2, "fluorite (1 1 1) +0.05°"),
            _pk(36.10, 2.4861, 0.0, 7.1, "zincite (1 0 1) -0.16°"),
            _pk(31.62, 2.8273, 0.0016, 6.5, "zincite (1 0 0) -0.15°"),
        ]
    },
    300.0: {
        "unexplained_peaks": [
            _pk(46.86, 1.9372, 0.0021, 13.4, "fluorite (2 2 0) -0.14°"),
            _pk(28.32, 3.1488, 0.001, 9.5, "fluorite (1 1 1) +0.05°"),
            _pk(41.72, 2.1632, 0.0004, 7.1),
            _pk(31.62, 2.8273, 0.0011, 6.7, "zincite (1 0 0) -0.15°"),
        ]
    },
    400.0: {
        "unexplained_peaks": [
            _pk(57.26, 1.6076, 0.0024, 22.1, "Al2O3 (2 -1 6) -0.25°"),
            _pk(25.36, 3.5092, 0.0, 13.8, "Al2O3 (1 0 -2) -0.22°"),
            _pk(34.94, 2.5659, 0.0003, 13.4, "Al2O3 (1 0 4) -0.21°"),
            _pk(66.28, 1.4090, 0.0009, 12.8, "Al2O3 (3 -1 4) -0.24°"),
            _pk(52.32, 1.7472, 0.0005, 12.6, "Al2O3 (2 0 -4) -0.24°"),
            _pk(76.66, 1.2420, 0.0013, 11.4, "Al2O3 (1 0 10) -0.22°"),
            _pk(57.50, 1.6015, 0.0033, 10.7, "Al2O3 (2 -1 6) -0.01°"),
            _pk(26.96, 3.3045, 0.0004, 10.3),
            _pk(41.68, 2.1652, 0.0005, 8.9),
        ]
    },
}


def test_the_residual_readings_reflection_name_is_parsed_back():
    """The series reads what quantify.residual writes: phase, hkl and offset, parentheses in the id too."""
    x = np.linspace(20.0, 40.0, 2001)
    curve = np.exp(-0.5 * ((x - 35.15) / 0.05) ** 2) * 1000.0
    peak = UnexplainedPeak(two_theta=34.94, d=2.566, height=150.0, share=0.001, sigma=13.0)
    for pid in ("Al2O3", "CaNi(PO3)4"):
        near = nearest_reflection(peak, x, [(pid, np.array([35.15]), np.array([[1, 0, 4]]), curve)])
        assert parse_near(near) == (pid, "1 0 4", -0.21)
    assert parse_near("") is None and parse_near(None) is None


def test_misfit_of_modelled_reflections_is_no_unidentified_phase():
    # before: 'unidentified from 200' (onset 100→200) made of the corundum, fluorite and zincite
    # shoulders, listed with 0.0 % shares
    assert unidentified_phases(TEMPS, LABELS, {t: f"s{t}.xye" for t in TEMPS}, CPD_QUALITY) == []
    mis = misfit_reflections(TEMPS, LABELS, CPD_QUALITY)
    by = {(m["phase"], m["hkl"], round(m["two_theta"], 1)): m for m in mis}
    assert sum(m["phase"] == "Al2O3" for m in mis) == 7  # the 400 °C scan's shoulders, at the last scan
    assert by[("Al2O3", "1 0 4", 34.9)]["offset"] == -0.21
    assert by[("Al2O3", "1 0 4", 34.9)]["temperatures_C"] == [400.0]
    assert by[("fluorite", "2 2 0", 46.9)]["temperatures_C"] == [100.0, 200.0, 300.0]
    assert by[("fluorite", "2 2 0", 46.9)]["labels"] == ["100", "200", "300"]
    # one-scan misfits do not persist (zincite (1 0 1) at 200 only); free peaks are not misfits
    assert ("zincite", "1 0 1", 36.1) not in by
    assert not any(round(m["two_theta"]) in (27, 42) for m in mis)


def test_free_peaks_still_make_an_unidentified_phase_and_misfits_do_not_join_it():
    quality = copy.deepcopy(CPD_QUALITY)
    # a stranger's two peaks, free of every modelled reflection, from 300 on
    for t in (300.0, 400.0):
        quality[t]["unexplained_peaks"] += [_pk(32.30, 2.769, 0.03, 20.0), _pk(36.60, 2.453, 0.05, 25.0)]
    out = unidentified_phases(TEMPS, LABELS, {t: f"s{t}.xye" for t in TEMPS}, quality)
    assert [u["id"] for u in out] == ["unidentified from 300"]
    assert out[0]["onset"]["combined"] == [200.0, 300.0]
    # its 41.7° companion (free at 300 and 400) joins it; no reflection's misfit does
    assert [round(p["two_theta"], 1) for p in out[0]["peaks"]] == [27.0, 32.3, 36.6, 41.7]
    # its first weak peaks named with a modelled reflection: a track free at some temperature is
    # not a misfit, and the unknown phase is dated from its first appearance
    quality[200.0]["unexplained_peaks"] += [
        _pk(32.28, 2.771, 0.002, 7.0, "zincite (1 0 0) +0.51°"),
        _pk(36.58, 2.454, 0.003, 7.5, "zincite (1 0 1) +0.32°"),
    ]
    out = unidentified_phases(TEMPS, LABELS, {}, quality)
    assert [u["id"] for u in out] == ["unidentified from 200"]
    assert out[0]["onset"]["combined"] == [100.0, 200.0]


def test_reports_list_misfit_apart_from_unidentified_phases(library):
    from phasetrace.report.html import render_html
    from phasetrace.report.tables import terminal_summary, write_markdown
    from phasetrace.series.results import SeriesResult, SystemResult

    sysr = SystemResult(
        system="CPD mix", temperatures=tuple(TEMPS), labels=tuple(LABELS[t] for t in TEMPS),
        files=(), phases=tuple(unidentified_phases(TEMPS, LABELS, {}, CPD_QUALITY)),
        misfit=tuple(misfit_reflections(TEMPS, LABELS, CPD_QUALITY)),
    )
    doc = json.loads(json.dumps(sysr.to_dict(), allow_nan=False))
    assert doc["unidentified"] == [] and len(doc["misfit_peaks"]) == 10
    md = write_markdown(doc, {}, SimpleNamespace(problems=[]))
    assert "## Unidentified phases" not in md
    assert "## Misfit of modelled reflections" in md
    assert "- Al2O3 (1 0 4): 34.94° (−0.21°, 13σ) at 400" in md
    assert "- fluorite (2 2 0): 46.87° (−0.13°, 13σ) at 100 to 300" in md
    # with the library, reflections are named as in the evidence table: corundum's (0 1 2)
    md = write_markdown(doc, {}, SimpleNamespace(problems=[]), library)
    assert "- Al2O3 (0 1 2): 25.36° (−0.22°, 14σ) at 400" in md
    run = SeriesResult(systems=[sysr], problems=[], counts={}, out=Path("."), store_path=Path("x"))
    text = terminal_summary(run)
    assert "unidentified" not in text.replace("(not unidentified)", "")
    assert "misfit of modelled reflections (not unidentified): 10 residual peak(s), 7 at Al2O3" in text
    assert "Al2O3 (1 0 4): 34.94°" in render_html(run)


@pytest.mark.slow
def test_cpd_round_robin_series_reports_corundum_misfit_not_an_unknown_phase(real, tmp_path):
    from phasetrace.series.analyse import run_series

    data = real("xrd/qpa/cpd-roundrobin")
    manifest = tmp_path / "manifest.csv"
    rows = [f"{data / f'CPD-{s}.xye'},CPD mix,{t}" for s, t in (("1A", 100), ("1G", 200), ("1E", 300), ("1B", 400))]
    manifest.write_text("file,system,temperature_C\n" + "\n".join(rows) + "\n")
    run = run_series(
        manifest, tmp_path / "out", elements=["Al", "Ca", "F", "Zn", "O"],
        libraries=[str(real("cif/cpd-roundrobin"))], progress=False,
    )
    s = run.systems[0]
    assert s.unidentified == ()  # was 'unidentified from 200' (onset 100→200), 11 peaks of ~0 % share
    corundum = [m for m in s.misfit if m["temperatures_C"] == [400.0] and m["phase"] in ("Al2O3", "corundum")]
    assert len(corundum) >= 5 and all(-0.3 < m["offset"] < 0.0 for m in corundum)


def test_results_rows_of_an_unidentified_phase_say_where_its_peaks_are():
    """results.csv: the unidentified phase's row gave no 'detected' (the fit has no such phase), and
    with NaN numbers and the scan's R factors it read as a repeat of the row above it (finding 20)."""
    from phasetrace.report.tables import results_rows
    from phasetrace.series.results import SeriesResult, SystemResult

    quality = copy.deepcopy(CPD_QUALITY)
    for t in (300.0, 400.0):
        quality[t]["unexplained_peaks"] += [_pk(32.30, 2.769, 0.03, 20.0), _pk(36.60, 2.453, 0.05, 25.0)]
    files = {t: f"s{int(t)}.xye" for t in TEMPS}
    sysr = SystemResult(
        system="CPD mix", temperatures=tuple(TEMPS), labels=tuple(LABELS[t] for t in TEMPS),
        files=tuple({"file": files[t], "technique": "xrd", "temperature_C": t} for t in TEMPS),
        phases=tuple(unidentified_phases(TEMPS, LABELS, files, quality)),
    )  # fmt: skip
    records = {
        files[t]: {"file": files[t], "stage": "refit", "status": "ok", "result": {"phases": [], "rwp": 0.1}}
        for t in TEMPS
    }
    run = SeriesResult(
        systems=[sysr], problems=[], counts={}, out=Path("."), store_path=Path("x"), records=records
    )
    rows = [r for r in results_rows(run) if r["role"] == "unidentified"]
    assert [(r["temperature_C"], r["detected"]) for r in rows] == [
        (100.0, False), (200.0, False), (300.0, True), (400.0, True)
    ]
    assert all(np.isnan(r["wt_percent"]) for r in rows)


def test_an_unidentified_phases_peaks_show_no_zero_share():
    """Its evidence row gave '25.36° (0 %, 14σ)', a share of a calculated pattern it has none of, and
    its peak list '0.0 %' for peaks of 0.04 % of the diffracted intensity."""
    from phasetrace.report.tables import evidence_rows, unidentified_lines

    quality = copy.deepcopy(CPD_QUALITY)
    for t in (300.0, 400.0):
        quality[t]["unexplained_peaks"] += [_pk(32.30, 2.769, 0.03, 20.0), _pk(36.60, 2.453, 0.05, 25.0)]
    (u,) = unidentified_phases(TEMPS, LABELS, {t: f"s{t}.xye" for t in TEMPS}, quality)
    doc = {"phases": [json.loads(json.dumps(u.to_dict()))], "labels": ["100", "200", "300", "400"],
           "temperatures": TEMPS}  # fmt: skip
    (row,) = evidence_rows(doc)
    assert "32.30° (2.769 Å, 20σ)" in row["evidence"] and "%" not in row["evidence"]
    lines = "\n".join(unidentified_lines(doc))
    assert "26.96° (3.304 Å, <0.1 %, 10σ)" in lines and "32.30° (2.769 Å, 3.0 %, 20σ)" in lines
