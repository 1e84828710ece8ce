"""Background estimation: the default per technique recovers a known background under known peaks."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.peaks.profiles import pseudo_voigt
from phasetrace.preprocess import (
    BACKGROUND_METHODS,
    DEFAULT_BACKGROUND,
    BackgroundConfig,
    BackgroundError,
    estimate_background,
    scan_background,
)
from phasetrace.scan import Scan


def xrd_case(step=0.01, seed=0):
    """Slowly varying air-scatter background, an amorphous hump and clusters of narrow peaks."""
    rng = np.random.default_rng(seed)
    x = np.arange(10.0, 80.0 + step / 2, step)
    bg = 150.0 * (1.0 + 1.5 * np.exp(-(x - 10.0) / 8.0)) + 80.0 * np.exp(-0.5 * ((x - 25.0) / 4.0) ** 2)
    centres = np.concatenate([np.linspace(15, 75, 25), [33.0, 33.2, 33.4, 47.5, 47.65]])
    peaks = sum(
        a * pseudo_voigt(x, c, 0.06 + 0.0015 * c, 0.5)
        for a, c in zip(rng.uniform(5, 300, centres.size), centres, strict=True)
    )
    truth = bg + peaks
    return x, rng.poisson(truth).astype(float), bg, peaks


def test_defaults_are_documented():
    assert DEFAULT_BACKGROUND["xrd"] == ("arpls", 1.0)
    assert DEFAULT_BACKGROUND["raman"][0] == "arpls"
    assert set(BACKGROUND_METHODS) >= {"arpls", "snip", "imodpoly", "asls", "none"}


def test_xrd_default_recovers_background():
    x, y, bg, peaks = xrd_case()
    est, params = estimate_background(x, y, kind="xrd")
    sigma = np.sqrt(bg)
    flat = peaks < 1.0
    # on flat stretches: unbiased to a fraction of the counting noise
    assert abs(np.median((est - bg)[flat] / sigma[flat])) < 0.5
    # under peaks it never climbs into them by more than ~1.5σ (95 % of points)
    assert np.percentile((est - bg)[~flat] / sigma[~flat], 95) < 1.5
    assert params["method"] == "arpls" and params["length"] == 1.0
    assert params["lam"] == pytest.approx((1.0 / 0.01) ** 4)
    assert params["converged"] is True


def test_smoothness_is_a_length_not_a_point_count():
    """The same pattern sampled at 0.01° and 0.02° gets the same background."""
    x1, y1, bg1, _ = xrd_case(step=0.01)
    x2, y2, bg2, _ = xrd_case(step=0.02)
    e1, _ = estimate_background(x1, y1)
    e2, _ = estimate_background(x2, y2)
    assert np.median(np.abs(np.interp(x2, x1, e1) - e2)) < 0.5 * np.sqrt(np.median(bg2))


def test_raman_default_follows_fluorescence_not_bands():
    rng = np.random.default_rng(1)
    x = np.arange(100.0, 1800.0, 1.0)
    fluorescence = 2000.0 + 3000.0 * ((x - 100) / 1700) ** 1.5 + 500.0 * np.sin(x / 400.0)
    bands = sum(
        a * pseudo_voigt(x, c, w, 0.7)
        for a, c, w in [(60000, 300, 15), (90000, 640, 30), (40000, 1090, 8), (30000, 520, 45)]
    )
    y = rng.poisson(fluorescence + bands).astype(float)
    est, params = estimate_background(x, y, kind="raman")
    assert params["method"] == "arpls" and params["length"] == 100.0
    peak_free = bands < 5
    assert np.median(np.abs(est - fluorescence)[peak_free]) < 2.0 * np.sqrt(fluorescence.mean())
    # a band's apex keeps at least 90 % of its height after subtraction
    i = np.argmin(np.abs(x - 640))
    assert (y - est)[i - 2 : i + 3].mean() > 0.9 * bands[i]


@pytest.mark.parametrize("method", ["arpls", "asls", "snip", "imodpoly", "none"])
def test_every_method_runs_and_reports_its_parameters(method):
    x, y, bg, _ = xrd_case()
    est, params = estimate_background(x, y, method=method)
    assert est.shape == y.shape and np.all(np.isfinite(est))
    assert params["method"] == method
    key = {"arpls": "lam", "asls": "lam", "snip": "max_half_window", "imodpoly": "poly_order"}.get(method)
    if key:
        assert key in params
    if method == "none":
        assert np.all(est == 0)
    else:
        assert np.median(np.abs(est - bg)) < 3 * np.sqrt(np.median(bg))


def test_scan_background_uses_technique_default():
    x, y, _, _ = xrd_case()
    scan = Scan(x=x, y=y, kind="xrd")
    a, pa = scan_background(scan)
    b, pb = scan_background(scan, BackgroundConfig(method="snip", length=0.8))
    assert pa["method"] == "arpls" and pb["method"] == "snip" and pb["length"] == 0.8
    assert not np.allclose(a, b)


def test_bad_input():
    x = np.arange(5.0)
    with pytest.raises(BackgroundError, match="at least"):
        estimate_background(x, x)
    x = np.arange(50.0)
    y = np.ones(50)
    y[3] = np.nan
    with pytest.raises(BackgroundError, match="non-finite"):
        estimate_background(x, y)
    with pytest.raises(BackgroundError, match="unknown background method"):
        BackgroundConfig(method="rolling-ball")
    with pytest.raises(BackgroundError, match="positive"):
        BackgroundConfig(length=-1)
