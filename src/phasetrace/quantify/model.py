"""The whole-pattern model: Chebyshev background plus one scaled calculated pattern per phase.

``y(2θ) = Σ_k b_k T_k(u) + Σ_p S_p Σ_hkl I_hkl · [PV(·; FWHM_p(θ), η) ⊗ E_τ(θ)](2θ − 2θ_hkl)``

for the Kα1 and Kα2 lines, with ``E_τ`` the axial-divergence tail
(:func:`phasetrace.peaks.profiles.axial_tail`, shared with the simulator).
The background coefficients ``b_k`` and the phase scales ``S_p`` enter linearly and are
solved (non-negative for ``S_p``) for every trial of the nonlinear parameters: cell scale
(or full cell), width and profile shape, axial-divergence tail, zero shift and specimen
displacement, March–Dollase texture.
This is variable projection; it makes the fit fast and its start values
uncritical.

Everything here is a pure function of arrays and a parameter vector, so the
fit can be re-run anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csc_matrix

from ..library.crystallography import lorentz_polarisation, reciprocal_metric
from ..library.reflections import ReflectionList
from ..peaks.profiles import axial_tail

__all__ = [
    "DERIVATIVE_NAMES",
    "PhaseModel",
    "axial_tail",
    "chebyshev_basis",
    "phase_columns",
    "phase_pattern",
]

#: Profiles are evaluated over ± this many FWHM of the broadest line of the phase (per wavelength)
#: around each reflection, so that narrower lines keep more of their Lorentzian tails. (A window of
#: ± 12 of each line's own FWHM, whose tail beyond holds 2.7 % of the area, was tried: it lost
#: Lorentzian tail intensity that the background and minor phases then took up, χ² +0.5 % on simulated
#: scans with a false trace detection.)
WINDOW_FWHM = 12.0

#: The window never exceeds this half width (degrees): very broad trial profiles stay cheap.
MAX_WINDOW_DEG = 4.0

#: Reflections this far outside the scan still contribute their tails (degrees).
RANGE_MARGIN = 2.0

_G = 4.0 * np.log(2.0)


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
    #: The profile blocks of the last value evaluation (see :func:`phase_pattern`), reused by a
    #: derivative evaluation at the same parameters (the fit asks for values, then derivatives).
    _last_blocks: dict = field(default_factory=dict, repr=False)

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

    def __getstate__(self) -> dict:
        """Pickle without the last evaluation's profile blocks (scratch data, possibly large)."""
        return {**self.__dict__, "_last_blocks": {}}

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


#: Names of the nonlinear parameters :func:`phase_pattern` differentiates by (``wrt``): the global
#: ones, the isotropic cell scale, the six absolute cell entries (a, b, c in Å, angles in degrees),
#: and the per-phase profile and intensity terms.
DERIVATIVE_NAMES = (
    "zero",
    "displacement",
    "u",
    "v",
    "w",
    "asymmetry",
    "eta",
    "scale",
    "cell_0",
    "cell_1",
    "cell_2",
    "cell_3",
    "cell_4",
    "cell_5",
    "size",
    "strain",
    "size_sq",
    "strain_sq",
    "texture",
    "b",
)

#: Step (degrees 2θ) of the central difference of the intensity factor (LP or an instrument's
#: angle factor, which may be any smooth function of 2θ) along a line's angle.
_LP_STEP = 1e-3

_DEG = 180.0 / np.pi


def _metric_derivatives(model: PhaseModel, cell: np.ndarray, d: np.ndarray) -> np.ndarray:
    """∂d/∂cell_j for the six cell entries (Å per Å or per degree), shape (n_refl, 6).

    ``1/d² = hᵀG*h`` with ``G* = G⁻¹``, so ``∂d/∂p = −½ d³ hᵀ(∂G*/∂p)h`` and
    ``∂G*/∂p = −G* (∂G/∂p) G*`` (G the direct metric tensor).
    """
    a, b, c = (float(v) for v in cell[:3])
    al, be, ga = np.radians(np.asarray(cell[3:], dtype=float))
    ca, cb, cg = np.cos([al, be, ga])
    sa, sb, sg = np.sin([al, be, ga])
    gstar = reciprocal_metric(cell)
    dg = np.zeros((6, 3, 3))
    dg[0] = [[2 * a, b * cg, c * cb], [b * cg, 0, 0], [c * cb, 0, 0]]
    dg[1] = [[0, a * cg, 0], [a * cg, 2 * b, c * ca], [0, c * ca, 0]]
    dg[2] = [[0, 0, a * cb], [0, 0, b * ca], [a * cb, b * ca, 2 * c]]
    dg[3] = [[0, 0, 0], [0, 0, -b * c * sa], [0, -b * c * sa, 0]]
    dg[4] = [[0, 0, -a * c * sb], [0, 0, 0], [-a * c * sb, 0, 0]]
    dg[5] = [[0, -a * b * sg, 0], [-a * b * sg, 0, 0], [0, 0, 0]]
    dg[3:] /= _DEG  # angles in degrees
    dgstar = -np.einsum("ij,pjk,kl->pil", gstar, dg, gstar)
    h = model.hkl.astype(float)
    return -0.5 * d[:, None] ** 3 * np.einsum("ni,pij,nj->np", h, dgstar, h)


def _cos2(model: PhaseModel, cell: np.ndarray) -> np.ndarray:
    """cos² of the angle between each reflection's normal and the texture axis, for a cell."""
    gstar = reciprocal_metric(cell)
    h = model.hkl.astype(float)
    ax = np.asarray(model.texture_axis, dtype=float)
    den = np.sqrt(np.einsum("ni,ij,nj->n", h, gstar, h) * (ax @ gstar @ ax))
    return np.clip((h @ gstar @ ax / den) ** 2, 0.0, 1.0)


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
    wrt: Sequence[str] = (),
    f2_factor: np.ndarray | None = None,
    dlog_f2: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Calculated pattern of one phase at unit scale factor, shape (N,), and its derivatives.

    Every line (reflection × wavelength) is evaluated only over its window of points
    (± WINDOW_FWHM of the broadest line of its wavelength, at most MAX_WINDOW_DEG, cut at
    the ends of the scan), all lines in one vectorised pass over the concatenated windows.

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
        Axial-divergence tail length τ₂₀ (degrees) at 2θ = 20°, falling as 1/|tan 2θ|: the
        pattern is convolved with a one-sided exponential towards the nearer end of the
        range (:func:`axial_tail`). 0: symmetric lines.
    b_delta : float
        Overall isotropic displacement (Å²) added to every atom's B: the
        intensities are damped by ``exp(−2 ΔB sin²θ/λ²) = exp(−ΔB / 2d²)``.
    angle_factor : callable, optional
        Intensity factor as a function of 2θ (degrees) that replaces the
        Lorentz-polarisation factor, e.g.
        :meth:`phasetrace.quantify.instrument.Instrument.angle_factor` (LP with the
        instrument's polarisation, slit and sample corrections). It must be elementwise
        (each angle's factor depends on that angle alone): it is called once on the angles of
        all lines of all wavelengths.
    wrt : sequence of str
        Parameters (from :data:`DERIVATIVE_NAMES`) to differentiate the pattern by.
        ``"cell_j"`` is the j-th entry of the full cell (give ``cell``); ``"scale"``
        the isotropic scale; ``"size_sq"``, ``"strain_sq"`` the squares of the width
        terms. The derivatives are analytic, except for the slope of the intensity
        factor along 2θ (a central difference per line) and, for a full cell with
        texture, of the March–Dollase cos² (per reflection).
        A derivative call right after a value call with the same parameters and the
        same ``x`` array (and angle factor) object reuses that call's profile blocks
        (kept on ``model``); ``x`` must not be modified in place between the two.
    f2_factor : ndarray, optional
        Factor on each reflection's |F|² (one per reflection of ``model``), e.g. refined atomic
        coordinates against the CIF's (:func:`phasetrace.library.reflections.positional_f2`).
    dlog_f2 : mapping, optional
        Further parameters ``wrt`` may name, each with its ∂ln|F|²/∂p per reflection.

    Returns
    -------
    ndarray, or (ndarray, ndarray)
        Σ_hkl m|F|²·LP·P_MD · PV ⊗ E_τ, integrated intensity per unit scale factor; with
        ``wrt``, also its derivatives, shape (N, len(wrt)).
    """
    n = x.size
    names = list(wrt)
    extra = dlog_f2 or {}
    for name in names:
        if name not in DERIVATIVE_NAMES and name not in extra:
            raise ValueError(f"phase_pattern: no derivative by {name!r}")
    n_der = len(names)
    # everything the profile blocks depend on besides x and the angle factor (compared by identity)
    key = (
        tuple(wavelengths),
        tuple(weights),
        scale,
        None if cell is None else tuple(np.asarray(cell, dtype=float).ravel()),
        u,
        v,
        w,
        size_x,
        strain_y,
        eta,
        zero,
        displacement,
        radius_mm,
        texture_r,
        monochromator_2theta,
        asymmetry,
        b_delta,
        None if f2_factor is None else np.asarray(f2_factor, dtype=float).tobytes(),
    )
    # one entry, read and replaced whole (models may be shared between threads)
    last = model._last_blocks.get("last") if names else None
    reuse = last is not None and last[0] == key and last[1] is x and last[2] is angle_factor
    d = model.d_spacings(cell, scale)
    n_refl = d.size
    # per reflection: ∂d/∂p for the cell parameters asked for, and the intensity factor (texture, B)
    dd = np.zeros((n_refl, n_der))
    for k, name in enumerate(names):
        if name == "scale":
            dd[:, k] = model.d0
    cell_k = [k for k, nm in enumerate(names) if nm.startswith("cell_")]
    if cell_k:
        if cell is None:
            raise ValueError("phase_pattern: cell derivatives need a full cell")
        dcell = _metric_derivatives(model, np.asarray(cell, dtype=float), d)
        for k in cell_k:
            dd[:, k] = dcell[:, int(names[k][-1])]
    md = model.march_dollase(texture_r, cell)
    # relative derivatives of the reflection intensity (∂I/∂p / I) not through the angle
    dlog_i = np.zeros((n_refl, n_der))
    if "texture" in names:
        k = names.index("texture")
        if model.texture_axis is not None:
            cos2 = _cos2(model, model.refl.cell if cell is None else np.asarray(cell, dtype=float))
            base = texture_r * texture_r * cos2 + (1.0 - cos2) / texture_r
            dlog_i[:, k] = -1.5 * (2.0 * texture_r * cos2 - (1.0 - cos2) / texture_r**2) / base
    if cell_k and model.texture_axis is not None and texture_r != 1.0:
        cell_arr = np.asarray(cell, dtype=float)
        for k in cell_k:
            j = int(names[k][-1])
            h = 1e-6 * max(abs(cell_arr[j]), 1.0)
            cp, cm = cell_arr.copy(), cell_arr.copy()
            cp[j] += h
            cm[j] -= h
            mp = (texture_r**2 * _cos2(model, cp) + (1.0 - _cos2(model, cp)) / texture_r) ** -1.5
            mm = (texture_r**2 * _cos2(model, cm) + (1.0 - _cos2(model, cm)) / texture_r) ** -1.5
            dlog_i[:, k] += (mp - mm) / (2.0 * h) / md
    if b_delta:
        md = md * np.exp(-b_delta / (2.0 * d * d))
        # the damping changes with d too
        dlog_i += (b_delta / d**3)[:, None] * dd
    if "b" in names:
        dlog_i[:, names.index("b")] = -1.0 / (2.0 * d * d)
    if f2_factor is not None:
        md = md * f2_factor
    for k, name in enumerate(names):
        if name in extra:
            dlog_i[:, k] = extra[name]

    # ---- lines: reflections × wavelengths, all wavelengths' lines in one set of arrays (the first
    # wavelength's, then the second's: rows bounds[g]:bounds[g + 1]), with their centres, widths and areas
    # (the value call at the same parameters made them already: a derivative call takes its lines)
    lp_fn = (
        angle_factor
        if angle_factor is not None
        else (lambda t: lorentz_polarisation(t, monochromator_2theta))
    )
    shift = 2.0 * displacement * 1e-3 / radius_mm
    lines = last[5] if reuse else _lines(x, model, d, md, wavelengths, weights, u, v, w, size_x, strain_y,
                                         zero, shift, lp_fn)  # fmt: skip
    bounds, sel, tt, cos_t, sin_t, tan_t, centre, fwhm, live, lp, amp = lines
    groups = [slice(bounds[g], bounds[g + 1]) for g in range(len(bounds) - 1)]
    if n_der:
        # derivatives of the lines' centres, widths and log-amplitudes by each parameter
        d_sel = d[sel]
        dth = (-tan_t / d_sel)[:, None] * dd[sel]  # through the spacing
        sec2 = 1.0 / cos_t**2
        dfw_dth = (
            live * (2.0 * u * tan_t + v) * sec2
            + 2.0 * size_x**2 * sin_t / cos_t**3
            + 2.0 * strain_y**2 * tan_t * sec2
        ) / (2.0 * fwhm)
        dc_dth = 2.0 * _DEG + _DEG * shift * sin_t
        lp_p, lp_m = lp_fn(tt + _LP_STEP), lp_fn(tt - _LP_STEP)
        dlnlp_dth = (lp_p - lp_m) / (2.0 * _LP_STEP) / lp * 2.0 * _DEG
        dcen = dc_dth[:, None] * dth
        dfw = dfw_dth[:, None] * dth
        dlog = dlnlp_dth[:, None] * dth + dlog_i[sel]
        for k, name in enumerate(names):
            if name == "zero":
                dcen[:, k] = 1.0
            elif name == "displacement":
                dcen[:, k] = -_DEG * 2e-3 / radius_mm * cos_t
            elif name == "u":
                dfw[:, k] = live * tan_t**2 / (2.0 * fwhm)
            elif name == "v":
                dfw[:, k] = live * tan_t / (2.0 * fwhm)
            elif name == "w":
                dfw[:, k] = live / (2.0 * fwhm)
            elif name == "size":
                dfw[:, k] = size_x / cos_t**2 / fwhm
            elif name == "strain":
                dfw[:, k] = strain_y * tan_t**2 / fwhm
            elif name == "size_sq":  # by size_x², which the squared width takes linearly
                dfw[:, k] = 0.5 / (cos_t**2 * fwhm)
            elif name == "strain_sq":
                dfw[:, k] = 0.5 * tan_t**2 / fwhm
        damp = dlog - dfw / fwhm[:, None]  # ∂ln(amp)/∂p
    step = (x[-1] - x[0]) / (n - 1)
    c_l, c_g = eta * (2.0 / np.pi), (1.0 - eta) * np.sqrt(_G / np.pi)
    tail = asymmetry != 0.0 or "asymmetry" in names
    if reuse:
        half, width, m, xp, raw, (idx, dx, lor, gau, vals), _ = last[3]
        out = last[4].copy()
    else:
        # one window for all lines, ± WINDOW_FWHM of the broadest line, on the scan's points extended
        # by the window at both ends (points beyond are computed, then dropped; the axial-divergence
        # tail of lines there still reaches the scan)
        # (the padding is the widest window whatever the lines, so that every phase of a scan has the
        # same grid and the tail's prepared recursion serves them all)
        fw_max = float(fwhm.max()) if fwhm.size else 0.0
        width = min(int(np.ceil(min(WINDOW_FWHM * fw_max, MAX_WINDOW_DEG) / step)), n)
        half = min(int(np.ceil(MAX_WINDOW_DEG / step)), n) if tail else width
        m = n + 2 * half + 1
        xp = np.concatenate([x[0] - step * np.arange(half, 0, -1), x, x[-1] + step * np.arange(1, half + 2)])
        raw = np.zeros(m)
        # each line's window of points (indices into xp, and their angles: rows copied from a strided view,
        # several times faster than gathering point by point)
        first = np.searchsorted(x, centre) + (half - width)
        idx = _window_indices(first, 2 * width + 1, m)
        # the same operations as (xp[idx] − c)/fwhm, 1/(1 + 4q), exp(−G q), (c_l·lor + c_g·gau)·amp,
        # in place: lines × window points are ~10⁵ numbers per array, and fewer temporaries save
        # ~15 % of this block (the results are bit for bit those of the plain expressions)
        dx = _windows(xp, first, 2 * width + 1)
        dx -= centre[:, None]
        dx /= fwhm[:, None]
        q = dx * dx
        lor = np.multiply(q, 4.0)
        lor += 1.0
        np.divide(1.0, lor, out=lor)
        gau = np.multiply(q, -_G, out=q)
        np.exp(gau, out=gau)
        vals = np.multiply(lor, c_l)
        vals += np.multiply(gau, c_g)
        vals *= amp[:, None]
        # each wavelength's lines summed on their own, then added (the order of the sums in every point)
        for r in groups:
            raw += np.bincount(idx[r].ravel(), weights=vals[r].ravel(), minlength=m)
    part = np.zeros((m, n_der)) if names else None
    for r in groups if names else ():
        # sensitivities of a point's value amp·prof(dx), dx = (x − c)/fwhm, to the line's centre,
        # fwhm, log-amplitude and η; times the lines' derivatives by each parameter
        # (in place, into one array that is the sparse matrix's data: the operations of
        # g_c = −amp·dprof/fwhm with dprof = −8 c_l dx lor² − 2G c_g dx gau, g_c·dx, vals and
        # amp·((2/π) lor − √(G/π) gau), bit for bit)
        dx_r, lor_r, gau_r, amp_r = dx[r], lor[r], gau[r], amp[r, None]
        data = np.empty((4, *dx_r.shape))
        g_c = np.multiply(dx_r, -8.0 * c_l, out=data[0])
        g_c *= lor_r
        g_c *= lor_r
        g_c -= np.multiply(dx_r, 2.0 * _G * c_g) * gau_r
        g_c *= -amp_r
        g_c /= fwhm[r, None]
        np.multiply(g_c, dx_r, out=data[1])
        data[2] = vals[r]
        d_eta = np.multiply(lor_r, 2.0 / np.pi, out=data[3])
        d_eta -= np.multiply(gau_r, np.sqrt(_G / np.pi))
        d_eta *= amp_r
        eta_coef = np.zeros((dx_r.shape[0], n_der))
        if "eta" in names:
            eta_coef[:, names.index("eta")] = 1.0
        part += _sensitivities(data, idx[r], m) @ np.vstack([dcen[r], dfw[r], damp[r], eta_coef])
    if not reuse:
        tailed = axial_tail(raw, xp, asymmetry) if tail else raw
        out = tailed[half : half + n]
    else:
        tailed = last[3][6]
    jac = np.zeros((n, n_der))
    if names:
        if tail:
            if "asymmetry" in names:
                # the lines themselves do not depend on the tail: its column comes from the tail alone
                both = axial_tail(part, xp, asymmetry, derivative_of=(raw, tailed))
                part = both[:, :-1]
                part[:, names.index("asymmetry")] = both[:, -1]
            else:
                part = axial_tail(part, xp, asymmetry)
        jac = part[half : half + n]
    if not names:
        kept = (half, width, m, xp, raw, (idx, dx, lor, gau, vals), tailed)
        model._last_blocks["last"] = (key, x, angle_factor, kept, out.copy(), lines)
    return (out, jac) if names else out


def _line_angles(
    x: np.ndarray, wavelengths: tuple[float, ...], d: np.ndarray, zero: float, shift: float
) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The lines (wavelength × spacing) whose centres fall within the scan (± RANGE_MARGIN).

    ``d`` may have any shape; the lines are in the order of the wavelengths, then of ``d``'s entries.
    Returns the lines' indices (wavelength, then ``d``'s axes), 2θ, cos θ, sin θ, tan θ and centre
    (2θ with the zero shift and the specimen displacement ``shift``, in radians at 2θ = 90°).
    """
    arg = np.asarray(wavelengths, dtype=float).reshape(-1, *(1,) * d.ndim) / (2.0 * d)
    ok = arg < 1.0
    sin_t = arg[ok]
    th = np.arcsin(sin_t)
    tt = 2.0 * _DEG * th
    cos_t, tan_t = np.cos(th), np.tan(th)
    centre = tt + zero - _DEG * shift * cos_t
    inside = (centre > x[0] - RANGE_MARGIN) & (centre < x[-1] + RANGE_MARGIN)
    index = tuple(i[inside] for i in np.nonzero(ok))
    return index, tt[inside], cos_t[inside], sin_t[inside], tan_t[inside], centre[inside]


def _lines(
    x: np.ndarray,
    model: PhaseModel,
    d: np.ndarray,
    md: np.ndarray,
    wavelengths: tuple[float, ...],
    weights: tuple[float, ...],
    u: float,
    v: float,
    w: float,
    size_x: float,
    strain_y: float,
    zero: float,
    shift: float,
    lp_fn: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, ...]:
    """The lines of :func:`phase_pattern`: all wavelengths' reflections in the range, in one set of arrays.

    Returns ``bounds`` (the first line of each wavelength that has any, and the end), then per line the
    reflection, 2θ, cos θ, sin θ, tan θ, centre, FWHM, whether the Caglioti width is above its floor,
    the angle factor and the profile's amplitude (area / FWHM). The angle factor is called once on all
    lines' angles (it is elementwise).
    """
    (wl, sel), tt, cos_t, sin_t, tan_t, centre = _line_angles(x, wavelengths, d, zero, shift)
    counts = np.bincount(wl, minlength=len(wavelengths))
    bounds = np.concatenate([[0], np.cumsum(counts[counts > 0])])
    wt_line = np.asarray(weights, dtype=float)[wl]
    fwhm2 = u * tan_t**2 + v * tan_t + w
    live = fwhm2 > 1e-8
    fwhm = np.sqrt(np.maximum(fwhm2, 1e-8) + (size_x / cos_t) ** 2 + (strain_y * tan_t) ** 2)
    lp = lp_fn(tt) if tt.size else np.zeros(0)
    area = wt_line * model.mf2[sel] * md[sel] * lp
    return bounds, sel, tt, cos_t, sin_t, tan_t, centre, fwhm, live, lp, area / fwhm


def _windows(a: np.ndarray, first: np.ndarray, size: int) -> np.ndarray:
    """``a[first_i : first_i + size]`` for each line i, as a new (lines, size) array (1-D ``a``, in range)."""
    step = a.strides[0]
    view = np.lib.stride_tricks.as_strided(a, (a.size - size + 1, size), (step, step), writeable=False)
    return view[first]


#: 0, 1, 2, ... (grown when a longer run is needed): the window indices are rows of its strided view.
_COUNTING = [np.arange(0)]


def _window_indices(first: np.ndarray, size: int, m: int) -> np.ndarray:
    """``first_i + (0, 1, ..., size − 1)`` for each line i, shape (lines, size) (all below ``m``)."""
    counting = _COUNTING[0]
    if counting.size < m:
        counting = np.arange(max(m, 2 * counting.size))
        _COUNTING[0] = counting
    return _windows(counting[:m], first, size)


def _sensitivities(data: np.ndarray, idx: np.ndarray, m: int) -> csc_matrix:
    """The (points × 4·lines) sparse matrix of the lines' windows of ``data`` (4, lines, window) as columns.

    32-bit indices where they fit (scipy would otherwise check and convert them in every call).
    """
    n_col, width_pts = data.shape[0] * data.shape[1], data.shape[2]
    itype = np.int32 if (n_col + 1) * width_pts < 2**31 else np.int64
    return csc_matrix(
        (
            data.ravel(),
            np.tile(idx.ravel().astype(itype), data.shape[0]),
            np.arange(0, (n_col + 1) * width_pts, width_pts, dtype=itype),
        ),
        shape=(m, n_col),
    )


#: :func:`phase_columns` evaluates its profile windows in chunks of about this many points (lines ×
#: window): larger arrays leave the processor's cache, and the vectorised pass gets slower, not faster.
COLUMNS_CHUNK = 100_000


def phase_columns(
    x: np.ndarray,
    model: PhaseModel,
    *,
    scales: Sequence[float],
    sizes: Sequence[float],
    wavelengths: tuple[float, ...],
    weights: tuple[float, ...],
    u: float,
    v: float,
    w: float,
    strain_y: float,
    eta: float,
    zero: float,
    displacement: float,
    radius_mm: float,
    texture_r: float = 1.0,
    monochromator_2theta: float | None = None,
    asymmetry: float = 0.0,
    angle_factor: Callable[[np.ndarray], np.ndarray] | None = None,
    window_fwhm: float = WINDOW_FWHM,
) -> np.ndarray:
    """Several columns of one phase at once: ``phase_pattern`` values at cell scale and size pairs.

    Column ``k`` is, bit for bit, ``phase_pattern(x, model, scale=scales[k], size_x=sizes[k], ...)``
    with the other (shared) parameters, no full cell, ΔB or |F|² factor: the same operations on the
    same numbers per point, with the lines of many columns in one pass (a candidate's cell-scale grid,
    its trial widths, a detection limit's finite differences), which saves the per-call overhead that
    dominates the evaluation of phases with few reflections. Keep in step with :func:`phase_pattern`
    (``tests/quantify/test_phase_columns.py`` compares them). ``window_fwhm`` other than
    :data:`WINDOW_FWHM` cuts every line's profile at that many FWHM of the column's broadest line
    instead (cheaper columns for searches that rank, not fit; no longer ``phase_pattern``'s values).

    Returns
    -------
    ndarray, shape (N, len(scales))
    """
    n = x.size
    scales = np.asarray(scales, dtype=float)
    sizes = np.asarray(sizes, dtype=float)
    k_cols = scales.size
    md = model.march_dollase(texture_r, None)
    if angle_factor is None:
        angle_factor = lambda t: lorentz_polarisation(t, monochromator_2theta)  # noqa: E731
    shift = 2.0 * displacement * 1e-3 / radius_mm
    d_all = model.d0[None, :] * scales[:, None]
    # lines (wavelength, column, reflection) as phase_pattern makes them for each column, all wavelengths in
    # one set of arrays
    (wl, col_i, refl_i), tt, cos_t, _, tan_t, centre = _line_angles(x, wavelengths, d_all, zero, shift)
    fwhm2 = u * tan_t**2 + v * tan_t + w
    fwhm = np.sqrt(np.maximum(fwhm2, 1e-8) + (sizes[col_i] / cos_t) ** 2 + (strain_y * tan_t) ** 2)
    # (the angle factor once on all lines: it is elementwise)
    area = np.asarray(weights, dtype=float)[wl] * model.mf2[refl_i] * md[refl_i] * angle_factor(tt)
    amp = area / fwhm
    step = (x[-1] - x[0]) / (n - 1)
    c_l, c_g = eta * (2.0 / np.pi), (1.0 - eta) * np.sqrt(_G / np.pi)
    tail = asymmetry != 0.0
    # each column's window is phase_pattern's: ± WINDOW_FWHM of its own broadest line
    fw_max = np.zeros(k_cols)
    np.maximum.at(fw_max, col_i, fwhm)
    lines = np.bincount(col_i, minlength=k_cols)
    widths = [min(int(np.ceil(min(window_fwhm * float(f), MAX_WINDOW_DEG) / step)), n) for f in fw_max]
    wid = np.asarray(widths)
    # the columns in chunks of about COLUMNS_CHUNK window points, each on one padded grid (without a tail
    # the widest window's: the points a narrower window reaches are the same numbers there) with one
    # tail for all of them
    cost = lines * (2 * wid + 1)
    chunks: list[list[int]] = [[]]
    total = 0
    for k in range(k_cols):
        if chunks[-1] and total + cost[k] > COLUMNS_CHUNK:
            chunks.append([])
            total = 0
        chunks[-1].append(k)
        total += int(cost[k])
    out = np.empty((n, k_cols))
    for ks in chunks:
        half = min(int(np.ceil(MAX_WINDOW_DEG / step)), n) if tail else int(wid[ks].max())
        m = n + 2 * half + 1
        xp = np.concatenate([x[0] - step * np.arange(half, 0, -1), x, x[-1] + step * np.arange(1, half + 2)])
        # the chunk's columns in slots by window width (stable), so that each width's columns are adjacent
        ks = sorted(ks, key=lambda k: wid[k])
        slot = np.full(k_cols, -1)
        slot[ks] = np.arange(len(ks))
        # the chunk's lines by wavelength and slot, each column's lines in their own order (every point sums
        # its terms as phase_pattern does: one wavelength's lines, then the other's)
        s_line = slot[col_i]
        keep = np.flatnonzero(s_line >= 0)
        order_key = wl[keep] * len(ks) + s_line[keep]
        by_key = np.argsort(order_key, kind="stable")
        keep, order_key = keep[by_key], order_key[by_key]
        chunk_lines = (s_line[keep], centre[keep], fwhm[keep], amp[keep])
        raw = np.zeros(m * len(ks))
        slot_wid = wid[ks]
        for width in np.unique(slot_wid):
            # one pass over this width's lines of all wavelengths (slots lo..hi), summed per wavelength
            lo, hi = np.searchsorted(slot_wid, [width, width + 1])
            ends = np.searchsorted(order_key, np.arange(len(wavelengths))[:, None] * len(ks) + [lo, hi])
            rows = [slice(a, b) for a, b in ends if b > a]
            if rows:
                _column_windows(
                    raw[lo * m : hi * m], rows, chunk_lines, xp, x, half, int(width), m, lo, c_l, c_g
                )
        raw2 = raw.reshape(len(ks), m).T
        tailed = axial_tail(raw2, xp, asymmetry) if tail else raw2
        out[:, ks] = tailed[half : half + n]
    return out


def _column_windows(
    raw: np.ndarray,
    rows: list[slice],
    lines: tuple[np.ndarray, ...],
    xp: np.ndarray,
    x: np.ndarray,
    half: int,
    width: int,
    m: int,
    first_slot: int,
    c_l: float,
    c_g: float,
) -> None:
    """Add the windows of lines of one window width to ``raw`` (slots ``first_slot``.., m points each).

    ``lines`` are the lines' slots, centres, FWHM and amplitudes, of which ``rows`` (one range per
    wavelength) are evaluated in one pass (phase_pattern's expressions, in place), then summed into
    ``raw`` one wavelength after the other.
    """
    s, c, f, a = (np.concatenate([v[r] for r in rows]) if len(rows) > 1 else v[rows[0]] for v in lines)
    first = np.searchsorted(x, c) + (half - width)
    idx = _window_indices(first, 2 * width + 1, xp.size)
    dx = _windows(xp, first, 2 * width + 1)
    dx -= c[:, None]
    dx /= f[:, None]
    q = dx * dx
    prof = np.multiply(q, 4.0, out=dx)
    prof += 1.0
    np.divide(1.0, prof, out=prof)  # Lorentzian 1 / (1 + 4 q)
    q *= -_G
    np.exp(q, out=q)  # Gaussian
    prof *= c_l
    q *= c_g
    prof += q
    prof *= a[:, None]
    idx += ((s - first_slot) * m)[:, None]
    start = 0
    for r in rows:
        end = start + (r.stop - r.start)
        raw += np.bincount(idx[start:end].ravel(), weights=prof[start:end].ravel(), minlength=raw.size)
        start = end
