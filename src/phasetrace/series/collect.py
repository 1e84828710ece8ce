"""Find the scans of heating series (folder, manifest or one file), grouped by system, ordered by temperature.

Where system and temperature come from, first found wins: a manifest row, the
scan file's own metadata, ``--system`` (for the system), the file name. A
system given by ``--system`` therefore applies to every file that does not
state one (a name like ``LCO_LLZTO_700C.xy`` only suggests one); files whose
manifest row or header states another system keep it, and the run says so.
Spellings of one system (``LCO_LLZTO``, ``LCO+LLZTO``, ``LCO + LLZTO``) form
one series. Several scans of one system, technique and temperature
(replicate pellets) are all kept; see :mod:`phasetrace.series.replicates`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PhasetraceError, UnsupportedFormatError
from ..io import load_all, read_manifest
from ..io.metadata import (
    Manifest,
    canonical_system,
    looks_like_manifest,
    metadata_from_filename,
    scan_like_files,
)

__all__ = ["Collection", "SeriesEntry", "collect", "group_by_system", "nothing_usable"]

#: Manifest file names looked for in a source folder.
MANIFEST_NAMES = ("manifest.csv", "manifest.yaml", "manifest.yml")
#: At most this many file names are listed in a one-line warning.
MAX_NAMES = 5


@dataclass(frozen=True)
class SeriesEntry:
    """One scan of a series: where it is, what technique, which system and temperature.

    Attributes
    ----------
    path : Path
    technique : {"xrd", "raman"}
        From the scan's content (its axis), not from its name.
    system : str
    temperature_C : float
    label : str
        "RT" for room temperature, else the temperature as written.
    meta : dict
        The manifest row (or file-name metadata), for loading with the same metadata.
    sha256 : str
        Hash of the file's bytes, as read when the series was collected.
    replicate : str
        For several scans of one system, technique and temperature: the replicate's
        name (from the manifest or the file name, else its number in file order);
        empty for a scan that is the only one.
    """

    path: Path
    technique: str
    system: str
    temperature_C: float
    label: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    sha256: str = field(default="", compare=False)
    replicate: str = field(default="", compare=False)


@dataclass
class Collection:
    """What :func:`collect` found; unpacks as ``entries, problems``.

    Attributes
    ----------
    entries : list of SeriesEntry
    problems : list of (str, str)
        (file, one-line message) for files that cannot be used.
    warnings : list of str
        One-line notes on what was found but not used as the user may have meant
        (files a manifest does not list, ``--system`` not applied).
    """

    entries: list[SeriesEntry]
    problems: list[tuple[str, str]]
    warnings: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Any]:
        yield self.entries
        yield self.problems


#: Suffixes of files that accompany a series' scans without being scans (the GSAS instrument parameters
#: of a sequential refinement, the structures of its phases): in a folder read whole, such a file that
#: is not a scan is left out with a note, not counted as a failed scan. Listed in a manifest, it is an
#: error.
COMPANION_SUFFIXES = (".prm", ".instprm", ".cif")


def _label(temp: float, meta: dict[str, Any]) -> str:
    if meta.get("temperature_label") == "RT":
        return "RT"
    return f"{temp:g}"


def _names(paths: list[Path]) -> str:
    shown = ", ".join(p.name for p in paths[:MAX_NAMES])
    return shown + (f" and {len(paths) - MAX_NAMES} more" if len(paths) > MAX_NAMES else "")


def _sources(src: Path) -> tuple[list[Path], Manifest | None, list[str]]:
    """The files to read, the manifest (if any) and warnings about files it leaves out."""
    manifest: Manifest | None = None
    if src.is_dir():
        found = [src / n for n in MANIFEST_NAMES if (src / n).is_file()]
        if not found:
            return scan_like_files(src), None, []
        manifest, folder = read_manifest(found[0]), src
    elif src.is_file():
        if not looks_like_manifest(src):
            return [src], None, []  # one scan: a series of one
        manifest, folder = read_manifest(src), src.parent
    elif src.exists():
        raise PhasetraceError(f"{src}: not a regular file or folder")
    else:
        raise PhasetraceError(f"{src}: no such folder or manifest")
    listed = {str(p) for p in manifest.files}
    unlisted = [
        p
        for p in scan_like_files(folder)
        if str(p.resolve()) not in listed and p.resolve() != Path(manifest.source).resolve()
    ]
    notes = []
    if unlisted:
        notes.append(
            f"{manifest.source}: {len(unlisted)} file(s) in {folder} not listed, not analysed: "
            f"{_names(unlisted)}"
        )
    return manifest.files, manifest, notes


def collect(source: str | os.PathLike[str], *, system: str | None = None) -> Collection:
    """Entries of every scan under a folder, listed in a manifest, or of one scan file.

    A folder with a ``manifest.csv``/``manifest.yaml`` uses it (and names the files
    in the folder it does not list); otherwise every readable file is taken, with
    system and temperature from the scan's metadata or its file name. A file that
    is not a manifest is a series of one scan.

    Parameters
    ----------
    source : path-like
        Folder, manifest (CSV/YAML) or scan file.
    system : str, optional
        System of every scan that does not state one (in a manifest or its own
        metadata); it replaces the system a file name suggests.

    Returns
    -------
    Collection
        ``entries, problems = collect(...)`` still works; problems are
        (file, one-line message) for files that cannot be used (the series
        goes on without them).
    """
    src = Path(source)
    files, manifest, notes = _sources(src)
    problems: list[tuple[str, str]] = []
    entries: list[SeriesEntry] = []
    not_applied: list[Path] = []
    companions: list[str] = []
    for f in files:
        meta = dict(manifest.lookup(f) or {}) if manifest else {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scans = load_all(f, meta=meta or None)
        except UnsupportedFormatError as exc:
            if manifest is None and Path(f).suffix.lower() in COMPANION_SUFFIXES:
                companions.append(f"{exc}: left out")  # beside the scans, not one of them
            else:
                problems.append((str(f), str(exc)))
            continue
        except PhasetraceError as exc:
            problems.append((str(f), str(exc)))
            continue
        if len(scans) != 1:
            problems.append((str(f), _several_scans(f, len(scans))))
            continue
        s = scans[0]
        sysname = s.meta.system
        guessed = not meta.get("system") and sysname in (None, metadata_from_filename(f).get("system"))
        if system and guessed:
            sysname = meta["system"] = system
        elif system and canonical_system(str(sysname)) != canonical_system(system):
            not_applied.append(Path(f))
        temp = s.meta.temperature_C
        if temp is None:
            problems.append(
                (
                    str(f),
                    f"{f}: no temperature in the file, its name or a manifest (name it like "
                    f"'LCO_LLZTO_700C' or 'pc-LCO + LLZTO-700', or give a manifest with file and T columns)",
                )
            )
            continue
        if not (math.isfinite(temp) and -273.15 <= temp <= 3000):
            problems.append((str(f), f"{f}: temperature {temp:g} °C is not a sintering temperature"))
            continue
        if not sysname:
            msg = (
                "no system to group it in (give --system NAME, which --elements does not replace, a manifest "
                "system column, or a name like 'LCO_LLZTO_700C')"
            )
            problems.append((str(f), f"{f}: {msg}"))
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
                replicate=str(label_meta.get("replicate") or ""),
            )
        )
    if not_applied:
        notes.append(
            f"--system {system!r} not applied to {len(not_applied)} file(s) that state their own system: "
            f"{_names(not_applied)}"
        )
    return Collection(_replicates(_one_name_per_system(entries)), problems, notes + companions)


def _one_name_per_system(entries: list[SeriesEntry]) -> list[SeriesEntry]:
    """Spellings of one system (``LCO_LLZTO``, ``LCO + LLZTO``) under one name: the most used one."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for e in entries:
        spellings[canonical_system(e.system)][e.system] += 1
    name = {k: c.most_common(1)[0][0] for k, c in spellings.items()}
    return [dataclasses.replace(e, system=name[canonical_system(e.system)]) for e in entries]


def _replicates(entries: list[SeriesEntry]) -> list[SeriesEntry]:
    """Name the replicates among scans of one system, technique and temperature (all are kept)."""
    same: dict[tuple[str, str, float], list[int]] = defaultdict(list)
    for i, e in enumerate(entries):
        same[(e.system, e.technique, e.temperature_C)].append(i)
    out = list(entries)
    for idx in same.values():
        if len(idx) < 2:
            out[idx[0]] = dataclasses.replace(out[idx[0]], replicate="")
            continue
        names = [entries[i].replicate for i in idx]
        if len(set(names)) < len(names) or not all(names):
            names = [str(n) for n in range(1, len(idx) + 1)]
        for i, n in zip(idx, names, strict=True):
            out[i] = dataclasses.replace(out[i], replicate=n)
    return out


def _several_scans(path: Path, n: int) -> str:
    """Why a file of several scans is not a series entry, and what to do instead.

    A series entry is a file (its hash keys the stored results, its name the reports' rows), so the
    scans of an archive or of a multi-range file cannot be told apart by it.
    """
    if Path(path).suffix.lower() == ".zip":
        return (
            f"{path}: a .zip of {n} scans; a series reads one scan per file: unpack it into a folder and "
            "give the folder ('phasetrace series FOLDER')"
        )
    return (
        f"{path}: holds {n} scans; a series reads one scan per file: save each as its own file, or read one "
        "with 'phasetrace fit/identify --index N'"
    )


def nothing_usable(source: str | os.PathLike[str], problems: list[tuple[str, str]]) -> str:
    """One line for a source none of whose files can be used: how many, and the first reason."""
    if not problems:
        return f"{source}: no scan files found"
    first = problems[0][1]
    if len(problems) == 1 and problems[0][0] == str(source):
        return first  # the source is that one file: its reason is the answer
    return f"{source}: none of its {len(problems)} file(s) can be used; first: {first}"


def group_by_system(entries: list[SeriesEntry]) -> dict[str, list[SeriesEntry]]:
    """Entries per system (in first-seen order), each ordered by temperature, technique and replicate."""
    groups: dict[str, list[SeriesEntry]] = defaultdict(list)
    for e in entries:
        groups[e.system].append(e)
    order = lambda e: (e.temperature_C, e.technique, e.replicate)  # noqa: E731
    return {k: sorted(v, key=order) for k, v in groups.items()}
