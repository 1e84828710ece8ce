"""Refined cells with standard errors: a, b, c, α, β, γ, V and c/a of one phase of a fit.

A phase's cell is refined either as one isotropic scale of the reference cell (traces, cubic phases, the
first stage) or as the free parameters of its crystal system relative to the reference cell (the second
stage, :func:`phasetrace.quantify.fit.refine_sample_terms`). The standard errors come from the
covariance of the nonlinear parameters at the solution (the full Jacobian, scaled by the goodness of fit
as Rietveld programs do), propagated to each cell quantity by its derivatives, so that correlations
(a with c, both with V) are kept. Parameters that were not refined (held phases) get no esd.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..library.crystallography import cell_volume

__all__ = ["CELL_KEYS", "cell_with_esd"]

#: Names of the six cell parameters, in the order of a cell array.
CELL_KEYS = ("a", "b", "c", "alpha", "beta", "gamma")

#: Relative step for the numerical derivatives of V and c/a with respect to the refined parameters.
_STEP = 1e-6


def _quantities(cell: np.ndarray) -> np.ndarray:
    """(a, b, c, α, β, γ, V, c/a) of a cell array."""
    return np.r_[cell, cell_volume(cell), cell[2] / cell[0]]


def cell_with_esd(state: Any, i: int) -> dict[str, Any]:
    """Refined cell of phase ``i`` of a fit state, with esds from the fit covariance.

    Parameters
    ----------
    state : FitState
        A finished fit (``nonlinear_cov`` set by its covariance step).
    i : int
        Phase index.

    Returns
    -------
    dict
        ``cell`` and ``cell_esd`` (a, b, c, alpha, beta, gamma; Å and degrees; esd None when the
        cell was held), ``volume`` and ``volume_esd`` (Å³), ``c_over_a`` (None for cubic cells) and
        ``c_over_a_esd`` (None unless the full cell was refined: an isotropic scale keeps the
        reference c/a), and ``cell_refinement`` ("full", "isotropic" or "held").
    """
    from .fit import free_cell_parameters

    m, p = state.models[i], state.per_phase[i]
    ref = np.asarray(m.refl.cell, dtype=float)
    names = list(state.names)
    cov = getattr(state, "nonlinear_cov", None)
    free, ties = free_cell_parameters(m.refl.crystal_system)
    keys = [f"{m.id}:cell_{'abcαβγ'[k]}" for k in free]
    full_idx = [names.index(k) for k in keys if k in names]
    if p["cell"] is not None and len(full_idx) == len(free):
        mode = "full"
        cell = np.asarray(p["cell"], dtype=float)
        rel = np.array([cell[k] / ref[k] for k in free])

        def build(r: np.ndarray) -> np.ndarray:
            out = ref.copy()
            for j, k in enumerate(free):
                out[k] = ref[k] * r[j]
            for k, src in ties.items():
                out[k] = out[src]
            return out

        idx = full_idx
    elif f"{m.id}:scale" in names:
        mode = "isotropic"
        rel = np.array([float(p["scale"])])

        def build(r: np.ndarray) -> np.ndarray:
            return np.r_[ref[:3] * r[0], ref[3:]]

        idx = [names.index(f"{m.id}:scale")]
    else:
        mode = "held"
        idx = []
        rel = np.zeros(0)
    cell = (
        np.asarray(p["cell"], dtype=float)
        if p["cell"] is not None
        else np.r_[ref[:3] * float(p["scale"]), ref[3:]]
    )
    values = _quantities(cell)
    esd = np.full(values.size, np.nan)
    if idx and cov is not None and np.all(np.isfinite(cov[np.ix_(idx, idx)])):
        c_sub = cov[np.ix_(idx, idx)]
        jac = np.empty((values.size, len(idx)))
        for j in range(len(idx)):
            up, dn = rel.copy(), rel.copy()
            up[j] += _STEP
            dn[j] -= _STEP
            jac[:, j] = (_quantities(build(up)) - _quantities(build(dn))) / (2 * _STEP)
        esd = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, c_sub, jac), 0.0, None))
    moves = mode == "full" and m.refl.crystal_system != "cubic"

    def num(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    return {
        "cell": dict(zip(CELL_KEYS, map(float, values[:6]), strict=True)),
        "cell_esd": dict(zip(CELL_KEYS, map(num, esd[:6]), strict=True)),
        "volume": float(values[6]),
        "volume_esd": num(esd[6]),
        "c_over_a": float(values[7]) if m.refl.crystal_system != "cubic" else None,
        "c_over_a_esd": num(esd[7]) if moves else None,
        "cell_refinement": mode,
    }
