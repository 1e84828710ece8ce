"""Series results as typed objects: per system, per phase, per temperature.

:class:`SeriesResult` is what :func:`phasetrace.analyse_series` and
``phasetrace series`` produce. Its :meth:`~SeriesResult.to_dict` is the
``summary.json`` document, :meth:`~SeriesResult.to_records` the rows of
``results.csv`` (one per system × temperature × phase) and
:meth:`~SeriesResult.to_dataframe` the same as a pandas DataFrame (pandas only
if installed).

The objects also answer ``obj["key"]`` with the value of their JSON document, so
code written against the former nested dictionaries keeps working while it moves
to attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FRACTIONS_NOTE",
    "GRID_NOTE",
    "PhaseAtTemperature",
    "PhaseSeries",
    "ScanQuality",
    "SeriesResult",
    "SeriesRun",
    "SystemResult",
]

#: Onsets are only as fine as the temperature grid; every report says so.
GRID_NOTE = (
    "Onsets are intervals (last temperature without the phase, first with it): they are only as fine "
    "as the temperature grid, and are upper bounds for the start of the reaction (XRD and Raman see a "
    "phase only once enough of it has formed)."
)
FRACTIONS_NOTE = "Weight fractions are of the crystalline part of each sample."


class _Document:
    """Read access by key to an object's JSON document (``obj["phases"]``), for dict-era callers."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def keys(self):
        return self.to_dict().keys()

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()


@dataclass(frozen=True)
class PhaseAtTemperature(_Document):
    """One phase at one temperature of a series (the XRD refit and the Raman test of the same pellet).

    ``replicates`` holds the replicate keys when several pellets were measured at the temperature
    (``n_replicates``, ``wt_sd``, ``replicates_xrd``, ``n_detected_xrd``, ...; see
    :func:`phasetrace.series.replicates.replicate_fields`), empty for one scan.
    """

    temperature_C: float
    wt_percent: float | None
    esd: float | None
    lod_wt_percent: float | None
    detected_xrd: bool | None
    raman: str | None
    replicates: dict[str, Any] = field(default_factory=dict)
    #: False when the refit it comes from is poor (its amount is a rough share, see quantify/residual.py)
    reliable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON document (an entry of ``wt_percent_by_T`` in ``summary.json``)."""
        return {
            "temperature_C": self.temperature_C,
            "wt_percent": self.wt_percent,
            "esd": self.esd,
            "lod_wt_percent": self.lod_wt_percent,
            "detected_xrd": self.detected_xrd,
            "raman": self.raman,
            "reliable": self.reliable,
            **self.replicates,
        }


@dataclass(frozen=True)
class PhaseSeries(_Document):
    """A phase through a heating series: onsets per technique, evidence, wt % per temperature.

    Attributes
    ----------
    onset : dict
        ``"xrd"``, ``"raman"``, ``"combined"``: ``[last T without, first T with]``, or
        None (host phases and contaminants get no onset; no detection).
    evidence : dict
        ``"xrd"``: the reflections that carry the first XRD detection; ``"raman"``:
        the bands of the first Raman detection (None where there is none).
    by_temperature : dict
        Temperature label -> :class:`PhaseAtTemperature`.
    onset_basis : str or None
        What the onset rests on: "XRD", "Raman", "XRD and Raman", or "XRD (unexplained
        peaks)" for an unidentified phase (None without an onset).
    peaks : tuple of dict
        An unidentified phase's reflections (``two_theta``, ``d``, ``share``, ``sigma``,
        ``temperatures_C``; see :mod:`phasetrace.series.unidentified`); empty for library phases.
    first_seen_C : float or None
        An unidentified phase's first temperature.
    """

    id: str
    formula: str
    role: str
    alternatives: tuple[str, ...]
    onset: dict[str, list[float] | None]
    evidence: dict[str, dict[str, Any] | None]
    present_from_start: bool
    vanishes_at: float | None
    raman_testable: bool
    by_temperature: dict[str, PhaseAtTemperature]
    onset_basis: str | None = None
    peaks: tuple[dict[str, Any], ...] = ()
    first_seen_C: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON document (an entry of a system's ``phases`` in ``summary.json``)."""
        doc = {
            "id": self.id,
            "formula": self.formula,
            "role": self.role,
            "alternatives": list(self.alternatives),
            "onset": dict(self.onset),
            "onset_basis": self.onset_basis,
            "evidence": dict(self.evidence),
            "present_from_start": self.present_from_start,
            "vanishes_at": self.vanishes_at,
            "raman_testable": self.raman_testable,
            "wt_percent_by_T": {k: v.to_dict() for k, v in self.by_temperature.items()},
        }
        if self.role == "unidentified":
            doc["peaks"] = [dict(p) for p in self.peaks]
            doc["first_seen_C"] = self.first_seen_C
        return doc


@dataclass(frozen=True)
class ScanQuality(_Document):
    """The fit quality of one XRD refit of a series (a row of the report's fit-quality table).

    ``flag`` is "ok", "poor" (the residual reading found unexplained peaks or a GoF beyond what
    the noise allows; ``message`` says which, see :mod:`phasetrace.quantify.residual`) or "failed".
    """

    temperature_C: float
    label: str | None
    file: str
    rwp: float | None
    rexp: float | None
    gof: float | None
    flag: str
    message: str = ""

    @classmethod
    def from_record(cls, temperature_C: float, label: str | None, file: str, res: dict[str, Any]):
        """From a stored refit result (its ``rwp``, ``rexp``, ``gof``, ``flag`` and ``quality``)."""
        return cls(
            temperature_C=temperature_C,
            label=label,
            file=str(file),
            rwp=res.get("rwp"),
            rexp=res.get("rexp"),
            gof=res.get("gof"),
            flag=res.get("flag") or ("ok" if res.get("success", True) else "failed"),
            message=(res.get("quality") or {}).get("message", "") or "",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON document (an entry of a system's ``fit_quality`` in ``summary.json``)."""
        return {
            "temperature_C": self.temperature_C,
            "label": self.label,
            "file": self.file,
            "rwp": self.rwp,
            "rexp": self.rexp,
            "gof": self.gof,
            "flag": self.flag,
            "message": self.message,
        }


@dataclass(frozen=True)
class SystemResult(_Document):
    """One material system's heating series."""

    system: str
    temperatures: tuple[float, ...]
    labels: tuple[str, ...]
    files: tuple[dict[str, Any], ...]
    phases: tuple[PhaseSeries, ...]
    #: per XRD refit: Rwp, Rexp, GoF and the fit-quality flag
    fit_quality: tuple[ScanQuality, ...] = ()
    #: persistent residual peaks at a modelled reflection: its misfit, or a phase beneath it, not an
    #: unidentified phase (:func:`phasetrace.series.unidentified.misfit_reflections`)
    misfit: tuple[dict[str, Any], ...] = ()

    @property
    def unidentified(self) -> tuple[PhaseSeries, ...]:
        """Phases the library does not explain (persistent unexplained peaks), with their onsets."""
        return tuple(p for p in self.phases if p.role == "unidentified")

    def quality_at(self, temperature_C: float) -> ScanQuality | None:
        """The fit quality of the refit at a temperature (the first replicate's), None without one."""
        return next((q for q in self.fit_quality if q.temperature_C == temperature_C), None)

    def __iter__(self) -> Iterator[PhaseSeries]:
        return iter(self.phases)

    def phase(self, pid: str) -> PhaseSeries:
        """The phase with id ``pid``."""
        for p in self.phases:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def to_dict(self) -> dict[str, Any]:
        """JSON document (an entry of ``systems`` in ``summary.json``)."""
        return {
            "system": self.system,
            "temperatures": list(self.temperatures),
            "labels": list(self.labels),
            "files": [dict(f) for f in self.files],
            "fit_quality": [q.to_dict() for q in self.fit_quality],
            "unidentified": [p.id for p in self.unidentified],
            "misfit_peaks": [dict(m) for m in self.misfit],
            "phases": [p.to_dict() for p in self.phases],
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One row per temperature × phase (the rows of ``results.csv``)."""
        rows = []
        for p in self.phases:
            for label, v in p.by_temperature.items():
                q = self.quality_at(v.temperature_C)
                rows.append(
                    {
                        "system": self.system,
                        "temperature_C": v.temperature_C,
                        "label": label,
                        "phase": p.id,
                        "formula": p.formula,
                        "role": p.role,
                        "detected_xrd": v.detected_xrd,
                        "wt_percent": v.wt_percent,
                        "esd": v.esd,
                        "lod_wt_percent": v.lod_wt_percent,
                        "raman": v.raman,
                        "rwp": q.rwp if q else None,
                        "gof": q.gof if q else None,
                        "fit_flag": q.flag if q else None,
                    }
                )
        return rows


@dataclass
class SeriesResult:
    """Everything a series run produced (the ``summary.json`` document is :meth:`to_dict`).

    Attributes
    ----------
    systems : list of SystemResult
    problems : list of dict
        ``{"file", "error"}`` for every file or series that could not be analysed.
    warnings : list of str
        One-line notes (files a manifest does not list, ``system`` not applied).
    counts : dict
        Tasks ``done`` (run now), ``skipped`` (reused from the store), ``errors``.
    out : Path
        Output folder.
    store_path : Path
        The run's SQLite store.
    """

    systems: list[SystemResult]
    problems: list[dict[str, str]]
    counts: dict[str, int]
    out: Path
    store_path: Path
    entries: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    records: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    #: one-line notes: files a manifest does not list, --system not applied (see collect)
    warnings: list[str] = field(default_factory=list)
    #: where the run's time went: stage seconds per scan and of the whole run (see :meth:`run_section`)
    timing: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, system: str) -> SystemResult:
        for s in self.systems:
            if s.system == system:
                return s
        raise KeyError(system)

    def to_dict(self) -> dict[str, Any]:
        """JSON summary: per system its temperatures and, per phase, onsets and wt % by temperature."""
        return {
            "systems": [s.to_dict() for s in self.systems],
            "problems": self.problems,
            "warnings": self.warnings,
            "counts": self.counts,
            "note": GRID_NOTE,
            "fractions_note": FRACTIONS_NOTE,
            "store": str(self.store_path),
            **({"run": self.run_section()} if self.timing else {}),
        }

    def run_section(self) -> dict[str, Any]:
        """The ``run`` section of ``summary.json``: workers, wall time and the per-stage breakdown.

        ``stages`` maps each stage (load, library, ranking, selection, final fit, raman, store,
        figures, ...) to its total seconds (summed over processes), its median per scan and its share
        of the total (:func:`phasetrace.timing.summarise`). Timings vary from run to run; nothing
        else in the summary does.
        """
        from ..timing import summarise

        t = self.timing
        per_scan = t.get("per_scan", {})
        return {
            "jobs": t.get("jobs"),
            "scheduler": t.get("scheduler"),
            "scans_analysed": len(per_scan),
            "analysis_wall_s": t.get("analysis_wall_s"),
            **({"reports_wall_s": t["reports_wall_s"]} if "reports_wall_s" in t else {}),
            "stages": summarise(per_scan.values(), t.get("run_level")),
        }

    def to_records(self) -> list[dict[str, Any]]:
        """Tidy rows: one per system × temperature × phase (the rows of ``results.csv``)."""
        return [row for s in self.systems for row in s.to_records()]

    def to_dataframe(self):
        """:meth:`to_records` as a pandas DataFrame (needs pandas, which phasetrace does not require)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "to_dataframe needs pandas (pip install pandas); to_records() gives the same rows"
            ) from exc
        return pd.DataFrame.from_records(
            self.to_records(),
            columns=[
                "system",
                "temperature_C",
                "label",
                "phase",
                "formula",
                "role",
                "detected_xrd",
                "wt_percent",
                "esd",
                "lod_wt_percent",
                "raman",
                "rwp",
                "gof",
                "fit_flag",
            ],
        )

    def report(self) -> str:
        """The terminal summary ``phasetrace series`` prints: per system, phases and onsets."""
        from ..report.tables import terminal_summary

        return terminal_summary(self)

    def plot(self, ax=None, *, library=None):
        """Onset intervals of every system's phases (the ``onsets.png`` figure).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..report.figures import plot_onsets

        return plot_onsets(self.systems, library, ax=ax)


#: The former name.
SeriesRun = SeriesResult

