"""Whole-pattern quantification: Rietveld-style fit, weight fractions, detection limits, phase selection.

>>> result = quantify(scan, ["LLZTO_cubic", "LiCoO2", "La2Zr2O7"])   # doctest: +SKIP
>>> print(result.report())                                          # doctest: +SKIP
"""

from __future__ import annotations

from .api import FitError, quantify
from .fit import QuantConfig
from .result import PhaseResult, QuantResult

__all__ = ["FitError", "PhaseResult", "QuantConfig", "QuantResult", "quantify"]
