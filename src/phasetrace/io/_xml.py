"""Safe XML and zip helpers shared by the XML- and zip-based readers."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib

from ..errors import LoadError

__all__ = ["MAX_UNZIPPED_BYTES", "local", "open_zip", "parse_xml", "read_member"]

#: Upper bound on what a zip-based scan file may decompress to (a zip bomb guard).
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024

_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def parse_xml(data: bytes, path: str, what: str = "XML") -> ET.Element:
    """Parse XML bytes and return the root element.

    Documents with a DTD or entity declarations are refused, so external
    entities are never resolved and entity expansion cannot blow up.

    Raises
    ------
    LoadError
        For refused or malformed documents.
    """
    if _DTD.search(data[:65536]) or _DTD.search(data):
        raise LoadError(path, f"{what} with a DTD or entity declarations is refused")
    try:
        return ET.fromstring(data)
    except (ET.ParseError, LookupError, UnicodeError) as exc:  # LookupError: unknown encoding
        raise LoadError(path, f"malformed {what} ({exc})") from None


def local(tag: str) -> str:
    """Tag name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def open_zip(data: bytes, path: str, what: str) -> zipfile.ZipFile:
    """Open zip bytes; refuse archives that would decompress beyond :data:`MAX_UNZIPPED_BYTES`."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        total = sum(i.file_size for i in zf.infolist())
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,  # an unsupported zip version or compression method
    ) as exc:
        raise LoadError(path, f"not a valid {what} (bad zip archive: {exc})") from None
    if total > MAX_UNZIPPED_BYTES:
        raise LoadError(
            path, f"{what} would decompress to {total / 2**20:.0f} MiB; refused as implausible"
        )
    return zf


def read_member(zf: zipfile.ZipFile, name: str, path: str, what: str) -> bytes:
    """Read one archive member with a size cap and one-line errors."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise LoadError(path, f"{what} lacks its member {name!r}") from None
    if info.file_size > MAX_UNZIPPED_BYTES:
        raise LoadError(path, f"{what} member {name!r} is implausibly large")
    try:
        with zf.open(info) as fh:
            out = fh.read(MAX_UNZIPPED_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise LoadError(path, f"{what} member {name!r} cannot be decompressed ({exc})") from None
    if len(out) > MAX_UNZIPPED_BYTES:
        raise LoadError(path, f"{what} member {name!r} is implausibly large")
    return out
