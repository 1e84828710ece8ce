"""``phasetrace peaks`` and ``phasetrace identify``: JSON, text, plots, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.io import save
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta
from phasetrace.simulate import simulate_raman, simulate_xrd


@pytest.fixture
def run():
    runner = CliRunner()

    def _run(*args):
        return runner.invoke(main, list(map(str, args)))

    return _run


@pytest.fixture(scope="module")
def files(library, tmp_path_factory):
    d = tmp_path_factory.mktemp("match-cli")
    xrd = simulate_xrd(library, {"LLZTO_cubic": 60, "LiCoO2": 35, "La2Zr2O7": 5}, seed=21, sample="lco-900")
    raman = simulate_raman(library, {"LLZTO_cubic": 80, "LiCoO2": 20}, seed=3)
    rng = np.random.default_rng(0)
    x = np.arange(10.0, 80.0, 0.02)
    blank = Scan(
        x=x, y=rng.poisson(200, x.size).astype(float), kind="xrd", meta=ScanMeta(radiation=CU_KALPHA)
    )
    return {
        "xrd": save(xrd, d / "lco-900.xy"),
        "raman": save(raman, d / "spectrum.txt"),
        "blank": save(blank, d / "blank.xy"),
        "dir": d,
    }


@pytest.mark.parametrize("command", ["peaks", "identify"])
def test_help_has_example_and_json(run, command):
    r = run(command, "--help")
    assert r.exit_code == 0 and "Example" in r.output and "--json" in r.output


def test_peaks_json(run, files):
    r = run("peaks", files["xrd"], "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["technique"] == "xrd" and len(doc["peaks"]) > 20
    p = doc["peaks"][0]
    assert {"position", "d", "height", "area", "fwhm", "significance", "kalpha2"} <= set(p)
    assert any(q["kalpha2"] for q in doc["peaks"])
    assert doc["settings"]["prominence_sigma"] == 3.0
    fewer = json.loads(run("peaks", files["xrd"], "--json", "--prominence", "20").output)
    assert 0 < len(fewer["peaks"]) < len(doc["peaks"])


def test_peaks_text_refine_and_plot(run, files):
    out = files["dir"] / "peaks.png"
    r = run("peaks", files["xrd"], "--refine", "--plot", out)
    assert r.exit_code == 0, r.output
    assert "peak(s) above 3σ (XRD)" in r.output and "Kα2 of" not in r.output  # satellites fitted as doublets
    assert out.stat().st_size > 10_000


def test_identify_json_schema(run, files):
    r = run("identify", files["xrd"], "--system", "LCO+LLZTO", "--json", "--top", "4")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["file"] == str(files["xrd"]) and doc["technique"] == "xrd"
    ranked = [c for c in doc["candidates"] if c["rank"] is not None]
    assert [c["rank"] for c in ranked] == [1, 2, 3, 4]
    for c in doc["candidates"]:
        assert {"id", "formula", "score", "rank", "lattice_scale", "matched", "missing"} <= set(c)
    assert {c["id"] for c in ranked[:3]} == {"LLZTO_cubic", "LiCoO2", "La2Zr2O7"}


def test_identify_text_and_plot(run, files):
    out = files["dir"] / "ranking.png"
    r = run("identify", files["xrd"], "--elements", "Li,La,Zr,Ta,Co,O", "--plot", out)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "XRD" in lines[0]
    assert any("LLZTO_cubic" in ln and "likely" in ln for ln in lines)
    assert out.stat().st_size > 10_000


def test_identify_raman(run, files):
    r = run("identify", files["raman"], "--system", "LCO+LLZTO", "--json", "--tolerance", "10")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["technique"] == "raman"
    assert doc["candidates"][0]["id"] == "LLZTO_cubic" and doc["candidates"][0]["lattice_scale"] is None
    silent = {c["id"]: c for c in doc["candidates"] if c["status"] == "not testable"}
    assert "MgO" in silent and silent["MgO"]["rank"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--elements", "Li,La", "--system", "LCO+LLZTO"], "not both"),
        ([], "say what the sample contains"),
        (["--elements", "Au,Pt"], "select no library phase"),
        (["--system", "LCO+Unobtainium"], "unknown material"),
        (["--system", "LCO+LLZTO", "--kind", "raman"], "raman"),
    ],
)
def test_identify_errors_are_one_line(run, files, args, message):
    r = run("identify", files["xrd"], *args)
    assert r.exit_code == 2
    assert message.lower() in r.output.lower()
    assert "Traceback" not in r.output


def test_identify_blank_scan(run, files):
    r = run("identify", files["blank"], "--system", "LCO+LLZTO")
    assert r.exit_code == 2
    assert "nothing to identify" in r.output and len(r.output.strip().splitlines()) == 1
