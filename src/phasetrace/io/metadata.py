"""Sample metadata that is not inside scan files: manifests and file-name conventions.

A manifest (CSV or YAML) names, per file, the material system, the sintering
temperature, the technique, the atmosphere and the dwell. Column names are
matched with the aliases of :data:`COLUMN_ALIASES` (``T``, ``"T (°C)"``,
``"Temperature (C)"``, ``filename``, ``path``, ``tech`` ...); a temperature
column in kelvin (``"T (K)"``) is converted. A manifest without a file column
may name the files by their stem in a ``sample`` column.

Where there is no manifest, file names are read:

* ``"<cathode> + <electrolyte>-<T>"``, e.g. ``"pc-NMC631 + LLZTO-800"`` or
  ``"pc-LCO + LLZTO-RT"`` (a bare number is the temperature here only);
* ``"<system>_<T>C"`` and its relatives: the name is split at ``_``, ``-`` and
  spaces, and the one token that is a temperature (``700C``, ``700°C``,
  ``700degC``, ``700oC``, ``T700``, ``RT``) separates the system (before it)
  from dwell (``2h``, ``60min``), atmosphere (``O2``, ``air``, ``Ar``),
  technique and replicate (``2``, ``b``, ``rep2``) tokens after it. A date
  (``20240312``, ``2024-03-12``, or six digits in front) is recorded and is not
  part of the system. Examples: ``LCO_LLZO_800C``, ``CoO-WO3_900C_60min``,
  ``LCO_LLZTO_700degC``, ``LCO+LLZTO_700C_2h_O2``, ``LCO_LLZTO_T700``,
  ``20240312_LCO_LLZTO_700C``.

``RT`` is recorded as 25 °C. A bare number without a unit is not read as a
temperature outside the first convention (``scan_10.xy`` is not 10 °C), and a
name with two temperatures gives none. The technique of a scan comes from its
content (the axis), not from its name.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import MetadataError
from ._decode import decode_export

__all__ = [
    "COLUMN_ALIASES",
    "MANIFEST_COLUMNS",
    "ROOM_TEMPERATURE_C",
    "Manifest",
    "canonical_system",
    "looks_like_manifest",
    "metadata_from_filename",
    "parse_temperature",
    "read_manifest",
]

#: Temperature recorded for "RT" (room temperature, i.e. not heat-treated).
ROOM_TEMPERATURE_C = 25.0

#: Columns a manifest may have; ``file`` is required (or a ``sample`` column naming the files).
MANIFEST_COLUMNS = (
    "file",
    "system",
    "temperature_C",
    "technique",
    "atmosphere",
    "dwell",
    "sample",
    "replicate",
    "elements",
    "laser_nm",
)

#: Column names understood for each manifest column (compared in lower case, with ``_``/``-`` as
#: spaces and a unit in brackets or after ``/`` set aside: ``"T (°C)"`` is ``t`` in °C).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "file": ("file", "filename", "file name", "path", "filepath", "file path", "scan", "data file"),
    "system": ("system", "material", "materials", "material system", "couple", "composition"),
    "temperature_C": (
        "temperature c",
        "temperature",
        "temp",
        "t",
        "t c",
        "sintering temperature",
        "annealing temperature",
        "heating temperature",
        "calcination temperature",
    ),
    "technique": ("technique", "tech", "method", "measurement"),
    "atmosphere": ("atmosphere", "atm", "gas"),
    "dwell": ("dwell", "dwell time", "hold", "hold time", "holding time", "duration"),
    "sample": ("sample", "sample id", "sample name", "specimen", "pellet"),
    "replicate": ("replicate", "rep", "repeat", "pellet no", "pellet number"),
    "elements": ("elements",),
    "laser_nm": ("laser nm", "laser", "laser wavelength", "excitation", "excitation wavelength"),
}
_CELSIUS = {"°c", "c", "degc", "deg c", "celsius", "oc", "° c"}
_KELVIN = {"k", "kelvin"}
_ALIAS = {alias: col for col, names in COLUMN_ALIASES.items() for alias in names}

_TECHNIQUES = {
    "xrd": "xrd",
    "x-ray": "xrd",
    "pxrd": "xrd",
    "powder xrd": "xrd",
    "x-ray diffraction": "xrd",
    "diffraction": "xrd",
    "raman": "raman",
    "raman spectroscopy": "raman",
}

# ---------------------------------------------------------------------------------------------- file names

_T = r"(?P<T>RT|rt|-?\d+(?:\.\d+)?)"
_TAIL = r"(?:[ _-]+(?P<tech>xrd|raman|XRD|Raman|RAMAN))?(?:[ _-]+(?P<rep>\d{1,2}|[a-z]))?"
#: "<cathode> + <electrolyte>-<T>" (spaces around + optional)
_PLUS = re.compile(rf"^(?P<system>[^+]+?\s*\+\s*.+?)\s*[-_ ]\s*{_T}\s*(?:°?C)?{_TAIL}$")

#: one temperature token of a file name: 700C, 700°C, 700degC, 700oC, T700, T700C, RT (2-4 digits: "1C"
#: is a charge rate, not a temperature)
_T_TOKEN = re.compile(
    r"(?:(?P<v>\d{2,4}(?:\.\d+)?)(?:°C|C|degC|oC|℃)|T(?P<tv>\d{2,4})(?:°?C|degC)?|(?P<rt>RT|rt))"
)
_DWELL = re.compile(r"\d+(?:\.\d+)?(?:min|mins|h|hr|hrs|hours?|s)", re.IGNORECASE)
_ATMOSPHERES = {
    "air": "air",
    "dryair": "dry air",
    "o2": "O2",
    "oxygen": "O2",
    "n2": "N2",
    "nitrogen": "N2",
    "ar": "Ar",
    "argon": "Ar",
    "h2": "H2",
    "vac": "vacuum",
    "vacuum": "vacuum",
}
_TECH_TOKENS = {"xrd": "xrd", "pxrd": "xrd", "raman": "raman"}
_REPLICATE = re.compile(r"(?:rep|r|p|pellet|s|sample|n|#)?(\d{1,2})|([a-zA-Z])", re.IGNORECASE)
_DATE8 = re.compile(r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")


def parse_temperature(value: Any, *, where: str = "temperature") -> tuple[float | None, str | None]:
    """Temperature in °C and its label from ``800``, ``"800"``, ``"800 C"``, ``"800°C"`` or ``"RT"``.

    Returns
    -------
    (float or None, str or None)
        The temperature and, for room temperature, the label ``"RT"``.
    """
    if value is None:
        return None, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        t = float(value)
    else:
        s = str(value).strip()
        if not s or s.lower() in ("nan", "none", "-", "na", "n/a"):
            return None, None
        if s.upper() in ("RT", "ROOM", "ROOM TEMPERATURE", "AS-PREPARED", "UNHEATED"):
            return ROOM_TEMPERATURE_C, "RT"
        m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(?:°\s*C|C|degC|deg C|oC|℃)?", s)
        if not m:
            raise MetadataError(f"{where}: cannot read a temperature from {value!r}")
        t = float(m.group(1))
    if not -273.15 <= t <= 3000:
        raise MetadataError(f"{where}: temperature {t:g} °C is implausible")
    return t, None


def metadata_from_filename(path: str | os.PathLike[str]) -> dict[str, Any]:
    """System, temperature (and dwell, atmosphere, technique, replicate, date) from a file name.

    Parameters
    ----------
    path : str or path-like
        The file; only its name without the suffix is used.

    Returns
    -------
    dict
        Empty unless the name holds a temperature; keys ``system`` (absent when
        the name is only a temperature, e.g. ``700C.xy``), ``temperature_C``,
        ``temperature_label``, ``dwell``, ``atmosphere``, ``technique``,
        ``replicate``, ``date``, ``name_convention``.

    Examples
    --------
    >>> metadata_from_filename("pc-NMC631 + LLZTO-800.xy")["temperature_C"]
    800.0
    >>> metadata_from_filename("LCO_LLZO_RT.xy")["temperature_label"]
    'RT'
    >>> m = metadata_from_filename("20240312_LCO+LLZTO_700degC_2h_O2.xy")
    >>> m["system"], m["temperature_C"], m["dwell"], m["atmosphere"], m["date"]
    ('LCO+LLZTO', 700.0, '2h', 'O2', '2024-03-12')
    """
    stem = Path(path).stem.strip()
    m = _PLUS.match(stem)
    if m:
        try:
            temp, label = parse_temperature(m.group("T"), where=str(path))
        except MetadataError:
            return {}
        out: dict[str, Any] = {"name_convention": "<cathode> + <electrolyte>-<T>"}
        out["system"] = " ".join(m.group("system").split())
        out["temperature_C"] = temp
        if label:
            out["temperature_label"] = label
        if m.group("tech"):
            out["technique"] = _TECHNIQUES[m.group("tech").lower()]
        if m.group("rep"):
            out["replicate"] = m.group("rep")
        return out
    return _from_tokens(stem)


def _from_tokens(stem: str) -> dict[str, Any]:
    """The ``<system>_<T>C`` family: the one temperature token splits system from the rest."""
    text = re.sub(r"\s*\+\s*", "+", stem)  # "LCO + LLZTO" is one token
    text = re.sub(r"(\d)\s+(?=°\s*C|degC|oC|℃|C\b)", r"\1", text)  # "700 °C" -> "700°C"
    text = re.sub(r"°\s+C", "°C", text)
    text = re.sub(r"(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?!\d)", r"\1\2\3", text)  # ISO date, one token
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"[^_\s\-]+", text)]
    temps = [i for i, (tok, _, _) in enumerate(tokens) if _T_TOKEN.fullmatch(tok)]
    if len(temps) != 1:
        return {}
    it = temps[0]
    tm = _T_TOKEN.fullmatch(tokens[it][0])
    assert tm is not None
    out: dict[str, Any] = {"name_convention": "<system>_<T>C"}
    if tm.group("rt"):
        out["temperature_C"], out["temperature_label"] = ROOM_TEMPERATURE_C, "RT"
    else:
        t = float(tm.group("v") or tm.group("tv"))
        if t > 3000:
            return {}
        out["temperature_C"] = t

    def is_date(i: int) -> bool:
        tok = tokens[i][0]
        return bool(_DATE8.fullmatch(tok)) or (i == 0 and len(tok) == 6 and tok.isdigit() and it > 1)

    dates = [i for i in range(len(tokens)) if is_date(i)]
    if dates:
        d = tokens[dates[0]][0]
        out["date"] = f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 else d
    before = [i for i in range(it) if i not in dates]
    after: list[int] = []
    for i in range(it + 1, len(tokens)):
        tok = tokens[i][0]
        low = tok.lower()
        if i in dates:
            continue
        if _DWELL.fullmatch(tok) and "dwell" not in out:
            out["dwell"] = tok
        elif low in _ATMOSPHERES and "atmosphere" not in out:
            out["atmosphere"] = _ATMOSPHERES[low]
        elif low in _TECH_TOKENS and "technique" not in out:
            out["technique"] = _TECH_TOKENS[low]
        elif _REPLICATE.fullmatch(tok) and "replicate" not in out and i == len(tokens) - 1:
            out["replicate"] = tok
        else:
            after.append(i)
    # the system is what comes before the temperature; a name that starts with it ("700C_LCO_LLZTO")
    # has its system after it
    sys_idx = before or [i for i in after if i == it + 1 + after.index(i)]
    if sys_idx:
        system = text[tokens[sys_idx[0]][1] : tokens[sys_idx[-1]][2]]
        out["system"] = " ".join(system.split())
    return out


def canonical_system(name: str) -> str:
    """A key under which spellings of one system meet: ``LCO_LLZTO``, ``LCO+LLZTO``, ``lco + llzto``.

    Components are separated by ``+``, ``_`` or spaces and compared in lower case; a hyphen stays
    part of a component (``pc-NMC631`` is not ``NMC631``).

    Examples
    --------
    >>> canonical_system("LCO_LLZTO") == canonical_system("lco + LLZTO")
    True
    """
    return " + ".join(t for t in re.split(r"[+_\s]+", name.strip().lower()) if t)


# ----------------------------------------------------------------------------------------------- manifests

#: File names in a data folder that are never scans.
NOT_SCANS = {"manifest.csv", "manifest.yaml", "manifest.yml", "readme.md", "truth.json", "recipe.yaml"}
#: Suffixes of files in a data folder that are never scans.
SKIP_SUFFIXES = {".md", ".json", ".yaml", ".yml", ".py", ".png", ".svg", ".pdf", ".sqlite", ".log"}


def scan_like_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Files under ``folder`` (recursively, sorted) that may be scans: not manifests, notes or outputs.

    Hidden files and folders are skipped, and so are the output folders of earlier runs
    (a subfolder with a ``series.sqlite``: its CSV tables are not scans).
    """
    root = Path(folder)
    outputs = [p.parent for p in root.rglob("series.sqlite") if p.parent != root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name.lower() not in NOT_SCANS
        and p.suffix.lower() not in SKIP_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and not any(o in p.parents for o in outputs)
    )


class Manifest(Mapping[str, dict[str, Any]]):
    """Per-file metadata from a manifest, keyed by the resolved file path.

    Parameters
    ----------
    entries : mapping
        Resolved absolute path (str) -> metadata dict.
    source : str
        The manifest file.
    """

    def __init__(self, entries: Mapping[str, dict[str, Any]], source: str = ""):
        self._entries = dict(entries)
        self.source = source

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, path: str | os.PathLike[str]) -> dict[str, Any] | None:
        """Metadata for a scan file, or None if the manifest does not list it."""
        return self._entries.get(str(Path(path).resolve()))

    @property
    def files(self) -> list[Path]:
        """The listed files, in manifest order."""
        return [Path(k) for k in self._entries]


def expected_columns() -> str:
    """The manifest columns and their main aliases, for error messages."""
    show = {
        "file": ("filename", "path"),
        "system": ("material",),
        "temperature_C": ("T", "temperature", "'T (°C)'"),
        "technique": ("tech",),
    }
    parts = [f"{col} (or {', '.join(al)})" for col, al in show.items()]
    return ", ".join(parts) + "; optional: atmosphere, dwell, sample, replicate"


def looks_like_manifest(path: str | os.PathLike[str]) -> bool:
    """True for a YAML file, or a CSV/TSV/TXT file that is a table of scans rather than a scan.

    That is: a first line naming a file (or sample) column and another known column (or the
    file column alone), with no number among its cells; or a first line of text cells whose
    next line names a file (``LCO_700C.xy,700``), so that a manifest with unknown column names
    gets the list of expected columns instead of being read as a scan.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return True
    if suffix not in (".csv", ".tsv", ".txt"):
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    lines = decode_export(head).splitlines()[:2]
    if not lines:
        return False
    cells = [c.strip().strip('"') for c in re.split(r"[,;\t]", lines[0])]
    if any(re.fullmatch(r"[-+.,\deE]+", c) for c in cells if c):
        return False
    cols = [_column(c)[0] for c in cells]
    if {"file", "sample"} & set(cols):
        # a vendor export's "Sample Name,LCO-1" header line is not a manifest: a manifest names two
        # of its columns, or has only the file column
        return len(cells) == 1 or sum(c is not None for c in cols) >= 2
    row = [c.strip().strip('"') for c in re.split(r"[,;\t]", lines[1])] if len(lines) > 1 else []
    return len(cells) >= 2 and any(re.fullmatch(r"[^/\\]*[A-Za-z][^/\\]*\.[A-Za-z]\w{0,5}", c) for c in row)


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a CSV or YAML manifest.

    CSV: a header row naming at least the files (``file`` or an alias of it, see
    :data:`COLUMN_ALIASES`); other columns from :data:`MANIFEST_COLUMNS` or their
    aliases (unknown columns are kept as extra metadata). YAML: a list of such
    mappings, or a mapping with a ``scans`` list. File paths are relative to the
    manifest's folder. Without a file column, a ``sample`` column may name the
    files by their name without suffix.

    Raises
    ------
    MetadataError
        With the manifest's name, the row and the problem; a manifest whose
        columns name no files gets the list of expected columns and aliases.
    """
    p = Path(path)
    try:
        text = decode_export(p.read_bytes())
    except FileNotFoundError:
        raise MetadataError(f"{p}: no such manifest file") from None
    except OSError as exc:
        raise MetadataError(f"{p}: cannot read the manifest ({exc.strerror or exc})") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        rows = _yaml_rows(text, p)
        names = list(dict.fromkeys(str(k) for _, r in rows for k in r))
    elif p.suffix.lower() in (".csv", ".tsv", ".txt"):
        names, rows = _csv_rows(text, p)
    else:
        raise MetadataError(f"{p}: a manifest must be .csv or .yaml, not {p.suffix or 'no suffix'!r}")
    columns = _map_columns(names, p)
    by_stem: dict[str, list[Path]] | None = None
    if "file" not in {c for c, _ in columns.values()}:
        if "sample" not in {c for c, _ in columns.values()}:
            found = ", ".join(repr(n) for n in names)[:80] or "none"
            raise MetadataError(
                f"{p}: no column names the scan files (found {found}); expected columns {expected_columns()}"
            )
        by_stem = {}
        for f in scan_like_files(p.parent):
            by_stem.setdefault(f.stem.lower(), []).append(f)
    entries: dict[str, dict[str, Any]] = {}
    for label, row in rows:
        where = f"{p}, {label}"
        meta = _normalise_row(row, where, columns)
        if by_stem is not None:
            file_path = _file_of_sample(meta.get("sample"), by_stem, where, p.parent)
        else:
            file_path = (p.parent / meta.pop("file")).resolve()
        key = str(file_path)
        if key in entries:
            raise MetadataError(f"{where}: file {file_path.name!r} is listed twice")
        entries[key] = meta
    if not entries:
        raise MetadataError(f"{p}: the manifest lists no files")
    return Manifest(entries, source=str(p))


def _column(name: str) -> tuple[str | None, str | None]:
    """Manifest column and unit of a header cell: ``"T (°C)"`` -> ``("temperature_C", "°c")``."""
    low = str(name).strip().lower().replace("℃", "°c")
    unit = None
    m = re.fullmatch(r"(.+?)\s*(?:\(([^)]*)\)|\[([^\]]*)\]|/\s*([^/]+))", low)
    if m:
        low = m.group(1)
        unit = next(g for g in m.groups()[1:] if g is not None).strip()
    key = " ".join(re.sub(r"[_\-.:#]+", " ", low).split())
    if key in _ALIAS:
        return _ALIAS[key], unit
    m = re.fullmatch(r"(.+) (c|degc|k|nm)", key)  # temperature_C, T_K, laser_nm
    if m and _ALIAS.get(m.group(1)) in ("temperature_C", "laser_nm"):
        return _ALIAS[m.group(1)], m.group(2)
    return None, unit


def _map_columns(names: list[str], p: Path) -> dict[str, tuple[str, str | None]]:
    """Header cell -> (manifest column, unit); unknown cells map to themselves (extra metadata)."""
    out: dict[str, tuple[str, str | None]] = {}
    seen: dict[str, str] = {}
    for name in names:
        col, unit = _column(name)
        if col is None:
            out[name] = (str(name).strip(), None)
            continue
        if col in seen:
            raise MetadataError(f"{p}: columns {seen[col]!r} and {name!r} both give the {col}")
        seen[col] = name
        if col == "temperature_C" and unit is not None and unit not in _CELSIUS | _KELVIN:
            raise MetadataError(f"{p}: column {name!r}: temperatures in °C or K, not {unit!r}")
        out[name] = (col, unit)
    return out


def _file_of_sample(sample: Any, by_stem: dict[str, list[Path]], where: str, folder: Path) -> Path:
    """The one scan file in the manifest's folder whose name without suffix is the sample's name."""
    if not sample:
        raise MetadataError(f"{where}: no file and no sample name")
    hits = by_stem.get(str(sample).strip().lower(), [])
    if not hits:
        raise MetadataError(f"{where}: no file in {folder} is named {str(sample)!r} (with any suffix)")
    if len(hits) > 1:
        names = ", ".join(h.name for h in hits[:3])
        raise MetadataError(f"{where}: sample {str(sample)!r} is several files ({names}); give a file column")
    return hits[0].resolve()


def _csv_rows(text: str, p: Path) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    names = [f for f in (reader.fieldnames or []) if f and f.strip()]
    if not names:
        raise MetadataError(f"{p}: the manifest needs a header row; expected {expected_columns()}")
    rows = []
    for n, row in enumerate(reader, start=2):
        clean = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        if not any(clean.values()):
            continue
        if None in row or "" in clean and clean[""]:
            raise MetadataError(f"{p}, line {n}: more fields than header columns")
        clean.pop("", None)
        rows.append((f"line {n}", clean))
    return [n.strip() for n in names], rows


def _yaml_rows(text: str, p: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise MetadataError(f"{p}: invalid YAML ({first})") from None
    if isinstance(doc, Mapping) and "scans" in doc:
        doc = doc["scans"]
    if not isinstance(doc, list) or not all(isinstance(r, Mapping) for r in doc):
        raise MetadataError(f"{p}: a YAML manifest is a list of entries (or has a 'scans' list)")
    return [(f"entry {n}", {str(k).strip(): v for k, v in r.items()}) for n, r in enumerate(doc, start=1)]


def _normalise_row(
    row: Mapping[str, Any], where: str, columns: Mapping[str, tuple[str, str | None]]
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    t_unit = None
    for k, v in row.items():
        if v in (None, ""):
            continue
        col, unit = columns.get(str(k).strip(), (str(k).strip(), None))
        meta[col] = v
        if col == "temperature_C":
            t_unit = unit
    if "file" in columns_of(columns) and not meta.get("file"):
        raise MetadataError(f"{where}: no file given")
    if "file" in meta:
        meta["file"] = str(meta["file"]).strip()
    if "temperature_C" in meta:
        temp, label = parse_temperature(meta.pop("temperature_C"), where=where)
        if temp is not None and t_unit in _KELVIN and label is None:
            temp = round(temp - 273.15, 6)
        if temp is not None:
            meta["temperature_C"] = temp
        if label:
            meta["temperature_label"] = label
    if "technique" in meta:
        tech = " ".join(str(meta["technique"]).strip().lower().split())
        if tech not in _TECHNIQUES:
            raise MetadataError(f"{where}: technique {meta['technique']!r} is not XRD or Raman")
        meta["technique"] = _TECHNIQUES[tech]
    if "laser_nm" in meta:
        try:
            meta["laser_nm"] = float(meta["laser_nm"])
        except (TypeError, ValueError):
            raise MetadataError(f"{where}: laser_nm {meta['laser_nm']!r} is not a number") from None
    if "elements" in meta and isinstance(meta["elements"], str):
        meta["elements"] = [e.strip() for e in re.split(r"[,; ]+", meta["elements"]) if e.strip()]
    for key in ("system", "atmosphere", "dwell", "sample", "replicate"):
        if key in meta:
            meta[key] = str(meta[key]).strip()
    return meta


def columns_of(columns: Mapping[str, tuple[str, str | None]]) -> set[str]:
    """The manifest columns a header maps to."""
    return {c for c, _ in columns.values()}
