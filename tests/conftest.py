"""Shared fixtures: where the third-party real data lives, and helpers to reach it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ``../shared/data/real`` beside the clone (CI has it there); override with PHASETRACE_REAL_DATA.
REAL_DATA = Path(
    os.environ.get(
        "PHASETRACE_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
    )
)


def real_file(relpath: str) -> Path:
    """Path of a file under the real-data folder, skipping the test with a reason if absent."""
    p = REAL_DATA / relpath
    if not p.exists():
        pytest.skip(f"real data file not available: {p} (expected ../shared/data/real beside the clone)")
    return p


@pytest.fixture
def real() -> type:
    """``real("xrd/formats/...")`` gives the path or skips."""
    return real_file
