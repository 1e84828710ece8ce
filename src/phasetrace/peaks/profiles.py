"""Peak profile functions: pure, vectorised, area-normalised (like lmfit's ``lineshapes``).

Widths are full widths at half maximum (FWHM) in the units of x. :func:`axial_tail` acts on a whole
pattern on a uniform 2θ grid (the fit's model and the simulator draw the same axial-divergence tail).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "axial_tail",
    "axial_tail_length",
    "caglioti_fwhm",
    "gaussian",
    "lorentzian",
    "pseudo_voigt",
    "scherrer_fwhm",
    "split_pseudo_voigt",
    "strain_fwhm",
]

_G = 4.0 * np.log(2.0)


def gaussian(x: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray) -> np.ndarray:
    """Unit-area Gaussian with the given FWHM."""
    d = (np.asarray(x) - center) / fwhm
    return np.sqrt(_G / np.pi) / fwhm * np.exp(-_G * d * d)


def lorentzian(x: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray) -> np.ndarray:
    """Unit-area Lorentzian with the given FWHM."""
    d = (np.asarray(x) - center) / fwhm
    return 2.0 / (np.pi * fwhm) / (1.0 + 4.0 * d * d)


def pseudo_voigt(
    x: np.ndarray, center: float | np.ndarray, fwhm: float | np.ndarray, eta: float | np.ndarray
) -> np.ndarray:
    """Unit-area pseudo-Voigt: ``eta`` Lorentzian + ``1 - eta`` Gaussian, same FWHM."""
    return eta * lorentzian(x, center, fwhm) + (1.0 - eta) * gaussian(x, center, fwhm)


def split_pseudo_voigt(
    x: np.ndarray,
    center: float | np.ndarray,
    fwhm: float | np.ndarray,
    eta: float | np.ndarray,
    asymmetry: float | np.ndarray,
) -> np.ndarray:
    """Unit-area pseudo-Voigt with different half widths left and right of the centre.

    ``asymmetry`` in (-1, 1): the left half width is ``fwhm/2 · (1 + asymmetry)``
    and the right one ``fwhm/2 · (1 - asymmetry)``; positive values give the
    low-angle tail of axial divergence.
    """
    x = np.asarray(x)
    wl = fwhm * (1.0 + asymmetry)
    wr = fwhm * (1.0 - asymmetry)
    left = x < center
    w = np.where(left, wl, wr)
    # each half is half of a unit-area profile of its own width, rescaled to join at the peak
    prof = pseudo_voigt(x, center, w, eta) * w
    return prof * 2.0 / (wl + wr)


def caglioti_fwhm(two_theta_deg: np.ndarray, u: float, v: float, w: float) -> np.ndarray:
    """Caglioti width ``sqrt(U tan²θ + V tanθ + W)`` in degrees 2θ (clipped at a tiny positive value)."""
    t = np.tan(np.radians(np.asarray(two_theta_deg)) / 2.0)
    return np.sqrt(np.maximum(u * t * t + v * t + w, 1e-8))


def scherrer_fwhm(two_theta_deg: np.ndarray, wavelength: float, size_nm: float, k: float = 0.9) -> np.ndarray:
    """Size broadening ``K λ / (L cos θ)`` in degrees 2θ for crystallite size ``size_nm``."""
    th = np.radians(np.asarray(two_theta_deg)) / 2.0
    return np.degrees(k * wavelength / (size_nm * 10.0 * np.cos(th)))


def strain_fwhm(two_theta_deg: np.ndarray, microstrain: float) -> np.ndarray:
    """Microstrain broadening ``4 ε tan θ`` in degrees 2θ (``microstrain`` as a fraction)."""
    th = np.radians(np.asarray(two_theta_deg)) / 2.0
    return np.degrees(4.0 * microstrain * np.tan(th))


_TAN20 = np.tan(np.radians(20.0))

#: The tail's angle law is evaluated between these angles (degrees 2θ): 1/tan 2θ diverges at 0.
_TAIL_ANGLES = (5.0, 175.0)

#: Points per block of the blocked recursion (:class:`_TailPlan`).
_TAIL_BLOCK = 16

#: Products of step factors below this are dropped: the tail has decayed (and no subnormal numbers,
#: which are slow to compute, arise).
_TAIL_TINY = 1e-30


def axial_tail_length(two_theta: np.ndarray, tau20: float) -> np.ndarray:
    """Length (degrees) of the axial-divergence tail at ``two_theta``: ``τ₂₀ · tan 20° / |tan 2θ|``.

    Also the mean distance by which the tail moves a line's centroid (towards low angles below 90°,
    high above); see :func:`axial_tail`.
    """
    tt = np.clip(np.asarray(two_theta, dtype=float), *_TAIL_ANGLES)
    return tau20 * _TAN20 / np.abs(np.tan(np.radians(tt)))


def _kept(store: list, xp: np.ndarray, extra: object, make):
    """A value kept in ``store`` for exactly this grid (and ``extra``), else made and kept.

    Grids are compared point by point, not by their ends and size: scans of the same range and point
    count can differ in the last digits of their angles, and the numbers must not depend on which
    scan a process saw first. At most 8 entries (appends and clears are atomic: threads may share it).
    """
    for kept_xp, kept_extra, value in list(store):
        if kept_extra == extra and kept_xp.shape == xp.shape and np.array_equal(kept_xp, xp):
            return value
    value = make()
    if len(store) >= 8:
        store.clear()
    store.append((xp.copy(), extra, value))
    return value


#: The tail's angle laws of the last few grids: a fit makes a plan per trial τ₂₀ on one or two grids.
_TAIL_LAWS: list = []


def _grid_laws(xp: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The grid's step, the angle law ``τ/τ₂₀`` and ``|d law/d2θ|`` (degrees) on it (kept per grid)."""

    def make() -> tuple[float, np.ndarray, np.ndarray]:
        step = (xp[-1] - xp[0]) / (xp.size - 1)
        tt = np.clip(xp, *_TAIL_ANGLES)
        law = axial_tail_length(tt, 1.0)
        slope = np.where((xp > _TAIL_ANGLES[0]) & (xp < _TAIL_ANGLES[1]), 1.0, 0.0)
        slope *= _TAN20 / np.sin(np.radians(tt)) ** 2 * (np.pi / 180.0)
        return step, law, slope

    return _kept(_TAIL_LAWS, xp, None, make)


def _tail_coefficients(xp: np.ndarray, tau20: float) -> tuple[np.ndarray, ...]:
    """Step factors of the exponential tail on a uniform grid, and their derivatives by ``tau20``.

    Over one step h towards the peak the tail's weight is ``a = exp(−h/τ)``; the signal between two
    points is taken as linear, which makes the recursion exact for a piecewise-linear profile:
    ``z_i = a z_(i+1) + c0 y_i + c1 y_(i+1)`` with ``c1 = r(1 − a) − a``, ``c0 = 1 − a − c1``,
    ``r = τ/h``.
    """
    step, law, _ = _grid_laws(xp)
    tau = np.maximum(tau20 * law, 1e-12)
    r = tau / step
    # a below e⁻⁶⁰ is 0 (a tail far shorter than a step), kept out of subnormal numbers (slow to compute)
    inv = 1.0 / r
    a = np.where(inv < 60.0, np.exp(-np.minimum(inv, 60.0)), 0.0)
    c1 = r * (1.0 - a) - a
    c0 = 1.0 - a - c1
    da = a * inv / tau  # ∂a/∂τ = a h/τ²
    dc1 = (1.0 - a) / step - (r + 1.0) * da
    dc0 = -da - dc1
    return a, c0, c1, da * law, dc0 * law, dc1 * law


def _unit_area(xp: np.ndarray, tau20: float) -> tuple[np.ndarray, np.ndarray]:
    """Factor on each source point that keeps its total weight 1, and its derivative by ``tau20``.

    With τ changing along the grid the recursion spreads a point by the factors on its way, and its
    total weight is ``s ≈ 1 + |dτ/d2θ|`` (2θ in degrees) instead of exactly 1 for a constant τ:
    0.5 % at 15°, 1.1 % at 10° for τ₂₀ = 0.05° (the exact discrete weight, from the transposed
    recursion, differs from this by 7·10⁻⁵ at 15°, 4·10⁻⁴ at 10°). The input is divided by ``s``,
    so that the tail moves intensity without making or losing any.
    """
    slope = _grid_laws(xp)[2]  # |d law / d2θ|
    n = 1.0 / (1.0 + tau20 * slope)
    return n, -slope * n * n


class _TailPlan:
    """The tail's recursion on one grid for one τ₂₀, prepared for any number of columns.

    The grid splits at 90° into a part run downwards (reversed) and one run upwards. Each part's
    recursion ``z_k = a_k z_(k−1) + g_k`` is run in blocks of :data:`_TAIL_BLOCK` points, all
    blocks at once (one array operation per position in the block); then the blocks' end values are
    chained (a short recursion over the blocks, by doubling) and carried into each block with the
    running products of its factors.

    The recursion's arrays are laid out position-in-block first, (block, blocks, parts, columns):
    the blocks, parts and columns that one step of the recursion updates together are one contiguous
    run, so that each step is a single pass over memory instead of many short strided ones (the
    same operations on the same numbers as the blocks-first layout: bit for bit the same tail).
    """

    def __init__(self, xp: np.ndarray, tau20: float) -> None:
        coef = _tail_coefficients(xp, tau20)  # a, c0, c1, da, dc0, dc1
        cut = int(np.searchsorted(xp, 90.0))
        # the parts as the columns of one array (the shorter zero-padded at its far end)
        both = (slice(cut - 1, None, -1), slice(cut, None))
        self.slices = [sl for sl in both if len(range(*sl.indices(xp.size)))]
        self.sizes = [len(range(*sl.indices(xp.size))) for sl in self.slices]
        self.nb = -(-max(self.sizes) // _TAIL_BLOCK)
        length = self.nb * _TAIL_BLOCK
        self.coef = np.zeros((6, length, len(self.slices)))
        norm, dnorm = _unit_area(xp, tau20)
        for i, (sl, n_p) in enumerate(zip(self.slices, self.sizes, strict=True)):
            a, c0, c1, da, dc0, dc1 = (c[sl] for c in coef)
            # the input y_k enters as c0_k n_k y_k + c1_(k+1) n_k y_k: fold the source factor n in
            n, dn = norm[sl], dnorm[sl]
            n_prev, dn_prev = np.r_[n[0], n[:-1]], np.r_[dn[0], dn[:-1]]
            c0, c1, dc0, dc1 = c0 * n, c1 * n_prev, dc0 * n + c0 * dn, dc1 * n_prev + c1 * dn_prev
            self.coef[:, :n_p, i] = [a, c0, c1, da, dc0, dc1]
        # the factors and their running products within each block, position in the block first
        self.fac = _block_major(self.coef[0])
        self.e = np.cumprod(self.fac, axis=0)
        self.e[self.e < _TAIL_TINY] = 0.0
        # the chaining of the blocks by doubling: the step s and the products over s blocks at each level
        # (functions of the factors alone, so made once here rather than in every call)
        self.levels: list[tuple[int, np.ndarray]] = []
        span = self.e[-1].copy()
        s = 1
        while s < self.nb and span[s:].any():
            self.levels.append((s, span[s:].copy()))
            prod = span[s:] * span[:-s]
            prod[prod < _TAIL_TINY] = 0.0
            span[s:] = prod
            s *= 2

    def _solve(self, z: np.ndarray) -> None:
        """``z_k = a_k z_(k−1) + g_k`` in place, ``z`` holding g, shape (block, K, nb, parts)."""
        # (products into one scratch array, then added: the operations of z[j] += f[j] * z[j − 1])
        tmp = np.empty(z.shape[1:])
        for j in range(1, _TAIL_BLOCK):
            np.multiply(self.fac[j], z[j - 1], out=tmp)
            z[j] += tmp
        if self.nb > 1:
            # chain the block ends: Y_b = Z_b + P_b Y_(b−1), by doubling over the blocks
            carry = z[-1].copy()
            for s, span in self.levels:
                carry[:, s:] += span * carry[:, :-s]
            rest = z[:, :, 1:]
            rest += self.e[:, None, 1:] * carry[None, :, :-1]

    def apply(self, y: np.ndarray, *, extra: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """The tail applied to ``y`` (M,) or (M, K).

        With ``extra = (y0, z0)`` (a pattern and its tail) one more column, the derivative of ``z0``
        by τ₂₀, is appended.
        """
        y2 = y if y.ndim == 2 else y[:, None]
        k = y2.shape[1]
        _, c0, c1, da, dc0, dc1 = self.coef
        # the recursion's input g in grid order (nb·block, parts, columns), then block-major for the solve
        g_all = np.zeros((self.nb * _TAIL_BLOCK, len(self.slices), k + (extra is not None)))
        for i, (sl, n_p) in enumerate(zip(self.slices, self.sizes, strict=True)):
            yy = y2[sl]
            g = g_all[:n_p, i, :k]
            np.multiply(c0[:n_p, i, None], yy, out=g)
            g[1:] += c1[1:n_p, i, None] * yy[:-1]
            if extra is not None:
                # z_k = a z_(k−1) + c0 y_k + c1 y_(k−1) differentiated: the same recursion, fed by
                # a' z_(k−1) + c0' y_k + c1' y_(k−1)
                y0, z0 = extra[0][sl], extra[1][sl]
                gd = g_all[:n_p, i, k]
                np.multiply(dc0[:n_p, i], y0, out=gd)
                gd[1:] += dc1[1:n_p, i] * y0[:-1] + da[1:n_p, i] * z0[:-1]
        z = _block_major(g_all)
        self._solve(z)
        z = _grid_major(z)
        out = np.empty((y.shape[0], z.shape[2]))
        for i, (sl, n_p) in enumerate(zip(self.slices, self.sizes, strict=True)):
            out[sl] = z[:n_p, i]
        return out if y.ndim == 2 else out[:, 0]


def _block_major(a: np.ndarray) -> np.ndarray:
    """Grid-ordered ``a`` (nb·block, parts[, K]) as a new contiguous (block[, K], nb, parts) array."""
    a = a.reshape(a.shape[0] // _TAIL_BLOCK, _TAIL_BLOCK, *a.shape[1:])
    return np.ascontiguousarray(a.transpose(1, 3, 0, 2) if a.ndim == 4 else a.transpose(1, 0, 2))


def _grid_major(a: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_block_major` for (block, K, nb, parts): grid-ordered (nb·block, parts, K)."""
    return a.transpose(2, 0, 3, 1).reshape(a.shape[0] * a.shape[2], a.shape[3], a.shape[1])


#: The last few tail plans by grid and τ₂₀ (:func:`_kept`): a fit evaluates every phase, then
#: derivatives, at the same grid and τ₂₀.
_TAIL_PLANS: list = []


def axial_tail(
    y: np.ndarray, xp: np.ndarray, tau20: float, *, derivative_of: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """A pattern convolved with the one-sided exponential tail of axial divergence.

    Axial divergence (the beam's spread along the goniometer axis, limited by Soller slits) moves
    part of every line towards the nearer end of the 2θ range (low angles below 90°, high above),
    the more the further from 90°. Its leading effect is modelled as a one-sided exponential
    ``E_τ(t) = exp(−t/τ)/τ`` (t ≥ 0 away from the peak) with the angle law of the axial-divergence
    shift, ``τ(2θ) = τ₂₀ · tan 20° / |tan 2θ|`` (τ₂₀ the tail length at 2θ = 20°, degrees): the
    simple form of the Finger–Cox–Jephcoat asymmetry (J. Appl. Cryst. 27 (1994) 892), which has an
    exponential-like low-angle tail and the same divergence at 2θ → 0 and 180°.

    The convolution is a first-order recursion along the grid with the local τ (τ changes by a few
    % over a line's tail even at 10°), run from the high-angle end downwards below 90° and upwards
    above (:class:`_TailPlan`); it is linear in ``y``, so a Jacobian's columns go through the same
    call.

    Parameters
    ----------
    y : ndarray, shape (M,) or (M, K)
        Pattern (or columns) on the uniform grid ``xp``.
    xp : ndarray, shape (M,)
        2θ (degrees), uniform and increasing.
    tau20 : float
        Tail length at 2θ = 20° (degrees); 0 leaves ``y`` unchanged.
    derivative_of : (ndarray, ndarray), optional
        A pattern ``y0`` (M,) and its tail ``z0``: one more column is appended to the result (``y``
        must then be 2-D, possibly with no columns), the derivative of ``z0`` by ``tau20``.

    Returns
    -------
    ndarray, shape of ``y`` (plus one column with ``derivative_of``)
    """
    if xp.size < 2:
        out = y.copy()
        return out if derivative_of is None else np.column_stack([out, np.zeros(xp.size)])
    plan = _kept(_TAIL_PLANS, xp, float(tau20), lambda: _TailPlan(xp, tau20))
    return plan.apply(y, extra=derivative_of)
