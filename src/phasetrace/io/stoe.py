"""STOE WinXPOW binary ``.raw`` ("Powdat" files, magic ``RAW_1.xx``).

STOE has not published the layout; what is read here was established on a
real ``RAW_1.06`` file (the range header agrees with the number of points,
the data length and the measured start and end, and the range-header offsets
agree with the public chemotion converter reader; xrdpattern reads the
*planned* range of block 1 instead, which differs from the measured one).
The file is made of 512-byte blocks, little-endian:

* file header, block 0: magic ``RAW_1.06Powdat`` (0x00), date (0x10), title
  (0x20, NUL-terminated), Kα1 wavelength as float32 (0x142) and a second
  wavelength (0x146);
* each range: a 512-byte range header -- start and end date-times (0x00,
  0x10), number of points as int16/int32 (0x22), start 2θ (0x2C), start θ
  (0x30), end 2θ (0x34), end θ (0x38), 2θ step (0x3C), θ step (0x40), all
  float32 -- followed by the counts (int32 in the file seen; float32 is
  recognised too), padded to a whole block.

The second wavelength at 0x146 is kept in ``meta["wavelength_2"]`` but not
used as Kα2: the file gives no Kα2/Kα1 ratio, and STOE powder diffractometers
normally deliver Kα1 only through a primary monochromator.

Range headers are found by walking the 512-byte blocks from block 3 on and
keeping those whose start, step, end and number of points agree; that also
copes with files that put other blocks before the first range. The counts'
type is told from the values (small non-negative integers as int32 read as
denormal float32, and vice versa); an ambiguous range is an error rather
than a guess.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import numpy as np

from ..errors import LoadError
from ..scan import Radiation
from ._radiation import kalpha1_anode
from ._registry import RawScan, register_reader

__all__ = ["read_stoe_raw", "sniff_stoe_raw"]

#: ``RAW_1.`` then two version digits: the STOE magic (Bruker's is ``RAW1.01``/``RAW4.00``/``RAW2``/``RAW ``).
_MAGIC = re.compile(rb"RAW_1\.\d\d")

#: The file is written in blocks of this size.
_BLOCK = 512
#: Ranges never start before block 3 (blocks 0-2 hold the file and scan definition headers).
_FIRST_RANGE_BLOCK = 3

#: Offsets in the file header.
_TITLE_AT, _TITLE_LEN = 0x20, 0x110
_DATE_AT, _DATE_LEN = 0x10, 0x10
_WL1_AT, _WL2_AT = 0x142, 0x146

#: Offsets in a range header.
_R_START_DATE, _R_END_DATE = 0x00, 0x10
_R_NPTS = 0x22
_R_START_2TH, _R_START_TH, _R_END_2TH, _R_END_TH, _R_STEP_2TH, _R_STEP_TH = (
    0x2C,
    0x30,
    0x34,
    0x38,
    0x3C,
    0x40,
)

#: Upper bound on the number of points of a range (keeps a corrupt count from allocating).
_MAX_POINTS = 10_000_000

#: Smallest 2θ step taken for real (count blocks misread as a header hold denormal floats).
_MIN_STEP = 1e-5
#: Counts per step beyond which a float32 reading is implausible.
_MAX_COUNT = 1e12
#: Smallest non-zero float32 count taken as real (int32 counts read as float32 fall below it).
_TINY = 1e-30
#: An int32 reading whose median is above this is float32 data read wrongly.
_MAX_MEDIAN_INT = 1e8

#: Placeholder title WinXPOW writes when the user gave none.
_NO_TITLE = "This file has no Title"

#: A date-time as WinXPOW writes it, e.g. "22-Sep-20 17:18".
_DATE = re.compile(r"^\d{1,2}-[A-Za-z]{3}-\d{2,4}(\s+\d{1,2}:\d{2}(:\d{2})?)?$")


def sniff_stoe_raw(head: bytes) -> bool:
    """True when the file starts with the STOE ``RAW_1.xx`` magic."""
    return bool(_MAGIC.match(head))


@register_reader(
    "stoe-raw",
    suffixes=(".raw",),
    description="STOE WinXPOW RAW (RAW_1.xx Powdat)",
    sniff=sniff_stoe_raw,
    kind="xrd",
    priority=20,
)
def read_stoe_raw(data: bytes, path: str) -> list[RawScan]:
    """Read every range of a STOE WinXPOW raw file.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per range, in file order.

    Raises
    ------
    LoadError
        Not a STOE raw file, a truncated one, or one in which no consistent
        range header is found.
    """
    if not _MAGIC.match(data):
        raise LoadError(path, "not a STOE raw file (no RAW_1.xx magic at the start)")
    if len(data) < _FIRST_RANGE_BLOCK * _BLOCK:
        raise LoadError(path, f"truncated STOE raw file: {len(data)} bytes, less than its headers")
    file_meta = _file_meta(data)

    scans: list[RawScan] = []
    offset = _FIRST_RANGE_BLOCK * _BLOCK
    while offset + 2 * _BLOCK <= len(data):
        found = _range_at(data, offset)
        if found is None:
            offset += _BLOCK
            continue
        n, range_meta = found
        y = _counts(data, offset + _BLOCK, n, len(scans) + 1, path)
        start, step = range_meta.pop("_start"), range_meta.pop("_step")
        x = start + step * np.arange(n, dtype=np.float64)
        meta = dict(file_meta)
        meta.update(range_meta)
        meta["range"] = len(scans) + 1
        scans.append(RawScan(x=x, y=y, kind="xrd", meta=meta))
        offset += _BLOCK + _BLOCK * math.ceil(4 * n / _BLOCK)
    if not scans:
        raise LoadError(
            path,
            "STOE raw file holds no range header with a consistent start, step, end and "
            "number of points (truncated, or a layout not seen before)",
        )
    return scans


# --------------------------------------------------------------------------- helpers


def _f32(data: bytes, offset: int) -> float:
    v = float(struct.unpack_from("<f", data, offset)[0])
    return float(f"{v:.7g}") if math.isfinite(v) else v


def _text(data: bytes, offset: int, size: int) -> str:
    return data[offset : offset + size].split(b"\x00", 1)[0].decode("latin-1").strip()


def _file_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {"format_version": data[4:8].decode("latin-1"), "x_unit": "2theta_deg"}
    title = _text(data, _TITLE_AT, _TITLE_LEN)
    if title and title != _NO_TITLE:
        meta["sample"] = title
        meta["title"] = title
    date = _text(data, _DATE_AT, _DATE_LEN)
    if date:
        meta["date"] = date
    wl1, wl2 = _f32(data, _WL1_AT), _f32(data, _WL2_AT)
    if math.isfinite(wl1) and 0.1 < wl1 < 3.0:
        anode = kalpha1_anode(wl1)
        # STOE powder diffractometers work with Kα1 from a primary monochromator and the
        # file gives no Kα2/Kα1 ratio, so the radiation is the single stated Kα1 line.
        meta["radiation"] = Radiation(wl1, None, 0.0, anode, "file")
        meta["wavelength_source"] = "file header (Kα1 at 0x142)"
        if anode:
            meta["anode"] = anode
        if math.isfinite(wl2) and wl2 > 0:
            meta["wavelength_2"] = wl2
    return meta


def _range_at(data: bytes, offset: int) -> tuple[int, dict[str, Any]] | None:
    """The number of points and metadata of a range header at ``offset``, or None if there is none."""
    n = struct.unpack_from("<i", data, offset + _R_NPTS)[0]
    if not 2 <= n <= _MAX_POINTS:
        n = struct.unpack_from("<h", data, offset + _R_NPTS)[0]
        if not 2 <= n <= _MAX_POINTS:
            return None
    start = _f32(data, offset + _R_START_2TH)
    end = _f32(data, offset + _R_END_2TH)
    step = _f32(data, offset + _R_STEP_2TH)
    if not all(math.isfinite(v) for v in (start, end, step)):
        return None
    if not (-10.0 <= start < end <= 180.0 and _MIN_STEP <= step <= 10.0):
        return None
    # The header must agree with itself: start + (n - 1) * step is the end (to half a step).
    if abs(start + (n - 1) * step - end) > 0.5 * step + 1e-4:
        return None
    if offset + _BLOCK + 4 * n > len(data):
        return None
    # Refine the step from the end points: float32 rounding of the step accumulates over n points.
    exact_step = (end - start) / (n - 1)
    meta: dict[str, Any] = {"_start": start, "_step": exact_step}
    start_date = _text(data, offset + _R_START_DATE, 16)
    end_date = _text(data, offset + _R_END_DATE, 16)
    if _DATE.match(start_date):
        meta["date"] = start_date
    if _DATE.match(end_date):
        meta["end_date"] = end_date
    start_th, step_th = _f32(data, offset + _R_START_TH), _f32(data, offset + _R_STEP_TH)
    if math.isfinite(start_th):
        meta["start_theta"] = start_th
    if math.isfinite(step_th):
        meta["step_theta"] = step_th
    meta["step_2theta_stated"] = step
    return n, meta


def _counts(data: bytes, offset: int, n: int, number: int, path: str) -> np.ndarray:
    """The counts of a range, as int32 or float32 whichever the values say."""
    raw = data[offset : offset + 4 * n]
    if len(raw) < 4 * n:
        raise LoadError(path, f"truncated STOE raw file: range {number} needs {n} counts")
    as_int = np.frombuffer(raw, dtype="<i4")
    as_float = np.frombuffer(raw, dtype="<f4")
    with np.errstate(all="ignore"):
        # int32 counts below ~2e8 read as float32 are tiny (< 1e-30): float counts never are.
        float_ok = bool(
            np.isfinite(as_float).all()
            and (as_float >= 0).all()
            and (as_float < _MAX_COUNT).all()
            and ((as_float == 0) | (as_float >= _TINY)).all()
        )
    int_ok = bool((as_int >= 0).all())
    if int_ok and float_ok:
        # Both readings are possible only for floats below 2 or ints above ~2e8; a median
        # count of 1e8 per step is not a real count, so that case is floats.
        int_ok = bool(np.median(as_int) < _MAX_MEDIAN_INT)
        float_ok = not int_ok or not as_int.any()
    if int_ok:
        return as_int.astype(np.float64)
    if float_ok:
        return as_float.astype(np.float64)
    raise LoadError(path, f"STOE raw range {number}: cannot tell whether the counts are integers or floats")
