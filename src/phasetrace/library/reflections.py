"""Reflection lists of a structure: hkl, d, multiplicity and |F|² with the physics quantification needs.

pymatgen reads the CIF and finds the point-group operations; the structure
factors are computed here because pymatgen's XRD calculator leaves out
anomalous dispersion (f′, f″), which alone changes Co- and Ni-rich phases by
20–30 % against La-rich ones in Cu Kα. Atomic form factors f0 (Waasmaier &
Kirfel) and f′, f″ (Chantler) come from xraydb.

Reflection lists are cached on disk (see :class:`ReflectionCache`), so a warm
library loads without importing pymatgen at all.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_open
from ..errors import CifError
from .crystallography import cell_volume, d_spacings, lorentz_polarisation, two_theta

__all__ = [
    "DEFAULT_D_MIN",
    "MAX_HKL",
    "TYPICAL_B",
    "CifError",
    "ReflectionCache",
    "ReflectionList",
    "compute_reflections",
    "d_min_for_scan",
    "positional_f2",
    "sabine_extinction",
]

#: Smallest d-spacing kept (Å) unless the scan reaches further: Cu Kα up to 2θ ≈ 133°, Mo Kα up to ≈ 60°.
DEFAULT_D_MIN = 0.84

#: d_min for a scan is rounded down to a multiple of this (Å), so that scans ending at slightly
#: different angles share one cached reflection list.
D_MIN_STEP = 0.05

#: Reflections are computed this far (degrees 2θ) beyond the end of a scan: their tails reach into it.
D_MIN_MARGIN_DEG = 2.0

#: Bound on the hkl grid (all indices, before symmetry merging): ``(4π/3) V / d_min³`` is kept below this,
#: raising d_min for very large cells. 60 000 hkl hold a 2,000 Å³ cell down to 0.52 Å (Cu Kα to 2θ = 180°)
#: and keep the structure-factor arrays below ~100 MB.
MAX_HKL = 60000

#: Isotropic displacement parameters (Å²) used when a CIF gives none: typical
#: room-temperature values for oxides (light and hydrogen atoms vibrate more).
TYPICAL_B = {"H": 2.0, "Li": 1.0, "O": 0.7, "C": 0.7, "F": 0.7}
TYPICAL_B_OTHER = 0.5

#: Reflections weaker than this fraction of the strongest |F|² are systematic absences.
ABSENCE_TOL = 1e-8

#: Bump when the content or layout of cached reflection lists changes.
CACHE_SCHEMA = 6  # 5-6: the free atomic coordinates (``ReflectionList.positions``)

#: Arrays of ``ReflectionList.positions`` (stored as ``pos_<name>`` in a cache entry).
_POSITION_ARRAYS = ("xyz", "orbit", "dxyz", "fsite", "values")

#: Classical electron radius (Å), the unit of the scattering length r_e·|F| in the extinction variable.
ELECTRON_RADIUS = 2.8179403262e-5

#: Avogadro's number × 1e-24: g/mol per Å³ → g/cm³.
_AMU_PER_A3_TO_G_CM3 = 1.0 / 0.602214076


@dataclass(frozen=True, eq=False)
class ReflectionList:
    """Reflections of one phase, one row per symmetry-distinct family.

    Attributes
    ----------
    hkl : ndarray of int, shape (N, 3)
        Representative Miller indices of each family.
    multiplicity : ndarray of int, shape (N,)
    d : ndarray, shape (N,)
        Spacing at the reference cell, Å, sorted decreasing.
    f2 : ndarray, shape (N,)
        |F|² per reflection (electrons²), with anomalous dispersion at
        ``energy_ev`` and Debye–Waller damping from the B factors.
    cell : ndarray, shape (6,)
        a, b, c (Å), alpha, beta, gamma (degrees).
    crystal_system, space_group : str
    formula : str
        Reduced formula of the cell content.
    z : float
        Formula units of ``formula`` per cell.
    cell_mass : float
        Mass of the cell content, g/mol (Z·M).
    energy_ev : float
        X-ray energy the f′, f″ were taken at.
    elements : tuple of str
    b_iso : float
        Mean isotropic displacement parameter (Å²) of the atoms the ``f2`` were
        computed with, weighted by scattering power (Σ occ·Z²): the reference for
        a refined overall B, which is added to every atom's B.
    b_source : {"cif", "typical", "mixed"}
        Where the atoms' B came from: the CIF (B_iso, U_iso or U_aniso
        converted), :data:`TYPICAL_B` for a CIF without them, or both.
    d_min : float
        Smallest spacing the list was computed to, Å.
    positions : dict or None
        What the |F|² of the list need to be recomputed for other values of the free atomic
        coordinates (:func:`positional_f2`): ``xyz`` (n_atoms, 3) fractional positions of every
        atom of the cell, ``orbit`` (n_atoms,) index of its symmetry-independent site, ``dxyz``
        (n_atoms, 3, n_par) derivative of its position by each free coordinate, ``fsite``
        (n_refl, n_orbits) complex occupancy × (f0 + f′ + i f″) × exp(−B s²) per row of the list,
        ``names`` (labels such as ``"O1_x"``) and ``values`` (the CIF's values). None when the
        structure has no free coordinate.
    """

    hkl: np.ndarray
    multiplicity: np.ndarray
    d: np.ndarray
    f2: np.ndarray
    cell: np.ndarray
    crystal_system: str
    space_group: str
    formula: str
    z: float
    cell_mass: float
    energy_ev: float
    elements: tuple[str, ...]
    b_iso: float = float("nan")
    b_source: str = "typical"
    d_min: float = DEFAULT_D_MIN
    positions: dict[str, Any] | None = None

    @property
    def volume(self) -> float:
        """Cell volume, Å³."""
        return cell_volume(self.cell)

    @property
    def zmv(self) -> float:
        """Z·M·V (g/mol · Å³), the Hill–Howard weight of a phase's scale factor."""
        return self.cell_mass * self.volume

    @property
    def density(self) -> float:
        """Calculated (X-ray) density, g/cm³."""
        return self.cell_mass / self.volume * _AMU_PER_A3_TO_G_CM3

    @property
    def mf2(self) -> np.ndarray:
        """Multiplicity × |F|²."""
        return self.multiplicity * self.f2

    def d_for_cell(self, cell: np.ndarray | None = None) -> np.ndarray:
        """Spacings for another (refined) cell; the reference cell if None."""
        return self.d if cell is None else d_spacings(self.hkl, cell)

    def table(
        self,
        wavelengths: tuple[float, ...],
        *,
        cell: np.ndarray | None = None,
        two_theta_range: tuple[float, float] | None = None,
        monochromator_2theta: float | None = None,
    ) -> dict[str, np.ndarray]:
        """Reflection table for given wavelengths (Kα1 first).

        Returns
        -------
        dict
            ``hkl``, ``multiplicity``, ``d``, ``two_theta_1`` (and
            ``two_theta_2`` for a second wavelength), ``mf2``, ``lp``,
            ``intensity`` (m·|F|²·LP at the first wavelength, normalised to a
            strongest of 100). Only reflections within ``two_theta_range``
            of the first wavelength are kept.
        """
        d = self.d_for_cell(cell)
        tt1 = two_theta(d, wavelengths[0])
        keep = np.isfinite(tt1)
        if two_theta_range is not None:
            keep &= (tt1 >= two_theta_range[0]) & (tt1 <= two_theta_range[1])
        out: dict[str, np.ndarray] = {
            "hkl": self.hkl[keep],
            "multiplicity": self.multiplicity[keep],
            "d": d[keep],
            "two_theta_1": tt1[keep],
        }
        if len(wavelengths) > 1:
            out["two_theta_2"] = two_theta(d[keep], wavelengths[1])
        lp = lorentz_polarisation(tt1[keep], monochromator_2theta)
        inten = self.mf2[keep] * lp
        out["mf2"] = self.mf2[keep]
        out["lp"] = lp
        top = inten.max() if inten.size else 1.0
        out["intensity"] = 100.0 * inten / top
        return out

    # ------------------------------------------------------------------ storage
    def to_arrays(self) -> dict[str, Any]:
        """Arrays and a JSON header for :func:`numpy.savez`."""
        header = {
            "crystal_system": self.crystal_system,
            "space_group": self.space_group,
            "formula": self.formula,
            "z": self.z,
            "cell_mass": self.cell_mass,
            "energy_ev": self.energy_ev,
            "elements": list(self.elements),
            "b_iso": self.b_iso,
            "b_source": self.b_source,
            "d_min": self.d_min,
        }
        extra: dict[str, Any] = {}
        if self.positions is not None:
            header["position_names"] = list(self.positions["names"])
            extra = {f"pos_{k}": self.positions[k] for k in _POSITION_ARRAYS}
        return {
            **extra,
            "hkl": self.hkl,
            "multiplicity": self.multiplicity,
            "d": self.d,
            "f2": self.f2,
            "cell": self.cell,
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> ReflectionList:
        """Inverse of :meth:`to_arrays`."""
        header = json.loads(bytes(np.asarray(arrays["header"], dtype=np.uint8)).decode())
        return cls(
            hkl=np.asarray(arrays["hkl"], dtype=np.int64),
            multiplicity=np.asarray(arrays["multiplicity"], dtype=np.int64),
            d=np.asarray(arrays["d"], dtype=float),
            f2=np.asarray(arrays["f2"], dtype=float),
            cell=np.asarray(arrays["cell"], dtype=float),
            crystal_system=header["crystal_system"],
            space_group=header["space_group"],
            formula=header["formula"],
            z=float(header["z"]),
            cell_mass=float(header["cell_mass"]),
            energy_ev=float(header["energy_ev"]),
            elements=tuple(header["elements"]),
            b_iso=float(header["b_iso"]),
            b_source=str(header["b_source"]),
            d_min=float(header["d_min"]),
            positions=(
                None
                if "position_names" not in header
                else {
                    "names": tuple(header["position_names"]),
                    **{k: np.asarray(arrays[f"pos_{k}"]) for k in _POSITION_ARRAYS},
                }
            ),
        )


def _cif_number(value: Any) -> float | None:
    """The number in a CIF value such as ``0.0123(4)``; None for ``?``/``.``."""
    m = re.match(r"^\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)", str(value))
    return float(m.group(1)) if m else None


def _b_factors_from_cif(cif_text: str) -> dict[str, float]:
    """B_iso (Å²) per atom-site label, from B or U columns (U converted: B = 8π²U).

    Anisotropic U_ij or B_ij (``_atom_site_aniso_*``) are converted to the equivalent
    isotropic value ``U_eq = ⅓ Σ_ij U_ij a*_i a*_j (a_i · a_j)`` (Fischer & Tillmanns,
    Acta Cryst. C44 (1988) 775); they take precedence over an isotropic column only
    for sites that have no isotropic value.
    """
    from pymatgen.io.cif import CifFile

    from .crystallography import reciprocal_metric

    out: dict[str, float] = {}
    try:
        blocks = list(CifFile.from_str(cif_text).data.values())
    except Exception:  # noqa: BLE001 - parse errors are reported by the structure parser
        return out
    for block in blocks:
        data = block.data
        labels = data.get("_atom_site_label")
        if not labels:
            continue
        for key, factor in (
            ("_atom_site_B_iso_or_equiv", 1.0),
            ("_atom_site_U_iso_or_equiv", 8 * np.pi**2),
        ):
            vals = data.get(key)
            if not vals:
                continue
            for lab, v in zip(labels, vals, strict=False):
                num = _cif_number(v)
                if num is not None and lab not in out:
                    out[lab] = num * factor
        aniso_labels = data.get("_atom_site_aniso_label")
        if aniso_labels:
            try:
                cell = [
                    _cif_number(data[f"_cell_{k}"])
                    for k in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma")
                ]
            except KeyError:
                cell = None
            if cell and all(c is not None for c in cell):
                gstar = reciprocal_metric(cell)
                ga = np.linalg.inv(gstar)  # direct metric: a_i · a_j
                astar = np.sqrt(np.diag(gstar))
                for prefix, factor in (("U", 8 * np.pi**2), ("B", 1.0)):
                    cols = [
                        data.get(f"_atom_site_aniso_{prefix}_{ij}")
                        for ij in ("11", "22", "33", "12", "13", "23")
                    ]
                    if not all(cols[:3]):
                        continue
                    for n, lab in enumerate(aniso_labels):
                        if lab in out:
                            continue
                        vals = [(_cif_number(c[n]) if c else 0.0) or 0.0 for c in cols]
                        u = np.array(
                            [
                                [vals[0], vals[3], vals[4]],
                                [vals[3], vals[1], vals[5]],
                                [vals[4], vals[5], vals[2]],
                            ]
                        )
                        ueq = float(np.einsum("ij,i,j,ij->", u, astar, astar, ga)) / 3.0
                        if ueq > 0:
                            out[lab] = ueq * factor
        break
    return out


def parse_structure(cif_text: str, name: str = "CIF"):
    """Parse the first structure of a CIF with pymatgen, with one-line errors."""
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser(io.StringIO(cif_text), occupancy_tolerance=1.0)
            structures = parser.parse_structures(primitive=False)
        except Exception as exc:  # noqa: BLE001 - pymatgen raises many types
            msgs = "; ".join(str(w.message).splitlines()[0] for w in caught)
            raise CifError(f"{name}: cannot parse the CIF ({exc}{'; ' + msgs if msgs else ''})") from None
    if not structures:
        msgs = "; ".join(str(w.message).splitlines()[0] for w in caught)
        raise CifError(f"{name}: the CIF holds no usable structure ({msgs or 'no atom sites'})")
    return structures[0], [str(w.message).splitlines()[0] for w in caught]


def compute_reflections(
    cif_text: str,
    *,
    wavelength: float = 1.540598,
    d_min: float = DEFAULT_D_MIN,
    name: str = "CIF",
) -> ReflectionList:
    """Compute the reflection list of the structure in a CIF.

    Parameters
    ----------
    cif_text : str
        CIF content.
    wavelength : float
        X-ray wavelength (Å) at which f′ and f″ are evaluated (Kα1).
    d_min : float
        Smallest spacing kept, Å.
    name : str
        Name for messages.

    Returns
    -------
    ReflectionList
    """
    import xraydb
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    structure, _ = parse_structure(cif_text, name)
    from .validate import check_formula_sites  # a formula with atoms the sites lack: wrong mass

    check_formula_sites(cif_text, {el.symbol for el in structure.composition.elements}, name)
    bmap = _b_factors_from_cif(cif_text)
    energy = 12398.419843320026 / wavelength

    lattice = structure.lattice
    from .validate import check_reflection_budget  # bounded memory before the hkl grid is built

    check_reflection_budget(lattice.abc, lattice.volume, len(structure), d_min, name)
    cell = np.array([*lattice.abc, *lattice.angles], dtype=float)
    # bound the hkl grid for very large cells (see MAX_HKL)
    d_min = max(d_min, float((4.0 * np.pi / 3.0 * lattice.volume / MAX_HKL) ** (1.0 / 3.0)))
    hmax = np.floor(np.array(lattice.abc) / d_min).astype(int)
    grids = np.meshgrid(*(np.arange(-m, m + 1) for m in hmax), indexing="ij")
    hkl = np.stack([g.ravel() for g in grids], axis=1)
    hkl = hkl[np.any(hkl != 0, axis=1)]
    d = d_spacings(hkl, cell)
    hkl, d = hkl[d >= d_min], d[d >= d_min]
    s = 1.0 / (2.0 * d)  # sin(theta)/lambda

    # scattering per site: sum over species of occ * (f0(s) + f' + i f'') * exp(-B s^2)
    coords = np.array([site.frac_coords for site in structure])
    fsite = np.zeros((hkl.shape[0], len(structure)), dtype=complex)
    f_cache: dict[str, np.ndarray] = {}
    b_sum = w_sum = 0.0
    from_cif = from_typical = False
    for j, site in enumerate(structure):
        label = getattr(site, "label", None)
        for sp, occ in site.species.items():
            el = sp.symbol if hasattr(sp, "symbol") else str(sp)
            if el not in f_cache:
                f_cache[el] = (
                    np.asarray(xraydb.f0(el, s), dtype=float)
                    + float(xraydb.f1_chantler(el, energy))
                    + 1j * float(xraydb.f2_chantler(el, energy))
                )
            if label and label in bmap:
                b, from_cif = bmap[label], True
            else:
                b, from_typical = TYPICAL_B.get(el, TYPICAL_B_OTHER), True
            fsite[:, j] += occ * f_cache[el] * np.exp(-b * s * s)
            z2 = occ * float(xraydb.atomic_number(el)) ** 2
            b_sum += z2 * b
            w_sum += z2
    phase = np.exp(2j * np.pi * (hkl @ coords.T))
    f2_all = np.abs(np.sum(fsite * phase, axis=1)) ** 2

    # group symmetry-equivalent hkl (Laue class: point group plus inversion)
    sga = SpacegroupAnalyzer(structure, symprec=0.01)
    free = _free_coordinates(structure, sga)
    ops = [op.rotation_matrix for op in sga.get_point_group_operations(cartesian=False)]
    rots = np.array(ops + [-r for r in ops], dtype=float)
    off = int(np.abs(hkl).max()) + 1
    base = 2 * off + 1
    equiv = np.rint(np.einsum("ni,kij->knj", hkl.astype(float), rots)).astype(np.int64)
    keys = ((equiv[..., 0] + off) * base + (equiv[..., 1] + off)) * base + (equiv[..., 2] + off)
    canon = keys.max(axis=0)
    uniq, inverse, counts = np.unique(canon, return_inverse=True, return_counts=True)
    f2 = np.bincount(inverse, weights=f2_all) / counts
    rep = np.stack([uniq // (base * base) - off, (uniq // base) % base - off, uniq % base - off], axis=1)
    d_rep = d_spacings(rep, cell)
    keep = f2 > ABSENCE_TOL * f2.max()
    order = np.argsort(-d_rep[keep], kind="stable")

    positions = None
    if free is not None:
        orbit, dxyz, names, values = free
        rep_rows = np.flatnonzero(keep)[order]
        # scattering of each orbit per kept family, from one atom of the orbit (same species and B)
        first = np.array([int(np.flatnonzero(orbit == o)[0]) for o in range(int(orbit.max()) + 1)])
        idx = np.searchsorted(uniq, canon)  # family of every hkl of the grid; take one member per family
        member = np.zeros(uniq.size, dtype=np.int64)
        member[idx] = np.arange(canon.size)
        positions = {
            "names": names,
            "values": values,
            "xyz": coords,
            "orbit": orbit,
            "dxyz": dxyz,
            "fsite": fsite[member[rep_rows]][:, first],
        }

    comp = structure.composition
    reduced, factor = comp.get_reduced_composition_and_factor()
    z_cif = _cif_z(cif_text)
    if z_cif:
        # the CIF's formula unit: solid solutions (Li6.4La3Zr1.4Ta0.6O12) do not reduce otherwise
        reduced, factor = comp / z_cif, float(z_cif)
    refl = ReflectionList(
        hkl=rep[keep][order],
        multiplicity=counts[keep][order].astype(np.int64),
        d=d_rep[keep][order],
        f2=f2[keep][order],
        cell=cell,
        crystal_system=sga.get_crystal_system(),
        space_group=sga.get_space_group_symbol(),
        formula=_formula_string(reduced),
        z=float(factor),
        cell_mass=float(comp.weight),
        energy_ev=float(energy),
        elements=tuple(sorted(el.symbol for el in comp.elements)),
        b_iso=b_sum / w_sum if w_sum > 0 else float("nan"),
        b_source="mixed" if from_cif and from_typical else ("cif" if from_cif else "typical"),
        d_min=float(d_min),
        positions=positions,
    )
    return refl


#: Sites of these elements keep the CIF's coordinates: X-rays see the one electron of hydrogen and the
#: three of lithium too weakly to place them in a powder pattern beside heavier atoms (Rietveld
#: refinements of oxides from X-ray data hold them at neutron-diffraction values).
HELD_POSITION_ELEMENTS = ("H", "D", "Li")

#: Two positions are the same when they differ by less than this (fractional) modulo a lattice vector.
_POSITION_TOL = 1e-3


def _free_coordinates(structure, sga) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray] | None:
    """Free (symmetry-allowed) coordinates of every symmetry-independent site of a structure.

    For each orbit of equivalent atoms, a displacement ``δ`` of its first atom keeps the site
    symmetry when ``R δ = δ`` for every operation ``(R, t)`` of the space group that maps the atom
    onto itself: the null space of the stacked ``R − I``. Every other atom of the orbit is the image
    ``R_k x + t_k`` of the first one and moves by ``R_k δ``. Each free direction is scaled so that
    its largest component is 1: a parameter is the shift of that coordinate (fractional), named
    after the site label and the coordinate (``"O1_x"``).

    Returns
    -------
    (orbit, dxyz, names, values) or None
        Per atom its orbit index, the derivative of its position by each parameter (n_atoms, 3,
        n_par), the parameter names and the CIF's values; None without a free coordinate.
    """
    ops = sga.get_symmetry_operations(cartesian=False)
    rots = np.array([op.rotation_matrix for op in ops], dtype=float)
    trans = np.array([op.translation_vector for op in ops], dtype=float)
    coords = np.array([site.frac_coords for site in structure], dtype=float)
    n_atoms = coords.shape[0]

    def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        diff = a - b
        return np.all(np.abs(diff - np.rint(diff)) < _POSITION_TOL, axis=-1)

    orbit = np.full(n_atoms, -1, dtype=np.int64)
    columns: list[np.ndarray] = []  # per parameter: (n_atoms, 3)
    names: list[str] = []
    values: list[float] = []
    weight: list[float] = []  # atomic number of the parameter's site (floating origin: the heaviest is held)
    vectors: list[np.ndarray] = []
    n_orbit = 0
    for j in range(n_atoms):
        if orbit[j] >= 0:
            continue
        x0 = coords[j]
        images = np.einsum("kij,j->ki", rots, x0) + trans  # every operation applied to the atom
        stab = same(images, x0)
        kind = (structure[j].species_string, getattr(structure[j], "label", None))
        members = [
            k
            for k in range(n_atoms)
            if orbit[k] < 0
            and (structure[k].species_string, getattr(structure[k], "label", None)) == kind
            and same(images, coords[k]).any()
        ]
        for k in members:
            orbit[k] = n_orbit
        n_orbit += 1
        # free directions: null space of (R − I) over the site-symmetry operations
        m = (rots[stab] - np.eye(3)).reshape(-1, 3)
        _, sv, vt = np.linalg.svd(m)
        rank = int(np.sum(sv > 1e-6))
        basis = vt[rank:]  # (n_free, 3)
        if basis.shape[0] == 0:
            continue
        basis = _reduced_basis(basis)
        label = getattr(structure[j], "label", None) or structure[j].species_string
        elements = [getattr(sp, "symbol", str(sp)) for sp in structure[j].species]
        if all(el in HELD_POSITION_ELEMENTS for el in elements):
            continue
        z_site = max(float(getattr(sp, "Z", 0)) for sp in structure[j].species)
        for vec in basis:
            col = np.zeros((n_atoms, 3))
            for k in members:
                op = int(np.flatnonzero(same(images, coords[k]))[0])
                col[k] = rots[op] @ vec
            axis = int(np.argmax(np.abs(vec)))
            columns.append(col)
            names.append(f"{label}_{'xyz'[axis]}")
            values.append(float(x0[axis]))
            weight.append(z_site)
            vectors.append(vec)
    # a polar axis leaves the origin free along it (P6_3mc, ZnO: only the O z relative to the Zn z
    # matters): per direction a common shift of every atom keeps, the heaviest site's coordinate is held
    _, sv, vt = np.linalg.svd((rots - np.eye(3)).reshape(-1, 3))
    floating = vt[int(np.sum(sv > 1e-6)) :]
    for direction in floating:
        along = [
            p
            for p, vec in enumerate(vectors)
            if abs(abs(vec @ direction) - np.linalg.norm(vec)) < 1e-6 * np.linalg.norm(vec)
        ]
        if along:
            drop = max(along, key=lambda p: weight[p])
            for seq in (columns, names, values, weight, vectors):
                del seq[drop]
    if not columns:
        return None
    return orbit, np.stack(columns, axis=2), tuple(names), np.array(values)


def _reduced_basis(basis: np.ndarray) -> np.ndarray:
    """Row-reduced form of a basis of free directions: each vector 1 on its own coordinate."""
    b = basis.copy()
    rows = []
    for col in range(3):
        if len(rows) == b.shape[0]:
            break
        cand = [r for r in range(b.shape[0]) if r not in rows and abs(b[r, col]) > 1e-6]
        if not cand:
            continue
        r = max(cand, key=lambda i: abs(b[i, col]))
        b[r] /= b[r, col]
        for other in range(b.shape[0]):
            if other != r:
                b[other] -= b[other, col] * b[r]
        rows.append(r)
    out = b[rows]
    out[np.abs(out) < 1e-9] = 0.0
    return out


def positional_f2(
    refl: ReflectionList, rows: np.ndarray, shifts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """|F|² of reflections ``rows`` of ``refl`` with the free coordinates shifted, and derivatives.

    ``F(h) = Σ_atoms f_orbit(s) exp(2πi h·(x + Σ_p δ_p ∂x/∂p))``; the family's |F|² is the mean of
    ``|F(h)|²`` and ``|F(−h)|²`` (with anomalous dispersion the two differ in a non-centrosymmetric
    structure; the other members of the family equal one of them). At zero shifts this is the list's
    own ``f2``.

    Parameters
    ----------
    refl : ReflectionList
        A list with ``positions``.
    rows : ndarray of int
        Rows of the list.
    shifts : ndarray, shape (n_par,)
        Shift of each free coordinate (fractional) from the CIF's value.

    Returns
    -------
    (ndarray, ndarray)
        |F|², shape (len(rows),), and ∂|F|²/∂shift, shape (len(rows), n_par).
    """
    pos = refl.positions
    if pos is None:
        raise ValueError("positional_f2: the reflection list has no free coordinates")
    h = refl.hkl[rows].astype(float)
    xyz = pos["xyz"] + np.einsum("aip,p->ai", pos["dxyz"], np.asarray(shifts, dtype=float))
    f = pos["fsite"][rows][:, pos["orbit"]]  # (n_refl, n_atoms)
    arg = 2.0 * np.pi * (h @ xyz.T)
    dphase = 2.0 * np.pi * np.einsum("ni,aip->nap", h, pos["dxyz"])  # ∂arg/∂shift
    f2 = np.zeros(h.shape[0])
    df2 = np.zeros((h.shape[0], dphase.shape[2]))
    for sign in (1.0, -1.0):  # h and its Friedel mate −h
        terms = f * np.exp(1j * sign * arg)
        big_f = terms.sum(axis=1)
        dbig_f = np.einsum("na,nap->np", 1j * sign * terms, dphase)
        f2 += 0.5 * np.abs(big_f) ** 2
        df2 += np.real(np.conj(big_f)[:, None] * dbig_f)  # 0.5 · 2 Re(F* ∂F)
    return f2, df2


def sabine_extinction(refl: ReflectionList, wavelength: float, block_um: float) -> np.ndarray:
    """Primary-extinction factor of each reflection of a powder, Sabine's model (ITC C §6.4.8).

    ``x = (r_e λ |F| D / V)²`` for mosaic blocks of size ``D`` in a cell of volume ``V``;
    ``E = E_L cos²θ + E_B sin²θ`` with the Laue term ``E_L = 1 − x/2 + x²/4 − 5x³/48 + 7x⁴/192``
    (x ≤ 1; ``√(2/πx) (1 − 1/8x − 3/128x² − 15/1024x³)`` above) and the Bragg term
    ``E_B = (1 + x)^−½``. It lowers the strong reflections of heavy, small-cell phases most: at
    D = 1 µm in Cu Kα zincite's intensity-weighted mean E is 0.97, corundum's 0.99.

    Parameters
    ----------
    refl : ReflectionList
        The phase's reflections (``f2`` with its displacement damping).
    wavelength : float
        Å (the Kα1 line: E changes by < 10⁻³ between Kα1 and Kα2).
    block_um : float
        Mosaic-block (coherently diffracting domain) size, µm; 0 for no extinction.

    Returns
    -------
    ndarray
        Factor (0, 1] on each reflection's |F|², one per row of ``refl``.
    """
    if not block_um or block_um <= 0.0:
        return np.ones(refl.d.size)
    f = np.sqrt(np.clip(np.asarray(refl.f2, dtype=float), 0.0, None))
    x = (ELECTRON_RADIUS * wavelength * f * block_um * 1e4 / cell_volume(refl.cell)) ** 2
    xs = np.maximum(x, 1.0)  # the asymptotic branch, used above x = 1 only
    series = 1.0 - x / 2.0 + x**2 / 4.0 - 5.0 * x**3 / 48.0 + 7.0 * x**4 / 192.0
    asymptotic = np.sqrt(2.0 / (np.pi * xs)) * (
        1.0 - 1.0 / (8.0 * xs) - 3.0 / (128.0 * xs**2) - 15.0 / (1024.0 * xs**3)
    )
    e_laue = np.where(x <= 1.0, series, asymptotic)
    e_bragg = 1.0 / np.sqrt(1.0 + x)
    sin2 = np.clip(wavelength / (2.0 * np.asarray(refl.d, dtype=float)), 0.0, 1.0) ** 2
    return e_laue * (1.0 - sin2) + e_bragg * sin2


def d_min_for_scan(two_theta_max: float, wavelength: float) -> float:
    """Smallest d-spacing a scan to ``two_theta_max`` (degrees) can show at ``wavelength`` (Å).

    The value covers :data:`D_MIN_MARGIN_DEG` beyond the scan end (peak tails), is
    rounded down to a multiple of :data:`D_MIN_STEP` so that similar scans share a
    cached reflection list, and is never above :data:`DEFAULT_D_MIN` (the lists most
    scans use already). Use the longest wavelength of the scan (Kα2).

    Examples
    --------
    >>> d_min_for_scan(150.0, 1.544426)  # the CPD round-robin scans: d = 0.799 Å at 150°
    0.75
    >>> d_min_for_scan(80.0, 1.544426)
    0.84
    """
    theta = np.radians(min(two_theta_max + D_MIN_MARGIN_DEG, 179.0) / 2.0)
    d = wavelength / (2.0 * np.sin(theta))
    return float(min(DEFAULT_D_MIN, np.floor(d / D_MIN_STEP + 1e-9) * D_MIN_STEP))


def _cif_z(cif_text: str) -> int | None:
    m = re.search(r"^\s*_cell_formula_units_Z\s+(\d+)", cif_text, re.MULTILINE)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def _formula_string(comp) -> str:
    """Reduced formula; amounts of non-integer compositions with up to 3 decimals."""
    if all(abs(n - round(n)) < 1e-4 for n in comp.values()):
        return comp.reduced_formula
    parts = []
    for el, n in comp.items():
        amt = f"{n:.3f}".rstrip("0").rstrip(".")
        parts.append(f"{el.symbol}{'' if amt == '1' else amt}")
    return "".join(parts)


@functools.cache
def _pymatgen_version() -> str:
    # read once per process: importlib.metadata parses the package's METADATA file on every call (~0.25 ms,
    # once per reflection list looked up)
    try:
        return version("pymatgen")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def _default_cache_dir() -> Path:
    env = os.environ.get("PHASETRACE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "phasetrace"


class ReflectionCache:
    """Reflection lists on disk, keyed by CIF hash, wavelength, d_min and pymatgen version.

    An entry that cannot be read, or whose stored key or checksum does not
    match, is recomputed and rewritten: a cache entry is never trusted blindly.

    Parameters
    ----------
    directory : path-like, optional
        Default ``$PHASETRACE_CACHE``, else ``~/.cache/phasetrace``.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        self.directory = Path(directory) if directory is not None else _default_cache_dir()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(cif_bytes: bytes, wavelength: float, d_min: float) -> str:
        """Cache key of one reflection list."""
        h = hashlib.sha256()
        h.update(cif_bytes)
        h.update(f"|{wavelength:.7f}|{d_min:.4f}|{_pymatgen_version()}|{CACHE_SCHEMA}".encode())
        return h.hexdigest()

    def get(
        self, name: str, cif_bytes: bytes, *, wavelength: float = 1.540598, d_min: float = DEFAULT_D_MIN
    ) -> ReflectionList:
        """The reflection list for a CIF, from the cache or computed (and stored)."""
        key = self.key(cif_bytes, wavelength, d_min)
        path = self.directory / f"{_safe(name)}-{key[:20]}.refl"
        refl = self._read(path, key)
        if refl is None:
            # an entry of the earlier .npz format (same key and checksum): rewritten in this one, so that
            # an upgraded installation does not compute every list again with pymatgen
            refl = self._read_npz(path.with_suffix(".npz"), key)
            if refl is not None:
                self._write(path, key, refl)
        if refl is not None:
            self.hits += 1
            return refl
        self.misses += 1
        refl = compute_reflections(
            cif_bytes.decode("utf-8", "replace"), wavelength=wavelength, d_min=d_min, name=name
        )
        self._write(path, key, refl)
        return refl

    @staticmethod
    def _checksum(arrays: dict[str, Any]) -> str:
        h = hashlib.sha256()
        for k in sorted(arrays):
            a = np.ascontiguousarray(arrays[k])
            h.update(k.encode())
            h.update(str(a.dtype).encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def _read(self, path: Path, key: str) -> ReflectionList | None:
        try:
            return self._checked(_read_flat(bytearray(path.read_bytes())), key)  # writable, as np.load gave
        except Exception:  # noqa: BLE001 - a missing or corrupt entry is rebuilt
            return None

    def _read_npz(self, path: Path, key: str) -> ReflectionList | None:
        """An entry written by versions before the flat format (``.npz``), checked the same way."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return self._checked({k: z[k] for k in z.files}, key)
        except Exception:  # noqa: BLE001 - a corrupt entry is rebuilt
            return None

    def _checked(self, arrays: dict[str, Any], key: str) -> ReflectionList | None:
        """The list in an entry's arrays, if its stored key and checksum match (else None)."""
        stored_key = bytes(arrays.pop("key")).decode()
        stored_sum = bytes(arrays.pop("checksum")).decode()
        if stored_key != key or stored_sum != self._checksum(arrays):
            return None
        return ReflectionList.from_arrays(arrays)

    def _write(self, path: Path, key: str, refl: ReflectionList) -> None:
        arrays = refl.to_arrays()
        payload = dict(arrays)
        payload["checksum"] = np.frombuffer(self._checksum(arrays).encode(), dtype=np.uint8)
        payload["key"] = np.frombuffer(key.encode(), dtype=np.uint8)
        try:
            with atomic_open(path, "wb") as fh:
                fh.write(_flat_bytes(payload))
        except OSError as exc:  # a read-only cache folder must not stop the analysis
            warnings.warn(f"reflection cache {self.directory} not writable ({exc})", stacklevel=3)


#: First bytes of a cache entry (:func:`_flat_bytes`).
_FLAT_MAGIC = b"PTREFL1\n"


def _flat_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Arrays as one block: magic, header length, a JSON header (name, dtype, shape, offset), the data.

    A library load reads some 30 entries; as ``.npz`` files (a zip of ``.npy`` files, each with a
    header parsed by ``ast.literal_eval``) that took ~1.3 ms an entry, ~40 ms per command. Read with
    :func:`_read_flat`: no code is evaluated, and the stored checksum is compared before use.
    """
    specs, chunks, offset = [], [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        if a.dtype.hasobject:
            raise TypeError(f"{name}: object arrays are not stored")
        specs.append([name, a.dtype.str, list(a.shape), offset, a.nbytes])
        chunks.append(a.tobytes())
        offset += a.nbytes
    header = json.dumps(specs).encode()
    return _FLAT_MAGIC + len(header).to_bytes(8, "little") + header + b"".join(chunks)


def _read_flat(data: bytes | bytearray) -> dict[str, np.ndarray]:
    """Inverse of :func:`_flat_bytes` (ValueError on a foreign or truncated block)."""
    m = len(_FLAT_MAGIC)
    if data[:m] != _FLAT_MAGIC:
        raise ValueError("not a phasetrace reflection-cache entry")
    n = int.from_bytes(bytes(data[m : m + 8]), "little")
    start = m + 8 + n
    out = {}
    for name, dtype, shape, offset, nbytes in json.loads(bytes(data[m + 8 : start])):
        if start + offset + nbytes > len(data):
            raise ValueError("truncated reflection-cache entry")
        dt = np.dtype(dtype)
        flat = np.frombuffer(data, dtype=dt, count=nbytes // dt.itemsize, offset=start + offset)
        out[name] = flat.reshape(shape)
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "phase"
