"""Axis conversions for diffraction data: 2θ ↔ d ↔ Q, and the Kα1/Kα2 doublet.

All functions are pure and vectorised; angles are in degrees 2θ, spacings in
Å and momentum transfer Q = 4π sin θ / λ = 2π / d in Å⁻¹.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "d_to_q",
    "d_to_two_theta",
    "kalpha1_from_kalpha2",
    "kalpha2_position",
    "q_to_d",
    "q_to_two_theta",
    "two_theta_to_d",
    "two_theta_to_q",
]


def two_theta_to_d(two_theta: ArrayLike, wavelength: float) -> np.ndarray:
    """Bragg spacing d = λ / (2 sin θ).

    Parameters
    ----------
    two_theta : array-like, shape (N,)
        Diffraction angles, degrees 2θ (0 < 2θ ≤ 180).
    wavelength : float
        Wavelength, Å.

    Returns
    -------
    numpy.ndarray, shape (N,)
        d in Å (``inf`` at 2θ = 0).
    """
    th = np.radians(np.asarray(two_theta, dtype=float)) / 2.0
    with np.errstate(divide="ignore"):
        return wavelength / (2.0 * np.sin(th))


def d_to_two_theta(d: ArrayLike, wavelength: float) -> np.ndarray:
    """Bragg angle 2θ (degrees) of spacings ``d`` (Å); NaN where λ > 2d (no reflection)."""
    s = wavelength / (2.0 * np.asarray(d, dtype=float))
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, 2.0 * np.degrees(np.arcsin(np.minimum(s, 1.0))), np.nan)


def two_theta_to_q(two_theta: ArrayLike, wavelength: float) -> np.ndarray:
    """Momentum transfer Q = 4π sin θ / λ (Å⁻¹) of angles 2θ (degrees)."""
    th = np.radians(np.asarray(two_theta, dtype=float)) / 2.0
    return 4.0 * np.pi * np.sin(th) / wavelength


def q_to_two_theta(q: ArrayLike, wavelength: float) -> np.ndarray:
    """Angle 2θ (degrees) of momentum transfer ``q`` (Å⁻¹); NaN beyond the Ewald limit Q > 4π/λ."""
    s = np.asarray(q, dtype=float) * wavelength / (4.0 * np.pi)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(s) <= 1.0, 2.0 * np.degrees(np.arcsin(np.clip(s, -1.0, 1.0))), np.nan)


def d_to_q(d: ArrayLike) -> np.ndarray:
    """Q = 2π / d (Å⁻¹)."""
    return 2.0 * np.pi / np.asarray(d, dtype=float)


def q_to_d(q: ArrayLike) -> np.ndarray:
    """Spacing d = 2π / Q (Å)."""
    return 2.0 * np.pi / np.asarray(q, dtype=float)


def kalpha2_position(two_theta_1: ArrayLike, kalpha1: float, kalpha2: float) -> np.ndarray:
    """Where the Kα2 line of a reflection seen at ``two_theta_1`` with Kα1 lies.

    Same d, longer wavelength: sin θ₂ = (λ₂ / λ₁) sin θ₁. NaN when the Kα2
    reflection does not exist (sin θ₂ > 1).

    Examples
    --------
    >>> round(float(kalpha2_position(30.0, 1.540598, 1.544426)), 4)
    30.0763
    """
    s = np.sin(np.radians(np.asarray(two_theta_1, dtype=float)) / 2.0) * (kalpha2 / kalpha1)
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, 2.0 * np.degrees(np.arcsin(np.minimum(s, 1.0))), np.nan)


def kalpha1_from_kalpha2(two_theta_2: ArrayLike, kalpha1: float, kalpha2: float) -> np.ndarray:
    """Inverse of :func:`kalpha2_position`: the Kα1 angle whose Kα2 line lies at ``two_theta_2``."""
    s = np.sin(np.radians(np.asarray(two_theta_2, dtype=float)) / 2.0) * (kalpha1 / kalpha2)
    return 2.0 * np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))
