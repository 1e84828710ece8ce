"""Bruker / Siemens binary ``.raw`` (DIFFRAC-AT, DIFFRAC plus and DIFFRAC.SUITE), versions 1 to 4.

All four versions are little-endian binaries that start with a magic string:

* ``"RAW "`` -- version 1 (DIFFRAC-AT). Each range is a 152-byte header
  (steps, step time, step size, start 2θ, sample name, Kα1, Kα2, a
  "another range follows" flag) and its intensities; later ranges may repeat
  the ``"RAW "`` magic.
* ``"RAW2"`` -- version 2. A 256-byte file header (date, anode, Kα1, Kα2,
  Kα2/Kα1 ratio) and, per range, a header of stated length (steps, step
  time, step size, start 2θ) followed by the intensities.
* ``"RAW1.01"`` -- version 3 (DIFFRAC plus). A 712-byte file header (date,
  operator, site, sample, goniometer and slits, anode, Kα average / Kα1 /
  Kα2 / Kβ / ratio as doubles), then per range a 304-byte header (steps,
  start θ and 2θ, step size, time per step, generator, used wavelength, size
  of the supplementary headers), the supplementary headers and the
  intensities as float32.
* ``"RAW4.00"`` -- version 4 (DIFFRAC.SUITE). A 61-byte header, then records
  ``(type, length, ...)``: type 10 holds a named text value (USER, SAMPLEID,
  ...), type 30 the tube (wavelengths, anode). Each range is a 160-byte header
  (scan type, start angle, step, steps, time per step, datum size, length of
  its own sub-records) followed by its sub-records (type 50 gives the start of
  each drive) and the intensities.

The layouts follow the DIFFRAC plus XCH manual (appendix A) as documented by
xylib and GSAS-II; every offset and count read from the file is checked
against the file length before use. Each range becomes one :class:`RawScan`.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from ..errors import LoadError, UnsupportedFormatError
from ..scan import ANODES, Radiation
from ._radiation import file_radiation
from ._registry import RawScan, register_reader, register_writer
from ._save import SaveError
from ._writeutil import EVEN_STEP_TOL, stated_radiation
from .bruker import slit_mode_meta

__all__ = ["read_bruker_raw", "sniff_bruker_raw", "write_bruker_raw"]

#: Magic strings of the versions (the first bytes of the file).
_MAGIC_V1 = b"RAW "
_MAGIC_V2 = b"RAW2"
_MAGIC_V3 = b"RAW1.01"
_MAGIC_V4 = b"RAW4.00"

#: Version 1: size of a range header after the optional "RAW " magic.
_V1_RANGE_HEADER = 152
#: Version 1: "-1.E6 = unknown" marks an angle the instrument did not record.
_V1_UNKNOWN = -1.0e6
#: Version 2: the first range header starts here; its fixed part is 48 bytes.
_V2_FIRST_RANGE = 256
_V2_MIN_RANGE_HEADER = 48
#: Version 3: the file header is 712 bytes and each range header 304 bytes.
_V3_FILE_HEADER = 712
_V3_RANGE_HEADER = 304
#: Version 4: the records start after a 61-byte file header; a range header is 160 bytes.
_V4_FIRST_RECORD = 61
_V4_RANGE_HEADER = 160
#: Version 4 record types: 10 = named text value, 30 = X-ray tube, 50 = drive start.
_V4_VARINFO, _V4_TUBE, _V4_DRIVE = 10, 30, 50
#: Version 4: a range header starts with 0 or with its own length, 160.
_V4_RANGE_MARKERS = (0, 160)

#: Upper bound on the number of points of one range: far more than any scan has,
#: and it keeps a corrupt count from allocating gigabytes.
_MAX_STEPS = 50_000_000
#: Upper bound on the number of ranges (version 3 states it; a corrupt value must not loop forever).
_MAX_RANGES = 10_000

#: Version 3 file status codes.
_V3_STATUS = {1: "done", 2: "active", 3: "aborted", 4: "interrupted"}

#: Version 4 scan types whose start angle and step are 2θ (lower case, spaces removed).
_V4_TWO_THETA_SCANS = frozenset(
    {
        "lockedcoupled",
        "unlockedcoupled",
        "detectorscan",
        "coupledtwotheta/theta",
        "coupled2theta/theta",
        "twotheta",
        "2theta",
    }
)


def sniff_bruker_raw(head: bytes) -> bool:
    """True when the first bytes are a Bruker RAW magic (and, for version 1, a plausible header).

    The STOE ``RAW_1.xx`` magic is not claimed.
    """
    if head.startswith((_MAGIC_V3, _MAGIC_V4)):
        return True
    if head.startswith(_MAGIC_V2):
        return len(head) >= 8 and _is_binary(head[4:64])
    if head.startswith(_MAGIC_V1):
        return _v1_header_plausible(head, 4)
    return False


@register_reader(
    "bruker-raw",
    suffixes=(".raw",),
    description="Bruker/Siemens RAW (DIFFRAC-AT v1, RAW2, DIFFRAC plus RAW1.01, DIFFRAC.SUITE RAW4.00)",
    sniff=sniff_bruker_raw,
    kind="xrd",
    priority=20,
)
def read_bruker_raw(data: bytes, path: str) -> list[RawScan]:
    """Read every range of a Bruker RAW file.

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
        Not a Bruker RAW file, or a truncated or corrupt one.
    UnsupportedFormatError
        A version-4 file whose ranges do not scan 2θ, or store intensities
        in a datum size other than 4 bytes.
    """
    r = _Reader(data, path)
    if data.startswith(_MAGIC_V3):
        return _read_v3(r)
    if data.startswith(_MAGIC_V4):
        return _read_v4(r)
    if data.startswith(_MAGIC_V2):
        return _read_v2(r)
    if data.startswith(_MAGIC_V1):
        return _read_v1(r)
    raise LoadError(
        path,
        "is not a Bruker or STOE .raw file (no RAW1.01, RAW4.00, RAW2, 'RAW ' or RAW_1.xx magic "
        "at the start); other vendors' .raw formats are not supported",
    )


# --------------------------------------------------------------------------- binary access


class _Reader:
    """Bounds-checked little-endian access to the file bytes."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path
        self.n = len(data)

    def need(self, offset: int, size: int, what: str) -> None:
        if offset < 0 or size < 0 or offset + size > self.n:
            raise LoadError(
                self.path,
                f"truncated Bruker RAW file: {what} needs bytes {offset}..{offset + size} "
                f"but the file has {self.n}",
            )

    def u16(self, offset: int, what: str) -> int:
        self.need(offset, 2, what)
        return struct.unpack_from("<H", self.data, offset)[0]

    def u32(self, offset: int, what: str) -> int:
        self.need(offset, 4, what)
        return struct.unpack_from("<I", self.data, offset)[0]

    def f32(self, offset: int, what: str) -> float:
        """A float32 scalar, rounded to the 7 significant digits float32 carries (0.1, not 0.10000000149)."""
        self.need(offset, 4, what)
        v = float(struct.unpack_from("<f", self.data, offset)[0])
        return float(f"{v:.7g}") if math.isfinite(v) else v

    def f64(self, offset: int, what: str) -> float:
        self.need(offset, 8, what)
        return float(struct.unpack_from("<d", self.data, offset)[0])

    def text(self, offset: int, size: int, what: str) -> str:
        """A NUL-terminated (or NUL-padded) Latin-1 string field, stripped."""
        self.need(offset, size, what)
        raw = self.data[offset : offset + size].split(b"\x00", 1)[0]
        return raw.decode("latin-1").strip()

    def floats(self, offset: int, count: int, what: str) -> np.ndarray:
        if not 0 <= count <= _MAX_STEPS:
            raise LoadError(self.path, f"corrupt Bruker RAW file: {what} claims {count} points")
        self.need(offset, 4 * count, what)
        return np.frombuffer(self.data, dtype="<f4", count=count, offset=offset).astype(np.float64)


def _is_binary(chunk: bytes) -> bool:
    """True when the bytes hold a NUL or other control byte (text files do not)."""
    return any(b < 9 or 13 < b < 32 for b in chunk)


def _finite(v: float) -> bool:
    return math.isfinite(v)


def _x_axis(start: float, step: float, n: int, what: str, path: str) -> np.ndarray:
    if not (_finite(start) and _finite(step)) or step == 0 or abs(step) > 90:
        raise LoadError(path, f"corrupt Bruker RAW file: {what} has start {start!r} and step {step!r}")
    return start + step * np.arange(n, dtype=np.float64)


def _radiation(
    a1: float | None, a2: float | None, ratio: float | None, anode: str | None
) -> tuple[Radiation | None, dict[str, Any]]:
    """Radiation from what the file states; the anode table only when it states no wavelength."""
    meta: dict[str, Any] = {}
    if anode:
        meta["anode"] = anode
    # a header field outside the physical range is not a statement (corrupt or unused field): left out
    k1 = a1 if (a1 is not None and _finite(a1) and 0.05 < a1 < 5.0) else None
    k2 = a2 if (k1 is not None and a2 is not None and _finite(a2) and 0.05 < a2 < 5.0 and a2 != a1) else None
    r = ratio if (k2 is not None and ratio is not None and _finite(ratio) and 0 <= ratio <= 1) else None
    rad, rad_meta = file_radiation(k1, k2, r, _anode_key(anode), what="Bruker RAW", path="")
    return rad, {**meta, **rad_meta}


def _anode_key(anode: str | None) -> str | None:
    if not anode:
        return None
    key = anode.strip().capitalize()
    return key if key in ANODES else None


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values."""
    return {k: v for k, v in meta.items() if v is not None and v != ""}


def _no_ranges(path: str) -> LoadError:
    return LoadError(path, "Bruker RAW file holds no range with data points")


# --------------------------------------------------------------------------- version 1


def _v1_header_plausible(data: bytes, off: int) -> bool:
    """Plausibility of a version-1 range header at ``off`` (used to sniff the generic "RAW " magic)."""
    if len(data) < off + _V1_RANGE_HEADER:
        return False
    if not _is_binary(data[off : off + _V1_RANGE_HEADER]):
        return False
    steps = struct.unpack_from("<I", data, off)[0]
    step = struct.unpack_from("<f", data, off + 8)[0]
    start = struct.unpack_from("<f", data, off + 20)[0]
    return (
        0 < steps <= _MAX_STEPS
        and math.isfinite(step)
        and 0 < abs(step) <= 90
        and math.isfinite(start)
        and -90 <= start <= 180
    )


def _read_v1(r: _Reader) -> list[RawScan]:
    scans: list[RawScan] = []
    pos = len(_MAGIC_V1)
    follows = 1
    number = 0
    while follows:
        number += 1
        if number > _MAX_RANGES:
            raise LoadError(r.path, "corrupt Bruker RAW v1 file: too many ranges")
        # Early DIFFRAC-AT files repeat the magic before every range, later ones do not.
        if number > 1 and r.data[pos : pos + 4] == _MAGIC_V1:
            pos += 4
        what = f"range {number} header"
        r.need(pos, _V1_RANGE_HEADER, what)
        steps = r.u32(pos, what)
        step_time = r.f32(pos + 4, what)
        step = r.f32(pos + 8, what)
        scan_mode = r.u32(pos + 12, what)
        start = r.f32(pos + 20, what)
        theta = r.f32(pos + 24, what)
        khi = r.f32(pos + 28, what)
        phi = r.f32(pos + 32, what)
        sample = r.text(pos + 36, 32, what)
        a1 = r.f32(pos + 68, what)
        a2 = r.f32(pos + 72, what)
        follows = r.u32(pos + 148, what)
        y = r.floats(pos + _V1_RANGE_HEADER, steps, f"range {number} intensities")
        pos += _V1_RANGE_HEADER + 4 * steps
        if not steps:
            continue
        x = _x_axis(start, step, steps, f"range {number}", r.path)
        radiation, rad_meta = _radiation(a1, a2, None, None)
        meta: dict[str, Any] = {
            "format_version": "1 (DIFFRAC-AT)",
            "sample": sample or None,
            "counting_time": _positive(step_time),
            "scan_mode": scan_mode,
            "range": number,
            "x_unit": "2theta_deg",
        }
        for key, v in (("start_theta", theta), ("start_khi", khi), ("start_phi", phi)):
            if _finite(v) and v != _V1_UNKNOWN:
                meta[key] = v
        meta.update(rad_meta)
        if radiation is not None:
            meta["radiation"] = radiation
        scans.append(RawScan(x=x, y=y, kind="xrd", meta=_clean(meta)))
    if not scans:
        raise _no_ranges(r.path)
    return scans


# --------------------------------------------------------------------------- version 2


def _read_v2(r: _Reader) -> list[RawScan]:
    n_ranges = r.u16(4, "file header")
    date = r.text(168, 20, "file header")
    anode = r.text(188, 2, "file header")
    a1 = r.f32(190, "file header")
    a2 = r.f32(194, "file header")
    ratio = r.f32(198, "file header")
    runtime = r.f32(210, "file header")
    if not 0 < n_ranges <= _MAX_RANGES:
        raise LoadError(r.path, f"corrupt Bruker RAW2 file: it claims {n_ranges} ranges")
    radiation, rad_meta = _radiation(a1, a2, ratio, anode)
    file_meta: dict[str, Any] = {
        "format_version": "2 (RAW2)",
        "date": date or None,
        "total_time_s": runtime if _finite(runtime) and runtime > 0 else None,
        "x_unit": "2theta_deg",
    }
    file_meta.update(rad_meta)
    if radiation is not None:
        file_meta["radiation"] = radiation

    scans: list[RawScan] = []
    pos = _V2_FIRST_RANGE
    for i in range(n_ranges):
        what = f"range {i + 1} header"
        header_len = r.u16(pos, what)
        if header_len < _V2_MIN_RANGE_HEADER:
            raise LoadError(r.path, f"corrupt Bruker RAW2 file: {what} is {header_len} bytes long")
        r.need(pos, header_len, what)
        steps = r.u16(pos + 2, what)
        step_time = r.f32(pos + 8, what)
        step = r.f32(pos + 12, what)
        start = r.f32(pos + 16, what)
        temp_k = r.u16(pos + 46, what)
        y = r.floats(pos + header_len, steps, f"range {i + 1} intensities")
        pos += header_len + 4 * steps
        if not steps:
            continue
        x = _x_axis(start, step, steps, f"range {i + 1}", r.path)
        meta = dict(file_meta)
        meta.update(
            range=i + 1,
            counting_time=step_time if _finite(step_time) and step_time > 0 else None,
            temperature_K=temp_k or None,
        )
        scans.append(RawScan(x=x, y=y, kind="xrd", meta=_clean(meta)))
    if not scans:
        raise _no_ranges(r.path)
    return scans


# --------------------------------------------------------------------------- version 3


def _read_v3(r: _Reader) -> list[RawScan]:
    what = "file header"
    r.need(0, _V3_FILE_HEADER, what)
    status = r.u32(8, what)
    n_ranges = r.u32(12, what)
    if not 0 < n_ranges <= _MAX_RANGES:
        raise LoadError(r.path, f"corrupt Bruker RAW1.01 file: it claims {n_ranges} ranges")
    date, time = r.text(16, 10, what), r.text(26, 10, what)
    anode = r.text(608, 4, what)
    a1, a2, ratio = r.f64(624, what), r.f64(632, what), r.f64(648, what)
    radiation, rad_meta = _radiation(a1, a2, ratio, anode)
    radius = r.f32(564, what)
    file_meta: dict[str, Any] = {
        "format_version": "3 (DIFFRAC plus RAW1.01)",
        "file_status": _V3_STATUS.get(status, str(status)),
        "date": f"{date} {time}".strip() or None,
        "operator": r.text(36, 72, what) or None,
        "site": r.text(108, 218, what) or None,
        "sample": r.text(326, 60, what) or None,
        "comment": r.text(386, 160, what) or None,
        "goniometer_radius_mm": radius if _finite(radius) and radius > 0 else None,
        "kalpha_average": _positive(r.f64(616, what)),
        "kbeta": _positive(r.f64(640, what)),
        "x_unit": "2theta_deg",
    }
    for key, off in (
        ("fixed_divergence_slit", 568),
        ("fixed_sample_slit", 572),
        ("fixed_antiscatter_slit", 584),
        ("fixed_detector_slit", 588),
        ("total_time_s", 664),
    ):
        file_meta[key] = _positive(r.f32(off, what))
    file_meta.update(rad_meta)
    if radiation is not None:
        file_meta["radiation"] = radiation

    scans: list[RawScan] = []
    pos = _V3_FILE_HEADER
    for i in range(n_ranges):
        what = f"range {i + 1} header"
        header_len = r.u32(pos, what)
        if not _V3_RANGE_HEADER <= header_len <= r.n:
            raise LoadError(r.path, f"corrupt Bruker RAW1.01 file: {what} is {header_len} bytes long")
        r.need(pos, header_len, what)
        steps = r.u32(pos + 4, what)
        start_theta = r.f64(pos + 8, what)
        start = r.f64(pos + 16, what)
        step = r.f64(pos + 176, what)
        step_time = r.f32(pos + 192, what)
        rotation = r.f32(pos + 208, what)
        kv, ma = r.u32(pos + 224, what), r.u32(pos + 228, what)
        used_lambda = r.f64(pos + 240, what)
        supplementary = r.u32(pos + 256, what)
        var_slit = r.text(pos + 72, 6, what)
        data_at = pos + header_len + supplementary
        y = r.floats(data_at, steps, f"range {i + 1} intensities")
        pos = data_at + 4 * steps
        if not steps:
            continue
        x = _x_axis(start, step, steps, f"range {i + 1}", r.path)
        meta = dict(file_meta)
        meta.update(
            range=i + 1,
            start_theta=start_theta if _finite(start_theta) else None,
            counting_time=_positive(step_time),
            sample_rotation_rpm=_positive(rotation),
            tube_voltage_kV=kv or None,
            tube_current_mA=ma or None,
            used_wavelength=_positive(used_lambda),
            variable_divergence_slit=var_slit or None,
        )
        # the slit mode in the keys the intensity correction reads (BT86.raw: "V6")
        meta.update(slit_mode_meta(var_slit, file_meta.get("fixed_divergence_slit")))
        scans.append(RawScan(x=x, y=y, kind="xrd", meta=_clean(meta)))
    if not scans:
        raise _no_ranges(r.path)
    return scans


def _positive(v: float) -> float | None:
    return v if _finite(v) and v > 0 else None


# --------------------------------------------------------------------------- version 4


def _read_v4(r: _Reader) -> list[RawScan]:
    r.need(0, _V4_FIRST_RECORD, "file header")
    file_meta: dict[str, Any] = {
        "format_version": "4 (DIFFRAC.SUITE RAW4.00)",
        "date": f"{r.text(12, 12, 'file header')} {r.text(24, 10, 'file header')}".strip() or None,
        "x_unit": "2theta_deg",
    }
    info: dict[str, str] = {}
    tube: dict[str, Any] = {}
    pos = _V4_FIRST_RECORD
    # Global records, up to the first range header.
    while True:
        rtype = r.u32(pos, "record type")
        if rtype in _V4_RANGE_MARKERS:
            break
        length = r.u32(pos + 4, "record length")
        if length < 8:
            raise LoadError(r.path, f"corrupt Bruker RAW4 file: record at byte {pos} is {length} bytes long")
        r.need(pos, length, f"record at byte {pos}")
        if rtype == _V4_VARINFO and length >= 36:
            name = r.text(pos + 12, 24, "text record")
            if name:
                info[name] = r.text(pos + 36, length - 36, "text record")
        elif rtype == _V4_TUBE and length >= 120:
            tube = {
                "kalpha_average": r.f64(pos + 72, "tube record"),
                "a1": r.f64(pos + 80, "tube record"),
                "a2": r.f64(pos + 88, "tube record"),
                "kbeta": r.f64(pos + 96, "tube record"),
                "ratio": r.f64(pos + 104, "tube record"),
                "anode": r.text(pos + 116, 4, "tube record"),
            }
        pos += length

    radiation, rad_meta = _radiation(tube.get("a1"), tube.get("a2"), tube.get("ratio"), tube.get("anode"))
    file_meta.update(rad_meta)
    file_meta["kalpha_average"] = _positive(tube.get("kalpha_average", math.nan))
    file_meta["kbeta"] = _positive(tube.get("kbeta", math.nan))
    if radiation is not None:
        file_meta["radiation"] = radiation
    for key, name in (("operator", "USER"), ("sample", "SAMPLEID"), ("comment", "COMMENT")):
        if info.get(name):
            file_meta[key] = info[name]
    software = " ".join(v for v in (info.get("CREATOR"), info.get("CREATOR_VERSION")) if v)
    file_meta["software"] = software or None
    if info:
        file_meta["header_values"] = info

    scans: list[RawScan] = []
    skipped: list[str] = []
    index = 0
    while pos + 4 <= r.n and r.u32(pos, "range header") in _V4_RANGE_MARKERS:
        index += 1
        if index > _MAX_RANGES:
            raise LoadError(r.path, "corrupt Bruker RAW4 file: too many ranges")
        what = f"range {index} header"
        r.need(pos, _V4_RANGE_HEADER, what)
        scan_type = r.text(pos + 32, 24, what)
        start = r.f64(pos + 72, what)
        step = r.f64(pos + 80, what)
        steps = r.u32(pos + 88, what)
        step_time = r.f32(pos + 92, what)
        kv, ma = r.f32(pos + 100, what), r.f32(pos + 104, what)
        used_lambda = r.f64(pos + 112, what)
        datum_size = r.u32(pos + 136, what)
        sub_len = r.u32(pos + 140, what)
        sub_at = pos + _V4_RANGE_HEADER
        r.need(sub_at, sub_len, f"range {index} sub-records")
        drives = _v4_drives(r, sub_at, sub_len, index)
        data_at = sub_at + sub_len
        if steps > _MAX_STEPS or datum_size > 16:
            raise LoadError(
                r.path, f"corrupt Bruker RAW4 file: {what} claims {steps} points of {datum_size} bytes"
            )
        r.need(data_at, datum_size * steps, f"range {index} intensities")
        pos = data_at + datum_size * steps
        if scan_type.replace(" ", "").lower() not in _V4_TWO_THETA_SCANS:
            skipped.append(scan_type or "unnamed")
            continue
        if datum_size != 4:
            raise UnsupportedFormatError(
                r.path,
                f"Bruker RAW4 range {index} stores {datum_size}-byte intensities; "
                "only 4-byte floats are supported",
            )
        if not steps:
            continue
        y = r.floats(data_at, steps, f"range {index} intensities")
        x = _x_axis(start, step, steps, f"range {index}", r.path)
        meta = dict(file_meta)
        meta.update(
            range=index,
            scan_type=scan_type,
            counting_time=_positive(step_time),
            tube_voltage_kV=_positive(kv),
            tube_current_mA=_positive(ma),
            used_wavelength=_positive(used_lambda),
        )
        for name, value in drives.items():
            key = "start_" + name.lower().replace(" ", "_").replace("-", "_")
            meta[key] = value
        scans.append(RawScan(x=x, y=y, kind="xrd", meta=_clean(meta)))
    if not scans:
        if skipped:
            raise UnsupportedFormatError(
                r.path,
                f"Bruker RAW4 file holds only {', '.join(repr(s) for s in skipped)} ranges, "
                "which do not scan 2θ; only coupled and detector 2θ scans are supported",
            )
        raise _no_ranges(r.path)
    if skipped:
        for s in scans:
            s.meta["skipped_ranges"] = skipped
    return scans


def _v4_drives(r: _Reader, at: int, length: int, index: int) -> dict[str, float]:
    """Start positions of the drives named in a range's type-50 sub-records."""
    drives: dict[str, float] = {}
    end = at + length
    pos = at
    while pos + 8 <= end:
        rtype = r.u32(pos, f"range {index} sub-record")
        rlen = r.u32(pos + 4, f"range {index} sub-record")
        if rlen < 8 or pos + rlen > end:
            raise LoadError(
                r.path,
                f"corrupt Bruker RAW4 file: range {index} sub-record at byte {pos} is {rlen} bytes long",
            )
        if rtype == _V4_DRIVE and rlen >= 64:
            name = r.text(pos + 12, 24, "drive record")
            value = r.f64(pos + 56, "drive record")
            if name and _finite(value):
                drives[name] = value
        pos += rlen
    return drives


# --------------------------------------------------------------------------- version 3 writer

#: Largest magnitude float32 holds.
_F32_MAX = float(np.finfo(np.float32).max)


def _put_text(buf: bytearray, offset: int, size: int, value: object) -> None:
    """A NUL-padded Latin-1 field of ``size`` bytes (at most ``size - 1`` characters)."""
    text = " ".join(str(value).split()).encode("latin-1", errors="replace")[: size - 1]
    buf[offset : offset + len(text)] = text


def write_bruker_raw(scan, path: str) -> None:
    """Write an XRD scan as a Bruker RAW version 3 (``RAW1.01``) file with one range.

    The layout is the one :func:`read_bruker_raw` reads (DIFFRAC plus XCH
    manual, appendix A): a 712-byte file header (sample, anode, Kα1, Kα2,
    Kα2/Kα1 ratio and the Kα average as doubles; no wavelengths when the scan's
    radiation is only the assumed default), one 304-byte range header (steps,
    start 2θ and step as doubles, time per step) and the intensities as
    float32.

    Round trip: 2θ is rebuilt as ``start + i * step``, equal to the scan's
    axis to within 1e-6 of a step; intensities are float32, exact for integer
    counts up to 2**24 and to float32 precision otherwise; the sample name is
    Latin-1, at most 59 characters; the counting time is a float32.

    Parameters
    ----------
    scan : Scan
        An XRD scan with an evenly stepped 2θ axis.
    path : str
        The file to write.

    Raises
    ------
    SaveError
        The 2θ steps are not even (RAW stores only a start and a step), or
        intensities are beyond the float32 range.
    """
    x = np.asarray(scan.x, dtype=np.float64)
    y = np.asarray(scan.y, dtype=np.float64)
    n = x.size
    start = float(x[0])
    step = float((x[-1] - x[0]) / (n - 1)) if n > 1 else 0.0
    if n > 1:
        deviation = float(np.max(np.abs(start + step * np.arange(n, dtype=np.float64) - x)))
        if deviation > EVEN_STEP_TOL * abs(step):
            raise SaveError(
                f"Bruker RAW stores an evenly stepped 2θ axis (start + i·step) and this scan's "
                f"steps vary (by up to {deviation:.3g}° from even); save it as .xrdml, .uxd or .xy"
            )
    if not np.all(np.abs(y) <= _F32_MAX):
        raise SaveError(
            "Bruker RAW stores intensities as float32; this scan has values beyond its range (±3.4e38)"
        )
    meta = scan.meta
    rad = stated_radiation(meta)

    head = bytearray(_V3_FILE_HEADER)
    head[0 : len(_MAGIC_V3)] = _MAGIC_V3
    struct.pack_into("<II", head, 8, 1, 1)  # file status "done", one range
    _put_text(head, 36, 72, "phasetrace")  # operator field
    if meta.sample:
        _put_text(head, 326, 60, meta.sample)
    if meta.instrument:
        _put_text(head, 386, 160, meta.instrument)  # comment field
    if rad is not None:
        a2 = rad.kalpha2 if rad.kalpha2 is not None else 0.0
        average = (rad.kalpha1 + rad.ratio * a2) / (1.0 + rad.ratio) if a2 else rad.kalpha1
        if rad.anode:
            _put_text(head, 608, 4, rad.anode)
        struct.pack_into("<ddddd", head, 616, average, rad.kalpha1, a2, 0.0, rad.ratio if a2 else 0.0)

    rng = bytearray(_V3_RANGE_HEADER)
    struct.pack_into("<IIdd", rng, 0, _V3_RANGE_HEADER, n, start / 2.0, start)
    struct.pack_into("<d", rng, 176, step)
    struct.pack_into("<f", rng, 192, float(meta.counting_time or 0.0))
    if rad is not None:
        struct.pack_into("<d", rng, 240, rad.kalpha1)  # used wavelength
    struct.pack_into("<II", rng, 252, 4, 0)  # datum size 4 bytes, no supplementary headers

    with open(path, "wb") as fh:
        fh.write(bytes(head))
        fh.write(bytes(rng))
        fh.write(y.astype("<f4").tobytes())


register_writer(
    "bruker-raw",
    suffixes=(".raw",),
    description="Bruker RAW version 3 (DIFFRAC plus RAW1.01)",
    kinds=("xrd",),
)(write_bruker_raw)
