"""Savitzky–Golay smoothing keeps peaks and removes noise."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.peaks.profiles import pseudo_voigt
from phasetrace.preprocess import savgol, smooth_scan
from phasetrace.preprocess.smoothing import odd_window
from phasetrace.scan import Scan


@pytest.mark.parametrize(("points", "expected"), [(0, 0), (1.2, 5), (6, 7), (7, 7), (10.4, 11)])
def test_odd_window(points, expected):
    assert odd_window(points) == expected


def test_savgol_keeps_peak_height_and_reduces_noise():
    rng = np.random.default_rng(0)
    x = np.arange(0.0, 20.0, 0.01)
    peak = pseudo_voigt(x, 10.0, 0.08, 0.5)
    peak /= peak.max()
    noisy = 100 * peak + rng.normal(0, 5, x.size)
    sm = savgol(noisy, window=9)
    assert sm.max() == pytest.approx(100, rel=0.08)
    assert np.std((sm - 100 * peak)[x < 8]) < 0.6 * 5
    assert np.array_equal(savgol(noisy, window=0), noisy)


def test_smooth_scan_records_what_it_did():
    x = np.linspace(0, 1, 101)
    scan = Scan(x=x, y=np.sin(6 * x), kind="raman")
    out = smooth_scan(scan, points=7)
    assert out.meta.extra["smoothed"] == {"method": "savgol", "window": 7, "polyorder": 3}
    assert out.x is not scan.x and np.allclose(out.x, scan.x)
    with pytest.raises(ValueError, match="either"):
        smooth_scan(scan)
