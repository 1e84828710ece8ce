"""The Python pipeline gives the numbers the command line prints (identify, fit, series on sample_data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import phasetrace
from phasetrace.cli import main
from phasetrace.match.candidates import candidate_pool
from phasetrace.pipeline import fit_raman_scan
from phasetrace.quantify.candidates import seed_from_ranking

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SYSTEM = "pc-LCO + LLZTO"
XRD = SAMPLE / f"{SYSTEM}-700.xrdml"
RAMAN = SAMPLE / f"{SYSTEM}-700_raman.spc"


def _cli(*args: str) -> str:
    r = CliRunner().invoke(main, [*args])
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture(scope="module")
def scan():
    return phasetrace.load(XRD)


def test_identify_prints_what_the_api_returns(scan, library):
    ranking = phasetrace.identify(scan, system=SYSTEM, library=library)
    doc = json.loads(_cli("identify", str(XRD), "--system", SYSTEM, "--json"))
    api = ranking.to_dict(top=10)
    assert doc["candidates"] == json.loads(json.dumps(api["candidates"]))
    assert doc["fit"] == api["fit"] and doc["fit"]["success"]
    assert _cli("identify", str(XRD), "--system", SYSTEM).rstrip("\n") == ranking.report(top=10)
    # the phases the whole-pattern fit selects rank first, by weight fraction (the truth: 49.2, 48.5, 1.4
    # and 0.9 wt %)
    top = ranking.top(4)
    assert {c.id for c in top[:2]} == {"LiCoO2", "LLZTO_cubic"}
    assert [c.id for c in top[2:]] == ["La2Zr2O7", "LaCoO3"] and all(c.fit["detected"] for c in top)


def test_fit_prints_what_the_api_returns(scan, library):
    result = phasetrace.quantify(scan, system=SYSTEM, library=library)
    doc = json.loads(_cli("fit", str(XRD), "--system", SYSTEM, "--json"))
    assert doc == json.loads(json.dumps(result.to_dict()))
    assert _cli("fit", str(XRD), "--system", SYSTEM).rstrip("\n") == result.report()
    # the scan's own system (from its file name) is the default
    assert phasetrace.quantify(scan, library=library).to_dict() == result.to_dict()
    # identify's fit and quantify are the same selection: the same weight fractions
    ranking = phasetrace.identify(scan, system=SYSTEM, library=library)
    for c in ranking.top(3):
        assert c.fit["wt_percent"] == pytest.approx(result[c.id].wt_percent, abs=1e-4)


def test_quantify_exactly_the_given_phases(scan, library):
    r = phasetrace.quantify(scan, ["LLZTO_cubic", "LiCoO2"], library=library)
    assert {p.id for p in r.phases} == {"LLZTO_cubic", "LiCoO2"} and not r.selection
    assert sum(p.wt_percent for p in r.detected) == pytest.approx(100.0)
    with pytest.raises(phasetrace.PhasetraceError, match="not both"):
        phasetrace.quantify(scan, ["LiCoO2"], system=SYSTEM, library=library)


def test_a_scan_without_a_system_needs_one(library):
    scan = phasetrace.load(XRD).with_meta(system=None)
    with pytest.raises(phasetrace.PhasetraceError, match="system="):
        phasetrace.quantify(scan, library=library)


def test_the_ranking_seeds_the_fit_in_its_order(scan, library):
    from phasetrace.match import rank_candidates

    pool, _ = candidate_pool(library, system=SYSTEM)
    ranking = rank_candidates(scan, library, phases=pool, system=SYSTEM)
    order, start = seed_from_ranking(ranking, pool)
    assert sorted(order) == sorted(pool) and order[:2] == [c.id for c in ranking.candidates[:2]]
    assert start["LiCoO2"]["scale"] == ranking["LiCoO2"].lattice_scale
    assert seed_from_ranking(None, pool) == (pool, {})


def test_raman_fit_api_reports_and_plots(library):
    import matplotlib

    matplotlib.use("Agg")
    spec = phasetrace.load(RAMAN)
    fit = fit_raman_scan(spec, library=library)
    assert {"LLZTO_cubic", "LiCoO2"} <= set(fit.detected)
    text = fit.report()
    assert "LLZTO_cubic" in text and "detected" in text
    ax = fit.plot()
    assert ax.get_xlabel().startswith("Raman shift")


def test_series_api_equals_the_cli(tmp_path, library):
    src = tmp_path / "scans"
    src.mkdir()
    for f in SAMPLE.glob(f"{SYSTEM}-*"):
        if f.stem.endswith(("-RT", "-700", "-900")) or f.stem.endswith(
            ("-RT_raman", "-700_raman", "-900_raman")
        ):
            shutil.copy(f, src / f.name)
    doc = json.loads(_cli("series", str(src), "--out", str(tmp_path / "cli"), "--json", "--no-figures"))
    run = phasetrace.analyse_series(src, out=tmp_path / "api")
    assert (
        run.counts["done"] > 0 and run.counts["skipped"] == 0
    )  # computed anew, not read from the CLI's store
    assert doc["systems"] == json.loads(json.dumps(run.to_dict()["systems"]))
    (s,) = run.systems
    assert s.system == SYSTEM and s.labels == ("RT", "700", "900")
    assert s.phase("La2Zr2O7").onset["xrd"] == [25.0, 700.0]
    rows = run.to_records()
    assert len(rows) == 3 * len(s.phases)
    row = next(r for r in rows if r["phase"] == "La2Zr2O7" and r["label"] == "700")
    assert row["detected_xrd"] and row["wt_percent"] == s.phase("La2Zr2O7").by_temperature["700"].wt_percent
    # dict-era access reads the same document
    assert s["phases"][0]["id"] == s.phases[0].id
    pd = pytest.importorskip("pandas")
    df = run.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == len(rows)
