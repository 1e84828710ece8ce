"""Rigaku readers: .ras (SmartLab, Shift-JIS), .rasx (SmartLab Studio II zip) and .asc.

Expected numbers were read from the files with sed/unzip (rows 1, 101 and the
last of the data blocks; header keys), not from the readers.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from phasetrace.errors import LoadError, UnsupportedFormatError
from phasetrace.io import load, load_all
from phasetrace.io._registry import readers_for
from phasetrace.io.rigaku import sniff_asc, sniff_ras
from tests.conftest import real_file

pytestmark = pytest.mark.realdata

RAS = "xrd/formats/rigakuXRD/MB120718Si3.ras"
ASC = "xrd/formats/rigakuXRD/2Theta.asc"
RASX_DARA = "xrd/formats/dara/RM20220915Si01.rasx"
RASX_GSAS = "xrd/formats/gsas2/Sample_Repeated_Measurement.rasx"


def _write(tmp_path: Path, data: bytes, name: str) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# --------------------------------------------------------------------------- RAS


def test_ras_real_file():
    s = load(real_file(RAS))
    assert s.meta.format == "rigaku_ras"
    assert s.x.size == 1401
    assert s.x[0] == pytest.approx(2.0) and s.x[-1] == pytest.approx(30.0)
    assert s.x[100] == pytest.approx(4.0)
    assert s.y[0] == 7994 and s.y[100] == 6010 and s.y[-1] == 1150
    rad = s.meta.radiation
    assert rad.kalpha1 == pytest.approx(1.540593) and rad.kalpha2 == pytest.approx(1.544414)
    assert rad.anode == "Cu" and rad.source == "file"
    # the file states Kα ("Ka") and both lines but no ratio: 0.5 assumed and said so
    assert rad.ratio == 0.5
    assert "assumed" in s.meta.extra["kalpha2_ratio_source"]
    assert s.meta.sample == "MB120718Si3"
    assert s.meta.instrument == "SmartLab"
    # continuous scan at 0.25 deg/min, 0.02 deg steps: 4.8 s per step
    assert s.meta.counting_time == pytest.approx(4.8)
    ex = s.meta.extra
    assert ex["operator"] == "Administrator"
    assert ex["date"] == "11/01/12 12:55:51"
    assert ex["scan_axis"] == "TwoTheta"
    assert ex["scan_mode"] == "CONTINUOUS"
    assert ex["y_unit"] == "counts"
    assert ex["points_declared"] == 1401
    assert ex["memo"].startswith("[H2Pc/FePc]x4/Si")
    # "検出器|Detector" style values are reduced to English
    assert ex["detector"] == "SC-70"
    assert "attenuation_applied" not in ex  # the factor column is all 1


def test_ras_sniffer():
    assert sniff_ras(real_file(RAS).read_bytes()[:4096])
    assert sniff_ras(b"\xef\xbb\xbf*RAS_DATA_START\r\n")
    assert not sniff_ras(b"*TYPE = Raw\n*CLASS = x\n")
    assert not sniff_ras(b"")


def test_ras_unknown_suffix_is_found_by_content(tmp_path):
    s = load(_write(tmp_path, real_file(RAS).read_bytes(), "scan.unknownsuffix"))
    assert s.meta.format == "rigaku_ras" and s.x.size == 1401


def _ras_block(data: bytes) -> bytes:
    start = data.index(b"*RAS_HEADER_START")
    end = data.index(b"*RAS_INT_END") + len(b"*RAS_INT_END\r\n")
    return data[start:end]


def test_ras_two_scans(tmp_path):
    data = real_file(RAS).read_bytes()
    block = _ras_block(data)
    second = block.replace(b"2.0000 7994.0000 1.0000", b"2.0000 1.0000 1.0000")
    p = _write(tmp_path, data.replace(block, block + second), "two.ras")
    scans = load_all(p)
    assert len(scans) == 2
    assert scans[0].y[0] == 7994 and scans[1].y[0] == 1
    assert scans[1].meta.index == 1 and scans[1].x.size == 1401


def test_ras_concatenated_files(tmp_path):
    data = real_file(RAS).read_bytes()
    scans = load_all(_write(tmp_path, data + data, "cat.ras"))
    assert len(scans) == 2
    assert all(s.x.size == 1401 and s.y[100] == 6010 for s in scans)


def test_ras_attenuator_factor_is_applied(tmp_path):
    data = real_file(RAS).read_bytes().replace(b"2.0200 7788.0000 1.0000", b"2.0200 77.8800 100.0000")
    s = load(_write(tmp_path, data, "att.ras"))
    assert s.y[1] == pytest.approx(7788.0)
    assert s.meta.extra["attenuation_applied"] is True
    assert s.meta.extra["max_attenuation_factor"] == 100.0


def test_ras_kalpha1_only_and_anode_fallback(tmp_path):
    data = real_file(RAS).read_bytes()
    mono = data.replace(b'*MEAS_COND_XG_WAVE_TYPE "Ka"', b'*MEAS_COND_XG_WAVE_TYPE "Ka1"')
    s = load(_write(tmp_path, mono, "mono.ras"))
    assert s.meta.radiation.kalpha2 is None and s.meta.radiation.ratio == 0.0
    no_wl = data.replace(b"*HW_XG_WAVE_LENGTH_ALPHA1", b"*HW_XG_WAVE_LENGTH_XALPHA1")
    s = load(_write(tmp_path, no_wl, "nowl.ras"))
    assert s.meta.radiation.kalpha1 == pytest.approx(1.540598)  # the anode table
    assert s.meta.extra["wavelength_source"] == "anode table"


def test_ras_omega_scan_is_unsupported(tmp_path):
    data = real_file(RAS).read_bytes().replace(
        b'*MEAS_SCAN_AXIS_X_INTERNAL "TwoTheta"', b'*MEAS_SCAN_AXIS_X_INTERNAL "Omega"'
    )
    with pytest.raises(UnsupportedFormatError, match=r"rock\.ras.*'Omega'"):
        load(_write(tmp_path, data, "rock.ras"))


@pytest.mark.parametrize("frac", [0.01, 0.2, 0.5, 0.8, 0.999])
def test_ras_truncated_is_a_load_error(tmp_path, frac):
    data = real_file(RAS).read_bytes()
    with pytest.raises(LoadError, match="truncated|unexpected|RAS") as info:
        load(_write(tmp_path, data[: int(len(data) * frac)], "cut.ras"))
    assert not isinstance(info.value, UnsupportedFormatError)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"2.0400 7984.0000 1.0000", b"2.0400 79x84.0000 1.0000", "not numeric"),
        (b"2.0400 7984.0000 1.0000", b"2.0400 7984.0000", "2 values"),
        (b"*RAS_HEADER_START", b"*RAS_HEADER_BEGIN", "unexpected"),
        (b"*RAS_DATA_START", b"*RAS_DATA_BEGIN", "not a Rigaku RAS"),
        (b'ALPHA1 "1.540593"', b'ALPHA1 "15.40593"', "implausible"),
    ],
)
def test_ras_corrupted_is_a_load_error(tmp_path, old, new, message):
    data = real_file(RAS).read_bytes()
    assert old in data
    with pytest.raises(LoadError, match=message):
        load(_write(tmp_path, data.replace(old, new, 1), "bad.ras"))


# --------------------------------------------------------------------------- RASX


def test_rasx_dara_real_file():
    s = load(real_file(RASX_DARA))
    assert s.meta.format == "rigaku_rasx"
    # dara's own tests assert 8.5-30 deg and 2151 points
    assert s.x.size == 2151
    assert s.x[0] == pytest.approx(8.5) and s.x[-1] == pytest.approx(30.0)
    assert s.x[100] == pytest.approx(9.5)
    assert s.y[0] == 591 and s.y[100] == 565 and s.y[-1] == 524
    rad = s.meta.radiation
    assert rad.kalpha1 == pytest.approx(1.540593) and rad.kalpha2 == pytest.approx(1.544414)
    assert rad.anode == "Cu"
    assert s.meta.sample == "RM20220915Si01"
    assert s.meta.instrument == "SmartLab"
    assert s.meta.counting_time == pytest.approx(0.6)  # 0.01 deg at 1 deg/min
    ex = s.meta.extra
    assert ex["scan_axis"] == "TwoThetaTheta"
    assert ex["date"] == "2022-11-10T17:20:52Z"
    assert ex["points_declared"] == 2151
    assert ex["tube_voltage_kV"] == 40.0 and ex["tube_current_mA"] == 44.0


def test_rasx_gsas_repeated_measurement_holds_one_profile():
    scans = load_all(real_file(RASX_GSAS))
    # the archive holds a single Data0/Profile0.txt (121 rows), not several
    assert len(scans) == 1
    s = scans[0]
    assert s.x.size == 121
    assert s.x[0] == pytest.approx(127.4) and s.x[-1] == pytest.approx(128.0)
    assert s.y[0] == 704 and s.y[100] == 864 and s.y[-1] == 771
    assert s.meta.sample == "NIST1976c"
    assert s.meta.instrument == "XDATM"
    assert s.meta.counting_time == pytest.approx(0.15)  # 0.005 deg at 2 deg/min
    assert s.meta.radiation.kalpha1 == pytest.approx(1.540593)


def _rasx_members() -> dict[str, bytes]:
    with zipfile.ZipFile(real_file(RASX_DARA)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_rasx_several_profiles(tmp_path):
    m = _rasx_members()
    m["Data1/Profile0.txt"] = m["Data0/Profile0.txt"].replace(b"8.5000\t591\t1", b"8.5000\t5\t1")
    m["Data1/MesurementConditions0.xml"] = m["Data0/MesurementConditions0.xml"]
    m["Data0/Profile1.txt"] = m["Data0/Profile0.txt"].replace(b"8.5000\t591\t1", b"8.5000\t7\t1")
    scans = load_all(_write(tmp_path, _zip(m), "rep.rasx"))
    assert [s.y[0] for s in scans] == [591, 7, 5]
    assert [s.meta.extra["rasx_member"] for s in scans] == [
        "Data0/Profile0.txt",
        "Data0/Profile1.txt",
        "Data1/Profile0.txt",
    ]
    assert all(s.x.size == 2151 for s in scans)


def test_rasx_image_only_is_unsupported(tmp_path):
    m = _rasx_members()
    del m["Data0/Profile0.txt"]
    m["Data0/Image0.bin"] = b"\0" * 64
    with pytest.raises(UnsupportedFormatError, match="2-D detector images"):
        load(_write(tmp_path, _zip(m), "img.rasx"))


def test_rasx_without_profile_is_a_load_error(tmp_path):
    m = _rasx_members()
    del m["Data0/Profile0.txt"]
    with pytest.raises(LoadError, match="no Data"):
        load(_write(tmp_path, _zip(m), "empty.rasx"), format="rigaku_rasx")


def test_rasx_omega_scan_is_unsupported(tmp_path):
    m = _rasx_members()
    key = "Data0/MesurementConditions0.xml"
    m[key] = m[key].replace(b"<AxisName>TwoThetaTheta</AxisName>", b"<AxisName>Omega</AxisName>")
    with pytest.raises(UnsupportedFormatError, match="'Omega'"):
        load(_write(tmp_path, _zip(m), "omega.rasx"))


def test_rasx_bad_xml_and_rows_are_load_errors(tmp_path):
    m = _rasx_members()
    key = "Data0/MesurementConditions0.xml"
    bad = dict(m)
    bad[key] = m[key][:500]
    with pytest.raises(LoadError, match="malformed"):
        load(_write(tmp_path, _zip(bad), "badxml.rasx"), format="rigaku_rasx")
    bad = dict(m)
    bad["Data0/Profile0.txt"] = m["Data0/Profile0.txt"].replace(b"8.5100\t609", b"8.5100\tabc")
    with pytest.raises(LoadError, match="not numeric"):
        load(_write(tmp_path, _zip(bad), "badrow.rasx"), format="rigaku_rasx")


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9, 0.99])
def test_rasx_truncated_is_a_load_error(tmp_path, frac):
    data = real_file(RASX_DARA).read_bytes()
    with pytest.raises(LoadError):
        load(_write(tmp_path, data[: int(len(data) * frac)], "cut.rasx"))


def test_rasx_zip_magic_is_not_sniffed():
    # zip content is recognised by the suffix only
    head = real_file(RASX_DARA).read_bytes()[:4096]
    assert "rigaku_rasx" not in [r.name for r in readers_for(".unknownsuffix", head)]
    assert readers_for(".rasx", head)[-1].name == "rigaku_rasx"


# --------------------------------------------------------------------------- ASC


def test_asc_real_file():
    s = load(real_file(ASC))
    assert s.meta.format == "rigaku_asc"
    assert s.x.size == 7601
    assert s.x[0] == pytest.approx(4.0) and s.x[-1] == pytest.approx(80.0)
    assert s.x[100] == pytest.approx(5.0)
    assert s.y[0] == 767 and s.y[100] == 650 and s.y[-1] == 570
    rad = s.meta.radiation
    assert rad.kalpha1 == pytest.approx(1.54059) and rad.kalpha2 == pytest.approx(1.54441)
    assert rad.anode == "Cu"  # *TARGET = 29
    assert s.meta.sample == "JC170705CuPcAuCrSi5"
    assert s.meta.instrument == "SmartLab"
    assert s.meta.counting_time == pytest.approx(0.6)  # *SPEED 0.6 in sec./step
    ex = s.meta.extra
    assert ex["date"] == "12-Jul-17 17:31"
    assert ex["scan_axis"] == "2theta/theta"
    assert ex["memo"] == "Pre CuPc"
    assert ex["y_unit"] == "counts"


def test_asc_sniffer():
    assert sniff_asc(real_file(ASC).read_bytes()[:4096])
    assert not sniff_asc(real_file(RAS).read_bytes()[:4096])


def _asc_group(data: bytes) -> bytes:
    start = data.index(b"*BEGIN")
    end = data.index(b"*END") + len(b"*END\r\n")
    return data[start:end]


def test_asc_two_groups(tmp_path):
    data = real_file(ASC).read_bytes()
    g = _asc_group(data)
    second = g.replace(b"*START\t\t=  4\r\n", b"*START\t\t=  104\r\n").replace(
        b"*STOP\t\t=  80", b"*STOP\t\t=  180"
    )
    assert second != g
    scans = load_all(_write(tmp_path, data.replace(g, g + second), "two.asc"))
    assert len(scans) == 2
    assert scans[1].x[0] == pytest.approx(104.0) and scans[1].x.size == 7601


def test_asc_omega_scan_is_unsupported(tmp_path):
    data = real_file(ASC).read_bytes().replace(b"2theta/theta", b"omega")
    with pytest.raises(UnsupportedFormatError, match="'omega'"):
        load(_write(tmp_path, data, "omega.asc"))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"*COUNT\t\t=  7601", b"*COUNT\t\t=  7602", "7601 values but"),
        (b"*STEP\t\t=  0.01", b"*STEP\t\t=  abc", "numeric"),
        (b"767, 794, 798, 809", b"767, 794, x98, 809", "not a number"),
        (b"*BEGIN", b"*BEGAN", "outside"),
    ],
)
def test_asc_corrupted_is_a_load_error(tmp_path, old, new, message):
    data = real_file(ASC).read_bytes()
    assert old in data
    with pytest.raises(LoadError, match=message):
        load(_write(tmp_path, data.replace(old, new, 1), "bad.asc"))


@pytest.mark.parametrize("frac", [0.01, 0.05, 0.5, 0.95])
def test_asc_truncated_is_a_load_error(tmp_path, frac):
    data = real_file(ASC).read_bytes()
    p = _write(tmp_path, data[: int(len(data) * frac)], "cut.asc")
    with pytest.raises(LoadError):
        load(p)
    with pytest.raises(LoadError, match="truncated|no \\*BEGIN") as info:
        load(p, format="rigaku_asc")
    assert not isinstance(info.value, UnsupportedFormatError)


def test_random_bytes_are_load_errors(tmp_path):
    noise = np.random.default_rng(1).bytes(5000)
    for name in ("n.ras", "n.rasx", "n.asc"):
        with pytest.raises(LoadError):
            load(_write(tmp_path, noise, name))
