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


@pytest.fixture(scope="session", autouse=True)
def _isolated_caches(tmp_path_factory):
    """Keep the reflection cache and the user phase libraries inside the test session's tmp folder."""
    names = ("PHASETRACE_CACHE", "PHASETRACE_USER_LIBRARY", "PHASETRACE_PROJECT_LIBRARY")
    saved = {k: os.environ.get(k) for k in names}
    os.environ["PHASETRACE_CACHE"] = str(tmp_path_factory.mktemp("reflection-cache"))
    os.environ["PHASETRACE_USER_LIBRARY"] = str(tmp_path_factory.mktemp("user-library"))
    # no project-local library of the developer's working directory leaks into the tests
    os.environ["PHASETRACE_PROJECT_LIBRARY"] = str(tmp_path_factory.mktemp("project-library"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def library():
    """The bundled phase library (reflections cached once per session)."""
    from phasetrace.library.phases import PhaseLibrary

    return PhaseLibrary.default()
