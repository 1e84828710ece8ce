"""Tests of the GRAMS .spc reader on real files and on synthetic variants.

Expected numbers were read from the files with ``xxd`` (header fields at the
documented offsets, first/last Y words after the 32-byte sub-header) and from
the vendor text exports of the same spectra.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from scipy.signal import find_peaks

from phasetrace.errors import LoadError, UnsupportedFormatError
from phasetrace.io import READERS, load, load_all
from phasetrace.io.spc import read_spc, sniff_spc
from tests.conftest import real_file

pytestmark = pytest.mark.realdata

RAMAN = "raman/formats/spc/RAMAN.SPC"
RUBY = "raman/formats/spc/RUBY18.SPC"
BWTEK = "raman/formats/ramanchada2/BWTEK/PST10_iR532_Probe_100_3000msx7.spc"
BWTEK_TXT = "raman/formats/ramanchada2/BWTEK/PST10_iR532_Probe_100_3000msx7.txt"
INVIA = "raman/formats/ramanchada2/InViaReflex/PST_Reflex532_Z050_010_10000msx2.spc"
INVIA_TXT = "raman/formats/ramanchada2/InViaReflex/PST_Reflex532_Z050_010_10000msx2.txt"
RENISHAW = "raman/formats/ramanchada2/Renishaw/nCal_Qontor785_z005H12_100_1x3s.spc"
WITEC = "raman/formats/ramanchada2/Witec/PST_WITEcAlpha532_100x_075_10000ms_000_Spec.Data_1.spc"
ALL_REAL = [RAMAN, RUBY, BWTEK, INVIA, RENISHAW, WITEC]


def f32(hexbytes: str) -> float:
    """A little-endian float32 written as it appears in ``xxd``."""
    return struct.unpack("<f", bytes.fromhex(hexbytes))[0]


def raw(rel: str):
    """The reader's own output (file order, before the front door sorts x)."""
    p = real_file(rel)
    return read_spc(p.read_bytes(), str(p))


# --------------------------------------------------------------------------- real files


def test_raman_spc_nicolet_ft_raman():
    scans = raw(RAMAN)
    assert len(scans) == 1
    s = scans[0]
    # fnpts = 0x0e30, ffirst/flast doubles at bytes 8/16, fexp = 9, int32 Y.
    assert s.x.size == 3632
    assert s.x[0] == pytest.approx(3996.8232421875, rel=1e-9)
    assert s.x[-1] == pytest.approx(-3005.9560546875005, rel=1e-9)
    assert s.y[0] == 143463 * 2.0 ** (9 - 32)  # bytes 67 30 02 00
    assert s.y[-1] == 269081 * 2.0 ** (9 - 32)  # bytes 19 1b 04 00
    assert s.y[1000] == int.from_bytes(bytes.fromhex("37cf6600"), "little", signed=True) * 2.0**-23
    assert s.kind == "raman"
    assert s.meta["x_unit"] == "raman_shift_cm-1"
    assert s.meta["title"] == "FT Raman Spectrum Example"
    assert s.meta["date"] == "1994-08-26T16:45"  # fdate 0x7ca8d42d
    assert s.meta["instrument"] == "Nicolet"  # log MODEL=Nicolet
    # log RAMANFREQ= 9395 is the Nd:YAG excitation wavenumber
    assert s.meta["laser_nm"] == pytest.approx(1e7 / 9395)
    assert s.meta["spc_log"]["SCANS"] == "50"

    scan = load(real_file(RAMAN))
    assert scan.kind == "raman"
    assert scan.x[0] == pytest.approx(-3005.9560546875005)  # sorted ascending
    assert scan.y[0] == s.y[-1]
    assert scan.meta.format == "spc"
    assert scan.meta.laser_nm == pytest.approx(1064.396, abs=1e-3)


def test_ruby18_absolute_wavenumber_axis_needs_laser():
    s = raw(RUBY)[0]
    # fxtype 0 with TALABS label "Wavenumber (cm-1)" and values 14700..14200: absolute
    # wavenumbers of light, handed over as wavelength.
    assert s.x.size == 501
    assert s.meta["x_unit"] == "wavelength_nm"
    assert s.x[0] == pytest.approx(1e7 / 14700.0)
    assert s.x[-1] == pytest.approx(1e7 / 14200.0)
    assert s.y[0] == 62.0  # 0x3e000000 * 2**(8-32)
    assert s.y[-1] == 20.0  # 0x14000000 * 2**(8-32)
    assert s.meta["title"] == "Big Ruby crystal"
    assert s.meta["integration_time"] == ".30000E1"
    with pytest.raises(LoadError, match="does not state the laser wavelength"):
        load(real_file(RUBY))
    scan = load(real_file(RUBY), laser_nm=532.0)
    assert scan.meta.laser_nm == 532.0
    assert scan.x[0] == pytest.approx(1e7 / 532.0 - 14700.0)
    assert scan.x[-1] == pytest.approx(1e7 / 532.0 - 14200.0)


def test_bwtek_spc_float_y_even_axis():
    s = raw(BWTEK)[0]
    assert s.x.size == 3808
    assert (s.x[0], s.x[-1]) == (175.0, 3982.0)
    assert s.y[0] == f32("7b5fd745")
    assert s.y[-1] == f32("cf432c44")
    assert s.meta["x_unit"] == "raman_shift_cm-1"
    # The text export of the same measurement says 2022-01-21 11:52:01; the .spc was written at 12:02.
    assert s.meta["date"] == "2022-01-21T12:02"
    assert "laser_nm" not in s.meta  # this .spc has no log block


def test_bwtek_spc_agrees_with_its_text_twin():
    spc = load(real_file(BWTEK))
    txt = load(real_file(BWTEK_TXT))
    # The .spc is the text export resampled to an even 1 cm-1 grid inside its range.
    assert txt.x[0] <= spc.x[0] and spc.x[-1] <= txt.x[-1]
    y_txt = np.interp(spc.x, txt.x, txt.y)
    rel = np.abs(y_txt - spc.y) / np.max(np.abs(spc.y))
    assert np.median(rel) < 1e-3
    # the strongest polystyrene bands (~1001, ~1031, ~1602, ~3054 cm-1) are at the same shifts,
    # within one step of the coarser (text) axis
    bands_spc, _ = _strong_bands(spc)
    bands_txt, step_txt = _strong_bands(txt)
    np.testing.assert_allclose(bands_spc, bands_txt, atol=step_txt)
    assert bands_txt[0] == pytest.approx(1001.4, abs=step_txt)
    assert txt.meta.laser_nm == 532.02


def _strong_bands(scan, n=4, lo=200.0, hi=3900.0):
    keep = (scan.x > lo) & (scan.x < hi)
    x, y = scan.x[keep], scan.y[keep]
    peaks, props = find_peaks(y, prominence=0)
    top = peaks[np.argsort(props["prominences"])[::-1][:n]]
    return np.sort(x[top]), float(np.max(np.diff(x)))


def test_invia_spc_log_metadata_and_text_twin():
    s = raw(INVIA)[0]
    assert s.x.size == 2578
    assert s.x[0] == pytest.approx(3501.0625)
    assert s.x[-1] == pytest.approx(100.2654800415039)
    assert s.y[0] == f32("2ba26844")
    assert s.y[-1] == 4307.0  # bytes 00 98 86 45; the text export's last row says 4307
    assert s.meta["laser_nm"] == 532.0  # log: Laser=Laser: 532 nm edge
    assert s.meta["counting_time"] == 10.0  # Exposure_time=Time: 10s
    assert s.meta["accumulations"] == 2
    assert s.meta["grating"] == "1800 l/mm (vis)"
    assert s.meta["instrument"] == "WiRE2"
    assert s.meta["date"] == "2021-11-18T11:30"  # the log says 18/11/2021 11:30:33
    assert "objective" not in s.meta  # "Objective: " is empty
    txt = load(real_file(INVIA_TXT))
    assert txt.x.size == s.x.size
    # the text export rounds x to 6 significant digits
    assert txt.x[0] == pytest.approx(s.x[-1], abs=5e-3)
    assert txt.x[-1] == pytest.approx(s.x[0], abs=5e-3)
    assert txt.y[-1] == pytest.approx(s.y[0], rel=1e-6)


def test_renishaw_spc_laser_and_unitless_exposure():
    s = raw(RENISHAW)[0]
    assert s.x.size == 1021
    assert s.x[0] == pytest.approx(1111.1083984375)
    assert s.x[-1] == pytest.approx(-154.501953125)
    assert s.y[0] == pytest.approx(1729.160645, rel=1e-7)  # = first row of the .txt export
    assert s.y[-1] == pytest.approx(267.675995, rel=1e-7)
    assert s.meta["laser_nm"] == 785.0
    assert s.meta["experiment_type"] == "Raman spectrum"
    # "Time: 3000" states no unit: kept verbatim, not guessed into counting_time
    assert s.meta["exposure_time"] == "3000"
    assert "counting_time" not in s.meta
    assert "date" not in s.meta  # fdate decodes to year 1359: dropped


def test_witec_spc_explicit_x_array():
    s = raw(WITEC)[0]
    assert s.x.size == 1600
    assert s.x[0] == f32("dd8a17c2")
    assert s.x[-1] == f32("ea3e6945")
    assert s.y[0] == 1011.0
    assert s.y[-1] == 1095.0
    assert s.meta["instrument"] == "WITec"
    assert s.meta["x_unit"] == "raman_shift_cm-1"
    assert "date" not in s.meta


@pytest.mark.parametrize("rel", ALL_REAL)
def test_sniff_and_registry(rel):
    data = real_file(rel).read_bytes()
    assert sniff_spc(data[:4096])
    assert READERS["spc"].suffixes == (".spc",)
    scans = load_all(real_file(rel), laser_nm=532.0 if rel == RUBY else None)
    assert len(scans) == 1 and scans[0].meta.format == "spc"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"OK this is text\n" * 10,
        b"\x00K" + b"\x00" * 30,
        bytes(range(256)) * 4,
        b"#Wave\t#Intensity\n",
        b"AKZO sample 12 34 56 7 8 9 \n\t1.0 2.0\n" * 4,  # text with 'K' at byte 1 and a control char at 28
        b"PK\x03\x04" + b"\x00" * 60,  # zip archive
    ],
)
def test_sniff_rejects(head):
    assert not sniff_spc(head)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("rel", ALL_REAL)
def test_truncated_real_files_raise_loaderror(rel, tmp_path):
    data = real_file(rel).read_bytes()
    for cut in (3, 100, 511, 520, 600, len(data) // 2, len(data) - 2):
        p = tmp_path / f"cut{cut}.spc"
        p.write_bytes(data[:cut])
        with pytest.raises(LoadError):
            load(p, laser_nm=532.0)


def _patched(rel: str, tmp_path, offset: int, fmt: str, value) -> object:
    data = bytearray(real_file(rel).read_bytes())
    struct.pack_into(fmt, data, offset, value)
    p = tmp_path / "patched.spc"
    p.write_bytes(bytes(data))
    return p


def test_corrupt_point_count(tmp_path):
    p = _patched(BWTEK, tmp_path, 4, "<I", 0xFFFFFFF0)
    with pytest.raises(LoadError, match="points"):
        load(p)


def test_corrupt_subfile_count(tmp_path):
    data = bytearray(real_file(BWTEK).read_bytes())
    data[0] |= 0x04  # TMULTI
    struct.pack_into("<I", data, 24, 10**6)
    p = tmp_path / "multi.spc"
    p.write_bytes(bytes(data))
    with pytest.raises(LoadError, match="sub-files"):
        load(p)


def test_corrupt_log_offset(tmp_path):
    p = _patched(RAMAN, tmp_path, 248, "<I", 10**9)
    with pytest.raises(LoadError, match="truncated"):
        load(p)


def test_old_format_is_unsupported(tmp_path):
    data = bytearray(real_file(RAMAN).read_bytes())
    data[1] = 0x4D
    p = tmp_path / "old.spc"
    p.write_bytes(bytes(data))
    with pytest.raises(UnsupportedFormatError, match=r"old-format \(0x4D\) SPC") as exc:
        load(p)
    assert str(p) in str(exc.value)


def test_time_axis_is_unsupported(tmp_path):
    p = _patched(BWTEK, tmp_path, 28, "<B", 4)  # fxtype 4 = seconds
    with pytest.raises(UnsupportedFormatError, match="seconds"):
        load(p)


def test_random_bytes_raise_loaderror(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "noise.spc"
    p.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(LoadError):
        load(p)


# --------------------------------------------------------------------------- synthetic variants


def _spc(
    ys: list[np.ndarray],
    *,
    end: str = "<",
    flags: int = 0,
    fexp: int = -128,
    first: float = 100.0,
    last: float = 200.0,
    xtype: int = 13,
    xs: list[np.ndarray] | None = None,
    log: str | None = None,
) -> bytes:
    """A minimal new-format SPC file built from the specification."""
    npts = len(ys[0])
    nsub = len(ys)
    header = bytearray(512)
    header[0] = flags
    header[1] = 0x4B if end == "<" else 0x4C
    struct.pack_into("b", header, 3, fexp)
    struct.pack_into(end + "IddI", header, 4, 0 if flags & 0x40 else npts, first, last, nsub)
    header[28] = xtype
    date = (2023 << 20) | (5 << 16) | (17 << 11) | (9 << 6) | 30
    struct.pack_into(end + "I", header, 32, date)
    header[88 : 88 + 6] = b"sample"
    body = bytearray()
    if flags & 0x80 and not flags & 0x40:
        body += np.asarray(xs[0], dtype=end + "f4").tobytes()
    for i, y in enumerate(ys):
        sub = bytearray(32)
        struct.pack_into("b", sub, 1, fexp)
        struct.pack_into(end + "Hff", sub, 2, i, float(i), float(i + 1))
        struct.pack_into(end + "I", sub, 16, len(y))
        body += sub
        if flags & 0x40:
            body += np.asarray(xs[i], dtype=end + "f4").tobytes()
        if fexp == -128:
            body += np.asarray(y, dtype=end + "f4").tobytes()
        elif flags & 0x01:
            body += np.round(np.asarray(y) * 2.0 ** (16 - fexp)).astype(end + "i2").tobytes()
        else:
            body += np.round(np.asarray(y) * 2.0 ** (32 - fexp)).astype(end + "i4").tobytes()
    data = header + body
    if log is not None:
        text = log.encode("latin-1") + b"\0"
        struct.pack_into(end + "I", data, 248, len(data))
        block = bytearray(64)
        struct.pack_into(end + "III", block, 0, 64 + len(text), 4096, 64)
        data += block + text
    return bytes(data)


@pytest.mark.parametrize("end", ["<", ">"])
def test_synthetic_float_both_byte_orders(end):
    y = np.array([1.5, 2.5, 10.0, 3.25, 0.5, 7.0])
    (s,) = read_spc(_spc([y], end=end), "synthetic.spc")
    np.testing.assert_array_equal(s.y, y)
    np.testing.assert_allclose(s.x, np.linspace(100.0, 200.0, 6))
    assert s.meta["date"] == "2023-05-17T09:30"
    assert s.meta["title"] == "sample"
    assert s.meta["spc_version"] == ("0x4B" if end == "<" else "0x4C")


def test_synthetic_int16_and_int32_scaling():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.5])
    (s32,) = read_spc(_spc([y], fexp=4), "a.spc")
    np.testing.assert_allclose(s32.y, y)
    (s16,) = read_spc(_spc([y], fexp=4, flags=0x01), "b.spc")
    np.testing.assert_allclose(s16.y, y)


def test_synthetic_multifile_and_xyxy():
    ys = [np.arange(6.0), np.arange(6.0) * 2, np.arange(6.0) + 7]
    scans = read_spc(_spc(ys, flags=0x04), "multi.spc")
    assert [s.meta["subfile"] for s in scans] == [0, 1, 2]
    assert [s.meta["z"] for s in scans] == [0.0, 1.0, 2.0]
    for s, y in zip(scans, ys, strict=True):
        np.testing.assert_array_equal(s.y, y)
    xs = [np.linspace(100, 150, 6), np.linspace(300, 400, 5)]
    scans = read_spc(_spc([np.ones(6), np.arange(5.0)], flags=0x04 | 0x40 | 0x80, xs=xs), "xyxy.spc")
    assert [s.x.size for s in scans] == [6, 5]
    np.testing.assert_allclose(scans[1].x, xs[1])
    np.testing.assert_array_equal(scans[1].y, np.arange(5.0))


def test_synthetic_nm_axis_and_log_laser():
    y = np.arange(8.0)
    data = _spc([y], xtype=3, first=540.0, last=560.0, log="Laser=Laser: 532.1 nm\r\nAccumulations=3\r\n")
    (s,) = read_spc(data, "nm.spc")
    assert s.meta["x_unit"] == "wavelength_nm"
    assert s.meta["laser_nm"] == 532.1
    assert s.meta["accumulations"] == 3


def test_synthetic_arbitrary_axis_leaves_kind_open():
    (s,) = read_spc(_spc([np.arange(6.0)], xtype=0), "arb.spc")
    assert s.kind is None and "x_unit" not in s.meta
    assert not math.isnan(s.x[0])
