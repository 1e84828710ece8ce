"""Whole-pattern quantification: Rietveld-style fit, weight fractions, detection limits, phase selection.

The package itself is callable: ``phasetrace.quantify(scan, phases=None, *, system=None,
elements=None, library=None, config=None)`` is :func:`phasetrace.quantify.candidates.quantify_scan` (the
phase set chosen by the data when ``phases`` is None, by default among the candidates of
the scan's own system).

>>> import phasetrace                                                       # doctest: +SKIP
>>> result = phasetrace.quantify(scan, ["LLZTO_cubic", "LiCoO2", "La2Zr2O7"])   # doctest: +SKIP
>>> print(result.report())                                                 # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types

from .api import FitError, quantify
from .fit import QuantConfig
from .residual import FitQuality, UnexplainedPeak, read_residual
from .result import PhaseResult, QuantResult

__all__ = [
    "FitError",
    "FitQuality",
    "PhaseResult",
    "QuantConfig",
    "QuantResult",
    "UnexplainedPeak",
    "quantify",
    "read_residual",
]


class _CallableModule(types.ModuleType):
    """The package module, callable as :func:`phasetrace.pipeline.quantify`.

    ``phasetrace.quantify`` names the subpackage once it is imported (Python sets
    the attribute), so the package itself takes the call.
    """

    def __call__(self, scan, phases=None, *, system=None, elements=None, library=None, config=None):
        from .candidates import quantify_scan

        return quantify_scan(scan, phases, system=system, elements=elements, library=library, config=config)


sys.modules[__name__].__class__ = _CallableModule
