"""A finished fit's second stage as start values, and a refit that resumes from it.

A series refits every XRD scan with the union of the phases found in the series (stage 2 of
:func:`phasetrace.series.run_series`): the phases the scan's own identification ended with, plus
union phases found elsewhere, which enter held at a neighbouring scan's values with only their
scale factor fitted (``"fixed"``). Done from scratch, that refit fits a first stage (isotropic
cells, ΔB held, no searched texture axis) from the identification's values, decides the
second-stage terms again and fits a second time, to land next to where the identification had
already converged; the held phases get no second-stage terms either way. :func:`second_stage_terms`
records what the identification's second stage refined (per phase: ΔB, the full cell, the texture
axis) beside its start values, and :func:`resume_second_stage` fits that model once, from the
converged values, with the held phases added: the terms are decided once per scan. A union phase
no identification of the series found (found by Raman only) is held too, at its library cell
(:func:`phasetrace.series.rules.refit_starts`). A phase set that is not so (merged twins, a union
phase with neither the scan's own values nor held ones, a phase of the identification missing from
the union) takes the full two-stage fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..scan import Scan
from .fit import FULL_CELL_KEY, XYZ_PREFIX, FitState, QuantConfig, refit_second_stage
from .model import PhaseModel

__all__ = ["SECOND_STAGE_KEY", "resume_second_stage", "second_stage_terms"]

#: Key of the start values (:attr:`QuantResult.start_values`) under which a fit's second-stage
#: terms are recorded (no phase id is spelt so).
SECOND_STAGE_KEY = "second_stage"


def second_stage_terms(state: FitState) -> dict[str, Any]:
    """The terms a converged fit refined per phase, as start values for a refit of the same phases.

    Parameters
    ----------
    state : FitState
        A finished fit (after :func:`~phasetrace.quantify.fit.refine_sample_terms`).

    Returns
    -------
    dict
        ``{SECOND_STAGE_KEY: {phase id: {"b": bool, "full_cell": bool, "texture_axis": [h, k, l] or
        None, "xyz": bool}}}`` (``xyz``: atomic coordinates refined), or an empty dict
        for a fit that failed (its refit starts afresh).
    """
    if not state.models or not state.success or not np.isfinite(state.chi2):
        return {}
    names = set(state.names)
    terms = {}
    for m in state.models:
        free = [n for n in names if n.startswith(f"{m.id}:cell_")]
        terms[m.id] = {
            "b": f"{m.id}:b" in names,
            "full_cell": bool(free),
            "texture_axis": [int(v) for v in m.texture_axis] if m.texture_axis is not None else None,
            "xyz": any(n.startswith(f"{m.id}:{XYZ_PREFIX}") for n in names),
        }
    return {SECOND_STAGE_KEY: terms}


def resume_second_stage(
    scan: Scan,
    models: Sequence[PhaseModel],
    strains: Sequence[float],
    textured: Sequence[bool],
    config: QuantConfig,
    start: Mapping[str, Any] | None,
) -> FitState | None:
    """Refit ``models`` from a converged fit's second stage, with held (``"fixed"``) phases added.

    Parameters
    ----------
    scan : Scan
    models : sequence of PhaseModel
        The phases to fit (as :func:`~phasetrace.quantify.phase_models.phase_models` builds them).
    strains : sequence of float
        Their allowed fractional cell change.
    textured : sequence of bool
        Which of them have a texture axis of their own (phase_models).
    config : QuantConfig
    start : mapping, optional
        Start values of a finished fit (:attr:`QuantResult.start_values`) with its
        :func:`second_stage_terms`; phases it did not have enter held at given values.

    Returns
    -------
    FitState or None
        The refined state; None when ``start`` is not so (no recorded terms, a phase with
        neither recorded terms nor held values, a phase of the finished fit left out): then
        the full two-stage fit is needed.
    """
    st = dict(start or {})
    terms = st.pop(SECOND_STAGE_KEY, None)
    ids = [m.id for m in models]
    if not isinstance(terms, Mapping) or not models or not set(terms) <= set(ids):
        return None
    held = [isinstance(st.get(i), Mapping) and bool(st[i].get("fixed")) for i in ids]
    own = [i in terms and isinstance(st.get(i), Mapping) for i in ids]
    if not all(h or o for h, o in zip(held, own, strict=True)):
        return None
    resumed, textured_out, refine_b, refine_xyz, searched = [], [], [], [], {}
    for m, tex, h in zip(models, textured, held, strict=True):
        if h:  # held at a neighbour's values: its scale factor only, no second-stage terms
            resumed.append(m)
            textured_out.append(tex)
            refine_b.append(False)
            refine_xyz.append(False)
            continue
        t = terms[m.id]
        axis = tuple(int(v) for v in t["texture_axis"]) if t.get("texture_axis") is not None else None
        if axis != m.texture_axis:
            if axis is not None:
                searched[m.id] = axis  # found by the texture search of the finished fit
            m = replace(m, texture_axis=axis, _cos2_cache={})
        resumed.append(m)
        textured_out.append(axis is not None)
        refine_b.append(bool(t.get("b")))
        refine_xyz.append(bool(t.get("xyz")))
        st[m.id] = {k: v for k, v in st[m.id].items() if k != FULL_CELL_KEY}
        if t.get("full_cell"):
            st[m.id][FULL_CELL_KEY] = True
    return refit_second_stage(
        scan, resumed, strains, config, st, textured_out, refine_b, refine_xyz, searched
    )
