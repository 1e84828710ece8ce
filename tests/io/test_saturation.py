"""Detector saturation: found at load (one warning naming the file, ``meta.extra["saturated"]``) and
carried to the peaks (``saturated``) and the identification (matched and unexplained bands).

Real file (read in place, skipped when absent): a WITec Si-wafer export whose laser line has 8 points
at 65535 counts, the 16-bit full scale.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from phasetrace.errors import DataWarning
from phasetrace.io import load, loads
from phasetrace.io.saturation import FULL_SCALE_COUNTS, find_saturation
from phasetrace.match import rank_candidates
from phasetrace.peaks.find import search_peaks

WITEC = "raman/formats/witec/Si-wafer-Raman-Spectrum-1.txt"


def test_full_scale_points_are_saturated_however_few():
    y = np.array([10.0, 300.0, 65535.0, 65535.0, 280.0, 12.0])
    sat = find_saturation(y)
    assert sat is not None and sat.full_scale and sat.value == 65535
    assert sat.mask.tolist() == [False, False, True, True, False, False]
    assert find_saturation(np.array([1.0, 4095.0, 2.0])).count == 1  # a 12-bit ceiling
    assert 65535 in FULL_SCALE_COUNTS and 32767 in FULL_SCALE_COUNTS


def test_a_flat_top_counts_only_for_integer_data_and_high_counts():
    y = np.array([5.0, 800.0, 40000.0, 40000.0, 40000.0, 900.0, 8.0, 40000.0])
    assert find_saturation(y) is None  # floating-point data: no ceiling, no verdict
    sat = find_saturation(y, integer_counts=True)
    assert sat is not None and not sat.full_scale
    assert sat.mask.tolist() == [False, False, True, True, True, False, False, False]  # runs of ≥ 3 only
    assert find_saturation(np.array([1.0, 9.0, 9.0, 9.0, 2.0]), integer_counts=True) is None  # low counts
    # the format's own data type sets the ceiling
    assert find_saturation(np.array([3.0, 255.0, 7.0]), full_scale=255.0).count == 1


def test_an_ordinary_spectrum_has_none():
    x = np.linspace(100, 1200, 1101)
    y = 500 + 30000 * np.exp(-0.5 * ((x - 520) / 3) ** 2)
    assert find_saturation(np.round(y), integer_counts=True) is None


def _witec_text(values: np.ndarray, x_nm: np.ndarray) -> bytes:
    rows = "\n".join(f" {a:.9E}, {b:.9E}" for a, b in zip(x_nm, values, strict=True))
    head = (
        "//Exported ASCII-File\n[Header]\nGraphName = test\nXAxisUnit = 1/cm\nDataUnit = CCD cts\n"
        "[Data]\nX-Axis,Spectrum\n1/cm,CCD cts\n"
    )
    return (head + rows + "\n").encode()


def test_load_warns_once_naming_the_file_and_peaks_are_flagged():
    x = np.arange(100.0, 1000.0, 1.0)
    y = 300 + 90000 * np.exp(-0.5 * ((x - 520.0) / 4.0) ** 2) + 2000 * np.exp(-0.5 * ((x - 300.0) / 5.0) ** 2)
    y = np.minimum(np.round(y), 65535.0)  # the Si band clipped by a 16-bit read-out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (scan,) = loads(_witec_text(y, x), "clipped.txt", parse_filename=False)
    msgs = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("clipped.txt: ") and "saturated" in msgs[0]
    assert "\n" not in msgs[0] and "65535" in msgs[0]
    sat = scan.meta.extra["saturated"]
    n = int(np.sum(y == 65535))
    assert sat["points"] == n and sat["full_scale"] and len(sat["ranges"]) == 1
    json.dumps(scan.summary())
    search = search_peaks(scan)
    peaks = search.peaks
    hit = peaks.position[peaks.saturated]
    assert hit.size == 1 and abs(hit[0] - 520) < 3
    assert not peaks.saturated[np.argmin(np.abs(peaks.position - 300))]
    assert search.summary()["saturated_peaks"] == 1
    assert any(r["saturated"] for r in peaks.to_records())


def test_unclipped_spectrum_loads_without_warning():
    x = np.arange(100.0, 1000.0, 1.0)
    y = np.round(300 + 60000 * np.exp(-0.5 * ((x - 520.0) / 4.0) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (scan,) = loads(_witec_text(y, x), "fine.txt", parse_filename=False)
    assert "saturated" not in scan.meta.extra
    assert not search_peaks(scan).peaks.saturated.any()


def test_real_witec_silicon_scan(real, library):
    path = real(WITEC)
    with pytest.warns(DataWarning, match=r"Si-wafer-Raman-Spectrum-1\.txt: 8 point\(s\) at 65535 counts"):
        scan = load(path, laser_nm=532.0)
    assert scan.meta.extra["saturated"]["points"] == 8
    peaks = search_peaks(scan).peaks
    (cut,) = peaks.position[peaks.saturated]
    assert -10 < cut < 30  # the laser line, which sits on the 8 points at full scale
    r = rank_candidates(scan, library, elements=["Li", "O"])
    doc = r.to_dict()
    assert doc["peak_search"]["saturated_peaks"] == 1
    assert len(doc["unexplained_saturated"]) == 1 and abs(doc["unexplained_saturated"][0] - cut) < 1e-3
    assert f"{cut:.2f} (saturated)" in r.report()


def test_a_band_matched_on_saturated_points_says_so(library):
    x = np.arange(100.0, 1000.0, 1.0)
    y = np.minimum(np.round(300 + 90000 * np.exp(-0.5 * ((x - 523.0) / 4.0) ** 2)), 65535.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        (scan,) = loads(_witec_text(y, x), "clipped.txt", parse_filename=False)
    r = rank_candidates(scan, library, phases=["Li2O"])
    (m,) = r["Li2O"].matched
    assert m.saturated and m.to_dict()["saturated"] is True
    assert "matched on saturated points at" in r.report()
