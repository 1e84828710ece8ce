"""Raman search-match: bands within ±8 cm⁻¹, Raman-silent and unreferenced phases never called absent."""

from __future__ import annotations

import dataclasses

import pytest

from phasetrace.match import MatchConfig, NoCandidatesError, rank_candidates
from phasetrace.simulate import simulate_raman

ELEMENTS = ["Li", "La", "Zr", "Ta", "Co", "O"]


@pytest.fixture(scope="module")
def lco_garnet(library):
    """LLZTO + LiCoO2 with 10 wt % La2Zr2O7 (its 304 cm⁻¹ marker of the core paper)."""
    return simulate_raman(
        library,
        {"LLZTO_cubic": 70, "LiCoO2": 15, "La2Zr2O7": 10, "LaCoO3": 5},
        seed=4,
        efficiency={"La2Zr2O7": 3.0},
    )


def test_phases_with_bands_are_ranked(library, lco_garnet):
    r = rank_candidates(lco_garnet, library, elements=ELEMENTS)
    assert r.technique == "raman"
    assert [c.id for c in r.top(3)] == ["LLZTO_cubic", "LiCoO2", "La2Zr2O7"]
    assert r["LLZTO_cubic"].status == "likely" and r["LiCoO2"].status == "likely"
    assert r["La2Zr2O7"].status in ("likely", "possible")
    assert all(c.lattice_scale is None for c in r.top(3))
    # the La2Zr2O7 marker band is matched and carries the evidence
    marker = [m for m in r["La2Zr2O7"].unique if abs(m.expected - 304) < 2]
    assert marker and abs(marker[0].observed - 304) < 3
    # undoped LLZO shares LLZTO's bands (bar the Ta–O band near 748 cm⁻¹): it ranks below the phases
    # present and is at most "possible"
    assert r["LLZO_cubic"].rank > 3 and r["LLZO_cubic"].score < 0.5
    # a broad band on a neighbour's flank is found as a shoulder (LiCoO2 Eg next to LLZTO)
    assert r.search.peaks.shoulder.any()


def test_silent_and_unreferenced_phases_are_not_testable(library, lco_garnet):
    r = rank_candidates(lco_garnet, library, elements=ELEMENTS)
    for pid in ("CoO", "MgO"):
        c = r[pid]
        assert c.status == "not testable" and c.rank is None and c.score is None
        assert "Raman-silent" in c.reason
    assert "no reference" in r["Li6Zr2O7"].reason and r["Li6Zr2O7"].status == "not testable"
    # never ranked, never "unlikely", listed after the ranked ones
    n_ranked = len([c for c in r if c.rank is not None])
    assert all(c.rank is None for c in r.candidates[n_ranked:])
    doc = r.to_dict(top=1)
    assert doc["candidates"][0]["rank"] == 1
    assert all(c["status"] == "not testable" for c in doc["candidates"][1:])


def test_band_tolerance_is_configurable(library):
    scan = simulate_raman(library, {"La2Zr2O7": 1.0}, seed=1, band_shift={"La2Zr2O7": 12.0}, width_scale=0.5)
    strict = rank_candidates(
        scan, library, phases=["La2Zr2O7"], config=MatchConfig(raman_tolerance=3.0, raman_broad_fraction=0.0)
    )
    loose = rank_candidates(scan, library, phases=["La2Zr2O7"], config=MatchConfig(raman_tolerance=15.0))
    assert len(loose["La2Zr2O7"].matched) > len(strict["La2Zr2O7"].matched)
    assert loose["La2Zr2O7"].score > strict["La2Zr2O7"].score


def test_only_untestable_candidates_is_an_error(library, lco_garnet):
    with pytest.raises(NoCandidatesError, match="can be tested by Raman"):
        rank_candidates(lco_garnet, library, phases=["NiO", "MgO"])


def test_config_is_frozen():
    cfg = MatchConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.raman_tolerance = 3.0  # type: ignore[misc]
    assert cfg.raman_tolerance == 8.0
