"""The reference-phase library: bundled phases from ``reference_patterns/``, plus the user's CIFs.

>>> lib = PhaseLibrary.default()                         # doctest: +SKIP
>>> [p.id for p in lib.select(elements={"Li", "La", "Zr", "Co", "O"})]  # doctest: +SKIP
>>> lib.reflections("La2Zr2O7").table((1.540598, 1.544426))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._atomic import atomic_write_text
from ..errors import PhasetraceError
from .formula import formula_elements
from .reflections import DEFAULT_D_MIN, CifError, ReflectionCache, ReflectionList

__all__ = [
    "ROLES",
    "LibraryError",
    "PhaseLibrary",
    "RamanBand",
    "ReferencePhase",
    "bundled_dir",
    "user_library_dir",
]

#: Roles a phase can play in a sample.
ROLES = ("host", "secondary", "contaminant", "crucible")

#: Lattice strain the matcher allows a user phase that states none (fraction).
DEFAULT_USER_STRAIN = 0.01

#: Plausible range of calculated densities for an inorganic crystal, g/cm³.
DENSITY_RANGE = (0.8, 23.0)


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
    """Folder where ``phasetrace phases add`` keeps user CIFs (``$PHASETRACE_USER_LIBRARY``)."""
    env = os.environ.get("PHASETRACE_USER_LIBRARY")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "phasetrace" / "phases"


@dataclass(frozen=True)
class RamanBand:
    """One first-order Raman band of a phase."""

    position: float
    rel_intensity: float
    fwhm: float
    assignment: str
    source: str
    note: str = ""


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
        How far the structure is a published refinement: ``"published"``, ``"published-cell"``
        (published cell and site scheme, some coordinates chosen) or ``"model"``; empty for user CIFs.
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
            "elements": sorted(self.elements),
            "provenance": self.provenance,
            "notes": self.notes,
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
    """

    def __init__(
        self,
        phases: Iterable[ReferencePhase],
        *,
        raman: Mapping[str, list[RamanBand]] | None = None,
        cache: ReflectionCache | None = None,
        materials: Mapping[str, Any] | None = None,
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

    # ------------------------------------------------------------ construction
    @classmethod
    def default(
        cls,
        extra: Sequence[str | os.PathLike[str]] = (),
        *,
        cache: ReflectionCache | None = None,
        include_user: bool = True,
    ) -> PhaseLibrary:
        """The bundled library, plus phases added with ``phases add`` and any ``extra`` CIFs or folders."""
        root = bundled_dir()
        phases = _read_phases_yaml(root / "phases.yaml")
        raman = _read_raman_csv(root / "raman_bands.csv") if (root / "raman_bands.csv").exists() else {}
        materials = (
            _load_yaml((root / "materials.yaml").read_text(encoding="utf-8"))
            if (root / "materials.yaml").exists()
            else {}
        )
        user: list[ReferencePhase] = []
        udir = user_library_dir()
        if include_user and udir.is_dir() and any(udir.glob("*.cif")):
            user += load_user_phases(udir)
        for path in extra:
            user += load_user_phases(path)
        return cls([*phases, *user], raman=raman, cache=cache, materials=materials)

    # ------------------------------------------------------------ mapping API
    def __getitem__(self, key: str) -> ReferencePhase:
        try:
            return self._phases[key]
        except KeyError:
            close = [k for k in self._phases if k.lower() == str(key).lower()]
            hint = f"; did you mean {close[0]!r}?" if close else "; see 'phasetrace phases list'"
            raise LibraryError(f"unknown phase {key!r}{hint}") from None

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
            h.update(pid.encode())
            h.update(self._phases[pid].cif_sha256.encode())
        for key in sorted(self.raman):
            for b in self.raman[key]:
                h.update(f"{key}|{b.position}|{b.rel_intensity}|{b.fwhm}".encode())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------ selection
    def select(
        self,
        *,
        elements: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        families: Iterable[str] | None = None,
        always: Iterable[str] = (),
    ) -> list[ReferencePhase]:
        """Phases whose elements all occur in ``elements``, with the given roles and families.

        Parameters
        ----------
        elements : iterable of str, optional
            The sample's elements; None selects regardless of elements.
        roles, families : iterable of str, optional
        always : iterable of str
            Phase ids included whatever their elements (crucible, contaminants).
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
            if els is not None and not p.elements <= els and p.id not in always_:
                continue
            out.append(p)
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
                self._refl[key] = self.cache.get(p.id, p.cif_bytes, wavelength=wavelength, d_min=d_min)
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
    """Safe YAML load, with libyaml's C parser when PyYAML has it (the phase table parses 10x faster)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader


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
    text = path.read_text(encoding="utf-8", errors="replace")
    tags = _cif_tags(text)
    pid = tags.get("_phasetrace_id") or path.stem
    if not re.fullmatch(r"[A-Za-z0-9_.()+\-]+", pid):
        pid = re.sub(r"[^A-Za-z0-9_.()+\-]+", "_", pid)
    formula = (tags.get("_chemical_formula_sum") or tags.get("_chemical_formula_structural") or "").strip()
    formula = formula.replace(" ", "")
    try:
        elements = formula_elements(formula) if formula else frozenset()
    except ValueError:
        elements = frozenset()
    if not elements:  # no usable formula tag: take the elements from the structure itself
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
        family=tags.get("_phasetrace_family", "user"),
        structure_type="",
        space_group=tags.get("_symmetry_space_group_name_h-m") or tags.get("_space_group_name_h-m_alt") or "",
        cif_path=path.resolve(),
        source=f"user CIF {path}",
        strain=float(tags.get("_phasetrace_strain", DEFAULT_USER_STRAIN)),
        raman=None,
        origin="user",
        elements=elements,
    )


def load_user_phases(path: str | os.PathLike[str]) -> list[ReferencePhase]:
    """User phases from a CIF file or a folder of CIFs (ids from file names unless the CIF sets one)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.suffix.lower() == ".cif")
        if not files:
            raise LibraryError(f"{p}: no .cif files in this library folder")
    elif p.is_file():
        if p.suffix.lower() != ".cif":
            raise LibraryError(f"{p}: a library entry must be a .cif file or a folder of them")
        files = [p]
    else:
        raise LibraryError(f"{p}: no such library file or folder")
    return [_user_phase(f) for f in files]


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
    text = p.read_text(encoding="utf-8", errors="replace")
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
    notes = [w for w in parse_warnings if "stoichiometry" not in w.lower()]
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


def add_user_cif(
    path: str | os.PathLike[str], *, directory: str | os.PathLike[str] | None = None
) -> Validation:
    """Validate a CIF and copy it into the user library folder, so every command uses it."""
    result = validate_cif(path)
    target_dir = Path(directory) if directory is not None else user_library_dir()
    target = target_dir / f"{result.phase.id}.cif"
    bundled_ids = {p.id for p in _read_phases_yaml(bundled_dir() / "phases.yaml")}
    if result.phase.id in bundled_ids:
        raise LibraryError(
            f"{path}: a bundled phase is already called {result.phase.id!r}; "
            "rename the file or set _phasetrace_id in the CIF"
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, Path(path).read_text(encoding="utf-8", errors="replace"))
    return Validation(
        phase=ReferencePhase(**{**result.phase.__dict__, "cif_path": target.resolve()}),
        reflections=result.reflections,
        warnings=result.warnings,
    )
