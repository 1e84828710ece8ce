"""Bruker text and XML scan files: ``.uxd`` (DIFFRAC plus text export) and ``.brml`` (DIFFRAC.SUITE).

The binary Bruker ``.raw`` lives in :mod:`phasetrace.io.bruker_raw`.

``.uxd``
    Text: ``; comment`` lines, ``_KEY=value`` lines (file header, then per range
    ``_DRIVE``, ``_START``, ``_STEPSIZE``, ``_STEPTIME`` ...) and per range one
    data block introduced by a bare marker line: ``_2THETACOUNTS`` /
    ``_2THETACPS`` (rows ``2θ  intensity``) or ``_COUNTS`` / ``_CPS``
    (intensities only, one or several per line; 2θ from ``_START`` and
    ``_STEPSIZE``). Wavelengths: ``_WL1``, ``_WL2``, ``_WLRATIO``, ``_ANODE``.
``.brml``
    A zip of XML. Each scan is an ``Experiment<i>/RawData<j>.xml`` (listed in
    order by ``Experiment<i>/DataContainer.xml``) whose ``DataRoute`` holds one
    ``<Datum>`` row of comma-separated values per point. What each column is,
    is described by the route's ``<DataViews>``: ``FixedRawDataView`` columns
    named by ``LogicName`` (``MeasuredTime``, ``AbsorptionFactor``), a
    ``VaryingRawDataView`` whose ``FieldDefinitions`` name the stepped axes in
    column order (``TwoTheta``, ``Theta``...) and a ``RecordedRawDataView``, the
    detector counts. Without ``DataViews`` the common five-column layout
    ``time, absorber, 2θ, θ, counts`` is assumed only when every row has exactly
    five values. The stored intensity is kept as it is (DIFFRAC stores it
    already corrected by the absorption factor, which is recorded in the
    metadata). The BRML reader was written from the format description and
    checked on constructed files only: no real ``.brml`` was available.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import numpy as np

from ..errors import LoadError, UnsupportedFormatError
from ..scan import Radiation
from ._decode import decode_export
from ._radiation import file_radiation
from ._registry import RawScan, register_reader, register_writer
from ._writeutil import exact_number, nominal_step, one_line, stated_radiation
from ._xml import local, open_zip, parse_xml, read_member

__all__ = ["read_brml", "read_uxd", "slit_mode_meta", "sniff_uxd", "write_uxd"]

# --------------------------------------------------------------------------- UXD

#: Bare data-block markers of UXD -> (has a 2θ column, intensity unit).
_UXD_MARKERS = {
    "_2THETACOUNTS": (True, "counts"),
    "_2THETACPS": (True, "cps"),
    "_COUNTS": (False, "counts"),
    "_CPS": (False, "cps"),
}

#: ``_DRIVE`` values that do not step 2θ (the scan is then of another axis).
_UXD_NON_2THETA_DRIVES = frozenset({"THETA", "OMEGA", "PHI", "CHI", "KHI", "PSI", "X", "Y", "Z"})

#: Other bare markers that name a data block (e.g. ``_PSDCOUNTS``): a UXD variant.
_UXD_OTHER_MARKER = re.compile(r"^_\w*(?:COUNTS|CPS)\w*$")

#: A UXD data marker alone on its line, for the sniffer.
_UXD_MARKER_LINE = re.compile(rb"^_(?:2THETA)?(?:COUNTS|CPS)\s*$", re.MULTILINE)


def sniff_uxd(head: bytes) -> bool:
    """True for a UXD header (``_FILEVERSION``, or ``;`` comments and a data marker)."""
    if b"_FILEVERSION" in head:
        return True
    return head.lstrip().startswith(b";") and _UXD_MARKER_LINE.search(head) is not None


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(str(value).strip())
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value.strip()


@register_reader(
    "bruker_uxd",
    suffixes=(".uxd",),
    description="Bruker UXD text",
    sniff=sniff_uxd,
    kind="xrd",
    priority=20,
)
def read_uxd(data: bytes, path: str) -> list[RawScan]:
    """Read every range of a Bruker ``.uxd`` file.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per data block (range), in file order.

    Raises
    ------
    LoadError
        No data block, non-numeric or ragged rows, missing ``_START``/``_STEPSIZE``
        for an intensities-only block.
    UnsupportedFormatError
        An unknown data-block marker or a range that does not step 2θ.
    """
    header: dict[str, str] = {}
    range_keys: dict[str, str] = {}
    blocks: list[tuple[dict[str, str], str, list[str], int]] = []
    current: list[str] | None = None
    for lineno, raw in enumerate(decode_export(data).splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(";"):
            current = None
            continue
        if line.startswith("_"):
            current = None
            if "=" in line:
                key, _, value = line.partition("=")
                target = range_keys if blocks else header
                target[key.strip().upper()] = _unquote(value)
                continue
            marker = line.split()[0].upper()
            if marker not in _UXD_MARKERS:
                if _UXD_OTHER_MARKER.match(marker):
                    raise UnsupportedFormatError(
                        path,
                        f"UXD data block {marker!r} (line {lineno}) is not supported; "
                        f"known: {', '.join(_UXD_MARKERS)}",
                    )
                raise LoadError(
                    path,
                    f"UXD line {lineno}: {line[:30]!r} is neither a _KEY=value line nor a "
                    "data-block marker (truncated or corrupted file)",
                )
            current = []
            blocks.append(({**header, **range_keys}, marker, current, lineno))
            range_keys = {}
            continue
        if current is None:
            raise LoadError(path, f"UXD line {lineno}: data {line[:30]!r} outside a data block")
        current.append(line)
    if not blocks:
        raise LoadError(path, "UXD file holds no data block (_2THETACOUNTS, _COUNTS...)")
    return [_uxd_scan(keys, marker, rows, ln, path) for keys, marker, rows, ln in blocks]


def _uxd_scan(keys: dict[str, str], marker: str, lines: list[str], lineno: int, path: str) -> RawScan:
    where = f"UXD range at line {lineno}"
    drive = keys.get("_DRIVE", "").upper()
    if drive in _UXD_NON_2THETA_DRIVES:
        raise UnsupportedFormatError(
            path, f"{where} is a {drive!r}-drive scan, not a 2θ scan; only 2θ scans are supported"
        )
    has_x, unit = _UXD_MARKERS[marker]
    if has_x:
        width = None
        xs: list[float] = []
        ys: list[float] = []
        for n, ln in enumerate(lines):
            parts = ln.replace(",", " ").split()
            if width is None:
                width = len(parts)
            if len(parts) != width or width < 2:
                raise LoadError(path, f"{where}: data row {n + 1} ({ln[:30]!r}) is incomplete")
            try:
                xs.append(float(parts[0]))
                ys.append(float(parts[1]))
            except ValueError:
                raise LoadError(path, f"{where}: data row {n + 1} is not numeric") from None
        x = _stated_grid(np.array(xs), [ln.replace(",", " ").split()[0] for ln in lines], keys)
        y = np.array(ys)
    else:
        try:
            y = np.array([float(v) for ln in lines for v in ln.replace(",", " ").split()])
        except ValueError:
            raise LoadError(path, f"{where}: a value is not a number") from None
        start, step = _num(keys.get("_START")), _num(keys.get("_STEPSIZE"))
        if start is None or not step:
            raise LoadError(path, f"{where}: {marker} block without a numeric _START and _STEPSIZE")
        x = start + step * np.arange(y.size, dtype=np.float64)

    meta: dict[str, Any] = {"x_unit": "2theta_deg", "y_unit": unit, "data_block": marker}
    radiation, rad_meta = _uxd_radiation(keys, path)
    meta.update(rad_meta)
    if radiation is not None:
        meta["radiation"] = radiation
    meta.update(
        {
            "sample": keys.get("_SAMPLE"),
            "operator": keys.get("_USER"),
            "site": keys.get("_SITE"),
            "date": keys.get("_DATEMEASURED"),
            "uxd_version": keys.get("_FILEVERSION"),
            "goniometer_radius_mm": _num(keys.get("_GONIOMETER_RADIUS")),
            "counting_time": _num(keys.get("_STEPTIME")),
            "scan_axis": keys.get("_DRIVE"),
            "scan_mode": {"C": "continuous", "S": "step"}.get(
                keys.get("_STEPMODE", "").upper(), keys.get("_STEPMODE")
            ),
            "tube_voltage_kV": _num(keys.get("_KV")),
            "tube_current_mA": _num(keys.get("_MA")),
            "divergence_slit": keys.get("_VARDIVERGENCE") or keys.get("_FIXED_DIVSLIT"),
            "range_wavelength": _num(keys.get("_RANGE_WL")),
        }
    )
    meta.update(slit_mode_meta(keys.get("_VARDIVERGENCE"), _num(keys.get("_FIXED_DIVSLIT"))))
    return RawScan(x=x, y=y, kind="xrd", meta={k: v for k, v in meta.items() if v not in (None, "")})


#: DIFFRAC plus's code of a variable (automatic) divergence slit: "V" and the irradiated length, mm.
_VARIABLE_SLIT = re.compile(r"^V\s*(\d+(?:\.\d+)?)$", re.IGNORECASE)


def slit_mode_meta(variable: str | None, fixed: float | None = None) -> dict[str, Any]:
    """Divergence-slit metadata of a Bruker file in the keys the XRDML reader uses.

    ``variable`` is the variable-slit code (UXD ``_VARDIVERGENCE``, RAW range header), ``fixed``
    the fixed slit's opening. A variable slit ("V6": 6 mm irradiated length) keeps the irradiated
    length constant, so the intensities grow with sin θ against a fixed slit's; with these keys
    the instrument description (:func:`phasetrace.quantify.instrument.metadata_instrument`)
    corrects for it, as it does for an XRDML automatic slit. The fixed opening is not stated as an
    angle: Bruker gives it in mm or degrees depending on the instrument.
    """
    m = _VARIABLE_SLIT.match((variable or "").strip())
    if m and float(m.group(1)) > 0:
        return {"divergence_slit_mode": "automatic", "irradiated_length_mm": float(m.group(1))}
    if fixed:
        return {"divergence_slit_mode": "fixed"}
    return {}


def _decimals(token: str) -> int | None:
    """Digits after the decimal point of a number as written (None for exponent notation)."""
    if "e" in token.lower():
        return None
    _, dot, frac = token.partition(".")
    return len(frac) if dot else 0


def _stated_grid(x: np.ndarray, tokens: list[str], keys: dict[str, str]) -> np.ndarray:
    """2θ from the header's ``_START`` and ``_STEPSIZE`` when the 2θ column is that grid rounded.

    DIFFRAC plus writes the column with four significant digits (3.016, then 39.97 above 10°) while
    the header states the step to six decimals (0.015592): the column's steps alternate between
    0.01 and 0.02 and its positions are off by up to 0.005°. When every value of the column has
    fewer decimals than the stated step and agrees with ``_START + i·_STEPSIZE`` to within one unit
    of its own last decimal (its rounding, and that of the stated step accumulated over the range),
    the grid is taken; otherwise the column is (it may be irregular, or the header stale).
    """
    start, step = _num(keys.get("_START")), _num(keys.get("_STEPSIZE"))
    places = [_decimals(t) for t in tokens]
    step_places = _decimals(keys.get("_STEPSIZE", "").strip())
    if start is None or not step or x.size < 2 or None in places or step_places is None:
        return x
    digits = [d for d in places if d is not None]
    unit = 10.0 ** -np.array(digits, dtype=np.float64)
    if max(digits) >= step_places:
        return x  # the column is as precise as the header: nothing to gain
    grid = start + step * np.arange(x.size, dtype=np.float64)
    off = np.abs(x - grid)
    # a column on the grid to float precision is kept as written (the writer's files read back exactly)
    return grid if bool(np.all(off <= unit)) and float(off.max()) > 1e-9 else x


def _uxd_radiation(keys: dict[str, str], path: str) -> tuple[Radiation | None, dict[str, Any]]:
    scale = 10.0 if keys.get("_WL_UNIT", "A").strip().lower() == "nm" else 1.0
    a1, a2 = _num(keys.get("_WL1")), _num(keys.get("_WL2"))
    ratio = _num(keys.get("_WLRATIO"))
    a1, a2 = (v * scale if v else v for v in (a1, a2))
    return file_radiation(a1, a2, ratio, keys.get("_ANODE"), what="UXD", path=path)


# --------------------------------------------------------------------------- BRML
#: The XML-Schema-instance ``type`` attribute that tells the kinds of ``RawDataView`` apart.
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

_RAWDATA = re.compile(r"^(?:(?:.*/)?Experiment(\d+)/)?RawData(\d+)\.xml$", re.IGNORECASE)

#: Column layout of a ``<Datum>`` row in files without ``DataViews`` (DIFFRAC.SUITE
#: 1-D scans): measured time, absorber factor, 2θ, θ, counts.
_DEFAULT_LAYOUT = {"time": 0, "absorption": 1, "two_theta": 2, "intensity": 4}
_DEFAULT_WIDTH = 5

_WHAT = "Bruker BRML"


@register_reader(
    "bruker_brml",
    suffixes=(".brml",),
    description="Bruker BRML (DIFFRAC.SUITE)",
    sniff=None,
    kind="xrd",
    priority=20,
)
def read_brml(data: bytes, path: str) -> list[RawScan]:
    """Read every 1-D 2θ scan of a Bruker ``.brml`` archive.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per ``RawData*.xml``, in the order the archive's ``DataContainer.xml``
        lists them (else by experiment and number).

    Raises
    ------
    LoadError
        Bad zip, missing members, malformed XML, rows that disagree with their
        description.
    UnsupportedFormatError
        Scans of another axis than 2θ, area-detector frames, stationary
        (still) measurements.
    """
    with open_zip(data, path, _WHAT) as zf:
        members, samples = _brml_members(zf, path)
        fallback_radiation: tuple[Radiation | None, dict[str, Any]] | None = None
        scans = []
        for name in members:
            root = parse_xml(read_member(zf, name, path, _WHAT), path, f"{_WHAT} {name}")
            radiation, rad_meta = _brml_radiation(root, path)
            if radiation is None:
                if fallback_radiation is None:
                    fallback_radiation = _brml_radiation_elsewhere(zf, path)
                radiation, rad_meta = fallback_radiation
            sample = samples.get(name.rpartition("/")[0])
            scans.append(_brml_scan(root, name, sample, radiation, rad_meta, path))
    return scans


def _brml_members(zf: zipfile.ZipFile, path: str) -> tuple[list[str], dict[str, str]]:
    """The raw-data members in measurement order, and the sample name per experiment folder.

    The order is the one ``DataContainer.xml`` lists (``RawDataReferenceList``);
    members it does not list follow, by experiment and raw-data number.
    """
    names = zf.namelist()
    found = {}
    for n in names:
        m = _RAWDATA.match(n)
        if m:
            found[n] = (int(m.group(1) or 0), int(m.group(2)))
    if not found:
        raise LoadError(path, f"{_WHAT} archive holds no Experiment*/RawData*.xml")
    listed: list[str] = []
    samples: dict[str, str] = {}
    for cname in (n for n in names if n.lower().endswith("datacontainer.xml")):
        root = parse_xml(read_member(zf, cname, path, _WHAT), path, f"{_WHAT} {cname}")
        sample = next((e.get("SampleName") for e in root.iter() if e.get("SampleName")), None)
        if sample:
            samples[cname.rpartition("/")[0]] = sample.strip()
        for ref in (e for e in root.iter() if local(e.tag) == "RawDataReferenceList"):
            for item in ref:
                text = (item.text or "").strip().replace("\\", "/")
                if text in found and text not in listed:
                    listed.append(text)
    rest = sorted((n for n in found if n not in listed), key=lambda n: found[n])
    return listed + rest, samples


def _value(el: ET.Element) -> str | None:
    """An element's ``Value`` attribute, else its text."""
    v = el.get("Value")
    if v is None:
        v = el.text
    v = (v or "").strip()
    return v or None


def _first(root: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in root.iter() if local(e.tag) == name), None)


def _brml_radiation(root: ET.Element, path: str) -> tuple[Radiation | None, dict[str, Any]]:
    """Wavelengths from the tube description (``WaveLengthAlpha1`` ... ``TubeMaterial``)."""
    meta: dict[str, Any] = {}

    def wavelength(name: str) -> float | None:
        el = _first(root, name)
        if el is None:
            return None
        v = _num(_value(el))
        if v is not None and (el.get("Unit") or "").strip().lower() == "nm":
            v *= 10.0
        return v

    a1, a2 = wavelength("WaveLengthAlpha1"), wavelength("WaveLengthAlpha2")
    ratio_el = _first(root, "WaveLengthRatio")
    ratio = _num(_value(ratio_el)) if ratio_el is not None else None
    tube = _first(root, "TubeMaterial")
    anode = _value(tube) if tube is not None else None
    anode = anode.strip().capitalize() if anode else None
    if anode:
        meta["anode"] = anode
    rad, rad_meta = file_radiation(a1, a2, ratio, anode, what=_WHAT, path=path)
    return rad, {**meta, **rad_meta}


def _brml_radiation_elsewhere(zf: zipfile.ZipFile, path: str) -> tuple[Radiation | None, dict[str, Any]]:
    """The tube from ``MeasurementContainer.xml`` when the raw data do not describe it."""
    name = next((n for n in zf.namelist() if n.lower().endswith("measurementcontainer.xml")), None)
    if name is None:
        return None, {}
    root = parse_xml(read_member(zf, name, path, _WHAT), path, f"{_WHAT} {name}")
    return _brml_radiation(root, path)


def _view_kind(view: ET.Element) -> str:
    return (view.get(_XSI_TYPE) or view.get("type") or "").rpartition(":")[2]


def _brml_columns(route: ET.Element, member: str, path: str) -> dict[str, Any]:
    """Which ``Datum`` column holds what, from ``DataViews`` (empty dict when absent)."""
    views = [v for v in route.iter() if local(v.tag) == "RawDataView"]
    if not views:
        return {}
    cols: dict[str, Any] = {"stepped": [], "unit": None}
    for view in views:
        try:
            start = int(view.get("Start", ""))
            length = int(view.get("Length", "1"))
        except ValueError:
            raise LoadError(path, f"{_WHAT} {member}: a RawDataView has no usable Start/Length") from None
        if start < 0 or length < 0:
            raise LoadError(path, f"{_WHAT} {member}: a RawDataView has a negative Start/Length")
        kind = _view_kind(view)
        if kind == "FixedRawDataView":
            logic = (view.get("LogicName") or "").lower()
            if logic == "measuredtime":
                cols["time"] = start
            elif logic == "absorptionfactor":
                cols["absorption"] = start
        elif kind == "VaryingRawDataView":
            fields = [f for f in view.iter() if local(f.tag) == "FieldDefinitions"]
            for offset, field in enumerate(fields):
                axis = (field.get("AxisId") or field.get("FieldName") or "").strip()
                cols["stepped"].append(axis)
                if axis.lower() == "twotheta" and "two_theta" not in cols:
                    cols["two_theta"] = start + offset
        elif kind == "RecordedRawDataView":
            if length > 1:
                raise UnsupportedFormatError(
                    path,
                    f"{_WHAT} {member} records {length} detector channels per point "
                    "(an area / position-sensitive detector frame), which is not supported; "
                    "export the integrated 1-D scan",
                )
            if "intensity" not in cols:
                cols["intensity"] = start
                unit = next((u.get("Base") for u in view.iter() if local(u.tag) == "Unit"), None)
                cols["unit"] = unit
    return cols


def _brml_route(root: ET.Element, member: str, path: str) -> ET.Element:
    routes = [r for r in root.iter() if local(r.tag) == "DataRoute"]
    with_data = [r for r in routes if any(local(c.tag) == "Datum" for c in r)]
    if not with_data:
        raise LoadError(path, f"{_WHAT} {member} holds no <Datum> rows")
    if len(with_data) == 1:
        return with_data[0]
    measured = [r for r in with_data if (r.get("RouteFlag") or "").lower() == "measured"]
    return measured[0] if measured else with_data[0]


def _brml_scan(
    root: ET.Element,
    member: str,
    sample: str | None,
    radiation: Radiation | None,
    rad_meta: dict[str, Any],
    path: str,
) -> RawScan:
    route = _brml_route(root, member, path)
    info = next((c for c in route if local(c.tag) == "ScanInformation"), None)
    scan_axes = [
        (a.get("AxisId") or a.get("AxisName") or "").strip()
        for a in (info.iter() if info is not None else [])
        if local(a.tag) == "ScanAxisInfo"
    ]
    has_scale_axes = info is not None and any(local(a.tag) == "ScaleAxisInfo" for a in info.iter())
    rows_text = [(d.text or "").strip() for d in route if local(d.tag) == "Datum"]

    cols = _brml_columns(route, member, path)
    if cols:
        if "two_theta" not in cols:
            stepped = cols["stepped"] or scan_axes
            if not stepped and has_scale_axes:
                raise UnsupportedFormatError(
                    path,
                    f"{_WHAT} {member} is a stationary-detector (still) measurement, "
                    "not a 2θ scan; it is not supported",
                )
            raise UnsupportedFormatError(
                path,
                f"{_WHAT} {member} is a scan of {'/'.join(stepped) or 'no axis'}, not of 2θ; "
                "only 2θ scans are supported",
            )
        if "intensity" not in cols:
            raise LoadError(path, f"{_WHAT} {member} declares no RecordedRawDataView (counts)")
        layout = {k: cols[k] for k in ("time", "absorption", "two_theta", "intensity") if k in cols}
        y_unit = (cols.get("unit") or "counts").lower()
    else:
        if scan_axes and not any(a.lower() == "twotheta" for a in scan_axes):
            raise UnsupportedFormatError(
                path,
                f"{_WHAT} {member} is a scan of {'/'.join(scan_axes)}, not of 2θ; "
                "only 2θ scans are supported",
            )
        widths = {len(r.split(",")) for r in rows_text}
        if widths != {_DEFAULT_WIDTH}:
            raise LoadError(
                path,
                f"{_WHAT} {member} has no <DataViews> and rows of {sorted(widths)} values; "
                f"the column meaning is known only for the {_DEFAULT_WIDTH}-value layout",
            )
        layout = dict(_DEFAULT_LAYOUT)
        y_unit = "counts"

    needed = max(layout.values()) + 1
    rows: list[list[float]] = []
    for i, text in enumerate(rows_text):
        parts = text.split(",")
        if len(parts) < needed:
            raise LoadError(
                path,
                f"{_WHAT} {member}: <Datum> row {i + 1} has {len(parts)} values; its DataViews need {needed}",
            )
        try:
            rows.append([float(p) for p in parts[:needed]])
        except ValueError:
            raise LoadError(path, f"{_WHAT} {member}: <Datum> row {i + 1} is not numeric") from None
    table = np.array(rows, dtype=np.float64).reshape(len(rows), needed)

    x = table[:, layout["two_theta"]]
    y = table[:, layout["intensity"]]
    meta: dict[str, Any] = {"x_unit": "2theta_deg", "y_unit": y_unit, "brml_member": member}
    meta.update(rad_meta)
    if radiation is not None:
        meta["radiation"] = radiation
    if "absorption" in layout:
        a = table[:, layout["absorption"]]
        if a.size and (a != 1.0).any():
            meta["max_absorption_factor"] = float(a.max())
    if info is not None:
        tps = _first(info, "TimePerStep")
        eff = _first(info, "TimePerStepEffective")
        points = _first(info, "MeasurementPoints")
        mode = _first(info, "ScanMode")
        counting = _num(_value(tps)) if tps is not None else None
        if counting is None and "time" in layout and table.size:
            counting = float(np.median(table[:, layout["time"]]))
        meta.update(
            {
                "counting_time": counting,
                "counting_time_effective": _num(_value(eff)) if eff is not None else None,
                "points_declared": _num(_value(points)) if points is not None else None,
                "scan_name": info.get("ScanName") or info.get("VisibleName"),
                "scan_mode": _value(mode) if mode is not None else None,
            }
        )
        if meta["points_declared"] is not None:
            meta["points_declared"] = int(meta["points_declared"])
    meta["scan_axis"] = "/".join(cols.get("stepped") or scan_axes) or None
    for key, tag in (("date", "TimeStampStarted"), ("end_date", "TimeStampFinished")):
        el = next((c for c in root if local(c.tag) == tag), None)
        if el is not None:
            meta[key] = _value(el)
    own_sample = next(
        (
            e.get("Value")
            for e in root.iter()
            if local(e.tag) == "InfoItem" and e.get("Name") == "SampleName" and e.get("Value")
        ),
        None,
    )
    meta["sample"] = own_sample or sample
    machine = next((e.get("MachineName") for e in root.iter() if e.get("MachineName")), None)
    meta["instrument"] = machine
    return RawScan(x=x, y=y, kind="xrd", meta={k: v for k, v in meta.items() if v not in (None, "")})


# --------------------------------------------------------------------------- UXD writer


def _uxd_text(value: object) -> str:
    """A header value on one line (quotes inside it are kept: the reader strips only the outer pair)."""
    return one_line(value)


def write_uxd(scan, path: str) -> None:
    """Write an XRD scan as a Bruker ``.uxd`` text file that :func:`read_uxd` reads back.

    A file header (``_FILEVERSION``, ``_SAMPLE``, ``_WL1``/``_WL2``/``_WLRATIO``,
    ``_ANODE``; no wavelengths when the scan's radiation is only the assumed
    default) and one range (``_DRIVE``, ``_START``, ``_STEPSIZE``,
    ``_STEPTIME``, ``_STEPCOUNT``; ``_VARDIVERGENCE`` for an automatic slit) whose
    ``_2THETACOUNTS`` block holds rows
    ``2θ  intensity`` written with enough digits to read back as the same
    float64: 2θ and intensities round-trip exactly.

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
    lines = [
        "; (Data for Range number 1)",
        "; written by phasetrace",
        "_FILEVERSION=1",
        f"_SAMPLE='{_uxd_text(meta.sample) if meta.sample else ''}'",
    ]
    rad = stated_radiation(meta)
    if rad is not None:
        lines.append(f"_WL1={exact_number(rad.kalpha1)}")
        if rad.kalpha2 is not None and rad.ratio > 0:
            lines.append(f"_WL2={exact_number(rad.kalpha2)}")
            lines.append(f"_WLRATIO={exact_number(rad.ratio)}")
        if rad.anode:
            lines.append(f"_ANODE='{rad.anode}'")
    lines += [
        "",
        "; range 1",
        "_DRIVE='COUPLED'",
        *([f"_STEPTIME={exact_number(meta.counting_time)}"] if meta.counting_time else []),
        "_STEPMODE='C'",
        *_variable_slit_line(meta),
        f"_START={exact_number(x[0])}",
        f"_STEPSIZE={exact_number(step)}",
        f"_STEPCOUNT={x.size}",
        "_2THETACOUNTS",
    ]
    lines += [f"  {exact_number(a)}  {exact_number(b)}" for a, b in zip(x, y, strict=True)]
    lines.append("")
    with open(path, "w", encoding="utf-8", newline="\r\n") as fh:
        fh.write("\n".join(lines))


def _variable_slit_line(meta) -> list[str]:
    """``_VARDIVERGENCE='V6'`` for a scan measured with an automatic slit (XRDML, UXD, RAW).

    The intensity correction the scan needs survives the conversion.
    """
    extra = getattr(meta, "extra", None) or {}
    length = extra.get("irradiated_length_mm")
    if extra.get("divergence_slit_mode") != "automatic" or not length:
        return []
    return [f"_VARDIVERGENCE='V{exact_number(float(length))}'"]


register_writer(
    "bruker_uxd",
    suffixes=(".uxd",),
    description="Bruker UXD text",
    kinds=("xrd",),
)(write_uxd)
