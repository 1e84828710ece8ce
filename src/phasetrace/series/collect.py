"""Find the scans of heating series (folder or manifest), grouped by system, ordered by temperature."""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PhasetraceError
from ..io import load_all, read_manifest
from ..io.metadata import Manifest

__all__ = ["SeriesEntry", "collect", "group_by_system"]

#: File names in a data folder that are never scans.
NOT_SCANS = {"manifest.csv", "manifest.yaml", "manifest.yml", "readme.md", "truth.json", "recipe.yaml"}
SKIP_SUFFIXES = {".md", ".json", ".yaml", ".yml", ".py", ".png", ".svg", ".pdf", ".sqlite", ".log"}


@dataclass(frozen=True)
class SeriesEntry:
    """One scan of a series: where it is, what technique, which system and temperature.

    Attributes
    ----------
    path : Path
    technique : {"xrd", "raman"}
    system : str
    temperature_C : float
    label : str
        "RT" for room temperature, else the temperature as written.
    meta : dict
        The manifest row (or file-name metadata), for loading with the same metadata.
    sha256 : str
        Hash of the file's bytes, as read when the series was collected.
    """

    path: Path
    technique: str
    system: str
    temperature_C: float
    label: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    sha256: str = field(default="", compare=False)


def _label(temp: float, meta: dict[str, Any]) -> str:
    if meta.get("temperature_label") == "RT":
        return "RT"
    return f"{temp:g}"


def collect(
    source: str | os.PathLike[str], *, system: str | None = None
) -> tuple[list[SeriesEntry], list[tuple[str, str]]]:
    """Entries of every scan under a folder, or listed in a manifest.

    A folder with a ``manifest.csv``/``manifest.yaml`` uses it; otherwise
    every readable file is taken, with system and temperature from the scan's
    metadata or its file name. ``system`` overrides the system of every scan.

    Returns
    -------
    (entries, problems)
        Problems are (file, one-line message) for files that cannot be used;
        the series goes on without them.
    """
    src = Path(source)
    problems: list[tuple[str, str]] = []
    manifest: Manifest | None = None
    if src.is_file():
        manifest = read_manifest(src)
        files = manifest.files
    elif src.is_dir():
        found = [src / n for n in ("manifest.csv", "manifest.yaml", "manifest.yml") if (src / n).is_file()]
        if found:
            manifest = read_manifest(found[0])
            files = manifest.files
        else:
            files = sorted(
                p
                for p in src.rglob("*")
                if p.is_file()
                and p.name.lower() not in NOT_SCANS
                and p.suffix.lower() not in SKIP_SUFFIXES
                and not p.name.startswith(".")
            )
    else:
        raise PhasetraceError(f"{src}: no such folder or manifest")
    entries: list[SeriesEntry] = []
    for f in files:
        meta = dict(manifest.lookup(f) or {}) if manifest else {}
        if system:
            meta["system"] = system
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scans = load_all(f, meta=meta or None)
        except PhasetraceError as exc:
            problems.append((str(f), str(exc)))
            continue
        if len(scans) != 1:
            problems.append((str(f), f"{f}: holds {len(scans)} scans; a series needs one scan per file"))
            continue
        s = scans[0]
        sysname = meta.get("system") or s.meta.system
        temp = meta.get("temperature_C", s.meta.temperature_C)
        if not sysname or temp is None:
            problems.append(
                (
                    str(f),
                    f"{f}: no system or temperature (give a manifest, or name the file like "
                    f"'pc-NMC631 + LLZTO-800')",
                )
            )
            continue
        label_meta = {**dict(s.meta.extra), **meta}
        entries.append(
            SeriesEntry(
                path=Path(f),
                technique=s.kind,
                system=str(sysname),
                temperature_C=float(temp),
                label=_label(float(temp), label_meta),
                meta=meta,
                sha256=s.meta.sha256,
            )
        )
    return entries, problems


def group_by_system(entries: list[SeriesEntry]) -> dict[str, list[SeriesEntry]]:
    """Entries per system (in first-seen order), each ordered by temperature then technique."""
    groups: dict[str, list[SeriesEntry]] = defaultdict(list)
    for e in entries:
        groups[e.system].append(e)
    return {k: sorted(v, key=lambda e: (e.temperature_C, e.technique)) for k, v in groups.items()}
