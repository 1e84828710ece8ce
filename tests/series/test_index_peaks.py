"""The peaks a series gathers to pick candidates from an indexed --library folder (series.analyse._index_peaks).

They are read with the radiation of ``--instrument`` when it gives lines, as every task of the series
reads its scan: a file that states no wavelength is otherwise taken as Cu Kα and its d-spacings are wrong
for a Co tube by the ratio of the wavelengths (16 %), so the index would pick candidates for the wrong cells.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from phasetrace.library.phases import PhaseLibrary
from phasetrace.scan import ANODES, Radiation
from phasetrace.series.analyse import _index_peaks
from phasetrace.simulate import Instrument, simulate_xrd

CO_KA1 = ANODES["Co"][0]


@pytest.fixture(scope="module")
def co_scan_file(tmp_path_factory):
    """MgO measured with Co Kα1, written as two bare columns (the file states no wavelength)."""
    lib = PhaseLibrary.default()
    scan = simulate_xrd(
        lib,
        {"MgO": 1.0},
        instrument=Instrument(radiation=Radiation(CO_KA1)),
        two_theta_range=(30, 110),
        seed=3,
    )
    path = tmp_path_factory.mktemp("co") / "mgo_co.xy"
    np.savetxt(path, np.column_stack([scan.x, scan.y]), fmt="%.4f")
    strongest = float(scan.x[np.argmax(scan.y)])  # MgO (200)
    return path, CO_KA1 / (2 * np.sin(np.radians(strongest / 2)))


def _strongest_d(peaks) -> float:
    k = int(np.argmax(peaks.height))
    return peaks.wavelength / (2 * np.sin(np.radians(peaks.two_theta[k] / 2)))


def test_index_peaks_use_the_instrument_lines(co_scan_file):
    path, d_true = co_scan_file
    lib = SimpleNamespace(indexes=["an indexed folder"])  # _index_peaks only asks whether there is one
    entries = [SimpleNamespace(technique="xrd", path=path, meta={})]
    quant = {
        "instrument": {"name": "Co tube", "radiation": {"lines": [{"wavelength": CO_KA1, "intensity": 1.0}]}}
    }

    (peaks,) = _index_peaks(lib, entries, quant)
    assert peaks.wavelength == CO_KA1
    assert _strongest_d(peaks) == pytest.approx(d_true, rel=1e-3)  # MgO (200), 2.106 Å

    # without the instrument the file's missing wavelength becomes the Cu default, and the d-spacing is wrong
    (cu,) = _index_peaks(lib, entries, None)
    assert cu.wavelength == ANODES["Cu"][0]
    assert _strongest_d(cu) / d_true == pytest.approx(ANODES["Cu"][0] / CO_KA1, rel=1e-3)


def test_no_indexed_folder_no_peaks(co_scan_file):
    path, _ = co_scan_file
    assert (
        _index_peaks(SimpleNamespace(indexes=[]), [SimpleNamespace(technique="xrd", path=path, meta={})])
        is None
    )
