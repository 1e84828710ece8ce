"""Peak profile functions: pure, vectorised, area-normalised (like lmfit's ``lineshapes``).

Widths are full widths at half maximum (FWHM) in the units of x.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "caglioti_fwhm",
    "gaussian",
    "lorentzian",
    "pseudo_voigt",
    "scherrer_fwhm",
    "split_pseudo_voigt",
    "strain_fwhm",
]

_G = 4.0 * np.log(2.0)


def gaussian(x: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray) -> np.ndarray:
    """Unit-area Gaussian with the given FWHM."""
    d = (np.asarray(x) - center) / fwhm
    return np.sqrt(_G / np.pi) / fwhm * np.exp(-_G * d * d)


def lorentzian(x: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray) -> np.ndarray:
    """Unit-area Lorentzian with the given FWHM."""
    d = (np.asarray(x) - center) / fwhm
    return 2.0 / (np.pi * fwhm) / (1.0 + 4.0 * d * d)


def pseudo_voigt(
    x: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray, eta: float | np.ndarray
) -> np.ndarray:
    """Unit-area pseudo-Voigt: ``eta`` Lorentzian + ``1 - eta`` Gaussian, same FWHM."""
    return eta * lorentzian(x, center, fwhm) + (1.0 - eta) * gaussian(x, center, fwhm)


def split_pseudo_voigt(
    x: np.ndarray,
    center: float | np.ndarray,
    fwhm: float | np.ndarray,
    eta: float | np.ndarray,
    asymmetry: float | np.ndarray,
) -> np.ndarray:
    """Unit-area pseudo-Voigt with different half widths left and right of the centre.

    ``asymmetry`` in (-1, 1): the left half width is ``fwhm/2 · (1 + asymmetry)``
    and the right one ``fwhm/2 · (1 - asymmetry)``; positive values give the
    low-angle tail of axial divergence.
    """
    x = np.asarray(x)
    wl = fwhm * (1.0 + asymmetry)
    wr = fwhm * (1.0 - asymmetry)
    left = x < center
    w = np.where(left, wl, wr)
    # each half is half of a unit-area profile of its own width, rescaled to join at the peak
    prof = pseudo_voigt(x, center, w, eta) * w
    return prof * 2.0 / (wl + wr)


def caglioti_fwhm(two_theta_deg: np.ndarray, u: float, v: float, w: float) -> np.ndarray:
    """Caglioti width ``sqrt(U tan²θ + V tanθ + W)`` in degrees 2θ (clipped at a tiny positive value)."""
    t = np.tan(np.radians(np.asarray(two_theta_deg)) / 2.0)
    return np.sqrt(np.maximum(u * t * t + v * t + w, 1e-8))


def scherrer_fwhm(two_theta_deg: np.ndarray, wavelength: float, size_nm: float, k: float = 0.9) -> np.ndarray:
    """Size broadening ``K λ / (L cos θ)`` in degrees 2θ for crystallite size ``size_nm``."""
    th = np.radians(np.asarray(two_theta_deg)) / 2.0
    return np.degrees(k * wavelength / (size_nm * 10.0 * np.cos(th)))


def strain_fwhm(two_theta_deg: np.ndarray, microstrain: float) -> np.ndarray:
    """Microstrain broadening ``4 ε tan θ`` in degrees 2θ (``microstrain`` as a fraction)."""
    th = np.radians(np.asarray(two_theta_deg)) / 2.0
    return np.degrees(4.0 * microstrain * np.tan(th))
