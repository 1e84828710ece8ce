"""Writers: every format phasetrace writes reads back through its own reader with the same data.

Each round trip goes through the public front doors, ``phasetrace.io.save`` and
``phasetrace.io.load``. Precision per format (what the tests assert):

========  ===================================  ============================  ==========================
format    2θ / Raman shift                     intensity                     radiation
========  ===================================  ============================  ==========================
.xy       exact                                exact                         exact (all fields)
.xrdml    start/end: within 1e-6 step;         exact                         exact (Kα1, Kα2, ratio,
          uneven axis as a list: exact                                       anode)
.ras      exact                                exact                         exact
.uxd      exact                                exact                         exact (ratio 0 → Kα1 only)
.raw      start + i·step: within 1e-6 step     float32                       exact
.fxye     exact where x = c/100 has a float64  exact (and esd)               table doublet by anode
          solution c, else within 1 ulp                                      name; else Kα1 only
.cif      exact                                exact                         exact
.spc      even: within 1e-6 step;              float32                       not held (Cu default)
          uneven: float32                                                    laser_nm exact
========  ===================================  ============================  ==========================
"""

from __future__ import annotations

import string
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phasetrace.errors import DefaultRadiationWarning
from phasetrace.io import WRITERS, SaveError, load, save
from phasetrace.scan import CU_KALPHA, Radiation, Scan, ScanMeta

#: 2θ as ``phasetrace simulate`` builds it: 10..80 step 0.01, rounded to 10 decimals.
X = np.round(np.arange(10.0, 80.0 + 0.005, 0.01), 10)
RNG = np.random.default_rng(20240501)
#: Expected counts of a pattern: background and two peaks (non-integer values).
EXPECTED = (
    150.0 + 4e3 * np.exp(-0.5 * ((X - 28.4) / 0.05) ** 2) + 2e3 * np.exp(-0.5 * ((X - 47.3) / 0.06) ** 2)
)
COUNTS = RNG.poisson(EXPECTED).astype(float)

CU = Radiation.from_anode("Cu")
SYNCHROTRON = Radiation(0.4133, None, 0.0, None)
CO_MONO = Radiation(1.788965, None, 0.0, "Co")

#: suffix -> (x: "exact" | "even", y: "exact" | "float32", radiation kept, sample kept, counting time kept)
XRD_FORMATS = {
    ".xy": ("exact", "exact", True, True, True),
    ".xrdml": ("even", "exact", True, True, True),
    ".ras": ("exact", "exact", True, True, True),
    ".uxd": ("exact", "exact", True, True, True),
    ".raw": ("even", "float32", True, True, True),
    ".fxye": ("exact", "exact", True, True, True),
    ".cif": ("exact", "exact", True, True, True),
    ".spc": ("even", "float32", False, False, True),
}
XRD_ONLY = [".xrdml", ".ras", ".uxd", ".raw", ".fxye", ".cif"]


def xrd_scan(y, radiation=CU, x=X, **meta) -> Scan:
    fields = {"sample": "LLZTO mix 3", "radiation": radiation, "counting_time": 0.5}
    fields.update(meta)
    return Scan(x=x, y=y, kind="xrd", meta=ScanMeta(**fields))


def round_trip(scan: Scan, folder: Path, suffix: str, **load_kwargs) -> Scan:
    path = save(scan, folder / f"pattern{suffix}")
    assert path == folder / f"pattern{suffix}"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "temporary file left behind"
    return load(path, **load_kwargs)


def assert_x(got: np.ndarray, want: np.ndarray, how: str) -> None:
    assert got.shape == want.shape
    if how == "exact":
        np.testing.assert_array_equal(got, want)
    elif how == "even":
        step = (want[-1] - want[0]) / (want.size - 1)
        assert np.max(np.abs(got - want)) <= 1e-6 * step
    else:  # float32
        np.testing.assert_array_equal(got, want.astype(np.float32).astype(np.float64))


def assert_y(got: np.ndarray, want: np.ndarray, how: str) -> None:
    if how == "exact":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_array_equal(got, want.astype(np.float32).astype(np.float64))


# --------------------------------------------------------------------------- registry


def test_every_format_has_its_writer():
    by_suffix = {s: w.name for w in WRITERS.values() for s in w.suffixes}
    assert by_suffix[".xrdml"] == "xrdml"
    assert by_suffix[".ras"] == "rigaku_ras"
    assert by_suffix[".uxd"] == "bruker_uxd"
    assert by_suffix[".raw"] == "bruker-raw"
    assert by_suffix[".fxye"] == by_suffix[".gsa"] == "gsas"
    assert by_suffix[".cif"] == "pdcif"
    assert by_suffix[".spc"] == "spc"
    assert by_suffix[".xy"] == "text"
    for name in ("xrdml", "rigaku_ras", "bruker_uxd", "bruker-raw", "gsas", "pdcif"):
        assert WRITERS[name].kinds == ("xrd",)
    assert set(WRITERS["spc"].kinds) == {"xrd", "raman"}


# --------------------------------------------------------------------------- XRD round trips


@pytest.mark.parametrize("suffix", list(XRD_FORMATS))
@pytest.mark.parametrize("data", ["counts", "expected"])
def test_xrd_round_trip(tmp_path, suffix, data):
    x_how, y_how, keeps_radiation, keeps_sample, keeps_time = XRD_FORMATS[suffix]
    y = COUNTS if data == "counts" else EXPECTED
    scan = xrd_scan(y, instrument="SimDiffractometer")
    if keeps_radiation:
        got = round_trip(scan, tmp_path, suffix)
        assert got.meta.radiation == CU
    else:
        with pytest.warns(DefaultRadiationWarning):
            got = round_trip(scan, tmp_path, suffix)
        assert got.meta.radiation.source == "default"
    assert got.kind == "xrd"
    assert got.meta.x_unit == "2theta_deg"
    assert len(got) == X.size == 7001
    assert_x(got.x, X, x_how)
    assert_y(got.y, y, y_how)
    assert got.meta.sample == ("LLZTO mix 3" if keeps_sample else "pattern")
    if keeps_time:
        assert got.meta.counting_time == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("suffix", [s for s, v in XRD_FORMATS.items() if v[2]])
@pytest.mark.parametrize("radiation", [SYNCHROTRON, CO_MONO, Radiation.from_anode("Mo")], ids=str)
def test_xrd_radiation_kinds(tmp_path, suffix, radiation):
    got = round_trip(xrd_scan(COUNTS, radiation), tmp_path, suffix)
    want = radiation
    if suffix == ".fxye" and radiation.anode and radiation.kalpha2 is None:
        want = Radiation(radiation.kalpha1)  # GSAS states a single wavelength, without the anode
    assert got.meta.radiation == want


def test_gsas_non_table_doublet_keeps_kalpha1_only(tmp_path):
    odd = Radiation(1.5406, 1.5444, 0.5, "Cu")
    got = round_trip(xrd_scan(COUNTS, odd), tmp_path, ".fxye")
    assert got.meta.radiation == Radiation(1.5406)


def test_gsas_writes_esd(tmp_path):
    got = round_trip(xrd_scan(COUNTS), tmp_path, ".fxye")
    np.testing.assert_array_equal(got.sigma, np.sqrt(np.maximum(COUNTS, 1.0)))
    sigma = np.full(X.size, 2.5)
    got = round_trip(Scan(X, EXPECTED, "xrd", xrd_scan(EXPECTED).meta, sigma=sigma), tmp_path, ".fxye")
    np.testing.assert_array_equal(got.sigma, sigma)
    text = (tmp_path / "pattern.fxye").read_text(encoding="latin-1").splitlines()
    assert text[0].startswith("phasetrace") and "Cu Ka" in text[0]
    assert any(ln.startswith("BANK 1 7001 7001 CONST 1000 ") and ln.endswith("FXYE") for ln in text)


def test_doublet_with_zero_ratio(tmp_path):
    rad = Radiation(1.540598, 1.544426, 0.0, "Cu")
    # a Kα2 line of no intensity is no Kα2 line: every format reads it back as the one Kα1 line
    # (one rule for all readers, io/_radiation.file_radiation; only UXD did so before)
    for suffix in (".xrdml", ".ras", ".raw", ".cif", ".uxd"):
        assert round_trip(xrd_scan(COUNTS, rad), tmp_path, suffix).meta.radiation == Radiation(
            1.540598, anode="Cu"
        ), suffix


@pytest.mark.parametrize("suffix", XRD_ONLY)
def test_assumed_default_radiation_is_not_written_as_stated(tmp_path, suffix):
    with pytest.warns(DefaultRadiationWarning):
        got = round_trip(xrd_scan(COUNTS, CU_KALPHA), tmp_path, suffix)
    assert got.meta.radiation == CU_KALPHA
    assert got.meta.radiation.source == "default"


def test_uneven_axis(tmp_path):
    x = 10.0 + np.cumsum(RNG.uniform(0.005, 0.02, 800))
    y = RNG.poisson(500, x.size).astype(float)
    for suffix in (".xrdml", ".ras", ".uxd", ".fxye", ".cif"):
        got = round_trip(xrd_scan(y, x=x), tmp_path, suffix)
        if suffix == ".fxye":
            # x/100 cannot reach every float64: within one unit in the last place
            np.testing.assert_allclose(got.x, x, rtol=2.0**-52, atol=0)
            assert np.mean(got.x == x) > 0.8
        else:
            np.testing.assert_array_equal(got.x, x)
        np.testing.assert_array_equal(got.y, y)
    assert "listPositions" in (tmp_path / "pattern.xrdml").read_text()
    got = round_trip(xrd_scan(y, x=x), tmp_path, ".spc", kind="xrd", radiation=CU)
    assert_x(got.x, x, "float32")
    with pytest.raises(SaveError, match=r"evenly stepped 2θ.*\.xrdml") as exc:
        save(xrd_scan(y, x=x), tmp_path / "uneven.raw")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "uneven.raw").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cif_counts_or_intensity_tag(tmp_path):
    assert (
        round_trip(xrd_scan(COUNTS), tmp_path, ".cif").meta.extra["intensity_tag"] == "_pd_meas_counts_total"
    )
    got = round_trip(xrd_scan(EXPECTED), tmp_path, ".cif")
    assert got.meta.extra["intensity_tag"] == "_pd_meas_intensity_total"


def test_awkward_sample_names(tmp_path):
    for sample in ('it\'s "quoted"', "a' b", "x' \"y\" z'", "Ni-rich <NMC> & co", "Zr 5%"):
        for suffix in (".xrdml", ".ras", ".uxd", ".cif"):
            got = round_trip(xrd_scan(COUNTS, sample=sample), tmp_path, suffix)
            assert got.meta.sample == sample, (suffix, sample)


def test_bruker_raw_layout(tmp_path):
    import struct

    save(xrd_scan(COUNTS), tmp_path / "p.raw")
    data = (tmp_path / "p.raw").read_bytes()
    assert data[:8] == b"RAW1.01\x00"
    assert len(data) == 712 + 304 + 4 * X.size
    assert struct.unpack_from("<II", data, 8) == (1, 1)
    assert struct.unpack_from("<dd", data, 624) == (CU.kalpha1, CU.kalpha2)
    assert struct.unpack_from("<d", data, 648) == (CU.ratio,)
    assert struct.unpack_from("<II", data, 712) == (304, X.size)
    assert struct.unpack_from("<d", data, 712 + 16) == (10.0,)


# --------------------------------------------------------------------------- Raman


def raman_scan(x, y, laser=532.0) -> Scan:
    return Scan(
        x, y, "raman", ScanMeta(sample="LLZTO", laser_nm=laser, counting_time=10.0, instrument="LabRAM")
    )


@pytest.mark.parametrize("suffix", [".spc", ".txt"])
def test_raman_round_trip(tmp_path, suffix):
    x = np.round(np.arange(100.0, 1200.0 + 0.5, 1.0), 10)
    y = RNG.poisson(800 + 300 * np.exp(-0.5 * ((x - 640) / 8) ** 2)).astype(float)
    for yy in (y, y + 0.37):
        got = round_trip(raman_scan(x, yy, laser=785.25), tmp_path, suffix)
        assert got.kind == "raman"
        assert got.meta.x_unit == "raman_shift_cm-1"
        assert got.meta.laser_nm == 785.25
        assert got.meta.counting_time == 10.0
        assert got.meta.instrument == "LabRAM"
        assert got.meta.radiation is None
        assert_x(got.x, x, "exact" if suffix == ".txt" else "even")
        assert_y(got.y, yy, "exact" if suffix == ".txt" else "float32")


def test_spc_raman_uneven_axis(tmp_path):
    x = np.sort(RNG.uniform(150.0, 3200.0, 600))
    y = RNG.poisson(400, x.size).astype(float)
    got = round_trip(raman_scan(x, y), tmp_path, ".spc")
    assert_x(got.x, x, "float32")
    np.testing.assert_array_equal(got.y, y)
    assert got.meta.laser_nm == 532.0
    head = (tmp_path / "pattern.spc").read_bytes()[:32]
    assert head[0] & 0x80 and head[1] == 0x4B and head[28] == 13


@pytest.mark.parametrize("suffix", XRD_ONLY)
def test_raman_scan_in_xrd_format_is_refused(tmp_path, suffix):
    scan = raman_scan(np.arange(100.0, 400.0), np.ones(300))
    with pytest.raises(SaveError) as exc:
        save(scan, tmp_path / f"spectrum{suffix}")
    message = str(exc.value)
    assert "\n" not in message
    assert f"spectrum{suffix}" in message and "xrd" in message and "raman" in message
    assert list(tmp_path.iterdir()) == []


def test_raman_as_xrdml_message(tmp_path):
    scan = raman_scan(np.arange(100.0, 400.0), np.ones(300))
    with pytest.raises(SaveError, match=r"^\S*spectrum\.xrdml: the xrdml format holds xrd scans, not raman$"):
        save(scan, tmp_path / "spectrum.xrdml")


# --------------------------------------------------------------------------- properties

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RADIATIONS = st.sampled_from(
    [CU, SYNCHROTRON, CO_MONO, Radiation.from_anode("Mo"), Radiation(1.5406, 1.5444, 0.42)]
)
SAMPLES = st.text(
    alphabet=string.ascii_letters + string.digits + " -_.,()'\"#;<>&", min_size=1, max_size=24
).filter(lambda s: s.split() != [])


@st.composite
def random_scans(draw, kind="xrd"):
    n = draw(st.integers(min_value=3, max_value=300))
    lo, hi = (1.0, 100.0) if kind == "xrd" else (50.0, 3000.0)
    start = draw(st.floats(min_value=lo, max_value=hi))
    if draw(st.booleans()):
        step = draw(st.floats(min_value=1e-3, max_value=0.1 if kind == "xrd" else 5.0))
        x = start + step * np.arange(n)
    else:
        steps = draw(st.lists(st.floats(min_value=0.01, max_value=0.2), min_size=n - 1, max_size=n - 1))
        x = start + np.concatenate([[0.0], np.cumsum(steps)])
    if draw(st.booleans()):
        y = np.array(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)), dtype=float)
    else:
        y = np.array(draw(st.lists(st.floats(-1e3, 1e7, allow_nan=False), min_size=n, max_size=n)))
    sample = draw(SAMPLES)
    if kind == "xrd":
        meta = ScanMeta(sample=sample, radiation=draw(RADIATIONS), counting_time=draw(st.floats(0.01, 100.0)))
    else:
        meta = ScanMeta(sample=sample, laser_nm=draw(st.sampled_from([488.0, 532.0, 632.8, 785.0, 1064.0])))
    return Scan(x, y, kind, meta)


def _load_quietly(path: Path) -> Scan:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DefaultRadiationWarning)
        return load(path)


@SETTINGS
@given(scan=random_scans())
def test_property_xrdml_round_trip(scan):
    with tempfile.TemporaryDirectory() as d:
        got = _load_quietly(save(scan, Path(d) / "p.xrdml"))
    steps = np.diff(scan.x)
    assert np.max(np.abs(got.x - scan.x)) <= 1e-6 * np.max(steps)
    np.testing.assert_array_equal(got.y, scan.y)
    assert got.meta.radiation == scan.meta.radiation
    assert got.meta.sample == " ".join(scan.meta.sample.split())
    assert got.meta.counting_time == scan.meta.counting_time


@SETTINGS
@given(scan=random_scans())
def test_property_cif_round_trip(scan):
    with tempfile.TemporaryDirectory() as d:
        got = _load_quietly(save(scan, Path(d) / "p.cif"))
    np.testing.assert_array_equal(got.x, scan.x)
    np.testing.assert_array_equal(got.y, scan.y)
    assert got.meta.radiation == scan.meta.radiation
    assert got.meta.sample == " ".join(scan.meta.sample.split())


@SETTINGS
@given(scan=random_scans(kind="raman"))
def test_property_spc_raman_round_trip(scan):
    with tempfile.TemporaryDirectory() as d:
        got = _load_quietly(save(scan, Path(d) / "p.spc"))
    assert got.kind == "raman"
    # an even axis comes back within 1e-6 of a step, an uneven one to float32 precision
    bound = np.maximum(1e-6 * np.max(np.diff(scan.x)), np.abs(scan.x) * 2.0**-24)
    assert np.all(np.abs(got.x - scan.x) <= bound)
    np.testing.assert_array_equal(got.y, scan.y.astype(np.float32).astype(np.float64))
    assert got.meta.laser_nm == scan.meta.laser_nm
