"""Zip archives of scan files (an in situ or heating series shipped as one .zip).

Every member that a registered reader can read becomes one scan, in natural
name order; members that are not scans (CIFs, instrument files) are listed in
the metadata as skipped, never silently dropped.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from ..errors import LoadError, PhasetraceError, escape_controls
from ._registry import RawScan, readers_for, register_reader, run_readers
from ._xml import open_zip, read_member
from .metadata import metadata_from_filename

__all__ = ["read_zip"]

#: More members than this is not a scan series but something else.
MAX_MEMBERS = 10_000


def _natural(name: str) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def read_zip(data: bytes, path: str) -> list[RawScan]:
    """Read every scan in a zip archive.

    Returns
    -------
    list of RawScan
        One per readable member (``meta["member"]`` names it). Members that
        could not be read are recorded in ``meta["skipped_members"]`` of the
        first scan.

    Raises
    ------
    LoadError
        If the archive is malformed or holds no readable scan.
    """
    zf = open_zip(data, path, "zip archive")
    infos = [
        i
        for i in zf.infolist()
        if not i.is_dir() and not i.filename.startswith("__MACOSX/")
        and not PurePosixPath(i.filename).name.startswith(".")
    ]
    if len(infos) > MAX_MEMBERS:
        raise LoadError(path, f"zip archive with {len(infos)} members; refused as implausible")
    out: list[RawScan] = []
    skipped: dict[str, str] = {}
    for info in sorted(infos, key=lambda i: _natural(i.filename)):
        # the name as shown (meta, messages): a member name can hold a newline or an ESC sequence
        name = escape_controls(info.filename)
        suffix = PurePosixPath(name).suffix.lower()
        if suffix == ".zip":
            skipped[name] = "nested archive"
            continue
        # one member in memory at a time; the archive's total budget is kept by read_member
        member = read_member(zf, info.filename, path, "zip archive")
        candidates = [r for r in readers_for(suffix, member[:4096]) if r.name != "zip"]
        if not candidates:
            skipped[name] = "not a scan format"
            continue
        try:
            raws, reader = run_readers(candidates, member, f"{path}:{name}")
        except PhasetraceError as exc:
            skipped[name] = str(exc).split(": ", 1)[-1]
            continue
        finally:
            del member
        for k, raw in enumerate(raws):
            meta = {k_: v for k_, v in raw.meta.items() if not k_.startswith("_")}  # lines of the member
            for key, value in metadata_from_filename(name).items():
                meta.setdefault(key, value)
            meta["member"] = name if len(raws) == 1 else f"{name} [scan {k}]"
            meta["member_format"] = reader.name
            meta.setdefault("sample", PurePosixPath(name).stem)
            out.append(RawScan(raw.x, raw.y, raw.sigma, raw.kind or reader.kind, meta))
    if not out:
        detail = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3])
        raise LoadError(path, f"zip archive holds no readable scan ({detail or 'empty'})")
    if skipped:
        out[0].meta["skipped_members"] = skipped
    return out


register_reader(
    "zip",
    suffixes=(".zip",),
    description="zip archive of scan files",
)(read_zip)
