"""Sample metadata from manifests and from file names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class Manifest(dict):
    """Placeholder replaced below."""


def metadata_from_filename(path: str | os.PathLike[str]) -> dict[str, Any]:
    """System and temperature from a file name (filled in later)."""
    return {}


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a manifest (filled in later)."""
    return Manifest()
