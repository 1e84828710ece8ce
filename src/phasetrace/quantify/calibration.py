"""Instrument calibration on a standard: a whole-pattern fit that yields an instrument description.

Its own module because it sits above both halves it joins: :mod:`~phasetrace.quantify.instrument`
describes an instrument (and :class:`~phasetrace.quantify.fit.QuantConfig` reads one), while the
calibration runs :func:`~phasetrace.quantify.fit.fit_pattern`.

A calibration checks itself before it is trusted (:func:`calibration_problems`): a fit of a scan
that does not show the standard still converges (the background takes the counts, and every
profile term runs to a bound), so a low GoF alone says nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..library.reflections import compute_reflections, d_min_for_scan
from .fit import QuantConfig, fit_pattern, parameter_bounds
from .instrument import Instrument, InstrumentError, standard_cif
from .model import PhaseModel

__all__ = [
    "CalibrationError",
    "MAX_GOF",
    "MIN_RANGE_DEG",
    "MIN_REFLECTIONS",
    "calibrate",
    "calibration_notes",
    "calibration_problems",
]

#: Narrowest 2θ range a calibration accepts (degrees). U, V and W are told apart only by how the
#: width changes with tan θ, and the zero shift from the displacement only by cos θ: a window of a
#: few degrees (a 0.6° scan gave GoF 10.6 and a profile at its bounds) determines none of them.
MIN_RANGE_DEG = 30.0

#: Fewest of the standard's reflections (groups closer than two widths count once) that must be
#: significant in the scan: nine profile, position and intensity terms are refined.
MIN_REFLECTIONS = 5

#: A reflection is significant when its locally free amplitude is this many standard errors above
#: zero and between half and twice the calculated one (the data carry the standard's peak there).
REFLECTION_SIGMA = 5.0

#: Highest goodness of fit a calibration accepts. A profile standard measured well is fitted to
#: GoF 1-3 (NIST SRM 660c LaB6, ``NIST660CBI.gsas``: 1.4); a strong scan whose intensities the model
#: follows less well (GSAS-II's ``LaB6_Jan2018.raw``, 135,000 counts in its strongest peak, the
#: first reflection 30 % over-calculated) reaches 7 with a sound profile. Beyond 10 the model misses
#: peaks: the wrong standard (that LaB6 scan fitted as Si: 32.5; SRM 660c as Si: 13.2), an
#: impurity, or a profile the pseudo-Voigt with an axial tail cannot follow.
MAX_GOF = 10.0

#: Allowed fractional change of the standard's cell: a certified standard's cell is known far
#: better than this, and a fit that needs more has the wrong standard.
CELL_STRAIN = 0.01


#: Parameters whose bound is a physical limit (a Caglioti U of 0, no axial tail, a pure Gaussian or
#: Lorentzian): a value there is a result. Every other bound is a search limit, and a value at it
#: means the fit did not find the instrument.
_PHYSICAL_BOUNDS = {"u": (True, False), "asymmetry": (True, False), "eta": (True, True)}

#: Refined terms of the standard, not of the instrument: at a bound they are reported (the
#: intensities fall off with angle unlike the model, e.g. an automatic divergence slit taken for a
#: fixed one), but the profile and zero do not depend on them.
_STANDARD_TERMS = ("b",)

#: How a parameter is named in a refusal.
_LABELS = {
    "scale": "cell scale {:g}",
    "displacement": "displacement {:g} µm",
    "zero": "zero {:g}°",
    "b": "ΔB {:.3g} Å²",
}


class CalibrationError(InstrumentError):
    """A calibration fit failed its checks (see :func:`calibration_problems`)."""


def calibrate(
    scan, phase: str | Path, base: Instrument | None = None, *, check: bool = True
) -> tuple[Instrument, dict[str, Any]]:
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
    check : bool
        Raise :class:`CalibrationError` when the fit fails its checks (:func:`calibration_problems`).
        False returns the description anyway, its ``reference`` saying why it is not to be trusted.

    Returns
    -------
    (Instrument, dict)
        The calibrated description and the fit's statistics: ``rwp``, ``gof``, ``displacement_um``,
        ``points``, ``standard``, ``converged``, ``range_deg``, ``reflections`` (groups in range),
        ``significant_reflections``, ``at_bounds`` (parameter: bound, for every refined parameter at
        one), ``problems`` (the failed checks, empty when it passed) and ``notes`` (warnings that
        do not fail it, :func:`calibration_notes`).

    Raises
    ------
    CalibrationError
        ``check`` and a failed check: the message names the scan and every reason.
    InstrumentError
        Unknown standard, or none of its reflections in the scan range.
    """
    name, cif = standard_cif(phase)
    where = scan.meta.source_path or scan.meta.sample or "scan"
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
        raise InstrumentError(f"{where}: no reflection of {name} in the scan range")
    state = fit_pattern(scan, [model], strains=[CELL_STRAIN], config=config, refine_b=[True])
    g = state.globals_
    groups, significant = _reflection_significance(scan, state, model, config, lams)
    stats = {
        "rwp": state.rwp,
        "gof": state.gof,
        "displacement_um": float(g["displacement"]),
        "points": int(state.x.size),
        "standard": name,
        "converged": bool(state.success),
        "range_deg": float(state.x[-1] - state.x[0]) if state.x.size else 0.0,
        "reflections": groups,
        "significant_reflections": significant,
        "at_bounds": _at_bounds(state, model, config),
    }
    stats["problems"] = problems = calibration_problems(stats)
    stats["notes"] = calibration_notes(stats)
    if problems and check:
        raise CalibrationError(f"{where}: no calibration on {name}: {'; '.join(problems)}")
    profile = {k: round(float(g[k]), 6) for k in ("u", "v", "w", "eta", "asymmetry")}
    note = f"profile calibrated on {where} ({name})"
    if problems:
        note += f"; NOT TRUSTWORTHY, the calibration failed its checks: {'; '.join(problems)}"
    inst = dataclasses.replace(
        base,
        profile=profile,
        zero_deg=round(float(g["zero"]), 5),
        reference=(base.reference + "; " if base.reference else "") + note,
        source="",
    )
    return inst, stats


def calibration_problems(stats: dict[str, Any]) -> list[str]:
    """The checks a calibration fit failed, as short reasons (empty: it passed).

    Parameters
    ----------
    stats : dict
        :func:`calibrate`'s statistics (``range_deg``, ``significant_reflections``,
        ``reflections``, ``gof``, ``at_bounds``, ``converged``, ``standard``).

    Returns
    -------
    list of str
        One reason per failed check: a range under :data:`MIN_RANGE_DEG`, fewer than
        :data:`MIN_REFLECTIONS` significant reflections, a GoF above :data:`MAX_GOF`, refined
        instrument or cell parameters at a search bound.
    """
    out = []
    if stats["range_deg"] < MIN_RANGE_DEG:
        out.append(f"the scan spans {stats['range_deg']:.1f}° of 2θ (needs {MIN_RANGE_DEG:.0f}°)")
    if not stats["reflections"]:
        out.append(f"no {stats['standard']} reflection in the scan range")
    elif stats["significant_reflections"] < MIN_REFLECTIONS:
        out.append(
            f"{stats['significant_reflections']} of {stats['reflections']} {stats['standard']} reflections "
            f"significant (needs {MIN_REFLECTIONS}; is it a scan of {stats['standard']}?)"
        )
    if not np.isfinite(stats["gof"]) or stats["gof"] > MAX_GOF:
        out.append(f"GoF {stats['gof']:.1f} > {MAX_GOF:g}")
    limits = {k: v for k, v in stats["at_bounds"].items() if k not in _STANDARD_TERMS}
    if limits:
        out.append("at search limits: " + ", ".join(_label(k, v) for k, v in limits.items()))
    return out


def calibration_notes(stats: dict[str, Any]) -> list[str]:
    """Warnings about a calibration that passed its checks (the standard's own terms at a bound)."""
    return [
        f"the standard's {_label(k, v)} is at its search limit: its intensities fall off with "
        "angle unlike the model (is the divergence slit fixed, as assumed?); the profile does not rest on it"
        for k, v in stats["at_bounds"].items()
        if k in _STANDARD_TERMS
    ]


def _label(key: str, value: float) -> str:
    return _LABELS.get(key, key + " {:g}").format(value)


def _at_bounds(state, model: PhaseModel, config: QuantConfig) -> dict[str, float]:
    """Refined parameters that ended at a search bound (not at a physical limit), with the bound."""
    bounds = parameter_bounds([model], [CELL_STRAIN], config, refine_b=[True])
    out = {}
    for (name, lo, hi), val in zip(bounds, state.theta, strict=True):
        key = name.split(":", 1)[-1]
        tol = 1e-6 * (hi - lo)
        phys_lo, phys_hi = _PHYSICAL_BOUNDS.get(key, (False, False))
        if val <= lo + tol and not phys_lo:
            out[key] = float(lo)
        elif val >= hi - tol and not phys_hi:
            out[key] = float(hi)
    return out


def _reflection_significance(scan, state, model: PhaseModel, config: QuantConfig, lams) -> tuple[int, int]:
    """(groups of the standard's reflections in the scan, how many of them are significant).

    Reflections closer than two widths form one group. Each group's calculated pattern is
    evaluated at the refined parameters; its amplitude is then freed with everything else held
    (the data minus the rest of the fit, projected on the group's pattern): significant when that
    amplitude is :data:`REFLECTION_SIGMA` standard errors above zero and within a factor of two of
    the calculated one.
    """
    groups = _group_reflections(state, model, lams[0], config.radius_mm)
    s0 = float(state.scales[0]) if state.scales.size else 0.0
    if not groups or s0 <= 0 or not np.isfinite(s0):
        return len(groups), 0
    g, p = state.globals_, state.per_phase[0]
    subs = [
        dataclasses.replace(
            model, id=f"{model.id}#{k}", hkl=model.hkl[idx], d0=model.d0[idx], mf2=model.mf2[idx],
            _cos2_cache={}, _last_blocks={},
        )
        for k, idx in enumerate(groups)
    ]  # fmt: skip
    held = {"scale": p["scale"], "b": p.get("b", 0.0)}
    start = {**{k: g[k] for k in g}, **{m.id: dict(held) for m in subs}}
    cols = fit_pattern(
        scan, subs, strains=[CELL_STRAIN] * len(subs), config=config, start=start,
        refine_b=[False] * len(subs), refine=False,
    ).columns  # fmt: skip
    w = state.weights
    resid = state.y - state.ycalc
    n_sig = 0
    for k in range(len(subs)):
        calc = cols[:, k] * s0
        info = float(np.sum(w * calc * calc))
        if info <= 0:
            continue
        amp = float(np.sum(w * (resid + calc) * calc)) / info  # 1 = as calculated
        if amp * np.sqrt(info) >= REFLECTION_SIGMA and 0.5 <= amp <= 2.0:
            n_sig += 1
    return len(subs), n_sig


def _group_reflections(state, model: PhaseModel, lam: float, radius_mm: float) -> list[np.ndarray]:
    """Indices of the model's reflections in the fitted range, grouped where closer than two widths."""
    g, p = state.globals_, state.per_phase[0]
    d = model.d_spacings(p.get("cell"), p["scale"])
    arg = lam / (2.0 * d)
    ok = np.flatnonzero(arg < 1.0)
    th = np.arcsin(arg[ok])
    # the model's peak centres: zero shift, and the displacement's 2s·cos θ / R
    tt = np.degrees(2.0 * th - 2.0 * g["displacement"] * 1e-3 / radius_mm * np.cos(th)) + g["zero"]
    inside = (tt >= state.x[0]) & (tt <= state.x[-1])
    ok, tt = ok[inside], tt[inside]
    if not ok.size:
        return []
    order = np.argsort(tt)
    ok, tt = ok[order], tt[order]
    tan_t = np.tan(np.radians(tt / 2.0))
    fwhm = np.sqrt(np.maximum(g["u"] * tan_t**2 + g["v"] * tan_t + g["w"], 1e-8))
    step = float(np.median(np.diff(state.x))) if state.x.size > 1 else 0.0
    split = np.flatnonzero(np.diff(tt) > np.maximum(2.0 * fwhm[:-1], 2.0 * step)) + 1
    return np.split(ok, split)
