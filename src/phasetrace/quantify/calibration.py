"""Instrument calibration on a standard: a whole-pattern fit that yields an instrument description.

Its own module because it sits above both halves it joins: :mod:`~phasetrace.quantify.instrument`
describes an instrument (and :class:`~phasetrace.quantify.fit.QuantConfig` reads one), while the
calibration runs :func:`~phasetrace.quantify.fit.fit_pattern`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..library.reflections import compute_reflections, d_min_for_scan
from .fit import QuantConfig, fit_pattern
from .instrument import Instrument, InstrumentError, standard_cif
from .model import PhaseModel

__all__ = ["calibrate"]


def calibrate(scan, phase: str | Path, base: Instrument | None = None) -> tuple[Instrument, dict[str, Any]]:
    """Refine the instrumental profile and zero from a scan of a standard.

    The standard's own broadening is taken as negligible (a line-profile standard), so the
    Caglioti U, V, W, the pseudo-Voigt η and the axial-divergence tail length describe the
    instrument; the zero shift is refined together with the specimen displacement (which
    belongs to the mount, not to the instrument, and is reported only). The standard's B and
    cell are refined too.

    Parameters
    ----------
    scan : Scan
        XRD scan of the standard.
    phase : str or path
        "LaB6", "Si", "corundum" or a CIF file.
    base : Instrument, optional
        Description to start from (radiation, radius, slits, monochromator are kept).

    Returns
    -------
    (Instrument, dict)
        The calibrated description and the fit's statistics (``rwp``, ``gof``,
        ``displacement_um``, ``points``).
    """
    name, cif = standard_cif(phase)
    base = base or Instrument(name="calibrated instrument")
    config = QuantConfig(
        refine_uv=True,
        refine_w=True,
        refine_size=False,
        refine_strain=False,
        refine_zero=True,
        refine_b=True,
        texture_search=False,
        max_nfev=300,
    )
    scan, config = base.apply(scan, config)
    rad = scan.meta.radiation
    lams = (rad.kalpha1, rad.kalpha2) if rad.is_doublet else (rad.kalpha1,)
    refl = compute_reflections(
        cif, wavelength=rad.kalpha1, d_min=d_min_for_scan(scan.x_range[1], max(lams)), name=name
    )
    model = PhaseModel.build(name, refl, scan.x_range, lams)
    if model.d0.size == 0:
        raise InstrumentError(f"{scan.meta.source_path or 'scan'}: no reflection of {name} in the scan range")
    state = fit_pattern(scan, [model], strains=[0.01], config=config, refine_b=[True])
    g = state.globals_
    profile = {k: round(float(g[k]), 6) for k in ("u", "v", "w", "eta", "asymmetry")}
    where = scan.meta.source_path or scan.meta.sample or "scan"
    inst = dataclasses.replace(
        base,
        profile=profile,
        zero_deg=round(float(g["zero"]), 5),
        reference=(base.reference + "; " if base.reference else "")
        + f"profile calibrated on {where} ({name})",
        source="",
    )
    stats = {
        "rwp": state.rwp,
        "gof": state.gof,
        "displacement_um": float(g["displacement"]),
        "points": int(state.x.size),
        "standard": name,
        "converged": bool(state.success),
    }
    return inst, stats
