"""Whole-spectrum Raman test of candidate phases: which band patterns does a spectrum hold.

The band matcher (:mod:`phasetrace.match.raman`) compares peak positions one by
one. It misses bands on the flank of a strong host band, never trusts a phase
with a single band, and needs a band well above a 3σ prominence. This module
fits the whole spectrum instead and asks, per candidate, how many standard
errors its amplitude stands above zero.

Model
-----
.. math::

    y(x) = \\sum_{k<K} b_k T_k(t) + \\sum_p c_p \\sum_{j \\in p} r_j\\,
           \\mathrm{pV}(x;\\ x_j + \\delta_p,\\ w_j s_p,\\ \\eta)

- ``T_k`` are Chebyshev polynomials on the fitted window (``t`` in [-1, 1]).
- Per testable phase ``p`` one linear amplitude ``c_p >= 0`` multiplies its band
  pattern from ``reference_patterns/raman_bands.csv``: unit-area pseudo-Voigts
  (η = 0.7) at the tabulated positions ``x_j`` and widths ``w_j``, weighted by
  ``r_j`` = ``rel_intensity`` read as band *areas* (the convention of
  :func:`phasetrace.simulate.simulate_raman`; ``band_intensity="height"`` reads
  them as peak heights, as the table's header describes them).
- Two nonlinear parameters per phase: a common band shift ``δ_p`` (bounded by
  ±``shift_tolerance``, growing to ``broad_fraction`` × the phase's narrowest
  FWHM for broad-band phases, as the table advises) and a common width scale
  ``s_p`` in ``width_bounds``. A Gaussian prior (the bounds are 2σ) keeps them
  near the table where the data say little.
- A band table is approximate (positions ±5-10 cm⁻¹, intensities
  semi-quantitative) and real bands are not symmetric pseudo-Voigts. Once the
  phases are chosen, the bands that stand far above the noise
  (:data:`FLEX_SIGMA`; in practice the hosts') also get their own relative
  amplitude, shift and asymmetry (split pseudo-Voigt), bounded by
  :data:`BAND_LIMITS`, and the chosen phases are verified again. A host's misfit
  is otherwise the largest structure left in the residual, and candidates that
  resemble it get "detected".

Amplitudes and background coefficients enter linearly. They are solved by
non-negative least squares (the background projected out first, so that only
the amplitudes are constrained) inside a Levenberg-Marquardt refinement of the
shape parameters (variable projection with Kaufman's Jacobian from analytic
profile derivatives; bounds by projection; only parameter × parameter systems
are factorised, so a multi-threaded BLAS on a busy machine costs little).

Background: Chebyshev, refined with the phases
-----------------------------------------------
A baseline removed *before* the fit (pybaselines, as in
:mod:`phasetrace.preprocess`) has to guess where bands end; under the broad,
overlapping bands of layered and spinel oxides and garnets (FWHM 40-80 cm⁻¹,
300-700 cm⁻¹ all band) it cuts into them, and its error never reaches the
amplitudes' uncertainties. A smooth background refined jointly with the phase
amplitudes is linear, cheap, and its correlation with broad bands is part of
the covariance. One Chebyshev term per :data:`BACKGROUND_SPACING` cm⁻¹ of window
(within :data:`BACKGROUND_TERMS_RANGE`; 8 terms over 100-1200 cm⁻¹, as the
simulated truth uses) follows a strong, curved fluorescence background while
its shortest wiggle stays wider than the broadest band. ``min_shift`` keeps the
laser line and the filter edge out of the window.

Noise
-----
Integer, non-negative intensities are counts: Poisson σ, with the gain taken
from the point-to-point scatter when that disagrees
(:func:`phasetrace.preprocess.estimate_noise`, ``"counts"``). Anything else
(CCD spectra scaled by vendor software) gets the robust local estimate
(``"mad"``). Standard errors are always multiplied by ``sqrt(max(1, GoF²))``,
so that misfit is not mistaken for evidence. Cosmic-ray spikes (one or two
points far above both neighbours, narrower than any band the model allows) get
zero weight.

Selection
---------
Phases are added greedily: at each step the candidate that lowers χ² most
(over a coarse grid of its shift and width, so that a band shifted by a full
tolerance is found) is added if its significance reaches the threshold; the
shapes are refined, and it is kept only if it passes the tests below. Phases
whose significance falls below the threshold are dropped again. One
explanation at a time keeps phases with similar patterns (the layered NMC
variants, the spinels) from sharing a signal in degenerate combinations. A
greedy step can take a phase that explains its own bands and a neighbour's
together; an exchange step then tries similar candidates in its place
(:data:`EXCHANGE_SIMILARITY`), and a phase whose shift or width ended at a bound
(the mark of one standing in for others) is tried out of the model, with the
selection run again without it; the better fit is kept. Candidates turned down
against an earlier model get another chance after such a change. Finally the
dominant bands get their freedom (above) and every phase is verified again.

Detection
---------
A phase is **detected** when it passes three tests.

1. Significance ``z = c_p / esd(c_p)`` reaches ``threshold``
   (:data:`DETECTION_SIGMA`). The esd is that of the linear model at the fitted
   band shapes (background and all amplitudes), scaled by the GoF, so that
   ``z²`` is the χ² decrease from adding the phase: a likelihood-ratio test, as
   the truth's ideal significance is. The search over shift and width inflates
   ``z`` of an absent phase a little (look-elsewhere); the threshold pays for
   that. ``esd_full`` also includes the shift and width and is reported as the
   amplitude's uncertainty.
2. *Unique* significance reaches ``unique_threshold`` (:data:`UNIQUE_SIGMA`):
   the same amplitude test on the points near its own bands only, where every
   neighbouring band of the other phases may in addition be distorted (its
   amplitude, shift, width and asymmetry, linearised, with the priors of
   :data:`BAND_FREEDOM` and the bounds of :data:`BAND_LIMITS`), scaled by the
   goodness of fit of those points. A host band that is asymmetric, shifted or
   broader than the table cannot make a neighbour "detected" by lending it its
   misfit. The XRD analogue, ``phasetrace.quantify.selection._unique_significance``,
   looks only where the candidate dominates the model; Raman secondaries at a
   few wt % mostly sit on host flanks and would never pass that, so here the
   neighbours' plausible misfit is modelled instead, and (as there) the
   background is not refitted locally.
3. No strong expected band is missing (:func:`_missing_band`): a phase that
   explains somebody else's strong band with one of its bands while its other
   strong bands are absent is not there (the matcher's "missing bands").

Why these thresholds. The truth of the simulated data sets calls a phase
"seen" by Raman when its *ideal* significance (known band positions and
widths, linear model, Poisson weights) is at least 10. On 80 simulated spectra
of the bundled systems (random 0.01-4 wt % secondaries, width scale 0.85-1.25,
step 1-1.5 cm⁻¹; 150 present secondaries) ``z`` follows the ideal significance
closely (mostly within ±15 %; lower where a band shape trades off with the
background or a neighbour). With :data:`DETECTION_SIGMA` = 8 detection and
"ideal ≥ 10" disagree for 5 of the 150 (all with ideal significance 9-18, two
of them LaCoO3 hidden between the garnet's 645 and 748 cm⁻¹ bands), against 7
for a threshold of 10 and 6 for 6. No absent secondary was detected (twins
aside). Absent phases fitted to noise alone stay below about 4; those fitted to
host misfit are stopped by the unique test (threshold 5) and the pattern test:
none was detected among ~1200 absent-candidate/spectrum pairs with every host
band randomly distorted (asymmetry ±0.25, shifts ±5 cm⁻¹, intensities ×/÷1.4,
widths ×/÷1.2) nor among ~600 with asymmetric (0.1-0.3), shifted (±8 cm⁻¹)
and broadened (×0.8-1.3) hosts; with a unique threshold of 3, 3 got through.
Strong bands of phases that are not in the library (anatase, polystyrene)
can still be taken for a candidate's: the fit explains what it can with what
it is given.

Indistinguishable phases ("twins")
----------------------------------
Some library phases have the same band pattern within the shift and width
freedom (the LaMO3 perovskites: one broad band near 680 cm⁻¹; NMC622 and
NMC631). With both in one model their amplitudes would be split arbitrarily.
Only one member of such a group is in the model at a time: the first in
candidate order, unless another fits decisively better (:data:`TWIN_MARGIN`;
a choice that flipped with the noise would make up onsets in a series). The
others are reported with ``detected=None``, status ``"indistinguishable"`` and
``twin_of`` naming the member that stands for them; if the group's pattern is
not detected, all members are "not detected".

Raman-silent phases (ideal rock salts) and phases without reference bands are
``detected=None`` with status ``"not testable"`` and a reason.

Examples
--------
>>> from phasetrace.library.phases import PhaseLibrary                   # doctest: +SKIP
>>> from phasetrace.simulate import simulate_raman                        # doctest: +SKIP
>>> lib = PhaseLibrary.default()                                          # doctest: +SKIP
>>> scan = simulate_raman(lib, {"LLZTO_cubic": 60, "LiCoO2": 38, "La2Zr2O7": 2}, seed=1)  # doctest: +SKIP
>>> fit = fit_raman(scan, lib, ["LLZTO_cubic", "LiCoO2", "La2Zr2O7", "LaCoO3"])  # doctest: +SKIP
>>> fit.detected                                                          # doctest: +SKIP
['LLZTO_cubic', 'LiCoO2', 'La2Zr2O7']
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.polynomial import chebyshev
from scipy.optimize import nnls

from ..library.phases import PhaseLibrary, ReferencePhase
from ..preprocess import estimate_noise
from ..scan import Scan
from .raman import NO_DATA_REASON, SILENT_REASON
from .result import MatchError, TechniqueMismatchError

__all__ = [
    "BACKGROUND_SPACING",
    "BAND_FREEDOM",
    "DETECTION_SIGMA",
    "UNIQUE_SIGMA",
    "RamanFit",
    "RamanFitConfig",
    "RamanFitError",
    "RamanPhaseFit",
    "fit_raman",
]

#: Significance (amplitude / esd) a phase needs to be detected; see the module docstring.
DETECTION_SIGMA = 8.0
#: Significance it needs near its own bands with its neighbours' plausible misfit modelled.
UNIQUE_SIGMA = 5.0
#: Prior σ of a band's distortions: relative amplitude (log), shift beyond its phase's common shift
#: (cm⁻¹), relative width (log) and asymmetry (half widths w(1 + a) and w(1 - a)). Used for the
#: bands of dominant phases in the fit and for the neighbours in the unique-evidence test.
BAND_FREEDOM = (0.3, 4.0, 0.2, 0.2)
#: Hard bounds of those distortions: a factor 1.5 in amplitude, 6 cm⁻¹, a factor 1.35 in width, and
#: half widths differing by a factor 1.9. With a strong band the priors hardly bind (its χ² dwarfs
#: them); these bounds are what keeps a host from taking over a neighbouring phase's bands.
BAND_LIMITS = (math.log(1.5), 6.0, 0.3, 0.3)
#: Per-band terms refined in the fit (indices into BAND_FREEDOM): amplitude, shift and asymmetry; the
#: per-band width is left to the phase's common width (it is used in the unique-evidence test).
FIT_BAND_TERMS = (0, 1, 3)
#: Bands of phases in the model that peak this many σ above the noise get per-band freedom.
FLEX_SIGMA = 15.0
#: cm⁻¹ of fitted window per Chebyshev background term, and the fewest and most terms.
BACKGROUND_SPACING = 140.0
BACKGROUND_TERMS_RANGE = (4, 20)
#: Unique-evidence test: points within this many fitted FWHM of the phase's bands that reach this
#: fraction of its strongest band's height; at least this many points, else its unique significance
#: is 0. Bands of the other phases above this many σ in the region may be distorted.
UNIQUE_HALF_WIDTH = 1.5
UNIQUE_MIN_INTENSITY = 0.1
UNIQUE_MIN_POINTS = 5
UNIQUE_NEIGHBOUR_SIGMA = 3.0
#: Pattern test: bands predicted this many σ above the noise must reach this fraction of their fitted
#: height (upper 3σ bound) where they are expected.
PATTERN_SIGMA = 5.0
PATTERN_MIN_RATIO = 0.25
#: Bands whose centre lies this many (widest allowed) FWHM outside the window still enter with their tails.
TAIL_FWHM = 3.0
#: The coarse shift/width grid evaluates profiles within this many (widest allowed) FWHM of the bands.
GRID_REACH_FWHM = 5.0
#: Spikes: excess over both neighbours in σ, and as a fraction of the height above the local minimum;
#: despiking needs the narrowest band the model allows to span at least SPIKE_MIN_BAND_POINTS points.
SPIKE_SIGMA = 8.0
SPIKE_FRACTION = 0.85
SPIKE_MIN_BAND_POINTS = 2.0
#: Twins: every band of either phase reaching this fraction of its strongest band's height must have a
#: counterpart in the other (LLZTO's Ta-O band near 748 cm⁻¹ keeps it apart from LLZO), and their
#: patterns must reach ``twin_similarity``. Exchange candidates need counterparts for bands above
#: EXCHANGE_BANDS only.
TWIN_BANDS = 0.1
EXCHANGE_BANDS = 0.3
#: χ² (+ prior) a twin must gain over the first of its group, in units of GoF², to replace it.
TWIN_MARGIN = 9.0
#: Relative χ² decrease below which a refinement stops; its evaluations inside the forward selection and
#: in the verification with per-band freedom.
REFINE_TOLERANCE = 1e-4
FORWARD_NFEV = 12
VERIFY_NFEV = 12
#: Exchange step: candidates at least this similar to a phase of the model are tried in its place
#: when they would lower χ² by more than this fraction of what the phase does; rounds of exchanges.
EXCHANGE_SIMILARITY = 0.8
EXCHANGE_FRACTION = 0.9
EXCHANGE_ROUNDS = 2
#: Re-examination: a phase whose common shift reaches this fraction of its bound, or whose log width
#: scale is within this of a bound, is tried out of the model.
BOUND_FRACTION = 0.95
BOUND_LOGW = 0.02
#: Times a candidate may be tried in the forward selection.
MAX_TRIES = 2
EXCLUDED = 1000  # tries of a phase taken out by the re-examination: never again
#: Fewest points in the fitted window.
MIN_POINTS = 30

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


# -------------------------------------------------------------------------------------------- profiles
_G = 4.0 * math.log(2.0)
_SQ = math.sqrt(_G / math.pi)


def _bands(
    x: np.ndarray,
    centre: np.ndarray,
    fwhm: np.ndarray,
    area: np.ndarray,
    eta: float,
    asym: np.ndarray | None = None,
    derivs: bool = False,
    dasym: bool = True,
) -> tuple[np.ndarray, ...]:
    """Split pseudo-Voigt bands of unit area times ``area``, one column per band.

    The half widths are ``fwhm/2 · (1 + a)`` below and ``fwhm/2 · (1 - a)`` above
    the centre (``a = asym``, 0 by default: a symmetric pseudo-Voigt).

    Returns
    -------
    val : numpy.ndarray, shape (N, B)
    dcentre, dlogw, dasym : numpy.ndarray, shape (N, B)
        With ``derivs``: derivatives with respect to the centre, the log of the
        FWHM and (``dasym``) the asymmetry.
    """
    u = x[:, None] - centre[None, :]
    if asym is None or not np.any(asym):
        side = None
        w = np.broadcast_to(fwhm[None, :], u.shape)
    else:
        side = np.where(u < 0, 1.0, -1.0)
        w = fwhm[None, :] * (1.0 + side * asym[None, :])
    d = u / w
    d2 = d * d
    q = 1.0 / (1.0 + 4.0 * d2)
    lor = (2.0 / np.pi) * q / w
    gau = _SQ * np.exp(-_G * d2) / w
    pv = eta * lor + (1.0 - eta) * gau
    scale = area[None, :] if side is None else area[None, :] * (w / fwhm[None, :])
    val = pv * scale
    if not derivs:
        return (val,)
    # ∂pV/∂centre and w·∂pV/∂w at the half width in force
    dc = (eta * lor * 8.0 * q + (1.0 - eta) * gau * 2.0 * _G) * d / w
    wdw = eta * lor * (4.0 * d2 - 1.0) * q + (1.0 - eta) * gau * (2.0 * _G * d2 - 1.0)
    if not dasym:
        return val, dc * scale, wdw * scale, None
    sgn = np.where(u < 0, 1.0, -1.0) if side is None else side
    return val, dc * scale, wdw * scale, sgn * (pv + wdw) * area[None, :]


def _peak_height(fwhm: np.ndarray, eta: float) -> np.ndarray:
    """Peak height of a unit-area pseudo-Voigt."""
    return (eta * 2.0 / np.pi + (1.0 - eta) * _SQ) / fwhm


@dataclass
class _Model:
    """Band pattern of one testable phase and its current shape parameters."""

    id: str
    pos: np.ndarray
    fwhm: np.ndarray
    area: np.ndarray
    inside: np.ndarray  # band centre inside the window
    bound: float  # shift bound, cm⁻¹
    shift: float = 0.0
    logw: float = 0.0
    # per-band distortions (strong bands of dominant phases): log amplitude, shift, log width, asymmetry
    band: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    free: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        self.band = np.zeros((self.pos.size, 4))
        self.free = np.zeros(self.pos.size, dtype=bool)

    @property
    def flexible(self) -> bool:
        return bool(self.free.any())

    def centres(self) -> np.ndarray:
        return self.pos + self.shift + self.band[:, 1]

    def widths(self) -> np.ndarray:
        return self.fwhm * np.exp(self.logw + self.band[:, 2])

    def areas(self) -> np.ndarray:
        return self.area * np.exp(self.band[:, 0])

    def asym(self) -> np.ndarray:
        return self.band[:, 3]

    def mean_shift(self) -> float:
        """Common shift plus the area-weighted mean of the per-band shifts (the phase's overall shift)."""
        if not self.flexible:
            return self.shift
        w = self.area * self.inside
        return self.shift + float(np.sum(w * self.band[:, 1]) / max(float(np.sum(w)), 1e-300))

    def rigid(self) -> None:
        """Back to the table's band pattern (common shift and width kept)."""
        self.free[:] = False
        self.band[:] = 0.0

    def state(self) -> tuple:
        return (self.shift, self.logw, self.free.copy(), self.band.copy())

    def restore(self, state: tuple) -> None:
        self.shift, self.logw = state[:2]
        self.free = state[2].copy()
        self.band = state[3].copy()

    def key(self) -> tuple:
        return (tuple(self.pos), tuple(self.fwhm), tuple(self.area), self.bound, tuple(self.inside))


def _band_model(
    library: PhaseLibrary, pid: str, lo: float, hi: float, cfg: RamanFitConfig
) -> tuple[_Model | None, str]:
    bands = library.raman_bands(pid)
    if bands is None:
        return None, NO_DATA_REASON
    if not bands:
        return None, SILENT_REASON
    pos = np.array([b.position for b in bands], dtype=float)
    fwhm = np.array([b.fwhm for b in bands], dtype=float)
    rel = np.array([b.rel_intensity for b in bands], dtype=float)
    inside = (pos >= lo) & (pos <= hi) & (rel > 0)
    if not inside.any():
        return None, f"no reference band in the fitted window {lo:g}-{hi:g} cm⁻¹; not testable by Raman"
    bound = max(cfg.shift_tolerance, cfg.broad_fraction * float(fwhm.min()))
    reach = bound + TAIL_FWHM * fwhm * cfg.width_bounds[1]
    keep = (pos >= lo - reach) & (pos <= hi + reach) & (rel > 0)
    area = rel if cfg.band_intensity == "area" else rel / _peak_height(fwhm, cfg.eta)
    area = area / float(area[inside].max())
    return _Model(pid, pos[keep], fwhm[keep], area[keep], inside[keep], bound), ""


# --------------------------------------------------------------------------------------- noise, spikes
def _is_counts(y: np.ndarray) -> bool:
    return bool(
        y.size and np.min(y) >= 0 and np.max(y) > 1 and np.mean(np.abs(y - np.round(y)) < 1e-6) >= 0.98
    )


def _spikes(y: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Points of cosmic-ray spikes: one or two points far above both neighbours (and those neighbours).

    A point (or pair) is a spike when it exceeds the higher of its two
    neighbours by :data:`SPIKE_SIGMA` σ and by :data:`SPIKE_FRACTION` of its
    height above the lowest point within three points: a band at least two
    points wide (FWHM) never does.
    """
    n = y.size
    mask = np.zeros(n, dtype=bool)
    if n < 12:
        return mask
    pad = np.pad(y, 4, mode="edge")
    for width in (1, 2):
        idx = np.arange(n - width + 1)
        core = pad[idx + 4]
        for k in range(1, width):
            core = np.minimum(core, pad[idx + 4 + k])
        sides = np.maximum(pad[idx + 3], pad[idx + 4 + width])
        base = np.min(np.stack([pad[idx + 4 + k] for k in range(-3, width + 3)]), axis=0)
        excess = core - sides
        noise = np.maximum(sigma[idx], sigma[idx + width - 1])
        hit = (excess > SPIKE_SIGMA * noise) & (excess > SPIKE_FRACTION * (core - base))
        for i in np.flatnonzero(hit):
            mask[max(i - 1, 0) : min(i + width + 1, n)] = True
    return mask


# -------------------------------------------------------------------------------------- linear algebra
# Only small (parameters × parameters) systems are factorised: LAPACK on tall matrices is slow and erratic
# with a multi-threaded BLAS on a loaded machine.
def _gram_ridge(a: np.ndarray) -> np.ndarray:
    g = a.T @ a
    g[np.diag_indices_from(g)] += 1e-12 * max(float(np.trace(g)), 1e-300)
    return g


def _orthonormal(m: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of ``m`` (full column rank), by Cholesky of the Gram matrix."""
    if m.shape[1] == 0:
        return m
    return np.linalg.solve(np.linalg.cholesky(_gram_ridge(m)), m.T).T


def _remove(v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``v`` minus its least-squares projection on the columns of ``a``."""
    if a.shape[1] == 0:
        return v
    return v - a @ np.linalg.solve(_gram_ridge(a), a.T @ v)


def _inverse_diagonal(info: np.ndarray) -> np.ndarray:
    """Diagonal of the inverse of a symmetric positive (semi-)definite matrix."""
    try:
        low = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return np.diag(np.linalg.pinv(info, hermitian=True))
    inv_low = np.linalg.solve(low, np.eye(low.shape[0]))
    return np.einsum("ij,ij->j", inv_low, inv_low)


def _box_qp(
    h: np.ndarray, g: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``½ cᵀhc - gᵀc`` subject to ``lower ≤ c ≤ upper`` (primal active set, ``h`` > 0).

    Returns the solution and the mask of the variables not held at a bound.
    """
    k = g.size
    c = np.clip(np.zeros(k), lower, upper)
    free = np.ones(k, dtype=bool)
    at = np.zeros(k)  # bound values of the held variables
    for _ in range(4 * k + 4):
        f = np.flatnonzero(free)
        held = np.flatnonzero(~free)
        target = np.zeros(k)
        target[held] = at[held]
        if f.size:
            rhs = g[f] - h[np.ix_(f, held)] @ at[held]
            target[f] = np.linalg.solve(h[np.ix_(f, f)], rhs)
        viol = free & ((target < lower - 1e-12) | (target > upper + 1e-12))
        if viol.any():
            # move from c towards target up to the first bound met, and hold that variable there
            step = target - c
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(step < 0, (lower - c) / step, np.where(step > 0, (upper - c) / step, np.inf))
            frac = np.where(viol, np.clip(frac, 0.0, 1.0), np.inf)
            j = int(np.argmin(frac))
            c = c + frac[j] * step
            at[j] = lower[j] if step[j] < 0 else upper[j]
            c[j] = at[j]
            free[j] = False
            continue
        c = target
        grad = h @ c - g
        wrong = ~free & (((c <= lower) & (grad < -1e-12)) | ((c >= upper) & (grad > 1e-12)))
        if not wrong.any():
            break
        j = int(np.argmax(np.where(wrong, np.abs(grad), -1.0)))
        free[j] = True
    return c, free


# ----------------------------------------------------------------------------------------------- twins
def _corresponds(a: _Model, b: _Model, wmax: float, fraction: float) -> bool:
    """Whether ``b`` has a band for every band of ``a`` reaching ``fraction`` of its strongest's height.

    "For" means within reach of each other given both phases' shift bounds and widths.
    """
    height = a.area * _peak_height(a.fwhm, 0.5)
    strong = a.inside & (height >= fraction * height[a.inside].max())
    for pos, fw in zip(a.pos[strong], a.fwhm[strong], strict=True):
        reach = a.bound + b.bound + 0.5 * (fw + b.fwhm) * wmax
        if not np.any(np.abs(b.pos - pos) <= reach):
            return False
    return True


@lru_cache(maxsize=4096)
def _similarity(a_key: tuple, b_key: tuple, cfg_key: tuple) -> float:
    """Largest cosine similarity of two band patterns within their shift and width freedom.

    The patterns (their bands inside the window, see :meth:`_Model.key`) are
    compared on a grid over the span of both with a quadratic projected out (the
    fitted background absorbs what is smoother than that), so the value depends on
    the library only and is cached.
    """
    eta, wlo, whi = cfg_key
    pa, fa, aa, ba, ia = a_key
    pb, fb, ab, bb, ib = b_key
    pa, fa, aa = (np.asarray(v)[np.asarray(ia)] for v in (pa, fa, aa))
    pb, fb, ab = (np.asarray(v)[np.asarray(ib)] for v in (pb, fb, ab))
    span = ba + bb
    reach = span + 4.0 * whi * max(float(fa.max()), float(fb.max()))
    lo = min(pa.min(), pb.min()) - reach
    hi = max(pa.max(), pb.max()) + reach
    step = max(0.25 * wlo * float(min(fa.min(), fb.min())), 0.5)
    x = np.arange(lo, hi + step / 2, step)
    q = _orthonormal(chebyshev.chebvander(np.linspace(-1.0, 1.0, x.size), 2))

    def unit(v: np.ndarray) -> np.ndarray:
        v = v - q @ (q.T @ v)
        nv = np.linalg.norm(v, axis=0)
        return v / np.where(nv > 0, nv, 1.0)

    va = unit(_bands(x, pa, fa, aa, eta)[0].sum(axis=1))
    nb = pb.size

    def best_of(shifts: np.ndarray, scales: np.ndarray) -> tuple[float, float, float]:
        out = (-1.0, 0.0, 1.0)
        for sc in scales:
            centres = (shifts[:, None] + pb[None, :]).ravel()
            val = _bands(x, centres, np.tile(fb * sc, shifts.size), np.tile(ab, shifts.size), eta)[0]
            sims = va @ unit(val.reshape(x.size, shifts.size, nb).sum(axis=2))
            k = int(np.argmax(sims))
            if sims[k] > out[0]:
                out = (float(sims[k]), float(shifts[k]), float(sc))
        return out

    d_step = max(0.25 * float(min(fa.min(), fb.min())), 0.5)
    shifts = np.linspace(-span, span, 2 * math.ceil(span / d_step) + 1) if span > 0 else np.zeros(1)
    ratio = math.log(whi / wlo)
    scales = np.exp(np.linspace(-ratio, ratio, 9)) if ratio > 0 else np.ones(1)
    best, d0, s0 = best_of(shifts, scales)
    # refine around the best grid point
    ds = (shifts[1] - shifts[0]) if shifts.size > 1 else 0.0
    dl = 2.0 * ratio / 8.0 if ratio > 0 else 0.0
    fine_s = np.clip(d0 + np.linspace(-ds, ds, 9), -span, span)
    fine_w = np.exp(np.clip(math.log(s0) + np.linspace(-dl, dl, 9), -ratio, ratio))
    return max(best, best_of(fine_s, fine_w)[0])


def _twin_groups(models: list[_Model], cfg: RamanFitConfig) -> list[list[int]]:
    """Groups of indistinguishable models (connected components), each in candidate order."""
    keys = tuple(m.key() for m in models)
    return [list(g) for g in _twin_groups_cached(keys, cfg)]


@lru_cache(maxsize=256)
def _twin_groups_cached(keys: tuple, cfg: RamanFitConfig) -> tuple:
    models = [
        _Model("", np.asarray(k[0]), np.asarray(k[1]), np.asarray(k[2]), np.asarray(k[4]), k[3]) for k in keys
    ]
    n = len(models)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cfg_key = (cfg.eta, *cfg.width_bounds)
    wmax = cfg.width_bounds[1]
    for i in range(n):
        for j in range(i + 1, n):
            a, b = models[i], models[j]
            if not (_corresponds(a, b, wmax, TWIN_BANDS) and _corresponds(b, a, wmax, TWIN_BANDS)):
                continue
            if _similarity(keys[i], keys[j], cfg_key) >= cfg.twin_similarity:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return tuple(tuple(g) for g in groups.values())


# --------------------------------------------------------------------------------------------- the fit
class _Problem:
    """Weighted data, the background basis and the phases (variable projection).

    Weighted vectors have the (weighted) background projected out, so that the
    amplitudes are the only linear unknowns left and can be solved by NNLS.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray,
        nbg: int,
        models: list[_Model],
        cfg: RamanFitConfig,
    ):
        self.x, self.y, self.sw, self.cfg = x, y, sw, cfg
        self.nbg = nbg
        self.bg = chebyshev.chebvander(np.linspace(-1.0, 1.0, x.size), nbg - 1)
        self.qb = _orthonormal(self.bg * sw[:, None])
        self.yw = self.perp(y * sw)
        self.noise = float(np.median(1.0 / sw[sw > 0]))
        self.models = models
        n, m = x.size, len(models)
        self.cols = np.zeros((n, m))
        self.wcols = np.zeros((n, m))  # weighted, background projected out
        self.dshift = np.zeros((n, m))
        self.dlogw = np.zeros((n, m))
        self.dband: dict[int, tuple[np.ndarray, ...]] = {}  # per-band derivatives of flexible phases
        self.fresh = np.zeros(m, dtype=bool)  # derivatives current
        for i in range(m):
            self.refresh(i)
        self.amp = np.zeros(m)
        self.on = np.zeros(m, dtype=bool)
        self.why_out = [""] * m
        self.groups: dict[int, list[_Model]] = {}  # slot -> indistinguishable members (first in the fit)
        self._similar: dict[tuple[str, str], bool] = {}
        self.sig_u = math.log(cfg.width_bounds[1] / cfg.width_bounds[0]) / 4.0 or 1.0
        self.lw = (math.log(cfg.width_bounds[0]), math.log(cfg.width_bounds[1]))

    # -- columns
    def perp(self, v: np.ndarray) -> np.ndarray:
        """Remove the weighted background from weighted vector(s) ``v``."""
        return v - self.qb @ (self.qb.T @ v)

    def refresh(self, i: int) -> None:
        """Recompute phase ``i``'s column after a change of its shape (derivatives on demand)."""
        m = self.models[i]
        self.cols[:, i] = _bands(self.x, m.centres(), m.widths(), m.areas(), self.cfg.eta, m.asym())[0].sum(
            axis=1
        )
        self.wcols[:, i] = self.perp(self.cols[:, i] * self.sw)
        self.fresh[i] = False

    def derivatives(self, idx: Sequence[int]) -> None:
        """Make the shape derivatives of phases ``idx`` current."""
        for i in idx:
            if self.fresh[i]:
                continue
            m = self.models[i]
            val, dc, dw, da = _bands(
                self.x, m.centres(), m.widths(), m.areas(), self.cfg.eta, m.asym(), True, m.flexible
            )
            self.dshift[:, i] = dc.sum(axis=1)
            self.dlogw[:, i] = dw.sum(axis=1)
            if m.flexible:
                self.dband[i] = (val, dc, dw, da)
            else:
                self.dband.pop(i, None)
            self.fresh[i] = True

    def weighted(self, idx: Sequence[int] | np.ndarray | slice) -> np.ndarray:
        return self.wcols[:, idx]

    # -- linear part
    def solve(self) -> float:
        """NNLS of the amplitudes of the phases in the model (``on``); returns χ²."""
        self.amp = np.zeros(len(self.models))
        idx = np.flatnonzero(self.on)
        if idx.size == 0:
            return float(self.yw @ self.yw)
        a = self.weighted(idx)
        norm = np.linalg.norm(a, axis=0)
        norm[norm <= 0] = 1.0
        c, rnorm = nnls(a / norm, self.yw, maxiter=50 * a.shape[1])
        self.amp[idx] = c / norm
        return float(rnorm * rnorm)

    def residual_w(self) -> np.ndarray:
        idx = np.flatnonzero(self.amp > 0)
        return self.yw - self.wcols[:, idx] @ self.amp[idx]

    def dof(self, k: int) -> int:
        """Degrees of freedom with ``k`` phases in the model."""
        return max(int(np.count_nonzero(self.sw > 0)) - self.bg.shape[1] - 3 * k, 1)

    def similar(self, p: int, q: int) -> bool:
        """Whether phases ``p`` and ``q`` have band patterns alike enough to be exchanged."""
        a, b = self.models[p], self.models[q]
        key = (a.id, b.id)
        if key not in self._similar:
            self._similar[key] = self._similar_now(a, b)
        return self._similar[key]

    def _similar_now(self, a: _Model, b: _Model) -> bool:
        wmax = self.cfg.width_bounds[1]
        if not (_corresponds(a, b, wmax, EXCHANGE_BANDS) and _corresponds(b, a, wmax, EXCHANGE_BANDS)):
            return False
        key = (self.cfg.eta, *self.cfg.width_bounds)
        return _similarity(a.key(), b.key(), key) >= EXCHANGE_SIMILARITY

    # -- priors
    def prior(self, i: int) -> float:
        """Prior penalty of phase ``i``'s shape (common shift and width, per-band distortions)."""
        m = self.models[i]
        out = (2.0 * m.shift / max(m.bound, 1e-9)) ** 2 + (m.logw / self.sig_u) ** 2
        if m.flexible:
            out += float(np.sum((m.band[m.free] / np.array(BAND_FREEDOM)) ** 2))  # unfitted terms stay 0
        return out

    def objective(self) -> float:
        r = self.residual_w()
        return float(r @ r) + sum(self.prior(j) for j in np.flatnonzero(self.amp > 0))

    # -- shapes
    def states(self) -> list[tuple]:
        return [m.state() for m in self.models]

    def restore(self, states: list[tuple]) -> None:
        for i, st in enumerate(states):
            m = self.models[i]
            same = (
                (m.shift, m.logw) == st[:2]
                and np.array_equal(m.free, st[2])
                and np.array_equal(m.band, st[3])
            )
            if not same:
                m.restore(st)
                self.refresh(i)

    def make_flexible(self) -> None:
        """Per-band freedom for the bands of phases in the model that stand far above the noise."""
        if not self.cfg.band_freedom:
            return
        for i in np.flatnonzero(self.amp > 0):
            m = self.models[i]
            height = m.areas() * _peak_height(m.widths(), self.cfg.eta) * self.amp[i]
            strong = height >= FLEX_SIGMA * self.noise
            if np.any(strong & ~m.free):
                m.free |= strong
                self.fresh[i] = False

    def grid_columns(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Phase ``i``'s table pattern on a coarse grid of shifts and widths (weighted, background removed).

        The shift step is half the narrowest band's FWHM (a band shifted by a
        full bound is still found), at the table's width; and widths 0.7 and
        1.4 × the table's at no shift.
        Profiles are evaluated near the bands only: this is a screen, the
        refinement uses whole profiles.

        Returns
        -------
        params : numpy.ndarray, shape (G, 2)
            Shift and log width scale of each column.
        columns : numpy.ndarray, shape (N, G)
        """
        m = self.models[i]
        step = 0.5 * float(m.fwhm[m.inside].min())
        n_s = math.ceil(m.bound / step) if m.bound > 0 and step > 0 else 0
        shifts = np.linspace(-m.bound, m.bound, 2 * n_s + 1) if n_s else np.zeros(1)
        logws = np.unique(np.clip(np.array([0.0, -0.35, 0.35]), *self.lw))
        reach = m.bound + GRID_REACH_FWHM * m.fwhm * self.cfg.width_bounds[1]
        near = np.any(np.abs(self.x[:, None] - m.pos[None, :]) <= reach[None, :], axis=1)
        xs = self.x[near]
        params, cols = [], []
        # shifts at the table's width, and the other widths at no shift
        combos = [(sh, 0.0) for sh in shifts] + [(0.0, u) for u in logws if u != 0.0]
        par = np.array(combos)
        nb = m.pos.size
        centres = (par[:, :1] + m.pos[None, :]).ravel()
        widths = (np.exp(par[:, 1:]) * m.fwhm[None, :]).ravel()
        val = _bands(xs, centres, widths, np.tile(m.area, len(combos)), self.cfg.eta)[0]
        cand = np.zeros((self.x.size, len(combos)))
        cand[near] = val.reshape(xs.size, len(combos), nb).sum(axis=2)
        params.append(par)
        cols.append(self.perp(cand * self.sw[:, None]))
        return np.vstack(params), np.column_stack(cols)

    def best_on_grid(
        self, i: int, grid: tuple[np.ndarray, np.ndarray], lin: np.ndarray, r: np.ndarray
    ) -> tuple[float, tuple[float, float]]:
        """Best grid shape of phase ``i`` against residual ``r`` with the model's columns ``lin`` removed.

        Returns the χ² decrease if the phase were added (0 if it would get a
        negative amplitude) and its (shift, log width).
        """
        params, cols = grid
        m = self.models[i]
        c = _remove(cols, lin)
        cc = np.einsum("ij,ij->j", c, c)
        cr = c.T @ r
        gain = np.where((cc > 0) & (cr > 0), cr * cr / np.where(cc > 0, cc, 1.0), 0.0)
        penalty = (2.0 * params[:, 0] / max(m.bound, 1e-9)) ** 2 + (params[:, 1] / self.sig_u) ** 2
        k = int(np.argmax(gain - penalty))
        return float(gain[k]), (float(params[k, 0]), float(params[k, 1]))

    # -- nonlinear refinement
    def refine(self, active: Sequence[int], max_nfev: int | None = None) -> None:
        """Levenberg-Marquardt of the shapes of the phases ``active`` (bounds by projection).

        Parameters are each phase's common shift and log width, and for
        flexible phases the per-band log amplitude, shift, log width and
        asymmetry, all with their Gaussian priors. The residual is the NNLS
        residual (amplitudes and background solved at every step) plus the prior
        terms; the Jacobian is Kaufman's: the amplitude-weighted profile
        derivatives with the model's column space projected out.
        """
        active = [int(i) for i in active]
        if not active:
            self.solve()
            return
        # parameter layout: (phase, kind, band); kind 0/1 common shift/logw, 2..5 per-band
        layout: list[tuple[int, int, int]] = []
        lower, upper, sigma = [], [], []
        for i in active:
            m = self.models[i]
            layout += [(i, 0, -1), (i, 1, -1)]
            lower += [-m.bound, self.lw[0]]
            upper += [m.bound, self.lw[1]]
            sigma += [max(m.bound, 1e-9) / 2.0, self.sig_u]
            if m.flexible:
                for b in np.flatnonzero(m.free):
                    for k in FIT_BAND_TERMS:
                        lim = BAND_LIMITS[k]
                        layout.append((i, 2 + k, b))
                        lower.append(-lim)
                        upper.append(lim)
                        sigma.append(BAND_FREEDOM[k])
        lo, hi, inv_sig = np.array(lower), np.array(upper), 1.0 / np.array(sigma)
        hi = np.maximum(hi, lo + 1e-12)

        def params() -> np.ndarray:
            out = np.empty(len(layout))
            for n, (i, kind, b) in enumerate(layout):
                m = self.models[i]
                out[n] = m.shift if kind == 0 else m.logw if kind == 1 else m.band[b, kind - 2]
            return out

        def evaluate(p: np.ndarray) -> np.ndarray:
            for n, (i, kind, b) in enumerate(layout):
                m = self.models[i]
                if kind == 0:
                    m.shift = float(p[n])
                elif kind == 1:
                    m.logw = float(p[n])
                else:
                    m.band[b, kind - 2] = p[n]
            for i in active:
                self.refresh(i)
            self.solve()
            return np.concatenate([self.residual_w(), p * inv_sig])

        def jacobian() -> np.ndarray:
            self.derivatives(active)
            d = np.empty((self.x.size, len(layout)))
            for n, (i, kind, b) in enumerate(layout):
                if kind == 0:
                    d[:, n] = self.dshift[:, i]
                elif kind == 1:
                    d[:, n] = self.dlogw[:, i]
                else:
                    val, dc, dw, da = self.dband[i]
                    d[:, n] = (val, dc, dw, da)[kind - 2][:, b]
                d[:, n] *= self.amp[i]
            d = _remove(self.perp(d * self.sw[:, None]), self.weighted(np.flatnonzero(self.amp > 0)))
            return np.vstack([-d, np.diag(inv_sig)])

        tiny = np.where(np.array([k for _, k, _ in layout]) == 0, 0.01, 1e-4)
        tiny[[n for n, (_, k, _) in enumerate(layout) if k == 3]] = 0.01
        p = np.clip(params(), lo, hi)
        r = evaluate(p)
        cost = float(r @ r)
        lam, nfev, at_p = 1e-3, 1, True
        budget = max_nfev or self.cfg.max_nfev
        while nfev < budget:
            jac = jacobian()
            h = jac.T @ jac
            g = jac.T @ r
            dh = np.diag(h).copy()
            dh[dh <= 0] = 1.0
            accepted, gain = False, 0.0
            while nfev < budget:
                step = np.linalg.solve(h + lam * np.diag(dh), -g)
                trial = np.clip(p + step, lo, hi)
                if np.all(np.abs(trial - p) <= tiny):
                    break
                rt = evaluate(trial)
                nfev += 1
                at_p = False
                ct = float(rt @ rt)
                if ct < cost:
                    gain = (cost - ct) / max(cost, 1e-300)
                    p, r, cost, at_p = trial, rt, ct, True
                    lam = max(lam / 3.0, 1e-9)
                    accepted = True
                    break
                lam *= 4.0
            if not accepted or gain < 1e-7:
                break
        if not at_p:
            evaluate(p)


# ------------------------------------------------------------------------------------------ statistics
@dataclass
class _Stats:
    gof2: float
    amp: np.ndarray
    esd: np.ndarray
    esd_full: np.ndarray
    z: np.ndarray
    zu: np.ndarray
    background: np.ndarray
    phase_sum: np.ndarray
    missing: dict[int, str] = field(default_factory=dict)  # phase -> its expected band that is absent

    def passes(self, i: int, t: float, tu: float) -> bool:
        """Whether phase ``i`` (in the model) passes the significance, unique and pattern tests."""
        return bool(self.amp[i] > 0 and self.z[i] >= t and self.zu[i] >= tu and i not in self.missing)

    def score(self, i: int, t: float, tu: float) -> float:
        """How far phase ``i`` is from failing (< 1: fails); the weakest goes first."""
        return min(self.z[i] / t, self.zu[i] / max(tu, 1e-9), 0.0 if i in self.missing else np.inf)


def _statistics(
    prob: _Problem, *, full: bool = True, unique: bool | Sequence[int] = True, rest: bool = True
) -> _Stats:
    """GoF, esds (scaled by the GoF when it exceeds 1), significances and unique evidence.

    ``esd``: from the covariance of the background and all amplitudes at the
    fitted band shapes, so that ``z²`` is the χ² decrease from adding the phase
    with its fitted shape. ``esd_full`` (``full``): with each phase's common
    shift and width (and their prior) included. A phase left out gets the
    amplitude and esd it would have if it alone were added at its current shape.
    ``unique``: phases whose unique evidence and pattern are checked (True: all in the model).
    ``rest``: also the phases left out (else their amplitude stays 0, esd inf).
    """
    n = len(prob.models)
    r = prob.residual_w()
    active = [int(j) for j in np.flatnonzero(prob.amp > 0)]
    k = len(active)
    gof2 = float(r @ r) / prob.dof(k)
    scale = math.sqrt(max(1.0, gof2))
    amp = prob.amp.copy()
    esd = np.full(n, np.inf)
    esd_full = np.full(n, np.nan)
    lin = prob.weighted(active)
    if k:
        norm = np.linalg.norm(lin, axis=0)
        norm[norm <= 0] = 1.0
        esd[active] = (
            np.sqrt(np.maximum(_inverse_diagonal((lin / norm).T @ (lin / norm)), 0.0)) / norm * scale
        )
        if full:
            prob.derivatives(active)
            d = np.column_stack(
                [prob.dshift[:, active] * prob.amp[active], prob.dlogw[:, active] * prob.amp[active]]
            )
            jmat = np.column_stack([lin, prob.perp(d * prob.sw[:, None])])
            norm = np.linalg.norm(jmat, axis=0)
            norm[norm <= 0] = 1.0
            info = (jmat / norm).T @ (jmat / norm)
            prior = [(2.0 / max(prob.models[i].bound, 1e-9)) ** 2 for i in active] + [1.0 / prob.sig_u**2] * k
            info[np.arange(k, 3 * k), np.arange(k, 3 * k)] += np.array(prior) / norm[k:] ** 2
            esd_full[active] = np.sqrt(np.maximum(_inverse_diagonal(info)[:k], 0.0)) / norm[:k] * scale
    left = [i for i in range(n) if prob.amp[i] <= 0] if rest else []
    if left:
        cols = _remove(prob.weighted(left), lin)
        cc = np.einsum("ij,ij->j", cols, cols)
        safe = np.where(cc > 0, cc, 1.0)
        amp[left] = np.where(cc > 0, (cols.T @ r) / safe, 0.0)
        esd[left] = np.where(cc > 0, scale / np.sqrt(safe), np.inf)
    z = np.where(np.isfinite(esd) & (esd > 0), amp / np.where(esd > 0, esd, 1.0), 0.0)
    phase_sum = prob.cols[:, active] @ prob.amp[active] if k else np.zeros(prob.x.size)
    bg_w = prob.bg * prob.sw[:, None]
    background = prob.bg @ np.linalg.solve(_gram_ridge(bg_w), bg_w.T @ ((prob.y - phase_sum) * prob.sw))
    zu = np.zeros(n)
    missing = {}
    for j in active if unique is True else [j for j in (unique or ()) if j in active]:
        zu[j] = _unique(prob, j, background)
        why = _missing_band(prob, j, background, phase_sum)
        if why:
            missing[j] = why
    return _Stats(gof2, amp, esd, esd_full, z, zu, background, phase_sum, missing)


def _missing_band(prob: _Problem, j: int, background: np.ndarray, phase_sum: np.ndarray) -> str:
    """A strong expected band of phase ``j`` that the data clearly lack, described; "" if none.

    Each band of the fitted pattern predicted :data:`PATTERN_SIGMA` σ above the
    noise is scaled on its own, within one fitted FWHM of its centre (moved by up
    to the per-band shift limit of :data:`BAND_LIMITS`), with everything else as
    fitted. The band is missing when even that scale plus three standard errors
    (GoF-scaled) stays below :data:`PATTERN_MIN_RATIO` of the fitted one: band
    tables are semi-quantitative, so only a band that is essentially absent
    counts. A phase that explains a strong band of something else with one of its
    bands while its other strong bands are absent is then not detected (the
    matcher's "missing bands").
    """
    m = prob.models[j]
    x = prob.x
    centres, widths, areas = m.centres(), m.widths(), m.areas() * prob.amp[j]
    height = areas * _peak_height(widths, prob.cfg.eta)
    noise = 1.0 / np.maximum(prob.sw, 1e-300)
    others = phase_sum - prob.cols[:, j] * prob.amp[j]
    mine_all = prob.cols[:, j] * prob.amp[j]
    offsets = np.linspace(-BAND_LIMITS[1], BAND_LIMITS[1], 5)
    for b in np.flatnonzero(m.inside):
        k = int(np.clip(np.searchsorted(x, centres[b]), 0, x.size - 1))
        if height[b] < PATTERN_SIGMA * noise[k]:
            continue
        sel = (np.abs(x - centres[b]) <= widths[b] + BAND_LIMITS[1]) & (prob.sw > 0)
        if np.count_nonzero(sel) < 3:
            continue
        xs, w = x[sel], prob.sw[sel] ** 2
        asym = m.asym()[b : b + 1]
        one = _bands(
            xs,
            centres[b] + offsets,
            np.repeat(widths[b], 5),
            np.repeat(areas[b], 5),
            prob.cfg.eta,
            np.repeat(asym, 5),
        )[0]
        own = one[:, 2]  # the band as fitted (no offset)
        rest = prob.y[sel] - background[sel] - others[sel] - (mine_all[sel] - own)
        # each offset is judged within one FWHM of its own centre
        wk = w[:, None] * (np.abs(xs[:, None] - (centres[b] + offsets)[None, :]) <= widths[b])
        npts = np.count_nonzero(wk, axis=0)
        info = np.einsum("ij,ij->j", one, one * wk)
        safe = np.where(info > 0, info, 1.0)
        ratio = np.where(npts >= 3, (one * wk).T @ rest / safe, -np.inf)
        res = rest[:, None] - one * np.where(np.isfinite(ratio), ratio, 0.0)[None, :]
        gof2 = np.einsum("ij,ij->j", res, res * wk) / np.maximum(npts - 1, 1)
        hi = ratio + 3.0 * np.sqrt(np.maximum(1.0, gof2) / np.where(info > 0, info, np.inf))
        kbest = int(np.argmax(ratio))
        if hi[kbest] < PATTERN_MIN_RATIO:
            return (
                f"its band expected near {m.pos[b] + m.shift:.0f} cm⁻¹ is missing "
                f"(at most {max(float(hi[kbest]), 0.0):.2f} of the fitted height)"
            )
    return ""


def _unique(prob: _Problem, j: int, background: np.ndarray) -> float:
    """Significance of phase ``j`` near its own bands when the neighbouring bands may be misfit.

    The test region is the points within :data:`UNIQUE_HALF_WIDTH` fitted FWHM of
    the phase's bands that reach :data:`UNIQUE_MIN_INTENSITY` of its strongest
    band's height. There, the data minus the fitted background and the other
    phases are modelled by this phase's fitted pattern (one amplitude), four
    linearised distortions of every neighbouring band that reaches into the region
    above :data:`UNIQUE_NEIGHBOUR_SIGMA` σ (relative amplitude, shift, width,
    asymmetry, each with the prior of :data:`BAND_FREEDOM` and bounded by
    :data:`BAND_LIMITS`). What plausible distortions of a neighbour can explain
    is not evidence for this phase; a band that stands apart from its
    neighbours' shapes keeps its significance. The background stays as fitted on
    the whole spectrum (refitted on a few short stretches it would mimic broad
    bands; its correlation with the phase is in the whole-spectrum
    significance). The error is scaled by the goodness of fit of those points
    (never below 1).
    """
    m = prob.models[j]
    x = prob.x
    width = m.widths()
    height = m.areas() * _peak_height(width, prob.cfg.eta)
    strong = height >= UNIQUE_MIN_INTENSITY * height.max()
    region = np.zeros(x.size, dtype=bool)
    for c, w in zip(m.centres()[strong], width[strong], strict=True):
        region |= np.abs(x - c) <= UNIQUE_HALF_WIDTH * w
    region &= prob.sw > 0
    npt = int(region.sum())
    if npt < UNIQUE_MIN_POINTS:
        return 0.0
    xr, swr = x[region], prob.sw[region]
    noise = float(np.median(1.0 / swr))
    cols = [prob.cols[region, j]]
    prior = [0.0]
    limits = [np.inf]
    others = np.zeros(npt)
    for q in np.flatnonzero(prob.amp > 0):
        if q == j:
            continue
        mq = prob.models[q]
        others += prob.cols[region, q] * prob.amp[q]
        val, dc, dw, da = _bands(
            xr, mq.centres(), mq.widths(), mq.areas() * prob.amp[q], prob.cfg.eta, mq.asym(), True
        )
        for b in np.flatnonzero(val.max(axis=0) > UNIQUE_NEIGHBOUR_SIGMA * noise):
            cols += [val[:, b], dc[:, b], dw[:, b], da[:, b]]
            prior += [1.0 / s**2 for s in BAND_FREEDOM]
            limits += list(BAND_LIMITS)
    a = np.column_stack(cols) * swr[:, None]
    rhs = (prob.y[region] - background[region] - others) * swr
    norm = np.linalg.norm(a, axis=0)
    norm[norm <= 0] = 1.0
    an = a / norm
    gram = an.T @ an
    h = gram + np.diag(np.asarray(prior) / norm**2)
    h[np.diag_indices_from(h)] += 1e-10
    lim = np.asarray(limits) * norm
    coef, free = _box_qp(h, an.T @ rhs, -lim, lim)
    res = rhs - an @ coef
    f = np.flatnonzero(free)
    var0 = _inverse_diagonal(h[np.ix_(f, f)])[0]  # the phase's amplitude is never held
    n_par = float(np.trace(np.linalg.solve(h[np.ix_(f, f)], gram[np.ix_(f, f)])))
    gof2 = float(res @ res) / max(npt - n_par, 1.0)
    return float(coef[0] / math.sqrt(var0 * max(1.0, gof2))) if var0 > 0 else 0.0


# ------------------------------------------------------------------------------------------- selection
def _forward(prob: _Problem) -> _Stats:
    """Forward selection, exchanges of similar phases, and the verification (see the module docstring)."""
    cfg = prob.cfg
    t, tu = cfg.threshold, cfg.unique_threshold
    n = len(prob.models)
    prob.solve()
    grids = [prob.grid_columns(i) for i in range(n)]
    tries = np.zeros(n, dtype=int)
    for _ in range(EXCHANGE_ROUNDS + 1):
        _add(prob, grids, tries)
        changed = _exchange(prob, grids)
        # twin choices made while the model was incomplete are revisited
        for j in np.flatnonzero(prob.amp > 0):
            if len(prob.groups.get(int(j), ())) > 1 and _choose_member(prob, int(j), prob.groups[int(j)]):
                changed = True
        changed |= _reexamine(prob, grids, tries)
        if not changed:
            break
        prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=FORWARD_NFEV)
        # the model changed: candidates turned down against the old one get another chance
        tries[tries < EXCLUDED] = 0
    # verification: the dominant phases get per-band freedom, everything is refined together, and
    # phases that then fail either test are dropped, the weakest first
    for _ in range(n + 1):
        prob.make_flexible()
        prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=VERIFY_NFEV)
        st = _statistics(prob)
        active = np.flatnonzero(prob.amp > 0)
        fail = [j for j in active if not st.passes(j, t, tu)]
        if not fail:
            break
        worst = min(fail, key=lambda j: st.score(j, t, tu))
        prob.on[worst] = False
        prob.why_out[worst] = _why(st, worst, t, tu)
        prob.models[worst].rigid()
        prob.refresh(worst)
        prob.solve()
    return st


def _add(prob: _Problem, grids: list, tries: np.ndarray) -> None:
    """Add the candidate that lowers χ² most while it reaches the threshold and passes both tests.

    A candidate is judged first at its grid shape (cheap), then again after all
    shapes are refined; one that fails is left out (it may be tried again, up to
    :data:`MAX_TRIES` times). Phases whose significance falls below the threshold
    after an addition are dropped.
    """
    cfg = prob.cfg
    t, tu = cfg.threshold, cfg.unique_threshold
    n = len(prob.models)
    for _ in range(MAX_TRIES * n + 1):
        r = prob.residual_w()
        chi2 = float(r @ r)
        active = np.flatnonzero(prob.on)
        lin = prob.weighted(active)
        best_i, best_gain, best_shape = -1, 0.0, (0.0, 0.0)
        for i in range(n):
            if prob.on[i] or tries[i] >= MAX_TRIES:
                continue
            gain, shape = prob.best_on_grid(i, grids[i], lin, r)
            if gain > best_gain:
                best_i, best_gain, best_shape = i, gain, shape
        if best_i < 0:
            return
        gof2 = (chi2 - best_gain) / prob.dof(active.size + 1)
        if math.sqrt(best_gain / max(1.0, gof2)) < t:
            return
        i = best_i
        saved = prob.states()
        m = prob.models[i]
        m.rigid()
        m.shift, m.logw = best_shape
        prob.refresh(i)
        prob.on[i] = True
        tries[i] += 1
        prob.solve()
        st = _statistics(prob, full=False, unique=[i], rest=False)
        if st.passes(i, t, tu):
            if len(prob.groups.get(i, ())) > 1:
                _choose_member(prob, i, prob.groups[i])
            prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=FORWARD_NFEV)
            st = _statistics(prob, full=False, unique=[i], rest=False)
        if not st.passes(i, t, tu):
            prob.on[i] = False
            prob.why_out[i] = _why(st, i, t, tu)
            prob.restore(saved)
            prob.solve()
            continue
        prob.why_out[i] = ""
        _drop_weak(prob)


def _exchange(prob: _Problem, grids: list) -> bool:
    """Replace phases of the model by similar candidates that fit better; True if any was replaced.

    Greedy selection can pick a phase that explains its own bands and a
    neighbour's together (a broadened NMC622 for NMC811 plus Li2MnO3); once the
    neighbour is in the model, the right phase fits better. Candidates whose band
    patterns correspond (:func:`_corresponds`) and reach
    :data:`EXCHANGE_SIMILARITY` are tried in place of each phase of the model.
    """
    cfg = prob.cfg
    t, tu = cfg.threshold, cfg.unique_threshold
    changed = False
    for p in [int(j) for j in np.flatnonzero(prob.amp > 0)]:
        if not prob.amp[p] > 0:
            continue
        similar = [q for q in range(len(prob.models)) if not prob.on[q] and prob.similar(p, q)]
        if not similar:
            continue
        saved, obj0 = prob.states(), prob.objective()
        others = [j for j in np.flatnonzero(prob.amp > 0) if j != p]
        prob.on[p] = False
        prob.solve()
        r = prob.residual_w()
        lin = prob.weighted(others)
        col = _remove(prob.wcols[:, [p]], lin)[:, 0]
        cr = float(col @ r)
        gain_p = cr * cr / float(col @ col) if cr > 0 else 0.0
        best = max((prob.best_on_grid(q, grids[q], lin, r) + (q,) for q in similar), key=lambda b: b[0])
        if best[0] <= EXCHANGE_FRACTION * gain_p:
            prob.on[p] = True
            prob.solve()
            continue
        _, shape, q = best
        mq = prob.models[q]
        mq.rigid()
        mq.shift, mq.logw = shape
        prob.refresh(q)
        prob.on[q] = True
        prob.solve()
        prob.refine([q], max_nfev=FORWARD_NFEV)
        st = _statistics(prob, full=False, unique=[q], rest=False)
        if prob.objective() < obj0 and st.passes(q, t, tu):
            prob.models[p].rigid()
            prob.refresh(p)
            prob.why_out[p] = f"replaced by {mq.id}, whose band pattern fits better"
            prob.why_out[q] = ""
            changed = True
        else:
            prob.on[q] = False
            prob.restore(saved)
            prob.on[p] = True
            prob.solve()
    return changed


def _reexamine(prob: _Problem, grids: list, tries: np.ndarray) -> bool:
    """Try the model without each phase whose shift or width sits at a bound; True if one went.

    A phase stretched to a bound is the mark of one that stands in for others
    (a broad, shifted spinel pattern taking a perovskite band and a host's
    misfit). Without it, the shapes are refined and the forward selection run
    again (it cannot come back); the new model is kept if it fits better
    (χ² + prior).
    """
    changed = False
    for p in [int(j) for j in np.flatnonzero(prob.amp > 0)]:
        m = prob.models[p]
        if not prob.amp[p] > 0 or not (
            abs(m.shift) >= BOUND_FRACTION * m.bound
            or m.logw <= prob.lw[0] + BOUND_LOGW
            or m.logw >= prob.lw[1] - BOUND_LOGW
        ):
            continue
        saved, on, why, obj0 = prob.states(), prob.on.copy(), list(prob.why_out), prob.objective()
        prob.on[p] = False
        prob.solve()
        prob.refine(np.flatnonzero(prob.amp > 0), max_nfev=FORWARD_NFEV)
        trial = tries.copy()
        trial[p] = EXCLUDED
        _add(prob, grids, trial)
        if prob.objective() < obj0:
            tries[:] = trial
            m.rigid()
            prob.refresh(p)
            prob.why_out[p] = "the model fits better without it (it stood in for other phases)"
            changed = True
        else:
            prob.on[:] = on
            prob.why_out[:] = why
            prob.restore(saved)
            prob.solve()
    return changed


def _drop_weak(prob: _Problem) -> None:
    """Drop phases of the model whose significance fell below the threshold, the weakest first."""
    t = prob.cfg.threshold
    for _ in range(len(prob.models)):
        st = _statistics(prob, full=False, unique=False, rest=False)
        weak = [j for j in np.flatnonzero(prob.amp > 0) if st.z[j] < t]
        if not weak:
            return
        worst = min(weak, key=lambda j: st.z[j])
        prob.on[worst] = False
        prob.why_out[worst] = ""
        prob.models[worst].rigid()
        prob.refresh(worst)
        prob.solve()


def _why(st: _Stats, i: int, t: float, tu: float) -> str:
    if st.z[i] < t:
        return ""
    if i in st.missing and st.zu[i] >= tu:
        return f"{st.missing[i]} (significance {st.z[i]:.1f})"
    return (
        f"no evidence of its own: {st.zu[i]:.1f} σ near its bands when the neighbouring bands "
        f"may be misfit (< {tu:g}; significance {st.z[i]:.1f})"
    )


def _choose_member(prob: _Problem, j: int, members: list[_Model]) -> bool:
    """Put the member of a twin group that the data prefer in slot ``j``; True if it changed.

    The first member (in candidate order) stays unless another one lowers
    χ² + prior by more than :data:`TWIN_MARGIN` GoF²: for patterns this alike
    the difference is usually noise, and a choice that flipped from scan to scan
    would make up onsets in a series.
    """
    current = prob.models[j]
    others = [i for i in np.flatnonzero(prob.amp > 0) if i != j]
    lin = prob.weighted(others)
    results = []
    seen: dict[tuple, tuple] = {}
    for m in members:
        key = m.key()
        if key in seen:  # the same band pattern under another name fits the same
            results.append((seen[key][0], m, seen[key][1]))
            continue
        prob.models[j] = m
        m.rigid()
        m.shift, m.logw = 0.0, 0.0
        prob.refresh(j)
        prob.on[j] = False
        prob.solve()
        _, shape = prob.best_on_grid(j, prob.grid_columns(j), lin, prob.residual_w())
        m.shift, m.logw = shape
        prob.refresh(j)
        prob.on[j] = True
        prob.solve()
        prob.refine([j], max_nfev=FORWARD_NFEV)
        results.append((prob.objective(), m, m.state()))
        seen[key] = (results[-1][0], results[-1][2])
    gof2 = max(1.0, results[0][0] / prob.dof(len(others) + 1))
    obj0, _, state0 = results[0]
    best = min(results, key=lambda r: r[0])
    choice, state = (best[1], best[2]) if best[0] < obj0 - TWIN_MARGIN * gof2 else (members[0], state0)
    prob.models[j] = choice
    choice.restore(state)
    prob.refresh(j)
    prob.solve()
    return choice is not current


# ----------------------------------------------------------------------------------------- entry point
def fit_raman(
    scan: Scan,
    library: PhaseLibrary,
    phases: Sequence[str | ReferencePhase],
    *,
    config: RamanFitConfig | None = None,
) -> RamanFit:
    """Test candidate phases against a Raman spectrum with a whole-spectrum fit.

    Parameters
    ----------
    scan : Scan
        A Raman spectrum (``kind == "raman"``, x in cm⁻¹).
    library : PhaseLibrary
        Source of the band tables.
    phases : sequence of str or ReferencePhase
        Candidates (duplicates are ignored). Among indistinguishable ones the
        first stands for the others.
    config : RamanFitConfig, optional

    Returns
    -------
    RamanFit
        One :class:`RamanPhaseFit` per candidate, in the given order.

    Raises
    ------
    TechniqueMismatchError
        If the scan is not a Raman spectrum.
    RamanFitError
        If fewer than :data:`MIN_POINTS` finite points lie in the window.
    """
    cfg = config or RamanFitConfig()
    if scan.kind != "raman":
        raise TechniqueMismatchError(f"{_label(scan)}: fit_raman needs a Raman spectrum, got {scan.kind!r}")
    ids = list(dict.fromkeys(p.id if isinstance(p, ReferencePhase) else str(p) for p in phases))
    for pid in ids:
        library[pid]  # an unknown id fails here, with the library's message

    x, y = _window(scan, cfg)
    lo, hi = float(x[0]), float(x[-1])
    step = float(np.median(np.diff(x)))
    # noise: counting statistics for counts, the robust local estimate otherwise
    method = "counts" if _is_counts(y) else "mad"
    sigma = np.asarray(estimate_noise(x, y, kind="raman", method=method)[0], dtype=float)

    models: list[_Model] = []
    reasons: dict[str, str] = {}
    for pid in ids:
        m, why = _band_model(library, pid, lo, hi, cfg)
        if m is None:
            reasons[pid] = why
        else:
            models.append(m)
    spikes = np.zeros(x.size, dtype=bool)
    if cfg.despike and models:
        narrowest = min(float(m.fwhm.min()) for m in models) * cfg.width_bounds[0]
        if narrowest >= SPIKE_MIN_BAND_POINTS * step:
            spikes = _spikes(y, sigma)
    sw = np.where(spikes, 0.0, 1.0 / sigma)
    nbg = cfg.background_terms or int(np.clip(round((hi - lo) / BACKGROUND_SPACING), *BACKGROUND_TERMS_RANGE))
    nbg = max(1, min(nbg, x.size // 4))

    # one member of each group of indistinguishable phases enters the fit
    groups = _twin_groups(models, cfg)
    prob = _Problem(x, y, sw, nbg, [models[g[0]] for g in groups], cfg)
    prob.groups = {j: [models[i] for i in g] for j, g in enumerate(groups) if len(g) > 1}
    st = _forward(prob)

    results: dict[str, RamanPhaseFit] = {}
    for j, m in enumerate(prob.models):
        z, zu = float(st.z[j]), float(st.zu[j])
        det = bool(prob.amp[j] > 0 and z >= cfg.threshold and zu >= cfg.unique_threshold)
        if det:
            reason = ""
        elif prob.why_out[j]:
            reason = prob.why_out[j]
        elif prob.amp[j] > 0 and z >= cfg.threshold:
            reason = _why(st, j, cfg.threshold, cfg.unique_threshold)
        else:
            reason = f"significance {z:.1f} < {cfg.threshold:g}"
        members = [models[i] for i in groups[j]]
        results[m.id] = RamanPhaseFit(
            id=m.id,
            detected=det,
            status="detected" if det else "not detected",
            reason=reason,
            amplitude=float(st.amp[j]),
            esd=float(st.esd[j]),
            esd_full=float(st.esd_full[j]),
            significance=z,
            unique_significance=zu,
            shift=m.mean_shift(),
            width_scale=math.exp(m.logw),
            bands=tuple(float(c) for c in m.centres()[m.inside]),
            band_areas=tuple(float(a) * float(st.amp[j]) for a in m.areas()[m.inside]),
            alternatives=tuple(a.id for a in members if a is not m),
        )
        for a in members:
            if a is m:
                continue
            nominal = tuple(float(p) for p in a.pos[a.inside])
            if det:
                results[a.id] = RamanPhaseFit(
                    id=a.id,
                    detected=None,
                    status="indistinguishable",
                    reason=f"band pattern indistinguishable by Raman from {m.id}, which stands for it",
                    bands=nominal,
                    twin_of=m.id,
                )
            else:
                results[a.id] = RamanPhaseFit(
                    id=a.id,
                    detected=False,
                    status="not detected",
                    reason=f"its band pattern (shared with {m.id}) is not detected",
                    esd=float(st.esd[j]),
                    bands=nominal,
                    twin_of=m.id,
                )
    for pid, why in reasons.items():
        results[pid] = RamanPhaseFit(id=pid, detected=None, status="not testable", reason=why)
    active = np.flatnonzero(prob.amp > 0)
    return RamanFit(
        phases=tuple(results[pid] for pid in ids),
        x=x,
        y=y,
        sigma=sigma,
        weight_mask=sw > 0,
        background=st.background,
        calculated=st.background + st.phase_sum,
        residual=y - st.background - st.phase_sum,
        contributions={prob.models[j].id: prob.cols[:, j] * prob.amp[j] for j in active},
        gof=math.sqrt(st.gof2),
        noise_method=method,
        n_spikes=int(spikes.sum()),
        background_terms=nbg,
        config=cfg,
    )


def _window(scan: Scan, cfg: RamanFitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, finite points of the scan inside the fitted window."""
    x = np.asarray(scan.x, dtype=float)
    y = np.asarray(scan.y, dtype=float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    hi_lim = cfg.max_shift if cfg.max_shift is not None else np.inf
    keep = np.isfinite(x) & np.isfinite(y) & (x >= cfg.min_shift) & (x <= hi_lim)
    x, y = x[keep], y[keep]
    if x.size < MIN_POINTS or not np.all(np.diff(x) > 0):
        raise RamanFitError(
            f"{_label(scan)}: {x.size} finite, distinct points in the fitted window "
            f"({cfg.min_shift:g}-{hi_lim:g} cm⁻¹); at least {MIN_POINTS} are needed"
        )
    return x, y


def _label(scan: Scan) -> str:
    meta = scan.meta
    return str(getattr(meta, "source_path", None) or getattr(meta, "sample", None) or "spectrum")
