"""A command imports only what it uses: ``scipy.signal`` (~0.5 s to import) only where peaks are found."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = """
import sys
from phasetrace.cli import main
try:
    main({args!r}, standalone_mode=False)
except SystemExit:
    pass
print('scipy.signal' in sys.modules)
"""


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory, library):
    from phasetrace.io import save
    from phasetrace.simulate import simulate_xrd

    path = tmp_path_factory.mktemp("imports") / "mgo_lco.xy"
    save(simulate_xrd(library, {"MgO": 40.0, "LiCoO2": 60.0}, seed=2), path)
    return path


def _imports_signal(args: list[str], tmp_path) -> bool:
    env = dict(os.environ, PHASETRACE_USER_LIBRARY=str(tmp_path / "u"), PHASETRACE_PROJECT_LIBRARY=str(tmp_path / "p"))
    out = subprocess.run(
        [sys.executable, "-c", CODE.format(args=args)], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_a_fit_of_given_phases_does_not_import_scipy_signal(scan_file, tmp_path):
    assert not _imports_signal(["fit", str(scan_file), "--phases", "MgO,LiCoO2", "--json"], tmp_path)
    # ... while finding peaks does (the check sees the import where it happens)
    assert _imports_signal(["peaks", str(scan_file), "--json"], tmp_path)
