"""STOE WinXPOW binary RAW (RAW_1.06 Powdat).

Expected values were read with ``struct`` at the offsets in a scratch shell:
range header at 0x800 (points int32 at 0x822 = 5404, start 2θ float32 at
0x82C = 10.0, end 2θ at 0x834 = 91.045, step at 0x83C = 0.015), int32 counts
from 0xA00 (4213, 4179, ..., 1285), Kα1 float32 at 0x142 = 1.20793.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from phasetrace.errors import LoadError
from phasetrace.io import load, load_all
from phasetrace.io.stoe import read_stoe_raw, sniff_stoe_raw
from tests.conftest import real_file

pytestmark = pytest.mark.realdata

STOE = "xrd/formats/xrdpattern/stoe.raw"
BRUKER = "xrd/formats/xylib/BT86.raw"


def test_stoe_raw_real_file():
    scan = load(real_file(STOE))
    assert scan.meta.format == "stoe-raw"
    assert scan.x.size == 5404
    assert scan.x[0] == pytest.approx(10.0)
    assert scan.x[-1] == pytest.approx(91.045, rel=1e-7)
    assert scan.meta.step == pytest.approx(0.015, rel=1e-6)
    assert scan.y[0] == 4213.0 and scan.y[1] == 4179.0 and scan.y[100] == 4176.0 and scan.y[-1] == 1285.0
    rad = scan.meta.radiation
    assert rad.kalpha1 == pytest.approx(1.20793) and rad.source == "file"
    assert rad.kalpha2 is None  # the file states no Kα2/Kα1 ratio
    m = scan.meta.extra
    assert m["date"] == "22-Sep-20 17:18" and m["end_date"] == "22-Sep-20 18:21"
    assert m["start_theta"] == pytest.approx(5.0)
    assert m["format_version"] == "1.06"
    # "This file has no Title": no sample name from the file, so the file stem
    assert scan.meta.sample == "stoe"


def test_sniffer_claims_stoe_only():
    assert sniff_stoe_raw(real_file(STOE).read_bytes()[:4096])
    assert not sniff_stoe_raw(real_file(BRUKER).read_bytes()[:4096])
    assert not sniff_stoe_raw(b"RAW1.01\x00" + b"\x00" * 100)
    assert not sniff_stoe_raw(b"")


def _with_float_counts(data: bytes) -> bytes:
    b = bytearray(data)
    n = struct.unpack_from("<i", b, 0x822)[0]
    counts = np.frombuffer(bytes(b[0xA00 : 0xA00 + 4 * n]), dtype="<i4")
    b[0xA00 : 0xA00 + 4 * n] = (counts.astype("<f4") / 8).tobytes()
    return bytes(b)


def test_float_counts_are_recognised():
    data = real_file(STOE).read_bytes()
    scans = read_stoe_raw(_with_float_counts(data), "float.raw")
    assert scans[0].y[0] == pytest.approx(4213 / 8)
    assert scans[0].y[-1] == pytest.approx(1285 / 8)


def test_second_range_in_following_blocks(tmp_path):
    data = real_file(STOE).read_bytes()
    n = 5404
    header = data[0x800:0xA00]
    counts_blocks = data[0xA00 : 0xA00 + 512 * -(-4 * n // 512)]
    p = tmp_path / "two.raw"
    p.write_bytes(data[:0xA00] + counts_blocks + header + counts_blocks)
    scans = load_all(p)
    assert [s.x.size for s in scans] == [n, n]
    np.testing.assert_array_equal(scans[0].y, scans[1].y)
    assert [s.meta.extra["range"] for s in scans] == [1, 2]


def test_truncated_files_raise_loaderror(tmp_path):
    data = real_file(STOE).read_bytes()
    for cut in (8, 300, 0x600, 0x830, 0xA00, 0xA00 + 4000, len(data) - 3000):
        with pytest.raises(LoadError):
            read_stoe_raw(data[:cut], "cut.raw")
        p = tmp_path / f"cut{cut}.raw"
        p.write_bytes(data[:cut])
        with pytest.raises(LoadError):
            load(p)


def test_inconsistent_range_header_is_loaderror():
    b = bytearray(real_file(STOE).read_bytes())
    struct.pack_into("<f", b, 0x834, 150.0)  # end 2θ no longer start + (n-1) * step
    with pytest.raises(LoadError, match="no range header"):
        read_stoe_raw(bytes(b), "bad.raw")


def test_random_corruption_never_escapes_as_another_error():
    rng = np.random.default_rng(3)
    data = real_file(STOE).read_bytes()
    for _ in range(80):
        b = bytearray(data)
        for i in rng.integers(0, 0xA40, size=6):
            b[i] = int(rng.integers(0, 256))
        try:
            read_stoe_raw(bytes(b), "fuzz.raw")
        except LoadError:
            pass
