"""Structural twins: two library entries that are one crystalline phase to XRD.

The bundled library marks isostructural phases by a shared structure family
(``garnet``, ``LaMO3-perovskite``, ...), curated by hand. A user CIF has no such
family: the corundum.cif of a round robin, a Sapphire.cif from another source
and the bundled Al2O3 are the same phase, and a model that holds two of them
splits one phase's intensity between them (both "detected", neither amount
right). For phases without a shared family, twin-ness is decided from the
structures themselves: same elements and (nearly) the same composition, the
same space group, cells that coincide within the phases' allowed strains, and
the same atomic arrangement (pymatgen's ``StructureMatcher``; a group-subgroup
relation is not recognised).

The decision is a pure function of the two CIFs and the tolerance, computed
once per pair and process and cached: the phase selection asks it many times.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING

from .crystallography import compact_hm_symbol
from .formula import parse_formula

if TYPE_CHECKING:
    from .phases import ReferencePhase
    from .reflections import ReflectionList

__all__ = ["COMPOSITION_TOL", "MIN_LENGTH_TOL", "compact_space_group", "same_composition", "structural_twins"]

#: Largest difference in any element's atomic fraction between twins: the same compound written from
#: two refinements (occupancies rounded differently) differs by far less; Al2O3 and a Cr-doped ruby
#: (0.5 % Cr) differ by more only if the dopant is an element the other lacks, which the element test
#: catches first.
COMPOSITION_TOL = 0.02
#: Smallest fractional tolerance on the cell lengths (after scaling to equal volume): two CIFs of one
#: phase agree to better than this whatever the phases' allowed strains.
MIN_LENGTH_TOL = 0.01
#: Site tolerance of the structure comparison, in units of (V/n)^(1/3) (pymatgen's default): a
#: refinement of the same phase moves its atoms by a few hundredths of that.
SITE_TOL = 0.3
#: Angle tolerance of the structure comparison, degrees.
ANGLE_TOL = 2.0

_cache: dict[tuple, bool] = {}
_lock = threading.Lock()


def compact_space_group(symbol: str) -> str:
    """A space-group symbol for comparison: :func:`compact_hm_symbol` without the screw-axis underscores.

    Examples
    --------
    >>> compact_space_group("P 63 m c") == compact_space_group("P6_3mc") == compact_space_group("P63mc")
    True
    """
    return compact_hm_symbol(symbol).replace("_", "")


def same_composition(fa: str, fb: str, tol: float = COMPOSITION_TOL) -> bool:
    """Whether two formulas have the same elements with atomic fractions within ``tol``."""
    try:
        ca, cb = parse_formula(fa), parse_formula(fb)
    except ValueError:
        return False
    if set(ca) != set(cb):
        return False
    na, nb = sum(ca.values()), sum(cb.values())
    return all(abs(ca[e] / na - cb[e] / nb) <= tol for e in ca)


def structural_twins(
    pa: ReferencePhase, pb: ReferencePhase, ra: ReflectionList, rb: ReflectionList, tol: float
) -> bool:
    """Whether two phases are the same crystal structure with cells that coincide within ``tol``.

    Parameters
    ----------
    pa, pb : ReferencePhase
        The phases (their CIFs are read for the structure comparison).
    ra, rb : ReflectionList
        Their reflection lists (elements, space group, formula, cell and mass, which decide most
        pairs without reading a CIF).
    tol : float
        Fractional cell tolerance: the sum of the two phases' allowed strains.

    Returns
    -------
    bool
        True when the elements, composition (:data:`COMPOSITION_TOL`), space group and the cube
        root of the volume per formula mass (within ``tol``) agree, and the structures match
        (cell shape within ``max(tol, MIN_LENGTH_TOL)``, sites within :data:`SITE_TOL`).
    """
    # the cheap tests first: most pairs differ in their elements, and the selection asks often
    if set(ra.elements) != set(rb.elements):
        return False
    if compact_space_group(ra.space_group) != compact_space_group(rb.space_group):
        return False
    if not same_composition(ra.formula, rb.formula):
        return False
    # volume per unit mass: the same composition at the same cell has the same density
    ratio = (ra.density / rb.density) ** (1.0 / 3.0)
    if abs(ratio - 1.0) > tol:
        return False
    key = tuple(sorted((str(pa.cif_path), str(pb.cif_path)))) + (round(tol, 6),)
    with _lock:
        hit = _cache.get(key)
    if hit is None:
        hit = _match_structures(pa, pb, tol)
        with _lock:
            _cache[key] = hit
    return hit


def _match_structures(pa: ReferencePhase, pb: ReferencePhase, tol: float) -> bool:
    """Match the two CIFs' structures with pymatgen's StructureMatcher, volumes scaled to each other."""
    from pymatgen.analysis.structure_matcher import ElementComparator, StructureMatcher

    from .reflections import CifError, parse_structure

    try:
        sa, _ = parse_structure(pa.cif_bytes.decode("utf-8", "replace"), str(pa.cif_path))
        sb, _ = parse_structure(pb.cif_bytes.decode("utf-8", "replace"), str(pb.cif_path))
    except CifError:
        return False  # a CIF pymatgen cannot read has no reflections either: nothing to compare
    matcher = StructureMatcher(
        ltol=max(tol, MIN_LENGTH_TOL),
        stol=SITE_TOL,
        angle_tol=ANGLE_TOL,
        primitive_cell=True,
        scale=True,  # the volumes were compared above, within the strains
        attempt_supercell=False,  # a superstructure is a different phase to XRD (its extra lines)
        comparator=ElementComparator(),  # "Li+" in one CIF and "Li" in the other are the same atoms
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's notes on partial occupancies: not the user's concern
        return bool(matcher.fit(sa, sb))
