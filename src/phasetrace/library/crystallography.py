"""Small, pure crystallographic helpers: cells, d-spacings, Bragg angles, Lorentz-polarisation.

Everything here is a plain function of arrays so that the whole-pattern fit can
recompute peak positions for a refined cell without touching pymatgen.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = [
    "CRYSTAL_SYSTEMS",
    "cell_volume",
    "compact_hm_symbol",
    "d_spacings",
    "lorentz_polarisation",
    "reciprocal_metric",
    "two_theta",
]

#: Crystal systems and which cell parameters are free in each (a, b, c, alpha, beta, gamma).
CRYSTAL_SYSTEMS = ("cubic", "tetragonal", "hexagonal", "trigonal", "orthorhombic", "monoclinic", "triclinic")


def reciprocal_metric(cell: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """Reciprocal metric tensor G* (Å⁻²) of a cell ``(a, b, c, alpha, beta, gamma)`` in Å and degrees."""
    a, b, c, al, be, ga = (float(v) for v in cell)
    ca, cb, cg = np.cos(np.radians([al, be, ga]))
    g = np.array(
        [[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca], [a * c * cb, b * c * ca, c * c]]
    )
    return np.linalg.inv(g)


def cell_volume(cell: np.ndarray | tuple[float, ...]) -> float:
    """Cell volume in Å³."""
    a, b, c, al, be, ga = (float(v) for v in cell)
    ca, cb, cg = np.cos(np.radians([al, be, ga]))
    return float(a * b * c * np.sqrt(1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg))


def d_spacings(hkl: np.ndarray, cell: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """Interplanar spacings d(hkl) in Å for Miller indices ``hkl`` (shape (N, 3)) and a cell."""
    h = np.asarray(hkl, dtype=float)
    gstar = reciprocal_metric(cell)
    inv_d2 = np.einsum("ni,ij,nj->n", h, gstar, h)
    return 1.0 / np.sqrt(inv_d2)


def two_theta(d: np.ndarray, wavelength: float) -> np.ndarray:
    """Bragg angle 2θ in degrees for spacings ``d`` (Å); NaN where no reflection exists (λ > 2d)."""
    s = wavelength / (2.0 * np.asarray(d, dtype=float))
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, 2.0 * np.degrees(np.arcsin(np.minimum(s, 1.0))), np.nan)


def lorentz_polarisation(two_theta_deg: np.ndarray, monochromator_2theta: float | None = None) -> np.ndarray:
    """Lorentz-polarisation factor of a Bragg–Brentano powder diffractometer.

    ``LP = (1 + K cos²2θ) / (sin²θ cos θ)`` with ``K = cos²2θ_M`` for a
    monochromator at Bragg angle 2θ_M (diffracted-beam graphite: 26.6° for Cu
    Kα), and ``K = 1`` for an unpolarised beam without monochromator (the
    usual lab case with a Ni filter or a position-sensitive detector).

    Parameters
    ----------
    two_theta_deg : array-like
        Diffraction angles in degrees.
    monochromator_2theta : float, optional
        Monochromator 2θ in degrees; None for none.

    Returns
    -------
    ndarray
        Unnormalised LP factor (the overall scale is refined anyway).
    """
    tt = np.radians(np.asarray(two_theta_deg, dtype=float))
    k = 1.0 if monochromator_2theta is None else np.cos(np.radians(monochromator_2theta)) ** 2
    th = tt / 2.0
    return (1.0 + k * np.cos(tt) ** 2) / (np.sin(th) ** 2 * np.cos(th)) / (1.0 + k)


#: Screw axes as CIFs write them with spaces ("P 63 m c", "P 21/c"): rotation order, then the translation.
_SCREW = re.compile(r"^([2346])([1-5])(?=/|$)")


def compact_hm_symbol(symbol: str) -> str:
    """A Hermann–Mauguin symbol as the bundled library writes it: no spaces, screw axes as ``6_3``.

    The setting suffix (``:H``, ``:2``, a trailing ``H``) is dropped. A symbol written without
    spaces is kept as it is apart from that (``P4332`` cannot be split safely).

    Examples
    --------
    >>> compact_hm_symbol("P -3 m 1")
    'P-3m1'
    >>> compact_hm_symbol("P 63 m c")
    'P6_3mc'
    >>> compact_hm_symbol("P 21/c")
    'P2_1/c'
    >>> compact_hm_symbol("R -3 c H")
    'R-3c'
    """
    s = re.sub(r"\s+", " ", symbol.strip().strip("'\""))
    s = re.sub(r"\s*:\s*\w+$", "", s)  # "R -3 c :H", "F d -3 m :2"
    s = re.sub(r"\s+[HRS]$", "", s)  # "R -3 c H": hexagonal axes, written as a fourth token
    tokens = s.split(" ")
    if len(tokens) == 1:
        return s
    return tokens[0] + "".join(
        "/".join(_SCREW.sub(r"\1_\2", part) for part in tok.split("/")) for tok in tokens[1:]
    )
