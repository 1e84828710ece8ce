"""Rigaku scan files: ``.ras`` (SmartLab text), ``.rasx`` (SmartLab Studio II zip) and ``.asc``.

``.ras``
    Text, usually Shift-JIS: ``*RAS_DATA_START``, then per scan a
    ``*RAS_HEADER_START … *RAS_HEADER_END`` block of ``*KEY "value"`` lines and a
    ``*RAS_INT_START … *RAS_INT_END`` block of rows ``x  counts  factor``, and
    ``*RAS_DATA_END``. Several scans in one file give several scans here.
``.rasx``
    A zip with ``root.xml`` and per scan ``DataN/ProfileM.txt`` (tab-separated
    rows ``x  counts  factor``) beside ``DataN/MesurementConditionsM.xml``
    (Rigaku's spelling) that holds the scan range, tube and sample.
``.asc``
    The older Rigaku ASCII export: ``*KEY = value`` lines, then per group
    ``*BEGIN`` … ``*START/*STOP/*STEP/*COUNT`` … rows of comma-separated
    intensities … ``*END``.

The third column of ``.ras``/``.rasx`` rows is the attenuator correction factor
(1 without attenuator); the intensity returned is ``counts × factor``, so a scan
in which the automatic attenuator switched is on one scale. Values in Japanese
and English (``"日本語|English"``) are reduced to their English part.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from ..errors import LoadError, UnsupportedFormatError
from ..scan import Radiation
from ._radiation import file_radiation
from ._registry import RawScan, register_reader, register_writer
from ._writeutil import exact_number, nominal_step, one_line, stated_radiation
from ._xml import local, open_zip, parse_xml, read_member

__all__ = ["read_asc", "read_ras", "read_rasx", "sniff_asc", "sniff_ras", "write_ras"]

#: First line of every RAS file.
_RAS_MAGIC = b"*RAS_DATA_START"

#: UTF-8 byte-order mark that some Rigaku exports put before the first line.
_BOM = b"\xef\xbb\xbf"

#: Rigaku tube targets given by atomic number (``*TARGET = 29`` in ``.asc``).
_TARGET_BY_Z = {24: "Cr", 26: "Fe", 27: "Co", 29: "Cu", 42: "Mo", 47: "Ag"}

_PROFILE = re.compile(r"^Data(\d+)/Profile(\d+)\.txt$", re.IGNORECASE)
_CONDITIONS = re.compile(r"^Data(\d+)/Me(?:a)?surementConditions(\d+)\.xml$", re.IGNORECASE)
_IMAGE = re.compile(r"^Data\d+/Image\d+\.bin$", re.IGNORECASE)


def sniff_ras(head: bytes) -> bool:
    """True when the file starts with ``*RAS_DATA_START``."""
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    return head.lstrip().startswith(_RAS_MAGIC)


def sniff_asc(head: bytes) -> bool:
    """True for the Rigaku ASCII export (``*TYPE`` and ``*CLASS`` header keys)."""
    return b"*TYPE" in head and b"*CLASS" in head


# --------------------------------------------------------------------------- shared
def _decode(data: bytes) -> str:
    """Text of a Rigaku file: UTF-8 if valid, else Shift-JIS (cp932), else latin-1."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _english(value: str) -> str:
    """``"日本語|English"`` -> ``"English"``; other values unchanged (stripped)."""
    value = value.strip()
    if "|" in value:
        parts = [p.strip() for p in value.split("|")]
        return parts[-1] or parts[0]
    return value


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(str(value).strip())
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _anode(target: str | None) -> str | None:
    """Anode symbol from a target name (``"Cu"``) or atomic number (``"29"``)."""
    if not target:
        return None
    t = target.strip()
    z = _num(t)
    if z is not None:
        return _TARGET_BY_Z.get(int(z))
    t = t.split()[0].capitalize() if t.split() else ""
    return t if t.isalpha() and len(t) <= 2 else None


def _radiation(
    a1: Any,
    a2: Any,
    ratio: Any,
    target: str | None,
    wave_type: str | None,
    path: str,
) -> tuple[Radiation | None, dict[str, Any]]:
    """Radiation from the stated wavelengths, else from the tube target.

    ``wave_type`` is Rigaku's ``Ka`` / ``Ka1`` / ``K-ALPHA`` / ``K-ALPHA1``: a
    ``Ka1`` beam (a Kα1 monochromator) has no Kα2 line.
    """
    meta: dict[str, Any] = {}
    anode = _anode(target)
    wt = re.sub(r"[^a-z0-9]", "", (wave_type or "").lower())
    if wave_type:
        meta["wave_type"] = wave_type.strip()
    mono = wt in ("ka1", "kalpha1")
    rad, rad_meta = file_radiation(
        _num(a1), _num(a2), _num(ratio), anode, what="Rigaku file", path=path, one_line=mono
    )
    return rad, {**meta, **rad_meta}


def _is_two_theta_axis(axis: str) -> bool:
    """True for scan axes that step the detector through 2θ (2θ, 2θ/θ, 2θ/ω, 2θχ...)."""
    a = re.sub(r"[^a-z0-9]", "", axis.lower())
    return "twotheta" in a or "2theta" in a


def _count_time(speed: Any, unit: Any, step: Any) -> float | None:
    """Counting time per step (s) from a scan speed and its unit."""
    v, s = _num(speed), _num(step)
    u = re.sub(r"\s", "", str(unit or "")).lower()
    if v is None or v <= 0:
        return None
    if "/min" in u and s:
        return abs(s) * 60.0 / v
    if u.startswith("sec") or u in ("s", "s/step"):
        return v
    return None


def _rows(lines: list[str], what: str, path: str) -> np.ndarray:
    """Whitespace-separated numeric rows -> 2-D array (at least 2 columns, all alike)."""
    out: list[list[float]] = []
    width = None
    for n, line in enumerate(lines, start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise LoadError(path, f"{what}: row {n} is not numeric ({line.strip()[:40]!r})") from None
        if width is None:
            width = len(vals)
            if width < 2:
                raise LoadError(path, f"{what}: rows have one column; angle and counts expected")
        elif len(vals) != width:
            raise LoadError(path, f"{what}: row {n} has {len(vals)} values where the others have {width}")
        out.append(vals)
    if not out:
        return np.empty((0, 2))
    return np.array(out, dtype=np.float64)


def _bulk_rows(data: bytes, what: str, path: str) -> np.ndarray | None:
    """A clean profile table parsed in bulk (memory ~ its numbers), or None for the row-by-row parser."""
    from .text import NotATable, numeric_table

    try:
        rows = numeric_table(data, delimiter=",", path=f"{path}: {what}")
    except NotATable:
        return None
    return rows if rows is not None and rows.shape[1] >= 2 else None


def _xy(rows: np.ndarray, meta: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Angle and intensity; a third column (attenuator factor) is multiplied in."""
    x, y = rows[:, 0], rows[:, 1]
    if rows.shape[1] >= 3:
        factor = rows[:, 2]
        if factor.size and (factor != 1.0).any():
            y = y * factor
            meta["attenuation_applied"] = True
            meta["max_attenuation_factor"] = float(factor.max())
    return x, y


def _drop_empty(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if v not in (None, "")}


# --------------------------------------------------------------------------- RAS


@register_reader(
    "rigaku_ras",
    suffixes=(".ras",),
    description="Rigaku RAS",
    sniff=sniff_ras,
    kind="xrd",
    priority=20,
)
def read_ras(data: bytes, path: str) -> list[RawScan]:
    """Read every scan of a Rigaku ``.ras`` file.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per ``*RAS_HEADER``/``*RAS_INT`` pair, in file order.

    Raises
    ------
    LoadError
        Missing markers (a truncated file), non-numeric rows.
    UnsupportedFormatError
        A scan whose axis is not 2θ (ω, χ, φ, Z...).
    """
    lines = _decode(data).splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first != "*RAS_DATA_START":
        raise LoadError(path, "not a Rigaku RAS file (no *RAS_DATA_START on the first line)")

    scans: list[RawScan] = []
    header: dict[str, str] = {}
    have_header = False
    state = "top"
    skip_until = ""
    rows: list[str] = []
    finished = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if state == "skip":
            if line == skip_until:
                state = "top"
            continue
        if state == "int":
            if line == "*RAS_INT_END":
                scans.append(_ras_scan(header, rows, len(scans), path))
                header, have_header, rows, state = {}, False, [], "top"
            elif line.startswith("*"):
                raise LoadError(path, f"RAS line {lineno}: {line[:40]!r} inside the data block")
            else:
                rows.append(line)
            continue
        if state == "header":
            if line == "*RAS_HEADER_END":
                state = "top"
            elif line.startswith("*"):
                key, _, value = line[1:].partition(" ")
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                header[key] = value
            continue
        # top level; files written by concatenating RAS files repeat the outer markers
        if line == "*RAS_DATA_START":
            finished = False
            continue
        if finished:
            break  # whatever follows the final *RAS_DATA_END is not data
        if line == "*RAS_DATA_END":
            finished = True
        elif line == "*RAS_HEADER_START":
            header, have_header, state = {}, True, "header"
        elif line == "*RAS_INT_START":
            if not have_header:
                raise LoadError(path, f"RAS line {lineno}: data block without a header block")
            state, rows = "int", []
        elif line.startswith("*RAS_") and line.endswith("_START"):
            state, skip_until = "skip", line[: -len("_START")] + "_END"
        else:
            raise LoadError(path, f"RAS line {lineno}: unexpected {line[:40]!r}")
    if not finished:
        where = {"int": "inside a data block", "header": "inside a header block"}.get(state, "")
        raise LoadError(path, f"RAS file is truncated {where} (no *RAS_DATA_END)".replace("  ", " "))
    if not scans:
        raise LoadError(path, "RAS file holds no *RAS_INT_START data block")
    return scans


def _ras_scan(h: dict[str, str], lines: list[str], index: int, path: str) -> RawScan:
    where = f"RAS scan {index}"
    axis = _english(h.get("MEAS_SCAN_AXIS_X_INTERNAL") or h.get("MEAS_SCAN_AXIS_X") or "")
    if axis and not _is_two_theta_axis(axis):
        raise UnsupportedFormatError(
            path,
            f"{where} is a {axis!r} scan, not a 2θ scan; only 2θ, 2θ/θ and 2θ/ω scans are supported",
        )
    unit_x = (h.get("MEAS_SCAN_UNIT_X") or "deg").strip().lower()
    if unit_x and not unit_x.startswith("deg"):
        raise UnsupportedFormatError(path, f"{where} gives its angle in {unit_x!r}, not degrees")
    rows = _rows(lines, where, path)
    meta: dict[str, Any] = {"x_unit": "2theta_deg"}
    x, y = _xy(rows, meta)

    ratio_key = next((k for k in h if k.startswith("HW_XG_") and "RATIO" in k), None)
    radiation, rad_meta = _radiation(
        h.get("HW_XG_WAVE_LENGTH_ALPHA1"),
        h.get("HW_XG_WAVE_LENGTH_ALPHA2"),
        h.get(ratio_key) if ratio_key else None,
        h.get("HW_XG_TARGET_NAME"),
        h.get("MEAS_COND_XG_WAVE_TYPE"),
        path,
    )
    meta.update(rad_meta)
    if radiation is not None:
        meta["radiation"] = radiation
    kbeta = _num(h.get("HW_XG_WAVE_LENGTH_BETA"))
    counting = _count_time(h.get("MEAS_SCAN_SPEED"), h.get("MEAS_SCAN_SPEED_UNIT"), h.get("MEAS_SCAN_STEP"))
    meta.update(
        {
            "sample": _english(h.get("FILE_SAMPLE", "")),
            "memo": _english(h.get("FILE_MEMO", "")),
            "comment": _english(h.get("FILE_COMMENT", "")),
            "operator": _english(h.get("FILE_OPERATOR", "")),
            "instrument": _english(h.get("HW_GONIOMETER_NAME", "")),
            "file_type": h.get("FILE_TYPE"),
            "date": h.get("MEAS_SCAN_START_TIME"),
            "end_date": h.get("MEAS_SCAN_END_TIME"),
            "scan_axis": axis or None,
            "scan_mode": h.get("MEAS_SCAN_MODE"),
            "scan_speed": _num(h.get("MEAS_SCAN_SPEED")),
            "scan_speed_unit": h.get("MEAS_SCAN_SPEED_UNIT"),
            "counting_time": counting,
            "y_unit": h.get("MEAS_SCAN_UNIT_Y"),
            "points_declared": _num(h.get("MEAS_DATA_COUNT")),
            "tube_voltage_kV": _num(h.get("MEAS_COND_XG_VOLTAGE")),
            "tube_current_mA": _num(h.get("MEAS_COND_XG_CURRENT")),
            "anode": h.get("HW_XG_TARGET_NAME"),
            "kbeta": kbeta,
            "optics": _english(h.get("MEAS_COND_OPT_NAME", "")),
            "detector": _english(h.get("HW_COUNTER_SELECT_NAME", "")),
        }
    )
    if meta.get("points_declared") is not None:
        meta["points_declared"] = int(meta["points_declared"])
    return RawScan(x=x, y=y, kind="xrd", meta=_drop_empty(meta))


# --------------------------------------------------------------------------- RASX


@register_reader(
    "rigaku_rasx",
    suffixes=(".rasx",),
    description="Rigaku RASX (SmartLab Studio II)",
    sniff=None,
    kind="xrd",
    priority=20,
)
def read_rasx(data: bytes, path: str) -> list[RawScan]:
    """Read every profile of a Rigaku ``.rasx`` archive.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per ``DataN/ProfileM.txt``, ordered by N then M.

    Raises
    ------
    LoadError
        A bad zip, a missing profile, unreadable XML or rows.
    UnsupportedFormatError
        An archive holding only 2-D detector images, or a non-2θ scan.
    """
    what = "Rigaku RASX"
    with open_zip(data, path, what) as zf:
        names = zf.namelist()
        profiles = sorted(
            ((int(m.group(1)), int(m.group(2)), n) for n in names if (m := _PROFILE.match(n))),
        )
        if not profiles:
            if any(_IMAGE.match(n) for n in names):
                raise UnsupportedFormatError(
                    path,
                    "Rigaku RASX holding 2-D detector images (Data*/Image*.bin) is not "
                    "supported; export the integrated 1-D profile",
                )
            raise LoadError(path, "Rigaku RASX archive holds no Data*/Profile*.txt")
        conditions = {(int(m.group(1)), int(m.group(2))): n for n in names if (m := _CONDITIONS.match(n))}
        scans = []
        for d, p, name in profiles:
            cond_name = conditions.get((d, p)) or next(
                (n for (cd, _cp), n in sorted(conditions.items()) if cd == d), None
            )
            cond = None
            if cond_name:
                cond = parse_xml(read_member(zf, cond_name, path, what), path, f"{what} {cond_name}")
            text = read_member(zf, name, path, what)
            scans.append(_rasx_scan(text, cond, name, cond_name, path))
    return scans


def _find(el: ET.Element | None, *names: str) -> ET.Element | None:
    for name in names:
        if el is None:
            return None
        el = next((c for c in el if local(c.tag) == name), None)
    return el


def _ftext(el: ET.Element | None, *names: str) -> str | None:
    found = _find(el, *names)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _rasx_scan(
    text_bytes: bytes, cond: ET.Element | None, name: str, cond_name: str | None, path: str
) -> RawScan:
    where = f"Rigaku RASX {name}"
    scan_info = _find(cond, "ScanInformation")
    axis = _ftext(scan_info, "AxisName") or ""
    if axis and not _is_two_theta_axis(axis):
        raise UnsupportedFormatError(
            path,
            f"{where} is a {axis!r} scan, not a 2θ scan; only 2θ, 2θ/θ and 2θ/ω scans are supported",
        )
    unit_x = (_ftext(scan_info, "PositionUnit") or "deg").lower()
    if not unit_x.startswith("deg"):
        raise UnsupportedFormatError(path, f"{where} gives its angle in {unit_x!r}, not degrees")
    rows = _bulk_rows(text_bytes, where, path)
    if rows is None:
        rows = _rows(_decode(text_bytes).splitlines(), where, path)
    meta: dict[str, Any] = {"x_unit": "2theta_deg", "rasx_member": name}
    if cond_name:
        meta["rasx_conditions"] = cond_name
    x, y = _xy(rows, meta)

    gen = _find(cond, "HWConfigurations", "XrayGenerator")
    general = _find(cond, "GeneralInformation")
    ras_header = _ras_header_pairs(_find(cond, "RASHeader"))
    ratio_key = next((k for k in ras_header if k.startswith("HW_XG_") and "RATIO" in k), None)
    radiation, rad_meta = _radiation(
        _ftext(gen, "WavelengthKalpha1"),
        _ftext(gen, "WavelengthKalpha2"),
        ras_header.get(ratio_key) if ratio_key else None,
        _ftext(gen, "TargetName"),
        _ftext(gen, "WaveType"),
        path,
    )
    meta.update(rad_meta)
    if radiation is not None:
        meta["radiation"] = radiation
    count = _num(_ftext(scan_info, "DataCount"))
    meta.update(
        {
            "sample": _english(_ftext(general, "SampleName") or ""),
            "memo": _ftext(general, "Memo"),
            "comment": _ftext(general, "Comment"),
            "operator": _ftext(general, "Operator"),
            "instrument": _ftext(general, "SystemName"),
            "date": _ftext(scan_info, "StartTime"),
            "end_date": _ftext(scan_info, "EndTime"),
            "scan_axis": axis or None,
            "scan_mode": _ftext(scan_info, "Mode"),
            "scan_speed": _num(_ftext(scan_info, "Speed")),
            "scan_speed_unit": _ftext(scan_info, "SpeedUnit"),
            "counting_time": _count_time(
                _ftext(scan_info, "Speed"), _ftext(scan_info, "SpeedUnit"), _ftext(scan_info, "Step")
            ),
            "y_unit": _ftext(scan_info, "IntensityUnit"),
            "points_declared": int(count) if count is not None else None,
            "tube_voltage_kV": _num(_ftext(gen, "Voltage")),
            "tube_current_mA": _num(_ftext(gen, "Current")),
            "anode": _ftext(gen, "TargetName"),
            "kbeta": _num(_ftext(gen, "WavelengthKbeta")),
        }
    )
    return RawScan(x=x, y=y, kind="xrd", meta=_drop_empty(meta))


def _ras_header_pairs(el: ET.Element | None) -> dict[str, str]:
    """``<RASHeader><Pair><string>*KEY</string><string>value</string></Pair>…`` -> dict."""
    out: dict[str, str] = {}
    if el is None:
        return out
    for pair in el:
        strings = [(s.text or "").strip() for s in pair if local(s.tag) == "string"]
        if len(strings) >= 2 and strings[0]:
            out[strings[0].lstrip("*")] = strings[1]
    return out


# --------------------------------------------------------------------------- ASC


@register_reader(
    "rigaku_asc",
    suffixes=(".asc",),
    description="Rigaku ASCII export (.asc)",
    sniff=sniff_asc,
    kind="xrd",
    priority=40,
)
def read_asc(data: bytes, path: str) -> list[RawScan]:
    """Read every group of a Rigaku ``.asc`` ASCII export.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per ``*BEGIN`` … ``*END`` group, in file order.

    Raises
    ------
    LoadError
        Missing ``*START``/``*STEP``/``*COUNT``, a count that disagrees with the
        data, a group without ``*END`` (a truncated file).
    UnsupportedFormatError
        A scan whose axis is not 2θ.
    """
    lines = _decode(data).splitlines()
    if not any(ln.strip().upper().startswith("*TYPE") for ln in lines[:20]):
        raise LoadError(path, "not a Rigaku ASCII file (no *TYPE header line)")
    top: dict[str, str] = {}
    group: dict[str, str] | None = None
    values: list[str] = []
    in_data = False
    scans: list[RawScan] = []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("*"):
            key, _, value = line[1:].partition("=")
            key, value = key.strip().upper(), value.strip()
            if key == "BEGIN":
                if group is not None:
                    raise LoadError(path, f"ASC line {lineno}: *BEGIN inside an unfinished group")
                group, values, in_data = {}, [], False
            elif key == "END":
                if group is None:
                    raise LoadError(path, f"ASC line {lineno}: *END without *BEGIN")
                scans.append(_asc_scan(top, group, values, len(scans), path))
                group, values, in_data = None, [], False
            elif key == "EOF":
                break
            else:
                target = group if group is not None else top
                target.setdefault(key, value)
                in_data = group is not None and key == "COUNT"
            continue
        if not in_data:
            raise LoadError(path, f"ASC line {lineno}: data outside a *BEGIN … *COUNT group")
        values.append(line)
    if group is not None:
        raise LoadError(path, "ASC file is truncated (a group has no *END)")
    if not scans:
        raise LoadError(path, "ASC file holds no *BEGIN … *END data group")
    return scans


def _asc_scan(top: dict[str, str], g: dict[str, str], lines: list[str], index: int, path: str) -> RawScan:
    where = f"ASC group {index}"
    h = {**top, **g}
    axis = h.get("SCAN_AXIS") or h.get("SCAN_MODE") or ""
    if axis and not _is_two_theta_axis(axis):
        raise UnsupportedFormatError(
            path,
            f"{where} is a {axis!r} scan, not a 2θ scan; only 2θ and 2θ/θ scans are supported",
        )
    start, step, count = _num(g.get("START")), _num(g.get("STEP")), _num(g.get("COUNT"))
    if start is None or step is None or count is None:
        raise LoadError(path, f"{where} lacks a numeric *START, *STEP or *COUNT")
    if step == 0 or count != int(count) or count < 0:
        raise LoadError(path, f"{where} has *STEP {step:g} / *COUNT {count:g}; cannot build 2θ")
    try:
        y = np.array([float(v) for ln in lines for v in ln.replace(",", " ").split()], dtype=np.float64)
    except ValueError:
        raise LoadError(path, f"{where} holds a value that is not a number") from None
    if y.size != int(count):
        raise LoadError(path, f"{where} holds {y.size} values but *COUNT says {int(count)}")
    x = start + step * np.arange(y.size, dtype=np.float64)

    radiation, rad_meta = _radiation(
        h.get("WAVE_LENGTH1"),
        h.get("WAVE_LENGTH2"),
        next((v for k, v in h.items() if "WAVE" in k and "RATIO" in k), None),
        h.get("TARGET"),
        h.get("XRAY_CHAR"),
        path,
    )
    meta: dict[str, Any] = {"x_unit": "2theta_deg"}
    meta.update(rad_meta)
    if radiation is not None:
        meta["radiation"] = radiation
    gonio = (h.get("GONIO") or "").split(",")[0].strip()
    meta.update(
        {
            "sample": h.get("SAMPLE"),
            "comment": h.get("COMMENT"),
            "memo": h.get("MEMO"),
            "file_name": h.get("FNAME"),
            "date": h.get("DATE"),
            "instrument": gonio,
            "scan_axis": axis or None,
            "scan_mode": h.get("MEAS_MODE"),
            "scan_speed": _num(g.get("SPEED")),
            "scan_speed_unit": h.get("SPEED_DIM"),
            "counting_time": _count_time(g.get("SPEED"), h.get("SPEED_DIM"), step),
            "y_unit": h.get("YUNIT"),
            "tube_voltage_kV": _num(g.get("KV")),
            "tube_current_mA": _num(g.get("MA")),
            "anode": _anode(h.get("TARGET")),
            "stop": _num(g.get("STOP")),
            "filter": h.get("FILTER"),
            "detector": (h.get("COUNTER") or "").split(",")[0].strip(),
        }
    )
    return RawScan(x=x, y=y, kind="xrd", meta=_drop_empty(meta))


# --------------------------------------------------------------------------- RAS writer


def _ras_text(value: object) -> str:
    """A header value on one line, without ``|`` (the reader keeps only what follows one)."""
    return one_line(value).replace("|", "/")


def write_ras(scan, path: str) -> None:
    """Write an XRD scan as a Rigaku ``.ras`` file that :func:`read_ras` reads back.

    One ``*RAS_HEADER`` block and one ``*RAS_INT`` block of rows
    ``2θ  intensity  1`` (attenuator factor 1). Every number is written with
    enough digits to read back as the same float64, so 2θ and intensities
    round-trip exactly. The header states the sample, the wavelengths
    (``*HW_XG_WAVE_LENGTH_ALPHA1``/``ALPHA2`` and the Kα2/Kα1 ratio; not
    written when the scan's radiation is only the assumed default), the target,
    the scan range and speed (from the counting time) and the instrument. The
    file is UTF-8 (the reader also accepts Rigaku's Shift-JIS).

    Parameters
    ----------
    scan : Scan
        An XRD scan.
    path : str
        The file to write.
    """
    x = np.asarray(scan.x, dtype=np.float64)
    y = np.asarray(scan.y, dtype=np.float64)
    meta = scan.meta
    step = nominal_step(x)  # informational: every 2θ is written
    header: list[tuple[str, str]] = [
        ("FILE_COMMENT", ""),
        ("FILE_MEMO", "written by phasetrace"),
        ("FILE_SAMPLE", _ras_text(meta.sample) if meta.sample else ""),
        ("FILE_TYPE", "RAS_RAW"),
    ]
    if meta.instrument:
        header.append(("HW_GONIOMETER_NAME", _ras_text(meta.instrument)))
    rad = stated_radiation(meta)
    if rad is not None and rad.anode:
        header.append(("HW_XG_TARGET_NAME", rad.anode))
    if rad is not None:
        header.append(("HW_XG_WAVE_LENGTH_ALPHA1", exact_number(rad.kalpha1)))
        if rad.kalpha2 is not None:
            header.append(("HW_XG_WAVE_LENGTH_ALPHA2", exact_number(rad.kalpha2)))
            header.append(("HW_XG_WAVE_LENGTH_RATIO_ALPHA2_ALPHA1", exact_number(rad.ratio)))
        header.append(("MEAS_COND_XG_WAVE_TYPE", "Ka1" if rad.kalpha2 is None else "Ka"))
    header += [
        ("MEAS_DATA_COUNT", str(x.size)),
        ("MEAS_SCAN_AXIS_X", "2-Theta/Theta"),
        ("MEAS_SCAN_AXIS_X_INTERNAL", "TwoThetaTheta"),
        ("MEAS_SCAN_MODE", "CONTINUOUS"),
    ]
    if meta.counting_time and meta.counting_time > 0 and step > 0:
        header += [
            ("MEAS_SCAN_SPEED", exact_number(step * 60.0 / meta.counting_time)),
            ("MEAS_SCAN_SPEED_UNIT", "deg/min"),
        ]
    header += [
        ("MEAS_SCAN_START", exact_number(x[0])),
        ("MEAS_SCAN_STEP", exact_number(step)),
        ("MEAS_SCAN_STOP", exact_number(x[-1])),
        ("MEAS_SCAN_UNIT_X", "deg"),
        ("MEAS_SCAN_UNIT_Y", "counts"),
    ]
    lines = ["*RAS_DATA_START", "*RAS_HEADER_START"]
    lines += [f'*{key} "{value}"' for key, value in header]
    lines += ["*RAS_HEADER_END", "*RAS_INT_START"]
    lines += [f"{exact_number(a)} {exact_number(b)} 1" for a, b in zip(x, y, strict=True)]
    lines += ["*RAS_INT_END", "*RAS_DATA_END", ""]
    with open(path, "w", encoding="utf-8", newline="\r\n") as fh:
        fh.write("\n".join(lines))


register_writer(
    "rigaku_ras",
    suffixes=(".ras",),
    description="Rigaku RAS text",
    kinds=("xrd",),
)(write_ras)
