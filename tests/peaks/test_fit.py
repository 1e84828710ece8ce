"""lmfit refinement: Kα1/Kα2 doublets and overlapped groups refined to the true positions."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.library.crystallography import two_theta
from phasetrace.peaks.find import PeakConfig, search_peaks
from phasetrace.peaks.fit import doublet_pseudo_voigt, group_peaks, refine_peaks
from phasetrace.peaks.profiles import pseudo_voigt
from phasetrace.scan import Radiation, Scan, ScanMeta
from phasetrace.simulate import simulate_xrd

CU = Radiation.from_anode("Cu")


def test_doublet_profile_has_the_right_area_and_lines():
    x = np.arange(40.0, 46.0, 0.001)
    y = doublet_pseudo_voigt(x, 3.0, 43.0, 0.05, 0.5, wavelength_ratio=CU.kalpha2 / CU.kalpha1, ratio=0.5)
    assert np.trapezoid(y, x) == pytest.approx(3.0, rel=5e-3)  # Lorentzian tails beyond ±3°
    single = doublet_pseudo_voigt(x, 3.0, 43.0, 0.05, 0.5)
    assert np.trapezoid(single, x) == pytest.approx(3.0, rel=5e-3)
    # Kα2 line two thirds lower at the Kα2 angle of the same d
    tt2 = float(two_theta(CU.kalpha1 / (2 * np.sin(np.radians(21.5))), CU.kalpha2))
    i2 = np.argmin(np.abs(x - tt2))
    assert y[i2] == pytest.approx(0.5 * y[np.argmin(np.abs(x - 43.0))], rel=0.05)


def test_group_peaks_splits_at_gaps():
    pos = np.array([10.0, 10.1, 10.15, 12.0, 20.0, 20.05])
    groups = group_peaks(pos, np.full(pos.size, 0.05))
    assert [g.tolist() for g in groups] == [[0, 1, 2], [3], [4, 5]]


def test_refined_kalpha1_positions_of_a_simulated_pattern(library):
    scan = simulate_xrd(library, {"MgO": 1.0}, seed=3, max_counts=5e4)
    found = search_peaks(scan)
    refined = search_peaks(scan, PeakConfig(refine=True)).peaks
    assert np.all(refined.refined) and not np.any(refined.kalpha2)
    assert len(refined) == len(found.peaks.primary())  # satellites absorbed by their doublets
    truth = two_theta(library.reflections("MgO").d, CU.kalpha1)
    for tt in truth[(truth > 10) & (truth < 80)]:
        i = int(np.argmin(np.abs(refined.position - tt)))
        assert refined.position[i] == pytest.approx(tt, abs=0.004)
        assert refined.position_err[i] < 0.01
    assert np.all((refined.eta >= 0) & (refined.eta <= 1))


def test_two_overlapping_peaks_are_separated():
    rng = np.random.default_rng(0)
    x = np.arange(28.0, 36.0, 0.005)
    unit = float(pseudo_voigt(np.array([0.0]), 0.0, 0.08, 0.5)[0])  # apex of a unit-area profile
    # a pair 1.5 FWHM apart among isolated peaks of the same width
    lines = [(29.0, 2000), (30.5, 2500), (31.94, 3000), (32.06, 1500), (33.5, 2200), (35.0, 1800)]
    truth = sum(h * pseudo_voigt(x, c, 0.08, 0.5) for c, h in lines) / unit
    y = rng.poisson(100 + truth).astype(float)
    mono = ScanMeta(radiation=Radiation(CU.kalpha1))
    scan = Scan(x=x, y=y, kind="xrd", meta=mono)
    s = search_peaks(scan)
    assert len(s.peaks) == 6
    table = refine_peaks(x, s.net, s.noise, s.peaks, radiation=None)
    assert table.position == pytest.approx([c for c, _ in lines], abs=0.005)
    assert table.area[2] / table.area[3] == pytest.approx(2.0, rel=0.15)
    assert table.fwhm == pytest.approx(np.full(6, 0.08), rel=0.15)
