"""Background (baseline) estimation with pybaselines, with a documented default per technique.

The smoothness of every method is set by a *length in x units* (degrees 2θ,
cm⁻¹) rather than by pybaselines' raw ``lam`` or window in points, so that a
default means the same thing at a step of 0.005° and of 0.02°. For the
Whittaker methods ``lam = (length / step)**4``: the penalised second
difference makes the smoother's cut-off scale grow as ``lam**(1/4)`` points.

Defaults (chosen on simulated patterns with a known background, see
``tests/preprocess/test_background.py``):

- **XRD: arPLS, length 1.0° 2θ.** Asymmetrically reweighted penalised least
  squares (Baek et al., Analyst 140 (2015) 250) sits in the middle of the
  noise on flat stretches, follows slow air-scatter rises and amorphous humps
  (widths ≥ 5°), and stays below clusters of narrow Bragg peaks (widths
  0.05–0.3°). SNIP was as good under peaks but drifts at the scan ends and
  below the noise (a negative bias of ~0.2σ); it is available as ``"snip"``.
- **Raman: arPLS, length 100 cm⁻¹.** Fluorescence varies over hundreds to
  thousands of cm⁻¹, while oxide bands are 10–80 cm⁻¹ wide; arPLS with this
  stiffness follows the fluorescence without cutting into broad bands and,
  unlike a single polynomial (``"imodpoly"``, also available), does not
  oscillate over a 100–4000 cm⁻¹ range.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import PhasetraceError
from ..scan import Scan, ScanKind

__all__ = [
    "BACKGROUND_METHODS",
    "DEFAULT_BACKGROUND",
    "BackgroundConfig",
    "BackgroundError",
    "estimate_background",
    "scan_background",
]

#: Background methods by name; every one is smoothed by a length in x units.
BACKGROUND_METHODS = ("arpls", "asls", "snip", "imodpoly", "none")

#: The default method and smoothness length per technique (see the module docstring for why).
DEFAULT_BACKGROUND: Mapping[str, tuple[str, float]] = MappingProxyType(
    {"xrd": ("arpls", 1.0), "raman": ("arpls", 100.0)}
)

#: Polynomial order of ``"imodpoly"``: enough for a fluorescence curve, not enough to follow bands.
IMODPOLY_ORDER = 5

#: Asymmetry of ``"asls"``: the weight of points above the baseline (Eilers & Boelens' usual 0.001–0.05).
ASLS_P = 0.01

#: Fewest points a background can be estimated on.
MIN_POINTS = 10


class BackgroundError(PhasetraceError, ValueError):
    """A background cannot be estimated (unknown method, too few points, non-finite data)."""


@dataclass(frozen=True)
class BackgroundConfig:
    """How to estimate a scan's background.

    Parameters
    ----------
    method : {"arpls", "asls", "snip", "imodpoly", "none"} or None
        None: the technique's default (:data:`DEFAULT_BACKGROUND`).
    length : float or None
        Smoothness length in x units (degrees 2θ or cm⁻¹): features much
        broader than this are background. None: the technique's default.
        Not used by ``"imodpoly"`` and ``"none"``.
    options : mapping
        Further keyword arguments for the pybaselines method (e.g.
        ``{"max_iter": 100}``).
    """

    method: str | None = None
    length: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in BACKGROUND_METHODS:
            raise BackgroundError(
                f"unknown background method {self.method!r}; choose one of {', '.join(BACKGROUND_METHODS)}"
            )
        if self.length is not None and not (np.isfinite(self.length) and self.length > 0):
            raise BackgroundError(f"background length must be a positive number, got {self.length!r}")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def resolved(self, kind: ScanKind) -> tuple[str, float]:
        """Method and length with the technique's defaults filled in."""
        method, length = DEFAULT_BACKGROUND[kind]
        return self.method or method, float(self.length if self.length is not None else length)


def estimate_background(
    x: ArrayLike,
    y: ArrayLike,
    *,
    kind: ScanKind = "xrd",
    method: str | None = None,
    length: float | None = None,
    **options: Any,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Estimate the slowly varying background under peaks.

    Parameters
    ----------
    x : array-like, shape (N,)
        Increasing 2θ (degrees) or Raman shift (cm⁻¹).
    y : array-like, shape (N,)
        Intensities.
    kind : {"xrd", "raman"}
        Technique; selects the default method and length.
    method : str, optional
        One of :data:`BACKGROUND_METHODS`; default per technique.
    length : float, optional
        Smoothness length in x units; default per technique.
    **options
        Passed to the pybaselines method.

    Returns
    -------
    background : numpy.ndarray, shape (N,)
    params : dict
        ``"method"`` (str), ``"length"`` (float, x units), ``"step"`` (median
        x spacing), and per method ``"lam"`` (arpls, asls), ``"max_half_window"``
        (snip, points) or ``"poly_order"`` (imodpoly); ``"converged"`` (bool,
        for the iterative methods: False if pybaselines stopped at its
        iteration limit).

    Raises
    ------
    BackgroundError
        For an unknown method, fewer than :data:`MIN_POINTS` points or
        non-finite values.
    """
    from pybaselines import Baseline

    cfg = BackgroundConfig(method=method, length=length, options=options)
    meth, ell = cfg.resolved(kind)
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise BackgroundError(f"x and y must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    if xa.size < MIN_POINTS:
        raise BackgroundError(f"a background needs at least {MIN_POINTS} points, got {xa.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise BackgroundError("the scan contains non-finite values")
    step = float(np.median(np.diff(xa)))
    params: dict[str, Any] = {"method": meth, "length": ell, "step": step}
    if meth == "none":
        return np.zeros_like(ya), params
    fitter = Baseline(xa, assume_sorted=True)
    opts = dict(cfg.options)
    pts = ell / step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pybaselines warns about window sizes near the data length
        if meth in ("arpls", "asls"):
            lam = float(opts.pop("lam", pts**4))
            if meth == "asls":
                opts.setdefault("p", ASLS_P)
            bg, extra = getattr(fitter, meth)(ya, lam=lam, **opts)
            params["lam"] = lam
        elif meth == "snip":
            half = int(opts.pop("max_half_window", max(2, round(pts))))
            half = min(half, (ya.size - 1) // 2)
            opts.setdefault("decreasing", True)
            opts.setdefault("smooth_half_window", max(1, round(0.05 * pts)))
            opts.setdefault("pad_kwargs", {"mode": "extrapolate", "extrapolate_window": max(2, half // 2)})
            bg, extra = fitter.snip(ya, max_half_window=half, **opts)
            params["max_half_window"] = half
        else:  # imodpoly
            order = int(opts.pop("poly_order", IMODPOLY_ORDER))
            bg, extra = fitter.imodpoly(ya, poly_order=order, **opts)
            params["poly_order"] = order
    tol_history = extra.get("tol_history") if isinstance(extra, dict) else None
    if tol_history is not None and len(tol_history):
        tol = float(opts.get("tol", 1e-3))
        params["converged"] = bool(tol_history[-1] < tol)
    return np.asarray(bg, dtype=float), params


def scan_background(scan: Scan, config: BackgroundConfig | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Background of a :class:`~phasetrace.scan.Scan` with the technique's defaults.

    Parameters
    ----------
    scan : Scan
    config : BackgroundConfig, optional

    Returns
    -------
    background : numpy.ndarray, shape (N,)
    params : dict
        As :func:`estimate_background`.
    """
    cfg = config or BackgroundConfig()
    return estimate_background(
        scan.x, scan.y, kind=scan.kind, method=cfg.method, length=cfg.length, **dict(cfg.options)
    )
