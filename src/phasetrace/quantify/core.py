"""The variable-projection core: what every whole-pattern model shares.

A whole-pattern model is ``y ≈ B b + A(θ) c``: a smooth background ``B b`` and one column per phase
(``A``, depending on nonlinear shape parameters θ) with linear amplitudes ``c ≥ 0``. Variable
projection solves the linear part exactly for every θ, so that the nonlinear solver only sees θ:

* the background is projected out of the weighted data and columns (:func:`orthonormal_basis`,
  :class:`Projector`), so that only the amplitudes remain as bounded linear unknowns;
* the amplitudes are a non-negative least-squares solve (:func:`nonnegative_amplitudes`, scipy's
  NNLS on normalised columns), or, for regularised problems with box bounds, :func:`bounded_lsq`
  (scipy's ``lsq_linear``);
* the nonlinear parameters are refined by :func:`levenberg_marquardt` with the model's analytic
  derivatives (Kaufman's Jacobian: the derivative columns with the model's column space projected out,
  :func:`project_out`), bounds by projection;
* standard errors from :func:`inverse_diagonal` of the (normalised) information matrix.

The Raman band model (:mod:`phasetrace.quantify.raman`) and the XRD whole-pattern model
(:mod:`phasetrace.quantify.fit`, analytic derivatives from :func:`phasetrace.quantify.model.phase_pattern`)
both run on it.

Only parameter × parameter systems are factorised: LAPACK on tall matrices is slow and erratic with
a multi-threaded BLAS on a loaded machine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from scipy.optimize import lsq_linear, nnls

__all__ = [
    "Projector",
    "bounded_lsq",
    "gram_ridge",
    "inverse_diagonal",
    "levenberg_marquardt",
    "nonnegative_amplitudes",
    "normal_lstsq",
    "one_blas_thread",
    "orthonormal_basis",
    "project_out",
    "single_blas_thread",
]


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread():
    """Context in which the BLAS/OpenMP libraries loaded so far use one thread (threadpoolctl).

    A whole-pattern fit multiplies thousands of points by a few dozen columns at a time: far too
    little work per call for a second BLAS thread, which on a shared two-core machine spins and
    waits instead (a known-phase fit took 0.46 s of process time with two OpenBLAS threads, 0.25 s
    with one, and no less wall time). One thread also makes the floating-point results independent of
    where a fit runs (a multithreaded BLAS sums in another order), as the series tasks need.
    The limit is process-wide while the context is open.
    """
    return _blas_controller().limit(limits=1)


def single_blas_thread(fn: Callable) -> Callable:
    """Decorator: ``fn`` runs inside :func:`one_blas_thread` (signature and docstring kept)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with one_blas_thread():
            return fn(*args, **kwargs)

    return run


# Only small (parameters × parameters) systems are factorised: LAPACK on tall matrices is slow and erratic
# with a multi-threaded BLAS on a loaded machine.
def gram_ridge(a: np.ndarray) -> np.ndarray:
    """``aᵀa`` with a tiny ridge (10⁻¹² of its trace) so that Cholesky never fails on rank loss."""
    g = a.T @ a
    g[np.diag_indices_from(g)] += 1e-12 * max(float(np.trace(g)), 1e-300)
    return g


def orthonormal_basis(m: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of ``m`` (full column rank), by Cholesky of the Gram matrix."""
    if m.shape[1] == 0:
        return m
    return np.linalg.solve(np.linalg.cholesky(gram_ridge(m)), m.T).T


def project_out(v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``v`` minus its least-squares projection on the columns of ``a``."""
    if a.shape[1] == 0:
        return v
    return v - a @ np.linalg.solve(gram_ridge(a), a.T @ v)


def inverse_diagonal(info: np.ndarray) -> np.ndarray:
    """Diagonal of the inverse of a symmetric positive (semi-)definite matrix."""
    try:
        low = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return np.diag(np.linalg.pinv(info, hermitian=True))
    inv_low = np.linalg.solve(low, np.eye(low.shape[0]))
    return np.einsum("ij,ij->j", inv_low, inv_low)


def normal_lstsq(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares ``min ‖a c − b‖`` for a tall ``a`` (N ≫ K) by its K × K normal equations.

    The columns are scaled to unit norm and the Gram matrix is factorised by Cholesky: equal to
    ``numpy.linalg.lstsq`` to rounding for well-posed problems, and on a loaded two-core machine
    ten times faster (LAPACK's tall SVD with a multi-threaded BLAS took ~40 ms for 7,000 × 25).
    A singular Gram matrix falls back to ``lstsq`` and a pseudo-inverse.

    Parameters
    ----------
    a : numpy.ndarray, shape (N, K)
    b : numpy.ndarray, shape (N,) or (N, M)

    Returns
    -------
    coef : numpy.ndarray, shape (K,) or (K, M)
    inv_diag : numpy.ndarray, shape (K,)
        Diagonal of ``(aᵀa)⁻¹`` (the unscaled variances of ``coef``).
    """
    norm = np.maximum(np.sqrt(np.sum(a * a, axis=0)), 1e-300)
    an = a / norm
    g = an.T @ an
    scale = norm if b.ndim == 1 else norm[:, None]
    try:
        low = np.linalg.cholesky(g)
    except np.linalg.LinAlgError:
        coef = np.linalg.lstsq(an, b, rcond=None)[0]
        return coef / scale, np.diag(np.linalg.pinv(g, rcond=1e-12)) / norm**2
    coef = np.linalg.solve(low.T, np.linalg.solve(low, an.T @ b))
    inv_low = np.linalg.solve(low, np.eye(low.shape[0]))
    return coef / scale, np.einsum("ij,ij->j", inv_low, inv_low) / norm**2


class Projector:
    """Projection of a weighted background basis out of weighted vectors (variable projection).

    Parameters
    ----------
    basis : numpy.ndarray, shape (N, K)
        Background basis (e.g. Chebyshev polynomials), unweighted.
    sw : numpy.ndarray, shape (N,)
        Square roots of the point weights (1/σ).
    """

    def __init__(self, basis: np.ndarray, sw: np.ndarray):
        self.basis = basis
        self.q = orthonormal_basis(basis * sw[:, None])

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """Weighted vector(s) ``v`` with the weighted background removed."""
        return v - self.q @ (self.q.T @ v)


#: Norm below which a column counts as zero in :func:`nonnegative_amplitudes`: the square root of the
#: smallest normal float, where the sum of squares behind a norm underflows.
_DEAD_COLUMN_NORM = float(np.sqrt(np.finfo(float).tiny))


def nonnegative_amplitudes(
    a: np.ndarray, y: np.ndarray, *, maxiter_per_column: int = 50, normal: bool = False
) -> tuple[np.ndarray, float]:
    """Non-negative least squares ``min ‖a c - y‖, c ≥ 0`` on unit-norm columns (scipy's NNLS).

    Parameters
    ----------
    a : numpy.ndarray, shape (N, K)
    y : numpy.ndarray, shape (N,)
    maxiter_per_column : int
        NNLS iteration limit per column.
    normal : bool
        Solve the same problem in its K × K form ``‖Lᵀc − L⁻¹aᵀy‖`` (``aᵀa = LLᵀ``): for
        N ≫ K (thousands of points, a few columns) six times faster than NNLS on the tall
        matrix, equal to rounding. Falls back to the tall form when ``aᵀa`` is singular.

    Returns
    -------
    c : numpy.ndarray, shape (K,)
    chi2 : float
        The squared residual norm.
    """
    norm = np.linalg.norm(a, axis=0)
    dead = ~(norm > _DEAD_COLUMN_NORM)
    if dead.any() and a.shape[1]:
        # a column the model made (almost) zero, e.g. peaks narrower than the scan's step that fall
        # between its points: its norm underflows, a / norm cannot be formed, and an amplitude
        # divided by it overflowed (10²¹⁷, then inf and NaN in the next Jacobian). It carries
        # nothing, so its amplitude is 0.
        c = np.zeros(a.shape[1])
        if dead.all():
            return c, float(y @ y)
        live = np.flatnonzero(~dead)
        c[live], chi2 = nonnegative_amplitudes(
            a[:, live], y, maxiter_per_column=maxiter_per_column, normal=normal
        )
        return c, chi2
    an = a / norm
    if normal and a.shape[1]:
        try:
            low = np.linalg.cholesky(an.T @ an)
        except np.linalg.LinAlgError:
            low = None
        if low is not None:
            rhs = np.linalg.solve(low, an.T @ y)
            c, rnorm = nnls(low.T, rhs, maxiter=maxiter_per_column * a.shape[1])
            chi2 = float(y @ y - rhs @ rhs + rnorm * rnorm)
            return c / norm, max(chi2, 0.0)
    c, rnorm = nnls(an, y, maxiter=maxiter_per_column * a.shape[1])
    return c / norm, float(rnorm * rnorm)


def levenberg_marquardt(
    evaluate: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[], np.ndarray],
    p0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    tiny: np.ndarray,
    max_nfev: int,
    lam0: float = 1e-3,
    dcost: Callable[[float], float] | None = None,
    lam_factors: tuple[float, float] = (3.0, 4.0),
    hold_at_bounds: bool = False,
    step_map: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    give_up: Callable[[float, float], bool] | None = None,
) -> tuple[np.ndarray, float, int]:
    """Levenberg-Marquardt with bounds by projection, for variable-projection residuals.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(p)`` sets the model to ``p`` (solving its linear part) and returns the residual
        vector (data and prior terms).
    jacobian : callable
        ``jacobian()``: the residual's Jacobian at the point last evaluated (always the current
        ``p`` when it is called), e.g. Kaufman's: analytic derivative columns with the model's
        column space projected out.
    p0, lower, upper : numpy.ndarray, shape (P,)
        Start and bounds (the start is clipped to them).
    tiny : numpy.ndarray, shape (P,)
        A step smaller than this in every parameter ends the refinement.
    max_nfev : int
        Most residual evaluations.
    lam0 : float
        Initial damping (Marquardt's diagonal scaling).
    dcost : callable, optional
        ``dcost(cost)``: an accepted step that lowers the cost by less than this ends the
        refinement (e.g. a χ² change far below 1 is statistically meaningless). Without it,
        a relative decrease below 10⁻⁷ does.
    lam_factors : (float, float)
        The damping is divided by the first after an accepted step and multiplied by the
        second after a rejected one.
    hold_at_bounds : bool
        Parameters at a bound whose gradient points out of the box are held for the step (the
        step is solved for the others): without it their clipped steps cost evaluations while
        the damping rises for all.
    step_map : callable, optional
        ``step_map(p, step)``: the trial point (before the bounds clip it) for a solved ``step``
        from ``p``; default ``p + step``. For parameters whose linearisation the Jacobian gives in
        another variable (e.g. a width term near 0, whose model is linear in its square).

    Returns
    -------
    p : numpy.ndarray
        The solution; the model is left evaluated there.
    cost : float
        Its squared residual norm.
    nfev : int
        Evaluations used.
    """
    p = np.clip(p0, lower, upper)
    r = evaluate(p)
    cost = float(r @ r)
    lam, nfev, at_p = lam0, 1, True
    while nfev < max_nfev:
        jac = jacobian()
        h = jac.T @ jac
        g = jac.T @ r
        if give_up is not None and give_up(cost, _gauss_newton_reduction(h, g)):
            break
        dh = np.diag(h).copy()
        dh[dh <= 0] = 1.0
        accepted, gain, small = False, 0.0, False
        free = np.ones(p.size, dtype=bool)
        if hold_at_bounds:
            free = ~(((p <= lower) & (g > 0)) | ((p >= upper) & (g < 0)))
        hf = h[np.ix_(free, free)]
        while nfev < max_nfev:
            step = np.zeros(p.size)
            step[free] = np.linalg.solve(hf + lam * np.diag(dh[free]), -g[free])
            trial = np.clip(p + step if step_map is None else step_map(p, step), lower, upper)
            if np.all(np.abs(trial - p) <= tiny):
                break
            rt = evaluate(trial)
            nfev += 1
            at_p = False
            ct = float(rt @ rt)
            if ct < cost:
                gain = (cost - ct) / max(cost, 1e-300)
                small = dcost is not None and cost - ct < dcost(ct)
                p, r, cost, at_p = trial, rt, ct, True
                lam = max(lam / lam_factors[0], 1e-9)
                accepted = True
                break
            lam *= lam_factors[1]
        if not accepted or gain < 1e-7 or small:
            break
    if not at_p:
        evaluate(p)
    return p, cost, nfev


def _gauss_newton_reduction(h: np.ndarray, g: np.ndarray) -> float:
    """Cost reduction of the undamped, unbounded Gauss-Newton step: ``gᵀ h⁺ g``."""
    if not g.size:
        return 0.0
    # scaled to unit diagonal (the parameters' units differ by orders of magnitude), then the
    # pseudo-inverse: a direction the data do not determine (zero curvature) promises nothing
    d = np.sqrt(np.maximum(np.diag(h), 1e-300))
    hs = h / np.outer(d, d)
    gs = g / d
    step = np.linalg.lstsq(hs, gs, rcond=1e-12)[0]
    return float(max(gs @ step, 0.0))


def bounded_lsq(
    h: np.ndarray, g: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``½ cᵀhc - gᵀc`` subject to ``lower ≤ c ≤ upper`` (``h`` symmetric positive definite).

    Solved as the bounded least-squares problem ``½‖Lᵀc - L⁻¹g‖²`` (``h = LLᵀ``) by scipy's
    ``lsq_linear`` (bounded-variable least squares). A hand-written active-set solver was 2.4× faster
    per problem (0.28 against 0.67 ms on the 296 problems of 24 sample spectra), which is about 0.5 %
    of a Raman fit: not worth its code.

    Returns
    -------
    c : numpy.ndarray
        The solution.
    free : numpy.ndarray of bool
        The variables not held at a bound.
    """
    low = np.linalg.cholesky(h)
    res = lsq_linear(low.T, np.linalg.solve(low, g), bounds=(lower, upper), method="bvls", tol=1e-12)
    return res.x, res.active_mask == 0
