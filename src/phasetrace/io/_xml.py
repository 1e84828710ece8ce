"""Safe XML and zip helpers shared by the XML- and zip-based readers."""

from __future__ import annotations

import io
import re
import weakref
import xml.etree.ElementTree as ET
import zipfile
import zlib

from ..errors import LoadError

__all__ = ["MAX_UNZIPPED_BYTES", "local", "open_zip", "parse_xml", "read_member"]

#: Upper bound on what a zip-based scan file may decompress to, all members together (a zip bomb
#: guard, checked on the declared sizes before anything is read and again on the bytes actually
#: read). Members are read one at a time and parsed before the next is read, so memory stays the
#: parsed numbers plus one member: 64 MiB is ~10⁶ points of text per archive, ten times the
#: largest in situ series we have seen.
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024

# bytes read so far from each open archive (the total budget above)
_READ: weakref.WeakKeyDictionary[zipfile.ZipFile, int] = weakref.WeakKeyDictionary()

_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)

# The same declarations in the wide encodings an XML document may use (the parser decodes them
# itself, so a byte search for the ASCII form misses them). XML keywords are case-sensitive.
_WIDE_DTD = tuple(
    word.encode(enc)
    for word in ("<!DOCTYPE", "<!ENTITY")
    for enc in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


def _declares_dtd(data: bytes) -> bool:
    """True when the document holds a DTD or an entity declaration, in any XML encoding."""
    if _DTD.search(data):
        return True
    return b"\x00" in data[:512] and any(w in data for w in _WIDE_DTD)


def parse_xml(data: bytes, path: str, what: str = "XML") -> ET.Element:
    """Parse XML bytes and return the root element.

    Documents with a DTD or entity declarations are refused, so external
    entities are never resolved and entity expansion cannot blow up.

    Raises
    ------
    LoadError
        For refused or malformed documents.
    """
    if _declares_dtd(data):
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
    """Read one archive member within the archive's total budget, with one-line errors.

    Names in messages have their control characters escaped (``repr``): a member name can
    hold a newline.
    """
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise LoadError(path, f"{what} lacks its member {name!r}") from None
    left = MAX_UNZIPPED_BYTES - _READ.get(zf, 0)
    if info.file_size > left:
        raise LoadError(
            path, f"{what}: member {name!r} would take the archive beyond {MAX_UNZIPPED_BYTES >> 20} MiB"
        )
    try:
        with zf.open(info) as fh:
            out = fh.read(left + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise LoadError(path, f"{what} member {name!r} cannot be decompressed ({exc})") from None
    if len(out) > left:
        raise LoadError(
            path, f"{what}: member {name!r} would take the archive beyond {MAX_UNZIPPED_BYTES >> 20} MiB"
        )
    _READ[zf] = _READ.get(zf, 0) + len(out)
    return out
