"""Band patterns: split pseudo-Voigt profiles, a phase's band model, cosmic-ray spikes, twin groups."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.polynomial import chebyshev

from ...library.phases import PhaseLibrary
from ...match.raman import NO_DATA_REASON, SILENT_REASON
from ..core import orthonormal_basis
from .result import RamanFitConfig

__all__ = [
    "BandModel",
    "BandTerms",
    "band_derivatives",
    "band_model",
    "band_profiles",
    "band_terms",
    "peak_height",
    "spike_mask",
    "twin_groups",
]


#: Bands whose centre lies this many (widest allowed) FWHM outside the window still enter with their tails.
TAIL_FWHM = 3.0


#: Spikes: excess over both neighbours in σ, and as a fraction of the height above the local minimum;
#: despiking needs the narrowest band the model allows to span at least SPIKE_MIN_BAND_POINTS points.
SPIKE_SIGMA = 8.0


SPIKE_FRACTION = 0.85


#: Twins: every band of either phase reaching this fraction of its strongest band's height must have a
#: counterpart in the other (LLZTO's Ta-O band near 748 cm⁻¹ keeps it apart from LLZO), and their
#: patterns must reach ``twin_similarity``. Exchange candidates need counterparts for bands above
#: EXCHANGE_BANDS only.
TWIN_BANDS = 0.1


_G = 4.0 * math.log(2.0)


_SQ = math.sqrt(_G / math.pi)


#: Arguments of exp: above the first numpy's exp takes its fast (vectorised) path; at or below the second
#: the result is exactly 0 (exp(-745.14) rounds to 0). Results near and below the smallest normal double
#: (exp(-708.4)) take a slow path, about ten times slower per point, and most points of a spectrum lie
#: far out in every band's Gaussian tail: it was two thirds of a band profile's cost.
_EXP_NORMAL = -700.0
_EXP_ZERO = -746.0


def _gaussian_core(d2: np.ndarray) -> np.ndarray:
    """``exp(-4 ln2 · d2)``, element for element the same as numpy's, without its slow underflow path.

    The exponent is clipped into the fast range for the one vectorised call; the few points
    between it and exact zero (results near or below the smallest normal double) are then evaluated
    as they are, and the points beyond are zero, as exp gives them.
    """
    a = -_G * d2
    out = np.exp(np.maximum(a, _EXP_NORMAL))
    low = a < _EXP_NORMAL
    if low.any():
        out[low] = 0.0
        sub = low & (a > _EXP_ZERO)
        out[sub] = np.exp(a[sub])
    return out


class BandTerms(NamedTuple):
    """The intermediate arrays of a set of band profiles (:func:`band_terms`), shape (N, B) or (1, B)."""

    u: np.ndarray  # x - centre
    side: np.ndarray | None  # +1 below the centre, -1 above (asymmetric bands only)
    w: np.ndarray  # the FWHM in force (of the side)
    d: np.ndarray  # u / w
    d2: np.ndarray
    q: np.ndarray  # 1 / (1 + 4 d²)
    el: np.ndarray  # η · lor
    eg: np.ndarray  # (1 - η) · gau
    scale: np.ndarray
    area: np.ndarray
    pv: np.ndarray  # el + eg
    val: np.ndarray  # pv · scale


def _terms(x, centre, fwhm, area, eta, asym):
    """u, side, w, d, d², q, η·lor, (1-η)·gau and the area scale of the profiles (see band_profiles)."""
    u = x[:, None] - centre[None, :]
    if asym is None or not np.any(asym):
        side = None
        w = fwhm[None, :]
    else:
        side = np.where(u < 0, 1.0, -1.0)
        w = fwhm[None, :] * (1.0 + side * asym[None, :])
    d = u / w
    d2 = d * d
    q = np.multiply(4.0, d2)  # q = 1 / (1 + 4 d²)
    q += 1.0
    np.divide(1.0, q, out=q)
    el = np.multiply(2.0 / np.pi, q)  # η · lor, lor = (2/π) q / w
    el /= w
    el *= eta
    eg = _gaussian_core(d2)  # (1 - η) · gau, gau = √(G/π) exp(-G d²) / w
    eg *= _SQ
    eg /= w
    eg *= 1.0 - eta
    scale = area[None, :] if side is None else area[None, :] * (w / fwhm[None, :])
    return u, side, w, d, d2, q, el, eg, scale


def band_terms(
    x: np.ndarray,
    centre: np.ndarray,
    fwhm: np.ndarray,
    area: np.ndarray,
    eta: float,
    asym: np.ndarray | None = None,
) -> BandTerms:
    """The profiles of :func:`band_profiles` (``val``) with the intermediate arrays its derivatives need.

    For a caller that may want the derivatives at the same parameters later
    (:func:`band_derivatives`) without evaluating the profiles again.
    """
    u, side, w, d, d2, q, el, eg, scale = _terms(x, centre, fwhm, area, eta, asym)
    pv = el + eg
    return BandTerms(u, side, w, d, d2, q, el, eg, scale, area, pv, pv * scale)


def band_derivatives(t: BandTerms, dasym: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Derivatives of the profiles ``t`` with respect to the centre, the log of the FWHM and the asymmetry.

    The same values as :func:`band_profiles` with ``derivs``; ``t`` is left as it is.
    """
    # ∂pV/∂centre and w·∂pV/∂w at the half width in force:
    # dc = (η lor · 8 q + (1-η) gau · 2G) · d / w
    dc = np.multiply(t.el, 8.0)
    dc *= t.q
    tmp = np.multiply(t.eg, 2.0)
    tmp *= _G
    dc += tmp
    dc *= t.d
    dc /= t.w
    # wdw = η lor · (4 d² - 1) · q + (1-η) gau · (2G d² - 1)
    wdw = np.multiply(4.0, t.d2)
    wdw -= 1.0
    wdw *= t.el
    wdw *= t.q
    np.multiply(2.0 * _G, t.d2, out=tmp)
    tmp -= 1.0
    tmp *= t.eg
    wdw += tmp
    dc *= t.scale
    if not dasym:
        wdw *= t.scale
        return dc, wdw, None
    # dasym = sign · (pV + wdw) · area
    sgn = np.where(t.u < 0, 1.0, -1.0) if t.side is None else t.side
    da = t.pv + wdw
    np.multiply(sgn, da, out=da)
    da *= t.area[None, :]
    wdw *= t.scale
    return dc, wdw, da


def band_profiles(
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
    # The same operations in the same order as the formulas in the comments, mostly in place: the
    # profiles are (points × bands) arrays large enough that each fresh temporary costs as much as the
    # arithmetic (so the values are bit for bit those of the formulas).
    if derivs:
        t = band_terms(x, centre, fwhm, area, eta, asym)
        return (t.val, *band_derivatives(t, dasym))
    _, _, _, _, _, _, el, eg, scale = _terms(x, centre, fwhm, area, eta, asym)
    el += eg  # pV
    el *= scale
    return (el,)


def peak_height(fwhm: np.ndarray, eta: float) -> np.ndarray:
    """Peak height of a unit-area pseudo-Voigt."""
    return (eta * 2.0 / np.pi + (1.0 - eta) * _SQ) / fwhm


@dataclass
class BandModel:
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
        """Whether some bands have their own distortions."""
        return bool(self.free.any())

    def centres(self) -> np.ndarray:
        """Band centres (table position + common shift + own shift)."""
        return self.pos + self.shift + self.band[:, 1]

    def widths(self) -> np.ndarray:
        """Band FWHMs (table width × common and own width scales)."""
        return self.fwhm * np.exp(self.logw + self.band[:, 2])

    def areas(self) -> np.ndarray:
        """Relative band areas (table value × own amplitude factor)."""
        return self.area * np.exp(self.band[:, 0])

    def asym(self) -> np.ndarray:
        """Band asymmetries."""
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
        """The shape parameters, to restore later."""
        return (self.shift, self.logw, self.free.copy(), self.band.copy())

    def restore(self, state: tuple) -> None:
        """Set the shape parameters saved by :meth:`state`."""
        self.shift, self.logw = state[:2]
        self.free = state[2].copy()
        self.band = state[3].copy()

    def key(self) -> tuple:
        """Hashable description of the table pattern (for cached similarities)."""
        return (tuple(self.pos), tuple(self.fwhm), tuple(self.area), self.bound, tuple(self.inside))


def band_model(
    library: PhaseLibrary, pid: str, lo: float, hi: float, cfg: RamanFitConfig
) -> tuple[BandModel | None, str]:
    """A phase\'s band model in the window ``lo``-``hi`` (None and the reason when it is not testable)."""
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
    area = rel if cfg.band_intensity == "area" else rel / peak_height(fwhm, cfg.eta)
    area = area / float(area[inside].max())
    return BandModel(pid, pos[keep], fwhm[keep], area[keep], inside[keep], bound), ""


def is_counts(y: np.ndarray) -> bool:
    """Whether intensities are counts (integer, non-negative): Poisson noise then."""
    return bool(
        y.size and np.min(y) >= 0 and np.max(y) > 1 and np.mean(np.abs(y - np.round(y)) < 1e-6) >= 0.98
    )


def spike_mask(y: np.ndarray, sigma: np.ndarray) -> np.ndarray:
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


def corresponds(a: BandModel, b: BandModel, wmax: float, fraction: float) -> bool:
    """Whether ``b`` has a band for every band of ``a`` reaching ``fraction`` of its strongest's height.

    "For" means within reach of each other given both phases' shift bounds and widths.
    """
    height = a.area * peak_height(a.fwhm, 0.5)
    strong = a.inside & (height >= fraction * height[a.inside].max())
    for pos, fw in zip(a.pos[strong], a.fwhm[strong], strict=True):
        reach = a.bound + b.bound + 0.5 * (fw + b.fwhm) * wmax
        if not np.any(np.abs(b.pos - pos) <= reach):
            return False
    return True


@lru_cache(maxsize=4096)
def similarity(a_key: tuple, b_key: tuple, cfg_key: tuple) -> float:
    """Largest cosine similarity of two band patterns within their shift and width freedom.

    The patterns (their bands inside the window, see :meth:`BandModel.key`) are
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
    q = orthonormal_basis(chebyshev.chebvander(np.linspace(-1.0, 1.0, x.size), 2))

    def unit(v: np.ndarray) -> np.ndarray:
        v = v - q @ (q.T @ v)
        nv = np.linalg.norm(v, axis=0)
        return v / np.where(nv > 0, nv, 1.0)

    va = unit(band_profiles(x, pa, fa, aa, eta)[0].sum(axis=1))
    nb = pb.size

    def best_of(shifts: np.ndarray, scales: np.ndarray) -> tuple[float, float, float]:
        out = (-1.0, 0.0, 1.0)
        for sc in scales:
            centres = (shifts[:, None] + pb[None, :]).ravel()
            val = band_profiles(x, centres, np.tile(fb * sc, shifts.size), np.tile(ab, shifts.size), eta)[0]
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


def twin_groups(models: list[BandModel], cfg: RamanFitConfig) -> list[list[int]]:
    """Groups of indistinguishable models (connected components), each in candidate order."""
    keys = tuple(m.key() for m in models)
    return [list(g) for g in _twin_groups_cached(keys, cfg)]


@lru_cache(maxsize=256)
def _twin_groups_cached(keys: tuple, cfg: RamanFitConfig) -> tuple:
    models = [
        BandModel("", np.asarray(k[0]), np.asarray(k[1]), np.asarray(k[2]), np.asarray(k[4]), k[3])
        for k in keys
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
            if not (corresponds(a, b, wmax, TWIN_BANDS) and corresponds(b, a, wmax, TWIN_BANDS)):
                continue
            if similarity(keys[i], keys[j], cfg_key) >= cfg.twin_similarity:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return tuple(tuple(g) for g in groups.values())
