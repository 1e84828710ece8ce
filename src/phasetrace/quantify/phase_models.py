"""Phase models of a scan and start values: the set-up shared by the fit and the phase selection."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..library.phases import PhaseLibrary
from ..library.reflections import d_min_for_scan, sabine_extinction
from ..scan import Scan
from .fit import TEXTURE_FAMILIES, FitState, QuantConfig
from .model import PhaseModel

__all__ = ["phase_models", "start_from"]


def phase_models(scan: Scan, library: PhaseLibrary, ids: Sequence[str], config: QuantConfig):
    """The whole-pattern models of phases ``ids`` on a scan, with their allowed strains and texture flags.

    Phases without a reflection in the fitted range are left out.

    Returns
    -------
    models : list of PhaseModel
    strains : list of float
    textured : list of bool
    """
    rad = scan.meta.radiation
    lams = (rad.kalpha1, rad.kalpha2) if rad.is_doublet else (rad.kalpha1,)
    lo, hi = config.two_theta_range or scan.x_range
    # reflections for the whole measured range (d_min from the scan's end and its longest wavelength)
    d_min = d_min_for_scan(hi, max(lams))
    models, strains, textured = [], [], []
    for pid in ids:
        p = library[pid]
        refl = library.reflections(p, wavelength=rad.kalpha1, d_min=d_min)
        tex_axis = None
        if config.texture == "auto" and p.family in TEXTURE_FAMILIES:
            tex_axis = (0, 0, 1)
        elif isinstance(config.texture, Mapping) and pid in config.texture:
            tex_axis = tuple(config.texture[pid])
        m = PhaseModel.build(pid, refl, (lo, hi), lams, max_strain=max(p.strain, 0.01), texture_axis=tex_axis)
        if m.d0.size == 0:
            continue  # no reflection of this phase in the scan range
        block = (config.extinction_um or {}).get(pid)
        if block:
            # on the model's intensities, not the list's |F|²: refined coordinates scale those by
            # their ratio to the list's (fit.position_terms), which keeps the extinction factor
            row = {tuple(h): r for r, h in enumerate(refl.hkl.tolist())}
            rows = np.array([row[tuple(h)] for h in m.hkl.tolist()], dtype=np.int64)
            m = dataclasses.replace(m, mf2=m.mf2 * sabine_extinction(refl, rad.kalpha1, block)[rows])
        models.append(m)
        strains.append(p.strain)
        textured.append(tex_axis is not None)
    return models, strains, textured


def start_from(state: FitState | None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Start values (``quantify(start=...)``) where a fit ended, on top of ``extra``."""
    start: dict[str, Any] = dict(extra or {})
    if state is None:
        return start
    start.update(state.globals_)
    for m, p in zip(state.models, state.per_phase, strict=True):
        start[m.id] = {k: v for k, v in p.items() if k != "cell"}
    start["aligned"] = True
    return start
