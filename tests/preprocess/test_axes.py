"""Axis conversions 2θ ↔ d ↔ Q and the Kα1/Kα2 doublet, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.preprocess import axes

CU1, CU2 = 1.540598, 1.544426


def test_two_theta_to_d_known_value():
    # d = λ / (2 sin 15°)
    assert axes.two_theta_to_d(30.0, CU1) == pytest.approx(CU1 / (2 * np.sin(np.radians(15.0))))


@pytest.mark.parametrize("tt", [10.0, 33.9, 79.9, 150.0])
def test_round_trips(tt):
    d = axes.two_theta_to_d(tt, CU1)
    assert axes.d_to_two_theta(d, CU1) == pytest.approx(tt)
    q = axes.two_theta_to_q(tt, CU1)
    assert q == pytest.approx(axes.d_to_q(d))
    assert axes.q_to_two_theta(q, CU1) == pytest.approx(tt)
    assert axes.q_to_d(q) == pytest.approx(d)


def test_unreachable_reflections_are_nan():
    assert np.isnan(axes.d_to_two_theta(0.5, CU1))  # λ > 2d
    assert np.isnan(axes.q_to_two_theta(9.0, CU1))  # beyond 4π/λ
    assert np.isnan(axes.kalpha2_position(179.9, CU1, 1.7))


def test_kalpha2_doublet_separation_grows_with_angle():
    tt1 = np.array([20.0, 40.0, 60.0, 80.0])
    tt2 = axes.kalpha2_position(tt1, CU1, CU2)
    sep = tt2 - tt1
    # Δ2θ = 2 tan θ Δλ/λ (first order)
    expected = np.degrees(2 * np.tan(np.radians(tt1 / 2)) * (CU2 - CU1) / CU1)
    assert sep == pytest.approx(expected, rel=0.01)
    assert np.all(np.diff(sep) > 0)
    assert axes.kalpha1_from_kalpha2(tt2, CU1, CU2) == pytest.approx(tt1)
