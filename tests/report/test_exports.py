"""Exports of a series run: tidy results, cells, fitted profiles."""

from __future__ import annotations

import csv
import json
import math

import numpy as np

from phasetrace.report.tables import RESULT_FIELDS


def test_results_csv_one_row_per_file_and_phase(report_run):
    run, written = report_run
    (s,) = run.systems
    rows = list(csv.DictReader(written["csv"].open()))
    assert tuple(rows[0]) == RESULT_FIELDS
    assert len(rows) == len(s["files"]) * len(s["phases"])
    assert {r["file"] for r in rows} == {f["file"].rsplit("/", 1)[1] for f in s["files"]}
    for r in rows:
        for k in ("wt_percent", "esd", "lod_wt_percent", "rwp"):
            v = r[k]
            assert v == "NaN" or len(v.split(".")[-1]) <= 4, (k, v)  # rounded, no 16-digit floats
        if r["technique"] == "xrd" and r["detected"] == "False":
            assert r["wt_percent"] == "NaN" and r["esd"] == "NaN" and float(r["lod_wt_percent"]) > 0
        if r["technique"] == "raman":
            assert r["wt_percent"] == "NaN"
    lcoo = [r for r in rows if r["phase"] == "LaCoO3" and r["technique"] == "xrd" and float(r["temperature_C"]) == 900]
    assert float(lcoo[0]["wt_percent"]) > 2 and float(lcoo[0]["esd"]) > 0
    assert all(math.isfinite(float(r["rwp"])) for r in rows if r["technique"] == "xrd")


def test_results_json_is_the_same_table(report_run):
    _, written = report_run
    doc = json.loads(written["results_json"].read_text())  # strict JSON: NaN written as null
    rows = list(csv.DictReader(written["csv"].open()))
    assert doc["columns"] == list(RESULT_FIELDS) and len(doc["rows"]) == len(rows)
    nd = [r for r in doc["rows"] if r["technique"] == "xrd" and r["detected"] is False]
    assert nd and all(r["wt_percent"] is None for r in nd)


def test_profiles_add_up(report_run):
    run, _ = report_run
    files = sorted((run.out / "profiles").glob("*.csv"))
    assert len(files) == 3  # one per XRD scan
    for f in files:
        lines = f.read_text().splitlines()
        assert lines[0].startswith("# ")
        head = lines[1].split(",")
        assert head[:4] == ["two_theta", "observed", "calculated", "background"] and "LiCoO2" in head
        data = np.loadtxt(f, delimiter=",", skiprows=2)
        # calculated = background + the phases' contributions (to the rounding of the file)
        np.testing.assert_allclose(data[:, 2], data[:, 3] + data[:, 4:].sum(axis=1), atol=0.05 * len(head))
        assert np.all(np.diff(data[:, 0]) > 0)


def test_cells_per_scan_and_phase(report_run):
    run, written = report_run
    rows = list(csv.DictReader(written["cells"].open()))
    lco = [r for r in rows if r["phase"] == "LiCoO2"]
    assert len(lco) == 3
    for r in lco:
        a, c = float(r["a"]), float(r["c"])
        assert 2.80 < a < 2.83 and 14.0 < c < 14.1
        assert float(r["c_over_a"]) == np.float64(round(c / a, 6)) or abs(float(r["c_over_a"]) - c / a) < 1e-5
        assert "size_nm" in r


def test_single_fit_profile(lco_fit, tmp_path):
    from phasetrace.report.tables import write_fit_profile

    res, _ = lco_fit
    path = write_fit_profile(res, tmp_path / "fit.csv")
    data = np.loadtxt(path, delimiter=",", skiprows=2)
    assert data.shape == (res.x.size, 4 + len(res.phase_curves))
    np.testing.assert_allclose(data[:, 1], res.y, atol=0.006)


def test_replicate_pellets_show_mean_and_individual_values():
    from phasetrace.report.tables import wt_cell

    v = {
        "detected_xrd": True, "wt_percent": 1.3, "esd": 0.1, "lod_wt_percent": 0.3,
        "replicates_xrd": [{"detected": True, "wt_percent": 1.23}, {"detected": False, "lod_wt_percent": 0.3}],
    }
    assert wt_cell(v) == "1.30 ± 0.10 (n = 2: 1.23, <0.30)"
    assert wt_cell({"detected_xrd": False, "wt_percent": None, "esd": None, "lod_wt_percent": 0.25}) == "<0.25"


def test_cells_columns_in_order_and_held_parameters_blank(report_run):
    """Finding 20: alpha/beta/gamma esd were 0.0 (held angles) where other held values are blank, and the
    esd columns of the angles and the volume came after c/a, among the scan's terms."""
    _, written = report_run
    with written["cells"].open() as fh:
        header = next(csv.reader(fh))
        fh.seek(0)
        rows = list(csv.DictReader(fh))
    assert header[5:11] == ["a", "a_esd", "b", "b_esd", "c", "c_esd"]
    for k in ("alpha", "beta", "gamma", "volume"):
        if f"{k}_esd" in header:
            assert header.index(f"{k}_esd") == header.index(k) + 1
    scan_cols = [i for i, k in enumerate(header) if k.startswith("scan_")]
    assert scan_cols and scan_cols == list(range(len(header) - len(scan_cols), len(header)))
    for r in rows:
        for k, v in r.items():
            if k.endswith("_esd") and v != "":
                assert float(v) > 0, (k, r["phase"])
