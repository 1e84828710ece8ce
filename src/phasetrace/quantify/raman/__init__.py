r"""Whole-spectrum Raman test of candidate phases: which band patterns does a spectrum hold.

The band matcher (:mod:`phasetrace.match.raman`) compares peak positions one by
one. It misses bands on the flank of a strong host band, never trusts a phase
with a single band, and needs a band well above a 3σ prominence. This module
fits the whole spectrum instead and asks, per candidate, how many standard
errors its amplitude stands above zero.

Model
-----
.. math::

    y(x) = \sum_{k<K} b_k T_k(t) + \sum_p c_p \sum_{j \in p} r_j\,
           \mathrm{pV}(x;\ x_j + \delta_p,\ w_j s_p,\ \eta)

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

from .fit import fit_raman
from .result import DETECTION_SIGMA, UNIQUE_SIGMA, RamanFit, RamanFitConfig, RamanFitError, RamanPhaseFit

__all__ = [
    "DETECTION_SIGMA",
    "UNIQUE_SIGMA",
    "RamanFit",
    "RamanFitConfig",
    "RamanFitError",
    "RamanPhaseFit",
    "fit_raman",
]
