"""Preprocessing: background (pybaselines), noise, smoothing, and axis conversions (2θ ↔ d ↔ Q)."""

from .axes import (
    d_to_q,
    d_to_two_theta,
    kalpha1_from_kalpha2,
    kalpha2_position,
    q_to_d,
    q_to_two_theta,
    two_theta_to_d,
    two_theta_to_q,
)
from .background import (
    BACKGROUND_METHODS,
    DEFAULT_BACKGROUND,
    BackgroundConfig,
    BackgroundError,
    estimate_background,
    scan_background,
)
from .noise import NOISE_METHODS, NoiseError, estimate_noise, point_scatter, scan_noise
from .smoothing import savgol, smooth_scan

__all__ = [
    "BACKGROUND_METHODS",
    "DEFAULT_BACKGROUND",
    "NOISE_METHODS",
    "BackgroundConfig",
    "BackgroundError",
    "NoiseError",
    "d_to_q",
    "d_to_two_theta",
    "estimate_background",
    "estimate_noise",
    "kalpha1_from_kalpha2",
    "kalpha2_position",
    "point_scatter",
    "q_to_d",
    "q_to_two_theta",
    "savgol",
    "scan_background",
    "scan_noise",
    "smooth_scan",
    "two_theta_to_d",
    "two_theta_to_q",
]
