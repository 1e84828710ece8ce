"""The pipeline in Python: what the command line runs, for notebooks and scripts.

>>> import phasetrace                                                      # doctest: +SKIP
>>> scan = phasetrace.load("pc-LCO + LLZTO-900.xrdml")                    # doctest: +SKIP
>>> ranking = phasetrace.identify(scan, system="pc-LCO + LLZTO")          # doctest: +SKIP
>>> print(ranking.report()); ranking.plot()                                # doctest: +SKIP
>>> fit = phasetrace.quantify(scan)          # the system from the file name or manifest  # doctest: +SKIP
>>> series = phasetrace.analyse_series("sample_data")                     # doctest: +SKIP
>>> series.to_dataframe()                                                 # doctest: +SKIP

``phasetrace identify``, ``phasetrace fit``, ``phasetrace series`` and the
per-scan tasks of a series call these functions (or, for the per-scan
selection, the one function they share,
:func:`phasetrace.quantify.candidates.select_by_fit`), so a notebook gets the
numbers the command line prints.

Keyword arguments have the same names and order everywhere: ``system``,
``elements``, ``library``, ``config``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PhasetraceError
from .library.phases import PhaseLibrary, bundled_dir, user_library_dir
from .match import MatchConfig, Ranking, rank_candidates
from .match.candidates import candidate_pool, host_phases, parse_elements, sample_system
from .quantify.candidates import quantify_scan
from .quantify.fit import QuantConfig
from .quantify.raman import RamanFit, RamanFitConfig, fit_raman

if TYPE_CHECKING:
    from .scan import Scan
    from .series.results import SeriesResult

__all__ = ["PipelineConfig", "analyse_series", "candidate_pool", "fit_raman_scan", "identify", "quantify"]


@dataclass(frozen=True)
class PipelineConfig:
    """The settings of every stage, in one immutable object.

    Parameters
    ----------
    match : MatchConfig
        Peak search and candidate ranking.
    quant : QuantConfig
        The XRD whole-pattern fit and phase selection.
    raman : RamanFitConfig
        The Raman whole-spectrum fit.
    """

    match: MatchConfig = field(default_factory=MatchConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    raman: RamanFitConfig = field(default_factory=RamanFitConfig)


def _library(library: PhaseLibrary | Sequence[str | os.PathLike[str]] | None) -> PhaseLibrary:
    """A PhaseLibrary as given, or the bundled one plus the user's phases and ``library`` CIF paths."""
    if isinstance(library, PhaseLibrary):
        return library
    return PhaseLibrary.default(extra=list(library or ()))


def identify(
    scan: Scan,
    *,
    system: str | None = None,
    elements: Iterable[str] | str | None = None,
    library: PhaseLibrary | Sequence[str | os.PathLike[str]] | None = None,
    fit: bool = True,
    config: PipelineConfig | None = None,
    phases: Sequence[str] | None = None,
) -> Ranking:
    """Rank the library phases that may be in a scan; for XRD, confirmed by a whole-pattern fit.

    What ``phasetrace identify`` prints is ``identify(...).report()``.

    Parameters
    ----------
    scan : Scan
        XRD pattern or Raman spectrum.
    system : str, optional
        Material system; default the scan's (file name or manifest) when neither
        ``elements`` nor ``phases`` is given.
    elements : iterable of str or str, optional
        The sample's elements.
    library : PhaseLibrary or sequence of path, optional
        A library, or extra CIF files/folders besides the bundled phases.
    fit : bool
        XRD: confirm the ranking with the whole-pattern phase selection (the
        phases it selects rank first, with their weight fractions).
    config : PipelineConfig, optional
    phases : sequence of str, optional
        Test exactly these phase ids.

    Returns
    -------
    Ranking
        ``.report()``, ``.plot(ax=None)``, ``.to_dict()``.
    """
    from .quantify.candidates import rerank_by_fit, select_by_fit

    cfg = config or PipelineConfig()
    lib = _library(library)
    system, elements = sample_system(scan, system, elements, phases)
    els = parse_elements(elements)
    inst = cfg.quant.instrument
    if inst is not None and inst.lines and scan.kind == "xrd":
        scan, _ = inst.apply(scan, cfg.quant)  # the instrument's lines: the ranking's radiation too
    ranking = rank_candidates(scan, lib, elements=els, system=system, phases=phases, config=cfg.match)
    if not fit or ranking.technique != "xrd" or not any(c.rank is not None for c in ranking.candidates):
        return ranking
    prefer = host_phases(lib, system)
    try:
        result, _ = select_by_fit(
            scan, lib, ranking.ids, system=system, prefer=prefer, ranking=ranking, config=cfg.quant
        )
    except PhasetraceError as exc:  # e.g. no phase has a reflection in the scan's range
        return rerank_by_fit(ranking, None, str(exc))
    return rerank_by_fit(ranking, result)


#: ``phasetrace.quantify``: exactly the given phases, or the phase set the data choose among the sample's
#: candidates (one implementation, shared with the callable ``phasetrace.quantify`` package).
quantify = quantify_scan


def fit_raman_scan(
    scan: Scan,
    phases: Sequence[str] | None = None,
    *,
    system: str | None = None,
    elements: Iterable[str] | str | None = None,
    library: PhaseLibrary | Sequence[str | os.PathLike[str]] | None = None,
    config: PipelineConfig | RamanFitConfig | None = None,
) -> RamanFit:
    """Whole-spectrum Raman test of candidate phases (what a series does with each Raman scan).

    Parameters are as for :func:`quantify`; without ``phases`` the candidates are
    those of ``system`` or ``elements`` (default: the scan's system).

    Returns
    -------
    RamanFit
        ``.report()``, ``.plot(ax=None)``, ``.to_dict()``.
    """
    cfg = config if isinstance(config, PipelineConfig) else PipelineConfig(raman=config or RamanFitConfig())
    lib = _library(library)
    if phases is None:
        system, elements = sample_system(scan, system, elements)
        phases, _ = candidate_pool(lib, system=system, elements=elements)
    return fit_raman(scan, lib, list(phases), config=cfg.raman)


def _library_paths(library: PhaseLibrary | Sequence[str | os.PathLike[str]] | None) -> list[str]:
    """The extra CIF paths a series' worker processes load the library from."""
    if library is None:
        return []
    if not isinstance(library, PhaseLibrary):
        return [str(p) for p in library]
    roots = (bundled_dir().resolve(), user_library_dir().resolve())
    out = []
    for p in library.phases:
        path = Path(p.cif_path).resolve()
        if not any(path.is_relative_to(r) for r in roots):
            out.append(str(path))
    return sorted(set(out))


def _quant_overrides(config: PipelineConfig) -> dict[str, Any]:
    """The QuantConfig fields that differ from the defaults (a series' task configuration)."""
    if config.match != MatchConfig() or config.raman != RamanFitConfig():
        raise ValueError("a series takes only quantification settings (PipelineConfig.quant) for now")
    base = QuantConfig()
    return {
        f.name: getattr(config.quant, f.name)
        for f in fields(QuantConfig)
        if getattr(config.quant, f.name) != getattr(base, f.name)
    }


def analyse_series(
    source: str | os.PathLike[str],
    *,
    system: str | None = None,
    elements: Iterable[str] | str | None = None,
    library: PhaseLibrary | Sequence[str | os.PathLike[str]] | None = None,
    config: PipelineConfig | None = None,
    out: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> SeriesResult:
    """Analyse heating series: identify every scan, refit with the series' phases, find onsets.

    What ``phasetrace series`` reports is ``analyse_series(...)`` (its ``.report()``,
    ``.to_dict()`` is ``summary.json``, ``.to_records()`` the rows of ``results.csv``).

    Parameters
    ----------
    source : path-like
        Folder of scans (with or without ``manifest.csv``) or a manifest file.
    system : str, optional
        System of every scan (else from the manifest or the file names).
    elements : iterable of str or str, optional
        Sample elements of every series (else from the system).
    library : PhaseLibrary or sequence of path, optional
        Extra CIF files/folders (a PhaseLibrary is passed on as its user CIFs).
    config : PipelineConfig, optional
        Only ``config.quant`` may differ from the defaults.
    out : path-like, optional
        Folder of the run's result store (``series.sqlite``): a re-run skips
        finished scans. Default: a new temporary folder.
    jobs : int
        Worker processes.
    scheduler : str, optional
        Dask distributed scheduler address.
    progress : bool
        Progress bar on stderr.

    Returns
    -------
    SeriesResult
    """
    import tempfile

    from .series.analyse import run_series

    quant = _quant_overrides(config or PipelineConfig())
    els = sorted(parse_elements(elements)) if elements is not None else None
    if out is None:
        out = tempfile.mkdtemp(prefix="phasetrace-series-")
    return run_series(
        source,
        out,
        system=system,
        elements=els,
        libraries=_library_paths(library),
        jobs=jobs,
        scheduler=scheduler,
        progress=progress,
        quant=quant or None,
    )
