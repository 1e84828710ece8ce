"""phasetrace: which crystalline phases are in a sample, how much, and from which temperature on."""

from __future__ import annotations

from .errors import LoadError, PhasetraceError, PhasetraceWarning

__all__ = [
    "CU_KALPHA",
    "PipelineConfig",
    "LoadError",
    "PhasetraceError",
    "PhasetraceWarning",
    "Radiation",
    "Scan",
    "ScanMeta",
    "__version__",
    "analyse_series",
    "identify",
    "load",
    "load_all",
    "quantify",
]


#: Public names imported on first use (numpy and the readers are not needed to start the CLI).
_LAZY = {
    "load": "io",
    "load_all": "io",
    "CU_KALPHA": "scan",
    "Radiation": "scan",
    "Scan": "scan",
    "ScanMeta": "scan",
    "PipelineConfig": "pipeline",
    "identify": "pipeline",
    "analyse_series": "pipeline",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # ~60 ms: only when asked

    try:
        return version("phasetrace")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        globals()["__version__"] = v = _version()
        return v
    if name == "quantify":
        # the subpackage, which is callable: phasetrace.quantify(scan, ...) is pipeline.quantify
        from importlib import import_module

        return import_module(".quantify", __name__)
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'phasetrace' has no attribute {name!r}")
