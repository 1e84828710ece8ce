"""Every real file under ../shared/data/real either loads or gives a one-line error naming file and problem."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.errors import PhasetraceError, UnsupportedFormatError
from phasetrace.io import load_all
from tests.conftest import REAL_DATA

#: Files that are not scans, or are variants phasetrace refuses on purpose, with the reason it must give.
EXPECTED_ERRORS = {
    "SOURCES.json": "unrecognised file type '.json'",
    "SOURCES.md": "unrecognised file type '.md'",
    "xrd/qpa/cpd-roundrobin/README.md": "unrecognised file type '.md'",
    "xrd/qpa/cpd-roundrobin/weighed.csv": "numeric row(s); not a scan",
    "raman/reference/rruff/LICENSE_rruff.txt": "no numeric data",
    "xrd/formats/gsas2-tutorials/FAP.EXP": "GSAS experiment (.EXP) file, not a scan",
    "xrd/measured/gsas2/B_SI3N4X.EXP": "GSAS experiment (.EXP) file, not a scan",
    "xrd/formats/gsas2-tutorials/INST_XRY.PRM": "GSAS instrument-parameter file, not a scan",
    "xrd/formats/xylib/1517474.cif": "neutron powder data",
    "xrd/formats/xylib/D1A5.dat": "ILL (D1A/D2B) neutron powder data is not supported",
    "xrd/formats/xylib/PSI_DMC.dat": "PSI (HRPT/DMC) neutron powder data",
    "xrd/formats/xrdpattern/single.csv": "duplicate x value 69.7031",
    "raman/formats/ramanchada2/Horiba/PST10_iR785_OP01_8000msx8.l6s": "LabSpec 6",
    "raman/formats/ramanchada2/experimental/test_opus.0": "OPUS",
    "raman/formats/spc/RUBY18.SPC": "does not state the laser wavelength",
    "raman/formats/witec/Si-wafer-Raman-Spectrum-1.txt": "does not state the laser wavelength",
}
#: Every structure-only CIF gives the same advice.
STRUCTURE_CIF = "crystal-structure CIF without powder data"


def _all_files():
    if not REAL_DATA.exists():
        return []
    return sorted(p for p in REAL_DATA.rglob("*") if p.is_file())


FILES = _all_files()


@pytest.mark.skipif(not FILES, reason=f"real data not available at {REAL_DATA}")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REAL_DATA)) for p in FILES] if FILES else None)
def test_every_real_file_loads_or_says_why(path):
    rel = str(path.relative_to(REAL_DATA))
    expected = EXPECTED_ERRORS.get(rel)
    if rel.startswith("cif/"):
        expected = STRUCTURE_CIF
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if expected is not None:
            with pytest.raises(PhasetraceError) as info:
                load_all(path)
            msg = str(info.value)
            assert msg.startswith(str(path)) and "\n" not in msg
            assert expected in msg
            return
        scans = load_all(path)
    assert scans
    for s in scans:
        assert len(s) >= 3 and np.all(np.isfinite(s.y)) and np.all(np.diff(s.x) > 0)
        assert s.kind in ("xrd", "raman")
        if s.kind == "xrd":
            assert 0 < s.x[0] and s.x[-1] <= 180 and s.meta.radiation is not None
        assert len(s.meta.sha256) == 64


@pytest.mark.skipif(not FILES, reason=f"real data not available at {REAL_DATA}")
def test_refusals_of_known_variants_are_unsupported_format_errors():
    for rel in ("xrd/formats/xylib/D1A5.dat", "raman/formats/ramanchada2/experimental/test_opus.0"):
        with pytest.raises(UnsupportedFormatError):
            load_all(REAL_DATA / rel)


@pytest.mark.skipif(not FILES, reason=f"real data not available at {REAL_DATA}")
def test_cli_info_on_every_real_file_never_shows_a_traceback():
    result = CliRunner().invoke(main, ["info", *map(str, FILES)])
    assert result.exit_code == 2  # some files are refused on purpose
    out = result.output  # stdout and stderr interleaved (click >= 8.2)
    assert "Traceback" not in out
    n_errors = sum(1 for ln in out.splitlines() if ln.startswith("phasetrace: error:"))
    n_expected = len(EXPECTED_ERRORS) + sum(1 for p in FILES if str(p.relative_to(REAL_DATA)).startswith("cif/"))
    assert n_errors == n_expected
    assert "radiation    Cu Kα1 1.540598 Å, Kα2 1.544426 Å, ratio 0.5 (NOT in the file" in out
