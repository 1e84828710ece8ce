"""The data objects that travel through the pipeline: :class:`Scan` and its metadata.

A scan is immutable: its arrays are read-only and every change (a new
background, a new metadata value) makes a new object, so that a result depends
only on the file bytes, the library and the configuration.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

__all__ = [
    "ANODES",
    "CU_KALPHA",
    "Radiation",
    "Scan",
    "ScanKind",
    "ScanMeta",
]

ScanKind = Literal["xrd", "raman"]

#: Kα1 and Kα2 wavelengths (Å) and the Kα2/Kα1 intensity ratio per anode, as
#: diffractometer software writes them (Bearden, Rev. Mod. Phys. 39, 78 (1967);
#: ratio 0.5 as in PANalytical and Bruker defaults).
ANODES: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "Cu": (1.540598, 1.544426, 0.5),
        "Co": (1.788965, 1.792850, 0.5),
        "Mo": (0.709319, 0.713609, 0.5),
        "Fe": (1.936042, 1.939980, 0.5),
        "Cr": (2.289700, 2.293606, 0.5),
        "Ag": (0.559421, 0.563813, 0.5),
    }
)


@dataclass(frozen=True)
class Radiation:
    """X-ray wavelengths of a scan.

    Parameters
    ----------
    kalpha1 : float
        Kα1 (or the single, monochromatic) wavelength in Å.
    kalpha2 : float or None
        Kα2 wavelength in Å; None for monochromatic radiation (a Kα1
        monochromator or synchrotron).
    ratio : float
        Intensity ratio I(Kα2)/I(Kα1); 0 for monochromatic radiation.
    anode : str or None
        Anode element, if known.
    source : {"file", "default", "manifest", "user"}
        Where the values come from. ``"default"`` means the file did not state
        a wavelength and :data:`CU_KALPHA` was assumed (with a warning).
    """

    kalpha1: float
    kalpha2: float | None = None
    ratio: float = 0.0
    anode: str | None = None
    source: str = "file"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.kalpha1) and 0.05 < self.kalpha1 < 5.0):
            raise ValueError(f"implausible X-ray wavelength {self.kalpha1!r} Å")
        if self.kalpha2 is not None and not (
            math.isfinite(self.kalpha2) and 0.05 < self.kalpha2 < 5.0
        ):
            raise ValueError(f"implausible Kα2 wavelength {self.kalpha2!r} Å")
        if not (math.isfinite(self.ratio) and 0.0 <= self.ratio <= 1.0):
            raise ValueError(f"implausible Kα2/Kα1 ratio {self.ratio!r}")

    @classmethod
    def from_anode(cls, anode: str, *, source: str = "file") -> Radiation:
        """Radiation of a named anode (``"Cu"``, ``"Co"``, ...) with the tabulated wavelengths."""
        key = anode.strip().capitalize()
        if key not in ANODES:
            raise ValueError(f"unknown anode {anode!r}; known: {', '.join(ANODES)}")
        a1, a2, r = ANODES[key]
        return cls(a1, a2, r, key, source)

    @property
    def is_doublet(self) -> bool:
        """True when a Kα2 line is present with non-zero intensity."""
        return self.kalpha2 is not None and self.ratio > 0

    def with_source(self, source: str) -> Radiation:
        """A copy with another ``source`` label."""
        return dataclasses.replace(self, source=source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return dataclasses.asdict(self)


#: The documented default when a file states no wavelength: Cu Kα1/Kα2, ratio 0.5.
CU_KALPHA = Radiation.from_anode("Cu", source="default")


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class ScanMeta:
    """Metadata of a scan.

    Every field is optional except the provenance (``source_path``,
    ``sha256``, ``format``); ``None`` means "not known", never a guess.

    Parameters
    ----------
    sample : str or None
        Sample name as the file or the manifest gives it.
    system : str or None
        Material system, e.g. ``"pc-NMC631 + LLZTO"``.
    temperature_C : float or None
        Sintering (or measurement) temperature in °C; room temperature is 25.
    radiation : Radiation or None
        X-ray wavelengths (XRD only). ``radiation.source == "default"`` marks
        an assumed value.
    laser_nm : float or None
        Excitation wavelength (Raman only).
    step : float or None
        Nominal step of x (median spacing).
    counting_time : float or None
        Counting time per step (XRD) or exposure (Raman), in seconds.
    instrument : str or None
        Instrument or software as named in the file.
    technique : str or None
        Measurement technique from a manifest (e.g. ``"XRD"``).
    atmosphere, dwell : str or None
        Sintering atmosphere and dwell time from a manifest.
    source_path : str
        Path of the file the scan was read from.
    sha256 : str
        SHA-256 of the file's bytes.
    format : str
        Name of the reader that read it (e.g. ``"xrdml"``).
    index : int
        Position of the scan in a file that holds several (ranges, frames).
    x_unit : str
        ``"2theta_deg"`` or ``"raman_shift_cm-1"``.
    extra : mapping
        Anything else the file states, verbatim.
    """

    source_path: str = ""
    sha256: str = ""
    format: str = ""
    sample: str | None = None
    system: str | None = None
    temperature_C: float | None = None
    radiation: Radiation | None = None
    laser_nm: float | None = None
    step: float | None = None
    counting_time: float | None = None
    instrument: str | None = None
    technique: str | None = None
    atmosphere: str | None = None
    dwell: str | None = None
    index: int = 0
    x_unit: str = "2theta_deg"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))

    def replace(self, **changes: Any) -> ScanMeta:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (radiation as a nested dictionary)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Radiation):
                v = v.to_dict()
            elif isinstance(v, Mapping):
                v = {k: _jsonable(x) for k, x in v.items()}
            out[f.name] = v
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


def _readonly(a: Any, name: str) -> np.ndarray:
    arr = np.array(a, dtype=np.float64, copy=True)
    if arr.ndim != 1:
        raise ValueError(f"Scan.{name} must be one-dimensional, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Scan:
    """One measured (or simulated) XRD pattern or Raman spectrum.

    Parameters
    ----------
    x : array-like, shape (N,)
        2θ in degrees (XRD) or Raman shift in cm⁻¹ (Raman), strictly increasing.
    y : array-like, shape (N,)
        Intensity (counts for XRD where the file gives counts).
    kind : {"xrd", "raman"}
        Technique.
    meta : ScanMeta
        Metadata and provenance.
    sigma : array-like, shape (N,), optional
        Standard uncertainty of ``y``, if the file gives one.

    Notes
    -----
    Arrays are copied and made read-only. ``Scan`` objects compare by value.
    """

    x: np.ndarray
    y: np.ndarray
    kind: ScanKind
    meta: ScanMeta = field(default_factory=ScanMeta)
    sigma: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("xrd", "raman"):
            raise ValueError(f"Scan.kind must be 'xrd' or 'raman', got {self.kind!r}")
        x = _readonly(self.x, "x")
        y = _readonly(self.y, "y")
        if x.shape != y.shape:
            raise ValueError(f"Scan.x and Scan.y differ in length: {x.size} vs {y.size}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        if self.sigma is not None:
            s = _readonly(self.sigma, "sigma")
            if s.shape != x.shape:
                raise ValueError("Scan.sigma must have the length of Scan.x")
            object.__setattr__(self, "sigma", s)

    def __len__(self) -> int:
        return int(self.x.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scan):
            return NotImplemented
        same_sigma = (self.sigma is None and other.sigma is None) or (
            self.sigma is not None
            and other.sigma is not None
            and np.array_equal(self.sigma, other.sigma)
        )
        return (
            self.kind == other.kind
            and np.array_equal(self.x, other.x)
            and np.array_equal(self.y, other.y)
            and same_sigma
            and self.meta == other.meta
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def x_range(self) -> tuple[float, float]:
        """First and last x."""
        return float(self.x[0]), float(self.x[-1])

    @property
    def step(self) -> float:
        """Median spacing of x."""
        return float(np.median(np.diff(self.x))) if self.x.size > 1 else float("nan")

    def replace(self, **changes: Any) -> Scan:
        """A copy with some fields changed (``meta=...``, ``y=...``)."""
        return dataclasses.replace(self, **changes)

    def with_meta(self, **changes: Any) -> Scan:
        """A copy whose metadata has some fields changed."""
        return dataclasses.replace(self, meta=self.meta.replace(**changes))

    def summary(self) -> dict[str, Any]:
        """What ``phasetrace info`` reports: format, points, range, step, metadata."""
        lo, hi = self.x_range
        return {
            "file": self.meta.source_path,
            "format": self.meta.format,
            "kind": self.kind,
            "index": self.meta.index,
            "points": len(self),
            "x_min": lo,
            "x_max": hi,
            "step": self.step,
            "x_unit": self.meta.x_unit,
            "y_min": float(np.min(self.y)),
            "y_max": float(np.max(self.y)),
            "has_sigma": self.sigma is not None,
            "meta": self.meta.to_dict(),
        }
