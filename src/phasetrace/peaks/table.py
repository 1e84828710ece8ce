"""The peak table: positions, heights, areas, widths and significances of a scan's peaks."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..errors import PhasetraceError

__all__ = ["PV_AREA_FACTOR", "PeakError", "PeakTable", "readonly"]

#: Area / (height × FWHM) of a pseudo-Voigt with η = 0.5 (Gaussian 1.0645, Lorentzian π/2): the area
#: estimate of an unrefined peak.
PV_AREA_FACTOR = 0.5 * np.pi / 2.0 + 0.5 * np.sqrt(np.pi / (4.0 * np.log(2.0)))


class PeakError(PhasetraceError, ValueError):
    """Peak finding cannot run on this scan (too few points, non-finite values, bad settings)."""


def readonly(a: Any, dtype: Any = float) -> np.ndarray:
    """A read-only copy of ``a`` as an array of ``dtype``."""
    arr = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class PeakTable:
    """Peaks of one scan, sorted by position; one array per column, all of shape (M,).

    Attributes
    ----------
    position : ndarray
        Apex position (x units: degrees 2θ or cm⁻¹); the Kα1 centre after refinement.
    height : ndarray
        Net height above the background at the apex (intensity units).
    area : ndarray
        Integrated net intensity: height × FWHM × :data:`PV_AREA_FACTOR` when found,
        the fitted area (Kα1 + Kα2) when refined.
    fwhm : ndarray
        Full width at half maximum (x units).
    significance : ndarray
        Prominence / local noise σ at the apex.
    prominence : ndarray
        scipy prominence (intensity units).
    noise : ndarray
        Local noise σ at the apex (intensity units).
    kalpha2 : ndarray of bool
        True for a Kα2 satellite of another peak in the table.
    parent : ndarray of int
        Index of the Kα1 peak of a satellite, -1 otherwise.
    refined : ndarray of bool
        True where a profile fit refined the peak.
    position_err : ndarray
        Standard error of a refined position (NaN if not refined).
    eta : ndarray
        Lorentzian fraction of a refined profile (NaN if not refined).
    shoulder : ndarray of bool
        True for a shoulder: a band found by the curvature of the signal, not
        as a maximum of its own (its height includes its neighbour's flank, its
        FWHM is the scan's typical width).
    saturated : ndarray of bool
        True where the detector saturated within the peak's half width (the
        scan's ``meta.extra["saturated"]``): its top is cut off, so its height,
        width and position are not measured.
    """

    position: np.ndarray
    height: np.ndarray
    area: np.ndarray
    fwhm: np.ndarray
    significance: np.ndarray
    prominence: np.ndarray = field(default=None)  # type: ignore[assignment]
    noise: np.ndarray = field(default=None)  # type: ignore[assignment]
    kalpha2: np.ndarray = field(default=None)  # type: ignore[assignment]
    parent: np.ndarray = field(default=None)  # type: ignore[assignment]
    refined: np.ndarray = field(default=None)  # type: ignore[assignment]
    position_err: np.ndarray = field(default=None)  # type: ignore[assignment]
    eta: np.ndarray = field(default=None)  # type: ignore[assignment]
    shoulder: np.ndarray = field(default=None)  # type: ignore[assignment]
    saturated: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = np.asarray(self.position).size
        defaults = {
            "prominence": (np.nan, float),
            "noise": (np.nan, float),
            "kalpha2": (False, bool),
            "parent": (-1, np.int64),
            "refined": (False, bool),
            "position_err": (np.nan, float),
            "eta": (np.nan, float),
            "shoulder": (False, bool),
            "saturated": (False, bool),
        }
        for f in fields(self):
            v = getattr(self, f.name)
            fill, dtype = defaults.get(f.name, (np.nan, float))
            arr = np.full(n, fill, dtype=dtype) if v is None else np.asarray(v, dtype=dtype).reshape(-1)
            if arr.size != n:
                raise PeakError(f"PeakTable.{f.name} has {arr.size} values for {n} peaks")
            object.__setattr__(self, f.name, readonly(arr, dtype))

    # ---------------------------------------------------------------- basics
    def __len__(self) -> int:
        return int(self.position.size)

    @classmethod
    def empty(cls) -> PeakTable:
        """A table with no peaks."""
        z = np.zeros(0)
        return cls(z, z, z, z, z)

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(f.name for f in fields(self))

    def take(self, index: Any) -> PeakTable:
        """Rows selected by an index array or boolean mask (``parent`` is re-indexed, -1 if dropped)."""
        idx = np.arange(len(self))[index]
        new_index = np.full(len(self), -1, dtype=np.int64)
        new_index[idx] = np.arange(idx.size)
        cols = {f: getattr(self, f)[idx] for f in self.columns}
        par = cols["parent"]
        cols["parent"] = np.where(par >= 0, new_index[np.maximum(par, 0)], -1)
        cols["kalpha2"] = cols["kalpha2"] & (cols["parent"] >= 0)
        return PeakTable(**cols)

    def primary(self) -> PeakTable:
        """The peaks that are not Kα2 satellites."""
        return self.take(~self.kalpha2)

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dictionary per peak (NaN written as None)."""
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {}
            for name in self.columns:
                v = getattr(self, name)[i]
                if isinstance(v, np.bool_):
                    rec[name] = bool(v)
                elif isinstance(v, np.integer):
                    rec[name] = int(v)
                else:
                    fv = float(v)
                    rec[name] = fv if np.isfinite(fv) else None
            out.append(rec)
        return out
