"""Simulated XRD patterns and Raman spectra of phase mixtures with known answers.

Users plan experiments and detection limits with it; the tests, the sample
data and the benchmark are built on it. The forward model deliberately has
more physics than the fitter assumes (size and strain
broadening, March–Dollase texture, an amorphous hump, specimen displacement,
lattice shifts, Poisson noise), so that a good fit result is earned.

Weight fractions become Rietveld scale factors by the Hill–Howard relation:
the scale of phase *p* is proportional to ``W_p / (Z·M·V)_p``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import PhasetraceError
from .library.crystallography import lorentz_polarisation, reciprocal_metric, two_theta
from .library.phases import PhaseLibrary
from .library.reflections import d_min_for_scan
from .peaks.profiles import axial_tail, caglioti_fwhm, pseudo_voigt, scherrer_fwhm, strain_fwhm
from .scan import CU_KALPHA, Radiation, Scan, ScanMeta

__all__ = ["Instrument", "SimulationError", "simulate_raman", "simulate_xrd"]

#: Profile tails are evaluated this many FWHM either side of a peak (the rest is < 0.03 % of its area).
PROFILE_WINDOW_FWHM = 40.0

#: Lines this far outside the scan range are drawn (degrees 2θ), on a grid extended by as much, so that
#: their profiles and axial-divergence tails reach into the range as they would on the instrument.
RANGE_MARGIN = 2.0


class SimulationError(PhasetraceError, ValueError):
    """Inconsistent simulation settings (unknown phase, fractions that are not fractions, ...)."""


@dataclass(frozen=True)
class Instrument:
    """A Bragg–Brentano laboratory diffractometer.

    Parameters
    ----------
    radiation : Radiation
        Wavelengths (Kα1/Kα2 doublet by default).
    u, v, w : float
        Caglioti instrument width parameters (deg²): FWHM² = U tan²θ + V tanθ + W.
        The defaults give about 0.05° at 30° 2θ, a typical lab instrument.
    eta : float
        Pseudo-Voigt Lorentzian fraction of the instrument profile.
    asymmetry : float
        Axial divergence: length (degrees 2θ) at 2θ = 20° of the one-sided exponential tail convolved
        with every line, ``τ(2θ) = asymmetry · tan 20° / |tan 2θ|``, towards the nearer end of the
        range (:func:`phasetrace.peaks.profiles.axial_tail`, the fit's profile term of the same name).
        0: symmetric lines. A lab Bragg–Brentano instrument with 2.5° Soller slits has about 0.05°.
    monochromator_2theta : float or None
        For the polarisation factor (None: no monochromator).
    goniometer_radius_mm : float
        For specimen displacement.
    """

    radiation: Radiation = CU_KALPHA
    u: float = 0.0030
    v: float = -0.0010
    w: float = 0.0020
    eta: float = 0.45
    asymmetry: float = 0.0
    monochromator_2theta: float | None = None
    goniometer_radius_mm: float = 240.0


def _march_dollase(
    refl_hkl: np.ndarray, cell: np.ndarray, axis: tuple[int, int, int], r: float
) -> np.ndarray:
    """March–Dollase factor ``(r² cos²α + sin²α / r)^(-3/2)`` for each hkl (α to the texture axis)."""
    gstar = reciprocal_metric(cell)
    h = np.asarray(refl_hkl, dtype=float)
    a = np.asarray(axis, dtype=float)
    num = h @ gstar @ a
    den = np.sqrt(np.einsum("ni,ij,nj->n", h, gstar, h) * (a @ gstar @ a))
    cos2 = np.clip((num / den) ** 2, 0.0, 1.0)
    return (r * r * cos2 + (1.0 - cos2) / r) ** -1.5


def _check_fractions(library: PhaseLibrary, fractions: Mapping[str, float]) -> dict[str, float]:
    if not fractions:
        raise SimulationError("no phases to simulate")
    out = {}
    for pid, wt in fractions.items():
        library[pid]  # raises LibraryError for unknown ids
        if not np.isfinite(wt) or wt < 0:
            raise SimulationError(f"weight fraction of {pid} must be ≥ 0, got {wt}")
        out[pid] = float(wt)
    total = sum(out.values())
    if total <= 0:
        raise SimulationError("the weight fractions sum to zero")
    return {k: 100.0 * v / total for k, v in out.items()}


@dataclass
class _PhaseSettings:
    lattice_scale: float = 1.0
    size_nm: float = 200.0
    microstrain: float = 0.0
    texture: tuple[tuple[int, int, int], float] | None = None


def simulate_xrd(
    library: PhaseLibrary,
    fractions: Mapping[str, float],
    *,
    instrument: Instrument = Instrument(),  # noqa: B008 - frozen dataclass
    two_theta_range: tuple[float, float] = (10.0, 80.0),
    step: float = 0.01,
    max_counts: float = 1.0e4,
    background: float = 150.0,
    background_rise: float = 1.0,
    crystallite_size_nm: float | Mapping[str, float] = 200.0,
    microstrain: float | Mapping[str, float] = 0.0,
    lattice_scale: Mapping[str, float] | None = None,
    texture: Mapping[str, tuple[tuple[int, int, int], float]] | None = None,
    zero_shift: float = 0.0,
    displacement_um: float = 0.0,
    amorphous_fraction: float = 0.0,
    amorphous_center: float = 25.0,
    amorphous_fwhm: float = 10.0,
    noise: bool = True,
    seed: int | None = None,
    sample: str = "simulated",
    meta: Mapping[str, Any] | None = None,
) -> Scan:
    """Simulate a powder XRD pattern of a phase mixture.

    Parameters
    ----------
    library : PhaseLibrary
    fractions : mapping
        Phase id -> weight fraction (any units; normalised to 100 wt %).
    instrument : Instrument
    two_theta_range, step : float
        Scan range and step, degrees 2θ.
    max_counts : float
        Counts of the highest crystalline peak above the background.
    background : float
        Background level in counts at high angle; ``background_rise`` is its
        relative excess at 10° (air scatter and fluorescence rise at low angle).
    crystallite_size_nm, microstrain : float or mapping
        Per phase or for all.
    lattice_scale : mapping, optional
        Phase id -> isotropic cell scale (1.005 = +0.5 %).
    texture : mapping, optional
        Phase id -> (hkl of the preferred axis, March–Dollase r); r < 1 for
        plates lying flat (layered oxides: ((0, 0, 1), 0.8)).
    zero_shift : float
        Zero error, degrees 2θ.
    displacement_um : float
        Specimen displacement in µm (positive = sample above the focusing circle).
    amorphous_fraction : float
        Area of a broad amorphous hump as a fraction of the crystalline area.
    noise : bool
        Draw Poisson counts (else the expected counts).
    seed : int, optional
        Random seed for the noise.

    Returns
    -------
    Scan
        ``kind == "xrd"``; ``meta.extra["truth"]`` holds the normalised wt %
        and every setting, so the known answer travels with the data.
    """
    fr = _check_fractions(library, fractions)
    lo, hi = two_theta_range
    if not (0 < lo < hi < 180) or step <= 0 or (hi - lo) / step > 2e6:
        raise SimulationError(f"bad 2θ range {two_theta_range} or step {step}")
    x = np.round(np.arange(lo, hi + step / 2, step), 10)
    rad = instrument.radiation
    lines = [(rad.kalpha1, 1.0)]
    if rad.is_doublet:
        lines.append((rad.kalpha2, rad.ratio))

    def per_phase(value: float | Mapping[str, float], pid: str, default: float) -> float:
        if isinstance(value, Mapping):
            return float(value.get(pid, default))
        return float(value)

    # the pattern is drawn on the grid extended by RANGE_MARGIN on both sides, then cut to the range
    n_ext = int(np.ceil(RANGE_MARGIN / step))
    xe = np.round(lo + step * np.arange(-n_ext, x.size + n_ext), 10)
    crystalline = np.zeros_like(xe)
    for pid, wt in fr.items():
        if wt <= 0:
            continue
        scale = (lattice_scale or {}).get(pid, 1.0)
        # every reflection the range can show, as the fit computes them (d_min_for_scan, the longest
        # line); a shrunk cell (scale < 1) brings smaller spacings in. The default 0.84 Å ended Cu Kα
        # patterns at 2θ ≈ 133°.
        d_min = d_min_for_scan(hi, max(lam for lam, _ in lines) / min(scale, 1.0))
        refl = library.reflections(pid, wavelength=rad.kalpha1, d_min=d_min)
        cell = refl.cell.copy()
        cell[:3] *= scale
        d = refl.d * scale
        intens = refl.mf2.astype(float)
        tex = (texture or {}).get(pid)
        if tex is not None:
            intens = intens * _march_dollase(refl.hkl, cell, tex[0], tex[1])
        size = per_phase(crystallite_size_nm, pid, 200.0)
        eps = per_phase(microstrain, pid, 0.0)
        volume = refl.volume * scale**3
        s_p = wt / (refl.cell_mass * volume)  # Hill–Howard: S ∝ W / (Z M V)
        for lam, weight in lines:
            tt = two_theta(d, lam)
            ok = np.isfinite(tt) & (tt > lo - RANGE_MARGIN) & (tt < hi + RANGE_MARGIN)
            tt = tt[ok]
            th = np.radians(tt) / 2
            shift = zero_shift - np.degrees(
                2 * displacement_um * 1e-3 * np.cos(th) / instrument.goniometer_radius_mm
            )
            centers = tt + shift
            fwhm = np.sqrt(
                caglioti_fwhm(tt, instrument.u, instrument.v, instrument.w) ** 2
                + scherrer_fwhm(tt, lam, size) ** 2
                + strain_fwhm(tt, eps) ** 2
            )
            area = s_p * weight * intens[ok] * lorentz_polarisation(tt, instrument.monochromator_2theta)
            for c, f, a in zip(centers, fwhm, area, strict=True):
                win = PROFILE_WINDOW_FWHM * f
                i0, i1 = np.searchsorted(xe, [c - win, c + win])
                if i1 <= i0:
                    continue
                crystalline[i0:i1] += a * pseudo_voigt(xe[i0:i1], c, f, instrument.eta)
    if instrument.asymmetry != 0.0:
        if instrument.asymmetry < 0.0:
            raise SimulationError(f"axial-divergence tail length must be ≥ 0, got {instrument.asymmetry}")
        crystalline = axial_tail(crystalline, xe, instrument.asymmetry)
    crystalline = crystalline[n_ext : n_ext + x.size]
    peak = crystalline.max()
    if peak <= 0:
        raise SimulationError("no reflection of the given phases falls in the 2θ range")
    crystalline *= max_counts / peak
    hump = np.zeros_like(x)
    if amorphous_fraction > 0:
        area = amorphous_fraction * np.trapezoid(crystalline, x)
        hump = area * pseudo_voigt(x, amorphous_center, amorphous_fwhm, 0.0)
    bg = background * (1.0 + background_rise * np.exp(-(x - 10.0) / 12.0))
    expected = crystalline + hump + bg
    rng = np.random.default_rng(seed)
    y = rng.poisson(expected).astype(float) if noise else expected
    truth = {
        "wt_percent": fr,
        "two_theta_range": list(two_theta_range),
        "step": step,
        "max_counts": max_counts,
        "background": background,
        "crystallite_size_nm": crystallite_size_nm
        if not isinstance(crystallite_size_nm, Mapping)
        else dict(crystallite_size_nm),
        "microstrain": microstrain if not isinstance(microstrain, Mapping) else dict(microstrain),
        "lattice_scale": dict(lattice_scale or {}),
        "texture": {k: [list(v[0]), v[1]] for k, v in (texture or {}).items()},
        "zero_shift": zero_shift,
        "displacement_um": displacement_um,
        "amorphous_fraction": amorphous_fraction,
        "noise": noise,
        "seed": seed,
        "library_version": library.version,
    }
    return _simulated_scan(x, y, "xrd", truth, meta, sample=sample, step=step, radiation=rad)


def simulate_raman(
    library: PhaseLibrary,
    fractions: Mapping[str, float],
    *,
    shift_range: tuple[float, float] = (100.0, 1200.0),
    step: float = 1.0,
    laser_nm: float = 532.0,
    max_counts: float = 5000.0,
    background: float = 300.0,
    fluorescence: float = 1.0,
    efficiency: Mapping[str, float] | None = None,
    band_shift: Mapping[str, float] | None = None,
    width_scale: float = 1.0,
    noise: bool = True,
    seed: int | None = None,
    sample: str = "simulated",
    meta: Mapping[str, Any] | None = None,
) -> Scan:
    """Simulate a Raman spectrum of a phase mixture from the band table.

    Band areas are proportional to the phase's weight fraction times its
    relative band intensities times a per-phase Raman ``efficiency`` (1 by
    default; real scattering efficiencies differ by orders of magnitude, which
    is why Raman evidence is treated as qualitative). Raman-silent phases
    contribute nothing. A broad fluorescence background rises with shift.

    Returns
    -------
    Scan
        ``kind == "raman"``, with the truth in ``meta.extra["truth"]``.
    """
    fr = _check_fractions(library, fractions)
    lo, hi = shift_range
    if not lo < hi or step <= 0 or (hi - lo) / step > 2e6:
        raise SimulationError(f"bad Raman shift range {shift_range} or step {step}")
    x = np.round(np.arange(lo, hi + step / 2, step), 10)
    signal = np.zeros_like(x)
    for pid, wt in fr.items():
        bands = library.raman_bands(pid)
        if not bands or wt <= 0:
            continue
        eff = (efficiency or {}).get(pid, 1.0)
        dshift = (band_shift or {}).get(pid, 0.0)
        for b in bands:
            signal += (
                wt * eff * b.rel_intensity * pseudo_voigt(x, b.position + dshift, b.fwhm * width_scale, 0.7)
            )
    if signal.max() <= 0:
        raise SimulationError("none of the phases has a Raman band in the shift range")
    signal *= max_counts / signal.max()
    bg = background * (1.0 + fluorescence * ((x - lo) / (hi - lo)) ** 1.5)
    expected = signal + bg
    rng = np.random.default_rng(seed)
    y = rng.poisson(expected).astype(float) if noise else expected
    truth = {
        "wt_percent": fr,
        "shift_range": list(shift_range),
        "step": step,
        "laser_nm": laser_nm,
        "noise": noise,
        "seed": seed,
        "library_version": library.version,
    }
    return _simulated_scan(x, y, "raman", truth, meta, sample=sample, step=step, laser_nm=laser_nm)


def _simulated_scan(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    truth: dict[str, Any],
    meta: Mapping[str, Any] | None,
    **given: Any,
) -> Scan:
    """The simulated scan, its truth in ``meta.extra["truth"]``; the caller's ``meta`` fields win."""
    extra = {"simulated": True, "truth": truth, **dict((meta or {}).get("extra", {}))}
    fields = {k: v for k, v in (meta or {}).items() if k != "extra"}
    given["sample"] = fields.pop("sample", given["sample"])
    m = ScanMeta(
        format="simulated",
        instrument="phasetrace simulate",
        x_unit="2theta_deg" if kind == "xrd" else "raman_shift_cm-1",
        extra=extra,
        **given,
        **fields,
    )
    return Scan(x=x, y=y, kind=kind, meta=m)

