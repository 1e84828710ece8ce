"""Peak profiles, peak finding and peak refinement."""

from __future__ import annotations

from .find import PeakConfig, PeakError, PeakSearch, PeakTable, find_peaks, search_peaks

__all__ = ["PeakConfig", "PeakError", "PeakSearch", "PeakTable", "find_peaks", "search_peaks"]
