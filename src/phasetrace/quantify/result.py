"""Results of a whole-pattern fit: weight fractions with standard errors and detection limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .residual import FitQuality

__all__ = ["PhaseResult", "QuantResult"]

CRYSTALLINE_NOTE = (
    "Weight fractions are of the crystalline part of the sample: amorphous material is not seen by "
    "the fit (use an internal standard to measure it)."
)


def _finite(value: float | None) -> float | None:
    """A JSON-safe number: None for NaN and infinities."""
    return float(value) if value is not None and np.isfinite(value) else None


@dataclass(frozen=True)
class PhaseResult:
    """One phase of a fit (or a candidate tested and not found).

    Attributes
    ----------
    id, formula : str
    wt_percent : float
        Weight fraction of the crystalline part, % (0 for phases not detected).
    esd : float
        Standard error of ``wt_percent``.
    lod_wt_percent : float
        Detection limit. For a phase not detected: the smallest wt % that would
        have been detected at the scan's noise (the significance the procedure
        needs). For a detected phase: the wt % at which it would still be detected
        in this scan beside the other phases as fitted (computed as for an absent
        candidate, relative to the whole crystalline part, or its own
        ``detection_sigma`` standard errors beside the other phases when that is
        lower: never above its amount); NaN for a phase alone
        in the model (at any amount it is all of the crystalline part).
    detected : bool
        Scale factor above ``detection_sigma`` standard errors (and above the LoD).
    in_model : bool
        Whether the phase was part of the final model.
    cell : dict
        Refined (or reference) cell, Å and degrees.
    cell_scale : float
        Isotropic scale of the reference cell (for a full cell: the cube root of its volume ratio).
    cell_esd : dict or None
        Standard errors of ``cell`` (same keys) from the fit covariance scaled by the goodness of
        fit; None for candidates not in the model, entries None for held cells.
    volume, volume_esd : float or None
        Cell volume (Å³) and its esd (correlations of the cell parameters kept).
    c_over_a, c_over_a_esd : float or None
        c/a of non-cubic cells; its esd only when the full cell was refined (an isotropic scale
        keeps the reference c/a).
    cell_refinement : str
        "full" (free parameters of the crystal system), "isotropic" (one scale) or "held".
    size_nm : float or None
        Apparent crystallite size from the refined size broadening.
    texture_r : float or None
        March–Dollase ratio if refined.
    texture_axis : tuple of int or None
        Its axis (hkl of the plane normal), given or found by the texture search.
    b_iso : float or None
        Overall isotropic displacement parameter of the phase (Å², scattering-weighted
        mean over its atoms), refined for phases of a few wt % or more, else the
        CIF's (or typical) value.
    alternatives : list of str
        Phases that fit the data about equally well in its place.
    same_as : str or None
        For a candidate not in the model: the detected phase it cannot be told apart from (a
        twin whose reference cell coincides with it, see :func:`selection.inseparable`). Its
        amount is in that phase's, so it has no detection limit of its own (``lod_wt_percent``
        NaN): one computed beside its twin would only say how much more of the same pattern the
        fit could hide.
    evidence : tuple of dict
        For a detected phase: the reflections that carry its detection, strongest
        first. Each has ``hkl`` (list of [h, k, l] of the reflections at that
        position), ``two_theta`` (Kα1, refined cell), ``height`` (its fitted peak
        height, counts), ``share`` (its part of the calculated Bragg intensity
        there, 0-1) and ``sigma`` (local significance). Reflections it dominates
        (share >= 0.5) are listed; when it dominates none, its strongest overlapped
        ones, and the detection rests on the whole-pattern fit.
    reliable : bool
        False when the fit it comes from is poor (see :class:`FitQuality`): the
        number is then a rough share of the identified part, not a result.
    at_limit : tuple of str
        Refined terms of the phase that ended at a bound of their range, so that
        the value is the bound, not a measurement: ``"B"`` (displacement parameter
        at its lower bound or its largest change), ``"size"`` (the broadening
        limit: the crystallites are this small or smaller), ``"cell"`` (the cell
        scale at its allowed strain).
    """

    id: str
    formula: str
    wt_percent: float
    esd: float
    lod_wt_percent: float
    detected: bool
    in_model: bool
    cell: dict[str, float]
    cell_scale: float
    size_nm: float | None = None
    texture_r: float | None = None
    texture_axis: tuple[int, ...] | None = None
    b_iso: float | None = None
    scale_factor: float = 0.0
    scale_sigma: float = 0.0
    alternatives: tuple[str, ...] = ()
    role: str = ""
    evidence: tuple[dict[str, Any], ...] = ()
    reliable: bool = True
    cell_esd: dict[str, float | None] | None = None
    volume: float | None = None
    volume_esd: float | None = None
    c_over_a: float | None = None
    c_over_a_esd: float | None = None
    cell_refinement: str = ""
    at_limit: tuple[str, ...] = ()
    same_as: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "reliable": self.reliable,
            "id": self.id,
            "formula": self.formula,
            "wt_percent": _finite(self.wt_percent),
            "esd": _finite(self.esd),
            # undefined (None) when no phase is in the model: a limit is a share of the identified part
            "lod_wt_percent": _finite(self.lod_wt_percent),
            "detected": self.detected,
            "in_model": self.in_model,
            "cell": self.cell,
            "cell_scale": self.cell_scale,
            "cell_esd": dict(self.cell_esd) if self.cell_esd is not None else None,
            "volume": self.volume,
            "volume_esd": self.volume_esd,
            "c_over_a": self.c_over_a,
            "c_over_a_esd": self.c_over_a_esd,
            "cell_refinement": self.cell_refinement,
            "size_nm": self.size_nm,
            "texture_r": self.texture_r,
            "texture_axis": list(self.texture_axis) if self.texture_axis is not None else None,
            "b_iso": self.b_iso,
            "alternatives": list(self.alternatives),
            "same_as": self.same_as,
            "role": self.role,
            "evidence": [dict(e) for e in self.evidence],
            "at_limit": list(self.at_limit),
        }


@dataclass
class QuantResult:
    """Outcome of :func:`phasetrace.quantify.quantify`.

    Attributes
    ----------
    file : str
    phases : list of PhaseResult
        Phases in the model first (by wt %), then candidates tested and not found.
    rwp, rexp, gof : float
        R factors (weighted profile, expected) and goodness of fit.
    quality : FitQuality or None
        The residual reading: unexplained peaks and the fit-quality flag. A poor
        fit's weight fractions are scaled by the share of the diffracted intensity
        the model explains and marked unreliable.
    success : bool
        False when the fit failed; ``message`` says why and no number should be used.
    x, y, ycalc, background : ndarray
        Observed, calculated and background curves (fitted range).
    phase_curves : dict
        Phase id -> its calculated contribution.
    ticks : dict
        Phase id -> reflection positions (Kα1) in the fitted range.
    globals : dict
        Zero shift, displacement (µm), instrument W, pseudo-Voigt η (refined, or as
        given where ``globals_fixed`` says so).
    globals_fixed : tuple of str
        Names in ``globals`` that were not refined (the zero shift without an
        instrument file): held at the given or default value.
    globals_at_limit : tuple of str
        Refined names in ``globals`` that ended at a bound of their range (the
        displacement at ±400 µm): the value is the bound, not a measurement.
    selection : list of dict
        The phase-selection steps (what was added or removed and why).
    start_values : dict
        Refined nonlinear parameters in the form ``quantify(start=...)`` takes,
        to start a related fit (the same scan with other phases, the next
        temperature) where this one ended.
    instrument : dict
        The instrument description the fit used (an instrument file and/or the
        scan's metadata; :meth:`phasetrace.quantify.instrument.Instrument.to_dict`),
        empty when the documented defaults were used.
    """

    file: str
    phases: list[PhaseResult]
    rwp: float
    rexp: float
    gof: float
    success: bool
    message: str
    x: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    ycalc: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    background: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    phase_curves: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    ticks: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    globals: dict[str, float] = field(default_factory=dict)
    globals_fixed: tuple[str, ...] = ()
    globals_at_limit: tuple[str, ...] = ()
    selection: list[dict[str, Any]] = field(default_factory=list)
    start_values: dict[str, Any] = field(default_factory=dict)
    instrument: dict[str, Any] = field(default_factory=dict)
    note: str = CRYSTALLINE_NOTE
    quality: FitQuality | None = None

    @property
    def poor_fit(self) -> bool:
        """Whether the residual reading flagged the fit (unexplained peaks or GoF beyond the noise)."""
        return bool(self.quality is not None and self.quality.poor)

    @property
    def flag(self) -> str:
        """"poor", "ok", or "failed"."""
        if not self.success:
            return "failed"
        return self.quality.flag if self.quality is not None else "ok"

    def __getitem__(self, pid: str) -> PhaseResult:
        for p in self.phases:
            if p.id == pid:
                return p
        raise KeyError(pid)

    @property
    def detected(self) -> list[PhaseResult]:
        """Phases detected, by decreasing wt %."""
        return [p for p in self.phases if p.detected]

    def weight_fractions(self) -> dict[str, float]:
        """Phase id -> wt % of the phases in the model."""
        return {p.id: p.wt_percent for p in self.phases if p.in_model}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the ``phasetrace fit --json`` document)."""
        return {
            "file": self.file,
            "success": self.success,
            "message": self.message,
            "rwp": _finite(self.rwp),
            "rexp": _finite(self.rexp),
            "gof": _finite(self.gof),
            "flag": self.flag,
            "quality": self.quality.to_dict() if self.quality is not None else None,
            "note": self.note,
            "globals": self.globals,
            "globals_fixed": list(self.globals_fixed),
            "globals_at_limit": list(self.globals_at_limit),
            "instrument": self.instrument,
            "phases": [p.to_dict() for p in self.phases],
            "selection": self.selection,
        }

    def report(self) -> str:
        """Plain-text report: phase, wt % ± esd, LoD, cell, size, and the fit statistics."""
        from ..report.text import format_fit

        return format_fit(self)

    def plot(self, ax=None, **kwargs):
        """Rietveld plot: observed, calculated, difference, tick rows, wt % ± esd in the legend.

        Keyword arguments go to :func:`phasetrace.report.pattern.plot_fit` (``scale``, ``window``,
        ``ticks``, ``difference``, ``colours``, ``library``, ...).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..report.pattern import plot_fit

        return plot_fit(self, ax, **kwargs)
