"""Property tests: text formats round-trip, and no byte string makes a reader raise a foreign error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phasetrace.errors import PhasetraceError
from phasetrace.io import load_all
from phasetrace.io.text import write_xy
from tests.conftest import REAL_DATA

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def scans(draw):
    n = draw(st.integers(min_value=3, max_value=200))
    start = draw(st.floats(min_value=0.5, max_value=100.0))
    steps = draw(
        st.lists(st.floats(min_value=1e-4, max_value=0.5), min_size=n - 1, max_size=n - 1)
    )
    x = start + np.concatenate([[0.0], np.cumsum(steps)])
    y = np.array(
        draw(st.lists(st.floats(min_value=-1e6, max_value=1e9, allow_nan=False), min_size=n, max_size=n))
    )
    sigma = None
    if draw(st.booleans()):
        sigma = np.abs(y) * 1e-3 + 1e-6
    return x, y, sigma


@SETTINGS
@given(data=scans())
def test_xy_round_trip(tmp_path, data):
    x, y, sigma = data
    path = tmp_path / ("rt.xye" if sigma is not None else "rt.xy")
    write_xy(str(path), x, y, sigma, header="written by the round-trip test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (scan,) = load_all(path, kind="xrd" if x[-1] <= 180 else "raman")
    np.testing.assert_array_equal(scan.x, x)
    np.testing.assert_array_equal(scan.y, y)
    if sigma is not None:
        np.testing.assert_array_equal(scan.sigma, sigma)


SUFFIXES = [".xy", ".xye", ".csv", ".txt", ".dat", ".raw", ".xrdml", ".ras", ".rasx", ".brml",
            ".uxd", ".gsa", ".fxye", ".cif", ".wdf", ".spc", ".xml", ".spe", ".zip", ".rod", ".asc",
            ".l6s", ".0", ".bin"]


def _must_not_raise_foreign(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_all(path)
        except PhasetraceError as exc:
            assert "\n" not in str(exc)
            assert str(path) in str(exc)


@SETTINGS
@given(blob=st.binary(min_size=0, max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_raise_only_phasetrace_errors(tmp_path, blob, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(blob)
    _must_not_raise_foreign(path)


def _real_samples():
    if not REAL_DATA.exists():
        return []
    out = []
    for sub in ("xrd/formats", "raman/formats"):
        for p in sorted((REAL_DATA / sub).rglob("*")):
            if p.is_file() and p.stat().st_size < 300_000:
                out.append(p)
    return out


REAL_SAMPLES = _real_samples()


@pytest.mark.skipif(not REAL_SAMPLES, reason=f"real data not available at {REAL_DATA}")
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0, max_value=10_000),
    cut=st.floats(min_value=0.0, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_mutated_real_files_raise_only_phasetrace_errors(tmp_path, which, cut, flips):
    src = REAL_SAMPLES[which % len(REAL_SAMPLES)]
    data = bytearray(src.read_bytes())
    for pos, val in flips:
        if data:
            data[int(pos * (len(data) - 1))] = val
    data = bytes(data[: max(1, int(len(data) * cut))]) if cut < 0.98 else bytes(data)
    path = tmp_path / src.name
    path.write_bytes(data)
    _must_not_raise_foreign(path)


@SETTINGS
@given(data=scans(), suffix=st.sampled_from([".xy", ".xye", ".csv", ".dat", ".txt"]),
       temp=st.one_of(st.none(), st.floats(20, 1200)), system=st.sampled_from([None, "pc-LCO + LLZTO", "NMC811_LLZTO"]))
def test_save_load_round_trip_keeps_metadata(tmp_path, data, suffix, temp, system):
    from phasetrace.io import save
    from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

    x, y, sigma = data
    kind = "xrd" if x[-1] <= 180 else "raman"
    meta = ScanMeta(sample="round trip", system=system, temperature_C=temp,
                    radiation=CU_KALPHA.with_source("file") if kind == "xrd" else None,
                    laser_nm=None if kind == "xrd" else 532.0)
    scan = Scan(x=x, y=y, sigma=sigma if suffix == ".xye" else None, kind=kind, meta=meta)
    path = save(scan, tmp_path / f"rt{suffix}")
    back = load_all(path, parse_filename=False)[0]
    assert back.kind == kind
    np.testing.assert_array_equal(back.x, x)
    np.testing.assert_array_equal(back.y, y)
    if suffix == ".xye":
        np.testing.assert_array_equal(back.sigma, sigma)
    assert back.meta.system == system
    assert back.meta.temperature_C == temp
    assert back.meta.radiation == scan.meta.radiation
    assert back.meta.laser_nm == scan.meta.laser_nm
