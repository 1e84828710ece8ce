"""A searchable index of a large folder of CIFs (a user's COD or ICSD export).

Parsing thousands of CIFs with pymatgen and computing full reflection lists
takes about 0.2 s per file, far too slow to do on every command. The index
reads each CIF once with a small CIF reader of its own, computes the strongest
powder lines from a quick structure-factor sum (f0, f′, f″ at Cu Kα1 from
xraydb, isotropic displacement: good enough to rank candidates, not to
quantify) and keeps per file: formula, elements, space group, cell, the
strongest lines (d, m·|F|²) and the file's SHA-256.

The index lives in the user cache folder beside the reflection cache
(``<cache>/index/<folder hash>.sqlite``). It is brought up to date each time it
is opened: a file whose size and modification time are unchanged is trusted; a
changed one is hashed and re-read only when its bytes changed; removed files
are dropped; a new :data:`SCHEMA` rebuilds everything. Building runs in worker
processes (``jobs``).

Candidates are chosen by elements (every element of the phase occurs in the
sample) and then by lines: each candidate's strongest lines, with a lattice
scale searched within ±``strain``, are compared with the observed peaks.

>>> idx = LibraryIndex.open("~/cod-export")                          # doctest: +SKIP
>>> idx.candidates(elements={"Li", "Co", "O"}, peaks=ObservedPeaks(tt, h, 1.5406))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._cif import CifBlock, cif_blocks
from ..errors import PhasetraceError
from .crystallography import d_spacings, lorentz_polarisation
from .formula import ELEMENTS
from .reflections import TYPICAL_B, TYPICAL_B_OTHER  # B where a CIF gives none, as in the reflection lists

__all__ = [
    "SCHEMA",
    "IndexCandidate",
    "IndexError_",
    "LibraryIndex",
    "ObservedPeaks",
    "index_cif",
    "read_cif",
]

#: Bump when what an index entry holds, or how it is computed, changes: every index is rebuilt.
SCHEMA = 1

#: Lines kept per phase (the strongest by m·|F|²·LP at Cu Kα1).
N_LINES = 16

#: Smallest d-spacing (Å) of the index's lines: 2θ ≈ 100° in Cu Kα, ≈ 41° in Mo Kα.
INDEX_D_MIN = 1.0

#: Rows scored at once by :meth:`LibraryIndex.candidates` (bounds the memory of the scale search).
_CHUNK = 512

#: hkl × atom terms allowed per structure-factor sum; giant cells get a larger d_min instead.
MAX_TERMS = 4_000_000


#: Element order of the bitmasks (fixed: part of the schema).
_ELEMENT_ORDER = tuple(sorted(ELEMENTS))
_ELEMENT_BIT = {el: i for i, el in enumerate(_ELEMENT_ORDER)}


class IndexError_(PhasetraceError, ValueError):  # noqa: N801 - IndexError is a builtin
    """A library folder cannot be indexed, or a CIF in it cannot be read."""


# =============================================================================== a small CIF reader
_NUM = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\(\d+\))?$")


def _blocks(text: str) -> list[CifBlock]:
    """Data blocks of a CIF (:func:`phasetrace._cif.cif_blocks`), each loop cut to its complete rows."""
    blocks = cif_blocks(text)
    for _, loops in blocks:
        for k, lp in enumerate(loops):
            nrow = min(map(len, lp.values()))
            if any(len(v) != nrow for v in lp.values()):
                loops[k] = {tag: v[:nrow] for tag, v in lp.items()}
    return blocks


def _num(tok: str | None) -> float | None:
    if tok is None:
        return None
    m = _NUM.match(tok.strip())
    return float(m.group(1)) if m else None


def _symop(text: str) -> tuple[np.ndarray, np.ndarray]:
    """'x-y+1/3, -y, z+1/2' -> (3×3 rotation, translation)."""
    rot, tr = _symop_cached(text)
    return np.array(rot), np.array(tr)


@functools.lru_cache(maxsize=4096)
def _symop_cached(text: str) -> tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]:
    parts = text.replace(" ", "").lower().split(",")
    if len(parts) != 3:
        raise ValueError(f"symmetry operator {text!r} has not three parts")
    rot = np.zeros((3, 3))
    tr = np.zeros(3)
    for r, part in enumerate(parts):
        for term in re.findall(r"[+-]?[^+-]+", part):
            sign = -1.0 if term.startswith("-") else 1.0
            term = term.lstrip("+-")
            if term and term[-1] in "xyz":
                coef = term[:-1].rstrip("*")
                rot[r, "xyz".index(term[-1])] += sign * (_fraction(coef) if coef else 1.0)
            else:
                tr[r] += sign * _fraction(term)
    return tuple(map(tuple, rot)), tuple(tr)


def _fraction(s: str) -> float:
    if "/" in s:
        a, b = s.split("/", 1)
        return float(a) / float(b)
    return float(s)


_SYMOP_TAGS = (
    "_symmetry_equiv_pos_as_xyz",
    "_space_group_symop_operation_xyz",
)


def _element(symbol: str) -> str | None:
    m = re.match(r"([A-Z][a-z]?)", symbol.strip().capitalize() if symbol[:1].islower() else symbol.strip())
    if not m:
        return None
    el = m.group(1)
    if el == "D":
        return "H"
    if el in ELEMENTS:
        return el
    if el[0] in ELEMENTS:  # "Oa", "Ow": labels whose second letter is not part of the symbol
        return el[0]
    return None


@dataclass
class CifStructure:
    """What the index needs of a CIF: cell, symmetry operators and atom sites."""

    cell: np.ndarray
    ops: list[tuple[np.ndarray, np.ndarray]]
    elements: list[str]
    xyz: np.ndarray
    occupancy: np.ndarray
    b_iso: np.ndarray
    formula: str
    space_group: str
    z: float | None


def read_cif(text: str, name: str = "CIF") -> CifStructure:
    """Read the first structure of a CIF (cell, symmetry operators, atom sites) without pymatgen.

    Raises
    ------
    IndexError_
        When the CIF has no cell, no atom sites or an unreadable symmetry operator.
    """
    for items, loops in _blocks(text):
        site_loop = next((lp for lp in loops if "_atom_site_fract_x" in lp), None)
        if site_loop is None:
            continue
        cell = np.array(
            [
                _num(items.get(k))
                for k in (
                    "_cell_length_a",
                    "_cell_length_b",
                    "_cell_length_c",
                    "_cell_angle_alpha",
                    "_cell_angle_beta",
                    "_cell_angle_gamma",
                )
            ],
            dtype=float,
        )
        if not np.all(np.isfinite(cell)) or np.any(cell[:3] <= 0) or np.any(cell[3:] <= 0):
            raise IndexError_(f"{name}: no complete unit cell")
        op_texts: list[str] = []
        for lp in loops:
            for tag in _SYMOP_TAGS:
                if tag in lp:
                    op_texts = lp[tag]
                    break
            if op_texts:
                break
        if not op_texts:
            sg = (
                items.get("_symmetry_space_group_name_h-m") or items.get("_space_group_name_h-m_alt") or ""
            ).strip()
            if sg.replace(" ", "").upper() not in ("P1", ""):
                return _read_with_pymatgen(text, name)
            op_texts = ["x,y,z"]
        try:
            ops = [_symop(t) for t in op_texts]
        except (ValueError, ZeroDivisionError) as exc:
            raise IndexError_(f"{name}: {exc}") from None
        labels = site_loop.get("_atom_site_type_symbol") or site_loop.get("_atom_site_label") or []
        n = len(site_loop["_atom_site_fract_x"])
        occ_col = site_loop.get("_atom_site_occupancy") or ["1"] * n
        b_col = site_loop.get("_atom_site_b_iso_or_equiv")
        u_col = site_loop.get("_atom_site_u_iso_or_equiv")
        flags = site_loop.get("_atom_site_calc_flag") or [""] * n
        els, xyz, occ, bs = [], [], [], []
        for k in range(n):
            if flags[k].lower() == "dum":
                continue
            el = _element(labels[k]) if k < len(labels) else None
            coords = [_num(site_loop[f"_atom_site_fract_{c}"][k]) for c in "xyz"]
            if el is None or any(c is None for c in coords):
                raise IndexError_(f"{name}: atom site {k + 1} has no element or coordinates")
            o = _num(occ_col[k])
            b = _num(b_col[k]) if b_col else None
            if b is None and u_col:
                u = _num(u_col[k])
                b = None if u is None else 8 * math.pi**2 * u
            els.append(el)
            xyz.append(coords)
            occ.append(1.0 if o is None else o)
            bs.append(b if b is not None and 0 < b < 20 else TYPICAL_B.get(el, TYPICAL_B_OTHER))
        if not els:
            raise IndexError_(f"{name}: no atom sites")
        formula = (items.get("_chemical_formula_sum") or "").strip()
        sg = (
            items.get("_symmetry_space_group_name_h-m") or items.get("_space_group_name_h-m_alt") or ""
        ).strip()
        z = _num(items.get("_cell_formula_units_z"))
        return CifStructure(
            cell=cell,
            ops=ops,
            elements=els,
            xyz=np.array(xyz, dtype=float),
            occupancy=np.array(occ, dtype=float),
            b_iso=np.array(bs, dtype=float),
            formula=formula,
            space_group=sg,
            z=z,
        )
    raise IndexError_(f"{name}: no data block with atom sites (_atom_site_fract_x)")


def _read_with_pymatgen(text: str, name: str) -> CifStructure:
    """A CIF that names its space group without listing the operators: pymatgen expands it (slower)."""
    from .reflections import CifError, parse_structure

    try:
        structure, _ = parse_structure(text, name)
    except CifError as exc:
        raise IndexError_(str(exc)) from None
    els, xyz, occ, bs = [], [], [], []
    for site in structure:
        for sp, o in site.species.items():
            el = getattr(sp, "symbol", str(sp))
            els.append(el)
            xyz.append(site.frac_coords)
            occ.append(float(o))
            bs.append(TYPICAL_B.get(el, TYPICAL_B_OTHER))
    lat = structure.lattice
    comp = structure.composition
    return CifStructure(
        cell=np.array([*lat.abc, *lat.angles], dtype=float),
        ops=[(np.eye(3), np.zeros(3))],
        elements=els,
        xyz=np.array(xyz, dtype=float),
        occupancy=np.array(occ),
        b_iso=np.array(bs),
        formula=comp.reduced_formula,
        space_group="",
        z=None,
    )


# =============================================================================== strongest lines
_F0: dict[str, tuple[np.ndarray, complex]] = {}
_S_GRID = np.linspace(0.0, 1.0, 201)
#: Cu Kα1 photon energy (eV): the anomalous dispersion f′ + i f″ of the index's intensities.
_CU_KA1_EV = 12398.419843320026 / 1.540598


def _f0(el: str, s: np.ndarray) -> np.ndarray:
    """Atomic scattering factor f0(sin θ/λ) + f′ + i f″ (Cu Kα1) from xraydb, tabulated once per element."""
    if el not in _F0:
        import xraydb

        disp = float(xraydb.f1_chantler(el, _CU_KA1_EV)) + 1j * float(xraydb.f2_chantler(el, _CU_KA1_EV))
        _F0[el] = (np.asarray(xraydb.f0(el, _S_GRID), dtype=float), disp)
    vals, disp = _F0[el]
    return np.interp(s, _S_GRID, vals) + disp


def _expand(st: CifStructure) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All atoms of the cell: element index per atom, fractional positions, occupancy, B."""
    rots = np.array([r for r, _ in st.ops])
    trs = np.array([t for _, t in st.ops])
    el_idx, pos, occ, bs = [], [], [], []
    names = sorted(set(st.elements))
    for k, el in enumerate(st.elements):
        p = rots @ st.xyz[k] + trs
        p = np.mod(p, 1.0)
        key = np.round(p * 1000).astype(np.int64) % 1000
        _, first = np.unique(key[:, 0] * 1_000_000 + key[:, 1] * 1000 + key[:, 2], return_index=True)
        p = p[np.sort(first)]
        pos.append(p)
        el_idx += [names.index(el)] * len(p)
        occ += [st.occupancy[k]] * len(p)
        bs += [st.b_iso[k]] * len(p)
    return np.array(el_idx), np.vstack(pos), np.array(occ), np.array(bs)


def strongest_lines(st: CifStructure, *, n_lines: int = N_LINES, d_min: float = INDEX_D_MIN):
    """The strongest powder lines of a structure.

    Returns
    -------
    d : ndarray
        Spacings (Å), decreasing.
    mf2 : ndarray
        Multiplicity × |F|² per line (symmetry-equivalent and equal-d
        reflections merged).
    counts : dict
        Element -> atoms per cell (occupancy-weighted).
    """
    el_idx, pos, occ, bs = _expand(st)
    names = sorted(set(st.elements))
    counts = {el: float(np.sum(occ[el_idx == i])) for i, el in enumerate(names)}
    cell = st.cell
    natoms = len(pos)
    while True:
        hmax = np.floor(cell[:3] / d_min).astype(int)
        n_hkl = int(np.prod(2 * hmax + 1)) // 2
        if n_hkl * natoms <= MAX_TERMS or d_min > 5:
            break
        d_min *= 1.15
    grids = np.meshgrid(*(np.arange(-m, m + 1) for m in hmax), indexing="ij")
    hkl = np.stack([g.ravel() for g in grids], axis=1)
    # one of each Friedel pair: the first non-zero index positive
    first_nz = np.where(hkl[:, 0] != 0, hkl[:, 0], np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
    hkl = hkl[first_nz > 0]
    d = d_spacings(hkl, cell)
    keep = d >= d_min
    hkl, d = hkl[keep], d[keep]
    if not len(hkl):
        return np.zeros(0), np.zeros(0), counts
    # symmetry-equivalent reflections (Laue class of the operators) share |F|²: compute one of each
    rots = np.unique(np.round(np.array([r for r, _ in st.ops])).astype(np.int64), axis=0)
    eq = np.matmul(hkl[None, :, :], rots)  # (ops, n, 3): h·R of every operator
    eq = np.concatenate([eq, -eq])
    off = int(np.abs(eq).max()) + 1  # rotated indices (hexagonal h-k) can exceed the grid's
    base = 2 * off + 1
    keys = ((eq[..., 0] + off) * base + (eq[..., 1] + off)) * base + (eq[..., 2] + off)
    canon = keys.max(axis=0)
    uniq, first, counts_hkl = np.unique(canon, return_index=True, return_counts=True)
    rep = hkl[first]
    s = 1.0 / (2.0 * d[first])
    phase = np.exp(2j * np.pi * (rep @ pos.T))
    fel = np.stack([_f0(el, s) for el in names], axis=1)  # (n_rep, n_el)
    dw = np.exp(-np.outer(s * s, bs))
    fcalc = np.sum(phase * dw * fel[:, el_idx] * occ, axis=1)
    f2 = np.abs(fcalc) ** 2
    # multiplicity in the half-sphere: each Friedel pair counted once, so 2× the count
    mf2 = 2.0 * counts_hkl * f2
    d_rep = d[first]
    # merge lines of equal d (different families that coincide) at 1e-4 relative
    order = np.argsort(-d_rep)
    d_rep, mf2 = d_rep[order], mf2[order]
    groups = np.concatenate([[0], np.cumsum(np.abs(np.diff(d_rep)) > 1e-4 * d_rep[1:])])
    d_line = np.bincount(groups, weights=d_rep * mf2) / np.maximum(np.bincount(groups, weights=mf2), 1e-300)
    d_first = d_rep[np.concatenate([[0], np.flatnonzero(np.diff(groups)) + 1])]
    d_line = np.where(np.isfinite(d_line) & (d_line > 0), d_line, d_first)
    mf2_line = np.bincount(groups, weights=mf2)
    strong = mf2_line > 1e-6 * mf2_line.max() if mf2_line.size and mf2_line.max() > 0 else mf2_line > 0
    d_line, mf2_line = d_line[strong], mf2_line[strong]
    # the strongest by intensity at Cu Kα1 (LP depends on the angle)
    sin_t = np.clip(1.540598 / (2 * d_line), 0, 1)
    inten = mf2_line * lorentz_polarisation(np.degrees(2 * np.arcsin(sin_t)))
    top = np.sort(np.argsort(-inten, kind="stable")[:n_lines])
    return d_line[top], mf2_line[top], counts


def _formula_from_counts(counts: dict[str, float], z: float | None) -> str:
    if not counts:
        return ""
    div = z if z and z > 0 else min(v for v in counts.values() if v > 0)
    parts = []
    for el in sorted(counts, key=lambda e: (e == "O", e)):
        amt = counts[el] / div
        txt = f"{amt:.3f}".rstrip("0").rstrip(".")
        parts.append(f"{el}{'' if txt == '1' else txt}")
    return "".join(parts)


def index_cif(path: str | os.PathLike[str]) -> dict[str, Any]:
    """One index entry: formula, elements, space group, cell, strongest lines and SHA-256 of a CIF.

    Never raises for a bad CIF: the entry then has ``error`` set and no lines.
    """
    p = Path(path)
    data = p.read_bytes()
    st_ = p.stat()
    entry: dict[str, Any] = {
        "name": p.name,
        "size": st_.st_size,
        "mtime_ns": st_.st_mtime_ns,
        "sha256": hashlib.sha256(data).hexdigest(),
        "formula": "",
        "elements": [],
        "space_group": "",
        "cell": [],
        "d": [],
        "mf2": [],
        "error": None,
    }
    try:
        from .validate import check_cif_text  # the checks every user CIF passes (cell, elements, occupancy)

        check_cif_text(data.decode("utf-8", "replace"), p.name)
        st = read_cif(data.decode("utf-8", "replace"), p.name)
        d, mf2, counts = strongest_lines(st)
        if not len(d):
            raise IndexError_(f"{p.name}: no reflection with d ≥ {INDEX_D_MIN} Å")
        entry.update(
            formula=st.formula.replace(" ", "") or _formula_from_counts(counts, st.z),
            elements=sorted(el for el, v in counts.items() if v > 0),
            space_group=st.space_group,
            cell=[float(v) for v in st.cell],
            d=[float(v) for v in d],
            mf2=[float(v) for v in mf2],
        )
    except PhasetraceError as exc:  # IndexError_, and CifError from the checks
        entry["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop an index of thousands
        entry["error"] = f"{p.name}: cannot index ({type(exc).__name__}: {exc})"
    return entry


def _index_many(paths: Sequence[str]) -> list[dict[str, Any]]:
    return [index_cif(p) for p in paths]


# =============================================================================== the index
@dataclass(frozen=True)
class ObservedPeaks:
    """Peaks of an XRD scan: 2θ positions (degrees), heights, the wavelength (Å, Kα1), the scan's 2θ range."""

    two_theta: np.ndarray
    height: np.ndarray
    wavelength: float = 1.540598
    scan_range: tuple[float, float] | None = None

    @classmethod
    def from_search(cls, search: Any) -> ObservedPeaks:
        """The primary peaks of a :class:`phasetrace.peaks.PeakSearch` of an XRD scan."""
        prim = search.peaks.primary()
        lo, hi = search.scan.x_range
        return cls(
            np.asarray(prim.position),
            np.asarray(prim.height),
            search.scan.meta.radiation.kalpha1,
            (float(lo), float(hi)),
        )

    @property
    def range(self) -> tuple[float, float]:
        """2θ range in which lines are compared: the scan's, else the peaks' with a margin."""
        if self.scan_range is not None:
            return self.scan_range
        return float(np.min(self.two_theta)) - 1.0, float(np.max(self.two_theta)) + 1.0


@dataclass(frozen=True)
class IndexCandidate:
    """A phase of an indexed folder chosen for a sample."""

    id: str
    path: Path
    formula: str
    elements: frozenset[str]
    space_group: str
    score: float
    lattice_scale: float
    matched: float
    explained: float


def _mask(elements: Iterable[str]) -> tuple[int, int]:
    lo = hi = 0
    for el in elements:
        i = _ELEMENT_BIT.get(el)
        if i is None:
            continue
        if i < 64:
            lo |= 1 << i
        else:
            hi |= 1 << (i - 64)
    return lo, hi


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from .reflections import ReflectionCache

    return ReflectionCache().directory


class LibraryIndex:
    """The index of one folder of CIFs; see the module docstring.

    Use :meth:`open` (builds or updates the index), then :meth:`candidates`.

    Attributes
    ----------
    folder : Path
    path : Path
        The SQLite file of the index.
    stats : dict
        Of the last :meth:`open`: ``files``, ``reused``, ``indexed`` (read and
        computed), ``rehashed`` (touched, same bytes), ``removed``, ``errors``,
        ``seconds``.
    """

    def __init__(self, folder: Path, path: Path, rows: list[dict[str, Any]], stats: dict[str, Any]):
        self.folder = folder
        self.path = path
        self.stats = stats
        good = [r for r in rows if not r["error"] and r["d"]]
        self.errors = {r["name"]: r["error"] for r in rows if r["error"]}
        self.names = [r["name"] for r in good]
        self.formulas = [r["formula"] for r in good]
        self.space_groups = [r["space_group"] for r in good]
        self.elements = [frozenset(r["elements"]) for r in good]
        self.sha256 = [r["sha256"] for r in good]
        masks = [_mask(e) for e in self.elements]
        self._mask_lo = np.array([m[0] for m in masks], dtype=np.uint64)
        self._mask_hi = np.array([m[1] for m in masks], dtype=np.uint64)
        self.cells = np.array([r["cell"] for r in good], dtype=float).reshape(-1, 6)
        self._d = np.full((len(good), N_LINES), np.nan)
        self._mf2 = np.zeros((len(good), N_LINES))
        for i, r in enumerate(good):
            k = min(len(r["d"]), N_LINES)
            self._d[i, :k] = r["d"][:k]
            self._mf2[i, :k] = r["mf2"][:k]
        self.ids = [_phase_id(n) for n in self.names]
        self._by_id = {pid: i for i, pid in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.names)

    @functools.cached_property
    def digest(self) -> str:
        """Hash of every indexed file's bytes: results computed with the folder depend on it."""
        h = hashlib.sha256(f"index{SCHEMA}".encode())
        for name, sha in sorted(zip(self.names, self.sha256, strict=True)):
            h.update(f"{name}|{sha}".encode())
        return h.hexdigest()[:16]

    def position(self, phase_id: str) -> int | None:
        """Row of a phase id in the index, or None."""
        return self._by_id.get(phase_id)

    def entry(self, i: int) -> dict[str, Any]:
        """Formula, elements, space group, cell and path of row ``i``."""
        return {
            "id": self.ids[i],
            "path": self.folder / self.names[i],
            "formula": self.formulas[i],
            "elements": self.elements[i],
            "space_group": self.space_groups[i],
            "cell": self.cells[i],
        }

    # ------------------------------------------------------------------ build / update
    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        jobs: int = 2,
    ) -> LibraryIndex:
        """Open the index of ``folder``, building or updating it first.

        Parameters
        ----------
        folder : path-like
            A folder of ``.cif`` files (not searched recursively).
        cache_dir : path-like, optional
            Cache root (default: the reflection cache's, ``$PHASETRACE_CACHE``
            or ``~/.cache/phasetrace``); the index is in its ``index/`` folder.
        jobs : int
            Worker processes for files that need (re-)indexing.
        """
        t0 = time.perf_counter()
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise IndexError_(f"{folder}: no such library folder")
        files = {}
        with os.scandir(folder) as it:
            for e in it:
                if e.name.lower().endswith(".cif") and e.is_file():
                    s = e.stat()
                    files[e.name] = (s.st_size, s.st_mtime_ns)
        if not files:
            raise IndexError_(f"{folder}: no .cif files in this library folder")
        root = _cache_root(cache_dir) / "index"
        path = root / f"{hashlib.sha256(str(folder).encode()).hexdigest()[:20]}.sqlite"
        stats = {"files": len(files), "reused": 0, "indexed": 0, "rehashed": 0, "removed": 0}
        try:
            root.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(path, timeout=60)
        except (OSError, sqlite3.Error) as exc:
            raise IndexError_(f"{path}: cannot open the library index ({exc})") from None
        # short transactions only: the (long) indexing of new files runs between them, so that two
        # processes opening the same folder (series workers) never wait for each other's build
        try:
            with con:
                con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                row = con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None or row[0] != str(SCHEMA):
                    con.execute("DROP TABLE IF EXISTS entries")
                con.execute(
                    "CREATE TABLE IF NOT EXISTS entries (name TEXT PRIMARY KEY, size INTEGER, "
                    "mtime_ns INTEGER, sha256 TEXT, data TEXT)"
                )
                if row is None or row[0] != str(SCHEMA):  # written only when new: a warm open writes nothing
                    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
                    con.execute("INSERT OR REPLACE INTO meta VALUES ('folder', ?)", (str(folder),))
                stored = {
                    name: (size, mtime, sha, data)
                    for name, size, mtime, sha, data in con.execute(
                        "SELECT name, size, mtime_ns, sha256, data FROM entries"
                    )
                }
            rows: list[dict[str, Any]] = []
            todo: list[str] = []
            touched: list[tuple[int, str]] = []
            for name, (size, mtime) in files.items():
                old = stored.get(name)
                if old is not None and old[0] == size and old[1] == mtime:
                    rows.append(json.loads(old[3]))
                    stats["reused"] += 1
                    continue
                if old is not None and old[0] == size:
                    sha = hashlib.sha256((folder / name).read_bytes()).hexdigest()
                    if sha == old[2]:  # touched, same bytes
                        touched.append((mtime, name))
                        rows.append(json.loads(old[3]))
                        stats["rehashed"] += 1
                        continue
                todo.append(name)
            new = _run_index([str(folder / n) for n in sorted(todo)], jobs)
            gone = [n for n in stored if n not in files]
            if gone or touched or new:
                with con:
                    con.executemany("DELETE FROM entries WHERE name=?", [(n,) for n in gone])
                    con.executemany("UPDATE entries SET mtime_ns=? WHERE name=?", touched)
                    con.executemany(
                        "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
                        [(e["name"], e["size"], e["mtime_ns"], e["sha256"], json.dumps(e)) for e in new],
                    )
        except sqlite3.Error as exc:
            raise IndexError_(f"{path}: the library index cannot be used ({exc})") from None
        finally:
            con.close()
        stats["removed"] = len(gone)
        stats["indexed"] = len(new)
        rows += new
        rows.sort(key=lambda r: r["name"])
        stats["errors"] = sum(1 for r in rows if r["error"])
        stats["seconds"] = time.perf_counter() - t0
        return cls(folder, path, rows, stats)

    # ------------------------------------------------------------------ selection
    def select_elements(self, elements: Iterable[str] | None) -> np.ndarray:
        """Rows whose elements all occur in ``elements`` (all rows for None)."""
        if elements is None:
            return np.arange(len(self))
        lo, hi = _mask(elements)
        ok = ((self._mask_lo & np.uint64(~lo & (2**64 - 1))) == 0) & (
            (self._mask_hi & np.uint64(~hi & (2**64 - 1))) == 0
        )
        return np.flatnonzero(ok)

    def candidates(
        self,
        *,
        elements: Iterable[str] | None = None,
        peaks: ObservedPeaks | None = None,
        top: int = 20,
        strain: float = 0.01,
        tolerance_deg: float = 0.1,
        scale_steps: int = 41,
    ) -> list[IndexCandidate]:
        """The phases of the folder most likely in a sample, best first.

        Parameters
        ----------
        elements : iterable of str, optional
            The sample's elements: a phase is a candidate only if all its
            elements occur here.
        peaks : ObservedPeaks, optional
            The scan's peaks. Each candidate's strongest lines in the scan's
            range are aligned with them over lattice scales within ±``strain``;
            the score is the share of the candidate's line intensity found
            among the peaks × (½ + ½ × the share of the peaks' height its lines
            explain), slightly favouring the unstrained cell. Without peaks,
            candidates are ordered by how many of the sample's elements they
            contain (a weak order: give peaks).
        top : int
            Candidates returned.
        strain, tolerance_deg, scale_steps
            Lattice-scale window, 2θ match tolerance (degrees), and the number
            of scales tried.
        """
        rows = self.select_elements(elements)
        if not len(rows):
            return []
        if peaks is None or len(peaks.two_theta) == 0:
            n_el = np.array([len(self.elements[i]) for i in rows])
            order = rows[np.lexsort((np.array([self.names[i] for i in rows]), -n_el))][:top]
            return [self._candidate(i, 0.0, 1.0, 0.0, 0.0) for i in order]
        obs_tt = np.asarray(peaks.two_theta, dtype=float)
        obs_h = np.clip(np.asarray(peaks.height, dtype=float), 0, None)
        order_obs = np.argsort(obs_tt)
        obs_tt, obs_h = obs_tt[order_obs], obs_h[order_obs]
        scales = 1.0 + np.linspace(-strain, strain, scale_steps)
        parts = [
            self._score(rows[k : k + _CHUNK], obs_tt, obs_h, peaks, scales, strain, tolerance_deg)
            for k in range(0, len(rows), _CHUNK)
        ]
        sc, scale, matched, explained = (np.concatenate(x) for x in zip(*parts, strict=True))
        order = np.lexsort((np.array([self.names[i] for i in rows]), -sc))[:top]
        return [
            self._candidate(rows[o], float(sc[o]), float(scale[o]), float(matched[o]), float(explained[o]))
            for o in order
            if sc[o] > 0
        ]

    def _score(self, rows, obs_tt, obs_h, peaks, scales, strain, tol):
        """Score, lattice scale, matched and explained shares of some rows (see :meth:`candidates`)."""
        lo, hi = peaks.range
        d = self._d[rows][:, None, :] * scales[None, :, None]  # (N, S, K)
        with np.errstate(invalid="ignore"):
            sin_t = float(peaks.wavelength) / (2.0 * d)
            tt = np.degrees(2.0 * np.arcsin(np.where(sin_t <= 1, sin_t, np.nan)))
        inside = np.isfinite(tt) & (tt >= lo) & (tt <= hi)
        lp = lorentz_polarisation(np.where(inside, tt, 90.0))
        inten = np.where(inside, self._mf2[rows][:, None, :] * lp, 0.0)
        total = inten.sum(axis=2)  # (N, S)
        # nearest observed peak of each predicted line
        tt_in = np.where(inside, tt, 1e9)
        if len(obs_tt) > 1:
            j = np.clip(np.searchsorted(obs_tt, tt_in), 1, len(obs_tt) - 1)
            dist = np.minimum(np.abs(tt_in - obs_tt[j - 1]), np.abs(tt_in - obs_tt[j]))
        else:
            dist = np.abs(tt_in - obs_tt[0])
        w = np.exp(-0.5 * (dist / tol) ** 2) * inside
        matched = np.where(total > 0, (inten * w).sum(axis=2) / np.where(total > 0, total, 1.0), 0.0)
        prior = np.exp(-0.15 * ((scales - 1.0) / max(strain, 1e-9)) ** 2)[None, :]
        first = matched * prior * (inside.sum(axis=2) >= 2)
        best = np.argmax(first, axis=1)
        ar = np.arange(len(rows))
        # share of the observed peak height that the lines explain at that scale (each peak by its
        # nearest line): a phase whose lines all sit on peaks but explain few of them ranks lower
        tt_best = np.where(inside[ar, best], tt[ar, best], np.inf)  # (N, K)
        dobs = np.min(np.abs(tt_best[:, :, None] - obs_tt[None, None, :]), axis=1)  # (N, M)
        wobs = np.exp(-0.5 * (np.where(np.isfinite(dobs), dobs, 1e9) / tol) ** 2)
        explained = (wobs * obs_h[None, :]).sum(axis=1) / max(float(obs_h.sum()), 1e-300)
        sc = first[ar, best] * (0.5 + 0.5 * explained)
        return sc, scales[best], matched[ar, best], explained

    def _candidate(
        self, i: int, score: float, scale: float, matched: float, explained: float
    ) -> IndexCandidate:
        return IndexCandidate(
            id=self.ids[i],
            path=self.folder / self.names[i],
            formula=self.formulas[i],
            elements=self.elements[i],
            space_group=self.space_groups[i],
            score=score,
            lattice_scale=scale,
            matched=matched,
            explained=explained,
        )


def _phase_id(name: str) -> str:
    stem = name[:-4] if name.lower().endswith(".cif") else name
    return re.sub(r"[^A-Za-z0-9_.()+\-]+", "_", stem)


def _run_index(paths: Sequence[str], jobs: int) -> list[dict[str, Any]]:
    """Index files, in ``jobs`` worker processes when there are many."""
    if not paths:
        return []
    import multiprocessing

    if jobs <= 1 or len(paths) < 64 or multiprocessing.current_process().daemon:
        return _index_many(paths)  # a daemonic worker (of a series pool) may not start processes

    chunk = max(16, min(200, len(paths) // (jobs * 8) or 1))
    parts = [list(paths[i : i + chunk]) for i in range(0, len(paths), chunk)]
    ctx = multiprocessing.get_context("spawn")
    out: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        for res in pool.map(_index_many, parts):
            out += res
    return out
