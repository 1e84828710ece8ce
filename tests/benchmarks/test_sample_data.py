"""The bundled sample data: manifest, files and answer key agree with each other and with [001]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasetrace.io import load, metadata_from_filename, read_manifest

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))


def _system(truth: dict, name: str) -> dict:
    return next(s for s in truth["systems"] if s["system"] == name)


def _phase(truth: dict, system: str, pid: str) -> dict:
    return next(p for p in _system(truth, system)["phases"] if p["id"] == pid)


def test_manifest_truth_and_files_agree(truth):
    manifest = read_manifest(SAMPLE / "manifest.csv")
    files = {Path(k).name: v for k, v in manifest.items()}
    scans = {s["file"]: s for s in truth["scans"]}
    assert set(files) == set(scans)
    assert len(scans) == 70
    for name, meta in files.items():
        assert (SAMPLE / name).is_file()
        s = scans[name]
        assert meta["technique"] == s["technique"]
        assert meta["temperature_C"] == pytest.approx(s["temperature_C"])
        # the file name alone gives the same system and temperature
        fn = metadata_from_filename(name)
        assert fn["system"] == meta["system"] == s["system"]
        assert fn["temperature_C"] == pytest.approx(s["temperature_C"])
        assert sum(s["wt_percent"].values()) == pytest.approx(100.0, abs=1e-3)


def test_several_formats_are_used(truth):
    suffixes = {Path(s["file"]).suffix for s in truth["scans"]}
    assert len(suffixes) >= 6


@pytest.mark.parametrize("name", ["pc-NMC811 + LLZTO-500.raw", "pc-NMC811 + LLZTO-500_raman.spc"])
def test_files_load_without_the_answer(name, truth):
    scan = load(SAMPLE / name)
    rec = next(s for s in truth["scans"] if s["file"] == name)
    assert scan.kind == rec["technique"]
    assert "truth" not in scan.meta.extra
    if scan.kind == "xrd":
        assert scan.meta.radiation is not None and scan.meta.radiation.source == "file"
        assert len(scan) == 7001 and scan.x[0] == pytest.approx(10.0) and scan.x[-1] == pytest.approx(80.0)
        assert 5e3 < scan.y.max() < 2e4  # strongest peak ~1e4 counts
    else:
        assert scan.meta.laser_nm == pytest.approx(532.0)


def test_paper_totals(truth):
    lco = _system(truth, "pc-LCO + LLZTO")
    assert lco["paper_totals"][0]["simulated_wt_percent"] == pytest.approx(3.1)
    nmc = _system(truth, "pc-NMC811 + LLZTO")
    assert nmc["paper_totals"][0]["simulated_wt_percent"] == pytest.approx(2.0)
    i800 = nmc["temperatures_C"].index(800.0)
    secondary = sum(p["wt_percent_by_T"][i800] for p in nmc["phases"] if p["role"] != "host")
    assert secondary == pytest.approx(2.0)


def test_onsets_follow_the_paper(truth):
    # combined onsets of [001]
    assert _phase(truth, "pc-LNMO + LLZTO", "Li2MnO3")["onset"]["combined"] == 400
    assert _phase(truth, "pc-LCO + LLZTO", "LaCoO3")["onset"]["combined"] == 700
    for system in ("pc-NMC631 + LLZTO", "pc-NMC532 + LLZTO", "pc-NMC111 + LLZTO"):
        assert _phase(truth, system, "La2Zr2O7")["onset"]["combined"] == 700
        assert _phase(truth, system, "La2Zr2O7")["vanish_C"]["combined"] == 900
    # NMC811: La2Zr2O7 by Raman at 500, by XRD only from 600, gone at 800
    l2z = _phase(truth, "pc-NMC811 + LLZTO", "La2Zr2O7")
    assert l2z["onset"] == {"xrd": 600, "raman": 500, "combined": 500}
    assert l2z["vanish_C"]["combined"] == 800
    # LNMO: the garnet host is gone at 600
    assert _phase(truth, "pc-LNMO + LLZTO", "LLZTO_cubic")["vanish_C"]["combined"] == 600
    # sc-NMC631: nothing forms
    sc = _system(truth, "sc-NMC631 + LLZTO")
    assert all(p["onset"]["combined"] is None for p in sc["phases"])


def test_contamination_is_present_from_the_start_not_an_onset(truth):
    li2co3 = _phase(truth, "pc-NMC811 + LLZTO", "Li2CO3")
    assert li2co3["present_from_start"] is True
    assert li2co3["onset"]["combined"] is None


def test_seen_flags_are_clear_of_the_threshold(truth):
    for s in truth["scans"]:
        lo, hi = truth["z_clear"][s["technique"]]
        for z in s["significance"].values():
            assert not lo < z < hi


def test_truth_names_the_bundled_library(truth):
    """The answer key was made with today's library: a CIF or band-table edit must be followed by a re-run of
    sample_data/generate.py (its ``--check`` compares every byte; this catches the cheap part of it)."""
    from phasetrace.library.phases import PhaseLibrary

    assert truth["library_version"] == PhaseLibrary.default(include_user=False).version
