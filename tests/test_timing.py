"""Stage timers: nested stages are exclusive, nothing is recorded without a clock, shares add up."""

from __future__ import annotations

import time

import pytest

from phasetrace.timing import recording, stage, summarise


def _burn(seconds: float) -> None:
    """Spend CPU time (the timers count CPU seconds, so sleeping would not show)."""
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        pass


def test_a_nested_stage_is_not_counted_twice():
    with recording() as clock:
        with stage("selection"):
            _burn(0.05)
            with stage("final fit"):
                _burn(0.1)
        with stage("selection"):
            _burn(0.05)
    s = clock.seconds
    assert s["final fit"] == pytest.approx(0.1, abs=0.03)
    # the outer stage holds its own 0.1 s only, not the nested fit's
    assert s["selection"] == pytest.approx(0.1, abs=0.03)


def test_without_a_clock_nothing_is_recorded_and_clocks_do_not_leak():
    with stage("load"):
        _burn(0.01)
    with recording() as outer:
        with recording() as inner, stage("load"):
            _burn(0.02)
        with stage("store"):
            pass
    assert "load" in inner.seconds and "load" not in outer.seconds and "store" in outer.seconds


def test_summary_medians_per_scan_and_shares():
    scans = [
        {"load": 0.01, "ranking": 0.1, "selection": 1.0},
        {"load": 0.03, "ranking": 0.3, "selection": 3.0},
        {"load": 0.02, "raman": 0.2},
    ]
    out = summarise(scans, {"figures": 1.5, "load": 0.03})
    assert list(out)[:5] == ["load", "ranking", "selection", "raman", "figures"]
    # medians over the scans that ran the stage; run-wide work is spread over all scans
    assert out["ranking"]["per_scan_s"] == pytest.approx(0.2)
    assert out["raman"]["per_scan_s"] == pytest.approx(0.2)
    assert out["figures"]["per_scan_s"] == pytest.approx(0.5)
    assert out["load"]["per_scan_s"] == pytest.approx(0.02 + 0.01)
    assert out["load"]["seconds"] == pytest.approx(0.09)
    total = 0.06 + 0.4 + 4.0 + 0.2 + 1.5 + 0.03
    assert out["selection"]["share"] == pytest.approx(4.0 / total)
    assert sum(v["share"] for v in out.values()) == pytest.approx(1.0)
