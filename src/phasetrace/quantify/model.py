"""The whole-pattern model: Chebyshev background plus one scaled calculated pattern per phase.

``y(2θ) = Σ_k b_k T_k(u) + Σ_p S_p Σ_hkl I_hkl · PV(2θ − 2θ_hkl; FWHM_p(θ), η)``

for the Kα1 and Kα2 lines. The background coefficients ``b_k`` and the phase
scales ``S_p`` enter linearly and are solved (non-negative for ``S_p``) for
every trial of the nonlinear parameters: cell scale (or full cell), width and
profile shape, zero shift and specimen displacement, March–Dollase texture.
This is variable projection; it makes the fit fast and its start values
uncritical.

Everything here is a pure function of arrays and a parameter vector, so the
fit can be re-run anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..library.crystallography import lorentz_polarisation, reciprocal_metric
from ..library.reflections import ReflectionList

__all__ = ["PhaseModel", "chebyshev_basis", "phase_pattern"]

#: Profiles are evaluated over ± this many FWHM around each reflection. The
#: Lorentzian tail beyond holds 2.7 % of its area, the same fraction for every
#: reflection of every phase (one η for all), so it cancels in weight fractions.
WINDOW_FWHM = 12.0

#: The window never exceeds this half width (degrees): very broad trial profiles stay cheap.
MAX_WINDOW_DEG = 4.0

#: Reflections this far outside the scan still contribute their tails (degrees).
RANGE_MARGIN = 2.0

_G = 4.0 * np.log(2.0)
_TAN20 = np.tan(np.radians(20.0))


def chebyshev_basis(x: np.ndarray, n_terms: int) -> np.ndarray:
    """Chebyshev polynomials T_0..T_{n-1} on x mapped to [-1, 1]; shape (N, n_terms)."""
    u = 2.0 * (x - x[0]) / (x[-1] - x[0]) - 1.0
    return np.polynomial.chebyshev.chebvander(u, n_terms - 1)


@dataclass(frozen=True, eq=False)
class PhaseModel:
    """Reflections of one phase restricted to a scan range, ready for fast evaluation.

    Attributes
    ----------
    id : str
    refl : ReflectionList
        The phase's reflections (reference cell).
    hkl, d0, mf2 : ndarray
        Reflections that can fall within the scan (± cell strain and margin).
    crystal_system : str
    texture_axis : tuple of int or None
        Preferred-orientation axis (March–Dollase) if the phase's texture is refined.
    """

    id: str
    refl: ReflectionList
    hkl: np.ndarray
    d0: np.ndarray
    mf2: np.ndarray
    texture_axis: tuple[int, int, int] | None = None
    _cos2_cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        pid: str,
        refl: ReflectionList,
        x_range: tuple[float, float],
        wavelengths: tuple[float, ...],
        *,
        max_strain: float = 0.05,
        texture_axis: tuple[int, int, int] | None = None,
    ) -> PhaseModel:
        """Select the reflections that can appear in ``x_range`` for any of the wavelengths."""
        lo, hi = x_range[0] - RANGE_MARGIN, x_range[1] + RANGE_MARGIN
        keep = np.zeros(refl.d.size, dtype=bool)
        for lam in wavelengths:
            for s in (1.0 - max_strain, 1.0 + max_strain):
                arg = lam / (2.0 * refl.d * s)
                tt = np.where(arg < 1.0, 2.0 * np.degrees(np.arcsin(np.minimum(arg, 1.0))), np.inf)
                keep |= (tt >= lo) & (tt <= hi)
        return cls(
            id=pid,
            refl=refl,
            hkl=refl.hkl[keep],
            d0=refl.d[keep],
            mf2=refl.mf2[keep].astype(float),
            texture_axis=texture_axis,
        )

    def d_spacings(self, cell: np.ndarray | None = None, scale: float = 1.0) -> np.ndarray:
        """Spacings for an isotropic cell scale, or for a full refined cell."""
        if cell is None:
            return self.d0 * scale
        gstar = reciprocal_metric(cell)
        h = self.hkl.astype(float)
        return 1.0 / np.sqrt(np.einsum("ni,ij,nj->n", h, gstar, h))

    def march_dollase(self, r: float, cell: np.ndarray | None = None) -> np.ndarray:
        """March–Dollase factors for ratio ``r`` about the texture axis (1 without texture)."""
        if self.texture_axis is None or r == 1.0:
            return np.ones(self.d0.size)
        key = "ref" if cell is None else tuple(np.round(cell, 6))
        cos2 = self._cos2_cache.get(key)
        if cos2 is None:
            gstar = reciprocal_metric(self.refl.cell if cell is None else cell)
            h = self.hkl.astype(float)
            a = np.asarray(self.texture_axis, dtype=float)
            num = h @ gstar @ a
            den = np.sqrt(np.einsum("ni,ij,nj->n", h, gstar, h) * (a @ gstar @ a))
            cos2 = np.clip((num / den) ** 2, 0.0, 1.0)
            self._cos2_cache[key] = cos2
        return (r * r * cos2 + (1.0 - cos2) / r) ** -1.5


def phase_pattern(
    x: np.ndarray,
    model: PhaseModel,
    *,
    wavelengths: tuple[float, ...],
    weights: tuple[float, ...],
    scale: float = 1.0,
    cell: np.ndarray | None = None,
    u: float,
    v: float,
    w: float,
    size_x: float,
    strain_y: float,
    eta: float,
    zero: float,
    displacement: float,
    radius_mm: float,
    texture_r: float = 1.0,
    monochromator_2theta: float | None = None,
    asymmetry: float = 0.0,
    b_delta: float = 0.0,
    angle_factor: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Calculated pattern of one phase at unit scale factor, shape (N,).

    Parameters
    ----------
    x : ndarray, shape (N,)
        2θ (degrees), increasing.
    wavelengths, weights : tuple of float
        Kα1 (weight 1) and, for a doublet, Kα2 (weight = Kα2/Kα1 ratio).
    scale, cell
        Isotropic cell scale, or a full cell (a, b, c, α, β, γ).
    u, v, w : float
        Caglioti instrument width (deg²).
    size_x : float
        Size broadening: FWHM contribution ``size_x / cos θ`` (degrees).
    strain_y : float
        Strain broadening: FWHM contribution ``strain_y · tan θ`` (degrees).
    eta : float
        Pseudo-Voigt Lorentzian fraction.
    zero, displacement : float
        Zero shift (degrees) and specimen displacement (µm).
    radius_mm : float
        Goniometer radius.
    texture_r : float
        March–Dollase ratio (1 = random).
    asymmetry : float
        Axial-divergence asymmetry at 2θ = 20°, falling as 1/tan 2θ: the low-angle
        half width is FWHM/2·(1 + a), the high-angle one FWHM/2·(1 − a).
    b_delta : float
        Overall isotropic displacement (Å²) added to every atom's B: the
        intensities are damped by ``exp(−2 ΔB sin²θ/λ²) = exp(−ΔB / 2d²)``.
    angle_factor : callable, optional
        Intensity factor as a function of 2θ (degrees) that replaces the
        Lorentz-polarisation factor, e.g.
        :meth:`phasetrace.quantify.instrument.Instrument.angle_factor` (LP with the
        instrument's polarisation, slit and sample corrections).

    Returns
    -------
    ndarray
        Σ_hkl m|F|²·LP·P_MD · PV, integrated intensity per unit scale factor.
    """
    d = model.d_spacings(cell, scale)
    md = model.march_dollase(texture_r, cell)
    if b_delta:
        md = md * np.exp(-b_delta / (2.0 * d * d))
    out = np.zeros_like(x, dtype=float)
    n = x.size
    step = (x[-1] - x[0]) / (n - 1)
    for lam, wt in zip(wavelengths, weights, strict=True):
        arg = lam / (2.0 * d)
        ok = arg < 1.0
        if not ok.any():
            continue
        th = np.arcsin(arg[ok])
        tt = 2.0 * np.degrees(th)
        cos_t = np.cos(th)
        tan_t = np.tan(th)
        centre = tt + zero - np.degrees(2.0 * displacement * 1e-3 * cos_t / radius_mm)
        inside = (centre > x[0] - RANGE_MARGIN) & (centre < x[-1] + RANGE_MARGIN)
        if not inside.any():
            continue
        centre, cos_t, tan_t, tt = centre[inside], cos_t[inside], tan_t[inside], tt[inside]
        fwhm2 = u * tan_t**2 + v * tan_t + w
        fwhm = np.sqrt(np.maximum(fwhm2, 1e-8) + (size_x / cos_t) ** 2 + (strain_y * tan_t) ** 2)
        lp = angle_factor(tt) if angle_factor is not None else lorentz_polarisation(tt, monochromator_2theta)
        area = wt * model.mf2[ok][inside] * md[ok][inside] * lp
        if asymmetry:
            a = np.clip(asymmetry * _TAN20 / np.tan(np.radians(np.maximum(tt, 5.0))), -0.9, 0.9)
        else:
            a = np.zeros_like(tt)
        wl, wr = fwhm * (1.0 + a), fwhm * (1.0 - a)
        half = int(np.ceil(min(WINDOW_FWHM * max(wl.max(), wr.max()), MAX_WINDOW_DEG) / step))
        half = min(half, n)
        c_idx = np.searchsorted(x, centre)
        offs = np.arange(-half, half + 1)
        idx = c_idx[:, None] + offs[None, :]
        valid = (idx >= 0) & (idx < n)
        idx_c = np.clip(idx, 0, n - 1)
        delta = x[idx_c] - centre[:, None]
        dx = delta / np.where(delta < 0, wl[:, None], wr[:, None])
        prof = eta * (2.0 / np.pi) / (1.0 + 4.0 * dx * dx) + (1.0 - eta) * np.sqrt(_G / np.pi) * np.exp(
            -_G * dx * dx
        )
        vals = np.where(valid, prof * (2.0 * area / (wl + wr))[:, None], 0.0)
        out += np.bincount(idx_c.ravel(), weights=vals.ravel(), minlength=n)
    return out
