"""Settings and results of the whole-spectrum Raman fit (see :mod:`phasetrace.quantify.raman`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...match.result import MatchError

__all__ = ["DETECTION_SIGMA", "UNIQUE_SIGMA", "RamanFit", "RamanFitConfig", "RamanFitError", "RamanPhaseFit"]


#: Significance (amplitude / esd) a phase needs to be detected; see the module docstring.
DETECTION_SIGMA = 8.0


#: Significance it needs near its own bands with its neighbours' plausible misfit modelled.
UNIQUE_SIGMA = 5.0


#: Relative χ² decrease below which a refinement stops; its evaluations inside the forward selection and
#: in the verification with per-band freedom.
REFINE_TOLERANCE = 1e-4


Status = Literal["detected", "not detected", "indistinguishable", "not testable"]


class RamanFitError(MatchError):
    """The spectrum cannot be fitted (too few finite points in the window)."""


@dataclass(frozen=True)
class RamanFitConfig:
    """Settings of :func:`fit_raman` (defaults are the documented behaviour).

    Parameters
    ----------
    threshold : float
        Significance (amplitude / esd) a phase needs to be detected.
    unique_threshold : float
        Significance it needs near its own bands, its neighbours' misfit allowed for.
    shift_tolerance : float
        Bound of each phase's common band shift, cm⁻¹ (the matcher's
        ``MatchConfig.raman_tolerance``).
    broad_fraction : float
        For broad-band phases the shift bound grows to this fraction of the
        phase's narrowest band FWHM (``MatchConfig.raman_broad_fraction``).
    width_bounds : (float, float)
        Bounds of each phase's common width scale.
    eta : float
        Lorentzian fraction of the pseudo-Voigt bands.
    background_terms : int, optional
        Chebyshev background terms; default one per :data:`BACKGROUND_SPACING`
        cm⁻¹ of window.
    min_shift, max_shift : float, optional
        Fitted window, cm⁻¹ (``min_shift`` keeps the laser line and the edge of
        the notch or edge filter out).
    band_intensity : {"area", "height"}
        How ``rel_intensity`` of the band table is read.
    band_freedom : bool
        Give the dominant phases per-band distortions (:data:`BAND_FREEDOM`).
    despike : bool
        Give cosmic-ray spikes zero weight.
    twin_similarity : float
        Two phases whose band patterns (background projected out) reach this
        cosine similarity within the shift and width freedom are
        indistinguishable.
    max_nfev : int
        Evaluations per nonlinear refinement.
    """

    threshold: float = DETECTION_SIGMA
    unique_threshold: float = UNIQUE_SIGMA
    shift_tolerance: float = 8.0
    broad_fraction: float = 0.35
    width_bounds: tuple[float, float] = (0.5, 2.0)
    eta: float = 0.7
    background_terms: int | None = None
    min_shift: float = 80.0
    max_shift: float | None = None
    band_intensity: Literal["area", "height"] = "area"
    band_freedom: bool = True
    despike: bool = True
    twin_similarity: float = 0.985
    max_nfev: int = 40

    def __post_init__(self) -> None:
        lo, hi = self.width_bounds
        checks = {
            "threshold": self.threshold > 0,
            "unique_threshold": self.unique_threshold >= 0,
            "shift_tolerance": self.shift_tolerance >= 0,
            "broad_fraction": self.broad_fraction >= 0,
            "width_bounds": 0 < lo <= 1.0 <= hi,
            "eta": 0.0 <= self.eta <= 1.0,
            "twin_similarity": 0.0 < self.twin_similarity <= 1.0,
            "max_nfev": self.max_nfev >= 1,
            "band_intensity": self.band_intensity in ("area", "height"),
            "background_terms": self.background_terms is None or self.background_terms >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise MatchError(f"RamanFitConfig.{name} out of range: {getattr(self, name)!r}")


@dataclass(frozen=True)
class RamanPhaseFit:
    """The whole-spectrum evidence for one candidate phase.

    Attributes
    ----------
    id : str
    detected : bool or None
        None: Raman cannot test the phase (``status`` "not testable") or
        cannot tell it from ``twin_of`` ("indistinguishable").
    status : {"detected", "not detected", "indistinguishable", "not testable"}
    reason : str
        Why a phase is not testable or not detected (empty when detected).
    amplitude : float
        Fitted amplitude: the area of a band of ``rel_intensity`` 1, in
        intensity × cm⁻¹. For a phase left out of the model, the amplitude it
        would get if added alone (may be negative).
    esd : float
        Standard error of the amplitude at the fitted band shapes (for a phase
        left out: if added), scaled by the GoF; ``threshold × esd`` is the
        phase's detection limit in this spectrum.
    esd_full : float
        The same with the uncertainty of the phase's shift and width included
        (phases in the model only; NaN otherwise).
    significance : float
        ``amplitude / esd``.
    unique_significance : float
        Significance near its own bands with the neighbours' plausible misfit
        modelled (phases in the model only).
    shift : float
        Fitted band shift of the phase, cm⁻¹ (with per-band freedom: the
        area-weighted mean of its bands' shifts).
    width_scale : float
        Fitted common width scale.
    bands : tuple of float
        Fitted positions of the phase's bands inside the window, cm⁻¹.
    band_areas : tuple of float
        Fitted area of each of those bands (phases in the model; empty otherwise).
    twin_of : str or None
        The phase that stands for this one in the fit (indistinguishable).
    alternatives : tuple of str
        Phases this one stands for.
    """

    id: str
    detected: bool | None
    status: Status
    reason: str = ""
    amplitude: float = 0.0
    esd: float = math.nan
    esd_full: float = math.nan
    significance: float = 0.0
    unique_significance: float = 0.0
    shift: float = 0.0
    width_scale: float = 1.0
    bands: tuple[float, ...] = ()
    band_areas: tuple[float, ...] = ()
    twin_of: str | None = None
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (non-finite numbers as None)."""
        return {
            "id": self.id,
            "detected": self.detected,
            "status": self.status,
            "reason": self.reason,
            "amplitude": _num(self.amplitude),
            "esd": _num(self.esd),
            "esd_full": _num(self.esd_full),
            "significance": _num(self.significance),
            "unique_significance": _num(self.unique_significance),
            "shift": _num(self.shift),
            "width_scale": _num(self.width_scale),
            "bands": [round(b, 2) for b in self.bands],
            "band_areas": [_num(a) for a in self.band_areas],
            "twin_of": self.twin_of,
            "alternatives": list(self.alternatives),
        }


@dataclass(frozen=True)
class RamanFit:
    """Outcome of :func:`fit_raman`.

    Attributes
    ----------
    phases : tuple of RamanPhaseFit
        One per requested phase, in the requested order.
    x, y : numpy.ndarray
        The fitted window of the spectrum.
    sigma : numpy.ndarray
        Per-point noise used for the weights.
    weight_mask : numpy.ndarray of bool
        False at points given zero weight (spikes).
    background, calculated, residual : numpy.ndarray
        Fitted background, background + phases, and ``y - calculated``.
    contributions : dict
        Phase id -> its fitted contribution (phases in the model).
    gof : float
        Goodness of fit, ``sqrt(χ² / (N - P))``.
    noise_method : str
        ``"counts"`` or ``"mad"``.
    n_spikes : int
        Points given zero weight as spikes.
    background_terms : int
    config : RamanFitConfig
    """

    phases: tuple[RamanPhaseFit, ...]
    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray
    weight_mask: np.ndarray
    background: np.ndarray
    calculated: np.ndarray
    residual: np.ndarray
    contributions: dict[str, np.ndarray] = field(default_factory=dict)
    gof: float = math.nan
    noise_method: str = ""
    n_spikes: int = 0
    background_terms: int = 0
    config: RamanFitConfig = field(default_factory=RamanFitConfig)

    def __getitem__(self, pid: str) -> RamanPhaseFit:
        for p in self.phases:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def __iter__(self) -> Iterator[RamanPhaseFit]:
        return iter(self.phases)

    def __len__(self) -> int:
        return len(self.phases)

    @property
    def detected(self) -> list[str]:
        """Ids of the detected phases."""
        return [p.id for p in self.phases if p.detected]

    def report(self) -> str:
        """Plain-text summary: per phase its status, significance (whole-spectrum and unique) and shift."""
        lo, hi = (float(self.x[0]), float(self.x[-1])) if self.x.size else (math.nan, math.nan)
        lines = [
            f"Raman whole-spectrum fit, {lo:.0f}-{hi:.0f} cm⁻¹: GoF {self.gof:.2f}, "
            f"{self.background_terms} background terms, noise {self.noise_method}"
            + (f", {self.n_spikes} spike point(s) ignored" if self.n_spikes else ""),
            f"  {'phase':<18} {'status':<18} {'z':>7} {'z unique':>8} {'shift':>7}  note",
        ]
        for p in self.phases:
            z = f"{p.significance:7.1f}" if math.isfinite(p.significance) else f"{'–':>7}"
            zu = f"{p.unique_significance:8.1f}" if p.detected is not None else f"{'':>8}"
            shift = f"{p.shift:+7.1f}" if p.detected is not None else f"{'':>7}"
            note = p.reason or (f"tested as {p.twin_of}" if p.twin_of else "")
            if p.alternatives:
                note = (note + "; " if note else "") + f"stands for {', '.join(p.alternatives)}"
            lines.append(f"  {p.id:<18} {p.status:<18} {z} {zu} {shift}  {note}")
        lines.append(
            f"  detected: significance ≥ {self.config.threshold:g} and ≥ {self.config.unique_threshold:g} "
            "near its own bands, no strong band missing"
        )
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Spectrum, background, fit, each phase's contribution and the residual.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(10, 5.5))
        ax.plot(self.x, self.y, ".", ms=1.5, color="0.2", label="observed")
        ax.plot(self.x, self.calculated, "-", lw=0.8, color="tab:red", label="calculated")
        ax.plot(self.x, self.background, "-", lw=0.6, color="tab:gray", label="background")
        for pid, curve in self.contributions.items():
            ax.plot(self.x, self.background + curve, "-", lw=0.6, label=pid)
        top = float(np.max(self.y)) if self.y.size else 1.0
        offset = -0.08 * top - (float(np.max(self.residual)) if self.residual.size else 0.0)
        ax.plot(self.x, self.residual + offset, "-", lw=0.6, color="tab:blue", label="residual")
        ax.set_xlabel("Raman shift (cm⁻¹)")
        ax.set_ylabel("intensity")
        ax.set_title(f"Raman fit  GoF {self.gof:.2f}", fontsize=9)
        ax.legend(fontsize=7, ncols=2, loc="upper right")
        return ax

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """JSON-ready summary; ``arrays=True`` adds x, y, background, calculated and residual."""
        out: dict[str, Any] = {
            "gof": _num(self.gof),
            "noise_method": self.noise_method,
            "n_points": int(self.x.size),
            "n_spikes": self.n_spikes,
            "window": [float(self.x[0]), float(self.x[-1])] if self.x.size else None,
            "background_terms": self.background_terms,
            "threshold": self.config.threshold,
            "unique_threshold": self.config.unique_threshold,
            "phases": [p.to_dict() for p in self.phases],
        }
        if arrays:
            for name in ("x", "y", "background", "calculated", "residual"):
                out[name] = np.asarray(getattr(self, name)).tolist()
        return out


def _num(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None
