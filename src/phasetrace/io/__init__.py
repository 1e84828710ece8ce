"""Reading scan files: one front door, :func:`load`, over a registry of format readers.

Each format family lives in its own module and registers its readers with
:func:`register_reader`; importing this package registers them all.
"""

from __future__ import annotations

# Reader modules register themselves on import; the order sets no priority.
from . import (  # noqa: F401
    archive,
    bruker,
    bruker_raw,
    gsas,
    pdcif,
    raman_text,
    raman_vendor,
    rigaku,
    spc,
    stoe,
    text,
    unsupported,
    xrdml,
)
from ._load import MAX_FILE_BYTES, MIN_POINTS, load, load_all, loads, read_bytes
from ._registry import (
    READERS,
    WRITERS,
    RawScan,
    Reader,
    describe,
    register_reader,
    register_writer,
    supported_suffixes,
)
from ._save import SaveError, save
from .metadata import Manifest, metadata_from_filename, read_manifest

__all__ = [
    "MAX_FILE_BYTES",
    "MIN_POINTS",
    "READERS",
    "WRITERS",
    "SaveError",
    "Manifest",
    "RawScan",
    "Reader",
    "describe",
    "load",
    "load_all",
    "loads",
    "metadata_from_filename",
    "read_bytes",
    "read_manifest",
    "register_reader",
    "register_writer",
    "save",
    "supported_suffixes",
]
