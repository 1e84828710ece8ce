"""Numbers that claim no more than the data say (user review 2026-12-04, findings 2, 4, 3, 11)."""

from __future__ import annotations

import warnings

import pytest

import phasetrace
from phasetrace.io import load
from phasetrace.scan import Radiation
from tests.conftest import real_file

CU = Radiation.from_anode("Cu", source="user")


def _load(rel: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load(real_file(rel), radiation=CU)


@pytest.mark.realdata
@pytest.mark.slow
def test_broad_phases_on_the_background_are_not_detected():
    """Finding 2: a pure Mn2O3 scan; Li2MnO3 (11 nm) and MnO (8 nm, the broadening limit) filled the
    slow bumps between background and data at 8.5 and 1.9 wt % with no peak of their own."""
    scan = _load("xrd/measured/autoXRD/Mn2O3.xy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = phasetrace.quantify(scan, elements=["Li", "Mn", "O"])
    assert [p.id for p in res.detected] == ["Mn2O3"]
    assert res["Mn2O3"].wt_percent == pytest.approx(100.0)
