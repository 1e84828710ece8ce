"""Miller indices as a crystallographer writes them: the conventional member of a reflection family.

A reflection list keeps one member of each family, whichever the symmetry grouping put first:
(1 0 −8) for the (0 1 8) of a rhombohedral cell in hexagonal axes, (2 −1 0) for (1 1 0). Labels
show the member with the fewest negative indices, then the largest h, k, l in that order, among
the equivalents under the phase's Laue group; four-index (Miller–Bravais) input is reduced to three
indices first (i = −(h + k) carries no information).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ..library.crystallography import d_spacings

__all__ = ["conventional_hkl", "format_hkl", "laue_rotations"]

#: Relative tolerance on d when checking that a symmetry operation fits the cell's setting.
D_TOL = 1e-4


@functools.lru_cache(maxsize=1)
def _hall_numbers() -> dict[str, int]:
    """Short Hermann–Mauguin symbol -> spglib Hall number of its standard setting (the first listed)."""
    import spglib

    out: dict[str, int] = {}
    for hall in range(1, 531):
        st = spglib.get_spacegroup_type(hall)
        name = st.international_short if hasattr(st, "international_short") else st["international_short"]
        out.setdefault(name, hall)
    return out


@functools.lru_cache(maxsize=128)
def _group_rotations(space_group: str) -> np.ndarray | None:
    """Rotation parts of a space group's operations plus their inverses (the Laue group), or None.

    From spglib's table of settings (pymatgen's own dependency; milliseconds, where building a
    pymatgen ``SpaceGroup`` takes about a second).
    """
    try:
        import spglib

        hall = _hall_numbers().get(space_group)
        if hall is None:
            return None
        rots = np.asarray(spglib.get_symmetry_from_database(hall)["rotations"], dtype=int)
    except Exception:  # noqa: BLE001 - an unknown symbol falls back to Friedel pairs only
        return None
    return np.unique(np.concatenate([rots, -rots]), axis=0)


def laue_rotations(space_group: str | None, cell: Sequence[float] | None = None) -> np.ndarray:
    """Rotations (acting on row vectors of hkl) of the Laue group of ``space_group``.

    When the operations do not keep d-spacings in ``cell`` (a CIF in another setting than the
    standard one), only the identity and the inversion are returned: a wrong group would name
    another reflection.
    """
    key = None if cell is None else tuple(round(float(v), 6) for v in cell)
    return _laue_rotations(space_group, key)


@functools.lru_cache(maxsize=256)
def _laue_rotations(space_group: str | None, cell: tuple[float, ...] | None) -> np.ndarray:
    eye = np.eye(3, dtype=int)
    friedel = np.stack([eye, -eye])
    rots = _group_rotations(space_group) if space_group else None
    if rots is None:
        return friedel
    if cell is not None:
        probe = np.array([[1, 2, 3], [3, 1, 2], [1, 0, 4], [2, 1, 0]])
        d0 = d_spacings(probe, np.asarray(cell, float))
        for r in rots:
            d1 = d_spacings(probe @ r, np.asarray(cell, float))
            if not np.allclose(d0, d1, rtol=D_TOL):
                return friedel
    return rots


def _three(hkl: Sequence[int]) -> tuple[int, int, int]:
    v = [int(round(float(x))) for x in hkl]
    if len(v) == 4:  # Miller–Bravais (h k i l), i = -(h + k)
        return v[0], v[1], v[3]
    if len(v) != 3:
        raise ValueError(f"hkl must have 3 or 4 indices, got {hkl!r}")
    return v[0], v[1], v[2]


def conventional_hkl(
    hkl: Sequence[int], space_group: str | None = None, cell: Sequence[float] | None = None
) -> tuple[int, int, int]:
    """The conventional member of the family of ``hkl``.

    Parameters
    ----------
    hkl : sequence of int, length 3 or 4
    space_group : str, optional
        Hermann–Mauguin symbol (as pymatgen writes it, e.g. ``"R-3m"``); without it only
        Friedel pairs are equivalent.
    cell : sequence of float, optional
        a, b, c, alpha, beta, gamma of the phase, to check the group's setting.

    Returns
    -------
    tuple of int
        Fewest negative indices, then the largest (h, k, l).

    Examples
    --------
    >>> conventional_hkl((1, 0, -8), "R-3m", (2.82, 2.82, 14.05, 90, 90, 120))
    (0, 1, 8)
    >>> conventional_hkl((2, -1, -1, 0), "P6_3mc", (3.25, 3.25, 5.21, 90, 90, 120))
    (1, 1, 0)
    """
    h = np.array(_three(hkl))
    equiv = h @ laue_rotations(space_group, cell)
    best = min(map(tuple, equiv.tolist()), key=lambda v: (sum(x < 0 for x in v), [-x for x in v]))
    return tuple(int(x) for x in best)  # type: ignore[return-value]


def format_hkl(hkl: Sequence[int], *, minus: str = "−") -> str:
    """``(0 1 8)``; negative indices with a minus sign (``(1 1 −1)``)."""
    return "(" + " ".join(f"{minus}{-v}" if v < 0 else str(v) for v in _three(hkl)) + ")"
