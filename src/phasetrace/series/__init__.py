"""Heating series: batch analysis, onset temperatures from XRD and Raman, reports and figures."""

from __future__ import annotations

from .analyse import SeriesRun, run_series
from .collect import SeriesEntry, collect, group_by_system
from .onsets import Evolution, evolution

__all__ = ["Evolution", "SeriesEntry", "SeriesRun", "collect", "evolution", "group_by_system", "run_series"]
