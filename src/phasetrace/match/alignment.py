"""Aligning one candidate's expected peaks with the observed ones: matches, intensity scale, missing peaks.

Shared by the XRD scorer (:mod:`phasetrace.match.score`, expected peaks from reflections) and the
Raman band matcher (:mod:`phasetrace.match.raman`, from the band table); see the former's module
docstring for how a candidate is scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..library.phases import ReferencePhase
from .result import (
    MatchConfig,
)

__all__ = [
    "CLUSTER_FWHM",
    "CandidateFit",
    "Layout",
    "MIN_RELATIVE_HEIGHT",
    "align_all",
    "match_quality",
    "nearest",
    "pad",
]


#: Reflections closer than this many local FWHM are one expected peak (a diffractometer cannot split them).
CLUSTER_FWHM = 0.5
#: Expected peaks weaker than this fraction of the phase's strongest are ignored (never detectable).
MIN_RELATIVE_HEIGHT = 0.002
#: Quantile of observed/expected height ratios that sets a phase's intensity scale (low: overlaps inflate).
INTENSITY_QUANTILE = 0.35
#: A missing reflection predicted at k × the threshold weighs up to this many times its intensity.
MISSING_WEIGHT_CAP = 3.0
#: An unmatched expected peak is missing only where the smoothed net signal is below this fraction of
#: its predicted height (else it may hide in a blend the peak finder did not split).
MISSING_SIGNAL_FRACTION = 0.5
#: Match quality of an observed peak explained only by a reflection's Kα2 line (half its intensity).
KALPHA2_MATCH_WEIGHT = 0.7


@dataclass
class CandidateFit:
    """A candidate at its best alignment: what matched, what is missing, and its coverage."""

    index: int
    phase: ReferencePhase
    formula: str
    testable: bool
    reason: str
    scale: float | None = None
    positions: np.ndarray | None = None  # (K,) expected positions
    line_positions: np.ndarray | None = None  # (K,) position of the line that matched (apex or Kα2)
    predicted: np.ndarray | None = None  # (K,) predicted net heights
    unit_height: np.ndarray | None = None
    tol: np.ndarray | None = None
    noise: np.ndarray | None = None
    match: np.ndarray | None = None  # (K,) index of the matched observed peak, -1 if none
    quality: np.ndarray | None = None  # (K,) 0..1
    missing: np.ndarray | None = None  # (K,) bool
    labels: list[str] | None = None  # (Raman) band labels; XRD labels come from ``hkl``
    shared: list[str] | None = None  # (Raman) per band: the compound class that all has it, or ""
    hkl: np.ndarray | None = None  # (K, 3)
    members: np.ndarray | None = None  # (K,)
    d: np.ndarray | None = None
    coverage: float = 0.0
    disagreement: float = 0.0
    strain_use: float = 0.0
    n_expected: int = 0
    slot: int = -1  # position in the list of fits being ranked


def pad(obs: np.ndarray) -> np.ndarray:
    """Sorted positions with ±inf sentinels, for :func:`_nearest_padded`."""
    return np.concatenate(([-np.inf], obs, [np.inf]))


def _nearest_padded(padded: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index (into the unpadded array) of and distance to the nearest position; needs ≥ 1 real value."""
    i = np.searchsorted(padded, pos)
    dl = pos - padded[i - 1]
    dr = padded[i] - pos
    use_r = dr < dl
    idx = np.where(use_r, i - 1, i - 2)
    return np.minimum(np.maximum(idx, 0), padded.size - 3), np.where(use_r, dr, dl)


def nearest(obs: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest observed position, for any shape of ``pos``."""
    if obs.size == 0:
        return np.full(pos.shape, -1), np.full(pos.shape, np.inf)
    return _nearest_padded(pad(obs), pos)


def match_quality(
    obs: np.ndarray, pos: np.ndarray, pos2: np.ndarray | None, tol: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest observed peak and match quality ``1 - (distance / tol)²`` (0 beyond ``tol``).

    ``obs`` are the observed positions padded with ±inf sentinels (:func:`pad`).

    A resolved Kα2 line (``pos2``) may match instead, at :data:`KALPHA2_MATCH_WEIGHT`; the third
    result is True where it did.
    """
    if obs.size <= 2:  # only the ±inf sentinels: nothing observed
        return np.full(pos.shape, -1), np.zeros(pos.shape), np.zeros(pos.shape, dtype=bool)
    j, dist = _nearest_padded(obs, pos)
    q = np.maximum(1.0 - (dist / tol) ** 2, 0.0)
    second = np.zeros(q.shape, dtype=bool)
    if pos2 is not None:
        ok = np.isfinite(pos2)
        if np.any(ok):
            j2, d2 = _nearest_padded(obs, np.where(ok, pos2, -1e9))
            q2 = np.where(ok, KALPHA2_MATCH_WEIGHT * np.maximum(1.0 - (d2 / tol) ** 2, 0.0), 0.0)
            second = q2 > q
            j = np.where(second, j2, j)
            q = np.where(second, q2, q)
    return j, q, second


@dataclass
class Layout:
    """Expected peaks of one alignment, waiting to be matched (see :func:`align_all`)."""

    fit: CandidateFit
    pos: np.ndarray
    pos2: np.ndarray | None
    unit_height: np.ndarray
    width: np.ndarray
    tol: np.ndarray
    inside: np.ndarray


def _segment_quantile(
    values: np.ndarray, weights: np.ndarray, seg: np.ndarray, n: int, q: float
) -> np.ndarray:
    """Weighted ``q``-quantile of ``values`` within each segment ``0..n-1`` (0 for empty segments)."""
    out = np.zeros(n)
    if values.size == 0:
        return out
    order = np.lexsort((values, seg))
    v, w, sg = values[order], weights[order], seg[order]
    cw = np.cumsum(w)
    first = np.ones(sg.size, dtype=bool)
    first[1:] = sg[1:] != sg[:-1]
    base = np.zeros(n)
    base[sg[first]] = (cw - w)[first]
    within = cw - base[sg]
    total = np.bincount(sg, weights=w, minlength=n)
    idx = np.flatnonzero(within >= q * total[sg] - 1e-12)
    segs, firsts = np.unique(sg[idx], return_index=True)
    out[segs] = v[idx[firsts]]
    return out


def align_all(
    layouts: Sequence[Layout],
    *,
    obs_pos: np.ndarray,
    obs_h: np.ndarray,
    x: np.ndarray,
    net: np.ndarray,
    noise: np.ndarray,
    threshold: float,
    config: MatchConfig,
) -> list[CandidateFit]:
    """Match expected peaks at fixed positions; set intensity scales, missing peaks and coverages.

    All alignments are concatenated and processed in one set of array operations.

    Parameters
    ----------
    layouts : sequence of Layout
        Per alignment: expected positions, resolved Kα2 positions (or None), relative heights (max 1),
        line widths, match tolerances and the in-range mask, all of shape (K,).
    obs_pos, obs_h : ndarray, shape (M,)
        Observed primary peaks (sorted) and their net heights.
    x, net, noise : ndarray, shape (N,)
        Scan axis, smoothed background-subtracted signal (where an unmatched expected peak may still
        hide) and per-point σ.
    threshold : float
        Peak prominence threshold, σ.
    config : MatchConfig

    Returns
    -------
    list of CandidateFit
        The layouts' fits, filled in.
    """
    n = len(layouts)
    if n == 0:
        return []
    sizes = np.array([lay.pos.size for lay in layouts])
    ends = np.cumsum(sizes)
    seg = np.repeat(np.arange(n), sizes)
    pos = np.concatenate([lay.pos for lay in layouts])
    pos2 = np.concatenate(
        [lay.pos2 if lay.pos2 is not None else np.full(lay.pos.size, np.nan) for lay in layouts]
    )
    uh = np.concatenate([lay.unit_height for lay in layouts])
    tol = np.maximum(np.concatenate([lay.tol for lay in layouts]), 1e-12)
    inside = np.concatenate([lay.inside for lay in layouts])
    j, q, second = match_quality(pad(obs_pos), pos, pos2, tol)
    q = np.where(inside, q, 0.0)
    matched = q > 0
    sigma = np.interp(pos, x, noise)
    jm = np.where(matched, j, 0)
    hm = obs_h[jm] if obs_h.size else np.zeros_like(pos)
    scale_i = _segment_quantile(
        hm[matched] / uh[matched], uh[matched] * q[matched], seg[matched], n, INTENSITY_QUANTILE
    )
    predicted = scale_i[seg] * uh
    limit = config.missing_margin * threshold * sigma
    detectable = inside & (predicted >= limit)
    # missing: predicted above the threshold, but the smoothed net signal there is far below the
    # prediction (a reflection inside a blend or under a neighbour's flank still has its signal)
    signal = np.interp(pos, x, net)
    missing = detectable & ~matched & (signal < MISSING_SIGNAL_FRACTION * predicted)
    weight_missing = np.clip(predicted / np.maximum(limit, 1e-300), 1.0, MISSING_WEIGHT_CAP)
    num = np.bincount(seg, weights=uh * q, minlength=n)
    den = np.bincount(seg, weights=uh * matched, minlength=n) + np.bincount(
        seg, weights=uh * weight_missing * missing, minlength=n
    )
    lr = np.abs(np.log(np.maximum(hm, 1e-12) / np.maximum(predicted, 1e-12)))
    wts = uh * q
    dis_num = np.bincount(seg, weights=np.minimum(lr / np.log(4.0), 1.0) * wts, minlength=n)
    dis_den = np.bincount(seg, weights=wts, minlength=n)
    n_exp = np.bincount(seg, weights=inside & (uh >= MIN_RELATIVE_HEIGHT), minlength=n)
    line = np.where(second, pos2, pos)
    match = np.where(matched, j, -1)
    out = []
    start = 0
    for k, lay in enumerate(layouts):
        end = int(ends[k])
        f = lay.fit
        sl = slice(start, end)
        f.positions = pos[sl]
        f.line_positions = line[sl]
        f.predicted = predicted[sl]
        f.unit_height = uh[sl]
        f.tol = tol[sl]
        f.noise = sigma[sl]
        f.match = match[sl]
        f.quality = q[sl]
        f.missing = missing[sl]
        f.coverage = float(num[k] / den[k]) if den[k] > 0 else 0.0
        f.disagreement = float(dis_num[k] / dis_den[k]) if dis_den[k] > 0 else 1.0
        f.n_expected = int(n_exp[k])
        out.append(f)
        start = end
    return out
