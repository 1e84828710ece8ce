"""Onset, presence from the start, and disappearance from detection flags."""

from __future__ import annotations

import pytest

from phasetrace.series.onsets import combine, evolution

T = [25, 400, 500, 600, 700, 800, 900]


@pytest.mark.parametrize(
    ("flags", "onset", "start", "vanish"),
    [
        ([False, False, False, False, True, True, True], (600, 700), False, None),
        ([False, False, False, False, True, True, False], (600, 700), False, 900),  # La2Zr2O7 with NMC631
        ([True, True, True, True, True, True, True], None, True, None),  # host / contamination
        ([True, True, True, False, False, False, False], None, True, 600),  # LLZTO vanishing with LNMO
        ([False] * 7, None, False, None),
        ([False, None, False, True, None, True, True], (500, 600), False, None),  # gaps are skipped
    ],
)
def test_evolution(flags, onset, start, vanish):
    ev = evolution(T, flags)
    assert ev.onset == onset
    assert ev.present_from_start is start
    assert ev.vanishes_at == vanish


def test_untestable_phase():
    ev = evolution(T, [None] * 7)
    assert not ev.testable and ev.onset is None


def test_combined_evidence_takes_the_earlier_technique():
    # NMC811: La2Zr2O7 seen by Raman at 500 °C, by XRD only from 600 °C
    xrd = [False, False, False, True, True, False, False]
    raman = [False, False, True, True, None, None, None]
    comb = combine(T, xrd, raman)
    assert evolution(T, comb).onset == (400, 500)
    assert evolution(T, xrd).onset == (500, 600)
    assert comb[-1] is False and combine(T, [None] * 7, [None] * 7) == [None] * 7


def test_contaminants_and_hosts_get_no_onset(library):
    """summarise_system: a contaminant first seen at a later temperature is reported without an onset."""
    from pathlib import Path

    from phasetrace.series.analyse import summarise_system
    from phasetrace.series.collect import SeriesEntry

    temps = [25.0, 700.0, 900.0]
    entries = [SeriesEntry(Path(f"s-{t:g}.xy"), "xrd", "S", t, "RT" if t == 25 else f"{t:g}") for t in temps]
    stage2, records = [], {}
    for t, found in zip(temps, [{"LLZTO_cubic"}, {"LLZTO_cubic", "Li2CO3", "La2Zr2O7"}, {"LLZTO_cubic"}],
                        strict=True):
        key = f"k{t}"
        stage2.append({"key": key, "system": "S", "temperature_C": t})
        phases = [{"id": p, "detected": p in found, "wt_percent": 1.0 if p in found else 0.0, "esd": 0.1,
                   "lod_wt_percent": 0.2} for p in ("LLZTO_cubic", "Li2CO3", "La2Zr2O7")]
        records[key] = {"status": "ok", "result": {"phases": phases}}
    s = summarise_system("S", entries, library, {"LLZTO_cubic"}, ["LLZTO_cubic", "Li2CO3", "La2Zr2O7"], stage2, [],
                   records)
    by_id = {p["id"]: p for p in s["phases"]}
    assert by_id["La2Zr2O7"]["onset"]["xrd"] == [25.0, 700.0] and by_id["La2Zr2O7"]["vanishes_at"] == 900.0
    assert by_id["Li2CO3"]["onset"]["combined"] is None and by_id["Li2CO3"]["role"] == "contaminant"
    assert by_id["LLZTO_cubic"]["onset"]["combined"] is None and by_id["LLZTO_cubic"]["role"] == "host"
