"""Phase-set selection: forward addition by an information criterion, then an overfit test.

Starting from the host phases (or the best single candidate), each round tries
every remaining candidate with a cheap linear solve (its column added at its
best cell scale, all other parameters fixed), adds the one that lowers chi²
most if it passes both the Bayesian information criterion (scaled by the
goodness of fit, so that systematic misfit is not mistaken for a phase) and a
scale-factor significance test, and refines the model. Afterwards each phase is
tried out of the model again (overfit test), and phases that the data cannot
tell apart from a chosen one are reported as its alternatives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..library.phases import USER_FAMILY, PhaseLibrary
from ..library.twins import structural_twins
from ..peaks.profiles import axial_tail_length
from ..scan import Scan
from .core import normal_lstsq
from .fit import ColumnCache, FitState, LinearSolver, QuantConfig, background_terms, fit_pattern, model_digest
from .missing import (
    MissingReflections,
    broad_resolved_significance,
    misfit_borne,
    missing_reflections,
    resolved_significance,
)
from .model import WINDOW_FWHM, PhaseModel, chebyshev_basis, phase_columns
from .phase_models import phase_models, start_from
from .residual import misfit_gof2

__all__ = ["select_phases", "twins", "unique_evidence"]

#: Extra criterion margin (in chi² units after GoF scaling) beyond k ln N.
BIC_MARGIN = 10.0
#: Parameters a new phase brings (scale, cell, size).
PARAMS_PER_PHASE = 3
#: A swap that costs less than this (GoF-scaled chi²) makes two phases alternatives.
ALTERNATIVE_CHI2 = 25.0
#: Leaving a preferred (host) phase for a twin that is not preferred needs this much more (GoF-scaled chi²).
PRIOR_CHI2 = 100.0
#: A family member is refitted in a chosen phase's place when the quick test leaves no more than this
#: fraction of the chosen phase's explained chi² unexplained.
SWAP_SCREEN = 0.25
#: ... or this fraction when the chosen phase is preferred and the other is not.
SWAP_SCREEN_PREFERRED = 0.05
#: A family member refitted in a chosen phase's place further than this (GoF-scaled chi²) above the current
#: set decides nothing: a swap wins below -PRIOR_CHI2 at most, the winner's nearer twin (or a tie-break)
#: lies within ALTERNATIVE_CHI2 of a winner.
SWAP_DECISIVE = PRIOR_CHI2 + 2.0 * ALTERNATIVE_CHI2
#: A family swap's refit is abandoned once its χ², less this many times the reduction the undamped
#: Gauss-Newton step promises from there, still lies above the decisive bar (it could not win or be a
#: near twin: the outcome is the same, without the rest of its SWAP_NFEV evaluations). In 39 logged swap
#: refits of the validation scans the χ² still gained from any point after the first step was at most
#: 1.1x that promise; the factor leaves a wide margin for fits that find a further descent.
GIVE_UP = 10.0
#: Residual evaluations allowed to the intermediate fits of the selection (the final fit converges fully).
QUICK_NFEV = 12
#: ... and to the refits that decide between family members (a swapped-in phase starts further off).
SWAP_NFEV = 40
#: A candidate whose chi² gain is below this fraction of the bar is not tried again in later rounds.
HOPELESS_FRACTION = 0.2
#: ... and only once the model's squared goodness of fit is below this.
HOPELESS_GOF2 = 4.0
#: Largest automatically selected model.
MAX_PHASES = 8
#: Forward steps and family swaps alternate at most this often (another round only after a swap).
SELECTION_ROUNDS = 3
#: Cell-scale grid step for testing a candidate (fraction), on broadened peaks.
TRIAL_STEP = 0.002
TRIAL_SIZE = 0.12
#: Size-broadening terms (degrees at cos θ = 1; about 280, 85 and 35 nm in Cu Kα) a candidate is tested
#: with at its best cell scale.
TRIAL_WIDTHS = (0.03, 0.10, 0.25)
#: Sampling (degrees) of the broadened candidate patterns in that grid search.
GRID_SAMPLING = 0.03
#: Half width of those patterns' profile windows, in FWHM of the column's broadest line (the fits use
#: WINDOW_FWHM = 12). The grid search ranks cell scales and widths by where the peaks stand; the
#: Lorentzian wings beyond ± 4 FWHM (under 8 % of a pure Lorentzian's area, spread over ± 12 FWHM)
#: are nearly the same for neighbouring grid points and do not move the ranking: with 4 instead of 12,
#: 0 of the 95 scans of benchmarks/answers.py changed their phase set or flags, the largest wt % change
#: was 0.001, and the grid columns cost about a third less.
GRID_WINDOW_FWHM = 4.0


def _beyond(bar: float) -> Callable[[float, float], bool]:
    """A refit's ``give_up`` test: its χ² cannot come down below ``bar`` any more (see :data:`GIVE_UP`).

    Checked at each Jacobian from the second on (the first, at the start values, is where the
    swapped-in phase may still be far from its peaks and the linear model says little).
    """
    jacobians = [0]

    def test(cost: float, reduction: float) -> bool:
        jacobians[0] += 1
        return jacobians[0] > 1 and cost - bar > GIVE_UP * reduction

    return test


def _models_for(scan: Scan, library: PhaseLibrary, ids: Sequence[str], config: QuantConfig):
    return phase_models(scan, library, ids, config)


def line_offset(globals_: Mapping[str, float], two_theta: np.ndarray, radius_mm: float) -> np.ndarray:
    """Where the instrument globals put a line's centroid relative to its Bragg angle (degrees).

    Zero shift, specimen displacement (``-2 s cos θ / R``) and the mean of the axial-divergence
    tail (an exponential of length ``τ₂₀ tan 20° / |tan 2θ|`` towards the nearer end of the range,
    see :func:`phasetrace.peaks.profiles.axial_tail`).
    """
    tt = np.radians(np.asarray(two_theta, dtype=float))
    tail = axial_tail_length(np.degrees(tt), float(globals_.get("asymmetry", 0.0)))
    tail = np.where(tt < np.pi / 2, -tail, tail)
    disp = -np.degrees(2.0 * float(globals_.get("displacement", 0.0)) * 1e-3 / radius_mm * np.cos(tt / 2))
    return float(globals_.get("zero", 0.0)) + disp + tail


#: Kept grid columns are made again once the globals have moved some line by more than this fraction
#: of the cell grid's step (as the equivalent cell-scale change at that line's angle).
GRID_STALE_STEPS = 0.25


class _GridColumns(dict):
    """The grid search's broadened candidate columns of one selection, with the globals they were made at.

    They are kept across rounds because the globals usually move lines by far less than the grid's
    step; but the first columns are made before any phase has refined the profile (axial tail at its
    start value, displacement 0), and a 0.08° tail with 60 µm displacement moves a line at 20° by
    about 0.1° (nearly a cell step of 0.2 %, and more than a third of the broadened width). Grid
    columns that stale pick a wrong cell scale in a family member's quick test (LaNiO3 at 0.999
    instead of 0.998 lost to LaCoO3 by 7,000 χ², with the real fit 1,600 χ² in its favour).
    """

    def __init__(self) -> None:
        super().__init__()
        self.made_with: dict[str, float] | None = None
        #: the last state's trial terms (state, √weights, linear solver, GoF², misfit GoF²), shared by the
        #: trials made against that same state object
        self.state_terms: tuple | None = None

    def follow(self, globals_: Mapping[str, float], x: np.ndarray, radius_mm: float) -> None:
        """Forget the columns when ``globals_`` place some line differently from those they were made at."""
        g = {k: float(globals_.get(k, 0.0)) for k in ("zero", "displacement", "asymmetry")}
        if self.made_with is not None and self:
            tt = np.linspace(float(x[0]), float(x[-1]), 64)
            moved = np.abs(line_offset(g, tt, radius_mm) - line_offset(self.made_with, tt, radius_mm))
            # a line moved by δ(2θ) looks like a cell scale changed by δ / (2 tan θ)
            rel = np.radians(moved) / (2.0 * np.tan(np.radians(tt / 2)))
            if float(rel.max()) <= GRID_STALE_STEPS * TRIAL_STEP:
                return
        self.clear()
        self.made_with = g


#: Candidate columns kept across selections in this process (about 1,000 broadened grid columns of a
#: 10-80° scan, or 700 full columns of 7,000 points).
_COLUMNS = ColumnCache(48 * 2**20)


class _Trial:
    """Linear-only tests of candidate columns against a fixed model."""

    def __init__(self, scan: Scan, state: FitState, config: QuantConfig, cache: dict | None = None):
        rad = scan.meta.radiation
        self.lams = (rad.kalpha1, rad.kalpha2) if rad.is_doublet else (rad.kalpha1,)
        self.wts = (1.0, rad.ratio) if rad.is_doublet else (1.0,)
        self.state = state
        self.config = config
        # broadened, coarsely sampled grid columns are kept across the rounds of one selection while the
        # globals they were made with place the lines where the state does (see _GridColumns)
        self.cache = cache if cache is not None else _GridColumns()
        kept = getattr(self.cache, "state_terms", None)
        if kept is not None and kept[0] is state:
            # another trial against the same fitted state (the family swaps test each chosen phase)
            _, self.sw, self.solver, self.gof2_plain, self.gof2 = kept
        else:
            self.sw = np.sqrt(state.weights)
            self.solver = LinearSolver(chebyshev_basis(state.x, len(state.bg_coef)), state.y, self.sw)
            self.gof2_plain = max(state.chi2 / max(state.y.size - state.n_params, 1), 1.0)
            # evidence is scaled by the misfit of the modelled reflections, not by a stranger's peaks
            self.gof2 = misfit_gof2(
                state.x, state.y, state.ycalc, state.background, state.weights, state.n_params, _curves(state)
            )
            if isinstance(self.cache, _GridColumns):
                self.cache.state_terms = (state, self.sw, self.solver, self.gof2_plain, self.gof2)
        # the grid search runs on broadened peaks, which a coarser sampling describes as well
        step = (state.x[-1] - state.x[0]) / max(state.x.size - 1, 1)
        self.every = max(1, int(round(GRID_SAMPLING / step)))
        self.last_size = TRIAL_WIDTHS[0]
        if isinstance(self.cache, _GridColumns):
            self.cache.follow(state.globals_, state.x, config.radius_mm)
        self._residual: tuple | None = None
        self._x_digest: dict[bool, bytes] = {}
        self._key_globals: tuple | None = None

    def column(self, model: PhaseModel, scale: float, size: float, *, coarse: bool = False) -> np.ndarray:
        """A candidate's unit-scale column at the state's globals (from :data:`_COLUMNS` when made before)."""
        return self.columns(model, [(scale, size)], coarse=coarse)[0]

    def columns(
        self, model: PhaseModel, pairs: Sequence[tuple[float, float]], *, coarse: bool = False
    ) -> list[np.ndarray]:
        """:meth:`column` at several (cell scale, size) pairs; those not kept are made in one pass."""
        keys: list[tuple | None] = [None] * len(pairs)
        out: list[np.ndarray | None] = [None] * len(pairs)
        if self.config.instrument is None:
            if coarse not in self._x_digest:
                x = self.state.x[:: self.every] if coarse else self.state.x
                digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16)
                self._x_digest[coarse] = digest.digest()
            if self._key_globals is None:
                g = self.state.globals_
                self._key_globals = tuple(sorted((k, float(v)) for k, v in g.items()))
            x_digest, m_digest = self._x_digest[coarse], model_digest(model)
            for i, (scale, size) in enumerate(pairs):
                keys[i] = (
                    x_digest,
                    m_digest,
                    self.lams,
                    self.wts,
                    float(scale),
                    float(size),
                    self._key_globals,
                    self.config.u,
                    self.config.v,
                    self.config.radius_mm,
                    self.config.monochromator_2theta,
                )
                out[i] = _COLUMNS.get(keys[i])
        todo = [i for i, col in enumerate(out) if col is None]
        if todo:
            made = self._compute_columns(model, [pairs[i] for i in todo], coarse=coarse)
            for i, col in zip(todo, made, strict=True):
                out[i] = col
                if keys[i] is not None:
                    col.setflags(write=False)
                    _COLUMNS.put(keys[i], col)
        return out

    def _compute_column(self, model: PhaseModel, scale: float, size: float, *, coarse: bool) -> np.ndarray:
        return self._compute_columns(model, [(scale, size)], coarse=coarse)[0]

    def _compute_columns(
        self, model: PhaseModel, pairs: Sequence[tuple[float, float]], *, coarse: bool
    ) -> list[np.ndarray]:
        """``phase_pattern`` columns at (cell scale, size) pairs, made together (:func:`phase_columns`)."""
        g = self.state.globals_
        cols = phase_columns(
            self.state.x[:: self.every] if coarse else self.state.x,
            model,
            scales=[p[0] for p in pairs],
            sizes=[p[1] for p in pairs],
            wavelengths=self.lams,
            weights=self.wts,
            u=g.get("u", self.config.u),
            v=g.get("v", self.config.v),
            w=g["w"],
            strain_y=0.0,
            eta=g["eta"],
            asymmetry=g.get("asymmetry", 0.0),
            zero=g["zero"],
            displacement=g["displacement"],
            radius_mm=self.config.radius_mm,
            monochromator_2theta=self.config.monochromator_2theta,
            angle_factor=self.config.instrument.angle_factor if self.config.instrument is not None else None,
            window_fwhm=GRID_WINDOW_FWHM if coarse else WINDOW_FWHM,
        )
        # contiguous columns, as phase_pattern returns them (the products taken with them are the same)
        return [np.ascontiguousarray(cols[:, k]) for k in range(len(pairs))]

    def _grid(self, model: PhaseModel, pairs: Sequence[tuple[float, float]]) -> list[np.ndarray]:
        """Coarse columns kept for the grid search (by id, rounded scale, size); missing ones made at once."""
        keys = [(model.id, round(float(s), 6), sz) for s, sz in pairs]
        todo: dict[tuple, tuple[float, float]] = {}
        for key, pair in zip(keys, pairs, strict=True):
            if key not in self.cache and key not in todo:
                todo[key] = pair  # the first pair of a rounded key makes its column, as one by one
        if todo:
            made = self.columns(model, list(todo.values()), coarse=True)
            for key, col in zip(todo, made, strict=True):
                self.cache[key] = col
        return [self.cache[key] for key in keys]

    def chi2(self, cols: np.ndarray) -> tuple[float, np.ndarray]:
        _, scales, ycalc = self.solver(cols)
        return float(np.sum(self.state.weights * (self.state.y - ycalc) ** 2)), scales

    def chi2_added(self, base: np.ndarray, col: np.ndarray) -> tuple[float, float]:
        """:meth:`chi2` of ``base`` columns plus ``col``: (chi², the new column's scale).

        :meth:`LinearSolver.chi2_added` (a block update on the projected ``base``) where it applies,
        else the full non-negative solve.
        """
        fast = self.solver.chi2_added(base, col)
        if fast is not None:
            return fast
        c2, sc = self.chi2(np.column_stack([base, col]))
        return c2, float(sc[-1])

    def _coarse_residual(self, base: np.ndarray) -> np.ndarray:
        """Residual of the ``base`` columns' solution on the grid search's points (kept per ``base``)."""
        if self._residual is None or self._residual[0] is not base:
            _, _, ycalc = self.solver(base)
            self._residual = (base, (self.state.y - ycalc)[:: self.every])
        return self._residual[1]

    def best_scale(
        self, model: PhaseModel, strain: float, base: np.ndarray, start: float | None = None
    ) -> tuple[float, float, float]:
        """Best cell scale of a candidate added to ``base`` columns: (scale, chi², its scale factor).

        The grid search on broadened peaks uses the one-column projection of
        the current residual, (cᵀWr)² / cᵀWc, which needs no linear solve; the
        best grid point is then solved properly at normal width.
        """
        w = self.state.weights[:: self.every]
        r = self._coarse_residual(base) * w
        # a start value (the peak matcher's cell) is one more grid point, not the answer: a wrong one
        # (LaCoO3 matched at -1 % onto La2Zr2O7's reflections) would hide the phase
        best_gain, s_best = -np.inf, 1.0
        grid = np.arange(1 - strain, 1 + strain + 1e-12, TRIAL_STEP)
        if start is not None:
            grid = np.r_[float(start), grid]
        for s, col in zip(grid, self._grid(model, [(s, TRIAL_SIZE) for s in grid]), strict=True):
            num = float(col @ r)
            if num <= 0:
                continue
            gain = num * num / float(col @ (col * w))
            if gain > best_gain:
                best_gain, s_best = gain, float(s)
        # the candidate's crystallites are unknown: a nanocrystalline product (45 nm, FWHM ~0.2°) tested
        # with narrow peaks explains a fraction of its own intensity and falls below the bar (LaCoO3 at
        # 0.9 wt %, 23σ once in the model, was left out that way); the best of a few widths is taken
        # (chosen on the coarse grid by the one-column projection, like the cell scale)
        size, best_w = TRIAL_WIDTHS[0], -np.inf
        widths = self._grid(model, [(s_best, sz) for sz in TRIAL_WIDTHS])
        for sz, col in zip(TRIAL_WIDTHS, widths, strict=True):
            num = float(col @ r)
            gain = num * num / float(col @ (col * w)) if num > 0 else -np.inf
            if gain > best_w:
                best_w, size = gain, sz
        out = (s_best, np.inf, 0.0)
        near = (s_best - TRIAL_STEP / 2, s_best, s_best + TRIAL_STEP / 2)
        for s, col in zip(near, self.columns(model, [(s, size) for s in near]), strict=True):
            c2, sc = self.chi2_added(base, col)
            if c2 < out[1]:
                out = (float(s), c2, sc)
        self.last_size = size
        return out

    def significance(self, base: np.ndarray, col: np.ndarray) -> float:
        """Scale factor of ``col`` over its standard error (GoF-scaled), with ``base`` columns."""
        a = np.column_stack([self.solver.a_bg, base, col]) * self.sw[:, None]
        coef, inv_diag = normal_lstsq(a, self.state.y * self.sw)
        sig = np.sqrt(max(inv_diag[-1] * self.gof2, 1e-300))
        return float(coef[-1] / sig)


def select_phases(
    scan: Scan,
    library: PhaseLibrary,
    pool: Sequence[str],
    config: QuantConfig,
    *,
    start: Mapping[str, Any] | None = None,
    fixed: Sequence[str] = (),
    prefer: Collection[str] = (),
) -> tuple[FitState, list[dict[str, Any]], dict[str, list[str]]]:
    """Choose the phase set from candidate ids (best first) and fit it.

    Parameters
    ----------
    scan : Scan
    library : PhaseLibrary
    pool : sequence of str
        Candidate ids, best first.
    config : QuantConfig
    start : mapping, optional
        Start values per phase id (e.g. the cell scale from peak matching).
    fixed : sequence of str
        Phases always in the model.
    prefer : collection of str
        Phases preferred among twins that fit about equally well (the system's
        host phases), before the candidate order.

    Returns
    -------
    (FitState, steps, alternatives)
        The final fit, the selection log, and phase id -> alternative ids.
    """
    start = dict(start or {})
    models_all, strains_all, textured_all = _models_for(scan, library, pool, config)
    info = {m.id: (m, s, t) for m, s, t in zip(models_all, strains_all, textured_all, strict=True)}
    pool = [p for p in pool if p in info]
    n = len(scan)
    steps: list[dict[str, Any]] = []

    quick = replace(config, max_nfev=QUICK_NFEV)

    def fit(
        ids: list[str],
        prev: FitState | None,
        *,
        final: bool = False,
        nfev: int | None = None,
        realign: bool = False,
        give_up: Callable[[float, float], bool] | None = None,
    ) -> FitState:
        st = start_from(prev, start)
        if prev is not None:
            # the phases of the previous fit start where it left them, and one new phase (added last, or
            # swapped in for a family member) at the cell its grid test found: no grid search over all
            # cells again, which would put a minor twin back onto a stranger's peaks wherever the phase
            # it replaces happened to stand in the list. A host swapped for its twin (``realign``) moves
            # the displacement and tail that every cell was fitted with: then all cells are searched again
            st.pop("aligned", None)
            prev_ids = {m.id for m in prev.models}
            st["aligned"] = not realign and sum(i not in prev_ids for i in ids) <= 1
        return fit_pattern(
            scan,
            [info[i][0] for i in ids],
            strains=[info[i][1] for i in ids],
            config=config if final else (replace(config, max_nfev=nfev) if nfev else quick),
            start=st,
            textured=[info[i][2] for i in ids],
            give_up=give_up,
        )

    # seed: the fixed phases, else nothing (background only): every phase, hosts included, has to earn
    # its place, so a host that has vanished (LLZTO with LNMO at 600 °C) is simply never added
    chosen: list[str] = [p for p in fixed if p in info]
    state = fit(chosen, None) if chosen else _background_only(scan, config)
    steps.append({"action": "start", "phases": list(chosen), "chi2": state.chi2})

    need = PARAMS_PER_PHASE * np.log(n) + BIC_MARGIN
    hopeless: set[str] = set()  # candidates whose gain was far below the bar: adding phases only lowers it
    grid_cache = _GridColumns()
    # a rejected candidate leaves the model as it was: the next round tests the others against the same
    # state, and their tests (deterministic functions of the state, the candidate's model, strain and
    # start) are taken from here instead of being made again
    tests: dict[tuple, tuple[float, float, float, float]] = {}
    tested_state: FitState | None = None
    # the forward steps and the family swaps alternate: a swap that changes the set is followed by
    # further forward steps against the new set (and swaps for the phases they add), at most
    # SELECTION_ROUNDS times
    swept: set[str] = set()  # chosen phases whose family members have been tried in their place
    for _round in range(SELECTION_ROUNDS):
        while len(chosen) < MAX_PHASES:
            if state is not tested_state:
                trial = _Trial(scan, state, config, grid_cache)
                empty = np.zeros((state.x.size, 0))
                base = state.columns[:, state.scales > 0] if state.columns.size else empty
                tests, tested_state = {}, state
            tried = []
            sizes: dict[str, float] = {}
            for pid in pool:
                if pid in chosen or pid in hopeless or any(_twins(library, info, pid, q) for q in chosen):
                    continue
                m, strain, _ = info[pid]
                hint = start.get(pid, {}).get("scale") if isinstance(start.get(pid), Mapping) else None
                key = (pid, id(m), strain, hint)
                if key not in tests:
                    tests[key] = (*trial.best_scale(m, strain, base, hint), trial.last_size)
                s, c2, sc, sizes[pid] = tests[key]
                gain = (state.chi2 - c2) / trial.gof2 if sc > 0 else 0.0
                # only against a model that already describes the pattern: before the hosts are in, the
                # residual is their unfitted peaks, and a minor phase's gain there means nothing
                if gain < HOPELESS_FRACTION * need and trial.gof2_plain < HOPELESS_GOF2:
                    hopeless.add(pid)
                if sc > 0:
                    tried.append((gain, pid, s))
            tried.sort(reverse=True)
            # among twins that fit about equally well, keep the one earlier in the candidate order (the
            # ranking puts the system's own host phases first): LNMO rather than LiMn2O4 for an LNMO pellet
            order = {p: (p not in prefer, i) for i, p in enumerate(pool)}
            for k, (gain, pid, s) in enumerate(tried):
                for j in range(k + 1, len(tried)):
                    g2, q, s2 = tried[j]
                    if (
                        gain - g2 < ALTERNATIVE_CHI2
                        and order[q] < order[pid]
                        and _twins(library, info, pid, q)
                    ):
                        tried[k], tried[j] = (g2 + 0.0, q, s2), (gain, pid, s)
                        break
            best = None
            for gain, pid, s in tried:
                if gain < need:
                    break
                col = trial.column(info[pid][0], s, sizes.get(pid, TRIAL_WIDTHS[0]))
                t = trial.significance(base, col)
                if t < config.detection_sigma:
                    continue
                # the evidence must stand where the candidate dominates the pattern: a phase whose pattern
                # is (nearly) a subset of the model's (Li2MnO3 under a layered host, a rock salt under
                # layered/spinel reflections) would otherwise soak up profile misfit
                beside = _beside_model(trial, state, info[pid][0], s, base, col)
                t_u = _unique_significance(trial, state, base, col, beside)
                if t_u < config.detection_sigma:
                    # ... or beside them, resolved from the neighbours' peaks with their misfit free
                    t_u = max(t_u, _resolved(trial, state, base, col, beside))
                if t_u < config.detection_sigma:
                    # the grid search may have strained its cell onto a stranger's peaks: test it near its own
                    near = _near_reference(trial, state, info[pid][0], info[pid][1], s, base, need, config)
                    if near is not None:
                        s, sizes[pid], gain, t = near
                        # ... and refined there: its cell would otherwise walk back onto the stranger's peaks
                        info[pid] = (info[pid][0], info[pid][1] / 2, info[pid][2])
                        steps.append({"action": "retest", "phase": pid, "scale": s, "t_unique_strained": t_u})
                        best = (pid, gain, s, t)
                        break
                    hopeless.add(pid)
                    steps.append(
                        {
                            "action": "reject",
                            "phase": pid,
                            "reason": "no significant unique reflection",
                            "gain": gain,
                            "t": t,
                            "t_unique": t_u,
                        }
                    )
                    continue
                best = (pid, gain, s, t)
                break
            if best is None:
                top = tried[0] if tried else (0.0, None, 1.0)
                steps.append({"action": "stop", "best_candidate": top[1], "gain": top[0], "needed": need})
                break
            pid, gain, s, t = best
            start.setdefault(pid, {})
            if isinstance(start[pid], Mapping):
                start[pid] = {**start[pid], "scale": s, "size": sizes.get(pid, TRIAL_WIDTHS[0])}
            chosen.append(pid)
            new_state = fit(chosen, state)
            # the intensity it explains must be its own pattern, not a stranger's peaks (see missing.py):
            # a phase that fails is kept out now, not after it has taken a place in the model
            verdict = _own_pattern(new_state, pid, scan, need, config, library, chosen, fixed, prefer)
            if verdict is not None:
                chosen.remove(pid)
                # the grid search may have strained its cell onto the strangers' peaks that fail it (LiOH
                # at 1.1 wt % onto rutile's, outside the library): once more near its own cell, where it must
                # pass every test again
                retry = _near_reference(trial, state, info[pid][0], info[pid][1], s, base, need, config)
                if retry is not None:
                    s, sizes[pid], gain, t = retry
                    held = info[pid]
                    info[pid] = (held[0], held[1] / 2, held[2])
                    start[pid] = {**start[pid], "scale": s, "size": sizes[pid]}
                    chosen.append(pid)
                    new_state = fit(chosen, state)
                    again = _own_pattern(new_state, pid, scan, need, config, library, chosen, fixed, prefer)
                    if again is None:
                        steps.append({"action": "retest", "phase": pid, "scale": s, "missing_strained": True})
                        steps.append(
                            {"action": "add", "phase": pid, "gain": gain, "t": t, "chi2": new_state.chi2}
                        )
                        state = new_state
                        continue
                    chosen.remove(pid)
                    info[pid] = held
                hopeless.add(pid)
                steps.append({"action": "reject", "phase": pid, "reason": "its own reflections are missing",
                              "missing": list(verdict.missing), "strangers": list(verdict.strangers),
                              **({"misfit": list(verdict.misfit)} if verdict.misfit else {})})
                continue
            steps.append({"action": "add", "phase": pid, "gain": gain, "t": t, "chi2": new_state.chi2})
            state = new_state

        # twins (same structure, overlapping cells) were kept out of the model, and a greedy step adds only
        # one of a family: each chosen phase is refitted in place of family members that the quick test
        # finds nearly as good (LLZO or LLZTO; Ni/Mn-ordered or disordered LNMO; NMC811 or NMC622), and the
        # best fit wins by a margin. Leaving a preferred (host) phase for a twin that is not preferred takes
        # PRIOR_CHI2 more; a preferred twin is taken as long as it fits within the margin.
        reference: FitState | None = None  # the current set refined as far as a swap would be
        swapped = False
        for pid in list(chosen):
            if pid in fixed or pid in swept:
                continue
            swept.add(pid)
            family = library[pid].family
            members = [q for q in pool if q not in chosen and q not in fixed and library[q].family == family]
            if not members:
                continue  # nothing to swap it for: its own quick test would not be used
            trial = _Trial(scan, state, config, grid_cache)
            i = [m.id for m in state.models].index(pid)
            others = np.delete(state.columns, i, axis=1)
            # the quick test compares like with like: both tested the same way against the same other phases
            current = trial.best_scale(info[pid][0], info[pid][1], others)[1]
            explained = max(trial.chi2(others)[0] - current, 0.0)
            best_swap: tuple[float, str, FitState] | None = None
            tried: list[tuple[str, FitState]] = []
            for q in members:
                sq, c2, sc = trial.best_scale(info[q][0], info[q][1], others)
                twin = _twins(library, info, pid, q)
                if q in prefer and pid not in prefer and twin:
                    # a preferred twin is always refitted: the quick test (no texture, fixed widths) can
                    # misjudge a textured layered host by far
                    margin, screen = -PRIOR_CHI2, np.inf
                elif pid in prefer and q not in prefer:
                    margin, screen = ALTERNATIVE_CHI2 + PRIOR_CHI2, SWAP_SCREEN_PREFERRED
                else:
                    margin, screen = ALTERNATIVE_CHI2, SWAP_SCREEN
                # twins of equal standing that the data cannot tell apart: the one nearer its own reference
                # cell is the likelier (NiO at its tabulated cell rather than Li-doped NiO strained 1 %) -
                # when their reference cells are resolved at all; where they coincide (NiO and the NMC rock
                # salt, 0.07 % apart) the offsets are the fit's noise, and chi² decides as for any swap
                tie_break = twin and (q in prefer) == (pid in prefer) and _ref_separation(info, pid, q) >= (
                    PAIR_SEPARATION
                )
                if np.isfinite(screen) and (sc <= 0 or c2 > current + screen * explained):
                    continue
                if reference is None:
                    # the quick fits stop early: the current set gets the same further refinement as a swap
                    reference = fit(chosen, state, nfev=SWAP_NFEV)
                    state = reference if reference.chi2 < state.chi2 else state
                ids = [q if p == pid else p for p in chosen]
                # a twin starts with the profile of the phase it replaces (same structure, same grains), at
                # the cell its quick test found
                own = state.per_phase[[m.id for m in state.models].index(pid)]
                profile = {k: own[k] for k in ("size", "strain") if k in own}
                prior = start.get(q) if isinstance(start.get(q), Mapping) else {}
                start[q] = {**prior, **profile, "scale": sq}
                bar = reference.chi2 + SWAP_DECISIVE * trial.gof2
                new_state = fit(
                    ids, state, nfev=SWAP_NFEV, realign=pid in prefer or q in prefer, give_up=_beyond(bar)
                )
                if new_state.chi2 - reference.chi2 >= SWAP_DECISIVE * trial.gof2:
                    continue  # it can neither win nor be a nearer twin of the winner: pattern not tested
                if _own_pattern(new_state, q, scan, need, config, library, ids, fixed, prefer) is not None:
                    continue  # it would gain on a stranger's peaks, not show its own pattern (see missing.py)
                cost = new_state.chi2 + margin * trial.gof2
                if (
                    cost >= reference.chi2
                    and tie_break
                    and new_state.chi2 < reference.chi2 + margin * trial.gof2
                    and _cell_offset(new_state, q, info) < _cell_offset(reference, pid, info)
                ):
                    cost = min(new_state.chi2, reference.chi2 - 1e-9)
                tried.append((q, new_state))
                if cost < reference.chi2 and (best_swap is None or cost < best_swap[0]):
                    best_swap = (cost, q, new_state)
            if best_swap is not None:
                _, q, new_state = best_swap
                # among the best one's twins of equal standing that fit as well, the one nearest its own cell
                near = [
                    (_cell_offset(st, q2, info), q2, st)
                    for q2, st in tried
                    if q2 != q
                    and _twins(library, info, q, q2)
                    and _ref_separation(info, q, q2) >= PAIR_SEPARATION
                    and (q2 in prefer) == (q in prefer)
                    and st.chi2 < new_state.chi2 + ALTERNATIVE_CHI2 * trial.gof2
                ]
                if near:
                    off, q2, st = min(near, key=lambda t: t[0])
                    if off < _cell_offset(new_state, q, info):
                        q, new_state = q2, st
                chosen[chosen.index(pid)] = q
                steps.append({"action": "swap", "phase": pid, "for": q, "chi2": new_state.chi2})
                # the next phase's swaps each get SWAP_NFEV more evaluations from here: so does the set they
                # are compared with (a swapped host moves the displacement by 50 µm, which the other phases'
                # cells follow; against a reference stopped there, any family member of a minor phase wins
                # the next swap on that convergence alone: LaNiO3 gave way to LaCoO3 by 55 χ² while, both
                # refined, LaNiO3 fits better)
                state, reference = new_state, None
                swept.add(q)
                swapped = True
        if not swapped:
            break
        # the forward steps judged every candidate against the set before the swap: a wrong host twin
        # (LLZO for LLZTO, its cell strained onto the other's peaks) leaves a misfit that the GoF scaling
        # of the gains charges to every minor phase (2 wt % Li2CO3 beside LLZTO fell below the bar, then
        # was never tested against the right host). The candidates are tested again against the new set
        hopeless.clear()
        steps.append({"action": "resume", "after": "swap", "chi2": state.chi2})

    # close-lattice pairs: twins were kept out of the forward steps (one of them, its cell strained, fits
    # a single phase), which absorbed a NiO + MgO 65 : 31 mixture into 97 % NiO at an expanded cell. Each
    # chosen phase's twins whose reference cells the data can resolve are now tried beside it, on the
    # side of their own cell; the pair stays only when both phases are needed, both show evidence where
    # they dominate, and their refined cells stay apart
    for pid in list(chosen):
        if pid not in chosen:
            continue
        for q in pool:
            if q in chosen or q in hopeless or not _twins(library, info, pid, q):
                continue
            if _ref_separation(info, pid, q) < PAIR_SEPARATION:
                continue  # the reference cells coincide: which of the two it is stays an alternative
            new_state = _try_pair(
                scan, library, state, config, info, chosen, pid, q, need, start, fit, grid_cache
            )
            if new_state is not None:
                chosen.append(q)
                steps.append({"action": "add pair", "phase": q, "beside": pid, "chi2": new_state.chi2})
                state = new_state

    # overfit test: remove each non-fixed phase in turn, keep it out if the data do not need it
    late_removed: list[str] = []
    changed = True
    while changed and len(chosen) > 1:
        changed = False
        trial = _Trial(scan, state, config, grid_cache)
        for i, pid in enumerate(list(chosen)):
            if pid in fixed:
                continue
            others = np.delete(state.columns, i, axis=1)
            c2, _ = trial.chi2(others)
            loss = (c2 - state.chi2) / trial.gof2
            # significance from the full covariance (nonlinear parameters included), as reported
            sig = state.sigma_scales[i] if state.sigma_scales is not None else 0.0
            t = state.scales[i] / sig if sig > 0 else np.inf
            if loss < PARAMS_PER_PHASE * np.log(n) + BIC_MARGIN or t < config.detection_sigma:
                chosen.remove(pid)
                late_removed.append(pid)
                steps.append({"action": "remove", "phase": pid, "loss": loss, "t": t})
                state = fit(chosen, state)
                changed = True
                break

    # missing-reflection test: a phase whose own strong reflections, at its refined cell, are absent was
    # fitted onto something else's peaks (a phase outside the library, a host's misfit); it goes, and
    # what it had absorbed is left to the residual reading as unexplained (see missing.py)
    changed = True
    while changed and len(chosen) > 1:
        changed = False
        ids = [m.id for m in state.models]
        for pid in list(chosen):
            if pid not in ids:
                continue
            verdict = _own_pattern(state, pid, scan, need, config, library, chosen, fixed, prefer)
            if verdict is not None:
                chosen.remove(pid)
                late_removed.append(pid)
                steps.append(
                    {"action": "remove", "phase": pid, "missing": list(verdict.missing),
                     "share": round(verdict.share, 3),
                     **({"misfit": list(verdict.misfit)} if verdict.misfit else {})}
                )
                state = fit(chosen, state)
                changed = True
                break

    # a phase taken out in these end stages may leave a twin standing on its cell: the twin was strained
    # onto the other's peaks while both were in the model (rocksalt_NMC at a = 4.129 Å, the Li-Ni rock
    # salt's cell, 1 % off its own, once LiNiO_rocksalt had gone). The family swaps ran before; the phase
    # whose reference cell the refined cell is nearer is the likelier, as in their tie-break, and it
    # takes the place when it fits as well
    for q in late_removed:
        for pid in list(chosen):
            if q in chosen or pid in fixed or not _twins(library, info, pid, q):
                continue
            if (q in prefer) != (pid in prefer) or _ref_separation(info, pid, q) < PAIR_SEPARATION:
                continue
            a_fit = _rel_cell(state, pid, info)
            a_q = info[q][0].refl.volume ** (1 / 3)
            if abs(a_fit / a_q - 1.0) >= abs(a_fit / info[pid][0].refl.volume ** (1 / 3) - 1.0):
                continue
            trial = _Trial(scan, state, config, grid_cache)
            ids = [q if p == pid else p for p in chosen]
            own = state.per_phase[[m.id for m in state.models].index(pid)]
            prior = start.get(q) if isinstance(start.get(q), Mapping) else {}
            start[q] = {**prior, **{k: own[k] for k in ("size", "strain") if k in own}, "scale": a_fit / a_q}
            new_state = fit(ids, state, nfev=SWAP_NFEV)
            if new_state.chi2 >= state.chi2 + ALTERNATIVE_CHI2 * trial.gof2:
                continue
            if _own_pattern(new_state, q, scan, need, config, library, ids, fixed, prefer) is not None:
                continue
            chosen[chosen.index(pid)] = q
            steps.append(
                {"action": "swap", "phase": pid, "for": q, "chi2": new_state.chi2, "nearer_cell": True}
            )
            state = new_state

    # the intermediate fits were kept short; the chosen model is refined to convergence
    if chosen:
        state = fit(chosen, state, final=True)
    families = {pid: library[pid].family for pid in pool}
    alternatives = _alternatives(scan, state, info, pool, config, families, library)
    return state, steps, alternatives


def _near_reference(trial, state, model, strain, s, base, need, config):
    """A candidate rejected at a strained cell, tested again within half its strain of the reference cell.

    The grid search takes the cell scale at which the candidate's column projects most on the
    residual; when a stranger's strong peaks lie within the allowed strain, that is where they are
    (LiOH at 1.1 wt %, strained by -0.7 % onto rutile's 101, 220 and 002, while its own 001 and 101
    stood at the reference cell), and the phase then fails the unique-evidence test there. Nearer its
    reference cell it must pass the same tests: the selection's bar, the scale significance and
    evidence where it dominates or is resolved from its neighbours.

    Returns
    -------
    (scale, size, gain, t) or None
    """
    if abs(s - 1.0) <= strain / 2:
        return None
    s2, c2, sc = trial.best_scale(model, strain / 2, base)
    gain = (state.chi2 - c2) / trial.gof2 if sc > 0 else 0.0
    if gain < need:
        return None
    size = trial.last_size
    col = trial.column(model, s2, size)
    t = trial.significance(base, col)
    if t < config.detection_sigma:
        return None
    beside = _beside_model(trial, state, model, s2, base, col)
    t_u = _unique_significance(trial, state, base, col, beside)
    if t_u < config.detection_sigma:
        t_u = max(t_u, _resolved(trial, state, base, col, beside))
    if t_u < config.detection_sigma:
        return None
    return s2, size, gain, t


def _curves(state: FitState) -> np.ndarray | None:
    """The fitted phases' curves (None without phases)."""
    return state.columns * state.scales if state.columns.size else None


def _own_pattern(state, pid, scan, need, config, library, chosen, fixed, prefer):
    """The missing-reflection verdict of chosen phase ``pid`` when it fails, else None.

    Fixed phases are not tested, nor a preferred (host) phase alone in its structure family; a
    preferred phase beside a twin of its family (a tetragonal garnet beside the cubic one) must show
    its own reflections at its refined cell like any other. Without a stranger's peaks it must still
    pass the selection's bar (gain ``need``: about sqrt(need) standard errors), and the phase just added
    must pass it without what its neighbours' profile misfit explains (:func:`misfit_borne`).
    """
    if pid in fixed:
        return None
    if pid in prefer and not any(q != pid and library[q].family == library[pid].family for q in chosen):
        return None
    i = [m.id for m in state.models].index(pid)
    sigma = max(config.detection_sigma, float(np.sqrt(need)))
    lam = scan.meta.radiation.kalpha1
    # the phase just added (last in the list) must not be a broad one on the background's bumps (see
    # missing.py); the phases already in the model are tested again on the converged final fit
    # (api.py), not on the quick fits here, which leave a phase broad until the next one added takes
    # the misfit it had filled (2 wt % Co3O4 at 54 nm, broad until MgO came in beside CoO)
    added = bool(chosen) and pid == chosen[-1]
    if added and broad_resolved_significance(state, i, lam) < sigma:
        return MissingReflections(share=1.0, fails=True, unresolved=True)
    verdict = missing_reflections(state, i, lam, sigma)
    if not verdict.fails and added:
        # nor one standing on its neighbours' profile misfit (missing.py); like the broad test, only as it
        # is added: a quick fit shares a phase's intensity with the next one added beside it, and whether
        # a phase already in the model is still needed then is the overfit test's question
        verdict = misfit_borne(state, i, lam, sigma)
    return verdict if verdict.fails else None


#: The unique-evidence test looks at the cores (± UNIQUE_SEPARATION degrees) of the candidate's
#: reflections carrying UNIQUE_MIN_INTENSITY of its strongest, where its fitted contribution is more
#: than UNIQUE_DOMINANCE times that of the chosen phases together.
UNIQUE_SEPARATION = 0.10
UNIQUE_DOMINANCE = 1.0
UNIQUE_MIN_INTENSITY = 0.03


def _beside_model(
    trial: _Trial, state: FitState, model: PhaseModel, scale: float, base: np.ndarray, col: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray]:
    """The joint fit a candidate's local tests start from, and where they look.

    Returns the coefficients of background, chosen phases and candidate fitted together, the
    number of background terms, and the 2θ of the candidate's reflections carrying
    UNIQUE_MIN_INTENSITY of its strongest inside the scan. Computed once per candidate for
    :func:`_unique_significance` and :func:`_resolved`.
    """
    x = state.x
    a_full = np.column_stack([trial.solver.a_bg, base, col]) * trial.sw[:, None]
    coef, _ = normal_lstsq(a_full, state.y * trial.sw)
    d = model.d_spacings(None, scale)
    tt = 2.0 * np.degrees(np.arcsin(np.clip(trial.lams[0] / (2.0 * d), -1.0, 1.0)))
    weight = model.mf2 / max(model.mf2.max(), 1e-300)
    centres = tt[(weight >= UNIQUE_MIN_INTENSITY) & (tt > x[0]) & (tt < x[-1])]
    return coef, trial.solver.a_bg.shape[1], centres


def _unique_significance(
    trial: _Trial, state: FitState, base: np.ndarray, col: np.ndarray, beside: tuple
) -> float:
    """Significance (in standard errors) of a candidate where it would dominate the calculated pattern.

    The test region is the cores (± UNIQUE_SEPARATION) of the candidate's reflections at which its
    own fitted contribution exceeds that of all chosen phases together: evidence there cannot be
    borrowed from misfit of the other phases' peaks. ``beside`` is :func:`_beside_model`'s result.
    """
    x = state.x
    coef, k, centres = beside
    if coef[-1] <= 0:
        return 0.0
    others = base @ coef[k:-1] if base.shape[1] else np.zeros(x.size)
    mine = col * coef[-1]
    near = np.zeros(x.size, dtype=bool)
    for c in centres:
        near |= np.abs(x - c) <= UNIQUE_SEPARATION
    mask = near & (mine > UNIQUE_DOMINANCE * np.maximum(others, 0.0))
    if mask.sum() < 8:
        return 0.0
    # background and the other phases as fitted on the whole pattern; only the candidate's scale is
    # tested on its own ground (refitting a background on scattered narrow windows would let it
    # mimic peaks)
    w = state.weights[mask]
    rest = state.y[mask] - trial.solver.a_bg[mask] @ coef[:k] - others[mask]
    c = col[mask]
    info = float(c @ (w * c))
    if info <= 0:
        return 0.0
    return float((c @ (w * rest)) / np.sqrt(info * trial.gof2))


def _resolved(trial: _Trial, state: FitState, base: np.ndarray, col: np.ndarray, beside: tuple) -> float:
    """:func:`~phasetrace.quantify.missing.resolved_significance` of a candidate beside the model."""
    coef, k, centres = beside
    if coef[-1] <= 0:
        return 0.0
    rest = state.y - trial.solver.a_bg @ coef[:k]
    return resolved_significance(state.x, rest, state.weights, base * coef[k:-1], col, centres, trial.gof2)


#: Twins whose reference cells differ by at least this fraction (cube root of the volume) are tried both
#: in one model: 0.3 % moves a reflection at 70° 2θ by about 0.25°, two to three peak widths (NiO/MgO
#: 0.8 %, MgO/CoO 1.2 %); closer pairs (LLZO/LLZTO 0.3 %, the two LNMO orderings) stay alternatives.
PAIR_SEPARATION = 0.003


def _rel_cell(state: FitState, pid: str, info) -> float:
    """A fitted phase's cell edge (cube root of the volume), Å."""
    i = [m.id for m in state.models].index(pid)
    m = info[pid][0]
    p = state.per_phase[i]
    if p.get("cell") is not None:
        from ..library.crystallography import cell_volume

        return float(cell_volume(p["cell"]) ** (1 / 3))
    return float(m.refl.volume ** (1 / 3) * p.get("scale", 1.0))


def _ref_separation(info, a: str, b: str) -> float:
    va, vb = info[a][0].refl.volume, info[b][0].refl.volume
    return abs((va / vb) ** (1 / 3) - 1.0)


def _try_pair(scan, library, state, config, info, chosen, pid, q, need, start, fit, cache) -> FitState | None:
    """Refit with twin ``q`` beside chosen ``pid``; the new state if the data need both, else None."""
    trial = _Trial(scan, state, config, cache)
    base = state.columns[:, state.scales > 0]
    m_q, strain_q, _ = info[q]
    a_q0 = m_q.refl.volume ** (1 / 3)
    # cell scales of q that keep its cell on its own side of pid's refined cell, and away from the cell
    # of every twin already in the model (NiO and MgO in: CoO is not tried on MgO's peaks)
    grid = np.arange(1 - strain_q, 1 + strain_q + 1e-12, TRIAL_STEP)
    a_p = _rel_cell(state, pid, info)
    side = np.sign(a_q0 - a_p) or 1.0
    grid = grid[side * (a_q0 * grid - a_p) / a_p >= PAIR_SEPARATION / 2]
    near = [x for x in chosen if x != pid and _twins(library, info, x, q)]
    for x in near:
        a_x = _rel_cell(state, x, info)
        grid = grid[np.abs(a_q0 * grid - a_x) / a_x >= PAIR_SEPARATION / 2]
    if grid.size == 0:
        return None
    _, _, ycalc = trial.solver(base)
    w = state.weights[:: trial.every]
    r = (state.y - ycalc)[:: trial.every] * w
    best, s_best = -np.inf, None
    for s in grid:
        key = (q, round(float(s), 6), TRIAL_SIZE)
        col = cache.get(key)
        if col is None:
            col = cache[key] = trial.column(m_q, float(s), TRIAL_SIZE, coarse=True)
        num = float(col @ r)
        if num > 0 and num * num / float(col @ (col * w)) > best:
            best, s_best = num * num / float(col @ (col * w)), float(s)
    if s_best is None:
        return None
    s_q, c2, sc = trial.best_scale(m_q, strain_q, base, s_best)
    if sc <= 0 or (state.chi2 - c2) / trial.gof2 < need:
        return None
    col = trial.column(m_q, s_q, trial.last_size)
    if trial.significance(base, col) < config.detection_sigma:
        return None
    start[q] = {**(start.get(q) if isinstance(start.get(q), Mapping) else {}), "scale": s_q,
                "size": trial.last_size}
    new_state = fit([*chosen, q], state)
    if (state.chi2 - new_state.chi2) / trial.gof2 < need:
        return None
    ids = [m.id for m in new_state.models]
    sig = new_state.sigma_scales if new_state.sigma_scales is not None else np.zeros(len(ids))
    for x in (pid, q):
        i = ids.index(x)
        if not (sig[i] > 0 and new_state.scales[i] > config.detection_sigma * sig[i]):
            return None
        if unique_evidence(scan, new_state, config, i) < config.detection_sigma:
            return None
    a_q = _rel_cell(new_state, q, info)
    sep = min(abs(_rel_cell(new_state, x, info) / a_q - 1.0) for x in (pid, *near))
    if sep < PAIR_SEPARATION / 2:
        return None  # the two collapsed onto one set of peaks: a profile, not two phases
    # like an added or a swapped-in phase, it must show its own pattern, not a stranger's peaks
    if _own_pattern(new_state, q, scan, need, config, library, [*chosen, q], (), ()) is not None:
        return None
    return new_state


def _cell_offset(state: FitState, pid: str, info) -> float:
    """How far a fitted phase's cell is from its reference, in units of its allowed strain."""
    i = [m.id for m in state.models].index(pid)
    m, strain = info[pid][0], info[pid][1]
    p = state.per_phase[i]
    if p.get("cell") is not None:
        from ..library.crystallography import cell_volume

        rel = (cell_volume(p["cell"]) / m.refl.volume) ** (1 / 3)
    else:
        rel = float(p.get("scale", 1.0))
    return abs(rel - 1.0) / max(strain, 1e-6)


def unique_evidence(scan: Scan, state: FitState, config: QuantConfig, index: int) -> float:
    """Significance of phase ``index`` of a fitted model where it dominates the calculated pattern.

    The same test the selection applies before adding a phase (see
    :func:`_unique_significance`), for a phase that is already in the model.
    """
    trial = _Trial(scan, state, config)
    keep = [j for j in range(state.columns.shape[1]) if j != index and state.scales[j] > 0]
    base = state.columns[:, keep]
    col = state.columns[:, index]
    scale = float(state.per_phase[index].get("scale", 1.0))
    beside = _beside_model(trial, state, state.models[index], scale, base, col)
    return _unique_significance(trial, state, base, col, beside)


def _twins(library: PhaseLibrary, info, a: str, b: str) -> bool:
    """:func:`twins` for phases whose models are at hand (``info``: id -> (model, strain, textured))."""
    return _same_lattice(library[a], library[b], info[a][0].refl, info[b][0].refl, info[a][1], info[b][1])


def twins(library: PhaseLibrary, a: str, b: str) -> bool:
    """Whether XRD cannot tell two library phases apart by peak positions.

    Twins of the bundled library are of the same structure family and crystal system
    with cells that can coincide within their allowed strains (LaCoO3/LaNiO3,
    LLZO/LLZTO, and the Ni/Mn-ordered and disordered LNMO, whose superstructure
    reflections are weak). A user phase has no curated family: it is the twin of
    another phase when both are the same structure (same elements and composition,
    space group and atomic arrangement) with cells within their strains
    (:func:`phasetrace.library.twins.structural_twins`): a user's corundum.cif and the
    bundled Al2O3. Only one of them enters a model; the other is reported as its
    alternative.
    """
    pa, pb = library[a], library[b]
    return _same_lattice(pa, pb, library.reflections(pa), library.reflections(pb), pa.strain, pb.strain)


def inseparable(library: PhaseLibrary, a: str, b: str) -> bool:
    """Whether two library phases are :func:`twins` whose reference cells coincide (< PAIR_SEPARATION).

    The selection never fits such a pair side by side (twins with resolved cells, NiO and MgO, are
    tried as pairs): whichever is in the model holds the other's intensity too, and a detection limit
    of one computed beside the other says nothing about it.
    """
    if not twins(library, a, b):
        return False
    va, vb = library.reflections(a).volume, library.reflections(b).volume
    return abs((va / vb) ** (1 / 3) - 1.0) < PAIR_SEPARATION


def _same_lattice(pa, pb, ra, rb, sa: float, sb: float) -> bool:
    if pa.family == pb.family and pa.family != USER_FAMILY:
        # a curated family: its members' structures differ in ways the curators judged XRD cannot see
        if ra.crystal_system != rb.crystal_system:
            return False
        return abs((ra.volume / rb.volume) ** (1 / 3) - 1.0) <= sa + sb
    if pa.origin == "bundled" and pb.origin == "bundled":
        return False  # bundled phases of different families were curated as different phases
    # "user" is no family (every user CIF gets it): the structures decide
    return structural_twins(pa, pb, ra, rb, sa + sb)


def _background_only(scan: Scan, config: QuantConfig) -> FitState:
    """A 'fit' with no phase: the refined background alone, as the starting point of selection."""
    x = np.asarray(scan.x)
    y = np.asarray(scan.y)
    if config.two_theta_range is not None:
        sel = (x >= config.two_theta_range[0]) & (x <= config.two_theta_range[1])
        x, y = x[sel], y[sel]
    wgt = (
        1.0 / np.maximum(y, 1.0)
        if scan.sigma is None
        else 1.0
        / np.maximum(np.asarray(scan.sigma)[sel if config.two_theta_range else slice(None)], 1e-12) ** 2
    )
    a_bg = chebyshev_basis(x, background_terms(config, x))
    solver = LinearSolver(a_bg, y, np.sqrt(wgt))
    bg, _, ycalc = solver(np.zeros((x.size, 0)))
    g = {"zero": 0.0, "displacement": 0.0, "w": config.w, "eta": config.eta, "asymmetry": 0.0}
    return FitState(
        x=x,
        y=y,
        weights=wgt,
        models=[],
        names=[],
        theta=np.zeros(0),
        globals_=g,
        per_phase=[],
        background=ycalc,
        columns=np.zeros((x.size, 0)),
        scales=np.zeros(0),
        bg_coef=bg,
        ycalc=ycalc,
        chi2=float(np.sum(wgt * (y - ycalc) ** 2)),
        n_params=a_bg.shape[1],
        success=True,
        message="background only",
        nfev=0,
    )


def _alternatives(scan, state, info, pool, config, families, library) -> dict[str, list[str]]:
    """Candidates of the same structure family that can replace a chosen phase with (almost) no loss."""
    out: dict[str, list[str]] = {}
    trial = _Trial(scan, state, config)
    chosen = [m.id for m in state.models]
    for i, pid in enumerate(chosen):
        if state.scales[i] <= 0:
            continue
        others = np.delete(state.columns, i, axis=1)
        family = families.get(pid)
        for q in pool:
            if q in chosen or families.get(q) != family:
                continue
            if _twins(library, info, pid, q):
                out.setdefault(pid, []).append(q)
                out.setdefault(q, []).append(pid)
                continue
            m, strain, _ = info[q]
            s, c2, sc = trial.best_scale(m, strain, others)
            if sc > 0 and (c2 - state.chi2) / trial.gof2 < ALTERNATIVE_CHI2:
                out.setdefault(pid, []).append(q)
                out.setdefault(q, []).append(pid)
    return out
