"""The automatic selection tests the candidates again after a family swap has changed the model.

The forward steps judge each candidate's χ² gain against the current model, scaled by its GoF². When the
first host chosen is the wrong twin (LLZO for LLZTO: the same garnet, its cell strained onto the other's
peaks), the misfit it leaves inflates that GoF, the minor phases' gains fall below the bar, and the
forward steps stop; the swap to the right host came after, and nothing was tested again. Both scans here
failed so before the forward steps were resumed after a swap:

* a scan of the independent forward model (``benchmarks/independent.py``: LLZTO 95, La2Zr2O7 3, Li2CO3
  2 wt %, cells 0.5 % off their references) reported Li2CO3 "not detected, < 0.95 wt %" (a detection
  limit that the truth contradicts) and left its reflections as unexplained peaks;
* the honesty set's mixture 1 (NMC811 + LLZTO with a CoO + MgO pair, 12 wt % MgO) lost MgO and reported
  3 wt % of the NMC rock salt in its place.
"""

from __future__ import annotations

import warnings

import pytest

from benchmarks import honesty, independent
from phasetrace.io import load
from phasetrace.library.phases import PhaseLibrary
from phasetrace.quantify.candidates import quantify_scan
from phasetrace.simulate import simulate_xrd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lib():
    return PhaseLibrary.default(include_user=False)


def _detected(res) -> dict[str, float]:
    return {p.id: p.wt_percent for p in res.phases if p.detected}


def test_a_minor_phase_hidden_by_the_wrong_host_twin_is_found_after_the_swap(lib, tmp_path):
    mix, size, tex = independent.MIXTURES[0]
    x, y, truth = independent.simulate(mix, size, tex, seed=5000)
    path = independent.write_scan(tmp_path / "llzto-lzo-li2co3.xy", x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = quantify_scan(load(path, kind="xrd"), system="LCO + LLZTO", library=lib)
    actions = [s["action"] for s in res.selection]
    # the case this is about: the wrong twin first, then the swap, then the resumed forward steps
    assert res.selection[1] == {**res.selection[1], "action": "add", "phase": "LLZO_cubic"}
    assert "swap" in actions and actions.index("resume") > actions.index("swap")
    found = _detected(res)
    assert set(found) == set(truth["wt_percent"]), found
    assert found["Li2CO3"] == pytest.approx(truth["wt_percent"]["Li2CO3"], abs=1.0)
    assert not [p for p in res.quality.peaks if 21.0 < p.two_theta < 22.0], res.quality.peaks


def test_a_close_lattice_pair_survives_a_host_swap(lib):
    mix = honesty.make_mixtures(lib, lib, [], 2)[1]
    assert set(mix["wt"]) >= {"CoO", "MgO", "NMC811", "LLZTO_cubic"}
    scan = simulate_xrd(lib, mix["wt"], **mix["kw"], seed=mix["seed"], sample="mixture 1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = quantify_scan(scan, system=mix["system"], library=lib)
    found = _detected(res)
    assert set(found) == set(mix["wt"]), found
    for pid, w in mix["wt"].items():
        assert found[pid] == pytest.approx(w, abs=max(1.0, 0.1 * w)), (pid, found[pid], w)
