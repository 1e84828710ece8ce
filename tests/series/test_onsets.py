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
