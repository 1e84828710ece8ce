"""The one rule by which every vendor reader turns stated wavelengths into a Radiation (io/_radiation.py)."""

from __future__ import annotations

import pytest

from phasetrace.errors import LoadError
from phasetrace.io._radiation import file_radiation, kalpha1_anode
from phasetrace.scan import ANODES, Radiation


def _rad(*args, **kw):
    return file_radiation(*args, what="TEST", path="f.x", **kw)


def test_the_rule_case_by_case():
    # a stated doublet, with and without its ratio
    assert _rad(1.5406, 1.5444, 0.52, "cu")[0] == Radiation(1.5406, 1.5444, 0.52, "Cu")
    rad, meta = _rad(1.5406, 1.5444, None, "Cu")
    assert rad.ratio == 0.5 and "assumed" in meta["kalpha2_ratio_source"]
    # one line: Kα1 alone, a zero ratio, a beam the file calls Kα1 only
    one = Radiation(1.5406, None, 0.0, "Cu")
    assert _rad(1.5406, None, None, "Cu")[0] == one
    assert _rad(1.5406, 1.5444, 0.0, "Cu")[0] == one
    assert _rad(1.5406, 1.5444, 0.5, "Cu", one_line=True)[0] == one
    # no wavelength: the anode table (Kα1 alone for a Kα1-only beam), nothing for an unknown anode
    rad, meta = _rad(None, None, None, "Mo")
    assert rad == Radiation.from_anode("Mo") and meta["wavelength_source"] == "anode table"
    assert _rad(None, None, None, "Mo", one_line=True)[0] == Radiation(ANODES["Mo"][0], None, 0.0, "Mo")
    assert _rad(None, None, None, "W") == (None, {})
    assert _rad(None, None, None, None) == (None, {})


def test_an_unphysical_wavelength_is_a_load_error():
    with pytest.raises(LoadError, match=r"f\.x: TEST states an implausible wavelength"):
        _rad(15.406, None, None, "Cu")


@pytest.mark.parametrize(
    ("lam", "anode"), [(1.540593, "Cu"), (1.540562, "Cu"), (0.70932, "Mo"), (1.5418, None)]
)
def test_kalpha1_anode(lam, anode):
    assert kalpha1_anode(lam) == anode  # Hölzer and Bearden Cu Kα1; the Cu Kα mean is no Kα1
