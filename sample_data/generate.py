"""Generate phasetrace's sample data set (simulated heating series with known answers) from a recipe.

Run from the repository root::

    .venv/bin/python sample_data/generate.py            # rewrite sample_data/ from sample_data/recipe.yaml
    .venv/bin/python sample_data/generate.py --check    # regenerate in a temporary folder, compare bytes

The chemistry is data (``recipe.yaml``); this script only turns it into scans with
:func:`phasetrace.simulate.simulate_xrd` and :func:`phasetrace.simulate.simulate_raman`, writes them in
several file formats with :func:`phasetrace.io.save`, and writes ``manifest.csv`` and ``truth.json``.

What "seen" means in the truth file
-----------------------------------
A phase that is in a pellet is not necessarily detectable by a technique. For every scan and every phase in
it, the script computes the phase's *ideal significance*: the present phases' noise-free contributions and a
smooth background (Chebyshev polynomials) form a linear model of the expected counts; with Poisson weights,
the standard error of the phase's scale factor follows from the Fisher matrix, and the significance is
scale / standard error. A phase counts as seen when its significance is at least :data:`Z_DETECT` of the
technique. The recipe is required to keep every present phase clearly on one side of a grey zone
(:data:`Z_CLEAR`), so that the truth does not hinge on the threshold; the script refuses to write a data
set that violates this. Onsets and vanishing temperatures in the truth file follow from these flags.

The module is also imported by ``benchmarks/validation.py``, which builds a different data set from a
different recipe with the same machinery.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import io
import json
import sys
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.polynomial import chebyshev

from phasetrace.io import save
from phasetrace.io.metadata import ROOM_TEMPERATURE_C, parse_temperature
from phasetrace.library.materials import resolve_system
from phasetrace.library.phases import PhaseLibrary
from phasetrace.scan import Radiation, Scan
from phasetrace.simulate import Instrument, SimulationError, simulate_raman, simulate_xrd

HERE = Path(__file__).resolve().parent
#: The recipe of the bundled data set.
DEFAULT_RECIPE = HERE / "recipe.yaml"

#: Ideal significance (scale / standard error) at which a phase counts as seen, per technique.
#: XRD: the 3-sigma rule of the whole-pattern fit's detection limits. Raman: the pipeline detects bands
#: one by one; a band spread over its 30-50 points has a height over the noise of roughly z / 5, so a band
#: that stands 2-3 sigma above the noise has z of about 10-15.
Z_DETECT = {"xrd": 3.0, "raman": 10.0}
#: Present phases must have a significance below the first value or above the second ("clearly not seen"
#: / "clearly seen"), so that the truth does not hinge on the threshold. The upper values leave room for a
#: real analysis that is several times less sensitive than the ideal linear model: the fit also refines
#: cells, widths and a background (XRD), and band matching needs a band well above a 3-sigma prominence
#: (Raman).
Z_CLEAR = {"xrd": (1.5, 8.0), "raman": (3.0, 25.0)}
#: Chebyshev terms of the smooth background in the XRD significance model (air scatter, the amorphous hump).
XRD_BACKGROUND_TERMS = 12
#: Chebyshev terms of the Raman background (fluorescence is smooth over 1100 cm-1).
RAMAN_BACKGROUND_TERMS = 8
#: Relative residual allowed when a simulated mixture is decomposed into its phases (the simulator is
#: linear in the phase amounts, so this only guards against a change in the simulator).
DECOMPOSITION_TOLERANCE = 1e-6
#: Decimals of the weight fractions and significances in truth.json.
WT_DECIMALS = 4
TRUTH_SCHEMA = 1
#: Marks the generated file table inside README.md.
README_BEGIN = "<!-- files:begin (written by generate.py) -->"
README_END = "<!-- files:end -->"
TECHNIQUES = ("xrd", "raman")


class RecipeError(ValueError):
    """The recipe is inconsistent, or the simulated data would not match what the recipe expects."""


# ----------------------------------------------------------------------------- small helpers
def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a recipe YAML file (see ``sample_data/recipe.yaml`` for the fields)."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or "systems" not in doc:
        raise RecipeError(f"{path}: a recipe is a mapping with a 'systems' list")
    return doc


def temperature(label: Any) -> tuple[float, str]:
    """Temperature in °C and its file-name label from a recipe entry (``"RT"`` or a number)."""
    value, rt = parse_temperature(label, where="recipe temperature")
    if value is None:
        raise RecipeError(f"no temperature in {label!r}")
    return value, (rt or f"{value:g}")


def interp(table: Any, t_c: float) -> float:
    """A scalar, or a ``{T: value}`` table interpolated linearly in T (clamped at the ends)."""
    if not isinstance(table, Mapping):
        return float(table)
    pts = sorted((temperature(k)[0], float(v)) for k, v in table.items())
    return float(np.interp(t_c, [p[0] for p in pts], [p[1] for p in pts]))


def draw(value: Any, rng: np.random.Generator) -> float:
    """A scalar as is; a ``[low, high]`` pair drawn uniformly."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        lo, hi = (float(v) for v in value)
        return float(rng.uniform(lo, hi))
    return float(value)


def at(value: Any, index: int) -> Any:
    """The ``index``-th entry of a per-temperature list, or the value itself if it is not a list."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value[index]
    return value


def stable_seed(*parts: Any) -> int:
    """A seed that depends only on ``parts`` (crc32 of their text; Python's hash() is salted per process)."""
    return zlib.crc32("|".join(str(p) for p in parts).encode("utf-8"))


def _present(fr: Mapping[str, float]) -> dict[str, float]:
    """The phases with a positive wt %."""
    return {k: float(v) for k, v in fr.items() if v > 0}


# ----------------------------------------------------------------------------- planning
@dataclass
class ScanPlan:
    """One scan to simulate: what is in the pellet and how it is measured."""

    system: str
    temperature_C: float
    label: str
    technique: str
    file: str
    seed: int
    fractions: dict[str, float]
    kwargs: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class SystemPlan:
    """A heating series: its phases' weight fractions at each temperature and its scans."""

    system: str
    recipe: dict[str, Any]
    temperatures: list[float]
    labels: list[str]
    hosts: dict[str, str]
    fractions: list[dict[str, float]]
    scans: list[ScanPlan] = field(default_factory=list)


def series_fractions(sysr: Mapping[str, Any]) -> list[dict[str, float]]:
    """Weight fractions (wt %, summing to 100) of every phase at each temperature of a system.

    Secondary phases come from the recipe's per-temperature lists; the two hosts are the balance, each
    losing its ``consumption`` share of the secondary mass, unless a host is given explicitly.
    """
    temps = sysr["temperatures"]
    n = len(temps)
    cath, elec = sysr["cathode"], sysr["electrolyte"]
    m_c, m_e = (float(v) for v in sysr.get("mass_ratio", (50, 50)))
    s_c, s_e = (float(v) for v in sysr.get("consumption", (0.5, 0.5)))
    if abs(s_c + s_e - 1.0) > 1e-9:
        raise RecipeError(f"{sysr['system']}: consumption shares must sum to 1")
    out = []
    for i in range(n):
        sec = {}
        for pid, spec in (sysr.get("phases") or {}).items():
            wt = spec["wt"]
            if len(wt) != n:
                raise RecipeError(f"{sysr['system']}: {pid} has {len(wt)} values for {n} temperatures")
            sec[pid] = float(wt[i])
        total = sum(sec.values())
        c0, e0 = 100.0 * m_c / (m_c + m_e), 100.0 * m_e / (m_c + m_e)
        e_given = at(sysr.get("electrolyte_wt"), i) if sysr.get("electrolyte_wt") is not None else None
        c_given = at(sysr.get("cathode_wt"), i) if sysr.get("cathode_wt") is not None else None
        if e_given is not None:
            wc, we = 100.0 - total - float(e_given), float(e_given)
        elif c_given is not None:
            wc, we = float(c_given), 100.0 - total - float(c_given)
        else:
            wc, we = c0 - s_c * total, e0 - s_e * total
        if wc < 0 or we < 0:
            raise RecipeError(f"{sysr['system']} at {temps[i]}: the hosts would be negative")
        out.append({cath: wc, elec: we, **sec})
    return out


def _phase_value(sysr: Mapping[str, Any], pid: str, key: str, i: int) -> Any:
    spec = (sysr.get("phases") or {}).get(pid) or {}
    return at(spec.get(key), i)


def xrd_kwargs(
    recipe: Mapping[str, Any],
    sysr: Mapping[str, Any],
    lib: PhaseLibrary,
    i: int,
    fr: Mapping[str, float],
    rng: np.random.Generator,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments of :func:`simulate_xrd` for one scan, and their JSON-able record."""
    x = recipe["xrd"]
    t_c, _ = temperature(sysr["temperatures"][i])
    hosts = recipe.get("hosts", {})
    sec = recipe.get("secondary", {})
    cath, elec = sysr["cathode"], sysr["electrolyte"]
    size: dict[str, float] = {}
    strain: dict[str, float] = {}
    scale: dict[str, float] = {}
    texture: dict[str, tuple[tuple[int, int, int], float]] = {}
    for pid in fr:
        if pid in (cath, elec):
            size[pid] = interp(hosts.get("crystallite_nm", 200.0), t_c)
            strain[pid] = interp(hosts.get("microstrain", 0.0), t_c)
        else:
            own = _phase_value(sysr, pid, "crystallite_nm", i)
            size[pid] = float(own) if own is not None else interp(sec.get("crystallite_nm", 50.0), t_c)
            own = _phase_value(sysr, pid, "microstrain", i)
            strain[pid] = float(own) if own is not None else interp(sec.get("microstrain", 0.0), t_c)
            own = _phase_value(sysr, pid, "lattice_scale", i)
            if own is not None:
                scale[pid] = float(own)
            tex = _phase_value(sysr, pid, "texture", i)
            if tex:
                texture[pid] = (tuple(tex["hkl"]), float(tex["r"]))
    if cath in fr:
        if sysr.get("cathode_crystallite_nm") is not None:
            size[cath] = interp(sysr["cathode_crystallite_nm"], t_c)
        scale[cath] = float(sysr.get("cathode_lattice_scale", 1.0))
        lt = hosts.get("layered_texture")
        if lt and lib[cath].family in lt.get("families", []):
            texture[cath] = (tuple(lt["hkl"]), float(lt["r"][sysr.get("morphology", "pc")]))
    if elec in fr and "electrolyte_lattice_scale" in hosts:
        scale[elec] = interp(hosts["electrolyte_lattice_scale"], t_c)
    secondary_total = sum(v for k, v in fr.items() if k not in (cath, elec))
    amo = x.get("amorphous", {})
    amorphous = float(amo.get("base", 0.0)) + float(amo.get("per_wt_secondary", 0.0)) * secondary_total
    if sysr.get("amorphous_extra") is not None:
        amorphous += float(at(sysr["amorphous_extra"], i))
    inst = dict(x.get("instrument", {}))
    instrument = Instrument(radiation=Radiation.from_anode(x.get("radiation", "Cu")), **inst)
    kw = {
        "instrument": instrument,
        "two_theta_range": tuple(float(v) for v in x["two_theta_range"]),
        "step": float(x["step"]),
        "max_counts": round(draw(x["max_counts"], rng)),
        "background": round(draw(x["background"], rng), 1),
        "background_rise": round(draw(x.get("background_rise", 1.0), rng), 3),
        "crystallite_size_nm": {k: round(v, 2) for k, v in size.items()},
        "microstrain": {k: round(v, 6) for k, v in strain.items()},
        "lattice_scale": {k: round(v, 6) for k, v in scale.items()},
        "texture": texture,
        "zero_shift": float(x.get("zero_shift", 0.0)),
        "displacement_um": round(draw(x.get("displacement_um", 0.0), rng), 1),
        "amorphous_fraction": round(amorphous, 4),
        "amorphous_center": float(amo.get("center", 25.0)),
        "amorphous_fwhm": float(amo.get("fwhm", 10.0)),
    }
    record = {k: v for k, v in kw.items() if k not in ("instrument", "texture")}
    record["two_theta_range"] = list(kw["two_theta_range"])
    record["instrument"] = {"radiation": x.get("radiation", "Cu"), **inst}
    record["texture"] = {k: {"hkl": list(v[0]), "r": v[1]} for k, v in texture.items()}
    return kw, record


def raman_kwargs(
    recipe: Mapping[str, Any],
    sysr: Mapping[str, Any],
    i: int,
    fr: Mapping[str, float],
    rng: np.random.Generator,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments of :func:`simulate_raman` for one scan, and their JSON-able record."""
    r = recipe["raman"]
    t_c, _ = temperature(sysr["temperatures"][i])
    eff = {k: float(v) for k, v in (r.get("efficiency") or {}).items() if k in fr}
    shift = {}
    for pid in fr:
        own = _phase_value(sysr, pid, "band_shift", i)
        if own is not None:
            shift[pid] = float(own)
    kw = {
        "shift_range": tuple(float(v) for v in r["shift_range"]),
        "step": float(r["step"]),
        "laser_nm": float(r.get("laser_nm", 532.0)),
        "max_counts": round(draw(r["max_counts"], rng)),
        "background": round(draw(r["background"], rng), 1),
        "fluorescence": round(draw(r.get("fluorescence", 1.0), rng), 3),
        "efficiency": eff,
        "band_shift": shift,
        "width_scale": round(interp(r.get("width_scale", 1.0), t_c), 4),
    }
    record = dict(kw)
    record["shift_range"] = list(kw["shift_range"])
    return kw, record


def plan(recipe: Mapping[str, Any], lib: PhaseLibrary) -> list[SystemPlan]:
    """Every scan of the recipe, with its fractions and simulation settings (deterministic)."""
    base = int(recipe.get("seed", 0))
    systems = []
    for sysr in recipe["systems"]:
        name = sysr["system"]
        temps = [temperature(t) for t in sysr["temperatures"]]
        fr_all = series_fractions(sysr)
        for pid in {p for fr in fr_all for p in fr}:
            lib[pid]  # unknown phase ids fail here, with the library's message
        sp = SystemPlan(
            system=name,
            recipe=dict(sysr),
            temperatures=[t for t, _ in temps],
            labels=[lab for _, lab in temps],
            hosts={"cathode": sysr["cathode"], "electrolyte": sysr["electrolyte"]},
            fractions=fr_all,
        )
        for i, ((t_c, label), fr) in enumerate(zip(temps, fr_all, strict=True)):
            present = _present(fr)
            stem = f"{name}-{label}"
            for tech in TECHNIQUES:
                seed = stable_seed(base, name, label, tech)
                rng = np.random.default_rng(seed)
                if tech == "xrd":
                    kw, rec = xrd_kwargs(recipe, sysr, lib, i, present, rng)
                    file = stem + sysr.get("xrd_format", ".xy")
                else:
                    kw, rec = raman_kwargs(recipe, sysr, i, present, rng)
                    file = f"{stem}_raman" + sysr.get("raman_format", ".txt")
                sp.scans.append(ScanPlan(name, t_c, label, tech, file, seed, present, kwargs=kw, record=rec))
        systems.append(sp)
    return systems


# ----------------------------------------------------------------------------- simulation
def _meta(recipe: Mapping[str, Any], sp: ScanPlan) -> dict[str, Any]:
    return {
        "sample": f"{sp.system}-{sp.label}",
        "system": sp.system,
        "temperature_C": sp.temperature_C,
        "technique": sp.technique,
        "atmosphere": recipe.get("atmosphere"),
        "dwell": recipe.get("dwell"),
    }


def simulate(lib: PhaseLibrary, recipe: Mapping[str, Any], sp: ScanPlan, *, noise: bool = True) -> Scan:
    """The scan of a plan (with Poisson noise unless ``noise`` is False)."""
    func = simulate_xrd if sp.technique == "xrd" else simulate_raman
    return func(lib, sp.fractions, **sp.kwargs, noise=noise, seed=sp.seed, meta=_meta(recipe, sp))


def strip_truth(scan: Scan) -> Scan:
    """The scan as a measured file would hold it: no answer key in its metadata."""
    from dataclasses import replace

    return replace(scan, meta=replace(scan.meta, extra={"simulated": True}))


def _contributions(lib: PhaseLibrary, sp: ScanPlan) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Noise-free contribution (counts) of each present phase, and the expected total counts."""
    func = simulate_xrd if sp.technique == "xrd" else simulate_raman
    quiet = dict(sp.kwargs, noise=False, background=0.0)
    if sp.technique == "xrd":
        quiet["amorphous_fraction"] = 0.0
    total = func(lib, sp.fractions, **quiet).y
    singles: dict[str, np.ndarray] = {}
    for pid in sp.fractions:
        try:
            singles[pid] = func(lib, {pid: 1.0}, **quiet).y
        except SimulationError:  # a phase without Raman bands contributes nothing
            singles[pid] = np.zeros_like(total)
    ids = [k for k, v in singles.items() if v.any()]
    contrib = {k: np.zeros_like(total) for k in singles}
    if ids:
        a = np.column_stack([singles[k] for k in ids])
        coef, *_ = np.linalg.lstsq(a, total, rcond=None)
        resid = np.linalg.norm(a @ coef - total) / max(np.linalg.norm(total), 1e-300)
        if resid > DECOMPOSITION_TOLERANCE:
            raise RecipeError(f"{sp.file}: the simulated mixture is not the sum of its phases ({resid:.2e})")
        for k, c in zip(ids, coef, strict=True):
            contrib[k] = c * singles[k]
    expected = func(lib, sp.fractions, **dict(sp.kwargs, noise=False)).y
    return contrib, expected


def significance(lib: PhaseLibrary, sp: ScanPlan) -> dict[str, float]:
    """Ideal significance (scale / standard error) of every present phase in one scan.

    The model is the phases' noise-free contributions plus a Chebyshev background, weighted by the
    Poisson variance of the expected counts. A phase with no signal (Raman-silent) gets 0.
    """
    contrib, expected = _contributions(lib, sp)
    ids = [k for k, v in contrib.items() if v.any()]
    out = dict.fromkeys(contrib, 0.0)
    if not ids:
        return out
    n = len(expected)
    t = np.linspace(-1.0, 1.0, n)
    terms = XRD_BACKGROUND_TERMS if sp.technique == "xrd" else RAMAN_BACKGROUND_TERMS
    basis = chebyshev.chebvander(t, terms - 1)
    a = np.column_stack([*(contrib[k] for k in ids), basis])
    norms = np.linalg.norm(a, axis=0)
    a = a / norms
    w = 1.0 / np.maximum(expected, 1.0)
    fisher = a.T @ (a * w[:, None])
    cov = np.linalg.pinv(fisher, hermitian=True)
    for j, k in enumerate(ids):
        out[k] = float(norms[j] / np.sqrt(max(cov[j, j], 1e-300)))
    return out


# ----------------------------------------------------------------------------- truth
def _first_last(flags: Sequence[bool]) -> tuple[int | None, int | None]:
    idx = [i for i, f in enumerate(flags) if f]
    return (idx[0], idx[-1]) if idx else (None, None)


def onset_record(temps: Sequence[float], flags: Sequence[bool] | None) -> dict[str, Any]:
    """Onset, vanishing temperature and present-from-start for one technique's detection flags.

    The onset is the first temperature at which the phase is seen, given as the interval
    ``[last temperature without, first with]``; a phase seen at the first temperature is present from the
    start and has no onset. It vanishes at the temperature after the last one at which it is seen.
    """
    if flags is None:
        return {
            "testable": False,
            "onset_C": None,
            "onset_interval_C": None,
            "vanish_C": None,
            "present_from_start": None,
        }
    first, last = _first_last(flags)
    rec: dict[str, Any] = {"testable": True, "present_from_start": first == 0}
    if first is None or first == 0:
        rec["onset_C"], rec["onset_interval_C"] = None, None
    else:
        rec["onset_C"], rec["onset_interval_C"] = temps[first], [temps[first - 1], temps[first]]
    rec["vanish_C"] = temps[last + 1] if last is not None and last + 1 < len(temps) else None
    return rec


def system_truth(
    lib: PhaseLibrary, recipe: Mapping[str, Any], sp: SystemPlan, z: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """Truth of one heating series: per phase its fractions, detection flags, onsets and vanishing."""
    sysr = sp.recipe
    ids: list[str] = []
    for fr in sp.fractions:
        ids += [k for k in fr if k not in ids]
    by = {(s.technique, s.temperature_C): s for s in sp.scans}
    hosts = [sp.hosts["cathode"], sp.hosts["electrolyte"]]
    phases = []
    for pid in ids:
        wt = [round(fr.get(pid, 0.0), WT_DECIMALS) for fr in sp.fractions]
        flags: dict[str, list[bool] | None] = {}
        zs: dict[str, list[float]] = {}
        for tech in TECHNIQUES:
            vals = [z[by[(tech, t)].file].get(pid, 0.0) for t in sp.temperatures]
            zs[tech] = [round(v, 2) for v in vals]
            testable = tech == "xrd" or bool(lib.raman_bands(pid))
            flags[tech] = [v >= Z_DETECT[tech] for v in vals] if testable else None
        comb = [any(f[i] for f in (flags["xrd"], flags["raman"]) if f is not None) for i in range(len(wt))]
        rec = {
            "id": pid,
            "formula": lib[pid].formula,
            "role": "host" if pid in hosts else lib[pid].role,
            "wt_percent_by_T": wt,
            "max_wt_percent": max(wt),
            "significance_by_T": zs,
            "seen_by_T": {**flags, "combined": comb},
            "onset": {},
            "onset_interval_C": {},
            "vanish_C": {},
        }
        for tech, f in (("xrd", flags["xrd"]), ("raman", flags["raman"]), ("combined", comb)):
            o = onset_record(sp.temperatures, f)
            rec["onset"][tech] = o["onset_C"]
            rec["onset_interval_C"][tech] = o["onset_interval_C"]
            rec["vanish_C"][tech] = o["vanish_C"]
            if tech == "combined":
                rec["present_from_start"] = o["present_from_start"]
        rec["raman_testable"] = flags["raman"] is not None
        phases.append(rec)
    spec = resolve_system(sp.system, lib.materials)
    totals = []
    for tot in sysr.get("paper_totals") or []:
        t_c, _ = temperature(tot["temperature"])
        i = sp.temperatures.index(t_c)
        got = sum(sp.fractions[i].get(p, 0.0) for p in tot["phases"])
        if abs(got - float(tot["wt_percent"])) > 1e-6:
            raise RecipeError(
                f"{sp.system}: paper total at {tot['temperature']} is {got}, not {tot['wt_percent']}"
            )
        totals.append({**tot, "temperature": t_c, "simulated_wt_percent": round(got, WT_DECIMALS)})
    return {
        "system": sp.system,
        "cathode": sp.hosts["cathode"],
        "electrolyte": sp.hosts["electrolyte"],
        "hosts": hosts,
        "morphology": sysr.get("morphology"),
        "mass_ratio": sysr.get("mass_ratio"),
        "elements": sorted(spec.elements),
        "temperatures_C": sp.temperatures,
        "temperature_labels": sp.labels,
        "files": {tech: [by[(tech, t)].file for t in sp.temperatures] for tech in TECHNIQUES},
        "phases": phases,
        "paper_totals": totals,
    }


def check_expectations(sp: SystemPlan, truth: Mapping[str, Any]) -> list[str]:
    """Disagreements between the computed truth and the recipe's ``expect`` / ``expect_vanish``."""
    problems = []
    by_id = {p["id"]: p for p in truth["phases"]}
    for pid, exp in (sp.recipe.get("expect") or {}).items():
        if pid not in by_id:
            problems.append(f"{sp.system}: expected phase {pid} is not in the series")
            continue
        for tech, t_exp in exp.items():
            got = by_id[pid]["onset"][tech]
            want = None if t_exp is None else temperature(t_exp)[0]
            if got != want:
                problems.append(f"{sp.system}: {pid} {tech} onset is {got}, the recipe expects {want}")
    for pid, t_exp in (sp.recipe.get("expect_vanish") or {}).items():
        got = by_id[pid]["vanish_C"]["combined"] if pid in by_id else None
        if got != temperature(t_exp)[0]:
            problems.append(f"{sp.system}: {pid} vanishes at {got}, the recipe expects {t_exp}")
    return problems


def ambiguous(sp: SystemPlan, z: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Present phases whose significance lies in the grey zone between the two clear limits."""
    out = []
    for s in sp.scans:
        for pid, v in z[s.file].items():
            lo, hi = Z_CLEAR[s.technique]
            if lo < v < hi:
                out.append(
                    f"{s.file}: {pid} at {s.fractions[pid]:.3g} wt % has significance {v:.1f} ({s.technique})"
                )
    return out


# ----------------------------------------------------------------------------- writing
@dataclass
class Generated:
    """What :func:`build` produced: the written files, the truth document and any problems."""

    out_dir: Path
    files: list[Path]
    truth: dict[str, Any]
    problems: list[str]


def build(
    recipe: Mapping[str, Any],
    out_dir: str | Path,
    *,
    lib: PhaseLibrary | None = None,
    recipe_name: str = "recipe.yaml",
    strict: bool = True,
) -> Generated:
    """Simulate every scan of ``recipe`` into ``out_dir`` with ``manifest.csv`` and ``truth.json``.

    Parameters
    ----------
    recipe : mapping
        A parsed recipe (:func:`load_recipe`).
    out_dir : path
        Folder to write into (created).
    lib : PhaseLibrary, optional
        Default: the bundled library.
    recipe_name : str
        How the truth file names its recipe.
    strict : bool
        Raise :class:`RecipeError` when a present phase is in the significance grey zone or the truth
        disagrees with the recipe's expectations (otherwise they are returned in ``problems``).

    Returns
    -------
    Generated
    """
    lib = lib or PhaseLibrary.default(include_user=False)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    systems = plan(recipe, lib)
    z: dict[str, dict[str, float]] = {}
    written: list[Path] = []
    scan_records = []
    manifest_rows = []
    for sp in systems:
        for s in sp.scans:
            z[s.file] = significance(lib, s)
            scan = strip_truth(simulate(lib, recipe, s))
            written.append(save(scan, out / s.file))
            scan_records.append(
                {
                    "file": s.file,
                    "system": s.system,
                    "temperature_C": s.temperature_C,
                    "temperature_label": s.label,
                    "technique": s.technique,
                    "seed": s.seed,
                    "wt_percent": {k: round(v, WT_DECIMALS) for k, v in s.fractions.items()},
                    "significance": {k: round(v, 2) for k, v in z[s.file].items()},
                    "seen": {k: v >= Z_DETECT[s.technique] for k, v in z[s.file].items()},
                    "settings": s.record,
                }
            )
            row = {
                "file": s.file,
                "system": s.system,
                "temperature_C": s.label if s.label == "RT" else f"{s.temperature_C:g}",
                "technique": s.technique,
                "atmosphere": recipe.get("atmosphere", ""),
                "dwell": recipe.get("dwell", ""),
                "sample": f"{s.system}-{s.label}",
                "laser_nm": f"{s.kwargs['laser_nm']:g}" if s.technique == "raman" else "",
            }
            manifest_rows.append(row)
    problems: list[str] = []
    sys_truth = []
    for sp in systems:
        st = system_truth(lib, recipe, sp, z)
        sys_truth.append(st)
        problems += check_expectations(sp, st)
        problems += ambiguous(sp, z)
    truth = {
        "schema": TRUTH_SCHEMA,
        "description": "Known answers of simulated scans (phasetrace sample_data/generate.py). Weight "
        "fractions are wt % of the crystalline sample. 'seen' = ideal significance >= z_detect of the "
        "technique.",
        "recipe": recipe_name,
        "name": recipe.get("name", ""),
        "seed": recipe.get("seed"),
        "library_version": lib.version,
        "z_detect": Z_DETECT,
        "z_clear": {k: list(v) for k, v in Z_CLEAR.items()},
        "room_temperature_C": ROOM_TEMPERATURE_C,
        "equivalents": recipe.get("equivalents", {}),
        "systems": sys_truth,
        "scans": scan_records,
    }
    if strict and problems:
        raise RecipeError("the recipe does not give the data it promises:\n  " + "\n  ".join(problems))
    buf = io.StringIO()
    fields = ["file", "system", "temperature_C", "technique", "atmosphere", "dwell", "sample", "laser_nm"]
    wr = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    wr.writeheader()
    wr.writerows(manifest_rows)
    (out / "manifest.csv").write_text(buf.getvalue(), encoding="utf-8")
    (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Generated(out, written, truth, problems)


def file_table(truth: Mapping[str, Any], out_dir: Path) -> str:
    """Markdown table of the generated files (for README.md)."""
    lines = [
        "| system | T | XRD file | Raman file | phases in the pellet (wt %, crystalline part) |",
        "|---|---|---|---|---|",
    ]
    for st in truth["systems"]:
        for i, label in enumerate(st["temperature_labels"]):
            parts = []
            for p in st["phases"]:
                w = p["wt_percent_by_T"][i]
                if w > 0:
                    parts.append(f"{p['id']} {w:.3g}")
            lines.append(
                f"| {st['system']} | {label} | `{st['files']['xrd'][i]}` | `{st['files']['raman'][i]}` | "
                + ", ".join(parts)
                + " |"
            )
    total = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    lines.append("")
    lines.append(f"Total size of `sample_data/`: {total / 1e6:.2f} MB.")
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> None:
    """Replace the generated file table between the markers of ``README.md``."""
    if not readme.exists():
        return
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        return
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_BEGIN}\n{table}\n{README_END}{tail}", encoding="utf-8")


def _remove_previous(out_dir: Path) -> None:
    """Delete the scan files listed in an earlier manifest (so renamed or dropped scans do not linger)."""
    manifest = out_dir / "manifest.csv"
    if not manifest.exists():
        return
    with manifest.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            p = out_dir / row["file"]
            if p.is_file() and p.parent == out_dir:
                p.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE)
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--check", action="store_true", help="regenerate in a temporary folder and compare bytes")
    ap.add_argument(
        "--lenient", action="store_true", help="write even if the truth disagrees with the recipe"
    )
    args = ap.parse_args(argv)
    recipe = load_recipe(args.recipe)
    try:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                gen = build(recipe, tmp, strict=not args.lenient)
                names = [p.name for p in gen.files] + ["manifest.csv", "truth.json"]
                _, mismatch, errors = filecmp.cmpfiles(args.out, tmp, names, shallow=False)
                if mismatch or errors:
                    print(f"differ from {args.out}: {', '.join(mismatch + errors)}", file=sys.stderr)
                    return 1
                print(f"{len(names)} files identical to {args.out}")
                return 0
        _remove_previous(args.out)
        gen = build(recipe, args.out, strict=not args.lenient)
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in gen.problems:
        print(f"warning: {p}", file=sys.stderr)
    update_readme(args.out / "README.md", file_table(gen.truth, args.out))
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    n_x = sum(1 for s in gen.truth["scans"] if s["technique"] == "xrd")
    print(
        f"wrote {len(gen.files)} scans ({n_x} XRD, {len(gen.files) - n_x} Raman) of "
        f"{len(gen.truth['systems'])} systems to {args.out} ({size / 1e6:.2f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
