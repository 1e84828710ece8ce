"""Which library phases a sample may contain: the candidates that matching and fitting test.

Every stage takes its candidates from here (``phasetrace identify``, ``fit``,
``series`` and the Python API), so that a system or a list of elements means the
same set of phases everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..library.phases import PhaseLibrary, ReferencePhase
from .result import NoCandidatesError

if TYPE_CHECKING:
    from ..scan import Scan

__all__ = ["candidate_pool", "host_phases", "parse_elements", "sample_system", "select_candidates"]


def select_candidates(
    library: PhaseLibrary,
    *,
    elements: Iterable[str] | None = None,
    system: str | None = None,
    phases: Iterable[str] | None = None,
    peaks: object = None,
) -> tuple[list[ReferencePhase], set[str]]:
    """The library phases to test, and the system's host phases (preferred among twins).

    Parameters
    ----------
    library : PhaseLibrary
    elements : iterable of str, optional
        The sample's elements; the crucible and usual contaminants are added.
    system : str, optional
        A material system (``"pc-NMC811 + LLZTO"``), resolved with the
        library's material aliases; gives the elements and the host phases.
    phases : iterable of str, optional
        Explicit phase ids (used as given).
    peaks : ObservedPeaks or list of them, optional
        The scan's peaks, for the library's indexed large folders (candidates by elements and lines).

    Returns
    -------
    candidates : list of ReferencePhase
    preferred : set of str

    Raises
    ------
    NoCandidatesError
        If the selection is empty or no selector is given.
    """
    from ..library.materials import resolve_system

    preferred: set[str] = set()
    if phases is not None:
        ids = list(dict.fromkeys(phases))
        if not ids:
            raise NoCandidatesError("the phase list is empty")
        chosen = [library[p] for p in ids]
        if system is not None:
            preferred = set(resolve_system(system, library.materials).host_phases)
        return chosen, preferred
    always = tuple(library.materials.get("always_candidates") or ())
    if system is not None:
        spec = resolve_system(system, library.materials)
        els = set(spec.elements) if elements is None else {e.strip().capitalize() for e in elements}
        always = tuple(spec.always) or always
        preferred = set(spec.host_phases)
        where = f"system {system!r} (elements {', '.join(sorted(els))})"
    elif elements is not None:
        els = {e.strip().capitalize() for e in elements if e.strip()}
        if not els:
            raise NoCandidatesError("no elements given")
        where = f"elements {', '.join(sorted(els))}"
    else:
        raise NoCandidatesError("say what the sample contains: give elements, a system or a list of phases")
    chosen = library.select(elements=els, always=always, peaks=peaks)
    # an always-tested phase made of the sample's elements is selected by them too (a user's Silicon
    # contaminant for "--elements Si"); only the others are there whatever the elements
    if not [p for p in chosen if p.id not in always or p.elements <= els]:
        raise NoCandidatesError(
            f"{where} select no library phase (only the always-tested {', '.join(always) or 'none'}); "
            "check the element symbols, or add a CIF with --library"
        )
    return chosen, preferred


def sample_system(
    scan: Scan, system: str | None = None, elements: Any = None, phases: Any = None
) -> tuple[str | None, Any]:
    """The system and elements to choose candidates by: as given, else the scan's own system.

    Parameters
    ----------
    scan : Scan
        Its ``meta.system`` (from the file name or a manifest) is the default.
    system, elements : optional
        What the caller says the sample contains; returned as given.
    phases : optional
        Phases the caller names: then nothing is needed.

    Returns
    -------
    (str or None, elements)

    Raises
    ------
    NoCandidatesError
        Nothing given and the scan's metadata names no system.
    """
    if phases is None and system is None and elements is None:
        system = scan.meta.system or None
        if system is None:
            where = scan.meta.source_path or scan.meta.sample or "scan"
            raise NoCandidatesError(
                f"{where}: say what the sample contains: give system=, elements= or phases= "
                "(the scan's metadata names no system)"
            )
    return system, elements


def host_phases(library: PhaseLibrary, system: str | None) -> tuple[str, ...]:
    """The host phases of a system (preferred among isostructural twins); none without a system."""
    from ..library.materials import resolve_system

    return tuple(resolve_system(system, library.materials).host_phases) if system else ()


def parse_elements(elements: Iterable[str] | str | None) -> set[str] | None:
    """Element symbols from ``"Li,La Zr;O"`` or a collection, capitalised; None stays None."""
    if elements is None:
        return None
    if isinstance(elements, str):
        elements = elements.replace(";", ",").replace(" ", ",").split(",")
    return {e.strip().capitalize() for e in elements if e.strip()}


def candidate_pool(
    library: PhaseLibrary,
    *,
    system: str | None = None,
    elements: Iterable[str] | str | None = None,
    peaks: object = None,
) -> tuple[list[str], tuple[str, ...]]:
    """The candidate phases of a sample and the host phases preferred among twins.

    Parameters
    ----------
    library : PhaseLibrary
    system : str, optional
        Material system (``"pc-LCO + LLZTO"``): its elements, always-tested phases and hosts.
    elements : iterable of str or str, optional
        The sample's elements instead (``"Li,La,Zr,Co,O"`` or a collection); then no
        host is preferred.
    peaks : ObservedPeaks or list of them, optional
        The sample's peaks, which a library with indexed large folders needs to pick candidates.

    Returns
    -------
    pool : list of str
        Candidate ids in library order.
    hosts : tuple of str
        The system's host phases (empty when ``elements`` are given).

    Raises
    ------
    NoCandidatesError
        Nothing selected.
    """
    els = parse_elements(elements)
    if els is not None:
        chosen, _ = select_candidates(library, elements=els, peaks=peaks)
        return [p.id for p in chosen], ()
    chosen, _ = select_candidates(library, system=system, peaks=peaks)
    return [p.id for p in chosen], host_phases(library, system)
