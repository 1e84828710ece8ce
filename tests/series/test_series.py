"""A small simulated heating series end to end: onsets, reports, resumability, process pool, Dask."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.io import save
from phasetrace.report.run import write_reports
from phasetrace.series import collect, run_series
from phasetrace.simulate import simulate_raman, simulate_xrd

SYSTEM = "pc-LCO + LLZTO"
#: wt % per temperature: La2Zr2O7 appears at 700 and vanishes at 900; LaCoO3 appears at 700.
SERIES = {
    25: {"LLZTO_cubic": 50, "LiCoO2": 50},
    600: {"LLZTO_cubic": 50, "LiCoO2": 50},
    700: {"LLZTO_cubic": 48.5, "LiCoO2": 48.5, "La2Zr2O7": 2.0, "LaCoO3": 1.0},
    900: {"LLZTO_cubic": 48, "LiCoO2": 48, "LaCoO3": 4.0},
}


@pytest.fixture(scope="module")
def series_dir(tmp_path_factory, library):
    d = tmp_path_factory.mktemp("series")
    for k, (t, fr) in enumerate(SERIES.items()):
        label = "RT" if t == 25 else str(t)
        xrd = simulate_xrd(library, fr, seed=100 + k, displacement_um=20 * k)
        save(xrd, d / f"{SYSTEM}-{label}.xy")
        raman = simulate_raman(library, fr, seed=200 + k)
        save(raman, d / f"{SYSTEM}-{label}_raman.txt")
    (d / "notes.txt").write_text("not a scan\n")
    return d


def test_collect_groups_and_reports_bad_files(series_dir):
    entries, problems = collect(series_dir)
    assert len(entries) == 8
    assert {e.technique for e in entries} == {"xrd", "raman"}
    assert {e.system for e in entries} == {SYSTEM}
    assert sorted({e.temperature_C for e in entries}) == [25, 600, 700, 900]
    assert [p[0].endswith("notes.txt") for p in problems] == [True]


@pytest.fixture(scope="module")
def run1(series_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return run_series(series_dir, out, progress=False)


def test_series_onsets_and_fractions(run1):
    (s,) = run1.systems
    assert s["system"] == SYSTEM and s["labels"] == ["RT", "600", "700", "900"]
    phases = {p["id"]: p for p in s["phases"]}
    assert phases["LLZTO_cubic"]["role"] == "host" and phases["LLZTO_cubic"]["onset"]["combined"] is None
    assert phases["La2Zr2O7"]["onset"]["xrd"] == [600, 700]
    assert phases["La2Zr2O7"]["vanishes_at"] == 900
    assert phases["LaCoO3"]["onset"]["combined"] == [600, 700]
    wt = phases["LaCoO3"]["wt_percent_by_T"]
    assert wt["900"]["wt_percent"] == pytest.approx(4.0, abs=0.6)
    assert not wt["600"]["detected_xrd"] and wt["600"]["lod_wt_percent"] > 0
    assert any(p["file"].endswith("notes.txt") for p in run1.problems)
    # twins named beside a phase are of its own family and not themselves in the report
    assert set(phases["LaCoO3"]["alternatives"]) <= {"LaNiO3", "LaMnO3_R3c", "LaMnO3_Pnma"}
    assert set(phases["LLZTO_cubic"]["alternatives"]) <= {"LLZO_cubic"}
    assert not {a for p in phases.values() for a in p["alternatives"]} & set(phases)


def test_onsets_name_the_reflections_and_bands_that_carry_them(run1):
    (s,) = run1.systems
    ev = {p["id"]: p["evidence"] for p in s["phases"]}["La2Zr2O7"]
    # first seen at 700 in both techniques; its strongest reflection (222) near 28.6° is its own
    assert ev["xrd"]["temperature_C"] == 700 and ev["xrd"]["file"].endswith("-700.xy")
    top = ev["xrd"]["reflections"][0]
    assert top["hkl"] == [[2, 2, 2]] and top["two_theta"] == pytest.approx(28.6, abs=0.1)
    assert top["share"] > 0.9 and top["sigma"] > 3
    assert ev["raman"]["temperature_C"] == 700 and ev["raman"]["file"].endswith("-700_raman.txt")
    # the pyrochlore's strongest band, near 300 cm-1, carries most of its area
    band = ev["raman"]["bands"][0]
    assert 280 < band["position_cm1"] < 320 and band["area_share"] > 0.3


def test_reports_are_written(run1):
    written = write_reports(run1, figures=True)
    doc = json.loads(written["json"].read_text())
    sysdoc = doc["systems"][0]
    assert {"system", "temperatures", "phases"} <= set(sysdoc)
    p = sysdoc["phases"][0]
    assert {"id", "formula", "onset", "vanishes_at", "wt_percent_by_T"} <= set(p)
    assert set(p["onset"]) == {"xrd", "raman", "combined"}
    rows = list(csv.DictReader(written["csv"].open()))
    # one row per file (4 XRD, 4 Raman) and phase
    assert len(rows) == len(sysdoc["phases"]) * 8 and all(r["file"] for r in rows)
    md = next(v for k, v in written.items() if k.startswith("md:")).read_text()
    assert "La2Zr2O7" in md and "only as fine as the temperature grid" in md
    # summary.json is written last: its breakdown has the figures' time
    assert doc["run"]["stages"]["figures"]["seconds"] > 0
    assert "## Evidence of the first detection" in md and "| La2Zr2O7 | XRD | 700 | (2 2 2) 28." in md
    for name in ("waterfall_pc_LCO_LLZTO", "wt_pc_LCO_LLZTO", "raman_pc_LCO_LLZTO", "onsets"):
        assert (run1.out / f"{name}.png").stat().st_size > 5000
        assert (run1.out / f"{name}.svg").exists()
    with sqlite3.connect(run1.store_path) as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] >= 12


def test_the_run_section_says_where_the_time_went(run1, tmp_path):
    written = write_reports(run1, figures=False, html=False)
    run = json.loads(written["json"].read_text())["run"]
    assert run["jobs"] == 1 and run["scans_analysed"] == 8 and run["analysis_wall_s"] > 0
    stages = run["stages"]
    assert {"collect", "load", "ranking", "selection", "final fit", "raman", "store", "reports"} <= set(stages)
    assert sum(v["share"] for v in stages.values()) == pytest.approx(1.0)
    # the fits are where a scan's time goes, not loading or storing it
    fits = stages["selection"]["seconds"] + stages["final fit"]["seconds"]
    assert fits > 10 * (stages["load"]["seconds"] + stages["store"]["seconds"])
    # medians over the scans that ran the stage: 4 XRD scans were ranked, 4 Raman spectra fitted
    assert stages["ranking"]["per_scan_s"] > 0 and stages["raman"]["per_scan_s"] > 0


def test_rerun_reuses_every_result(series_dir, run1):
    again = run_series(series_dir, run1.out, progress=False)
    assert again.counts["done"] == 0 and again.counts["skipped"] >= 12
    assert again.systems == run1.systems


def test_interrupted_run_resumes_to_the_same_result(series_dir, run1, tmp_path):
    """Delete some stored results (as a kill -9 would lose the scans in flight) and resume."""
    import shutil

    out = tmp_path / "partial"
    shutil.copytree(run1.out, out)
    with sqlite3.connect(out / "series.sqlite") as db:
        keys = [k for (k,) in db.execute("SELECT key FROM results WHERE stage = 'refit' LIMIT 2")]
        db.executemany("DELETE FROM results WHERE key = ?", [(k,) for k in keys])
    resumed = run_series(series_dir, out, progress=False)
    assert resumed.counts["done"] == 2
    assert resumed.systems == run1.systems


def test_two_jobs_give_the_same_result(series_dir, run1, tmp_path):
    par = run_series(series_dir, tmp_path / "par", jobs=2, progress=False)
    assert par.systems == run1.systems


def test_dask_example_on_a_local_cluster_gives_the_same_result(series_dir, run1, tmp_path):
    """The documented scale-out example (examples/dask_series.py) with a LocalCluster of two workers."""
    import runpy

    pytest.importorskip("distributed", reason="dask distributed not installed (pip install distributed)")
    example = Path(__file__).parents[2] / "examples" / "dask_series.py"
    main_ = runpy.run_path(str(example))["main"]
    out = tmp_path / "dask"
    assert main_([str(series_dir), "--out", str(out), "--workers", "2", "--no-figures"]) == 0
    doc = json.loads((out / "summary.json").read_text())
    assert doc["systems"] == json.loads(json.dumps(run1.to_dict()["systems"]))
    # every task ran on the cluster: its stage timers came back with the results
    assert doc["run"]["scans_analysed"] == 8 and doc["run"]["scheduler"].startswith("tcp://")
    assert main_([str(tmp_path / "nope"), "--out", str(tmp_path / "o2"), "--workers", "1"]) == 2


def test_series_cli_json(series_dir, run1):
    r = CliRunner().invoke(
        main, ["series", str(series_dir), "--out", str(run1.out), "--json", "--no-figures"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output[r.output.index("{") :])
    assert doc["systems"][0]["system"] == SYSTEM


def test_series_cli_with_two_jobs_gives_the_same_result(series_dir, run1, tmp_path):
    out = tmp_path / "cli2"
    r = CliRunner().invoke(main, ["series", str(series_dir), "--out", str(out), "--jobs", "2", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output[r.output.index("{") :])
    assert doc["systems"] == json.loads(json.dumps(run1.to_dict()["systems"]))
    assert (out / "waterfall_pc_LCO_LLZTO.png").stat().st_size > 5000 and (out / "onsets.svg").exists()


def test_series_cli_bad_source(tmp_path):
    r = CliRunner().invoke(main, ["series", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no such folder or manifest" in r.output


def test_twins_found_at_different_temperatures_merge_into_the_strongest_ones(library):
    from phasetrace.series.rules import merge_twins

    # LaNiO3 named at 700 and 800 (weak, decided by the reference cells), LaCoO3 at 900 where the
    # perovskite is strongest and the data tell the twins apart: the series keeps LaCoO3
    found = ["NMC111", "LLZTO_cubic", "LaNiO3", "La2Zr2O7", "LaCoO3"]
    count = {"NMC111": 3, "LLZTO_cubic": 3, "LaNiO3": 2, "La2Zr2O7": 2, "LaCoO3": 1}
    strength = {"NMC111": 500.0, "LLZTO_cubic": 500.0, "LaNiO3": 33.0, "La2Zr2O7": 45.0, "LaCoO3": 66.0}
    hosts = {"NMC111", "LLZTO_cubic"}
    kept, dropped = merge_twins(library, found, count, hosts, strength)
    assert kept == ["NMC111", "LLZTO_cubic", "La2Zr2O7", "LaCoO3"] and dropped == {"LaNiO3": "LaCoO3"}
    # without strengths the most often found is kept; a host always is
    kept, dropped = merge_twins(library, found, count, hosts)
    assert dropped == {"LaCoO3": "LaNiO3"}
    kept, dropped = merge_twins(library, ["LLZO_cubic", "LLZTO_cubic"], {"LLZO_cubic": 5}, {"LLZTO_cubic"})
    assert kept == ["LLZTO_cubic"] and dropped == {"LLZO_cubic": "LLZTO_cubic"}


def test_refit_holds_a_phase_at_its_values_from_the_nearest_scan_that_found_it():
    from phasetrace.series.rules import refit_starts

    def rec(found, start):
        phases = [{"id": p, "detected": True} for p in found]
        return {"status": "ok", "result": {"phases": phases, "start": start}}

    stage1 = [
        {"key": k, "path": f"{k}.xy", "system": "S", "temperature_C": t}
        for k, t in (("a", 25.0), ("b", 600.0), ("c", 700.0), ("d", 900.0))
    ]
    records = {
        "a": rec(["H"], {"H": {"scale": 1.0}}),
        "b": rec(["H"], {"H": {"scale": 1.0}}),
        "c": rec(["H", "X"], {"H": {"scale": 1.0}, "X": {"scale": 1.003, "size": 0.04}}),
        "d": rec(["H", "X"], {"H": {"scale": 1.0}, "X": {"scale": 0.998, "size": 0.02}}),
    }
    out = refit_starts(stage1, records, {"S": ["H", "X"]})
    assert out["b.xy"]["identified"] == ["H"]
    assert out["b.xy"]["start"]["X"] == {"scale": 1.003, "size": 0.04, "fixed": True}  # 700 is nearest
    assert out["a.xy"]["start"]["X"]["scale"] == 1.003
    assert "fixed" not in out["d.xy"]["start"]["X"]  # found there: refined freely
    # a union phase no identification found (Raman only) is a trace in every scan: held at its library
    # cell (no cell scale given) with the width of an absent candidate's detection limit, scale only
    from phasetrace.quantify.limits import LOD_SIZE

    out = refit_starts(stage1, records, {"S": ["H", "X", "R"]})
    for path in ("a.xy", "b.xy", "c.xy", "d.xy"):
        assert out[path]["start"]["R"] == {"size": LOD_SIZE, "fixed": True}
        assert "R" not in out[path]["identified"]


def test_a_raman_detection_of_indistinguishable_phases_goes_to_the_member_xrd_found():
    from phasetrace.series.rules import attribute_raman_twins

    by_id = {
        "LaCoO3": {
            "id": "LaCoO3",
            "detected": True,
            "status": "detected",
            "significance": 40.0,
            "bands": [690.0],
            "band_areas": [5.0],
        },
        "LaNiO3": {"id": "LaNiO3", "detected": None, "status": "indistinguishable", "twin_of": "LaCoO3"},
        "NiO": {"id": "NiO", "detected": None, "status": "not testable"},
    }
    attribute_raman_twins(by_id, ["NMC811", "LaNiO3"])
    assert by_id["LaNiO3"]["detected"] is True and by_id["LaNiO3"]["status"] == "detected"
    # the fitted bands are the evidence of the member XRD found
    assert by_id["LaNiO3"]["significance"] == 40.0 and by_id["LaNiO3"]["band_areas"] == [5.0]
    assert by_id["LaCoO3"]["detected"] is None and by_id["LaCoO3"]["twin_of"] == "LaNiO3"
    assert by_id["NiO"]["detected"] is None
    # XRD found the tested member itself: nothing moves
    again = {
        "LaCoO3": {"id": "LaCoO3", "detected": True, "status": "detected"},
        "LaNiO3": {"id": "LaNiO3", "detected": None, "status": "indistinguishable", "twin_of": "LaCoO3"},
    }
    attribute_raman_twins(again, ["LaCoO3"])
    assert again["LaCoO3"]["detected"] is True and again["LaNiO3"]["detected"] is None
