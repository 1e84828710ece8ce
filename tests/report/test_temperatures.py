"""Temperatures in the reports: RT only where the series labels a scan room temperature (review finding 7)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import pytest

from phasetrace.report.figures import plot_wt_vs_temperature, temperature_label
from phasetrace.report.tables import fmt_onset, write_markdown

matplotlib.use("Agg")

#: A low-temperature series (7 K to 289 K, as GSAS-II's SeqTut): every scan at or below 30 °C, none RT.
TEMPS = [-266.15, -104.72, -87.48, 15.85]


def _system(temps, labels):
    wt = {
        lab: {"temperature_C": t, "detected_xrd": t > -100, "wt_percent": 5.0 if t > -100 else None,
              "esd": 0.5, "lod_wt_percent": 1.0}
        for t, lab in zip(temps, labels, strict=True)
    }  # fmt: skip
    onset = [temps[1], temps[2]]
    phase = {
        "id": "MgO", "formula": "MgO", "role": "product", "present_from_start": False, "raman_testable": False,
        "onset": {"xrd": onset, "raman": None, "combined": onset}, "onset_basis": "XRD", "vanishes_at": None,
        "wt_percent_by_T": wt, "alternatives": [],
    }  # fmt: skip
    return {"system": "SeqTut", "temperatures": temps, "labels": labels, "files": [], "phases": [phase]}


def test_low_temperatures_are_numbers():
    s = _system(TEMPS, [f"{t:g}" for t in TEMPS])
    assert fmt_onset([-104.72, -87.48], s) == "-104.72→-87.48 °C"  # was "RT→RT °C"
    assert [temperature_label(t, s) for t in TEMPS] == ["-266.15 °C", "-104.72 °C", "-87.48 °C", "15.85 °C"]
    md = write_markdown(s, {}, SimpleNamespace(problems=[]))
    assert "-104.72→-87.48 °C" in md and "RT" not in md.replace("(°C unless RT)", "")
    ax = plot_wt_vs_temperature(s)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-266.15 °C", "-104.72 °C", "-87.48 °C", "15.85 °C"]


def test_rt_only_where_the_series_says_room_temperature():
    """A scan named or listed as RT (recorded at 25 °C, label "RT") is RT; a scan measured at 25 °C is 25 °C."""
    s = _system([25.0, 700.0, 800.0], ["RT", "700", "800"])
    assert temperature_label(25.0, s) == "RT" and temperature_label(700.0, s) == "700 °C"
    assert fmt_onset([25.0, 700.0], s) == "RT→700 °C"
    plain = _system([25.0, 700.0, 800.0], ["25", "700", "800"])
    assert temperature_label(25.0, plain) == "25 °C" and fmt_onset([25.0, 700.0], plain) == "25→700 °C"
    assert temperature_label(-40.0) == "-40 °C"


@pytest.mark.parametrize("t", [-266.15, 0.0, 30.0])
def test_no_system_gives_the_number(t):
    assert temperature_label(t) == f"{t:g} °C"
