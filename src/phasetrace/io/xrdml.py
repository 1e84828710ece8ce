"""PANalytical / Malvern Panalytical XRDML (``.xrdml``), schema versions 1.0 to 2.x.

An XRDML document is ``<xrdMeasurements>`` holding one or more
``<xrdMeasurement>`` elements, each with its ``<usedWavelength>``, beam-path
description and one or more ``<scan>`` elements. A scan's ``<dataPoints>``
gives the positions of every axis (``startPosition``/``endPosition`` for an
evenly stepped axis, ``listPositions`` for an explicit list, ``commonPosition``
for a fixed one), the counting time, and the intensities:

* ``<intensities>`` (schema 1.x, and some 2.x files): already corrected for the
  beam attenuator; read as they are.
* ``<counts>`` (schema 2.x): raw detector counts "not yet corrected" for the
  attenuator; the ``beamAttenuationFactors`` (or ``commonBeamAttenuationFactor``)
  are multiplied in, so both spellings give intensities on one scale.

The unit (``counts`` or ``counts per second``) is kept as the file has it and
recorded in ``meta["y_unit"]``. Every ``<scan>`` that steps 2θ becomes one
:class:`RawScan`; a scan of another axis (an ω rocking curve, a φ scan, ...) is
an :class:`UnsupportedFormatError` that names the axis.
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
from ._writeutil import exact_number, is_evenly_stepped, one_line, stated_radiation
from ._xml import local, parse_xml

__all__ = ["read_xrdml", "sniff_xrdml", "write_xrdml"]

#: Root element name that every XRDML document starts with (after the XML declaration).
_MAGIC = b"<xrdMeasurements"

#: Scan axes (lower case, spaces removed) along which the detector steps through 2θ.
#: "Gonio" is PANalytical's name for the coupled θ-2θ (Bragg-Brentano) scan.
_TWO_THETA_SCAN_AXES = frozenset(
    {"gonio", "2theta", "2theta-omega", "omega-2theta", "2theta-theta", "theta-2theta"}
)

#: Intensity units as the schema spells them -> short unit recorded in meta.
_Y_UNITS = {"counts": "counts", "counts per second": "cps", "cps": "cps"}


def sniff_xrdml(head: bytes) -> bool:
    """True when the first bytes hold the XRDML root element."""
    return _MAGIC in head


@register_reader(
    "xrdml",
    suffixes=(".xrdml",),
    description="PANalytical XRDML",
    sniff=sniff_xrdml,
    kind="xrd",
    priority=20,
)
def read_xrdml(data: bytes, path: str) -> list[RawScan]:
    """Read every 2θ scan of an XRDML file.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per ``<scan>``, in document order.

    Raises
    ------
    LoadError
        Malformed or truncated XML, missing or inconsistent data points.
    UnsupportedFormatError
        A scan that does not step 2θ (e.g. an ω rocking curve).
    """
    root = parse_xml(data, path, "XRDML")
    if local(root.tag) != "xrdMeasurements":
        raise LoadError(path, f"not an XRDML document (root element <{local(root.tag)}>)")
    version = root.tag[1:].split("}", 1)[0].rsplit("/", 1)[-1] if root.tag.startswith("{") else ""
    file_meta: dict[str, Any] = {"xrdml_version": version or None}
    file_meta.update(_sample_meta(root))
    file_meta.update(_comment_meta(_child(root, "comment")))

    scans: list[RawScan] = []
    for measurement in _children(root, "xrdMeasurement"):
        m_meta = dict(file_meta)
        m_meta.update(_measurement_meta(measurement))
        radiation, rad_meta = _radiation(measurement, path)
        m_meta.update(rad_meta)
        for scan in _children(measurement, "scan"):
            scans.append(_read_scan(scan, m_meta, radiation, path))
    if not scans:
        raise LoadError(path, "XRDML file holds no <scan> element")
    return scans


# --------------------------------------------------------------------------- helpers


def _children(el: ET.Element | None, name: str) -> list[ET.Element]:
    if el is None:
        return []
    return [c for c in el if local(c.tag) == name]


def _child(el: ET.Element | None, name: str) -> ET.Element | None:
    if el is None:
        return None
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def _path(el: ET.Element | None, *names: str) -> ET.Element | None:
    for name in names:
        el = _child(el, name)
        if el is None:
            return None
    return el


def _text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    s = el.text.strip()
    return s or None


def _float(el: ET.Element | None) -> float | None:
    s = _text(el)
    if s is None:
        return None
    try:
        v = float(s)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _floats(el: ET.Element, what: str, path: str) -> np.ndarray:
    s = el.text or ""
    try:
        return np.array(s.split(), dtype=np.float64)
    except ValueError:
        raise LoadError(path, f"XRDML {what} holds a value that is not a number") from None


def _sample_meta(root: ET.Element) -> dict[str, Any]:
    sample = _child(root, "sample")
    out: dict[str, Any] = {}
    sid, name = _text(_child(sample, "id")), _text(_child(sample, "name"))
    if name or sid:
        out["sample"] = name or sid
    if sid:
        out["sample_id"] = sid
    prepared = _text(_child(sample, "preparedBy"))
    if prepared:
        out["prepared_by"] = prepared
    return out


def _comment_meta(comment: ET.Element | None) -> dict[str, Any]:
    entries = [t for t in (_text(e) for e in _children(comment, "entry")) if t]
    out: dict[str, Any] = {}
    if entries:
        out["comments"] = entries
    for entry in entries:
        key, sep, value = entry.partition("=")
        if sep and key.strip() == "Diffractometer system":
            out["diffractometer_system"] = value.strip()
    return out


def _slit_meta(slit: ET.Element | None) -> dict[str, Any]:
    """Divergence-slit mode (fixed/automatic), opening (degrees) and irradiated length, where stated.

    For the instrument description (:mod:`phasetrace.quantify.instrument`): an automatic slit keeps
    the irradiated length constant, which changes the intensities by sin θ.
    """
    if slit is None:
        return {}
    out: dict[str, Any] = {}
    kind = (slit.get("{http://www.w3.org/2001/XMLSchema-instance}type") or "").lower()
    length = _float(_child(slit, "irradiatedLength")) or _float(_child(slit, "length"))
    if "fixed" in kind:
        out["divergence_slit_mode"] = "fixed"
    elif ("automatic" in kind or "programmable" in kind) and length:
        out["divergence_slit_mode"] = "automatic"
        out["irradiated_length_mm"] = length
    angle = re.search(r"(\d+(?:\.\d+)?)(?:\s*/\s*(\d+))?\s*°", slit.get("name") or "")
    if angle:
        out["divergence_slit_deg"] = float(angle.group(1)) / (
            float(angle.group(2)) if angle.group(2) else 1.0
        )
    return out


def _measurement_meta(m: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {
        "measurement_type": m.get("measurementType"),
        "sample_mode": m.get("sampleMode"),
    }
    incident = _child(m, "incidentBeamPath")
    radius = _float(_child(incident, "radius"))
    if radius is not None:
        out["goniometer_radius_mm"] = radius
    tube = _child(incident, "xRayTube")
    if tube is not None:
        out["tube"] = tube.get("name")
        kv, ma = _float(_child(tube, "tension")), _float(_child(tube, "current"))
        if kv is not None:
            out["tube_voltage_kV"] = kv
        if ma is not None:
            out["tube_current_mA"] = ma
        anode = _text(_child(tube, "anodeMaterial"))
        if anode:
            out["anode"] = anode
    slit = _child(incident, "divergenceSlit")
    if slit is not None and slit.get("name"):
        out["divergence_slit"] = slit.get("name")
    out.update(_slit_meta(slit))
    mono = _child(incident, "monochromator")
    if mono is not None and mono.get("name"):
        out["incident_monochromator"] = mono.get("name")
    diffracted = _child(m, "diffractedBeamPath")
    for path_el, key in ((incident, "soller_incident_rad"), (diffracted, "soller_diffracted_rad")):
        opening = _float(_child(_child(path_el, "sollerSlit"), "opening"))
        if opening is not None and opening > 0:
            out[key] = opening
    dmono = _child(diffracted, "monochromator")
    if dmono is not None and dmono.get("name"):
        out["diffracted_monochromator"] = dmono.get("name")
    detector = _child(diffracted, "detector")
    if detector is not None and detector.get("name"):
        out["detector"] = detector.get("name")
    return {k: v for k, v in out.items() if v is not None}


def _radiation(m: ET.Element, path: str) -> tuple[Radiation | None, dict[str, Any]]:
    """Wavelengths the file states (``usedWavelength``), else the tube's anode."""
    meta: dict[str, Any] = {}
    anode = _text(_path(m, "incidentBeamPath", "xRayTube", "anodeMaterial"))
    used = _child(m, "usedWavelength")
    a1 = a2 = ratio = None
    if used is not None:
        if used.get("intended"):
            meta["wavelength_intended"] = used.get("intended")
        a1 = _float(_child(used, "kAlpha1"))
        a2 = _float(_child(used, "kAlpha2"))
        ratio = _float(_child(used, "ratioKAlpha2KAlpha1"))
        kbeta = _float(_child(used, "kBeta"))
        if kbeta is not None:
            meta["kbeta"] = kbeta
    rad, rad_meta = file_radiation(a1, a2, ratio, anode, what="XRDML", path=path)
    return rad, {**meta, **rad_meta}


def _read_scan(
    scan: ET.Element, base_meta: dict[str, Any], radiation: Radiation | None, path: str
) -> RawScan:
    axis = scan.get("scanAxis") or ""
    index = scan.get("appendNumber")
    where = f"scan {index}" if index is not None else "a scan"
    if axis.replace(" ", "").lower() not in _TWO_THETA_SCAN_AXES:
        raise UnsupportedFormatError(
            path,
            f"XRDML {where} is a {axis or 'unnamed'!r}-axis scan, not a 2θ scan; "
            "only 2θ, 2θ-ω and Gonio scans are supported",
        )
    points = _child(scan, "dataPoints")
    if points is None:
        raise LoadError(path, f"XRDML {where} has no <dataPoints>")

    y, y_meta = _intensities(points, where, path)
    x = _two_theta(points, y.size, axis, where, path)

    meta: dict[str, Any] = dict(base_meta)
    meta.update(y_meta)
    meta["x_unit"] = "2theta_deg"
    meta["scan_axis"] = axis
    if scan.get("mode"):
        meta["scan_mode"] = scan.get("mode")
    if scan.get("status"):
        meta["scan_status"] = scan.get("status")
    if index is not None:
        meta["append_number"] = int(index) if index.isdigit() else index
    header = _child(scan, "header")
    start, end = _text(_child(header, "startTimeStamp")), _text(_child(header, "endTimeStamp"))
    if start:
        meta["date"] = start
    if end:
        meta["end_date"] = end
    operator = _text(_path(header, "author", "name"))
    if operator:
        meta["operator"] = operator
    source = _child(header, "source")
    software = _child(source, "applicationSoftware")
    if _text(software):
        meta["software"] = f"{_text(software)} {software.get('version') or ''}".strip()
    control = _text(_child(source, "instrumentControlSoftware"))
    instrument = base_meta.get("diffractometer_system") or control
    if instrument:
        meta["instrument"] = instrument
    instrument_id = _text(_child(source, "instrumentID"))
    if instrument_id:
        meta["instrument_id"] = instrument_id
    if radiation is not None:
        meta["radiation"] = radiation
    return RawScan(x=x, y=y, kind="xrd", meta=meta)


def _intensities(points: ET.Element, where: str, path: str) -> tuple[np.ndarray, dict[str, Any]]:
    meta: dict[str, Any] = {}
    el = _child(points, "intensities")
    raw_counts = False
    if el is None:
        el = _child(points, "counts")
        raw_counts = el is not None
    if el is None:
        raise LoadError(path, f"XRDML {where} has neither <intensities> nor <counts>")
    y = _floats(el, "intensities" if not raw_counts else "counts", path)
    if y.size == 0:
        raise LoadError(path, f"XRDML {where} holds no intensity values")
    unit = (el.get("unit") or "counts").strip().lower()
    meta["y_unit"] = _Y_UNITS.get(unit, unit)
    meta["intensity_element"] = "counts" if raw_counts else "intensities"

    factors = _child(points, "beamAttenuationFactors")
    common = _float(_child(points, "commonBeamAttenuationFactor"))
    if factors is not None:
        f = _floats(factors, "beamAttenuationFactors", path)
        if f.size != y.size:
            raise LoadError(
                path,
                f"XRDML {where} has {f.size} beam attenuation factors for {y.size} intensities",
            )
        if f.size and (f != 1.0).any():
            meta["max_attenuation_factor"] = float(f.max())
            if raw_counts:
                y = y * f
                meta["attenuation_applied"] = True
    elif common is not None and common != 1.0:
        meta["max_attenuation_factor"] = common
        if raw_counts:
            y = y * common
            meta["attenuation_applied"] = True

    time = _child(points, "commonCountingTime")
    times = _child(points, "countingTimes")
    if time is not None and _float(time) is not None:
        meta["counting_time"] = _float(time)
    elif times is not None:
        t = _floats(times, "countingTimes", path)
        if t.size:
            meta["counting_time"] = float(np.median(t))
            meta["counting_time_varies"] = bool(np.ptp(t) > 0)
    return y, meta


def _two_theta(points: ET.Element, n: int, axis: str, where: str, path: str) -> np.ndarray:
    pos = next((p for p in _children(points, "positions") if p.get("axis") == "2Theta"), None)
    if pos is None:
        raise LoadError(path, f"XRDML {where} ({axis}) gives no 2Theta positions")
    unit = (pos.get("unit") or "deg").strip().lower()
    if unit not in ("deg", "degree", "degrees"):
        raise UnsupportedFormatError(path, f"XRDML {where} gives 2Theta in {unit!r}, not degrees")
    listed = _child(pos, "listPositions")
    if listed is not None:
        x = _floats(listed, "listPositions", path)
        if x.size != n:
            raise LoadError(path, f"XRDML {where} lists {x.size} 2Theta positions for {n} intensities")
        return x
    start, end = _float(_child(pos, "startPosition")), _float(_child(pos, "endPosition"))
    if start is not None and end is not None:
        if n == 1:
            return np.array([start])
        return np.linspace(start, end, n)
    if _child(pos, "commonPosition") is not None:
        raise UnsupportedFormatError(
            path,
            f"XRDML {where} ({axis!r} scan) holds 2Theta fixed; "
            "a scan that does not step 2θ is not supported",
        )
    raise LoadError(path, f"XRDML {where} 2Theta positions give neither a range nor a list")


# --------------------------------------------------------------------------- writer

#: Namespace of the XRDML 1.5 schema the writer follows.
_XRDML_NS = "http://www.xrdml.com/XRDMeasurement/1.5"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{_XRDML_NS}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _positions(parent: ET.Element, axis: str, x: np.ndarray, even: bool) -> None:
    pos = _sub(parent, "positions", axis=axis, unit="deg")
    if even:
        _sub(pos, "startPosition", exact_number(x[0]))
        _sub(pos, "endPosition", exact_number(x[-1]))
    else:
        _sub(pos, "listPositions", " ".join(exact_number(v) for v in x))


def write_xrdml(scan, path: str) -> None:
    """Write an XRD scan as an XRDML 1.5 document that :func:`read_xrdml` reads back.

    One ``<xrdMeasurement>`` with one Gonio ``<scan>``. 2θ is written as
    ``startPosition``/``endPosition`` when the axis is evenly stepped (read
    back through ``linspace`` to within 1e-6 of a step) and as exact
    ``listPositions`` otherwise; intensities are written as numbers that read
    back exactly (integers as integers). The sample name, the wavelengths
    (``usedWavelength``; not written when the scan's radiation is only the
    assumed default), the anode, the counting time and the instrument are kept.

    Parameters
    ----------
    scan : Scan
        An XRD scan.
    path : str
        The file to write.
    """
    ET.register_namespace("", _XRDML_NS)
    ET.register_namespace("xsi", _XSI_NS)
    x = np.asarray(scan.x, dtype=np.float64)
    y = np.asarray(scan.y, dtype=np.float64)
    meta = scan.meta
    root = ET.Element(
        f"{{{_XRDML_NS}}}xrdMeasurements",
        {
            f"{{{_XSI_NS}}}schemaLocation": f"{_XRDML_NS} {_XRDML_NS}/XRDMeasurement.xsd",
            "status": "Completed",
        },
    )
    if meta.instrument:
        comment = _sub(root, "comment")
        _sub(comment, "entry", f"Diffractometer system={one_line(meta.instrument)}")
    sample = _sub(root, "sample", type="To be analyzed")
    name = one_line(meta.sample) if meta.sample else ""
    _sub(sample, "id", name)
    _sub(sample, "name", name)

    measurement = _sub(root, "xrdMeasurement", measurementType="Scan", status="Completed")
    rad = stated_radiation(meta)
    if rad is not None:
        used = _sub(measurement, "usedWavelength", intended="K-Alpha 1" if rad.kalpha2 is None else "K-Alpha")
        _sub(used, "kAlpha1", exact_number(rad.kalpha1), unit="Angstrom")
        if rad.kalpha2 is not None:
            _sub(used, "kAlpha2", exact_number(rad.kalpha2), unit="Angstrom")
            _sub(used, "ratioKAlpha2KAlpha1", exact_number(rad.ratio))
    if rad is not None and rad.anode:
        tube = _sub(_sub(measurement, "incidentBeamPath"), "xRayTube", name=f"{rad.anode} tube")
        _sub(tube, "anodeMaterial", rad.anode)

    scan_el = _sub(
        measurement, "scan", appendNumber="0", mode="Continuous", scanAxis="Gonio", status="Completed"
    )
    header = _sub(scan_el, "header")
    source = _sub(header, "source")
    _sub(source, "applicationSoftware", "phasetrace", version=_version())
    points = _sub(scan_el, "dataPoints")
    even = is_evenly_stepped(x)
    _positions(points, "2Theta", x, even)
    _positions(points, "Omega", x / 2.0, even)
    if meta.counting_time is not None:
        _sub(points, "commonCountingTime", exact_number(meta.counting_time), unit="seconds")
    _sub(points, "intensities", " ".join(exact_number(v) for v in y), unit="counts")

    ET.indent(root, space="\t")
    body = ET.tostring(root, encoding="unicode")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write(body)
        fh.write("\n")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("phasetrace")
    except Exception:  # noqa: BLE001 - the version is informational only
        return "unknown"


register_writer(
    "xrdml",
    suffixes=(".xrdml",),
    description="PANalytical XRDML 1.5",
    kinds=("xrd",),
)(write_xrdml)
