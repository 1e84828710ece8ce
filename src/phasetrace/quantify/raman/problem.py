"""The Raman fit as a variable-projection problem on :mod:`phasetrace.quantify.core`, and its statistics.

Amplitudes and background coefficients are linear (the background projected out, the amplitudes
solved by NNLS), the band shapes nonlinear (Levenberg-Marquardt with Kaufman's Jacobian); the
significance, unique-evidence and missing-band tests of the detection rules are here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial import chebyshev

from ..core import (
    Projector,
    bounded_lsq,
    gram_ridge,
    inverse_diagonal,
    levenberg_marquardt,
    nonnegative_amplitudes,
    project_out,
)
from .bands import (
    BandModel,
    BandTerms,
    band_derivatives,
    band_profiles,
    band_terms,
    corresponds,
    peak_height,
    similarity,
)
from .result import RamanFitConfig

__all__ = ["RamanProblem", "Statistics", "statistics"]


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


#: The coarse shift/width grid evaluates profiles within this many (widest allowed) FWHM of the bands.
GRID_REACH_FWHM = 5.0


EXCHANGE_BANDS = 0.3


#: Exchange step: candidates at least this similar to a phase of the model are tried in its place
#: when they would lower χ² by more than this fraction of what the phase does; rounds of exchanges.
EXCHANGE_SIMILARITY = 0.8


class RamanProblem:
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
        models: list[BandModel],
        cfg: RamanFitConfig,
    ):
        self.x, self.y, self.sw, self.cfg = x, y, sw, cfg
        self.nbg = nbg
        self.bg = chebyshev.chebvander(np.linspace(-1.0, 1.0, x.size), nbg - 1)
        self.perp = Projector(self.bg, sw)  # removes the weighted background from weighted vectors
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
        # per phase: the parameters and profile terms of its last refresh inside a refinement, so that the
        # Jacobian at the same shapes does not evaluate the profiles again
        self._terms: dict[int, tuple[tuple[np.ndarray, ...], BandTerms]] = {}
        for i in range(m):
            self.refresh(i)
        self.amp = np.zeros(m)
        self.on = np.zeros(m, dtype=bool)
        self.why_out = [""] * m
        self.groups: dict[int, list[BandModel]] = {}  # slot -> indistinguishable members (first in the fit)
        self._similar: dict[tuple[str, str], bool] = {}
        self.sig_u = math.log(cfg.width_bounds[1] / cfg.width_bounds[0]) / 4.0 or 1.0
        self.lw = (math.log(cfg.width_bounds[0]), math.log(cfg.width_bounds[1]))

    # -- columns
    def _shape(self, i: int) -> tuple[np.ndarray, ...]:
        """Phase ``i``'s band centres, widths, areas and asymmetries (copies, not views of its state)."""
        m = self.models[i]
        return m.centres(), m.widths(), m.areas(), m.asym().copy()

    def refresh(self, i: int, keep: bool = False) -> None:
        """Recompute phase ``i``'s column after a change of its shape (derivatives on demand).

        ``keep``: keep the profiles' terms for the derivatives at this shape (a refinement's step).
        """
        c, w, a, s = shape = self._shape(i)
        if keep:
            t = band_terms(self.x, c, w, a, self.cfg.eta, s)
            self._terms[i] = (shape, t)
            self.cols[:, i] = t.val.sum(axis=1)
        else:
            self._terms.pop(i, None)
            self.cols[:, i] = band_profiles(self.x, c, w, a, self.cfg.eta, s)[0].sum(axis=1)
        self.wcols[:, i] = self.perp(self.cols[:, i] * self.sw)
        self.fresh[i] = False

    def derivatives(self, idx: Sequence[int]) -> None:
        """Make the shape derivatives of phases ``idx`` current."""
        for i in idx:
            if self.fresh[i]:
                continue
            m = self.models[i]
            shape = self._shape(i)
            kept = self._terms.get(i)
            if kept is not None and all(np.array_equal(p, q) for p, q in zip(kept[0], shape, strict=True)):
                t = kept[1]
            else:
                t = band_terms(self.x, *shape[:3], self.cfg.eta, shape[3])
            val = t.val
            dc, dw, da = band_derivatives(t, m.flexible)
            self.dshift[:, i] = dc.sum(axis=1)
            self.dlogw[:, i] = dw.sum(axis=1)
            if m.flexible:
                self.dband[i] = (val, dc, dw, da)
            else:
                self.dband.pop(i, None)
            self.fresh[i] = True

    def weighted(self, idx: Sequence[int] | np.ndarray | slice) -> np.ndarray:
        """Weighted columns of phases ``idx``, the background projected out."""
        return self.wcols[:, idx]

    # -- linear part
    def solve(self) -> float:
        """NNLS of the amplitudes of the phases in the model (``on``); returns χ²."""
        self.amp = np.zeros(len(self.models))
        idx = np.flatnonzero(self.on)
        if idx.size == 0:
            return float(self.yw @ self.yw)
        c, chi2 = nonnegative_amplitudes(self.weighted(idx), self.yw)
        self.amp[idx] = c
        return chi2

    def residual_w(self) -> np.ndarray:
        """Weighted residual (background projected out) at the current amplitudes."""
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

    def _similar_now(self, a: BandModel, b: BandModel) -> bool:
        wmax = self.cfg.width_bounds[1]
        if not (corresponds(a, b, wmax, EXCHANGE_BANDS) and corresponds(b, a, wmax, EXCHANGE_BANDS)):
            return False
        key = (self.cfg.eta, *self.cfg.width_bounds)
        return similarity(a.key(), b.key(), key) >= EXCHANGE_SIMILARITY

    # -- priors
    def prior(self, i: int) -> float:
        """Prior penalty of phase ``i``'s shape (common shift and width, per-band distortions)."""
        m = self.models[i]
        out = (2.0 * m.shift / max(m.bound, 1e-9)) ** 2 + (m.logw / self.sig_u) ** 2
        if m.flexible:
            out += float(np.sum((m.band[m.free] / np.array(BAND_FREEDOM)) ** 2))  # unfitted terms stay 0
        return out

    def objective(self) -> float:
        """χ² plus the prior penalties of the phases in the model."""
        r = self.residual_w()
        return float(r @ r) + sum(self.prior(j) for j in np.flatnonzero(self.amp > 0))

    # -- shapes
    def states(self) -> list[tuple]:
        """Every phase's shape parameters, to restore later."""
        return [m.state() for m in self.models]

    def restore(self, states: list[tuple]) -> None:
        """Set the shapes saved by :meth:`states` (columns recomputed where changed)."""
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
            height = m.areas() * peak_height(m.widths(), self.cfg.eta) * self.amp[i]
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
        val = band_profiles(xs, centres, widths, np.tile(m.area, len(combos)), self.cfg.eta)[0]
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
        c = project_out(cols, lin)
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
                self.refresh(i, keep=True)
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
            d = project_out(self.perp(d * self.sw[:, None]), self.weighted(np.flatnonzero(self.amp > 0)))
            return np.vstack([-d, np.diag(inv_sig)])

        tiny = np.where(np.array([k for _, k, _ in layout]) == 0, 0.01, 1e-4)
        tiny[[n for n, (_, k, _) in enumerate(layout) if k == 3]] = 0.01
        try:
            levenberg_marquardt(
                evaluate, jacobian, params(), lo, hi, tiny=tiny, max_nfev=max_nfev or self.cfg.max_nfev
            )
        finally:
            self._terms.clear()  # (points × bands) arrays per phase: not kept past the refinement


@dataclass
class Statistics:
    """GoF², amplitudes, esds, significances (whole-spectrum ``z``, unique ``zu``) and missing bands."""

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


def statistics(
    prob: RamanProblem, *, full: bool = True, unique: bool | Sequence[int] = True, rest: bool = True
) -> Statistics:
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
        esd[active] = np.sqrt(np.maximum(inverse_diagonal((lin / norm).T @ (lin / norm)), 0.0)) / norm * scale
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
            esd_full[active] = np.sqrt(np.maximum(inverse_diagonal(info)[:k], 0.0)) / norm[:k] * scale
    left = [i for i in range(n) if prob.amp[i] <= 0] if rest else []
    if left:
        cols = project_out(prob.weighted(left), lin)
        cc = np.einsum("ij,ij->j", cols, cols)
        safe = np.where(cc > 0, cc, 1.0)
        amp[left] = np.where(cc > 0, (cols.T @ r) / safe, 0.0)
        esd[left] = np.where(cc > 0, scale / np.sqrt(safe), np.inf)
    z = np.where(np.isfinite(esd) & (esd > 0), amp / np.where(esd > 0, esd, 1.0), 0.0)
    phase_sum = prob.cols[:, active] @ prob.amp[active] if k else np.zeros(prob.x.size)
    bg_w = prob.bg * prob.sw[:, None]
    background = prob.bg @ np.linalg.solve(gram_ridge(bg_w), bg_w.T @ ((prob.y - phase_sum) * prob.sw))
    zu = np.zeros(n)
    missing = {}
    for j in active if unique is True else [j for j in (unique or ()) if j in active]:
        zu[j] = _unique(prob, j, background)
        why = _missing_band(prob, j, background, phase_sum)
        if why:
            missing[j] = why
    return Statistics(gof2, amp, esd, esd_full, z, zu, background, phase_sum, missing)


def _missing_band(prob: RamanProblem, j: int, background: np.ndarray, phase_sum: np.ndarray) -> str:
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
    height = areas * peak_height(widths, prob.cfg.eta)
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
        one = band_profiles(
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


def _unique(prob: RamanProblem, j: int, background: np.ndarray) -> float:
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
    height = m.areas() * peak_height(width, prob.cfg.eta)
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
        val, dc, dw, da = band_profiles(
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
    coef, free = bounded_lsq(h, an.T @ rhs, -lim, lim)
    res = rhs - an @ coef
    f = np.flatnonzero(free)
    var0 = inverse_diagonal(h[np.ix_(f, f)])[0]  # the phase's amplitude is never held
    n_par = float(np.trace(np.linalg.solve(h[np.ix_(f, f)], gram[np.ix_(f, f)])))
    gof2 = float(res @ res) / max(npt - n_par, 1.0)
    return float(coef[0] / math.sqrt(var0 * max(1.0, gof2))) if var0 > 0 else 0.0
