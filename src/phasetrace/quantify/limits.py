"""Detection limits of candidate phases that are not in a fitted model.

A detection limit must mean what it says: the amount at which the procedure
that reported "not detected" would have detected the phase. Computed from a
narrow column at the reference cell alone, at the bare 3σ of its scale factor,
it was far too optimistic (LaCoO3 reported "< 0.07 wt %" at 0.9 wt %): the
selection refines the phase's cell and width, needs an information-criterion
gain (about 6σ rather than 3σ) and evidence where the phase dominates the
pattern. Here the limit is computed as for the phase *in the refined model*:

* its column at a typical width (:data:`LOD_SIZE`), with the derivatives of the
  column by cell scale and width as free nuisance columns (the linearised
  refinement of its cell and profile) beside the background and the fitted
  phases; the scale factor's standard error follows from that design, scaled by
  the goodness of fit;
* times the significance the procedure needs (``sigma_needed``: the
  selection's criterion, or ``detection_sigma`` for a fixed phase list);
* and no lower than ``detection_sigma`` standard errors of the same scale
  measured only where the phase would dominate the calculated pattern at that
  amount (the selection's unique-evidence test).

The rates this calibration reaches are measured by simulation in
``benchmarks/honesty.py`` (detected at 1.5x the limit, and present above a
reported "< x").
"""

from __future__ import annotations

import numpy as np

from .fit import FitState, QuantConfig
from .model import PhaseModel, chebyshev_basis, phase_columns

__all__ = ["LOD_SIZE", "candidate_lod_scale"]

#: Size-broadening term (degrees at cos θ = 1, ~85 nm in Cu Kα) of an absent candidate's column: its
#: crystallites are unknown, and a product phase that just formed is usually finer than the hosts.
LOD_SIZE = 0.10
#: Finite-difference steps of the nuisance columns (cell scale, size term).
_D_SCALE = 5e-4
_D_SIZE = 0.01
#: Iterations of the unique-region limit (its mask depends on the amount).
_UNIQUE_ITER = 3


def _columns(scan, state: FitState, model: PhaseModel, config: QuantConfig, pairs) -> list[np.ndarray]:
    """The candidate's columns at (cell scale, size) pairs, in one pass (:func:`phase_columns`).

    Each is :func:`~phasetrace.quantify.fit.state_column` of a phase at that cell scale and size
    with no strain, texture, ΔB or coordinate shift, bit for bit.
    """
    rad = scan.meta.radiation
    g = state.globals_
    cols = phase_columns(
        state.x,
        model,
        scales=[p[0] for p in pairs],
        sizes=[p[1] for p in pairs],
        wavelengths=(rad.kalpha1, rad.kalpha2) if rad.is_doublet else (rad.kalpha1,),
        weights=(1.0, rad.ratio) if rad.is_doublet else (1.0,),
        u=g.get("u", config.u),
        v=g.get("v", config.v),
        w=g["w"],
        strain_y=0.0,
        eta=g["eta"],
        zero=g["zero"],
        displacement=g["displacement"],
        radius_mm=config.radius_mm,
        monochromator_2theta=config.monochromator_2theta,
        asymmetry=g.get("asymmetry", 0.0),
        angle_factor=config.instrument.angle_factor if config.instrument is not None else None,
    )
    return [np.ascontiguousarray(cols[:, k]) for k in range(len(pairs))]


def candidate_lod_scale(
    scan,
    state: FitState,
    model: PhaseModel,
    config: QuantConfig,
    *,
    sigma_needed: float,
    unique: bool = True,
) -> tuple[float, np.ndarray]:
    """Scale factor at which an absent candidate would be detected, and its unit column.

    Parameters
    ----------
    scan : Scan
        The scan (its radiation).
    state : FitState
        The final fit (without the candidate).
    model : PhaseModel
        The candidate.
    config : QuantConfig
    sigma_needed : float
        Significance the detection procedure needs.
    unique : bool
        Also require ``detection_sigma`` where the candidate would dominate.

    Returns
    -------
    (float, ndarray)
        The limiting scale factor (inf when the candidate cannot be detected at all) and the
        candidate's column at unit scale.
    """
    lam = scan.meta.radiation.kalpha1
    col, col_cell, col_size = _columns(
        scan, state, model, config, [(1.0, LOD_SIZE), (1.0 + _D_SCALE, LOD_SIZE), (1.0, LOD_SIZE + _D_SIZE)]
    )
    if not np.any(col > 0):
        return np.inf, col
    d_cell = (col_cell - col) / _D_SCALE
    d_size = (col_size - col) / _D_SIZE
    sw = np.sqrt(state.weights)
    a_bg = chebyshev_basis(state.x, len(state.bg_coef))
    active = state.columns[:, state.scales > 0] if state.columns.size else np.zeros((state.x.size, 0))
    a = np.column_stack([a_bg, active, d_cell, d_size, col]) * sw[:, None]
    norm = np.maximum(np.sqrt(np.sum(a * a, axis=0)), 1e-300)
    an = a / norm
    try:
        cov = np.linalg.pinv(an.T @ an, rcond=1e-12)
    except np.linalg.LinAlgError:
        return np.inf, col
    dof = max(state.y.size - state.n_params, 1)
    gof2 = max(state.chi2 / dof, 1.0)
    sig = float(np.sqrt(max(cov[-1, -1], 0.0) * gof2)) / norm[-1]
    s_lod = sigma_needed * sig
    if not unique or not np.isfinite(s_lod):
        return s_lod, col
    # where would it dominate at that amount? (the selection's unique-evidence region)
    others = active @ state.scales[state.scales > 0] if active.size else np.zeros(state.x.size)
    d = model.d_spacings(None, 1.0)
    tt = 2.0 * np.degrees(np.arcsin(np.clip(lam / (2.0 * d), -1.0, 1.0)))
    from .selection import UNIQUE_MIN_INTENSITY, UNIQUE_SEPARATION

    weight = model.mf2 / max(model.mf2.max(), 1e-300)
    near = np.zeros(state.x.size, dtype=bool)
    x = state.x
    for c in tt[(weight >= UNIQUE_MIN_INTENSITY) & (tt > x[0]) & (tt < x[-1])]:
        near |= np.abs(x - c) <= UNIQUE_SEPARATION
    for _ in range(_UNIQUE_ITER):
        mask = near & (col * s_lod > np.maximum(others, 0.0))
        if mask.sum() < 8:
            # nowhere its own at this amount: find the amount at which it dominates somewhere
            ratio = np.where(near & (col > 0), np.maximum(others, 0.0) / np.maximum(col, 1e-300), np.inf)
            if not np.isfinite(ratio).any():
                return np.inf, col
            finite = np.sort(ratio[np.isfinite(ratio)])
            s_lod = max(s_lod, float(finite[min(8, finite.size - 1)]))
            continue
        c = col[mask]
        info = float(c @ (state.weights[mask] * c))
        s_u = config.detection_sigma * np.sqrt(gof2 / max(info, 1e-300))
        if s_u <= s_lod * 1.001:
            break
        s_lod = s_u
    return float(s_lod), col
