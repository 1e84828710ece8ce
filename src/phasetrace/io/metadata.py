"""Sample metadata that is not inside scan files: manifests and file-name conventions.

A manifest (CSV or YAML) names, per file, the material system, the sintering
temperature, the technique, the atmosphere and the dwell. Where there is no
manifest, two common file-name conventions are understood:

* ``"<cathode> + <electrolyte>-<T>"``, e.g. ``"pc-NMC631 + LLZTO-800"`` or
  ``"pc-LCO + LLZTO-RT"``;
* ``"<system>_<T>C"``, e.g. ``"LCO_LLZO_800C"`` or ``"CoO-WO3_900C_60min"``
  (a trailing ``_<n>min`` / ``_<n>h`` is the dwell).
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

__all__ = [
    "MANIFEST_COLUMNS",
    "ROOM_TEMPERATURE_C",
    "Manifest",
    "metadata_from_filename",
    "parse_temperature",
    "read_manifest",
]

#: Temperature recorded for "RT" (room temperature, i.e. not heat-treated).
ROOM_TEMPERATURE_C = 25.0

#: Columns a manifest may have; ``file`` is required.
MANIFEST_COLUMNS = (
    "file",
    "system",
    "temperature_C",
    "technique",
    "atmosphere",
    "dwell",
    "sample",
    "elements",
    "laser_nm",
)

_TECHNIQUES = {"xrd": "xrd", "x-ray": "xrd", "raman": "raman"}

_T = r"(?P<T>RT|rt|-?\d+(?:\.\d+)?)"
_TAIL = r"(?:[ _-]+(?P<tech>xrd|raman|XRD|Raman|RAMAN))?(?:[ _-]+(?P<rep>\d{1,2}|[a-z]))?"
#: "<cathode> + <electrolyte>-<T>" (spaces around + optional)
_PLUS = re.compile(rf"^(?P<system>[^+]+?\s*\+\s*.+?)\s*[-_ ]\s*{_T}\s*(?:°?C)?{_TAIL}$")
#: "<system>_<T>C[_<dwell>]" or "<system>_RT"
_UNDERSCORE = re.compile(
    rf"^(?P<system>.+?)[_ -]{_T}(?:\s*°?C)(?:[_ -](?P<dwell>\d+(?:\.\d+)?\s*(?:min|h|hr|s)))?{_TAIL}$"
    r"|"
    r"^(?P<system2>.+?)[_ -](?P<T2>RT|rt)(?:[_ -](?P<tech2>xrd|raman|XRD|Raman))?$"
)


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
        m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(?:°\s*C|C|degC|deg C)?", s)
        if not m:
            raise MetadataError(f"{where}: cannot read a temperature from {value!r}")
        t = float(m.group(1))
    if not -273.15 <= t <= 3000:
        raise MetadataError(f"{where}: temperature {t:g} °C is implausible")
    return t, None


def metadata_from_filename(path: str | os.PathLike[str]) -> dict[str, Any]:
    """System, temperature (and dwell, technique) from a file name, if it follows a convention.

    Parameters
    ----------
    path : str or path-like
        The file; only its name without the suffix is used.

    Returns
    -------
    dict
        Possibly empty; keys ``system``, ``temperature_C``, ``temperature_label``,
        ``dwell``, ``technique``, ``replicate``, ``name_convention``.

    Examples
    --------
    >>> metadata_from_filename("pc-NMC631 + LLZTO-800.xy")["temperature_C"]
    800.0
    >>> metadata_from_filename("LCO_LLZO_RT.xy")["temperature_label"]
    'RT'
    """
    stem = Path(path).stem.strip()
    out: dict[str, Any] = {}
    m = _PLUS.match(stem)
    if m:
        out["name_convention"] = "<cathode> + <electrolyte>-<T>"
        system, t, tech, rep = m.group("system"), m.group("T"), m.group("tech"), m.group("rep")
        dwell = None
    else:
        m = _UNDERSCORE.match(stem)
        if not m:
            return {}
        out["name_convention"] = "<system>_<T>C"
        if m.group("system2"):
            system, t, tech, rep, dwell = m.group("system2"), m.group("T2"), m.group("tech2"), None, None
        else:
            system, t = m.group("system"), m.group("T")
            tech, rep, dwell = m.group("tech"), m.group("rep"), m.group("dwell")
    try:
        temp, label = parse_temperature(t, where=str(path))
    except MetadataError:
        return {}
    out["system"] = " ".join(system.split())
    out["temperature_C"] = temp
    if label:
        out["temperature_label"] = label
    if dwell:
        out["dwell"] = dwell.replace(" ", "")
    if tech:
        out["technique"] = _TECHNIQUES[tech.lower()]
    if rep:
        out["replicate"] = rep
    return out


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


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a CSV or YAML manifest.

    CSV: a header row with at least ``file``; other columns from
    :data:`MANIFEST_COLUMNS` (unknown columns are kept as extra metadata).
    YAML: a list of such mappings, or a mapping with a ``scans`` list.
    File paths are relative to the manifest's folder.

    Raises
    ------
    MetadataError
        With the manifest's name, the row and the problem.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MetadataError(f"{p}: no such manifest file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{p}: cannot read the manifest ({exc})") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        rows = _yaml_rows(text, p)
    elif p.suffix.lower() in (".csv", ".tsv", ".txt"):
        rows = _csv_rows(text, p)
    else:
        raise MetadataError(f"{p}: a manifest must be .csv or .yaml, not {p.suffix or 'no suffix'!r}")
    entries: dict[str, dict[str, Any]] = {}
    for label, row in rows:
        where = f"{p}, {label}"
        meta = _normalise_row(row, where)
        file_path = (p.parent / meta.pop("file")).resolve()
        key = str(file_path)
        if key in entries:
            raise MetadataError(f"{where}: file {file_path.name!r} is listed twice")
        entries[key] = meta
    if not entries:
        raise MetadataError(f"{p}: the manifest lists no files")
    return Manifest(entries, source=str(p))


def _csv_rows(text: str, p: Path) -> list[tuple[str, dict[str, Any]]]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames or "file" not in [f.strip() for f in reader.fieldnames]:
        raise MetadataError(f"{p}: the manifest needs a header row with a 'file' column")
    rows = []
    for n, row in enumerate(reader, start=2):
        clean = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        if not any(clean.values()):
            continue
        if None in row or "" in clean and clean[""]:
            raise MetadataError(f"{p}, line {n}: more fields than header columns")
        clean.pop("", None)
        rows.append((f"line {n}", clean))
    return rows


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
    return [(f"entry {n}", dict(r)) for n, r in enumerate(doc, start=1)]


def _normalise_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    meta = {str(k).strip(): v for k, v in row.items() if v not in (None, "")}
    if not meta.get("file"):
        raise MetadataError(f"{where}: no 'file' given")
    meta["file"] = str(meta["file"])
    t_key = next((k for k in ("temperature_C", "temperature", "T") if k in meta), None)
    if t_key is not None:
        temp, label = parse_temperature(meta.pop(t_key), where=where)
        meta["temperature_C"] = temp
        if label:
            meta["temperature_label"] = label
    if "technique" in meta:
        tech = str(meta["technique"]).strip().lower()
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
    for key in ("system", "atmosphere", "dwell", "sample"):
        if key in meta:
            meta[key] = str(meta[key]).strip()
    return meta
