"""Identification: an XRD ranking confirmed by the whole-pattern fit (phasetrace.identify, identify --fit)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.io import save
from phasetrace.match import rank_candidates
from phasetrace.pipeline import identify
from phasetrace.simulate import Instrument, simulate_raman, simulate_xrd

SYSTEM = "LNMO + LLZTO"
TRUTH = {"LNMO_Fd3m": 57.3, "LLZTO_cubic": 37.9, "LaMnO3_R3c": 2.5, "LaMnO3_Pnma": 2.3}


@pytest.fixture(scope="module")
def scan(library):
    return simulate_xrd(
        library,
        TRUTH,
        seed=4,
        step=0.02,
        instrument=Instrument(u=0.006, v=-0.002, w=0.003, eta=0.6, asymmetry=0.08),
        lattice_scale={"LNMO_Fd3m": 1.004, "LLZTO_cubic": 1.001, "LaMnO3_R3c": 1.002, "LaMnO3_Pnma": 1.003},
        crystallite_size_nm={"LNMO_Fd3m": 150, "LLZTO_cubic": 120, "LaMnO3_R3c": 80, "LaMnO3_Pnma": 80},
        displacement_um=-30,
    )


def test_the_fit_puts_the_phases_it_needs_first_with_their_amounts(library, scan):
    ranking = rank_candidates(scan, library, system=SYSTEM)
    confirmed = identify(scan, system=SYSTEM, library=library)
    top = confirmed.top(len(TRUTH))
    assert {c.id for c in top} == set(TRUTH)
    assert [c.rank for c in top] == [1, 2, 3, 4]
    for c in top:
        assert c.status == "likely" and c.fit["detected"]
        assert c.fit["wt_percent"] == pytest.approx(TRUTH[c.id], abs=0.5 if TRUTH[c.id] < 5 else 2.0)
    rest = [c for c in confirmed if c.rank is not None and c.id not in TRUTH]
    assert rest and not any(c.fit["detected"] for c in rest)
    assert not any(c.status == "likely" for c in rest)
    assert confirmed.fit["success"] and 0.9 < confirmed.fit["gof"] < 1.3
    # the matching evidence is kept
    assert {c.id: c.score for c in confirmed} == {c.id: c.score for c in ranking}


def test_raman_rankings_are_left_alone(library):
    spec = simulate_raman(library, {"LLZTO_cubic": 60, "LiCoO2": 40}, seed=2)
    ranking = rank_candidates(spec, library, system="LCO + LLZTO")
    assert identify(spec, system="LCO + LLZTO", library=library).to_dict() == ranking.to_dict()


def test_identify_cli_fit_and_no_fit(scan, tmp_path):
    f = tmp_path / "mix.xy"
    save(scan, f)
    runner = CliRunner()
    r = runner.invoke(main, ["identify", str(f), "--system", SYSTEM, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["fit"]["success"]
    assert {c["id"] for c in doc["candidates"][:4]} == set(TRUTH)
    assert all(c["fit"]["detected"] for c in doc["candidates"][:4])
    r2 = runner.invoke(main, ["identify", str(f), "--system", SYSTEM, "--no-fit", "--json"])
    assert r2.exit_code == 0, r2.output
    assert json.loads(r2.output)["fit"] is None
    text = runner.invoke(main, ["identify", str(f), "--system", SYSTEM])
    assert "whole-pattern fit: Rwp" in text.output and "wt %" in text.output
