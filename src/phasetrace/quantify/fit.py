"""The Rietveld-style whole-pattern fit by variable projection, and its statistics.

The nonlinear parameters (cell scales, widths, profile shape, zero,
displacement, texture, B) are refined by the Levenberg–Marquardt of the shared
variable-projection core (:mod:`phasetrace.quantify.core`) with the analytic
derivatives of the phase columns (:func:`phasetrace.quantify.model.phase_pattern`);
for every trial, the background coefficients and the phase scale factors are the
weighted linear least-squares solution with non-negative scales. Standard
errors come from the full Jacobian (nonlinear and linear parameters together)
at the solution, scaled by the goodness of fit as Rietveld programs do.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..library.crystallography import cell_volume
from ..scan import Scan
from .core import (
    Projector,
    gram_ridge,
    levenberg_marquardt,
    nonnegative_amplitudes,
    normal_lstsq,
    project_out,
)
from .model import PhaseModel, chebyshev_basis, phase_pattern

__all__ = [
    "ColumnCache",
    "FitState",
    "LinearSolver",
    "QuantConfig",
    "fit_pattern",
    "linear_solve",
    "model_digest",
    "parameter_bounds",
    "state_column",
]

#: Layered-oxide families whose plate-like grains lie flat: March–Dollase about c* when texture is "auto".
TEXTURE_FAMILIES = ("layered-LiMO2", "layered-Li2MnO3")


@dataclass(frozen=True)
class QuantConfig:
    """Settings of the whole-pattern fit (documented defaults for a lab Bragg–Brentano instrument).

    Parameters
    ----------
    background_terms : int or None
        Chebyshev terms of the refined background. None (default): one per
        BACKGROUND_SPACING degrees of the fitted range, at least
        MIN_BACKGROUND_TERMS (16 for 10-80°), fine enough to follow an amorphous
        hump of ~10° width, still far broader than any Bragg peak.
    cell : {"auto", "isotropic", "full", "fixed"}
        Refine one cell scale per phase, the free cell parameters of its crystal
        system, or nothing. "auto" (default): one cell scale in the first stage,
        and the free parameters of its crystal system (a, c for hexagonal,
        trigonal and tetragonal cells; a, b, c orthorhombic; ...) in the second
        stage for the phases that qualify for sample terms
        (:func:`refine_sample_terms`, the same rule as for B); traces keep one
        isotropic scale.
    refine_size : bool
        Refine a size-broadening term per phase (on top of the instrument width).
    refine_strain : bool
        Also refine a strain (tan θ) broadening term per phase.
    refine_eta : bool
        Refine the pseudo-Voigt mixing (one for all phases).
    refine_displacement, refine_zero : bool
        Specimen displacement (µm; the usual lab error) and a zero shift.
    refine_asymmetry : bool
        Refine the axial-divergence tail, one parameter for all phases: the tail length
        ``asymmetry`` (degrees at 2θ = 20°, falling as 1/|tan 2θ|) of a one-sided exponential
        convolved with every line (:func:`phasetrace.peaks.profiles.axial_tail`), between 0
        and :data:`MAX_AXIAL_TAIL`. Starts at the instrument file's value, else at
        :data:`AXIAL_TAIL_START`; refined by default (every reflection below ~60° informs it, so
        it is stable in any fit; it is an instrument term and the same for all phases).
    refine_uv : bool
        Refine the Caglioti U and V too (instrument calibration on a standard).
    refine_w : bool
        Refine the instrument width W as well. Off by default: with a size term
        per phase it is nearly collinear (W is constant, size/cos θ almost so
        over 10–80°), which only slows the fit; W should come from a standard.
    texture : "auto", mapping or None
        March–Dollase texture: "auto" refines it about c* for layered phases;
        a mapping gives phase id -> axis hkl.
    u, v, w : float
        Caglioti instrument width (deg²); W is refined, U and V kept.
    eta : float
        Start value of the pseudo-Voigt mixing.
    radius_mm : float
        Goniometer radius (for displacement).
    monochromator_2theta : float or None
        For the polarisation factor.
    two_theta_range : (float, float) or None
        Fit only this part of the scan.
    detection_sigma : float
        A phase is detected when its scale factor exceeds this many standard errors.
    max_nfev : int
        Limit on residual evaluations of the nonlinear fit.
    brindley_um : mapping or None
        Particle size (µm) per phase for the Brindley microabsorption
        correction of weight fractions; None for no correction.
    extinction_um : mapping or None
        Mosaic-block size (µm) per phase for Sabine's primary-extinction correction of its
        reflection intensities (:func:`phasetrace.library.reflections.sabine_extinction`); None
        (default) or a missing phase: none. Never refined: on measured patterns the size is not
        determined by the fit (CPD round robin, ``benchmarks/cpd_bias.md``: χ² flat from 0 to
        0.5 µm while zincite's weight fraction moves by 2 %), so give it from an independent
        measurement (electron microscopy of the powder), as for ``brindley_um``.
    refine_b : {"auto", True, False}
        Per-phase overall displacement ΔB (Å², added to the CIF's or typical
        B of every atom). "auto": refined in a second stage for phases of at
        least SAMPLE_TERMS_MIN_WT wt % with a scale factor of at least
        SAMPLE_TERMS_MIN_SIGNIFICANCE σ (:func:`refine_sample_terms`); held
        for traces. True: for every phase from the start; False: never.
    refine_positions : {"auto", True, False}
        Free atomic coordinates (those the site symmetry allows; hydrogen held) of the major
        phases: "auto" refines them in the second stage for the phases that get a ΔB and also
        reach :data:`POSITIONS_MIN_WT` wt %, have no texture, have
        :data:`POSITIONS_REFLECTIONS_PER_PARAMETER` reflections in the fitted range per refined
        intensity parameter, and whose coordinates would lower χ² by :data:`POSITIONS_MIN_GAIN`
        (:func:`refine_sample_terms`); minor phases and traces keep the CIF's coordinates. True:
        the same without the χ² test; False: never.
    texture_search : bool
        In that second stage, search a March–Dollase axis for the same phases
        (:data:`TEXTURE_SEARCH_AXES`, accepted at :data:`TEXTURE_MIN_GAIN`).
    instrument : Instrument, mapping, path or None
        Instrument description (:mod:`phasetrace.quantify.instrument`): its
        radiation, radius, monochromator, slit geometry, zero and profile
        replace the defaults here (``quantify`` applies it).
    refine_uv : bool
        Refine the Caglioti U and V too (instrument calibration on a standard).
    """

    background_terms: int | None = None
    cell: str = "auto"
    refine_size: bool = True
    refine_strain: bool = True
    refine_eta: bool = True
    refine_displacement: bool = True
    refine_zero: bool = False
    refine_asymmetry: bool = True
    refine_w: bool = False
    texture: Any = "auto"
    u: float = 0.0030
    v: float = -0.0010
    w: float = 0.0020
    eta: float = 0.5
    radius_mm: float = 240.0
    monochromator_2theta: float | None = None
    two_theta_range: tuple[float, float] | None = None
    detection_sigma: float = 3.0
    max_nfev: int = 150
    brindley_um: Mapping[str, float] | None = None
    extinction_um: Mapping[str, float] | None = None
    refine_b: Any = "auto"
    refine_positions: Any = "auto"
    texture_search: bool = True
    instrument: Any = None
    refine_uv: bool = False

    def __post_init__(self) -> None:
        # an instrument may be given as its description (a mapping, e.g. from a series' JSON config)
        # or as the path of its YAML file; the fit works with the Instrument object
        inst = self.instrument
        if inst is not None and not hasattr(inst, "angle_factor"):
            from .instrument import instrument_from_dict, load_instrument

            obj = (
                instrument_from_dict(inst, str(inst.get("source", ""))) if isinstance(inst, Mapping) else None
            )
            object.__setattr__(self, "instrument", obj if obj is not None else load_instrument(inst))


#: Default background resolution: one Chebyshev term per this many degrees 2θ of the fitted range.
#: Ten terms over 10-80° (7°) left the ~10° wide amorphous hump of a decomposed sample as slow waves in
#: the residual (GoF 1.2-1.4) that broad minor-phase peaks then soaked up; 4.5° follows it (GoF 1.0).
BACKGROUND_SPACING = 4.5
MIN_BACKGROUND_TERMS = 6


def background_terms(config: QuantConfig, x: np.ndarray) -> int:
    """Number of Chebyshev background terms for a fit of the points ``x``."""
    if config.background_terms is not None:
        return int(config.background_terms)
    span = float(np.max(x) - np.min(x)) if np.size(x) else 0.0
    return max(MIN_BACKGROUND_TERMS, int(round(span / BACKGROUND_SPACING)))


#: Bounds of a phase's overall displacement change ΔB (Å²): the mean B of the phase stays >= MIN_B
#: and moves by at most MAX_B_CHANGE from the CIF's (or typical) values.
MIN_B = 0.0
MAX_B_CHANGE = 3.0

#: Start value of the axial-divergence tail length (degrees at 2θ = 20°) without an instrument file:
#: about what Soller slits of 2.5° give on a 240 mm goniometer (0.02-0.08°).
AXIAL_TAIL_START = 0.03

#: Upper bound of the axial-divergence tail length (degrees at 2θ = 20°).
MAX_AXIAL_TAIL = 0.5

#: Upper bound of the size-broadening term (degrees at cos θ = 1, about 8 nm crystallites in Cu Kα).
MAX_SIZE_TERM = 1.0

#: Per-phase start key (``start[phase_id][FULL_CELL_KEY] = True``) that gives a phase the free cell parameters
#: of its crystal system instead of one isotropic scale when ``QuantConfig.cell == "auto"``
#: (set by :func:`refine_sample_terms` for the phases that qualify).
FULL_CELL_KEY = "full_cell"

#: Free cell parameters per crystal system: indices into (a, b, c, alpha, beta, gamma) and ties.
_CELL_FREE = {
    "cubic": ([0], {1: 0, 2: 0}),
    "tetragonal": ([0, 2], {1: 0}),
    "hexagonal": ([0, 2], {1: 0}),
    "trigonal": ([0, 2], {1: 0}),
    "orthorhombic": ([0, 1, 2], {}),
    "monoclinic": ([0, 1, 2, 4], {}),
    "triclinic": ([0, 1, 2, 3, 4, 5], {}),
}


def free_cell_parameters(crystal_system: str) -> tuple[list[int], dict[int, int]]:
    """Refined cell parameters of a crystal system: indices into (a, b, c, α, β, γ), and ties {k: source}."""
    return _CELL_FREE.get(crystal_system, _CELL_FREE["triclinic"])


#: Per-phase parameter prefix of a free atomic coordinate's shift (fractional) from the CIF's value.
XYZ_PREFIX = "xyz_"

#: Bound of a refined coordinate's shift from the CIF's value (fractional; 0.02 of a 5 Å axis is 0.1 Å,
#: beyond any room-temperature structure difference a powder pattern could resolve).
MAX_POSITION_SHIFT = 0.02


#: Rows of its reflection list per phase model (the model's reflections are a subset of the list's).
_POSITION_ROWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def position_terms(model: PhaseModel, p: Mapping[str, Any]) -> dict[str, Any]:
    """|F|² factor and ∂ln|F|²/∂shift per reflection of ``model`` for the coordinate shifts in ``p``.

    Keyword arguments for :func:`phase_pattern` (``f2_factor``, ``dlog_f2``): empty when the phase
    has no shifted or refined coordinate.
    """
    from ..library.reflections import positional_f2

    pos = model.refl.positions
    keys = [k for k in p if k.startswith(XYZ_PREFIX)]
    if pos is None or not keys:
        return {}
    rows = _POSITION_ROWS.get(model)
    if rows is None:
        ref = {tuple(h): r for r, h in enumerate(model.refl.hkl.tolist())}
        rows = _POSITION_ROWS[model] = np.array([ref[tuple(h)] for h in model.hkl.tolist()], dtype=np.int64)
    shifts = np.array([float(p.get(f"{XYZ_PREFIX}{nm}", 0.0)) for nm in pos["names"]])
    f2, df2 = positional_f2(model.refl, rows, shifts)
    f2_ref = model.refl.f2[rows]
    safe = np.maximum(f2, 1e-12 * float(np.max(f2_ref)))
    return {
        "f2_factor": f2 / f2_ref,
        "dlog_f2": {f"{XYZ_PREFIX}{nm}": df2[:, j] / safe for j, nm in enumerate(pos["names"])},
    }


@dataclass
class _Space:
    """Names, start values and bounds of the nonlinear parameters, and how to unpack them."""

    names: list[str] = field(default_factory=list)
    x0: list[float] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)  # -1 = global, else phase index
    constants: dict[int, dict[str, float]] = field(default_factory=dict)  # per phase: held values

    def add(self, name: str, x0: float, lo: float, hi: float, owner: int) -> None:
        self.names.append(name)
        self.x0.append(float(np.clip(x0, lo, hi)))
        self.lo.append(lo)
        self.hi.append(hi)
        self.owner.append(owner)


def _error_property(key: str, doc: str, empty: Any = None) -> property:
    """A :class:`FitState` standard-error attribute, made by the state's pending step when first read.

    ``empty`` (a factory) gives the value stored and returned when the step made none.
    """

    def get(self: FitState) -> Any:
        out = self._error(key)
        if out is None and empty is not None:
            out = self._errors[key] = empty()
        return out

    def put(self: FitState, value: Any) -> None:
        self._errors[key] = value

    return property(get, put, doc=doc)


@dataclass
class FitState:
    """Everything a fit produced (arrays and parameters); QuantResult is built from it."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    models: list[PhaseModel]
    names: list[str]
    theta: np.ndarray
    globals_: dict[str, float]
    per_phase: list[dict[str, Any]]
    background: np.ndarray
    columns: np.ndarray  # (N, n_phases) unit-scale patterns
    scales: np.ndarray
    bg_coef: np.ndarray
    ycalc: np.ndarray
    chi2: float
    n_params: int
    success: bool
    message: str
    nfev: int
    searched_texture: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    #: The nonlinear parameters (``names``) that ended at a bound of their range, as (name, "lower" or
    #: "upper"): their value is the bound, not a measurement (reported so, not as a result).
    at_bounds: tuple[tuple[str, str], ...] = ()
    #: Phase-column evaluations of the fit, for diagnosis: ``columns`` (values) and ``derivatives``.
    evaluations: dict[str, int] = field(default_factory=dict)
    #: The standard errors (:attr:`cov_scales`, :attr:`sigma_scales`, :attr:`nonlinear_sigma`,
    #: :attr:`nonlinear_cov`), and the step that makes them when they are first read: their derivative
    #: evaluation is a fifth of a short fit, and the selection discards most of its trial fits unread.
    _errors: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _pending: Any = field(default=None, repr=False, compare=False)

    def _error(self, key: str, default: Any = None) -> Any:
        pending = self._pending
        if pending is not None:
            self._pending = None
            pending(self)
        return self._errors.get(key, default)

    cov_scales = _error_property("cov_scales", "Covariance of the scale factors (GoF-scaled).")
    sigma_scales = _error_property("sigma_scales", "Standard errors of the scale factors (GoF-scaled).")
    nonlinear_sigma = _error_property(
        "nonlinear_sigma", "Standard errors of the nonlinear parameters by name.", empty=dict
    )
    nonlinear_cov = _error_property(
        "nonlinear_cov", "Covariance of ``theta`` (order of ``names``), GoF-scaled."
    )

    def __getstate__(self) -> dict:
        """Pickle with the standard errors made (the pending step is a closure)."""
        self._error("sigma_scales")
        return self.__dict__.copy()

    @property
    def rwp(self) -> float:
        """Weighted-profile R factor."""
        return float(np.sqrt(self.chi2 / np.sum(self.weights * self.y**2)))

    @property
    def rexp(self) -> float:
        """Expected R factor."""
        dof = max(self.y.size - self.n_params, 1)
        return float(np.sqrt(dof / np.sum(self.weights * self.y**2)))

    @property
    def gof(self) -> float:
        """Goodness of fit Rwp / Rexp."""
        return self.rwp / self.rexp


def _weights(scan: Scan, y: np.ndarray, sel: np.ndarray) -> np.ndarray:
    if scan.sigma is not None:
        s = np.asarray(scan.sigma)[sel]
        return 1.0 / np.maximum(s, 1e-12) ** 2
    # counting statistics; floor at 1 count so zero-count points keep a finite weight
    return 1.0 / np.maximum(y, 1.0)


class LinearSolver:
    """Weighted least squares with free background coefficients and non-negative phase scales.

    Variable projection on the shared core (:mod:`phasetrace.quantify.core`): the weighted
    background is projected out of the data and the phase columns once per call
    (:class:`~phasetrace.quantify.core.Projector`), the scales are the non-negative least-squares
    solution of what remains (:func:`~phasetrace.quantify.core.nonnegative_amplitudes`), and the
    background coefficients follow from the data minus the phases.

    Parameters
    ----------
    a_bg : ndarray, shape (N, K)
        Background basis.
    y, sw : ndarray, shape (N,)
        Observations and square roots of their weights.
    """

    def __init__(self, a_bg: np.ndarray, y: np.ndarray, sw: np.ndarray):
        self.a_bg = a_bg
        self.sw = sw
        self.bw = a_bg * sw[:, None]
        self.yw = y * sw
        self.projector = Projector(a_bg, sw)
        self.ryw = self.projector(self.yw)
        self._btb = gram_ridge(self.bw)
        self._base: tuple | None = None  # chi2_added's projected base columns

    def project(self, vw: np.ndarray) -> np.ndarray:
        """Weighted vector(s) with the weighted background projected out."""
        return self.projector(vw)

    def chi2_added(self, base: np.ndarray, col: np.ndarray) -> tuple[float, float] | None:
        """Weighted chi² of the solution for ``base`` columns plus ``col``, and ``col``'s scale.

        A block update on the weighted, background-projected ``base`` (kept for the last ``base``
        array given): one projection and a (P+1)-sized solve per column instead of projecting and
        solving all columns again, as when many candidates or cell scales are tried against the
        same other phases. The unconstrained solution is the non-negative one whenever all its
        scales are positive; otherwise (or for a rank-deficient set) None: the caller solves in full.
        """
        if self._base is None or self._base[0] is not base:
            pb = self.projector(base * self.sw[:, None])
            low = None
            if pb.shape[1]:
                try:
                    low = np.linalg.cholesky(pb.T @ pb)
                except np.linalg.LinAlgError:
                    low = None
            yb = pb.T @ self.ryw
            # the base columns' own solution, the same for every column tried against them
            b0 = None if low is None else np.linalg.solve(low.T, np.linalg.solve(low, yb))
            self._base = (base, pb, low, yb, b0)
        _, pb, low, yb, b0 = self._base
        pc = self.projector(col * self.sw)
        ry = self.ryw
        if not pb.shape[1]:
            pp = float(pc @ pc)
            c_new = float(pc @ ry) / pp if pp > 0 else 0.0
            if c_new <= 0:
                return None
            r = ry - pc * c_new
            return float(r @ r), c_new
        if low is None:
            return None
        cross = pb.T @ pc
        u = np.linalg.solve(low.T, np.linalg.solve(low, cross))
        s = float(pc @ pc - cross @ u)
        if s <= 1e-12 * max(float(pc @ pc), 1e-300):
            return None
        c_new = (float(pc @ ry) - float(u @ yb)) / s
        c_base = b0 - u * c_new
        if c_new <= 0 or np.any(c_base <= 0):
            return None
        r = ry - pb @ c_base - pc * c_new
        return float(r @ r), c_new

    def __call__(self, a_ph: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (background coefficients, scales, calculated y) for phase columns ``a_ph``."""
        if a_ph.shape[1]:
            pw = self.projector(a_ph * self.sw[:, None])
            scales, _ = nonnegative_amplitudes(pw, self.ryw, normal=True)
            ph = a_ph @ scales
        else:
            scales, ph = np.zeros(0), np.zeros(self.yw.size)
        bg = np.linalg.solve(self._btb, self.bw.T @ (self.yw - ph * self.sw))
        return bg, scales, self.a_bg @ bg + ph


def linear_solve(
    a_bg: np.ndarray, a_ph: np.ndarray, y: np.ndarray, sw: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-off :class:`LinearSolver` solution: (background coefficients, scales, calculated y)."""
    return LinearSolver(a_bg, y, sw)(a_ph)


class ColumnCache:
    """Phase columns by everything they depend on, least recently used first out (a byte budget).

    Keyed by the points' and the reflections' bytes (:func:`model_digest`) and every parameter of
    the column, so a hit is the identical column: the selection's candidate columns, and the
    broadened columns of the pre-alignment, which the refits of one selection round (twins tried in
    a chosen phase's place, all from the same start) share for every phase but the one swapped in.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        """The column stored under ``key`` (None when absent)."""
        with self._lock:
            col = self._data.get(key)
            if col is not None:
                self._data.move_to_end(key)
            return col

    def put(self, key: tuple, col: np.ndarray) -> None:
        """Store a (read-only) column; the least recently used go when over the byte budget."""
        with self._lock:
            if key in self._data:
                return
            self._data[key] = col
            self.bytes += col.nbytes
            while self.bytes > self.max_bytes and self._data:
                _, old = self._data.popitem(last=False)
                self.bytes -= old.nbytes

    def clear(self) -> None:
        """Forget every column."""
        with self._lock:
            self._data.clear()
            self.bytes = 0


_DIGESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_digest(model: PhaseModel) -> bytes:
    """Digest of what a phase model's column depends on (its id, reflections, cell and texture axis)."""
    d = _DIGESTS.get(model)
    if d is None:
        h = hashlib.blake2b(digest_size=16)
        h.update(model.id.encode())
        for a in (model.hkl, model.d0, model.mf2, np.asarray(model.refl.cell, dtype=float)):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(repr(model.texture_axis).encode())
        d = _DIGESTS[model] = h.digest()
    return d


#: Broadened pre-alignment columns kept across fits in this process (about 1,500 columns of a
#: 10-80° scan sampled every 0.03°).
_PREALIGN_COLUMNS = ColumnCache(32 * 2**20)


#: Typical magnitude of each kind of nonlinear parameter: a step below 10⁻⁷ of it ends the refinement.
_TYPICAL = {
    "zero": 0.05,
    "displacement": 100.0,
    "u": 0.002,
    "v": 0.002,
    "w": 0.002,
    "asymmetry": 0.1,
    "eta": 0.5,
    "scale": 1.0,
    "size": 0.05,
    "strain": 0.05,
    "texture": 1.0,
    "b": 0.5,
    "cell": 1.0,
    "xyz": 0.01,
}


#: The fit has converged when a step lowers chi² (in units of the counting variance) by less than
#: this: a change far below 1 is statistically meaningless.
CHI2_TOL = 0.1


#: The widths add in quadrature (FWHM² = W + size²/cos²θ + strain² tan²θ), so the derivative by a size or
#: strain term s, 2s·∂/∂(s²), vanishes at its lower bound 0: a term the steps clip onto 0 could never leave
#: it again (NMC622 + LLZO: strain stuck at 0, χ² 7228 against 3539). The Levenberg–Marquardt steps use
#: 2·max(s, WIDTH_SLOPE_MIN)·∂/∂(s²), about what a forward difference of 10⁻⁴ of a typical term saw at 0
#: (the old finite-difference Jacobian), and hold a term at 0 while its gradient points below; statistics
#: use the exact derivative.
#: Below the floor that slope stands for a change of the square: the model is linear in s², and 2ε·ds of
#: the floored slope (ε = WIDTH_SLOPE_MIN) is the change s² → s² + 2ε·ds, so a term below the floor takes
#: that step of its square (:func:`_width_steps`). Taken as a step of s itself, the linearisation's step
#: from 0 ran to the term's upper bound (a size term of 1°), and the damping had to rise by 10⁵-10⁶ (eight
#: rejected evaluations, then as many small accepted steps while it fell) before the term could move.
WIDTH_SLOPE_MIN = 5e-6


#: Levenberg–Marquardt damping divided/multiplied by these after accepted/rejected steps: the
#: variable-projection steps here are good, and a damping that falls slowly makes many small steps
#: whose small χ² gains look like convergence.
LM_DAMPING_FACTORS = (10.0, 10.0)


def _width_steps(widths: np.ndarray):
    """Levenberg–Marquardt trial points with the width terms below the slope floor moved by their square.

    A width term ``s < WIDTH_SLOPE_MIN`` was linearised with the slope ``2 WIDTH_SLOPE_MIN ∂/∂(s²)``: its
    solved step ``ds`` stands for ``s² → s² + 2 WIDTH_SLOPE_MIN ds`` (see :data:`WIDTH_SLOPE_MIN`).
    Every other parameter takes its step.
    """

    def step_map(p: np.ndarray, step: np.ndarray) -> np.ndarray:
        trial = p + step
        low = widths & (p < WIDTH_SLOPE_MIN)
        if low.any():
            trial[low] = np.sqrt(np.maximum(p[low] ** 2 + 2.0 * WIDTH_SLOPE_MIN * step[low], 0.0))
        return trial

    return step_map


def _kind(name: str) -> str:
    key = name.split(":", 1)[-1]
    return "cell" if key.startswith("cell_") else ("xyz" if key.startswith(XYZ_PREFIX) else key)


def _instrument_starts(cfg: QuantConfig) -> tuple[float, float]:
    """Zero shift and axial-divergence tail: the instrument file's (held, or start values when refined).

    Without a file: 0 and :data:`AXIAL_TAIL_START` (0 if the tail is not refined).
    """
    inst = cfg.instrument
    tail0 = AXIAL_TAIL_START if cfg.refine_asymmetry else 0.0
    if inst is None:
        return 0.0, tail0
    return float(inst.zero_deg), float(inst.profile.get("asymmetry", tail0))


def _build_space(
    models: Sequence[PhaseModel],
    strains: Sequence[float],
    cfg: QuantConfig,
    start: Mapping[str, Any] | None,
    textured: Sequence[bool],
    refine_b: Sequence[bool],
    refine_xyz: Sequence[bool],
) -> _Space:
    sp = _Space()
    st = dict(start or {})
    zero0, asym0 = _instrument_starts(cfg)
    if cfg.refine_zero:
        sp.add("zero", st.get("zero", zero0), -0.3, 0.3, -1)
    if cfg.refine_displacement:
        sp.add("displacement", st.get("displacement", 0.0), -400.0, 400.0, -1)
    if cfg.refine_uv:
        sp.add("u", st.get("u", cfg.u), 0.0, 0.2, -1)
        sp.add("v", st.get("v", cfg.v), -0.1, 0.1, -1)
    if cfg.refine_w:
        sp.add("w", st.get("w", cfg.w), 1e-5, 0.05, -1)
    if cfg.refine_asymmetry:
        sp.add("asymmetry", st.get("asymmetry", asym0), 0.0, MAX_AXIAL_TAIL, -1)
    if cfg.refine_eta:
        sp.add("eta", st.get("eta", cfg.eta), 0.0, 1.0, -1)
    for i, (m, strain) in enumerate(zip(models, strains, strict=True)):
        pst = st.get(m.id, {})
        if pst.get("fixed"):
            # profile and cell held at given values (e.g. from a neighbouring scan): only the scale factor
            # is fitted, so its significance is a one-parameter test
            sp.constants[i] = {
                k: float(v) for k, v in pst.items() if k not in ("fixed", "cell", FULL_CELL_KEY)
            }
            continue
        full = cfg.cell == "full" or (cfg.cell == "auto" and bool(pst.get(FULL_CELL_KEY)))
        if cfg.cell in ("isotropic", "auto") and not full:
            sp.add(f"{m.id}:scale", pst.get("scale", 1.0), 1.0 - strain, 1.0 + strain, i)
        elif full:
            free, _ = _CELL_FREE.get(m.refl.crystal_system, _CELL_FREE["triclinic"])
            for k in free:
                lab = "abcαβγ"[k]
                # a full cell starts where an isotropic scale left it (second stage, neighbouring scan)
                s0 = pst.get(f"cell_{lab}", pst.get("scale", 1.0) if k < 3 else 1.0)
                sp.add(f"{m.id}:cell_{lab}", s0, 1.0 - strain, 1.0 + strain, i)
        if cfg.refine_size:
            sp.add(f"{m.id}:size", pst.get("size", 0.02), 0.0, MAX_SIZE_TERM, i)
        if cfg.refine_strain:
            sp.add(f"{m.id}:strain", pst.get("strain", STRAIN_START), 0.0, 1.0, i)
        if textured[i]:
            sp.add(f"{m.id}:texture", pst.get("texture", 1.0), 0.4, 1.6, i)
        if refine_b[i]:
            b_ref = m.refl.b_iso if np.isfinite(m.refl.b_iso) else 0.0
            sp.add(f"{m.id}:b", pst.get("b", 0.0), max(MIN_B - b_ref, -MAX_B_CHANGE), MAX_B_CHANGE, i)
        elif pst.get("b"):
            sp.constants[i] = {"b": float(pst["b"])}  # held at a given value (e.g. a previous fit's)
        pos = m.refl.positions
        for nm in pos["names"] if pos is not None else ():
            key = f"{XYZ_PREFIX}{nm}"
            if refine_xyz[i]:
                sp.add(f"{m.id}:{key}", pst.get(key, 0.0), -MAX_POSITION_SHIFT, MAX_POSITION_SHIFT, i)
            elif pst.get(key):
                sp.constants.setdefault(i, {})[key] = float(pst[key])  # held at a previous fit's value
    return sp


def parameter_bounds(
    models: Sequence[PhaseModel],
    strains: Sequence[float],
    config: QuantConfig,
    *,
    refine_b: Sequence[bool] | None = None,
) -> list[tuple[str, float, float]]:
    """(name, lower, upper) of each nonlinear parameter :func:`fit_pattern` refines, in ``theta``'s order.

    For the same models, strains, config and ``refine_b`` as the fit (no texture, no coordinates, no
    start values): what a caller needs to tell a value at a search limit from a result
    (:func:`phasetrace.quantify.calibration.calibrate`).
    """
    n = len(models)
    sp = _build_space(models, strains, config, None, [False] * n, list(refine_b or [False] * n), [False] * n)
    return list(zip(sp.names, sp.lo, sp.hi, strict=True))


def _unpack(theta: np.ndarray, sp: _Space, models: Sequence[PhaseModel], cfg: QuantConfig):
    zero0, asym0 = _instrument_starts(cfg)
    g = {
        "zero": zero0,
        "displacement": 0.0,
        "u": cfg.u,
        "v": cfg.v,
        "w": cfg.w,
        "eta": cfg.eta,
        "asymmetry": asym0,
    }
    per = [{"scale": 1.0, "size": 0.0, "strain": 0.0, "texture": 1.0, "b": 0.0, "cell": None} for _ in models]
    cellrel: list[dict[int, float]] = [{} for _ in models]
    for i, held in sp.constants.items():
        for key, val in held.items():
            if key.startswith("cell_"):
                cellrel[i]["abcαβγ".index(key[-1])] = val
            else:
                per[i][key] = val
    for name, val, own in zip(sp.names, theta, sp.owner, strict=True):
        if own < 0:
            g[name] = float(val)
            continue
        key = name.split(":", 1)[1]
        if key.startswith("cell_"):
            cellrel[own]["abcαβγ".index(key[-1])] = float(val)
        else:
            per[own][key] = float(val)
    for i, m in enumerate(models):
        if not cellrel[i] and cfg.cell != "full":
            continue  # isotropic cell scale
        cell = m.refl.cell.copy()
        free, ties = _CELL_FREE.get(m.refl.crystal_system, _CELL_FREE["triclinic"])
        for k in free:
            cell[k] = m.refl.cell[k] * cellrel[i].get(k, 1.0)
        for k, src in ties.items():
            cell[k] = cell[src]
        per[i]["cell"] = cell
        # the relative cell parameters (start values of a later fit) and the equivalent isotropic scale
        per[i].update({f"cell_{'abcαβγ'[k]}": float(cell[k] / m.refl.cell[k]) for k in free})
        per[i]["scale"] = float((cell_volume(cell) / cell_volume(m.refl.cell)) ** (1.0 / 3.0))
    return g, per


def fit_pattern(
    scan: Scan,
    models: Sequence[PhaseModel],
    *,
    strains: Sequence[float],
    config: QuantConfig = QuantConfig(),  # noqa: B008 - frozen dataclass
    start: Mapping[str, Any] | None = None,
    textured: Sequence[bool] | None = None,
    refine_b: Sequence[bool] | None = None,
    refine_xyz: Sequence[bool] | None = None,
    refine: bool = True,
    square_width_steps: bool = False,
    give_up: Callable[[float, float], bool] | None = None,
) -> FitState:
    """Fit a scan with a given list of phase models.

    Parameters
    ----------
    scan : Scan
        An XRD scan (2θ in degrees).
    models : sequence of PhaseModel
    strains : sequence of float
        Allowed fractional cell change per phase.
    config : QuantConfig
    start : mapping, optional
        Start values (``"displacement"``, ``"w"``, ``"eta"``, and per phase id a
        dict with ``"scale"``, ``"size"``, ``"strain"``, ``"texture"``), e.g. from a
        previous fit. A phase dict with ``"fixed": True`` holds its values: only
        that phase's scale factor is fitted.
    textured : sequence of bool, optional
        Which phases get a March–Dollase parameter.
    refine_b : sequence of bool, optional
        Which phases get an overall displacement parameter ΔB (Å², added to the
        B of every atom of the phase); the others keep ``start``'s ``"b"`` (0 by
        default: the CIF's or typical values).
    refine_xyz : sequence of bool, optional
        Which phases get their free atomic coordinates refined (shifts from the CIF's values,
        per-phase keys ``"xyz_<site>_<axis>"``); default none (``start``'s shifts held).
    refine : bool
        False: keep the start values and solve only the linear part.
    give_up : callable, optional
        ``give_up(chi2, reduction)``, asked at each Jacobian with the current χ² and the reduction
        the undamped Gauss-Newton step promises: True abandons the refinement there (the caller has
        learnt what it needed, e.g. that this fit cannot reach some bar); the state is then marked
        unsuccessful.
    square_width_steps : bool
        Width terms below the slope floor take the step of their square (:func:`_width_steps`):
        a term at 0 that should grow costs no run of rejected steps to its upper bound (a
        known-phase fit: 12 evaluations instead of 35). False (default): the steps the automatic
        selection's decision rules were set with (its quick fits have 12 evaluations, and the
        rejected steps are part of how far those get: with these steps 37 of 40 honesty mixtures
        ended with another phase set, several worse); the known-phase fits of :func:`quantify`
        use True.

    Returns
    -------
    FitState
    """
    rad = scan.meta.radiation
    lams = (rad.kalpha1, rad.kalpha2) if rad.is_doublet else (rad.kalpha1,)
    wts = (1.0, rad.ratio) if rad.is_doublet else (1.0,)
    sel = np.ones(len(scan), dtype=bool)
    if config.two_theta_range is not None:
        sel = (scan.x >= config.two_theta_range[0]) & (scan.x <= config.two_theta_range[1])
    x = np.asarray(scan.x)[sel]
    y = np.asarray(scan.y)[sel]
    wgt = _weights(scan, y, sel)
    sw = np.sqrt(wgt)
    a_bg = chebyshev_basis(x, background_terms(config, x))
    textured = list(textured) if textured is not None else [False] * len(models)
    if refine_b is None:
        refine_b = [config.refine_b is True] * len(models)  # "auto": decided by refine_sample_terms
    refine_b = list(refine_b)
    refine_xyz = list(refine_xyz) if refine_xyz is not None else [False] * len(models)
    sp = _build_space(models, strains, config, start, textured, refine_b, refine_xyz)
    angle_factor = config.instrument.angle_factor if config.instrument is not None else None
    lo, hi = np.array(sp.lo), np.array(sp.hi)
    cache: dict[tuple, np.ndarray] = {}
    widths = np.array([_kind(n) in ("size", "strain") for n in sp.names], dtype=bool)
    wrt_plan = _derivative_plan(sp, models, widths)
    counter = {"columns": 0, "derivatives": 0}

    step = (x[-1] - x[0]) / max(x.size - 1, 1) if x.size > 1 else 1.0
    every = max(1, int(round(PREALIGN_SAMPLING / step))) if step > 0 else 1
    x_coarse = x[::every]
    # the pre-alignment's broadened columns are shared between fits (see ColumnCache); not with an
    # instrument description, whose angle factor is a function
    shared = None
    if angle_factor is None:
        shared = (
            hashlib.blake2b(np.ascontiguousarray(x_coarse).tobytes(), digest_size=16).digest(),
            lams,
            wts,
            config.radius_mm,
            config.monochromator_2theta,
        )

    def column(i: int, g: dict[str, float], p: dict[str, Any], wrt: Sequence[str] = (), coarse: bool = False):
        cell = p["cell"]
        key = (
            coarse,
            i,
            g["zero"],
            g["displacement"],
            g["u"],
            g["v"],
            g["w"],
            g["eta"],
            g["asymmetry"],
            p["scale"],
            p["size"],
            p["strain"],
            p["texture"],
            p["b"],
            None if cell is None else tuple(cell),
            tuple(v for k, v in p.items() if k.startswith(XYZ_PREFIX)),
        )
        col = cache.get(key)
        if col is None and coarse and shared is not None:
            col = _PREALIGN_COLUMNS.get((*shared, model_digest(models[i]), *key[2:]))
            if col is not None:
                cache[key] = col
        if col is None or wrt:
            if len(cache) > 4000:
                cache.clear()
            out = phase_pattern(
                x_coarse if coarse else x,
                models[i],
                wavelengths=lams,
                weights=wts,
                scale=p["scale"],
                cell=cell,
                u=g["u"],
                v=g["v"],
                w=g["w"],
                size_x=p["size"],
                strain_y=p["strain"],
                eta=g["eta"],
                zero=g["zero"],
                displacement=g["displacement"],
                radius_mm=config.radius_mm,
                texture_r=p["texture"],
                monochromator_2theta=config.monochromator_2theta,
                asymmetry=g["asymmetry"],
                b_delta=p["b"],
                angle_factor=angle_factor,
                wrt=wrt,
                **position_terms(models[i], p),
            )
            counter["derivatives" if wrt else "columns"] += 1
            if wrt:
                cache[key] = out[0]
                return out
            col = cache[key] = out
            if coarse and shared is not None:
                col.setflags(write=False)
                _PREALIGN_COLUMNS.put((*shared, model_digest(models[i]), *key[2:]), col)
        return col

    def columns(theta: np.ndarray, coarse: bool = False) -> tuple[np.ndarray, dict, list]:
        g, per = _unpack(theta, sp, models, config)
        if not models:
            return np.zeros((x_coarse.size if coarse else x.size, 0)), g, per
        cols = [column(i, g, per[i], coarse=coarse) for i in range(len(models))]
        return np.column_stack(cols), g, per

    def dycalc(theta: np.ndarray, scales: np.ndarray, *, exact: bool = False) -> np.ndarray:
        """∂ycalc/∂θ at fixed linear coefficients (analytic), shape (N, P).

        Not ``exact``: for the steps, with the width terms' slope floor :data:`WIDTH_SLOPE_MIN`.
        """
        g, per = _unpack(theta, sp, models, config)
        jac = np.zeros((x.size, theta.size))
        for i, (names_i, combos) in enumerate(wrt_plan):
            if scales[i] <= 0 or not names_i:
                continue
            _, d = column(i, g, per[i], names_i)
            for k, parts in combos:
                for c, factor in parts:
                    jac[:, k] += (scales[i] * factor) * d[:, c]
        s = theta[widths] if exact else np.maximum(theta[widths], WIDTH_SLOPE_MIN)
        jac[:, widths] *= 2.0 * s  # ∂/∂s = 2s ∂/∂s²
        return jac

    solver = LinearSolver(a_bg, y, sw)
    current: dict[str, Any] = {}

    def evaluate(theta: np.ndarray) -> np.ndarray:
        a_ph, _, _ = columns(theta)
        _, scales, ycalc = solver(a_ph)
        current.update(theta=theta.copy(), a_ph=a_ph, scales=scales)
        return (y - ycalc) * sw

    def jacobian() -> np.ndarray:
        """Variable-projection Jacobian (Kaufman): −P⊥ W½ (∂A/∂θ) S, P⊥ removing background and phases."""
        theta, a_ph, scales = current["theta"], current["a_ph"], current["scales"]
        dw = solver.project(dycalc(theta, scales) * sw[:, None])
        act = scales > 0
        return -project_out(dw, solver.project(a_ph[:, act] * sw[:, None]))

    theta0 = np.array(sp.x0)
    if refine and config.cell != "fixed" and models and not (start and start.get("aligned")):
        coarse_solver = LinearSolver(a_bg[::every], y[::every], sw[::every])
        theta0 = _prealign(
            theta0, sp, models, lambda t: columns(t, coarse=True), coarse_solver, y[::every], sw[::every]
        )
    success, message, nfev = True, "linear solution only", 1
    theta = theta0
    if refine and theta0.size:
        tiny = 1e-7 * np.array([_TYPICAL[_kind(n)] for n in sp.names])
        abandoned = [False]

        def stop(cost: float, reduction: float) -> bool:
            abandoned[0] = give_up(cost, reduction)
            return abandoned[0]

        theta, _, nfev = levenberg_marquardt(
            evaluate,
            jacobian,
            theta0,
            lo,
            hi,
            tiny=tiny,
            max_nfev=config.max_nfev,
            dcost=lambda cost: CHI2_TOL * max(1.0, cost / max(y.size, 1)),
            lam_factors=LM_DAMPING_FACTORS,
            hold_at_bounds=True,
            step_map=_width_steps(widths) if square_width_steps else None,
            give_up=stop if give_up is not None else None,
        )
        success = nfev < config.max_nfev and not abandoned[0]
        message = "converged (chi² no longer changes significantly)" if success else "iteration limit reached"
        if abandoned[0]:
            message = "abandoned by the caller's test"
    a_ph, g, per = columns(theta)
    bg_coef, scales, ycalc = solver(a_ph)
    chi2 = float(np.sum(wgt * (y - ycalc) ** 2))
    n_params = a_bg.shape[1] + int(np.count_nonzero(scales)) + theta.size
    state = FitState(
        x=x,
        y=y,
        weights=wgt,
        models=list(models),
        names=list(sp.names),
        theta=theta,
        globals_=g,
        per_phase=per,
        background=a_bg @ bg_coef,
        columns=a_ph,
        scales=scales,
        bg_coef=bg_coef,
        ycalc=ycalc,
        chi2=chi2,
        n_params=n_params,
        success=success,
        message=message,
        nfev=nfev,
        at_bounds=_at_bounds(theta, sp),
    )
    cache.clear()  # the pending covariance step keeps this fit's closures, not its columns

    def errors(st: FitState) -> None:
        _covariance(st, a_bg, sw, dycalc(theta, scales, exact=True), sp)
        st.evaluations = dict(counter)

    state._pending = errors
    state.evaluations = dict(counter)
    return state


#: A parameter within this fraction of its range from a bound is at the bound.
BOUND_TOLERANCE = 1e-3


def _at_bounds(theta: np.ndarray, sp: _Space) -> tuple[tuple[str, str], ...]:
    """(name, side) of the parameters of ``sp`` that ``theta`` puts at a bound (:data:`BOUND_TOLERANCE`)."""
    lo, hi = np.asarray(sp.lo, float), np.asarray(sp.hi, float)
    tol = BOUND_TOLERANCE * (hi - lo)
    out = []
    for name, t, a, b, e in zip(sp.names, theta, lo, hi, tol, strict=True):
        if t <= a + e:
            out.append((name, "lower"))
        elif t >= b - e:
            out.append((name, "upper"))
    return tuple(out)


def _derivative_plan(
    sp: _Space, models: Sequence[PhaseModel], squared: np.ndarray
) -> list[tuple[list[str], list[tuple[int, list[tuple[int, float]]]]]]:
    """Per phase: the :func:`phase_pattern` derivatives it needs, and how they make up ∂/∂θ_k.

    Returns, per phase, the names to ask for and, per nonlinear parameter k that moves
    the phase's column, the (derivative index, factor) pairs whose sum is ∂column/∂θ_k:
    a relative cell parameter acts on its cell entry and the entries tied to it; a
    ``squared`` parameter (a width term) is differentiated by its square.
    """
    plan = []
    for i, m in enumerate(models):
        names: list[str] = []
        combos: list[tuple[int, list[tuple[int, float]]]] = []

        def need(name: str, names: list[str] = names) -> int:
            if name not in names:
                names.append(name)
            return names.index(name)

        for k, (name, own) in enumerate(zip(sp.names, sp.owner, strict=True)):
            if own >= 0 and own != i:
                continue
            key = name if own < 0 else name.split(":", 1)[1]
            if key.startswith("cell_"):
                j = "abcαβγ".index(key[-1])
                _, ties = _CELL_FREE.get(m.refl.crystal_system, _CELL_FREE["triclinic"])
                entries = [j, *(t for t, src in ties.items() if src == j)]
                combos.append((k, [(need(f"cell_{e}"), float(m.refl.cell[j])) for e in entries]))
            else:
                combos.append((k, [(need(f"{key}_sq" if squared[k] else key), 1.0)]))
        plan.append((names, combos))
    return plan


#: Pre-alignment: peaks are broadened to this FWHM contribution (degrees) and the cell scale is
#: scanned in steps of this fraction, so that a phase whose peaks start far from the data still
#: lands in the right minimum.
PREALIGN_SIZE = 0.15
#: Start value of a strain-broadening term (FWHM = value · tan θ, degrees): a start away from its lower
#: bound lets the bounded Levenberg–Marquardt steps move it freely.
STRAIN_START = 0.03
PREALIGN_STEP = 0.002
#: ... on points this far apart (degrees 2θ; the scan's own steps where they are coarser): five or
#: more points across the narrowest broadened peak.
PREALIGN_SAMPLING = 0.03


def _prealign(theta0, sp, models, columns, solver, y, sw) -> np.ndarray:
    """Grid search of each phase's cell scale on broadened peaks, before the least-squares fit.

    ``columns``, ``solver``, ``y`` and ``sw`` are on the points the search uses (every
    :data:`PREALIGN_SAMPLING` degrees: broadened peaks need no finer sampling).
    """
    theta = theta0.copy()
    names = sp.names
    size_idx = {i: names.index(f"{m.id}:size") for i, m in enumerate(models) if f"{m.id}:size" in names}
    broad = theta.copy()
    for k in size_idx.values():
        broad[k] = PREALIGN_SIZE
    for m in models:
        key = f"{m.id}:scale"
        if key not in names:
            continue
        k = names.index(key)
        grid = np.arange(sp.lo[k], sp.hi[k] + 1e-12, PREALIGN_STEP)
        if grid.size < 2:
            continue
        best, best_cost = theta[k], np.inf
        i = models.index(m)
        others = None
        for s_val in grid:
            trial = broad.copy()
            trial[k] = s_val
            a_ph, _, _ = columns(trial)
            # the other phases' columns stay as they are during this phase's scan: a block update
            if others is None:
                others = np.delete(a_ph, i, axis=1)
            fast = solver.chi2_added(others, a_ph[:, i])
            if fast is not None:
                cost = fast[0]
            else:
                _, _, ycalc = solver(a_ph)
                cost = float(np.sum(((y - ycalc) * sw) ** 2))
            if cost < best_cost:
                best, best_cost = s_val, cost
        theta[k] = best
        broad[k] = best
    return theta


def _covariance(state: FitState, a_bg: np.ndarray, sw: np.ndarray, jac_nl: np.ndarray, sp: _Space) -> None:
    """Standard errors of scales (and nonlinear parameters) from the full Jacobian at the solution.

    ``jac_nl`` holds the analytic ∂ycalc/∂θ at fixed linear coefficients.
    """
    n_ph = state.columns.shape[1]
    if n_ph == 0:
        state.sigma_scales = np.zeros(0)
        return
    n_nl = jac_nl.shape[1]
    j = np.column_stack([jac_nl, a_bg, state.columns]) * sw[:, None]
    # phases at zero scale (bound) are kept in the Jacobian: their σ is the detection scale
    dof = max(state.y.size - state.n_params, 1)
    s2 = max(state.chi2 / dof, 1.0)  # never claim better than counting statistics
    try:
        jtj = j.T @ j
        cov = np.linalg.pinv(jtj, rcond=1e-12) * s2
    except np.linalg.LinAlgError:
        state.sigma_scales = np.full(n_ph, np.nan)
        return
    k0 = n_nl + a_bg.shape[1]
    state.cov_scales = cov[k0:, k0:]
    state.sigma_scales = np.sqrt(np.clip(np.diag(state.cov_scales), 0, None))
    diag = np.sqrt(np.clip(np.diag(cov)[:n_nl], 0, None))
    state.nonlinear_sigma = dict(zip(sp.names, map(float, diag), strict=True))
    state.nonlinear_cov = cov[:n_nl, :n_nl]


# ------------------------------------------------------------------ sample terms (second stage)
#: A phase gets a refined overall displacement ΔB (and may get a searched texture axis) when the first
#: stage gives it at least this weight fraction (wt %). Weaker phases (traces) keep the CIF's or typical B:
#: their B is poorly determined and trades off against their scale factor, so refining it would only add
#: noise to their wt %. (CPD round robin, sample 1: B of a 4-5 wt % phase is refined to within ~0.2 Å²;
#: of a 1 wt % phase it wanders by ~1 Å².)
SAMPLE_TERMS_MIN_WT = 3.0
#: ... and when its scale factor stands at least this many standard errors above zero (relative
#: precision 2.5 %): a few wt % of a weak scatterer (Li2CO3 among La-rich phases: ~30 σ at 5 wt %) has
#: too little intensity to fix its own B.
SAMPLE_TERMS_MIN_SIGNIFICANCE = 40.0

#: A phase that gets a ΔB also gets its free atomic coordinates refined when the first stage gives it at
#: least this weight fraction (wt %) ... Coordinates change intensities reflection by reflection (a shift
#: of 0.002 in corundum's O y moves single reflections by up to 15 %), so only a phase whose reflections
#: stand far above their counting noise fixes them; a minor phase's coordinates would trade off against
#: its B, texture and scale factor. Every Rietveld program holds the positions of minor phases.
POSITIONS_MIN_WT = 10.0
#: ... and when it has at least this many reflections in the fitted range per parameter that changes its
#: intensities (the free coordinates, ΔB, a texture ratio): a structure is not refined from a handful of
#: lines (a common crystallographic rule of thumb asks 10 observations per parameter).
POSITIONS_REFLECTIONS_PER_PARAMETER = 10
#: ... and when refining them would lower χ² by at least this fraction beyond what the ΔB of the same
#: stage explains (:func:`positions_gain`, a score test at the CIF's coordinates, as for texture). Real
#: scans carry small systematic misfits that any intensity parameter reduces a little: CPD sample 1 with
#: single-crystal coordinates at most 0.4 % (refined anyway, corundum's O moved 2-3 esd and CPD-1's worst
#: error grew from 1.36 to 1.41 wt %); corundum with O x and Al z 0.02 Å off at 60 wt % gives 4.4 %.
POSITIONS_MIN_GAIN = 0.01

#: Preferred-orientation axes (hkl of the plane normal) tried per crystal system by the texture search:
#: the unique axis first, then the low-index directions along which plates or needles grow.
TEXTURE_SEARCH_AXES = {
    "tetragonal": ((0, 0, 1),),
    "hexagonal": ((0, 0, 1),),
    "trigonal": ((0, 0, 1),),
    "orthorhombic": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "monoclinic": ((0, 1, 0), (1, 0, 0), (0, 0, 1)),
    "triclinic": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
}
# Only axes that every symmetry-equivalent reflection of a family sees at the same angle are searched
# (the unique axis; the three axes of orthorhombic and lower systems): the March–Dollase factor is
# evaluated for one representative hkl per family. Cubic phases are not searched.

#: A searched texture axis is refined when its March–Dollase ratio would lower chi² by at least this
#: fraction (a score test at r = 1, linearised). Real scans carry small systematic misfits that any extra
#: parameter reduces a little (random powders of CPD sample 1: at most 4 %); a platy phase that lies
#: flat explains most of the misfit (brucite in CPD sample 2: 60 %).
TEXTURE_MIN_GAIN = 0.10

#: Step in r for the derivative of a phase column with respect to its March–Dollase ratio.
_TEXTURE_STEP = 0.02


def weight_percent(state: FitState) -> np.ndarray:
    """Hill–Howard weight fractions (%) of the phases of a state, from the scales and refined cells."""
    zmv = []
    for m, p in zip(state.models, state.per_phase, strict=True):
        cell = p["cell"] if p["cell"] is not None else np.r_[m.refl.cell[:3] * p["scale"], m.refl.cell[3:]]
        zmv.append(m.refl.cell_mass * cell_volume(cell))
    mass = state.scales * np.array(zmv)
    total = float(np.sum(mass))
    return 100.0 * mass / total if total > 0 else np.zeros_like(mass)


def state_column(
    scan: Scan, state: FitState, config: QuantConfig, model: PhaseModel, p: Mapping[str, Any], **override: Any
) -> np.ndarray:
    """One phase's unit-scale column with the state's parameters (``override`` changes some)."""
    rad = scan.meta.radiation
    g = state.globals_
    kw = {
        "scale": p["scale"],
        "cell": p["cell"],
        "size_x": p["size"],
        "strain_y": p["strain"],
        "texture_r": p["texture"],
        "b_delta": p.get("b", 0.0),
    }
    kw.update(override)
    return phase_pattern(
        state.x,
        model,
        wavelengths=(rad.kalpha1, rad.kalpha2) if rad.is_doublet else (rad.kalpha1,),
        weights=(1.0, rad.ratio) if rad.is_doublet else (1.0,),
        u=g.get("u", config.u),
        v=g.get("v", config.v),
        w=g["w"],
        eta=g["eta"],
        zero=g["zero"],
        displacement=g["displacement"],
        radius_mm=config.radius_mm,
        monochromator_2theta=config.monochromator_2theta,
        asymmetry=g.get("asymmetry", 0.0),
        angle_factor=config.instrument.angle_factor if config.instrument is not None else None,
        **position_terms(model, p),
        **kw,
    )


def texture_gain(
    scan: Scan, state: FitState, config: QuantConfig, i: int, axis: tuple[int, int, int]
) -> float:
    """Expected fractional chi² decrease from a March–Dollase ratio about ``axis`` for phase ``i``.

    A score test at r = 1: the derivative column, projected orthogonally to the linear columns
    (background and all phase scales), against the weighted residual.
    """
    from dataclasses import replace as _replace

    m = _replace(state.models[i], texture_axis=tuple(axis), _cos2_cache={})
    p = state.per_phase[i]
    c1 = state_column(scan, state, config, m, p, texture_r=1.0 + _TEXTURE_STEP)
    c0 = state_column(scan, state, config, m, p, texture_r=1.0)
    sw = np.sqrt(state.weights)
    g = (c1 - c0) / _TEXTURE_STEP * state.scales[i] * sw
    basis = np.column_stack(
        [chebyshev_basis(state.x, len(state.bg_coef)), state.columns[:, state.scales > 0]]
    )
    basis = basis * sw[:, None]
    coef, _ = normal_lstsq(basis, g)
    g = g - basis @ coef
    r = (state.y - state.ycalc) * sw
    gg = float(g @ g)
    if gg <= 0:
        return 0.0
    return float((g @ r) ** 2 / gg / max(state.chi2, 1e-300))


def positions_gain(
    scan: Scan,
    state: FitState,
    config: QuantConfig,
    i: int,
    with_b: Sequence[bool],
    cache: dict[str, np.ndarray] | None = None,
) -> float:
    """Expected fractional chi² decrease from refining the free coordinates of phase ``i``.

    A score test at the CIF's coordinates, as :func:`texture_gain` does for a texture ratio: the
    derivative columns of the phase by its coordinate shifts, projected orthogonally to the linear
    columns (background and all phase scales) and to the ΔB columns of the phases in ``with_b``
    (which the same second stage refines: what a B explains is not credited to the coordinates),
    against the weighted residual: ``rᵀG(GᵀG)⁻¹Gᵀr / χ²``. ``cache`` keeps that projection basis
    between calls for several phases of one state (with the same ``with_b``).
    """
    m = state.models[i]
    pos = m.refl.positions
    if pos is None or state.scales[i] <= 0:
        return 0.0
    keys = [f"{XYZ_PREFIX}{nm}" for nm in pos["names"]]
    p = {**state.per_phase[i], **{k: state.per_phase[i].get(k, 0.0) for k in keys}}
    sw = np.sqrt(state.weights)
    _, jac = state_column(scan, state, config, m, p, wrt=keys)
    g = jac * (state.scales[i] * sw)[:, None]
    cache = cache if cache is not None else {}
    q = cache.get("basis")
    if q is None:
        # an orthonormal basis of the weighted linear and ΔB columns, once for all phases of the state
        cols = [chebyshev_basis(state.x, len(state.bg_coef)), state.columns[:, state.scales > 0]]
        for k, (mk, pk) in enumerate(zip(state.models, state.per_phase, strict=True)):
            if with_b[k] and state.scales[k] > 0:
                cols.append(state_column(scan, state, config, mk, pk, wrt=["b"])[1] * state.scales[k])
        a = np.column_stack(cols) * sw[:, None]
        a = a / np.maximum(np.sqrt(np.sum(a * a, axis=0)), 1e-300)
        try:  # Q = A L⁻ᵀ with AᵀA = LLᵀ (normal equations, as core.normal_lstsq: cheap for a tall A)
            q = np.linalg.solve(np.linalg.cholesky(a.T @ a), a.T).T
        except np.linalg.LinAlgError:
            q, _ = np.linalg.qr(a)
        cache["basis"] = q
    g = g - q @ (q.T @ g)
    r = (state.y - state.ycalc) * sw
    gtr = g.T @ r
    try:
        score = float(gtr @ np.linalg.solve(g.T @ g, gtr))
    except np.linalg.LinAlgError:
        return 0.0
    return score / max(state.chi2, 1e-300)


def positions_qualify(state: FitState, i: int, wt: float, textured: bool, wavelength: float) -> bool:
    """Whether phase ``i`` (``wt`` wt % in the first stage) qualifies for refined atomic coordinates.

    It must have free coordinates, at least :data:`POSITIONS_MIN_WT` wt %, no refined texture, and
    at least :data:`POSITIONS_REFLECTIONS_PER_PARAMETER` reflections within the fitted range per
    parameter that changes its intensities (the coordinates and ΔB). The caller also requires that
    the phase qualifies for a ΔB, and that the coordinates pass :data:`POSITIONS_MIN_GAIN`
    (:func:`refine_sample_terms`).

    A textured phase keeps its coordinates: a March–Dollase ratio and a coordinate along the texture
    axis both move intensity between reflections by their direction, and a powder pattern does not
    tell the two apart (CPD-2: brucite's O z went 0.0063 = 0.03 Å, 10 σ, below the neutron value
    of its CIF together with its texture ratio, and brucite from +1.96 to +1.40 wt % for that reason).
    """
    m = state.models[i]
    pos = m.refl.positions
    if pos is None or wt < POSITIONS_MIN_WT or textured:
        return False
    p = state.per_phase[i]
    d = m.d_spacings(p["cell"], p["scale"])
    arg = wavelength / (2.0 * d)
    tt = np.degrees(2.0 * np.arcsin(np.clip(arg, 0.0, 1.0)))
    n_refl = int(np.count_nonzero((arg < 1.0) & (tt >= state.x[0]) & (tt <= state.x[-1])))
    n_par = len(pos["names"]) + 1
    return n_refl >= POSITIONS_REFLECTIONS_PER_PARAMETER * n_par


def refine_sample_terms(
    scan: Scan,
    state: FitState,
    config: QuantConfig,
    strains: Sequence[float],
    textured: Sequence[bool],
    start: Mapping[str, Any] | None = None,
    *,
    square_width_steps: bool = False,
) -> FitState:
    """Second stage of a fit: per-phase B, full cell and searched texture for the phases strong enough.

    With ``config.refine_b == "auto"``, phases whose first-stage weight fraction is at least
    :data:`SAMPLE_TERMS_MIN_WT` and whose scale factor is at least
    :data:`SAMPLE_TERMS_MIN_SIGNIFICANCE` standard errors get an overall ΔB; with
    ``config.cell == "auto"`` the same phases, unless cubic, get the free cell parameters of their
    crystal system in place of one isotropic scale (a 1 wt % trace's c/a would only trade off against
    its scale and width). With
    ``config.texture_search``, those of them without a texture axis are tested along
    :data:`TEXTURE_SEARCH_AXES`, and the best axis is refined when its score reaches
    :data:`TEXTURE_MIN_GAIN`. The fit is then repeated from ``state``. The first stage decides
    nothing about these terms, so a trace phase never gets them. With ``config.refine_positions ==
    "auto"``, the phases with a ΔB that also pass :func:`positions_qualify` (major phases with many
    reflections, untextured) and whose coordinates would explain a share of χ² of at least
    :data:`POSITIONS_MIN_GAIN` (:func:`positions_gain`) get their free atomic coordinates refined.
    Phases held ``"fixed"`` in ``start`` (the first stage's start values) stay fixed.
    ``square_width_steps`` is passed to :func:`fit_pattern`.

    Returns
    -------
    FitState
        The refined state, or ``state`` itself when no phase qualifies.
    """
    from dataclasses import replace as _replace

    if not state.models or not np.isfinite(state.chi2):
        return state
    shares = weight_percent(state)
    given = dict(start or {})
    fixed = [isinstance(given.get(m.id), Mapping) and bool(given[m.id].get("fixed")) for m in state.models]
    sig = state.sigma_scales if state.sigma_scales is not None else np.full(len(shares), np.inf)
    signif = state.scales / np.maximum(sig, 1e-300)
    strong = [
        bool(w >= SAMPLE_TERMS_MIN_WT and t >= SAMPLE_TERMS_MIN_SIGNIFICANCE) and not f
        for w, t, f in zip(shares, signif, fixed, strict=True)
    ]
    refine_b = [config.refine_b == "auto" and s for s in strong]
    # the full cell of the phases that fix their own B (c/a of a layered cathode moves with Li content and
    # temperature); a cubic cell has one parameter, which the first stage's isotropic scale already is
    full_cell = [
        config.cell == "auto" and s and m.refl.crystal_system != "cubic"
        for s, m in zip(strong, state.models, strict=True)
    ]
    models = list(state.models)
    textured = list(textured)
    searched: dict[str, tuple[int, int, int]] = {}
    if config.texture_search:
        for i, m in enumerate(models):
            if not strong[i] or textured[i] or m.texture_axis is not None:
                continue
            axes = TEXTURE_SEARCH_AXES.get(m.refl.crystal_system, TEXTURE_SEARCH_AXES["triclinic"])
            gains = [texture_gain(scan, state, config, i, ax) for ax in axes]
            k = int(np.argmax(gains))
            if gains[k] >= TEXTURE_MIN_GAIN:
                models[i] = _replace(m, texture_axis=tuple(axes[k]), _cos2_cache={})
                textured[i] = True
                searched[m.id] = tuple(axes[k])
    gain_cache: dict[str, np.ndarray] = {}
    refine_xyz = [
        config.refine_positions in ("auto", True)
        and rb
        and positions_qualify(state, i, w, textured[i], scan.meta.radiation.kalpha1)
        and (
            config.refine_positions is True
            or positions_gain(scan, state, config, i, refine_b, gain_cache) >= POSITIONS_MIN_GAIN
        )
        for i, (rb, w) in enumerate(zip(refine_b, shares, strict=True))
    ]
    if not any(refine_b) and not searched and not any(full_cell):
        return state
    st: dict[str, Any] = dict(state.globals_)
    for m, p, f, fc in zip(state.models, state.per_phase, fixed, full_cell, strict=True):
        st[m.id] = {k: v for k, v in p.items() if k != "cell"}
        if f:
            st[m.id]["fixed"] = True
        if fc:
            st[m.id][FULL_CELL_KEY] = True
    return refit_second_stage(
        scan, models, strains, config, st, textured, refine_b, refine_xyz, searched,
        square_width_steps=square_width_steps,
    )


def refit_second_stage(
    scan: Scan,
    models: Sequence[PhaseModel],
    strains: Sequence[float],
    config: QuantConfig,
    start: dict[str, Any],
    textured: Sequence[bool],
    refine_b: Sequence[bool],
    refine_xyz: Sequence[bool],
    searched: Mapping[str, tuple[int, int, int]],
    *,
    square_width_steps: bool = False,
) -> FitState:
    """A second-stage fit from converged values (no cell-scale grid search), with its searched texture axes.

    Shared by :func:`refine_sample_terms` and :func:`phasetrace.quantify.resume.resume_second_stage`.
    """
    start["aligned"] = True  # the values are a converged fit's (and a neighbour's): no grid search
    new = fit_pattern(
        scan,
        models,
        strains=strains,
        config=config,
        start=start,
        textured=textured,
        refine_b=refine_b,
        refine_xyz=refine_xyz,
        square_width_steps=square_width_steps,
    )
    new.searched_texture = dict(searched)
    return new
