"""``--instrument``: the instrument file's lines are the scan's radiation in identify, fit and series.

On the IUCr CPD round-robin scans (read in place from ../shared): CPD-1E states no wavelength, so
without an instrument the documented Cu default applies with a note; with the round robin's
instrument file its Kα1/Kα2 are the radiation and nothing is assumed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.quantify.instrument import load_instrument
from phasetrace.series.store import unpack_arrays
from phasetrace.series.tasks import analyse_scan, make_task
from tests.conftest import real_file

INSTRUMENT = Path(__file__).resolve().parents[1] / "benchmarks" / "instruments" / "cpd-roundrobin.yaml"
PHASES = "corundum,fluorite,zincite"


def _cifs() -> Path:
    return real_file("cif/cpd-roundrobin")


def _identify(*extra: str) -> dict:
    scan = real_file("xrd/qpa/cpd-roundrobin/CPD-1E.xye")
    args = ["identify", str(scan), "--library", str(_cifs()), "--phases", PHASES, "--no-fit", "--json"]
    r = CliRunner().invoke(main, [*args, *extra])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_identify_notes_the_assumed_wavelength_without_an_instrument():
    notes = _identify()["notes"]
    assert any("states no X-ray wavelength" in n for n in notes), notes


def test_identify_with_instrument_takes_its_lines_and_assumes_nothing():
    notes = _identify("--instrument", str(INSTRUMENT))["notes"]
    assert not any("wavelength" in n for n in notes), notes


def test_identify_refuses_anode_beside_an_instrument_with_lines():
    scan = real_file("xrd/qpa/cpd-roundrobin/CPD-1E.xye")
    r = CliRunner().invoke(
        main, ["identify", str(scan), "--phases", PHASES, "--anode", "Co", "--instrument", str(INSTRUMENT)]
    )
    assert r.exit_code == 2
    assert "give --anode or --instrument" in r.output


def test_series_task_fits_with_the_instrument_lines():
    inst = load_instrument(INSTRUMENT)
    (l1, _), (l2, _) = inst.lines
    assert (l1, l2) == (1.540593, 1.544414)  # Hölzer's Cu Kα1/Kα2; the default table has 1.540598/1.544426
    scan = real_file("xrd/qpa/cpd-roundrobin/CPD-1E.xye")
    task = make_task(
        path=str(scan),
        stage="refit",
        technique="xrd",
        system="CPD",
        temperature_C=25.0,
        meta={},
        phases=PHASES.split(","),
        config={"quant": {"instrument": inst.to_dict()}},
        libraries=[str(_cifs())],
        library_version="test",
    )
    out = analyse_scan(task)
    assert out["status"] == "ok", out["error"]
    profile = out["result"]["profile"]
    assert profile["wavelength"] == l1
    assert unpack_arrays(profile)["two_theta"][0] == pytest.approx(5.0)
