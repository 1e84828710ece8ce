"""Heating series: batch analysis, onset temperatures from XRD and Raman, reports and figures."""

from __future__ import annotations

from .analyse import run_series
from .collect import SeriesEntry, collect, group_by_system
from .onsets import Evolution, evolution
from .results import PhaseAtTemperature, PhaseSeries, SeriesResult, SeriesRun, SystemResult

__all__ = [
    "Evolution",
    "PhaseAtTemperature",
    "PhaseSeries",
    "SeriesEntry",
    "SeriesResult",
    "SeriesRun",
    "SystemResult",
    "collect",
    "evolution",
    "group_by_system",
    "run_series",
]
