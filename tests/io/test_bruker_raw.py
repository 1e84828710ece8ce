"""Bruker / Siemens binary RAW (v1, RAW2, RAW1.01, RAW4.00).

Expected values were read from the files independently of the reader: with
``struct`` at the documented offsets in a scratch shell, and for BT86.raw from
its UXD text export BT86_.UXD (same measurement).
"""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

from phasetrace.errors import DefaultRadiationWarning, LoadError, UnsupportedFormatError
from phasetrace.io import load, load_all
from phasetrace.io.bruker_raw import read_bruker_raw, sniff_bruker_raw
from tests.conftest import real_file

pytestmark = pytest.mark.realdata

BT86 = "xrd/formats/xylib/BT86.raw"
BT86_UXD = "xrd/formats/xylib/BT86_.UXD"
CU3AU = "xrd/formats/xylib/Cu3Au-1.raw"
FORMAT1 = "xrd/formats/xylib/format1.raw"
LAB6 = "xrd/formats/gsas2-tutorials/LaB6_Jan2018.raw"
KAOLINITE = "xrd/formats/gsas2-tutorials/Keokuk_kaolinite.RAW"
RAW4 = "xrd/formats/xrdpattern/bruker.raw"
STOE = "xrd/formats/xrdpattern/stoe.raw"


def _load_quiet(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultRadiationWarning)  # every RAW here states its wavelength
        return load(path, **kw)


def _uxd_points(path):
    """(2θ, counts) of the _2THETACOUNTS block of a UXD export."""
    xs, ys = [], []
    started = False
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("_2THETACOUNTS"):
            started = True
            continue
        if started and line.strip():
            a, b = line.split()
            xs.append(float(a))
            ys.append(float(b))
    return np.array(xs), np.array(ys)


# --------------------------------------------------------------------------- version 3 (RAW1.01)


def test_bt86_matches_its_uxd_export():
    scan = _load_quiet(real_file(BT86))
    ux, uy = _uxd_points(real_file(BT86_UXD))
    assert scan.x.size == uy.size == 2374
    np.testing.assert_array_equal(scan.y, uy)
    # the UXD prints 2θ rounded to 2-3 decimals
    np.testing.assert_allclose(scan.x, ux, atol=0.006)
    assert scan.x[0] == pytest.approx(3.0, rel=1e-9)
    assert scan.x[-1] == pytest.approx(3.0 + 2373 * 0.0155922, rel=1e-9)
    m = scan.meta
    # UXD header: _WL1=1.540600 _WL2=1.544390 _WLRATIO=0.5 _ANODE='Cu' _STEPTIME=0.5 _SAMPLE='BT86'
    assert m.radiation.kalpha1 == pytest.approx(1.5406)
    assert m.radiation.kalpha2 == pytest.approx(1.54439)
    assert m.radiation.ratio == pytest.approx(0.5)
    assert m.radiation.anode == "Cu" and m.radiation.source == "file"
    assert m.sample == "BT86"
    assert m.counting_time == pytest.approx(0.5)
    assert m.format == "bruker-raw"
    # _GONIOMETER_RADIUS=200.5 _KV=45 _MA=40 _2THETA=3.0 _THETA=1.5 _VARDIVERGENCE='V6'
    assert m.extra["goniometer_radius_mm"] == pytest.approx(200.5)
    assert m.extra["tube_voltage_kV"] == 45 and m.extra["tube_current_mA"] == 40
    assert m.extra["start_theta"] == pytest.approx(1.5)
    assert m.extra["variable_divergence_slit"] == "V6"
    # ... in the keys the intensity correction reads (a 6 mm constant irradiated length)
    assert m.extra["divergence_slit_mode"] == "automatic" and m.extra["irradiated_length_mm"] == 6.0
    assert m.extra["kbeta"] == pytest.approx(1.39222)
    assert m.extra["format_version"].startswith("3")


def test_cu3au_single_range():
    scan = _load_quiet(real_file(CU3AU))
    assert scan.x.size == 3901
    assert scan.x[0] == pytest.approx(22.0) and scan.x[-1] == pytest.approx(100.0)
    assert scan.y[0] == 48.0 and scan.y[1] == 24.0 and scan.y[100] == 27.0 and scan.y[-1] == 11.0
    assert scan.meta.sample == "Cu3Au-1"
    assert scan.meta.extra["sample_rotation_rpm"] == pytest.approx(30.0)


def test_format1_three_ranges_in_file_order():
    scans = load_all(real_file(FORMAT1))
    assert [s.x.size for s in scans] == [101, 26, 51]
    assert [s.meta.index for s in scans] == [0, 1, 2]
    assert [s.meta.extra["range"] for s in scans] == [1, 2, 3]
    starts_ends = [(s.x[0], s.x[-1]) for s in scans]
    np.testing.assert_allclose(starts_ends, [(10.0, 20.0), (30.0, 35.0), (40.0, 45.0)], atol=1e-9)
    assert [s.meta.step for s in scans] == pytest.approx([0.1, 0.2, 0.1])
    assert [s.y[0] for s in scans] == [10.0, 6.0, 4.0]
    assert [s.y[-1] for s in scans] == [9.0, 5.0, 7.0]
    assert [s.meta.counting_time for s in scans] == pytest.approx([0.1, 0.2, 0.1])
    with pytest.raises(LoadError, match="holds 3 scans"):
        load(real_file(FORMAT1))


def test_lab6_with_supplementary_header():
    # 40 bytes of supplementary header (size at range offset 256) before the data
    scan = _load_quiet(real_file(LAB6))
    assert scan.x.size == 3040
    assert scan.x[0] == pytest.approx(10.0)
    assert scan.x[-1] == pytest.approx(10.0 + 3039 * 0.0197448, rel=1e-7)
    assert scan.y[0] == 7393.0 and scan.y[100] == 6696.0 and scan.y[-1] == 1110.0
    assert scan.meta.counting_time == pytest.approx(95.0)
    assert scan.meta.extra["goniometer_radius_mm"] == pytest.approx(250.0)
    assert scan.meta.extra["operator"] == "Administrator"


def test_kaolinite_two_ranges_and_upper_case_anode():
    scans = load_all(real_file(KAOLINITE))
    assert [s.x.size for s in scans] == [4001, 3501]
    assert scans[0].x[0] == pytest.approx(10.0) and scans[0].x[-1] == pytest.approx(90.0)
    assert scans[1].x[0] == pytest.approx(80.0) and scans[1].x[-1] == pytest.approx(150.0)
    assert scans[0].y[100] == 52.0 and scans[1].y[0] == 259.0 and scans[1].y[-1] == 197.0
    assert scans[0].meta.sample == "Kaolinite, Keokuk, Bish#1, -325, SBPM, 2B"
    assert scans[0].meta.radiation.anode == "Cu"  # the file says "CU"
    assert scans[0].meta.extra["anode"] == "CU"
    assert [s.meta.counting_time for s in scans] == pytest.approx([4.0, 12.0])


# --------------------------------------------------------------------------- version 4 (RAW4.00)


def test_raw4_diffrac_suite():
    scan = _load_quiet(real_file(RAW4))
    assert scan.x.size == 4059
    assert scan.x[0] == pytest.approx(37.0001)
    assert scan.x[-1] == pytest.approx(37.0001 + 4058 * 0.02045454498, rel=1e-9)
    assert scan.y[0] == 7264.0 and scan.y[100] == 7653.0 and scan.y[-1] == 7043.0
    m = scan.meta
    assert m.sample == "Cu-12%Ag_500C1700h_P5n5rpm1_RT"
    assert m.extra["operator"] == "Yanyan"
    assert m.extra["scan_type"] == "Locked Coupled"
    assert m.extra["start_2theta"] == pytest.approx(37.0001)
    assert m.extra["start_theta"] == pytest.approx(18.50005)
    assert m.radiation.kalpha1 == pytest.approx(1.5406)
    assert m.radiation.kalpha2 == pytest.approx(1.54439)
    assert m.radiation.ratio == pytest.approx(0.5)
    assert m.radiation.anode == "Cu"
    assert m.counting_time == pytest.approx(288.0)
    assert m.extra["tube_voltage_kV"] == pytest.approx(40.0)
    assert m.extra["format_version"].startswith("4")


def _raw4_with_scan_type(data: bytes, name: bytes) -> bytes:
    b = bytearray(data)
    at = b.index(b"Locked Coupled")
    b[at : at + 24] = name.ljust(24, b"\x00")
    return bytes(b)


def test_raw4_non_2theta_range_is_unsupported(tmp_path):
    data = _raw4_with_scan_type(real_file(RAW4).read_bytes(), b"Rocking Curve")
    p = tmp_path / "rocking.raw"
    p.write_bytes(data)
    with pytest.raises(UnsupportedFormatError, match="Rocking Curve"):
        load(p)


# --------------------------------------------------------------------------- versions 1 and 2 (synthetic)


def _v1_range(steps, step_time, step, start, sample, a1, a2, follows, ys):
    head = struct.pack("<IffII", steps, step_time, step, 0, 0)
    head += struct.pack("<ffff", start, start / 2, -1.0e6, -1.0e6)
    head += sample.ljust(32, b"\x00")
    head += struct.pack("<ff", a1, a2) + b"\x00" * 72 + struct.pack("<I", follows)
    assert len(head) == 152
    return head + struct.pack(f"<{len(ys)}f", *ys)


def test_version1_two_ranges_with_repeated_magic(tmp_path):
    r1 = _v1_range(6, 1.0, 0.05, 20.0, b"quartz", 1.5406, 1.54439, 1, [1, 2, 3, 4, 5, 6])
    r2 = _v1_range(5, 2.0, 0.1, 40.0, b"quartz", 1.5406, 1.54439, 0, [7, 8, 9, 10, 11])
    p = tmp_path / "v1.raw"
    p.write_bytes(b"RAW " + r1 + b"RAW " + r2)
    assert sniff_bruker_raw(p.read_bytes()[:4096])
    scans = load_all(p)
    assert [s.x.size for s in scans] == [6, 5]
    np.testing.assert_allclose(scans[0].x, 20.0 + 0.05 * np.arange(6), rtol=1e-6)
    np.testing.assert_array_equal(scans[1].y, [7, 8, 9, 10, 11])
    assert scans[0].meta.sample == "quartz"
    assert scans[1].meta.counting_time == pytest.approx(2.0)
    rad = scans[0].meta.radiation
    assert rad.kalpha1 == pytest.approx(1.5406) and rad.kalpha2 == pytest.approx(1.54439)
    # version 1 states no Kα2/Kα1 ratio: the Bruker default is used and said so
    assert rad.ratio == 0.5 and "not stated" in scans[0].meta.extra["kalpha2_ratio_source"]
    # and without the repeated magic too
    p2 = tmp_path / "v1b.raw"
    p2.write_bytes(b"RAW " + r1 + r2)
    assert [s.x.size for s in load_all(p2)] == [6, 5]


def _raw2(ranges):
    head = bytearray(256)
    head[0:4] = b"RAW2"
    struct.pack_into("<H", head, 4, len(ranges))
    head[168:188] = b"01/02/03 10:00:00".ljust(20, b"\x00")
    head[188:190] = b"Co"
    struct.pack_into("<fff", head, 190, 1.78897, 1.79285, 0.5)
    body = b""
    for steps, step_time, step, start, ys in ranges:
        rh = bytearray(56)  # longer than the 48-byte fixed part: the stated length is honoured
        struct.pack_into("<HH", rh, 0, len(rh), steps)
        struct.pack_into("<fff", rh, 8, step_time, step, start)
        struct.pack_into("<H", rh, 46, 298)
        body += bytes(rh) + struct.pack(f"<{len(ys)}f", *ys)
    return bytes(head) + body


def test_version2_synthetic(tmp_path):
    p = tmp_path / "v2.raw"
    p.write_bytes(_raw2([(5, 1.0, 0.02, 10.0, [5, 6, 7, 8, 9]), (6, 3.0, 0.04, 30.0, [1, 1, 2, 3, 5, 8])]))
    scans = load_all(p)
    assert [s.x.size for s in scans] == [5, 6]
    np.testing.assert_allclose(scans[1].x, 30.0 + 0.04 * np.arange(6), rtol=1e-6)
    np.testing.assert_array_equal(scans[1].y, [1, 1, 2, 3, 5, 8])
    rad = scans[0].meta.radiation
    assert rad.anode == "Co" and rad.kalpha1 == pytest.approx(1.78897) and rad.ratio == pytest.approx(0.5)
    assert scans[0].meta.extra["temperature_K"] == 298
    assert scans[1].meta.counting_time == pytest.approx(3.0)


# --------------------------------------------------------------------------- sniffing and bad input


def test_sniffer_claims_bruker_magics_only():
    assert sniff_bruker_raw(real_file(BT86).read_bytes()[:4096])
    assert sniff_bruker_raw(real_file(RAW4).read_bytes()[:4096])
    assert not sniff_bruker_raw(real_file(STOE).read_bytes()[:4096])  # "RAW_1.06Powdat"
    assert not sniff_bruker_raw(b"RAW DATA exported by some program\n10.0 123\n10.02 130\n" * 10)
    assert not sniff_bruker_raw(b"")


@pytest.mark.parametrize("name", [BT86, FORMAT1, LAB6, RAW4])
def test_truncated_files_raise_loaderror(name, tmp_path):
    data = real_file(name).read_bytes()
    for cut in (8, 61, 400, 712, 800, 1016, len(data) // 2, len(data) - 3):
        if cut >= len(data):
            continue
        with pytest.raises(LoadError):
            read_bruker_raw(data[:cut], "cut.raw")
        p = tmp_path / f"cut{cut}.raw"
        p.write_bytes(data[:cut])
        with pytest.raises(LoadError):
            load(p)


def test_corrupt_headers_raise_loaderror():
    data = bytearray(real_file(BT86).read_bytes())
    bad_count = bytearray(data)
    struct.pack_into("<I", bad_count, 12, 0xFFFFFFFF)  # number of ranges
    with pytest.raises(LoadError, match="ranges"):
        read_bruker_raw(bytes(bad_count), "x.raw")
    bad_steps = bytearray(data)
    struct.pack_into("<I", bad_steps, 712 + 4, 0x7FFFFFFF)  # steps of range 1
    with pytest.raises(LoadError):
        read_bruker_raw(bytes(bad_steps), "x.raw")
    bad_len = bytearray(data)
    struct.pack_into("<I", bad_len, 712, 12)  # range header length
    with pytest.raises(LoadError, match="bytes long"):
        read_bruker_raw(bytes(bad_len), "x.raw")
    raw4 = bytearray(real_file(RAW4).read_bytes())
    struct.pack_into("<I", raw4, 61 + 4, 0)  # first record length
    with pytest.raises(LoadError, match="record"):
        read_bruker_raw(bytes(raw4), "x.raw")


def test_random_corruption_never_escapes_as_another_error():
    rng = np.random.default_rng(7)
    for name in (BT86, FORMAT1, RAW4):
        data = real_file(name).read_bytes()
        for _ in range(60):
            b = bytearray(data)
            for i in rng.integers(0, min(len(b), 1200), size=6):
                b[i] = int(rng.integers(0, 256))
            try:
                read_bruker_raw(bytes(b), "fuzz.raw")
            except LoadError:
                pass


def test_other_raw_files_get_a_clear_error(tmp_path):
    p = tmp_path / "other.raw"
    p.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(LoadError, match="not a Bruker or STOE .raw file") as e:
        load(p)
    assert "other.raw" in str(e.value)


def test_bt86_renamed_is_found_by_content(tmp_path):
    p = tmp_path / "bt86.dat"
    p.write_bytes(real_file(BT86).read_bytes())
    assert load(p).meta.format == "bruker-raw"
