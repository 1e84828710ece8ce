"""Noise estimates: counting statistics for counts, a robust local MAD otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from phasetrace.peaks.profiles import pseudo_voigt
from phasetrace.preprocess import NoiseError, estimate_noise, point_scatter, scan_noise
from phasetrace.scan import Scan

X = np.arange(10.0, 80.0, 0.01)


def counts(scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    lam = 200.0 + 2000.0 * pseudo_voigt(X, 40.0, 0.1, 0.5) * 0.1 + 100.0 * np.exp(-(X - 10) / 10)
    return lam, rng.poisson(lam).astype(float) * scale


def test_raw_counts_use_counting_statistics():
    lam, y = counts()
    sigma, params = estimate_noise(X, y, kind="xrd")
    assert params["method"] == "counts" and params["gain"] == 1.0
    assert sigma == pytest.approx(np.sqrt(lam), rel=0.15)


def test_overdispersed_counts_get_a_gain():
    """Integer intensities four times the counts (summed channels): σ = 4 sqrt(N) = 2 sqrt(y)."""
    lam, y = counts(scale=4.0)
    sigma, params = estimate_noise(X, y, kind="xrd")
    assert params["gain"] == pytest.approx(2.0, rel=0.15)
    assert np.median(sigma / np.sqrt(4 * lam)) == pytest.approx(2.0, rel=0.15)


def test_non_integer_intensities_use_the_robust_estimate():
    lam, y = counts(scale=0.37)
    sigma, params = estimate_noise(X, y, kind="xrd")
    assert params["method"] == "mad"
    true = 0.37 * np.sqrt(lam)
    flat = np.abs(X - 40) > 1
    assert np.median(sigma[flat] / true[flat]) == pytest.approx(1.0, rel=0.2)


def test_raman_mad_is_local():
    rng = np.random.default_rng(3)
    x = np.arange(100.0, 2000.0, 1.0)
    noise_level = np.where(x < 1000, 5.0, 20.0)
    bands = 3000 * pseudo_voigt(x, 500, 12, 0.7) + 2000 * pseudo_voigt(x, 1500, 10, 0.7)
    y = 1000 + 0.2 * x + bands + rng.normal(0, noise_level)
    sigma, params = estimate_noise(x, y, kind="raman")
    assert params["method"] == "mad"
    assert np.median(sigma[(x > 200) & (x < 900)]) == pytest.approx(5.0, rel=0.2)
    assert np.median(sigma[(x > 1100) & (x < 1900)]) == pytest.approx(20.0, rel=0.2)


def test_smoothed_noise_is_not_underestimated():
    """A 3-point moving average correlates neighbours; the lag-1 difference alone would see ~1/3 of σ."""
    rng = np.random.default_rng(4)
    white = rng.normal(0, 10.0, 20000)
    smooth = uniform_filter1d(white, 3)
    true = smooth.std()
    assert point_scatter(smooth) == pytest.approx(true, rel=0.1)


def test_file_sigma_is_used_and_required_for_file_method():
    lam, y = counts()
    scan = Scan(x=X, y=y, kind="xrd", sigma=np.full(X.size, 7.0))
    sigma, params = scan_noise(scan)
    assert params["method"] == "file" and np.all(sigma == 7.0)
    with pytest.raises(NoiseError, match="no uncertainties"):
        estimate_noise(X, y, method="file")
    with pytest.raises(NoiseError, match="non-negative"):
        estimate_noise(X, y - 1000, method="counts")
    with pytest.raises(NoiseError, match="unknown noise method"):
        estimate_noise(X, y, method="guess")


def test_sigma_is_strictly_positive():
    y = np.zeros(X.size)
    y[::50] = 1.0
    sigma, _ = estimate_noise(X, y, kind="xrd")
    assert np.all(sigma > 0)
