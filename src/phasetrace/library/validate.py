"""Validation of user CIFs before anything reaches pymatgen, spglib or the reflection generator.

A user CIF is text from anywhere. What the symmetry library or the structure-factor code
would turn into a crash (a NaN cell segfaults spglib), an unbounded allocation (a 400 Å cell
asks for 10⁹ hkl) or a silently wrong phase (a negative occupancy turns TiO2 into "O2") is
refused here with one line naming the file and the problem. The checks read the CIF text
with a small tokenizer of their own; pymatgen is not imported.

The limits are documented constants:

* cell lengths within :data:`CELL_LENGTH_RANGE` Å, angles strictly between 0 and 180° and
  forming a real cell, volume at most :data:`MAX_CELL_VOLUME` Å³;
* every atom site of a known element (H..Cf, the elements the scattering tables cover),
  with finite fractional coordinates and an occupancy in [0, 1 + :data:`OCCUPANCY_TOLERANCE`];
* the reflection generation bounded: :func:`check_reflection_budget` estimates the memory
  of generating the reflections of a structure down to a d-spacing and refuses more than
  :data:`MAX_REFLECTION_BYTES`.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path

from .._cif import cif_blocks
from ..errors import CifError
from .formula import ELEMENTS, formula_elements

__all__ = [
    "CELL_LENGTH_RANGE",
    "MAX_ATOM_SITES",
    "MAX_CELL_VOLUME",
    "MAX_CIF_BYTES",
    "MAX_REFLECTION_BYTES",
    "OCCUPANCY_TOLERANCE",
    "check_cif_text",
    "check_formula_sites",
    "check_reflection_budget",
    "read_user_cif",
]

#: Cell edge lengths accepted (Å). The shortest edge of any crystal is above 2 Å (hcp Be,
#: a = 2.29 Å); the largest inorganic cells (intermetallics such as β-Mg2Al3, a = 28.2 Å;
#: zeolites, ~40 Å) stay well below 100 Å. Longer edges are proteins or a unit error (nm, pm).
CELL_LENGTH_RANGE = (1.0, 100.0)

#: Largest cell volume accepted (Å³): β-Mg2Al3 (22,400 Å³, 1168 atoms) is among the largest
#: inorganic cells known. A 60 Å cubic cell (216,000 Å³) has ~10⁶ reflections down to 0.84 Å,
#: uselessly dense for powder phase identification.
MAX_CELL_VOLUME = 50_000.0

#: Largest occupancy accepted above 1 (rounding in published site occupancies).
OCCUPANCY_TOLERANCE = 1e-3

#: Atom-site rows accepted in one CIF (the asymmetric unit of the largest known cells has a few hundred).
MAX_ATOM_SITES = 5_000

#: A user CIF larger than this is not a crystal structure (the largest ICSD entries are ~100 kB).
MAX_CIF_BYTES = 16 * 1024 * 1024

#: Working memory the reflection generation may use for one phase (bytes): the hkl grid, the
#: site × reflection structure-factor matrices and the symmetry-equivalent index arrays.
MAX_REFLECTION_BYTES = 512 * 1024 * 1024

_FORMULA_TAG = re.compile(
    r"^\s*_chemical_formula_(?:sum|structural)\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))",
    re.MULTILINE | re.IGNORECASE,
)
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\(\d+\))?\s*$")
_ELEMENT = re.compile(r"^([A-Za-z]{1,2})")


def read_user_cif(path: str | os.PathLike[str]) -> str:
    """Read a user CIF and check it (:func:`check_cif_text`); return its text.

    Raises
    ------
    CifError
        With the file name and the problem: not a regular file, too large, or a check failed.
    """
    p = Path(path)
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise CifError(f"{p}: not a regular file")
        if st.st_size > MAX_CIF_BYTES:
            raise CifError(f"{p}: {st.st_size / 2**20:.0f} MiB is too large for a crystal-structure CIF")
        with open(p, "rb") as fh:
            data = fh.read(MAX_CIF_BYTES + 1)
    except OSError as exc:
        raise CifError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    text = data.decode("utf-8", errors="replace")
    check_cif_text(text, str(p))
    return text


def _number(value: str | None) -> float | None:
    """A CIF number with an optional standard uncertainty ("4.5870(3)"); None for "?" and "."."""
    if value is None:
        return None
    v = value.strip().strip("'\"")
    if v in ("?", "."):
        return None
    m = _NUMBER.match(v)
    if m:
        return float(m.group(1))
    try:
        return float(v)  # "nan", "inf": refused by the callers
    except ValueError:
        return None


def check_cif_text(text: str, name: str = "CIF") -> None:
    """Check the cell and atom sites of every data block that has a cell.

    Raises
    ------
    CifError
        ``"{name}: <problem>"`` for a cell that is not finite, not positive or beyond the
        documented limits, an unknown element, a non-finite coordinate, or an occupancy
        that is negative or above 1.
    """
    blocks = [b for b in cif_blocks(text) if any(k.startswith("_cell_length") for k in b[0])]
    if not blocks:
        raise CifError(f"{name}: cannot parse the CIF (no unit cell: _cell_length_a, _b, _c)")
    for tags, loops in blocks:
        _check_cell(tags, name)
        _check_sites(loops, name)


def _check_cell(tags: dict[str, str], name: str) -> None:
    lengths = []
    lo, hi = CELL_LENGTH_RANGE
    for axis in "abc":
        raw = tags.get(f"_cell_length_{axis}")
        v = _number(raw)
        if v is None or not math.isfinite(v):
            raise CifError(f"{name}: cell length {axis} = {raw!r} is not a finite number")
        if not lo <= v <= hi:
            raise CifError(f"{name}: cell length {axis} = {v:g} Å is outside the accepted {lo:g}–{hi:g} Å")
        lengths.append(v)
    cosines = []
    for ang in ("alpha", "beta", "gamma"):
        raw = tags.get(f"_cell_angle_{ang}")
        v = 90.0 if raw is None else _number(raw)
        if v is None or not math.isfinite(v) or not 0.0 < v < 180.0:
            raise CifError(f"{name}: cell angle {ang} = {raw!r} is not an angle between 0 and 180°")
        cosines.append(math.cos(math.radians(v)))
    ca, cb, cg = cosines
    factor = 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg
    if factor <= 1e-6:
        raise CifError(f"{name}: the cell angles do not form a cell (zero or negative volume)")
    volume = lengths[0] * lengths[1] * lengths[2] * math.sqrt(factor)
    if volume > MAX_CELL_VOLUME:
        raise CifError(
            f"{name}: cell volume {volume:,.0f} Å³ exceeds the accepted {MAX_CELL_VOLUME:,.0f} Å³ "
            "(a unit error, or a structure too large for powder phase identification)"
        )


def _check_sites(loops: list[dict[str, list[str]]], name: str) -> None:
    site_loops = [lp for lp in loops if "_atom_site_fract_x" in lp or "_atom_site_type_symbol" in lp]
    for lp in site_loops:
        labels = lp.get("_atom_site_label") or []
        symbols = lp.get("_atom_site_type_symbol") or labels
        n = max((len(v) for v in lp.values()), default=0)
        if n > MAX_ATOM_SITES:
            raise CifError(f"{name}: {n} atom sites; more than the {MAX_ATOM_SITES} accepted")
        for k in range(n):
            label = labels[k] if k < len(labels) else f"#{k + 1}"
            sym = symbols[k] if k < len(symbols) else ""
            m = _ELEMENT.match(sym.strip("'\""))
            el = m.group(1).capitalize() if m else ""
            if el not in ELEMENTS and el[:1] not in ELEMENTS:
                raise CifError(f"{name}: atom site {label!r} has an unknown element {sym!r}")
            if el not in ELEMENTS:  # "Os" vs "O" + charge letters: take the one-letter element
                el = el[:1]
            for axis in "xyz":
                col = lp.get(f"_atom_site_fract_{axis}")
                if col is None:
                    continue
                v = _number(col[k]) if k < len(col) else None
                if v is None or not math.isfinite(v):
                    raw = col[k] if k < len(col) else None
                    raise CifError(f"{name}: atom site {label!r} has a fractional {axis} of {raw!r}")
            occ_col = lp.get("_atom_site_occupancy")
            if occ_col is not None and k < len(occ_col):
                occ = _number(occ_col[k])
                if occ is None and occ_col[k].strip() not in ("?", "."):
                    raise CifError(f"{name}: atom site {label!r} has an occupancy of {occ_col[k]!r}")
                if occ is not None and (not math.isfinite(occ) or occ < 0 or occ > 1 + OCCUPANCY_TOLERANCE):
                    raise CifError(
                        f"{name}: atom site {label!r} has occupancy {occ:g}; it must lie between 0 and 1"
                    )


def check_reflection_budget(
    abc: tuple[float, float, float], volume: float, n_sites: int, d_min: float, name: str = "CIF"
) -> None:
    """Refuse a reflection generation whose working memory would exceed :data:`MAX_REFLECTION_BYTES`.

    The generator enumerates an hkl grid of ∏(2⌊L/d_min⌋+1) points, keeps the ~(4π/3)·V/d_min³
    inside the limiting sphere, and builds site × reflection structure-factor matrices and
    symmetry-equivalent indices (at most 96 Laue operations) over them.

    Parameters
    ----------
    abc : tuple of float
        Cell lengths (Å).
    volume : float
        Cell volume (Å³).
    n_sites : int
        Atom sites in the full cell.
    d_min : float
        Smallest d-spacing generated (Å); the scan range sets it (d = λ / 2 sin θ_max).

    Raises
    ------
    CifError
        Naming the estimate and the limit.
    """
    values = (*abc, volume, d_min)
    if not all(math.isfinite(v) and v > 0 for v in values):
        shown = ", ".join(f"{v:g}" for v in values[:4])
        raise CifError(f"{name}: the cell ({shown}) is not finite and positive")
    grid = 1.0
    for length in abc:
        grid *= 2 * math.floor(length / d_min) + 1
    n_refl = 4.0 / 3.0 * math.pi * volume / d_min**3
    # grid: 3 int64 index arrays + stacked copy + d (≈ 64 B/point); per kept reflection: structure
    # factors (complex site matrix and phases, ≈ 40 B/site) and 96 equivalent hkl (int64 × 3, 2 copies)
    estimate = 64.0 * grid + n_refl * (40.0 * max(n_sites, 1) + 96 * 3 * 8 * 2)
    if estimate > MAX_REFLECTION_BYTES:
        raise CifError(
            f"{name}: generating its reflections down to d = {d_min:g} Å would need about "
            f"{estimate / 2**30:.1f} GiB ({n_refl:,.0f} reflections × {n_sites} sites); "
            f"the limit is {MAX_REFLECTION_BYTES / 2**30:.1f} GiB"
        )


def check_formula_sites(text: str, site_elements: set[str], name: str = "CIF") -> None:
    """Refuse a CIF whose chemical formula has elements that none of its atom sites holds.

    Kaolinite written with "implicit hydrogens" (``_chemical_formula_sum 'Al2 H4 O9 Si2'``, no H
    site) would be modelled as Al2Si2O9: its reflections hardly change (X-rays barely see H), but
    its cell mass, hence every weight fraction of a mixture it is in, would be wrong by the missing
    atoms' mass. Nothing in the CIF says where they are, so the CIF is refused rather than patched.

    Parameters
    ----------
    text : str
        The CIF.
    site_elements : set of str
        Elements of the parsed structure's atom sites.
    name : str
        File name for the message.

    Raises
    ------
    CifError
        Naming the file, the formula and the elements no site holds.
    """
    m = _FORMULA_TAG.search(text)
    if m is None:
        return  # no stated formula: the sites are the composition
    formula = next(g for g in m.groups() if g is not None).strip()
    try:
        stated = formula_elements(formula.replace(" ", ""))
    except ValueError:
        return  # a formula we cannot read says nothing about the sites
    missing = sorted(stated - set(site_elements))
    if missing:
        raise CifError(
            f"{name}: the formula {formula!r} has {', '.join(missing)} but no atom site holds "
            f"{'it' if len(missing) == 1 else 'them'} (implicit atoms): the cell mass and every wt % "
            f"would be wrong; add the {', '.join(missing)} sites to the CIF"
        )
