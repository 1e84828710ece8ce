"""The reference-phase library: bundled phases from ``reference_patterns/``, plus the user's CIFs.

>>> lib = PhaseLibrary.default()                         # doctest: +SKIP
>>> [p.id for p in lib.select(elements={"Li", "La", "Zr", "Co", "O"})]  # doctest: +SKIP
>>> lib.reflections("La2Zr2O7").table((1.540598, 1.544426))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .._atomic import atomic_write_text
from ..errors import PhasetraceError
from .crystallography import compact_hm_symbol
from .formula import formula_elements, reduced_formula
from .reflections import DEFAULT_D_MIN, CifError, ReflectionCache, ReflectionList
from .validate import check_formula_sites, read_user_cif

__all__ = [
    "RAMAN_COLUMNS",
    "ROLES",
    "USER_FAMILY",
    "LibraryError",
    "PhaseLibrary",
    "RamanBand",
    "ReferencePhase",
    "add_user_phase",
    "bundled_dir",
    "library_dirs",
    "project_library_dir",
    "read_band_csv",
    "remove_user_phase",
    "user_library_dir",
]

#: Roles a phase can play in a sample.
ROLES = ("host", "secondary", "contaminant", "crucible")

#: Lattice strain the matcher allows a user phase that states none (fraction).
DEFAULT_USER_STRAIN = 0.01
#: The family of a user phase that states none: no structure family (twins are then found from the
#: structures, see :mod:`phasetrace.library.twins`).
USER_FAMILY = "user"

#: Plausible range of calculated densities for an inorganic crystal, g/cm³.
DENSITY_RANGE = (0.8, 23.0)

#: Columns of a Raman band table (``reference_patterns/raman_bands.csv`` and a user folder's copy);
#: the first four are required in a user's band file.
RAMAN_COLUMNS = (
    "phase_id",
    "band_cm1",
    "rel_intensity",
    "fwhm_cm1",
    "assignment",
    "source",
    "note",
    "shared_by",
)
_RAMAN_REQUIRED = RAMAN_COLUMNS[:4]

#: Plausible first-order Raman shifts (cm⁻¹) and band widths of a crystal.
RAMAN_SHIFT_RANGE = (10.0, 4000.0)
RAMAN_FWHM_RANGE = (0.5, 300.0)

#: A user library folder: CIFs, plus these two files written by ``phasetrace phases add``.
USER_PHASES_FILE = "phases.yaml"
USER_RAMAN_FILE = "raman_bands.csv"

#: Project-local library folder, looked for in the working directory and its parents.
PROJECT_SUBDIR = Path(".phasetrace") / "library"

#: Environment variables: the project-local and the user-global library folders.
ENV_PROJECT = "PHASETRACE_PROJECT_LIBRARY"
ENV_GLOBAL = "PHASETRACE_USER_LIBRARY"

#: A ``--library`` folder with at least this many CIFs is indexed (:mod:`phasetrace.library.index`) and its
#: phases enter a selection as candidates chosen by elements and lines, instead of all being loaded.
INDEX_MIN_FILES = 200
#: Candidates taken from each indexed folder per selection.
INDEX_TOP = 12

#: Where a phase comes from, in lookup order (a phase found earlier hides a later one of the same id,
#: except that a bundled id cannot be reused); ``library`` is a folder or CIF given with ``--library``, and
#: ``index`` a phase of a large ``--library`` folder found through its index.
SCOPES = ("project", "global", "bundled", "library", "index")


class LibraryError(PhasetraceError, ValueError):
    """The phase library or a phase in it is malformed, or a phase id is unknown."""


def bundled_dir() -> Path:
    """Folder of the bundled library (``reference_patterns``), installed or in a source checkout."""
    here = Path(__file__).resolve()
    for cand in (here.parents[1] / "reference_patterns", here.parents[3] / "reference_patterns"):
        if (cand / "phases.yaml").is_file():
            return cand
    raise LibraryError("the bundled reference_patterns/ folder is missing from this installation")


def user_library_dir() -> Path:
    """The user-global library folder.

    ``$PHASETRACE_USER_LIBRARY``, else ``$XDG_DATA_HOME/phasetrace/phases``
    (``~/.local/share/phasetrace/phases``).
    """
    env = os.environ.get(ENV_GLOBAL)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "phasetrace" / "phases"


def project_library_dir(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The project-local library folder, or None when there is none.

    ``$PHASETRACE_PROJECT_LIBRARY`` when set; else the first ``.phasetrace/library/``
    folder in ``start`` (default: the working directory) or one of its parents,
    the way git finds its repository.
    """
    env = os.environ.get(ENV_PROJECT)
    if env:
        return Path(env)
    cur = Path(start if start is not None else os.getcwd()).resolve()
    for d in (cur, *cur.parents):
        cand = d / PROJECT_SUBDIR
        if cand.is_dir():
            return cand
    return None


def library_dirs() -> list[tuple[str, Path]]:
    """The user library folders that exist, in lookup order: ``[("project", dir), ("global", dir)]``."""
    out = []
    proj = project_library_dir()
    if proj is not None and proj.is_dir():
        out.append(("project", proj))
    glob_ = user_library_dir()
    if glob_.is_dir() and (proj is None or glob_.resolve() != proj.resolve()):
        out.append(("global", glob_))
    return out


@dataclass(frozen=True)
class RamanBand:
    """One first-order Raman band of a phase.

    ``shared_by`` names the class of compounds that all have this band (``"carbonate"`` for the CO3
    stretch near 1090 cm⁻¹), empty for a band of the phase's own lattice: a match of class bands alone
    says "a carbonate", not which one.
    """

    position: float
    rel_intensity: float
    fwhm: float
    assignment: str
    source: str
    note: str = ""
    shared_by: str = ""


@dataclass(frozen=True)
class ReferencePhase:
    """A reference phase: identity, provenance and the CIF its reflections come from.

    Attributes
    ----------
    id : str
        Unique id (``"La2Zr2O7"``).
    formula : str
        Nominal formula as chemists write it.
    role : {"host", "secondary", "contaminant", "crucible"}
    family : str
        Structure family (``"garnet"``, ``"layered-LiMO2"``, ``"LaMO3-perovskite"``, ...).
    strain : float
        Fractional lattice strain the matcher may allow.
    raman : str or None
        Key into the Raman band table; ``"silent"`` for no first-order Raman.
    origin : {"bundled", "user"}
    provenance : str
        How far the structure is a published refinement: ``"published"``, ``"published-structure,
        composition adjusted"`` (a published refinement with its partial occupancies set to the nominal
        formula), ``"published-cell"`` (published cell and site scheme, some coordinates chosen) or
        ``"model"``; empty for user CIFs.
    checked : str
        What of the structure source was confirmed against a stored public copy (title, DOI, database
        entry, coordinates) and when; empty when the citation was written from the curators' knowledge
        and not re-checked (``phases show`` says so).
    scope : {"bundled", "project", "global", "library", "index"}
        Where the phase was found: the bundled library, the project-local or
        user-global folder, a ``--library`` file or folder, or a large
        ``--library`` folder searched through its index.
    twin_of : str
        For a user phase that states no family: the bundled phase it is the same structure as
        (same elements, space group, atomic arrangement, cells within the strains), whose family
        it joined; empty otherwise.
    """

    id: str
    name: str
    formula: str
    role: str
    family: str
    structure_type: str
    space_group: str
    cif_path: Path
    source: str
    strain: float
    raman: str | None = None
    notes: str = ""
    origin: str = "bundled"
    density_ref: float | None = None
    density_source: str = ""
    checks: tuple[Mapping[str, Any], ...] = ()
    elements: frozenset[str] = field(default_factory=frozenset)
    provenance: str = ""
    scope: str = "bundled"
    checked: str = ""
    twin_of: str = ""

    @property
    def cif_bytes(self) -> bytes:
        """The CIF file's bytes."""
        try:
            return self.cif_path.read_bytes()
        except OSError as exc:
            raise LibraryError(f"phase {self.id}: cannot read {self.cif_path} ({exc.strerror})") from None

    @property
    def cif_sha256(self) -> str:
        """SHA-256 of the CIF."""
        return hashlib.sha256(self.cif_bytes).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (id, formula, role, family, source, ...)."""
        return {
            "id": self.id,
            "name": self.name,
            "formula": self.formula,
            "role": self.role,
            "family": self.family,
            "structure_type": self.structure_type,
            "space_group": self.space_group,
            "cif": str(self.cif_path),
            "source": self.source,
            "strain": self.strain,
            "raman": self.raman,
            "origin": self.origin,
            "scope": self.scope,
            "elements": sorted(self.elements),
            "provenance": self.provenance,
            "checked": self.checked,
            "notes": self.notes,
            "twin_of": self.twin_of,
        }


class PhaseLibrary(Mapping[str, ReferencePhase]):
    """Reference phases by id, with reflection lists (cached on disk) and Raman bands.

    Parameters
    ----------
    phases : iterable of ReferencePhase
    raman : mapping, optional
        Raman key -> list of :class:`RamanBand` (empty list for silent phases).
    cache : ReflectionCache, optional
    materials : dict, optional
        Parsed ``materials.yaml`` (see :mod:`phasetrace.library.materials`).
    indexes : sequence of LibraryIndex, optional
        Indexed large CIF folders: their phases are found by :meth:`select`
        (by elements and observed lines) and by id, without loading them all.
    """

    def __init__(
        self,
        phases: Iterable[ReferencePhase],
        *,
        raman: Mapping[str, list[RamanBand]] | None = None,
        cache: ReflectionCache | None = None,
        materials: Mapping[str, Any] | None = None,
        indexes: Sequence[Any] = (),
    ):
        self._phases: dict[str, ReferencePhase] = {}
        for p in phases:
            if p.id in self._phases:
                other = self._phases[p.id]
                raise LibraryError(
                    f"phase id {p.id!r} is defined twice ({other.cif_path} and {p.cif_path}); "
                    "rename one (a user CIF can set _phasetrace_id)"
                )
            self._phases[p.id] = p
        self.raman = dict(raman or {})
        self.cache = cache or ReflectionCache()
        self.materials = dict(materials or {})
        self._refl: dict[tuple[str, float, float], ReflectionList] = {}
        #: Indexed large folders (:class:`phasetrace.library.index.LibraryIndex`), searched by :meth:`select`.
        self.indexes = list(indexes)
        self._join_twin_families()

    def _join_twin_families(self) -> None:
        """A user phase without a family joins the family of the bundled phase it is a twin of.

        The phase selection tries the members of a family in each other's place and names them as
        each other's alternatives; a user's corundum.cif, the same phase as the bundled Al2O3, must
        be one of that family, not a second phase beside it (which splits one phase's intensity
        between two ids). Only bundled phases with the same elements are compared, so a library
        without such a pair computes nothing here (the CIF's space-group tag is no filter: an
        expanded CIF states "P 1" for a structure of higher symmetry).
        """
        from .twins import structural_twins

        bundled = [q for q in self._phases.values() if q.origin == "bundled" and q.family != USER_FAMILY]
        for pid, p in list(self._phases.items()):
            if p.origin == "bundled" or p.family != USER_FAMILY or not p.elements:
                continue
            for q in bundled:
                if q.elements != p.elements:
                    continue
                try:
                    rp, rq = self.reflections(p), self.reflections(q)
                except LibraryError:
                    break  # an unreadable user CIF: the error comes when the phase is used
                if structural_twins(p, q, rp, rq, p.strain + q.strain):
                    self._phases[pid] = replace(p, family=q.family, twin_of=q.id)
                    break

    # ------------------------------------------------------------ construction
    @classmethod
    def default(
        cls,
        extra: Sequence[str | os.PathLike[str]] = (),
        *,
        cache: ReflectionCache | None = None,
        include_user: bool = True,
    ) -> PhaseLibrary:
        """The bundled library, plus the user's phases and any ``extra`` CIFs or folders.

        Lookup order for a phase id: the project-local folder (see
        :func:`project_library_dir`), then the user-global folder
        (:func:`user_library_dir`), then the bundled library. A project phase
        hides a global phase of the same id; a bundled id cannot be reused by
        a user phase. ``extra`` files and folders (``--library``) add phases
        whose ids must be new.

        User phases with the role ``contaminant`` or ``crucible`` are tested in
        every sample, whatever its elements, like the bundled MgO crucible.

        A ``--library`` folder of :data:`INDEX_MIN_FILES` CIFs or more (a COD
        or ICSD export) is indexed once (cached beside the reflection cache)
        and searched by :meth:`select` instead of being loaded whole.
        """
        root = bundled_dir()
        phases = _read_phases_yaml(root / "phases.yaml")
        raman = _read_raman_csv(root / "raman_bands.csv") if (root / "raman_bands.csv").exists() else {}
        materials = (
            _load_yaml((root / "materials.yaml").read_text(encoding="utf-8"))
            if (root / "materials.yaml").exists()
            else {}
        )
        bundled_ids = {p.id for p in phases}
        user: list[ReferencePhase] = []
        if include_user:
            seen: set[str] = set()
            for scope, folder in library_dirs():
                f_phases, f_raman = read_library_folder(folder, scope=scope)
                for p in f_phases:
                    if p.id in bundled_ids:
                        raise LibraryError(
                            f"{p.cif_path}: phase id {p.id!r} is a bundled phase's; remove it with "
                            f"'phasetrace phases remove {p.id} --{scope}' and add it again with --id NEWID"
                        )
                    if p.id in seen:  # hidden by the project-local phase of the same id
                        continue
                    seen.add(p.id)
                    user.append(p)
                raman.update(f_raman)
        indexes = []
        for path in extra:
            if _is_large_folder(path):
                from .index import IndexError_, LibraryIndex

                try:
                    indexes.append(LibraryIndex.open(path, cache_dir=(cache or ReflectionCache()).directory))
                except IndexError_ as exc:
                    raise LibraryError(str(exc)) from None
                continue
            f_phases, f_raman = read_library_folder(path, scope="library", missing_ok=False)
            user += f_phases
            raman.update(f_raman)
        always = list((materials or {}).get("always_candidates") or ())
        always += [p.id for p in user if p.role in ("contaminant", "crucible") and p.id not in always]
        if always:
            materials = {**materials, "always_candidates": always}
        return cls([*phases, *user], raman=raman, cache=cache, materials=materials, indexes=indexes)

    # ------------------------------------------------------------ mapping API
    def __getitem__(self, key: str) -> ReferencePhase:
        try:
            return self._phases[key]
        except KeyError:
            found = self._from_index(key)
            if found is not None:
                return found
            close = [k for k in self._phases if k.lower() == str(key).lower()]
            hint = f"; did you mean {close[0]!r}?" if close else "; see 'phasetrace phases list'"
            raise LibraryError(f"unknown phase {key!r}{hint}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._phases or (isinstance(key, str) and self._from_index(key) is not None)

    def _from_index(self, key: str) -> ReferencePhase | None:
        """A phase of an indexed folder by id (``stem`` or ``stem@folder``), added to the library."""
        if not self.indexes:
            return None
        stem, _, folder = key.partition("@")
        for idx in self.indexes:
            if folder and idx.folder.name != folder:
                continue
            i = idx.position(stem)
            if i is not None:
                return self._add_indexed(idx, i)
        return None

    def _add_indexed(self, idx: Any, i: int) -> ReferencePhase:
        e = idx.entry(i)
        pid = e["id"]
        have = self._phases.get(pid)
        if have is not None and have.cif_path != Path(e["path"]).resolve():
            pid = f"{e['id']}@{idx.folder.name}"  # a bundled or user phase has the file's name
            have = self._phases.get(pid)
        if have is not None:
            return have
        phase = ReferencePhase(
            id=pid,
            name=e["formula"] or pid,
            formula=reduced_formula(e["formula"]) if e["formula"] else pid,
            role="secondary",
            family=USER_FAMILY,
            structure_type="",
            space_group=compact_hm_symbol(e["space_group"] or ""),
            cif_path=Path(e["path"]).resolve(),
            source=f"indexed CIF folder {idx.folder}",
            strain=DEFAULT_USER_STRAIN,
            origin="user",
            elements=frozenset(e["elements"]),
            scope="index",
        )
        self._phases[pid] = phase
        return phase

    def __iter__(self) -> Iterator[str]:
        return iter(self._phases)

    def __len__(self) -> int:
        return len(self._phases)

    @property
    def phases(self) -> list[ReferencePhase]:
        """All phases, in library order."""
        return list(self._phases.values())

    @property
    def version(self) -> str:
        """Hash of every CIF and the Raman table: results computed with the library depend on it."""
        h = hashlib.sha256()
        for pid in sorted(self._phases):
            p = self._phases[pid]
            if p.scope == "index":  # covered by the index digest, however many were looked at
                continue
            h.update(pid.encode())
            h.update(p.cif_sha256.encode())
            if p.origin != "bundled":  # a user phase's role and strain change what the analysis does
                h.update(f"|{p.role}|{p.family}|{p.strain}|{p.raman}".encode())
        for key in sorted(self.raman):
            for b in self.raman[key]:
                # (not shared_by: it limits what a match claims, which is recomputed every time; no
                # stored result, XRD fit or Raman fit, depends on it)
                h.update(f"{key}|{b.position}|{b.rel_intensity}|{b.fwhm}".encode())
        for idx in self.indexes:
            h.update(f"index|{idx.folder}|{idx.digest}".encode())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------ selection
    def select(
        self,
        *,
        elements: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        families: Iterable[str] | None = None,
        always: Iterable[str] = (),
        peaks: Any = None,
        index_top: int = INDEX_TOP,
    ) -> list[ReferencePhase]:
        """Phases whose elements all occur in ``elements``, with the given roles and families.

        Parameters
        ----------
        elements : iterable of str, optional
            The sample's elements; None selects regardless of elements.
        roles, families : iterable of str, optional
        always : iterable of str
            Phase ids included whatever their elements (crucible, contaminants).
        peaks : ObservedPeaks or sequence of ObservedPeaks, optional
            Peaks of the XRD scan(s) (:class:`phasetrace.library.index.ObservedPeaks`).
            With indexed folders (see :meth:`default`), their best ``index_top``
            phases by elements and lines (per scan) are added to the selection;
            without peaks, ``index_top`` phases chosen by elements alone.
            Indexed phases are never selected when neither elements nor peaks
            are given.
        index_top : int
            Candidates taken from each indexed folder (per scan).
        """
        els = None if elements is None else {e.strip().capitalize() for e in elements}
        if els is not None:
            unknown = sorted(e for e in els if not re.fullmatch(r"[A-Z][a-z]?", e))
            if unknown:
                raise LibraryError(f"not element symbols: {', '.join(unknown)}")
        roles_ = None if roles is None else set(roles)
        fams = None if families is None else {f.lower() for f in families}
        always_ = set(always)
        out = []
        for p in self._phases.values():
            if roles_ is not None and p.role not in roles_:
                continue
            if fams is not None and p.family.lower() not in fams:
                continue
            if p.scope == "index":
                continue  # indexed phases enter through the search below, not because they were seen
            if els is not None and not p.elements <= els and p.id not in always_:
                continue
            out.append(p)
        if self.indexes and (els is not None or peaks is not None):
            if (roles_ is None or "secondary" in roles_) and (fams is None or "user" in fams):
                seen = {p.id for p in out}
                for p in self._search_indexes(els, peaks, index_top):
                    if p.id not in seen:
                        seen.add(p.id)
                        out.append(p)
        return out

    def _search_indexes(self, els: set[str] | None, peaks: Any, top: int) -> list[ReferencePhase]:
        from .index import ObservedPeaks

        scans = [peaks] if peaks is None or isinstance(peaks, ObservedPeaks) else list(peaks)
        out = []
        for idx in self.indexes:
            for pk in scans:
                for c in idx.candidates(elements=els, peaks=pk, top=top):
                    i = idx.position(c.id)
                    if i is not None:
                        out.append(self._add_indexed(idx, i))
        return out

    # ------------------------------------------------------------ reflections
    def reflections(
        self, phase: str | ReferencePhase, *, wavelength: float = 1.540598, d_min: float = DEFAULT_D_MIN
    ) -> ReflectionList:
        """Reflection list of a phase (from the disk cache, computed on a miss)."""
        p = phase if isinstance(phase, ReferencePhase) else self[phase]
        key = (p.id, round(wavelength, 7), round(d_min, 4))
        if key not in self._refl:
            try:
                refl = self.cache.get(p.id, p.cif_bytes, wavelength=wavelength, d_min=d_min)
                if p.origin != "bundled":
                    # a list cached before the check was made (or by an older version) is checked too
                    text = p.cif_bytes.decode("utf-8", "replace")
                    check_formula_sites(text, set(refl.elements), str(p.cif_path))
                self._refl[key] = refl
            except CifError as exc:
                raise LibraryError(f"phase {p.id}: {exc}") from None
        return self._refl[key]

    def raman_bands(self, phase: str | ReferencePhase) -> list[RamanBand] | None:
        """Raman bands of a phase: a list (empty = Raman-silent), or None if the table has no entry."""
        p = phase if isinstance(phase, ReferencePhase) else self[phase]
        if p.raman == "silent":
            return []
        if p.raman is None:
            return None
        return self.raman.get(p.raman)

    def is_raman_silent(self, phase: str | ReferencePhase) -> bool:
        """True for phases with no first-order Raman spectrum (ideal rock salt)."""
        return self.raman_bands(phase) == []


# ---------------------------------------------------------------- bundled files
def _load_yaml(text: str) -> Any:
    """Safe YAML load, with libyaml's C parser when PyYAML has it (the phase table parses 10x faster).

    The parsed document is kept as JSON in the cache folder, keyed by the text's hash: the bundled
    phase table (90 kB) takes ~30 ms to construct from YAML and 0.3 ms from JSON, which every command
    that loads the library paid. A document JSON cannot hold exactly (dates, non-string keys) is not
    kept; an unreadable or unwritable cache is skipped.
    """
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    path = ReflectionCache().directory / "yaml" / f"{key[:40]}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader
    try:
        dumped = json.dumps(doc)
    except (TypeError, ValueError):
        return doc
    if json.loads(dumped) == doc:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, dumped)
        except OSError:
            pass
    return doc


_REQUIRED = ("id", "name", "formula", "role", "family", "space_group", "cif", "source", "strain")


def _read_phases_yaml(path: Path) -> list[ReferencePhase]:
    try:
        doc = _load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LibraryError(f"{path}: cannot read the phase list ({str(exc).splitlines()[0]})") from None
    entries = doc.get("phases") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise LibraryError(f"{path}: expected a 'phases' list")
    out = []
    for n, e in enumerate(entries, start=1):
        where = f"{path}, phase {n} ({e.get('id', '?') if isinstance(e, dict) else '?'})"
        if not isinstance(e, dict):
            raise LibraryError(f"{where}: not a mapping")
        missing = [k for k in _REQUIRED if k not in e]
        if missing:
            raise LibraryError(f"{where}: missing {', '.join(missing)}")
        if e["role"] not in ROLES:
            raise LibraryError(f"{where}: role {e['role']!r} is not one of {', '.join(ROLES)}")
        try:
            elements = formula_elements(str(e["formula"]))
        except ValueError as exc:
            raise LibraryError(f"{where}: {exc}") from None
        density = e.get("density") or {}
        out.append(
            ReferencePhase(
                id=str(e["id"]),
                name=str(e["name"]),
                formula=str(e["formula"]),
                role=str(e["role"]),
                family=str(e["family"]),
                structure_type=str(e.get("structure_type", "")),
                space_group=str(e["space_group"]),
                cif_path=(path.parent / str(e["cif"])).resolve(),
                source=str(e["source"]),
                strain=float(e["strain"]),
                raman=None if e.get("raman") in (None, "") else str(e["raman"]),
                notes=str(e.get("notes", "") or "").strip(),
                origin="bundled",
                density_ref=float(density["value"]) if "value" in density else None,
                density_source=str(density.get("source", "")),
                checks=tuple(e.get("checks") or ()),
                elements=elements,
                provenance=str(e.get("provenance", "") or ""),
                checked=" ".join(str(e.get("checked", "") or "").split()),
            )
        )
    return out


def _read_raman_csv(path: Path) -> dict[str, list[RamanBand]]:
    out: dict[str, list[RamanBand]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    for n, row in enumerate(csv.DictReader(lines), start=1):
        pid = (row.get("phase_id") or "").strip()
        if not pid:
            raise LibraryError(f"{path}: row {n} has no phase_id")
        pos = (row.get("band_cm1") or "").strip()
        if not pos:
            # a placeholder row: "silent: ..." (no first-order Raman: an empty band list) or
            # "no reference: ..." (Raman-active but no verified band: left out, i.e. unknown)
            if (row.get("note") or "").strip().lower().startswith("silent"):
                out.setdefault(pid, [])
            continue
        bands = out.setdefault(pid, [])
        try:
            bands.append(
                RamanBand(
                    position=float(pos),
                    rel_intensity=float(row.get("rel_intensity") or 1.0),
                    fwhm=float(row.get("fwhm_cm1") or 10.0),
                    assignment=(row.get("assignment") or "").strip(),
                    source=(row.get("source") or "").strip(),
                    note=(row.get("note") or "").strip(),
                    shared_by=(row.get("shared_by") or "").strip(),
                )
            )
        except ValueError:
            raise LibraryError(f"{path}: row {n} ({pid}) has a non-numeric value") from None
    return out


# ---------------------------------------------------------------- user CIFs
_CIF_TAG = re.compile(r"^\s*(_[\w.\-/\[\]]+)\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))", re.MULTILINE)


def _cif_tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for m in _CIF_TAG.finditer(text):
        tags.setdefault(m.group(1).lower(), next(g for g in m.groups()[1:] if g is not None))
    return tags


def _user_phase(path: Path) -> ReferencePhase:
    text = read_user_cif(path)  # bounded read and checks (cell, elements, occupancies) before pymatgen
    tags = _cif_tags(text)
    pid = tags.get("_phasetrace_id") or path.stem
    if not re.fullmatch(r"[A-Za-z0-9_.()+\-]+", pid):
        pid = re.sub(r"[^A-Za-z0-9_.()+\-]+", "_", pid)
    formula = (tags.get("_chemical_formula_sum") or tags.get("_chemical_formula_structural") or "").strip()
    formula = reduced_formula(formula.replace(" ", ""))  # per formula unit, as the bundled entries
    try:
        elements = formula_elements(formula) if formula else frozenset()
    except ValueError:
        elements = frozenset()
    if not elements:  # no usable formula tag: take the elements from the atom sites (no pymatgen needed)
        from .index import IndexError_, read_cif

        try:
            elements = frozenset(read_cif(text, str(path)).elements)
        except IndexError_:
            elements = frozenset()
    if not elements:
        from .reflections import parse_structure

        try:
            structure, _ = parse_structure(text, str(path))
        except CifError as exc:
            raise LibraryError(str(exc)) from None
        elements = frozenset(el.symbol for el in structure.composition.elements)
        formula = formula or structure.composition.reduced_formula
    return ReferencePhase(
        id=pid,
        name=tags.get("_chemical_name_common") or tags.get("_chemical_name_mineral") or pid,
        formula=formula or pid,
        role=tags.get("_phasetrace_role", "secondary"),
        family=tags.get("_phasetrace_family", USER_FAMILY),
        structure_type="",
        space_group=compact_hm_symbol(
            tags.get("_symmetry_space_group_name_h-m") or tags.get("_space_group_name_h-m_alt") or ""
        ),
        cif_path=path.resolve(),
        source=f"user CIF {path}",
        strain=float(tags.get("_phasetrace_strain", DEFAULT_USER_STRAIN)),
        raman=None,
        origin="user",
        elements=elements,
    )


def _is_large_folder(path: str | os.PathLike[str]) -> bool:
    """True for a folder holding at least :data:`INDEX_MIN_FILES` CIFs (counted without reading them)."""
    p = Path(path)
    if not p.is_dir():
        return False
    n = 0
    with os.scandir(p) as it:
        for e in it:
            if e.name.lower().endswith(".cif"):
                n += 1
                if n >= INDEX_MIN_FILES:
                    return True
    return False


def load_user_phases(path: str | os.PathLike[str]) -> list[ReferencePhase]:
    """User phases from a CIF file or a folder of CIFs (ids from file names unless the CIF sets one)."""
    return read_library_folder(path, scope="library", missing_ok=False)[0]


def _cif_files(folder: Path) -> list[Path]:
    return sorted(q for q in folder.iterdir() if q.suffix.lower() == ".cif" and q.is_file())


def _read_user_meta(folder: Path) -> dict[str, dict[str, Any]]:
    """Entries of a user folder's ``phases.yaml`` by id (empty when the file is absent)."""
    path = folder / USER_PHASES_FILE
    if not path.is_file():
        return {}
    try:
        doc = _load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LibraryError(f"{path}: cannot read the phase list ({str(exc).splitlines()[0]})") from None
    entries = (doc or {}).get("phases") if isinstance(doc, dict) or doc is None else None
    if entries is None:
        entries = []
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "id" in e for e in entries):
        raise LibraryError(f"{path}: expected a 'phases' list of entries with an id")
    return {str(e["id"]): e for e in entries}


def read_library_folder(
    path: str | os.PathLike[str], *, scope: str = "library", missing_ok: bool = True
) -> tuple[list[ReferencePhase], dict[str, list[RamanBand]]]:
    """Phases and Raman bands of a user library folder (or of one CIF).

    A folder holds CIFs, and optionally ``phases.yaml`` (role, family, strain
    of each phase, as written by ``phasetrace phases add``) and
    ``raman_bands.csv`` (the columns of the bundled band table). A CIF that
    ``phases.yaml`` does not list gets its id from ``_phasetrace_id`` or the
    file name, and role, family and strain from ``_phasetrace_role``,
    ``_phasetrace_family``, ``_phasetrace_strain`` or the defaults.

    Parameters
    ----------
    path : path-like
        A folder, or one ``.cif`` file.
    scope : str
        Recorded in each phase's ``scope`` (``project``, ``global``, ``library``).
    missing_ok : bool
        An absent or empty folder gives no phases instead of an error.

    Returns
    -------
    phases : list of ReferencePhase
    raman : dict
        Raman key (``"<scope>:<id>"``) -> bands, for the phases that have bands.
    """
    p = Path(path)
    if p.is_file():
        if p.suffix.lower() != ".cif":
            raise LibraryError(f"{p}: a library entry must be a .cif file or a folder of them")
        return [replace(_user_phase(p), scope=scope)], {}
    if not p.is_dir():
        if missing_ok:
            return [], {}
        raise LibraryError(f"{p}: no such library file or folder")
    files = _cif_files(p)
    meta = _read_user_meta(p)
    if not files and not missing_ok:
        raise LibraryError(f"{p}: no .cif files in this library folder")
    by_file = {str(e.get("cif", f"{pid}.cif")): pid for pid, e in meta.items()}
    for pid, e in meta.items():
        if not (p / str(e.get("cif", f"{pid}.cif"))).is_file():
            raise LibraryError(
                f"{p / USER_PHASES_FILE}: phase {pid!r} names {e.get('cif', f'{pid}.cif')}, which is "
                f"missing; run 'phasetrace phases remove {pid}' or put the CIF back"
            )
    bands = _read_raman_csv(p / USER_RAMAN_FILE) if (p / USER_RAMAN_FILE).is_file() else {}
    phases: list[ReferencePhase] = []
    raman: dict[str, list[RamanBand]] = {}
    for f in files:
        ph = _user_phase(f)
        entry = meta.get(by_file.get(f.name, ""), None)
        if entry is not None:
            try:
                ph = replace(
                    ph,
                    id=str(entry["id"]),
                    role=str(entry.get("role", ph.role)),
                    family=str(entry.get("family", ph.family)),
                    strain=float(entry.get("strain", ph.strain)),
                    name=str(entry.get("name", ph.name)),
                    source=str(entry.get("source", ph.source)),
                )
            except (TypeError, ValueError):
                raise LibraryError(
                    f"{p / USER_PHASES_FILE}: entry {entry['id']!r} has a non-numeric strain"
                ) from None
        if ph.role not in ROLES:
            raise LibraryError(f"{f}: role {ph.role!r} is not one of {', '.join(ROLES)}")
        key = None
        if ph.id in bands:
            key = f"{scope}:{ph.id}"
            raman[key] = bands[ph.id]
        phases.append(replace(ph, scope=scope, raman=key))
    return phases, raman


# ---------------------------------------------------------------- Raman band files
def read_band_csv(path: str | os.PathLike[str], phase_id: str | None = None) -> list[RamanBand]:
    """Read and check a Raman band file (the columns of ``reference_patterns/raman_bands.csv``).

    Parameters
    ----------
    path : path-like
        CSV with the columns ``phase_id, band_cm1, rel_intensity, fwhm_cm1``
        and optionally ``assignment, source, note, shared_by``; ``#`` lines are comments.
        A row with an empty ``band_cm1`` and a note starting with ``silent``
        declares a phase without first-order Raman bands.
    phase_id : str, optional
        Keep the rows of this phase (rows of other phases are an error unless
        the file has rows for this one).

    Returns
    -------
    list of RamanBand
        Empty for a Raman-silent phase.

    Raises
    ------
    LibraryError
        One line naming the file, the row and the problem.
    """
    p = Path(path)
    try:
        with p.open(encoding="utf-8", newline="") as fh:
            lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"{p}: cannot read the Raman band file ({exc})") from None
    if not lines:
        raise LibraryError(f"{p}: the Raman band file has no header and no rows")
    reader = csv.DictReader(lines)
    cols = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in _RAMAN_REQUIRED if c not in cols]
    if missing:
        raise LibraryError(
            f"{p}: missing column(s) {', '.join(missing)}; expected {', '.join(RAMAN_COLUMNS)}"
        )
    bands: list[RamanBand] = []
    silent = False
    others: set[str] = set()
    n_rows = 0
    for n, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        pid = row.get("phase_id", "")
        if not pid:
            raise LibraryError(f"{p}: row {n} has no phase_id")
        if phase_id is not None and pid != phase_id:
            others.add(pid)
            continue
        n_rows += 1
        if not row.get("band_cm1"):
            if row.get("note", "").lower().startswith("silent"):
                silent = True
                continue
            raise LibraryError(f"{p}: row {n} has no band_cm1 (only a 'silent' note row may leave it empty)")
        vals = {}
        for col in ("band_cm1", "rel_intensity", "fwhm_cm1"):
            try:
                vals[col] = float(row[col])
            except ValueError:
                raise LibraryError(f"{p}: row {n}: {col} {row[col]!r} is not a number") from None
            if not math.isfinite(vals[col]):
                raise LibraryError(f"{p}: row {n}: {col} {row[col]!r} is not finite")
        lo, hi = RAMAN_SHIFT_RANGE
        if not lo <= vals["band_cm1"] <= hi:
            raise LibraryError(f"{p}: row {n}: band_cm1 {vals['band_cm1']:g} is outside {lo:g}–{hi:g} cm⁻¹")
        if not vals["rel_intensity"] > 0:
            raise LibraryError(f"{p}: row {n}: rel_intensity {vals['rel_intensity']:g} must be positive")
        lo, hi = RAMAN_FWHM_RANGE
        if not lo <= vals["fwhm_cm1"] <= hi:
            raise LibraryError(f"{p}: row {n}: fwhm_cm1 {vals['fwhm_cm1']:g} is outside {lo:g}–{hi:g} cm⁻¹")
        bands.append(
            RamanBand(
                position=vals["band_cm1"],
                rel_intensity=vals["rel_intensity"],
                fwhm=vals["fwhm_cm1"],
                assignment=row.get("assignment", ""),
                source=row.get("source", ""),
                note=row.get("note", ""),
                shared_by=row.get("shared_by", ""),
            )
        )
    if n_rows == 0:
        found = f" (it has rows for {', '.join(sorted(others))})" if others else ""
        raise LibraryError(f"{p}: no band rows for phase {phase_id!r}{found}")
    if silent and bands:
        raise LibraryError(f"{p}: phase {phase_id or ''} has bands and a 'silent' row; give one or the other")
    return sorted(bands, key=lambda b: b.position)


def _write_band_rows(folder: Path, phase_id: str, bands: list[RamanBand] | None) -> None:
    """Replace ``phase_id``'s rows of the folder's band table (none left when ``bands`` is None)."""
    path = folder / USER_RAMAN_FILE
    rows: list[dict[str, str]] = []
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as fh:
            lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
        rows = [r for r in csv.DictReader(lines) if (r.get("phase_id") or "").strip() != phase_id]
    if bands is not None:
        if not bands:
            rows.append({"phase_id": phase_id, "band_cm1": "", "note": "silent: no first-order Raman bands"})
        for b in bands:
            rows.append(
                {
                    "phase_id": phase_id,
                    "band_cm1": f"{b.position:g}",
                    "rel_intensity": f"{b.rel_intensity:g}",
                    "fwhm_cm1": f"{b.fwhm:g}",
                    "assignment": b.assignment,
                    "source": b.source,
                    "note": b.note,
                    "shared_by": b.shared_by,
                }
            )
    if not rows:
        if path.exists():
            path.unlink()
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(RAMAN_COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (r.get(k) or "") for k in RAMAN_COLUMNS})
    atomic_write_text(path, buf.getvalue())


def _write_user_meta(folder: Path, meta: Mapping[str, Mapping[str, Any]]) -> None:
    path = folder / USER_PHASES_FILE
    if not meta:
        if path.exists():
            path.unlink()
        return
    head = (
        "# phasetrace user phases: written by 'phasetrace phases add/remove' (edit with care).\n"
        "# Fields: id, cif (file in this folder), role, family, strain, name, source; Raman bands are in\n"
        f"# {USER_RAMAN_FILE} beside this file.\n"
    )
    body = yaml.safe_dump(
        {"schema": 1, "phases": [dict(e) for e in meta.values()]}, sort_keys=False, allow_unicode=True
    )
    atomic_write_text(path, head + body)


@dataclass
class Validation:
    """Outcome of :func:`validate_cif`: the parsed reflections, and warnings worth showing."""

    phase: ReferencePhase
    reflections: ReflectionList
    warnings: list[str]


def validate_cif(path: str | os.PathLike[str]) -> Validation:
    """Check a user CIF as ``phasetrace phases add`` does.

    Refuses parse errors, occupancies over 1 and implausible densities;
    warns (but accepts) when no charge-balanced oxidation states exist.

    Raises
    ------
    LibraryError
        With the file name and the problem.
    """
    from .reflections import compute_reflections, parse_structure

    p = Path(path)
    if not p.is_file():
        raise LibraryError(f"{p}: no such file")
    text = read_user_cif(p)
    try:
        structure, parse_warnings = parse_structure(text, str(p))
    except CifError as exc:
        raise LibraryError(str(exc)) from None
    for site in structure:
        occ = sum(site.species.values())
        if occ > 1.0 + 1e-3:
            raise LibraryError(
                f"{p}: site {getattr(site, 'label', '') or site.species_string} at "
                f"{', '.join(f'{c:.4f}' for c in site.frac_coords)} has total occupancy {occ:.3f} > 1"
            )
    dens = float(structure.density)
    if not DENSITY_RANGE[0] <= dens <= DENSITY_RANGE[1]:
        raise LibraryError(
            f"{p}: calculated density {dens:.2f} g/cm³ is implausible (cell or occupancies wrong?)"
        )
    notes = [n for n in (_parser_note(w) for w in parse_warnings) if n]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            guesses = structure.composition.oxi_state_guesses(max_sites=-50)
    except Exception:  # noqa: BLE001 - the guesser can fail on exotic compositions
        guesses = [None]
    if not guesses:
        notes.append(
            f"no charge-balanced oxidation states found for {structure.composition.reduced_formula}; "
            "check the occupancies"
        )
    phase = _user_phase(p)
    if not phase.elements:
        phase = ReferencePhase(
            **{**phase.__dict__, "elements": frozenset(el.symbol for el in structure.composition.elements)}
        )
    refl = compute_reflections(text, name=str(p))
    return Validation(phase=phase, reflections=refl, warnings=notes)


#: pymatgen's CIF-parser warnings as a user reads them: message start -> our line (None: not shown).
#: The composition check ("Cannot determine chemical composition", with a Python error attached)
#: only says the CIF states no formula; implicit hydrogens are refused by check_formula_sites.
_PARSER_NOTES: dict[str, str | None] = {
    "cannot determine chemical composition": "the CIF states no chemical formula; its atom sites give the "
    "composition",
    "missing elements": None,
    "structure has implicit hydrogens": None,
    "stoichiometry": None,
    "deprecated": None,
}


def _parser_note(message: str) -> str | None:
    """One of pymatgen's CIF-parser warnings in the words a user reads (None: not worth a line)."""
    text = re.sub(r"^issues encountered while parsing cif:\s*", "", message.strip(), flags=re.IGNORECASE)
    low = text.lower()
    for start, note in _PARSER_NOTES.items():
        if start in low:
            return note
    return text


@dataclass
class AddResult:
    """Outcome of :func:`add_user_phase`."""

    phase: ReferencePhase
    reflections: ReflectionList
    warnings: list[str]
    folder: Path
    scope: str
    replaced: bool
    bands: list[RamanBand] | None


def _target_folder(where: str | None, directory: str | os.PathLike[str] | None) -> tuple[str, Path]:
    if directory is not None:
        return "library", Path(directory)
    if where == "global":
        return "global", user_library_dir()
    proj = project_library_dir()
    if where == "project":
        return "project", proj if proj is not None else Path.cwd() / PROJECT_SUBDIR
    if where is not None:
        raise LibraryError(f"unknown library {where!r}; use 'project' or 'global'")
    if proj is not None:
        return "project", proj
    return "global", user_library_dir()


_ID_RE = re.compile(r"[A-Za-z0-9_.()+\-]+")


def add_user_phase(
    path: str | os.PathLike[str],
    *,
    role: str = "secondary",
    family: str | None = None,
    raman: str | os.PathLike[str] | None = None,
    phase_id: str | None = None,
    strain: float | None = None,
    force: bool = False,
    where: str | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> AddResult:
    """Check a CIF (and its Raman bands) and copy it into a user library folder, so every command uses it.

    Parameters
    ----------
    path : path-like
        The CIF (never modified; a copy is stored as ``<id>.cif``).
    role : {"host", "secondary", "contaminant", "crucible"}
    family : str, optional
        Structure family (default: the CIF's ``_phasetrace_family`` or ``user``).
    raman : path-like, optional
        Band file with the columns of ``reference_patterns/raman_bands.csv``.
    phase_id : str, optional
        Id of the phase (default: ``_phasetrace_id`` or the file name).
    strain : float, optional
        Lattice strain the matcher may allow (default 0.01).
    force : bool
        Replace a phase of the same id in the target folder.
    where : {"project", "global"}, optional
        Target folder; default the project-local folder when there is one
        (:func:`project_library_dir`), else the user-global one.
    directory : path-like, optional
        An explicit target folder (overrides ``where``).

    Raises
    ------
    LibraryError
        Bad CIF or band file, a bundled id, or an existing id without ``force``.
    """
    if role not in ROLES:
        raise LibraryError(f"role {role!r} is not one of {', '.join(ROLES)}")
    result = validate_cif(path)
    pid = phase_id or result.phase.id
    if not _ID_RE.fullmatch(pid):
        raise LibraryError(f"phase id {pid!r}: use letters, digits and _ . ( ) + - only")
    if strain is not None and not 0 <= strain <= 0.2:
        raise LibraryError(f"strain {strain:g} is outside 0–0.2")
    bundled_ids = {p.id for p in _read_phases_yaml(bundled_dir() / "phases.yaml")}
    if pid in bundled_ids:
        raise LibraryError(
            f"{path}: a bundled phase is already called {pid!r}; choose another id with --id "
            "(or set _phasetrace_id in the CIF)"
        )
    bands = read_band_csv(raman, pid) if raman is not None else None
    scope, folder = _target_folder(where, directory)
    meta = _read_user_meta(folder) if folder.is_dir() else {}
    existing = {ph.id: ph for ph in read_library_folder(folder, scope=scope)[0]} if folder.is_dir() else {}
    replaced = pid in existing or pid in meta
    target = folder / f"{pid}.cif"
    if (replaced or target.exists()) and not force:
        raise LibraryError(f"phase {pid!r} is already in {folder}; give --force to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    if pid in existing and existing[pid].cif_path != target.resolve():
        existing[pid].cif_path.unlink(missing_ok=True)  # an older copy under another file name
    src = Path(path)
    atomic_write_text(target, src.read_text(encoding="utf-8", errors="replace"))
    _write_band_rows(folder, pid, bands)
    ph = result.phase
    meta[pid] = {
        "id": pid,
        "cif": target.name,
        "role": role,
        "family": family or (ph.family if ph.family != "user" else "user"),
        "strain": float(strain if strain is not None else ph.strain),
        "name": ph.name if ph.name != ph.id else pid,
        "source": f"user CIF {src.resolve()} (sha256 {hashlib.sha256(src.read_bytes()).hexdigest()[:16]})",
    }
    _write_user_meta(folder, meta)
    phase = next(q for q in read_library_folder(folder, scope=scope)[0] if q.id == pid)
    return AddResult(
        phase=phase,
        reflections=result.reflections,
        warnings=result.warnings,
        folder=folder,
        scope=scope,
        replaced=replaced,
        bands=bands,
    )


def add_user_cif(
    path: str | os.PathLike[str], *, directory: str | os.PathLike[str] | None = None
) -> AddResult:
    """Validate a CIF and add it to the user library with the defaults (see :func:`add_user_phase`)."""
    return add_user_phase(path, directory=directory, where=None if directory is not None else "global")


def remove_user_phase(
    phase_id: str, *, where: str | None = None, directory: str | os.PathLike[str] | None = None
) -> tuple[str, Path]:
    """Remove a user phase (its CIF copy, its entry and its Raman bands) from a user library folder.

    The folder is the first, in lookup order (project, then global), that holds
    the phase, unless ``where`` or ``directory`` names one.

    Returns
    -------
    scope, folder : str, Path
        Where the phase was removed from.

    Raises
    ------
    LibraryError
        The id is a bundled phase's, or no user folder holds it.
    """
    if directory is not None:
        folders = [("library", Path(directory))]
    elif where is not None:
        folders = [_target_folder(where, None)]
    else:
        folders = library_dirs()
    for scope, folder in folders:
        if not folder.is_dir():
            continue
        found = {ph.id: ph for ph in read_library_folder(folder, scope=scope)[0]}
        if phase_id not in found:
            continue
        meta = _read_user_meta(folder)
        meta.pop(phase_id, None)
        _write_user_meta(folder, meta)
        _write_band_rows(folder, phase_id, None)
        found[phase_id].cif_path.unlink(missing_ok=True)
        return scope, folder
    bundled_ids = {p.id for p in _read_phases_yaml(bundled_dir() / "phases.yaml")}
    if phase_id in bundled_ids:
        raise LibraryError(
            f"{phase_id!r} is a bundled phase and cannot be removed; to leave it out of a fit, "
            "name the phases with --phases"
        )
    if not folders:
        raise LibraryError(f"no user phase {phase_id!r}: no user library folder exists yet")
    where_txt = ", ".join(str(f) for _, f in folders)
    raise LibraryError(f"no user phase {phase_id!r} in {where_txt}; see 'phasetrace phases list'")
