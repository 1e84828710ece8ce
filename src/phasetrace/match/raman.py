"""Raman search-match: candidate phases against the band table, with a position tolerance.

Each band of a phase (``reference_patterns/raman_bands.csv``) is an expected
peak at its tabulated position, with its relative height. A band matches an
observed peak within ``raman_tolerance`` cm⁻¹ (±8 by default), or within
``raman_broad_fraction`` of its FWHM for broad bands, whichever is larger.
There is no lattice scaling: band positions move with composition and
temperature individually, and the tolerance absorbs that.

Coverage, missing bands, evidence and the greedy ranking are those of the XRD
matcher (:mod:`phasetrace.match.score`). Band intensities are only
semi-quantitative (scattering efficiencies differ between phases by orders of
magnitude), so a missing band lowers a phase's coverage but never makes it
"absent".

A Raman-silent phase (ideal rock salt: NiO, MgO, CoO) and a phase without
reference bands are **not testable** by Raman: they are listed with status
``"not testable"`` and a reason, never ranked and never called absent.

What the matched bands can claim
--------------------------------
A score counts matched bands; it does not know what they tell apart. The band
table marks a band that a whole class of compounds has (``shared_by``: the CO3
stretch near 1090 cm⁻¹ of every carbonate, the PS4, PO4 and O-H stretches), and
the status is capped by the bands of the phase's own lattice that matched:

- none (only class bands): at most ``"possible"``, "(or: any carbonate)";
- fewer than :data:`MIN_DISTINCTIVE_BANDS`: at most ``"possible"``, and
  ``"unlikely"`` when that one band is all that matched while a stronger band of
  the phase lies in the spectrum's range unseen (one coincidence, contradicted);
- otherwise the score decides.

The candidate's ``reason`` says which rule applied; its ``or_any`` names the
classes whose bands carry part of the match.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import PhasetraceError
from ..library.phases import PhaseLibrary, ReferencePhase
from ..peaks.find import PeakSearch
from .alignment import CLUSTER_FWHM, CandidateFit, Layout, align_all
from .ranking import assemble
from .result import MatchConfig, NoCandidatesError, Ranking, scan_label

__all__ = ["rank_raman"]

#: Reason shown for a Raman-silent candidate.
SILENT_REASON = "Raman-silent (no first-order Raman spectrum); test it by XRD"

#: Reason shown for a candidate without reference bands.
NO_DATA_REASON = "no reference Raman bands in the library; not testable by Raman"

#: Bands of the phase's own lattice (not shared by a compound class) that must match before a phase is
#: "likely": one band, however strong, is one coincidence away from any compound with a band there.
MIN_DISTINCTIVE_BANDS = 2


def _merge_shared(a: str, b: str) -> str:
    """Class of an expected peak made of two bands: none if either is the phase's own."""
    if not a or not b:
        return ""
    return a if a == b else f"{a} or {b}"


def _evidence_cap(lo: float, hi: float):
    """The :data:`~phasetrace.match.ranking.Cap` of a Raman spectrum spanning ``lo``–``hi`` cm⁻¹."""

    def cap(fit: CandidateFit) -> tuple[str | None, str, tuple[str, ...]]:
        if fit.match is None or fit.shared is None:
            return None, "", ()
        idx = np.flatnonzero(fit.match >= 0).tolist()
        if not idx:
            return None, "", ()
        own = [k for k in idx if not fit.shared[k]]
        classes = tuple(sorted({fit.shared[k] for k in idx if fit.shared[k]}))

        def cm(ks: list[int]) -> str:
            return ", ".join(f"{fit.positions[k]:g}" for k in ks) + " cm⁻¹"

        shared = [k for k in idx if fit.shared[k]]
        if not own:
            what = " or ".join(classes)
            return (
                "possible",
                f"only bands every {what} has ({cm(shared)}): a {what}, not necessarily {fit.phase.id}",
                classes,
            )
        if len(own) >= MIN_DISTINCTIVE_BANDS:
            return None, "", classes
        k = own[0]
        if len(idx) == 1:
            unseen = [
                j
                for j in range(fit.positions.size)
                if fit.match[j] < 0
                and lo <= fit.positions[j] <= hi
                and fit.unit_height[j] > fit.unit_height[k]
            ]
            if unseen:
                many = len(unseen) > 1
                return (
                    "unlikely",
                    f"one band ({cm([k])}) and nothing else: its stronger band{'s' if many else ''} "
                    f"at {cm(unseen)} {'are' if many else 'is'} not seen",
                    (),
                )
        besides = f" besides bands every {' or '.join(classes)} has ({cm(shared)})" if shared else ""
        others = [
            j
            for j in range(fit.positions.size)
            if j != k and not fit.shared[j] and lo <= fit.positions[j] <= hi
        ]
        if not others and not shared:
            why = (
                f"its only band in this range: it cannot tell {fit.phase.id} from anything with a band there"
            )
        else:
            why = f"{MIN_DISTINCTIVE_BANDS} are needed to call it likely"
        return "possible", f"one band of its own ({cm([k])}){besides}; {why}", classes

    return cap


def _band_table(library: PhaseLibrary, phase: ReferencePhase) -> tuple[str | None, list]:
    bands = library.raman_bands(phase)
    if bands is None:
        return NO_DATA_REASON, []
    if not bands:
        return SILENT_REASON, []
    return None, sorted(bands, key=lambda b: b.position)


def _formula(library: PhaseLibrary, phase: ReferencePhase) -> str:
    try:
        return library.reflections(phase).formula
    except PhasetraceError:
        return phase.formula


def rank_raman(
    search: PeakSearch,
    library: PhaseLibrary,
    chosen: Sequence[ReferencePhase],
    *,
    preferred: set[str],
    config: MatchConfig,
) -> Ranking:
    """Rank candidates of a Raman spectrum (called by :func:`~phasetrace.match.rank_candidates`).

    Parameters
    ----------
    search : PeakSearch
        Peaks of a Raman spectrum.
    library : PhaseLibrary
    chosen : sequence of ReferencePhase
        Candidates.
    preferred : set of str
        Host phases of the sample's system (win ties between twins).
    config : MatchConfig

    Returns
    -------
    Ranking
        ``lattice_scale`` is None for every candidate.

    Raises
    ------
    NoCandidatesError
        If no candidate has a reference band in the spectrum's range.
    """
    scan = search.scan
    lo, hi = scan.x_range
    prim = search.peaks.primary()
    obs_pos, obs_h, obs_sig = (
        np.asarray(prim.position),
        np.asarray(prim.height),
        np.asarray(prim.significance),
    )
    fits: list[CandidateFit] = []
    layouts: list[Layout] = []
    for i, p in enumerate(chosen):
        formula = _formula(library, p)
        reason, bands = _band_table(library, p)
        if reason is None:
            pos = np.array([b.position for b in bands])
            fwhm = np.array([b.fwhm for b in bands])
            tol = np.maximum(config.raman_tolerance, config.raman_broad_fraction * fwhm)
            inside = (pos >= lo - tol) & (pos <= hi + tol)
            if not np.any(inside):
                reason = f"no reference band in {lo:g}–{hi:g} cm⁻¹"
        if reason is not None:
            fits.append(CandidateFit(index=i, phase=p, formula=formula, testable=False, reason=reason))
            continue
        height = np.array([b.rel_intensity for b in bands], dtype=float)
        labels = [
            f"{b.position:g} cm-1" + (f" {b.assignment.split()[0]}" if b.assignment else "") for b in bands
        ]
        shared = [b.shared_by for b in bands]
        # bands closer than half their width are one expected peak
        keep = np.ones(pos.size, dtype=bool)
        for k in range(1, pos.size):
            if keep[k - 1] and pos[k] - pos[k - 1] < CLUSTER_FWHM * 0.5 * (fwhm[k] + fwhm[k - 1]):
                a, b = k - 1, k
                w = height[a] + height[b]
                pos[b] = (pos[a] * height[a] + pos[b] * height[b]) / w
                height[b] = max(height[a], height[b])
                fwhm[b] = max(fwhm[a], fwhm[b])
                tol[b] = max(tol[a], tol[b])
                labels[b] = f"{labels[a]} + {labels[b]}"
                shared[b] = _merge_shared(shared[a], shared[b])
                keep[a] = False
        pos, height, fwhm, tol = pos[keep], height[keep], fwhm[keep], tol[keep]
        labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
        shared = [s for s, k in zip(shared, keep, strict=True) if k]
        unit = height / max(float(height.max()), 1e-12)
        inside = (pos >= lo) & (pos <= hi)
        fit = CandidateFit(
            index=i,
            phase=p,
            formula=formula,
            testable=True,
            reason="",
            labels=labels,
            shared=shared,
            hkl=None,
        )
        layouts.append(Layout(fit, pos, None, unit, fwhm, tol, inside))
    fits.extend(
        align_all(
            layouts,
            obs_pos=obs_pos,
            obs_h=obs_h,
            x=scan.x,
            net=search.smoothed,
            noise=search.noise,
            threshold=search.config.prominence,
            config=config,
        )
    )
    if not any(f.testable for f in fits):
        reasons = sorted({f.reason for f in fits})
        raise NoCandidatesError(
            f"{scan_label(scan)}: none of the {len(fits)} candidate phases can be tested by Raman "
            f"({'; '.join(reasons)})"
        )
    return assemble(
        search,
        fits,
        obs_pos,
        obs_h,
        obs_sig,
        preferred,
        config,
        0.0,
        lattice=False,
        cap=_evidence_cap(lo, hi),
    )
