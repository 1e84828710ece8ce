"""End to end: a folder of metadata-free .xy exports, named as researchers name them, with --system.

The patterns are simulated with known answers and written as bare two-column text (no header, no
metadata): system comes from --system, temperature and replicates from the names. La2Zr2O7 and
LaCoO3 form at 700 °C; La2Zr2O7 is gone at 900 °C. At 700 °C two pellets were measured, and only
one of them has LaCoO3: by the replicate rule the phase is detected at 700 °C (in 1 of 2).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.simulate import simulate_xrd

#: file name -> wt % of the pellet (two pellets at 700 °C)
SERIES = {
    "LCO_LLZTO_RT.xy": {"LLZTO_cubic": 50, "LiCoO2": 50},
    "20240312_LCO_LLZTO_600C.xy": {"LLZTO_cubic": 50, "LiCoO2": 50},
    "LCO_LLZTO_700degC.xy": {"LLZTO_cubic": 48.5, "LiCoO2": 48.5, "La2Zr2O7": 2.0, "LaCoO3": 1.0},
    "LCO_LLZTO_T700_b.xy": {"LLZTO_cubic": 49, "LiCoO2": 49, "La2Zr2O7": 2.0},
    "LCO+LLZTO_900C_2h_O2.xy": {"LLZTO_cubic": 48, "LiCoO2": 48, "LaCoO3": 4.0},
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, library):
    src = tmp_path_factory.mktemp("plain")
    for k, (name, fractions) in enumerate(SERIES.items()):
        s = simulate_xrd(library, fractions, seed=400 + k, step=0.02)
        np.savetxt(src / name, np.c_[s.x, s.y], fmt="%.3f")  # what an instrument exports: two columns
    (src / "LCO_LLZTO_800C.xy").write_text("this is not a scan\n")  # an unreadable export
    out = tmp_path_factory.mktemp("out") / "run"
    args = ["series", str(src), "--system", "LCO + LLZTO", "--out", str(out), "--no-figures"]
    r = CliRunner().invoke(main, args)
    return src, out, r


def test_plain_exports_run_end_to_end_with_system(batch):
    src, out, r = batch
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "summary.json").read_text())
    (s,) = doc["systems"]
    assert s["system"] == "LCO + LLZTO" and s["labels"] == ["RT", "600", "700", "900"]
    ph = {p["id"]: p for p in s["phases"]}
    assert ph["La2Zr2O7"]["onset"]["xrd"] == [600, 700] and ph["La2Zr2O7"]["vanishes_at"] == 900
    assert ph["LaCoO3"]["onset"]["xrd"] == [600, 700]
    assert ph["LaCoO3"]["wt_percent_by_T"]["900"]["wt_percent"] == pytest.approx(4.0, abs=0.6)
    assert ph["LLZTO_cubic"]["role"] == "host" and ph["LLZTO_cubic"]["onset"]["xrd"] is None
    assert not ph["LaCoO3"]["wt_percent_by_T"]["600"]["detected_xrd"]


def test_replicate_pellets_are_both_reported(batch):
    _, out, _ = batch
    (s,) = json.loads((out / "summary.json").read_text())["systems"]
    ph = {p["id"]: p for p in s["phases"]}
    at700 = {pid: ph[pid]["wt_percent_by_T"]["700"] for pid in ("La2Zr2O7", "LaCoO3")}
    for v in at700.values():
        assert v["n_replicates"] == 2
        assert sorted(r["file"].rsplit("/", 1)[-1] for r in v["replicates_xrd"]) == [
            "LCO_LLZTO_700degC.xy",
            "LCO_LLZTO_T700_b.xy",
        ]
        each = [r["wt_percent"] for r in v["replicates_xrd"]]
        assert v["wt_percent"] == pytest.approx(np.mean(each))
        assert v["wt_sd"] == pytest.approx(np.std(each, ddof=1))
        assert v["esd"] >= v["wt_sd"]
    # La2Zr2O7 (2 wt %) in both pellets; LaCoO3 (1 wt %) in one: detected at 700 by the any-replicate rule
    assert at700["La2Zr2O7"]["n_detected_xrd"] == 2
    assert at700["La2Zr2O7"]["wt_percent"] == pytest.approx(2.0, abs=0.4)
    lc = at700["LaCoO3"]
    assert lc["detected_xrd"] and lc["n_detected_xrd"] == 1
    by_file = {r["file"].rsplit("/", 1)[-1]: r for r in lc["replicates_xrd"]}
    assert by_file["LCO_LLZTO_700degC.xy"]["detected"] and not by_file["LCO_LLZTO_T700_b.xy"]["detected"]
    assert by_file["LCO_LLZTO_700degC.xy"]["wt_percent"] == pytest.approx(1.0, abs=0.3)
    assert lc["wt_percent"] == pytest.approx(0.5, abs=0.3)
    # the evidence of the onset is the pellet that shows it
    assert ph["LaCoO3"]["evidence"]["xrd"]["file"].endswith("LCO_LLZTO_700degC.xy")


def test_unreadable_exports_count_as_failed(batch):
    _, out, r = batch
    doc = json.loads((out / "summary.json").read_text())
    assert [p["file"].rsplit("/", 1)[-1] for p in doc["problems"]] == ["LCO_LLZTO_800C.xy"]
    assert doc["counts"]["unusable_files"] == 1
    assert "1 failed (1 file(s) not usable)" in r.output


def test_series_on_one_plain_file(batch, tmp_path):
    src, _, _ = batch
    out = tmp_path / "one"
    one = src / "LCO+LLZTO_900C_2h_O2.xy"
    args = ["series", str(one), "--system", "LCO + LLZTO", "--out", str(out), "--no-figures", "--json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    (s,) = json.loads(r.output[r.output.index("{") :])["systems"]
    assert s["labels"] == ["900"] and len(s["files"]) == 1
    ph = {p["id"]: p for p in s["phases"]}
    assert ph["LaCoO3"]["wt_percent_by_T"]["900"]["wt_percent"] == pytest.approx(4.0, abs=0.6)
    # one temperature: present from the start, no onset interval
    assert ph["LaCoO3"]["onset"]["xrd"] is None and ph["LaCoO3"]["present_from_start"]
