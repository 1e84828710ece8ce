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
                keep[a] = False
        pos, height, fwhm, tol = pos[keep], height[keep], fwhm[keep], tol[keep]
        labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
        unit = height / max(float(height.max()), 1e-12)
        inside = (pos >= lo) & (pos <= hi)
        fit = CandidateFit(
            index=i, phase=p, formula=formula, testable=True, reason="", labels=labels, hkl=None
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
    return assemble(search, fits, obs_pos, obs_h, obs_sig, preferred, config, 0.0, lattice=False)
