"""The instrument description: what a Bragg–Brentano diffractometer does to intensities and profiles.

A small YAML file describes one instrument (see ``benchmarks/instruments/cpd-roundrobin.yaml``)::

    name: Philips PW1050 (IUCr CPD round robin)
    reference: where the values come from
    radiation:                      # lines and intensity ratios; omit to take them from each scan
      lines:
        - {wavelength: 1.540593, intensity: 1.0}
        - {wavelength: 1.544414, intensity: 0.5}
    goniometer_radius_mm: 173
    divergence_slit: {mode: fixed, opening_deg: 1.0, sample_length_mm: 20}   # or mode: automatic
    monochromator: {position: diffracted, two_theta_deg: 26.6}              # graphite 002 for Cu Kα
    soller_slits_deg: {incident: 2.3, diffracted: 2.3}
    zero_deg: 0.0
    profile: {u: 0.003, v: -0.001, w: 0.002, eta: 0.5, asymmetry: 0.05}     # asymmetry: tail, deg at 20°
    sample: {roughness_p: null, roughness_q: null, thickness_mm: null, mu_per_cm: null}

Every key is optional; what is missing keeps the fit's documented default. The file's values
travel with each result (:meth:`Instrument.to_dict`).

Intensity corrections (:meth:`Instrument.angle_factor`), each a factor of 2θ:

* Lorentz–polarisation with the monochromator's polarisation ``K = cos² 2θ_M`` (ideally mosaic
  crystal; graphite 002 at 26.6° for Cu Kα gives K = 0.80), K = 1 without one.
* Divergence slit: a fixed slit irradiates a constant volume of a thick sample (no factor) until
  the footprint ``R·α / sin θ`` exceeds the sample length, below which only the part on the sample
  diffracts (factor ``L sin θ / (R α)``); an automatic slit keeps the irradiated length constant,
  so the irradiated volume, and the intensity, grows as ``sin θ``.
* Surface roughness (Suortti, J. Appl. Cryst. 5 (1972) 325): ``p + (1 − p) exp(−q / sin θ)``,
  normalised at 2θ = 180°.
* Finite sample thickness t with linear absorption μ: ``1 − exp(−2 μ t / sin θ)``.

Axial divergence (Soller slits) is modelled as a one-sided exponential tail convolved with every
line (:func:`phasetrace.peaks.profiles.axial_tail`): ``profile.asymmetry`` is its length in
degrees at 2θ = 20° (falling as 1/|tan 2θ|; about 0.02-0.08° for Soller slits of 2-5°), the
start value of the fit's refinement (``instrument calibrate`` refines and writes it). Files written
before the tail replaced the split pseudo-Voigt stated a dimensionless half-width ratio under the
same key: recalibrate them. The Soller openings are recorded for the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PhasetraceError
from ..library.crystallography import lorentz_polarisation

__all__ = ["Instrument", "InstrumentError", "load_instrument", "metadata_instrument"]


class InstrumentError(PhasetraceError, ValueError):
    """An instrument file cannot be read or holds an impossible value."""


#: Profile keys the fit takes from an instrument file (QuantConfig field names).
PROFILE_KEYS = ("u", "v", "w", "eta", "asymmetry")


@dataclass(frozen=True)
class Instrument:
    """A Bragg–Brentano laboratory diffractometer, as far as the intensities and profiles need it.

    Parameters
    ----------
    name, reference : str
        What the instrument is and where its values come from.
    lines : tuple of (float, float)
        Emission lines (wavelength Å, relative intensity), strongest first; empty to use each
        scan's own radiation.
    goniometer_radius_mm : float or None
    divergence : {"fixed", "automatic"}
    divergence_deg : float or None
        Opening of a fixed divergence slit.
    irradiated_length_mm : float or None
        Constant irradiated length of an automatic slit.
    sample_length_mm : float or None
        Sample length along the beam, for the beam-overflow correction of a fixed slit.
    monochromator : {"diffracted", "incident"} or None
    monochromator_2theta : float or None
        Monochromator Bragg angle 2θ_M (degrees).
    soller_incident_deg, soller_diffracted_deg : float or None
        Soller slit openings (recorded; the asymmetry is refined).
    zero_deg : float
        Zero shift (degrees 2θ), added to every peak position.
    profile : mapping
        Instrumental profile: Caglioti ``u, v, w`` (deg²), pseudo-Voigt ``eta``, ``asymmetry``
        (axial-divergence tail length, degrees at 2θ = 20°).
    roughness_p, roughness_q : float or None
        Suortti surface-roughness parameters (both or none).
    thickness_mm, mu_per_cm : float or None
        Finite sample thickness and the sample's linear absorption coefficient (both or none).
    source : str
        File the description was read from.
    """

    name: str = "unnamed instrument"
    reference: str = ""
    lines: tuple[tuple[float, float], ...] = ()
    goniometer_radius_mm: float | None = None
    divergence: str = "fixed"
    divergence_deg: float | None = None
    irradiated_length_mm: float | None = None
    sample_length_mm: float | None = None
    monochromator: str | None = None
    monochromator_2theta: float | None = None
    soller_incident_deg: float | None = None
    soller_diffracted_deg: float | None = None
    zero_deg: float = 0.0
    profile: Mapping[str, float] = field(default_factory=dict)
    roughness_p: float | None = None
    roughness_q: float | None = None
    thickness_mm: float | None = None
    mu_per_cm: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        where = self.source or self.name
        if self.divergence not in ("fixed", "automatic"):
            raise InstrumentError(
                f"{where}: divergence slit mode must be fixed or automatic, not {self.divergence!r}"
            )
        for lam, inten in self.lines:
            if not (0.05 < lam < 5.0) or not (0.0 <= inten <= 1.0e3):
                raise InstrumentError(f"{where}: implausible emission line ({lam} Å, intensity {inten})")
        if self.goniometer_radius_mm is not None and not (50.0 <= self.goniometer_radius_mm <= 1000.0):
            raise InstrumentError(f"{where}: implausible goniometer radius {self.goniometer_radius_mm} mm")
        if self.monochromator_2theta is not None and not (0.0 < self.monochromator_2theta < 180.0):
            raise InstrumentError(f"{where}: monochromator 2θ must be between 0 and 180°")
        if self.divergence == "automatic" and not self.irradiated_length_mm:
            raise InstrumentError(f"{where}: an automatic divergence slit needs irradiated_length_mm")
        if self.sample_length_mm is not None and not self.divergence_deg:
            raise InstrumentError(f"{where}: the beam-overflow correction needs the slit opening_deg")
        if (self.roughness_p is None) != (self.roughness_q is None):
            raise InstrumentError(f"{where}: surface roughness needs both p and q")
        if (self.thickness_mm is None) != (self.mu_per_cm is None):
            raise InstrumentError(f"{where}: a finite-thickness correction needs thickness_mm and mu_per_cm")
        bad = set(self.profile) - set(PROFILE_KEYS)
        if bad:
            raise InstrumentError(f"{where}: unknown profile keys {', '.join(sorted(bad))}")

    # ------------------------------------------------------------------ physics
    @property
    def polarisation_k(self) -> float:
        """Polarisation ratio K of the beam (1 without monochromator)."""
        if self.monochromator_2theta is None:
            return 1.0
        return float(np.cos(np.radians(self.monochromator_2theta)) ** 2)

    def angle_factor(self, two_theta_deg: np.ndarray) -> np.ndarray:
        """Intensity factor at 2θ: LP × slit × roughness × thickness (see the module notes)."""
        tt = np.asarray(two_theta_deg, dtype=float)
        out = lorentz_polarisation(tt, self.monochromator_2theta)
        sin_t = np.sin(np.radians(np.clip(tt, 0.1, 179.9) / 2.0))
        if self.divergence == "automatic":
            out = out * sin_t
        elif self.sample_length_mm and self.divergence_deg and self.goniometer_radius_mm:
            footprint = self.goniometer_radius_mm * np.radians(self.divergence_deg) / sin_t
            out = out * np.minimum(1.0, self.sample_length_mm / footprint)
        if self.roughness_p is not None and self.roughness_q is not None:
            p, q = self.roughness_p, self.roughness_q
            out = out * (p + (1.0 - p) * np.exp(-q / sin_t)) / (p + (1.0 - p) * np.exp(-q))
        if self.thickness_mm is not None and self.mu_per_cm is not None:
            out = out * (1.0 - np.exp(-2.0 * self.mu_per_cm * self.thickness_mm * 0.1 / sin_t))
        return out

    # ------------------------------------------------------------------ use
    def radiation(self, scan_radiation=None):
        """The scan's radiation with the instrument's lines (the scan's own if the file gives none)."""
        from ..scan import Radiation

        if not self.lines:
            return scan_radiation
        anode = scan_radiation.anode if scan_radiation is not None else None
        (l1, i1), *rest = self.lines
        if rest:
            l2, i2 = rest[0]
            return Radiation(l1, l2, i2 / i1, anode, "instrument")
        return Radiation(l1, None, 0.0, anode, "instrument")

    def apply(self, scan, config):
        """The scan with the instrument's radiation, and the fit settings with its values.

        Returns
        -------
        (Scan, QuantConfig)
        """
        changes: dict[str, Any] = {"instrument": self}
        if self.monochromator_2theta is not None:
            changes["monochromator_2theta"] = self.monochromator_2theta
        if self.goniometer_radius_mm:
            changes["radius_mm"] = self.goniometer_radius_mm
        changes.update({k: float(v) for k, v in self.profile.items() if k in ("u", "v", "w", "eta")})
        config = dataclasses.replace(config, **changes)
        rad = self.radiation(scan.meta.radiation)
        if rad is not scan.meta.radiation and rad is not None:
            meta = dataclasses.replace(scan.meta, radiation=rad)
            scan = dataclasses.replace(scan, meta=meta)
        return scan, config

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the form :func:`load_instrument` reads, plus ``source``)."""
        out: dict[str, Any] = {"name": self.name}
        if self.reference:
            out["reference"] = self.reference
        if self.lines:
            out["radiation"] = {"lines": [{"wavelength": a, "intensity": b} for a, b in self.lines]}
        if self.goniometer_radius_mm is not None:
            out["goniometer_radius_mm"] = self.goniometer_radius_mm
        slit: dict[str, Any] = {"mode": self.divergence}
        for key, val in (
            ("opening_deg", self.divergence_deg),
            ("irradiated_length_mm", self.irradiated_length_mm),
            ("sample_length_mm", self.sample_length_mm),
        ):
            if val is not None:
                slit[key] = val
        out["divergence_slit"] = slit
        if self.monochromator or self.monochromator_2theta is not None:
            out["monochromator"] = {
                "position": self.monochromator,
                "two_theta_deg": self.monochromator_2theta,
            }
        if self.soller_incident_deg is not None or self.soller_diffracted_deg is not None:
            out["soller_slits_deg"] = {
                "incident": self.soller_incident_deg,
                "diffracted": self.soller_diffracted_deg,
            }
        out["zero_deg"] = self.zero_deg
        if self.profile:
            out["profile"] = dict(self.profile)
        sample = {
            k: v
            for k, v in (
                ("roughness_p", self.roughness_p),
                ("roughness_q", self.roughness_q),
                ("thickness_mm", self.thickness_mm),
                ("mu_per_cm", self.mu_per_cm),
            )
            if v is not None
        }
        if sample:
            out["sample"] = sample
        if self.source:
            out["source"] = self.source
        return out

    def to_yaml(self) -> str:
        """YAML text of :meth:`to_dict` (without ``source``)."""
        import yaml

        doc = {k: v for k, v in self.to_dict().items() if k != "source"}
        return "# phasetrace instrument description\n" + yaml.safe_dump(
            doc, sort_keys=False, allow_unicode=True
        )


def _num(doc: Mapping[str, Any], key: str, where: str) -> float | None:
    val = doc.get(key)
    if val is None:
        return None
    try:
        out = float(val)
    except (TypeError, ValueError):
        raise InstrumentError(f"{where}: {key} must be a number, not {val!r}") from None
    if not np.isfinite(out):
        raise InstrumentError(f"{where}: {key} must be finite")
    return out


def instrument_from_dict(doc: Mapping[str, Any], source: str = "") -> Instrument:
    """Build an :class:`Instrument` from the parsed YAML document."""
    where = source or "instrument"
    if not isinstance(doc, Mapping):
        raise InstrumentError(f"{where}: an instrument file is a YAML mapping")
    known = {
        "name", "reference", "radiation", "goniometer_radius_mm", "divergence_slit", "monochromator",
        "soller_slits_deg", "zero_deg", "profile", "sample", "receiving_slit_mm", "notes", "source",
    }  # fmt: skip
    unknown = set(doc) - known
    if unknown:
        raise InstrumentError(f"{where}: unknown keys {', '.join(sorted(unknown))}")

    def section(key: str) -> Mapping[str, Any]:
        val = doc.get(key) or {}
        if not isinstance(val, Mapping):
            raise InstrumentError(f"{where}: {key} must be a mapping")
        return val

    lines = []
    for ln in section("radiation").get("lines") or []:
        if not isinstance(ln, Mapping):
            raise InstrumentError(f"{where}: each radiation line is {{wavelength: Å, intensity: ratio}}")
        lam, inten = _num(ln, "wavelength", where), _num(ln, "intensity", where)
        if lam is None:
            raise InstrumentError(f"{where}: a radiation line without wavelength")
        lines.append((lam, 1.0 if inten is None else inten))
    slit = section("divergence_slit")
    mono = section("monochromator")
    soller = section("soller_slits_deg")
    sample = section("sample")
    profile = {k: float(v) for k, v in section("profile").items() if v is not None}
    try:
        return Instrument(
            name=str(doc.get("name") or "unnamed instrument"),
            reference=str(doc.get("reference") or ""),
            lines=tuple(lines),
            goniometer_radius_mm=_num(doc, "goniometer_radius_mm", where),
            divergence=str(slit.get("mode") or "fixed"),
            divergence_deg=_num(slit, "opening_deg", where),
            irradiated_length_mm=_num(slit, "irradiated_length_mm", where),
            sample_length_mm=_num(slit, "sample_length_mm", where),
            monochromator=mono.get("position"),
            monochromator_2theta=_num(mono, "two_theta_deg", where),
            soller_incident_deg=_num(soller, "incident", where),
            soller_diffracted_deg=_num(soller, "diffracted", where),
            zero_deg=_num(doc, "zero_deg", where) or 0.0,
            profile=profile,
            roughness_p=_num(sample, "roughness_p", where),
            roughness_q=_num(sample, "roughness_q", where),
            thickness_mm=_num(sample, "thickness_mm", where),
            mu_per_cm=_num(sample, "mu_per_cm", where),
            source=source,
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InstrumentError):
            raise
        raise InstrumentError(f"{where}: {exc}") from None


def load_instrument(path: str | Path) -> Instrument:
    """Read an instrument description (YAML).

    Raises
    ------
    InstrumentError
        One line naming the file and the problem.
    """
    import yaml

    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InstrumentError(f"{p}: cannot read the instrument file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise InstrumentError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return instrument_from_dict(doc, str(p))


def metadata_instrument(meta, base: Instrument | None = None) -> Instrument | None:
    """An instrument description filled from a scan's metadata (XRDML slit and monochromator fields).

    Values in ``base`` (e.g. an instrument file) take precedence; the scan's metadata fills what
    ``base`` leaves open. Returns ``base`` unchanged, or None, when the metadata says nothing.
    """
    extra = dict(getattr(meta, "extra", {}) or {})
    fill: dict[str, Any] = {}
    if extra.get("goniometer_radius_mm"):
        fill["goniometer_radius_mm"] = float(extra["goniometer_radius_mm"])
    mode = extra.get("divergence_slit_mode")
    if mode == "automatic" and extra.get("irradiated_length_mm"):
        fill["divergence"] = "automatic"
        fill["irradiated_length_mm"] = float(extra["irradiated_length_mm"])
    if extra.get("divergence_slit_deg"):
        fill["divergence_deg"] = float(extra["divergence_slit_deg"])
    if extra.get("soller_incident_rad"):
        fill["soller_incident_deg"] = float(np.degrees(extra["soller_incident_rad"]))
    if extra.get("soller_diffracted_rad"):
        fill["soller_diffracted_deg"] = float(np.degrees(extra["soller_diffracted_rad"]))
    if not fill:
        return base
    if base is None:
        return Instrument(name=f"from the metadata of {meta.source_path or 'the scan'}", **fill)
    # the file's values win; an automatic slit in the metadata needs its irradiated length too
    keep = {k: v for k, v in fill.items() if k != "divergence" and getattr(base, k) is None}
    return dataclasses.replace(base, **keep) if keep else base


# ------------------------------------------------------------------ calibration on a standard
#: Standards ``calibrate`` knows by name (structures in ``quantify/standards/``, provenance in each CIF).
STANDARDS = {"lab6": "LaB6.cif", "si": "Si.cif", "corundum": "corundum.cif"}


def standard_cif(phase: str | Path) -> tuple[str, str]:
    """(name, CIF text) of a named standard (LaB6, Si, corundum) or of a CIF file.

    Raises
    ------
    InstrumentError
        Unknown name and no such file.
    """
    key = str(phase).strip().lower()
    if key in STANDARDS:
        path = Path(__file__).with_name("standards") / STANDARDS[key]
        return path.stem, path.read_text(encoding="utf-8")
    p = Path(phase)
    if p.suffix.lower() == ".cif" and p.is_file():
        return p.stem, p.read_text(encoding="utf-8", errors="replace")
    raise InstrumentError(
        f"{phase}: not a known standard ({', '.join(['LaB6', 'Si', 'corundum'])}) and not a CIF file"
    )
