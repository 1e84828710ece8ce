"""Readers for binary and XML vendor Raman files.

* Renishaw WiRE ``.wdf`` (single spectrum) and Horiba/Jobin Yvon LabSpec
  ``.xml`` (single spectrum), parsed by rosettasciio after our own structural
  checks (block sizes, number of spectra, no DTD).
* Princeton Instruments LightField SPE 3.x (``.spe``), parsed here: the
  4100-byte header, the binary frames and the XML footer with the wavelength
  calibration and the laser line.
* Recognised but refused with a one-line :class:`UnsupportedFormatError`:
  Horiba LabSpec 6 binary ``.l6s``, Bruker OPUS binary (``.0``, ``.1``, ...),
  WinSpec SPE 2.x, and Renishaw/Horiba maps and series.

rosettasciio is imported inside the read functions so that ``import
phasetrace`` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LoadError, PhasetraceError, PhasetraceWarning, UnsupportedFormatError
from ._registry import RawScan, register_reader
from ._xml import local, parse_xml

__all__ = [
    "read_horiba_xml",
    "read_labspec6",
    "read_opus",
    "read_spe",
    "read_wdf",
]

#: h·c in eV·nm, to turn an energy axis into wavelength.
HC_EV_NM = 1239.841984

#: Plausible excitation lasers, nm; a "laser" value outside is something else.
LASER_RANGE_NM = (150.0, 3000.0)


# --------------------------------------------------------------------------- rosettasciio glue


class _Collect(logging.Handler):
    """Keeps log records instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_rsciio() -> Iterator[list[str]]:
    """Keep rosettasciio's log lines (lumispy, Pillow, "Could not extract metadata", ...) off the terminal.

    rosettasciio installs its own handler on *stdout*, which would corrupt ``--json`` output:
    its handlers are swapped for a collector while a reader runs; the messages of level
    ERROR and above are yielded (the caller turns them into warnings; lower levels, such as
    "Cannot find package lumispy", are dropped). Python warnings are silenced.
    """
    import rsciio  # noqa: F401 - its import sets the "rsciio" log level and handler, so import it first

    logger = logging.getLogger("rsciio")
    old = (logger.level, logger.handlers[:], logger.propagate)
    collect = _Collect()
    logger.handlers[:] = [collect]
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield collect.messages
    finally:
        logger.setLevel(old[0])
        logger.handlers[:] = old[1]
        logger.propagate = old[2]


def _same_file(path: str, data: bytes) -> bool:
    """True when ``path`` is a readable file holding exactly ``data``."""
    try:
        p = Path(path)
        return p.is_file() and p.stat().st_size == len(data) and p.read_bytes() == data
    except OSError:
        return False


def _run_file_reader(
    reader: Callable[[str], list[dict[str, Any]]], data: bytes, path: str, suffix: str, what: str
) -> list[dict[str, Any]]:
    """Call a rosettasciio ``file_reader`` on ``path``, or on a temporary copy of ``data``."""
    tmp_name = None
    try:
        if _same_file(path, data):
            target = path
        else:
            with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as tmp:
                tmp.write(data)
                tmp_name = target = tmp.name
        with _quiet_rsciio() as logged:
            out = reader(target)
        for message in dict.fromkeys(logged):
            warnings.warn(f"{path}: {what} reader: {message}", PhasetraceWarning, stacklevel=3)
        return out
    except PhasetraceError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a one-line error
        raise LoadError(path, f"not a valid {what} ({type(exc).__name__}: {exc})") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _get(tree: Any, *keys: str) -> Any:
    """Nested ``dict`` lookup that returns None on any missing level."""
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _plain(value: Any) -> Any:
    """Python number for a numpy scalar (JSON-able metadata)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _axis_to_xunit(values: np.ndarray, units: str, path: str, what: str) -> tuple[np.ndarray, str]:
    """Map an axis unit string to (x, x_unit) for Raman."""
    u = (units or "").strip().lower().replace(" ", "")
    if u in ("1/cm", "cm-1", "cm^-1", "1/cm-1"):
        return values, "raman_shift_cm-1"
    if u == "nm":
        return values, "wavelength_nm"
    if u in ("µm", "um", "μm"):
        return values * 1000.0, "wavelength_nm"
    if u == "ev":
        if (values <= 0).any():
            raise LoadError(path, f"{what} energy axis has non-positive values")
        return HC_EV_NM / values, "wavelength_nm"
    raise UnsupportedFormatError(
        path, f"{what} with an x axis in {units!r} is not supported (need 1/cm, nm, µm or eV)"
    )


# --------------------------------------------------------------------------- Renishaw .wdf

#: WDF block header: 4-byte name, uint32 uid, uint64 size (including this header).
WDF_BLOCK_HEADER = 16
#: Offsets in the WDF1 header block of the counts we check before rosettasciio reads the file.
WDF_POINTS_AT = 60  # uint32 points per spectrum
WDF_NSPECTRA_AT = 72  # uint64 number of spectra written
#: Offset of the unit code in the XLST block (after its 16-byte header and the uint32 type).
WDF_XLST_UNIT_AT = WDF_BLOCK_HEADER + 4
#: WiRE unit codes of the spectral axis we can use (1 Raman shift, 3 nm, 4 eV, 5 µm).
WDF_X_UNITS = {1: "1/cm", 3: "nm", 4: "eV", 5: "µm"}


def sniff_wdf(head: bytes) -> bool:
    """True for a Renishaw WiRE data file (``WDF1`` block first)."""
    return head[:4] == b"WDF1"


def _wdf_blocks(data: bytes, path: str) -> dict[str, tuple[int, int]]:
    """Walk the WDF block chain: name -> (offset, size), bounds-checked."""
    blocks: dict[str, tuple[int, int]] = {}
    pos = 0
    while pos < len(data):
        if pos + WDF_BLOCK_HEADER > len(data):
            raise LoadError(path, f"Renishaw .wdf is truncated (block header at byte {pos})")
        name = data[pos : pos + 4].decode("latin-1")
        (size,) = struct.unpack_from("<Q", data, pos + 8)
        if size < WDF_BLOCK_HEADER or pos + size > len(data):
            raise LoadError(
                path,
                f"Renishaw .wdf is truncated or corrupt (block {name!r} at byte {pos} "
                f"claims {size} bytes, file has {len(data)})",
            )
        blocks.setdefault(name, (pos, size))
        pos += size
    return blocks


@register_reader(
    "renishaw_wdf",
    suffixes=(".wdf",),
    description="Renishaw WiRE .wdf Raman spectrum",
    sniff=sniff_wdf,
    kind="raman",
)
def read_wdf(data: bytes, path: str) -> list[RawScan]:
    """Read a single-spectrum Renishaw WiRE ``.wdf`` file.

    Maps and series (more than one spectrum) are refused with
    :class:`UnsupportedFormatError`. A Raman-shift axis gives
    ``x_unit="raman_shift_cm-1"``; a wavelength axis (photoluminescence
    measurements) gives ``x_unit="wavelength_nm"`` with the laser line, which
    the front door converts to Raman shift.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        File name, for messages (and read by rosettasciio when it holds ``data``).

    Returns
    -------
    list of RawScan
    """
    if not sniff_wdf(data):
        raise LoadError(path, "not a Renishaw .wdf file (no WDF1 header)")
    blocks = _wdf_blocks(data, path)
    hdr_pos, hdr_size = blocks["WDF1"]
    if hdr_size < WDF_NSPECTRA_AT + 8:
        raise LoadError(path, "Renishaw .wdf header block is too short")
    (npoints,) = struct.unpack_from("<I", data, hdr_pos + WDF_POINTS_AT)
    (nspectra,) = struct.unpack_from("<Q", data, hdr_pos + WDF_NSPECTRA_AT)
    if nspectra > 1:
        raise UnsupportedFormatError(
            path,
            f"Renishaw map/series with {nspectra} spectra: only single spectra are supported "
            "(export the spectra you need from WiRE)",
        )
    if nspectra == 0 or npoints == 0:
        raise LoadError(path, "Renishaw .wdf holds no spectrum")
    for name, need in (("DATA", 4 * npoints), ("XLST", 8 + 4 * npoints)):
        if name not in blocks:
            raise LoadError(path, f"Renishaw .wdf lacks its {name} block")
        if blocks[name][1] - WDF_BLOCK_HEADER < need:
            raise LoadError(path, f"Renishaw .wdf {name} block is shorter than {npoints} points")
    (unit_code,) = struct.unpack_from("<I", data, blocks["XLST"][0] + WDF_XLST_UNIT_AT)
    if unit_code not in WDF_X_UNITS:
        raise UnsupportedFormatError(
            path,
            f"Renishaw .wdf with spectral axis unit code {unit_code} is not supported "
            "(need Raman shift, nm, µm or eV)",
        )

    def reader(name: str) -> list[dict[str, Any]]:
        from rsciio.renishaw import file_reader

        return file_reader(name)

    results = _run_file_reader(reader, data, path, ".wdf", "Renishaw .wdf")
    if len(results) != 1 or np.ndim(results[0]["data"]) != 1:
        raise UnsupportedFormatError(path, "Renishaw map/series: only single spectra are supported")
    res = results[0]
    axis = res["axes"][-1]
    x = np.asarray(axis["axis"], dtype=np.float64)
    y = np.asarray(res["data"], dtype=np.float64)
    x, x_unit = _axis_to_xunit(x, WDF_X_UNITS[unit_code], path, "Renishaw .wdf")

    md, om = res.get("metadata", {}), res.get("original_metadata", {})
    meta: dict[str, Any] = {"x_unit": x_unit}
    laser = _get(md, "Acquisition_instrument", "Laser", "wavelength")
    if laser is not None and LASER_RANGE_NM[0] < float(laser) < LASER_RANGE_NM[1]:
        meta["laser_nm"] = float(laser)
    det = _get(md, "Acquisition_instrument", "Detector") or {}
    frames, total = det.get("frames"), det.get("integration_time")
    if frames:
        meta["accumulations"] = int(frames)
    if total is not None:
        meta["total_integration_time_s"] = float(total)
        if frames:
            meta["counting_time"] = float(total) / int(frames)
    if det.get("model"):
        meta["detector"] = str(det["model"])
    wxis = om.get("WXIS_0", {}) if isinstance(om, dict) else {}
    inst = wxis.get("Instrument type") if isinstance(wxis, dict) else None
    meta["instrument"] = f"Renishaw {inst}" if inst else "Renishaw"
    grating = _get(wxis, "System Configuration", "Grating")
    if grating:
        meta["grating"] = str(grating)
    elif _get(md, "Acquisition_instrument", "Spectrometer", "Grating", "groove_density") is not None:
        density = _get(md, "Acquisition_instrument", "Spectrometer", "Grating", "groove_density")
        meta["grating"] = f"{_plain(density)} l/mm"
    header = om.get("WDF1_1", {}) if isinstance(om, dict) else {}
    if header.get("app_name"):
        meta["software"] = f"{header['app_name']} {header.get('app_version', '')}".strip()
    if header.get("username"):
        meta["operator"] = str(header["username"])
    general = md.get("General", {})
    if general.get("title"):
        meta["title"] = str(general["title"])
    if general.get("date"):
        meta["date"] = f"{general['date']}T{general['time']}" if general.get("time") else general["date"]
    return [RawScan(x, y, kind="raman", meta=meta)]


# --------------------------------------------------------------------------- Horiba LabSpec .xml


def sniff_horiba_xml(head: bytes) -> bool:
    """True for a Horiba LabSpec XML export (``<LSX_Data>`` root)."""
    return b"<LSX_Data" in head[:1024]


def _dmy_to_iso(date: str, time: str | None) -> str:
    """``27.06.2022`` + ``16:26:24`` → ``2022-06-27T16:26:24`` (unchanged if not that form)."""
    m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", date.strip())
    if not m:
        return f"{date} {time}".strip() if time else date
    iso = f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    return f"{iso}T{time}" if time else iso


@register_reader(
    "horiba_xml",
    suffixes=(".xml",),
    description="Horiba LabSpec .xml Raman spectrum",
    sniff=sniff_horiba_xml,
    kind="raman",
)
def read_horiba_xml(data: bytes, path: str) -> list[RawScan]:
    """Read a single-spectrum Horiba (Jobin Yvon) LabSpec ``.xml`` export.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        File name, for messages (and read by rosettasciio when it holds ``data``).

    Returns
    -------
    list of RawScan
        One scan; x in Raman shift, or in nm with the laser line.
    """
    root = parse_xml(data, path, "LabSpec XML")
    if local(root.tag) != "LSX_Data":
        raise LoadError(path, f"not a Horiba LabSpec XML file (root element <{local(root.tag)}>)")
    rows = [el for el in root.iter() if local(el.tag) == "LSX_Row"]
    if not rows:
        raise LoadError(path, "Horiba LabSpec XML holds no spectrum (no LSX_Row)")
    if len(rows) > 1:
        raise UnsupportedFormatError(
            path,
            f"Horiba LabSpec map/series with {len(rows)} spectra: only single spectra are supported",
        )

    def reader(name: str) -> list[dict[str, Any]]:
        from rsciio.jobinyvon import file_reader

        return file_reader(name)

    results = _run_file_reader(reader, data, path, ".xml", "Horiba LabSpec XML")
    if len(results) != 1 or np.ndim(results[0]["data"]) != 1:
        raise UnsupportedFormatError(path, "Horiba LabSpec map/series: only single spectra are supported")
    res = results[0]
    axis = res["axes"][-1]
    if "axis" in axis:
        x = np.asarray(axis["axis"], dtype=np.float64)
    else:
        n = np.size(res["data"])
        x = axis.get("offset", 0.0) + axis.get("scale", 1.0) * np.arange(n, dtype=np.float64)
    y = np.asarray(res["data"], dtype=np.float64)
    x, x_unit = _axis_to_xunit(x, str(axis.get("units", "")), path, "Horiba LabSpec XML")

    md = res.get("metadata", {})
    meta: dict[str, Any] = {"x_unit": x_unit}
    laser = _get(md, "Acquisition_instrument", "Laser", "wavelength")
    if laser is not None and LASER_RANGE_NM[0] < float(laser) < LASER_RANGE_NM[1]:
        meta["laser_nm"] = float(laser)
    det = _get(md, "Acquisition_instrument", "Detector") or {}
    if det.get("exposure_per_frame") is not None:
        meta["counting_time"] = float(det["exposure_per_frame"])
    if det.get("frames") is not None:
        meta["accumulations"] = int(det["frames"])
    if det.get("integration_time") is not None:
        meta["total_integration_time_s"] = float(det["integration_time"])
    if det.get("model"):
        meta["detector"] = str(det["model"])
    spectro = _get(md, "Acquisition_instrument", "Spectrometer") or {}
    meta["instrument"] = f"Horiba {spectro['model']}" if spectro.get("model") else "Horiba"
    density = _get(spectro, "Grating", "groove_density")
    if density is not None:
        meta["grating"] = f"{_plain(density):g} gr/mm"
    objective = _get(md, "Acquisition_instrument", "Laser", "objective_magnification")
    if objective is not None:
        meta["objective"] = f"{_plain(objective):g}x"
    general = md.get("General", {})
    if general.get("title"):
        meta["title"] = str(general["title"])
    if general.get("notes"):
        meta["remark"] = str(general["notes"])
    if general.get("date"):
        meta["date"] = _dmy_to_iso(str(general["date"]), general.get("time"))
    sample = _get(md, "Sample", "description")
    if sample:
        meta["sample"] = str(sample)
    return [RawScan(x, y, kind="raman", meta=meta)]


# --------------------------------------------------------------------------- Princeton Instruments .spe

#: Size of the binary SPE header; the data follow it.
SPE_HEADER = 4100
#: Header offsets (WinSpec/LightField SPE specification).
SPE_XDIM_AT = 42  # uint16
SPE_DATATYPE_AT = 108  # int16
SPE_YDIM_AT = 656  # uint16
SPE_XML_OFFSET_AT = 678  # uint64 (SPE 3.0)
SPE_NFRAMES_AT = 1446  # int32
SPE_VERSION_AT = 1992  # float32
#: Pixel data types by header code.
SPE_DTYPES = {0: "<f4", 1: "<i4", 2: "<i2", 3: "<u2", 5: "<f8", 6: "u1", 8: "<u4"}
#: Pixel data types by the footer's pixelFormat name.
SPE_PIXEL_FORMATS = {
    "MonochromeUnsigned16": "<u2",
    "MonochromeUnsigned32": "<u4",
    "MonochromeFloating32": "<f4",
}
#: More frames than this is not a Raman measurement but a corrupted header.
SPE_MAX_FRAMES = 100_000


def _spe_footer(data: bytes, path: str) -> Any:
    (xml_at,) = struct.unpack_from("<Q", data, SPE_XML_OFFSET_AT)
    if not SPE_HEADER <= xml_at < len(data):
        raise LoadError(path, f"SPE 3 file is truncated: XML footer offset {xml_at} is outside the file")
    return xml_at, parse_xml(data[xml_at:], path, "SPE XML footer")


def _find(root: Any, name: str) -> Any:
    """First descendant element with local name ``name``."""
    for el in root.iter():
        if local(el.tag) == name:
            return el
    return None


@register_reader(
    "princeton_spe",
    suffixes=(".spe",),
    description="Princeton Instruments LightField SPE 3.x spectrum",
    kind="raman",
)
def read_spe(data: bytes, path: str) -> list[RawScan]:
    """Read a Princeton Instruments SPE 3.x file: one scan per frame.

    The x axis is the footer's wavelength calibration (nm) and the laser line
    its ``laserLine`` attribute; the front door converts to Raman shift.
    SPE 2.x (WinSpec) files, images that are not binned to one row, and files
    without a wavelength calibration are refused.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        File name, for messages.

    Returns
    -------
    list of RawScan
    """
    if len(data) < SPE_HEADER:
        raise LoadError(path, f"SPE file is truncated ({len(data)} bytes, the header alone is {SPE_HEADER})")
    (version,) = struct.unpack_from("<f", data, SPE_VERSION_AT)
    if not np.isfinite(version) or not 1.0 <= version < 10.0:
        raise LoadError(path, f"not a Princeton Instruments SPE file (header version {version!r})")
    if version < 3.0:
        raise UnsupportedFormatError(
            path,
            f"Princeton Instruments SPE v{version:.1f} (WinSpec) is not supported (the units and "
            "pixel origin of its x calibration are ambiguous); export as .txt/.csv or re-save as SPE 3.0",
        )
    xml_at, footer = _spe_footer(data, path)

    frame = next(
        (el for el in footer.iter() if local(el.tag) == "DataBlock" and el.get("type") == "Frame"), None
    )
    regions = [el for el in footer.iter() if local(el.tag) == "DataBlock" and el.get("type") == "Region"]
    if frame is None or not regions:
        raise LoadError(path, "SPE 3 footer lacks its DataFormat frame/region description")
    if len(regions) > 1:
        raise UnsupportedFormatError(
            path, f"Princeton Instruments SPE with {len(regions)} regions of interest is not supported"
        )
    try:
        nframes = int(frame.get("count", "1"))
        stride = int(frame.get("stride") or frame.get("size") or 0)
        width = int(regions[0].get("width", "0"))
        height = int(regions[0].get("height", "0"))
    except ValueError:
        raise LoadError(path, "SPE 3 footer has a non-integer frame/region size") from None
    dtype_name = SPE_PIXEL_FORMATS.get(frame.get("pixelFormat", ""))
    if dtype_name is None:
        (code,) = struct.unpack_from("<h", data, SPE_DATATYPE_AT)
        dtype_name = SPE_DTYPES.get(code)
    if dtype_name is None:
        raise UnsupportedFormatError(
            path, f"Princeton Instruments SPE pixel format {frame.get('pixelFormat')!r} is not supported"
        )
    dtype = np.dtype(dtype_name)
    if height != 1:
        raise UnsupportedFormatError(
            path,
            f"Princeton Instruments SPE image with {height} rows is not supported "
            "(only spectra binned to one row)",
        )
    if not 0 < width <= (xml_at - SPE_HEADER) // dtype.itemsize:
        raise LoadError(
            path, f"SPE 3 footer states a region width of {width} pixels, which the file cannot hold"
        )
    if stride < width * dtype.itemsize:
        stride = width * dtype.itemsize
    if not 0 < nframes <= SPE_MAX_FRAMES or SPE_HEADER + nframes * stride > xml_at:
        raise LoadError(
            path, f"SPE file is truncated or corrupt ({nframes} frames do not fit before the footer)"
        )

    mapping = _find(footer, "WavelengthMapping")
    wl_el = _find(mapping, "Wavelength") if mapping is not None else None
    if wl_el is None or not (wl_el.text or "").strip():
        raise UnsupportedFormatError(
            path,
            "Princeton Instruments SPE without a wavelength calibration (pixel axis only) is not "
            "supported; calibrate the x axis in LightField",
        )
    try:
        wavelengths = np.array([float(v) for v in wl_el.text.replace("\n", "").split(",") if v.strip()])
    except ValueError:
        raise LoadError(path, "SPE wavelength calibration has a value that is not a number") from None
    sensor = _find(footer, "SensorMapping")
    x0 = 0
    if wavelengths.size != width and sensor is not None:
        with contextlib.suppress(ValueError):
            x0 = int(sensor.get("x", "0"))
    if x0 < 0 or wavelengths.size < x0 + width:
        raise LoadError(path, f"SPE wavelength calibration has {wavelengths.size} values for {width} pixels")
    x = wavelengths[x0 : x0 + width]

    meta: dict[str, Any] = {"x_unit": "wavelength_nm", "spe_version": f"{version:.1f}"}
    laser = mapping.get("laserLine") if mapping is not None else None
    if laser:
        try:
            nm = float(laser)
        except ValueError:
            nm = None
        if nm is not None and LASER_RANGE_NM[0] < nm < LASER_RANGE_NM[1]:
            meta["laser_nm"] = nm
    shutter = _find(footer, "ShutterTiming")
    exposure = _find(shutter, "ExposureTime") if shutter is not None else None
    if exposure is not None and exposure.text:
        with contextlib.suppress(ValueError):
            meta["counting_time"] = round(float(exposure.text) / 1000.0, 9)  # LightField: ms
    combined = _find(footer, "FramesCombined")
    if combined is not None and combined.text and combined.text.strip().isdigit():
        meta["accumulations"] = int(combined.text)
    spectro = next((el for el in footer.iter() if local(el.tag) == "Spectrometer" and el.get("model")), None)
    camera = next((el for el in footer.iter() if local(el.tag) == "Camera" and el.get("model")), None)
    names = [el.get("model") for el in (spectro, camera) if el is not None]
    meta["instrument"] = "Princeton Instruments " + " + ".join(names) if names else "Princeton Instruments"
    selected = next(
        (
            child
            for el in footer.iter()
            if local(el.tag) == "Grating"
            for child in el
            if local(child.tag) == "Selected"
        ),
        None,
    )
    if selected is not None and selected.text:
        meta["grating"] = selected.text.strip()
    origin = _find(footer, "Origin")
    if origin is not None:
        if origin.get("created"):
            meta["date"] = origin.get("created")
        if origin.get("software"):
            meta["software"] = f"{origin.get('software')} {origin.get('softwareVersion', '')}".strip()

    if dtype.kind in "iu":  # integer pixels: the front door looks for values at the data type's ceiling
        meta["_integer_counts"] = True
        meta["_full_scale"] = float(np.iinfo(dtype).max)
    scans = []
    for f in range(nframes):
        with np.errstate(invalid="ignore"):
            y = np.frombuffer(data, dtype=dtype, count=width, offset=SPE_HEADER + f * stride).astype(float)
        scans.append(RawScan(x, y, kind="raman", meta={**meta, "frame": f}))
    return scans


# --------------------------------------------------------------------------- refused formats

#: Magic bytes at the start of every Bruker OPUS file.
OPUS_MAGIC = b"\x0a\x0a\xfe\xfe"


def sniff_labspec6(head: bytes) -> bool:
    """True for a Horiba LabSpec 6 binary file."""
    return head.startswith(b"LabSpec6")


@register_reader(
    "labspec6",
    suffixes=(".l6s",),
    description="Horiba LabSpec 6 binary (not supported)",
    sniff=sniff_labspec6,
    kind="raman",
)
def read_labspec6(data: bytes, path: str) -> list[RawScan]:
    """Refuse a Horiba LabSpec 6 ``.l6s`` binary with a clear message.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        File name, for messages.

    Raises
    ------
    UnsupportedFormatError
        Always, for a LabSpec 6 file; LoadError for anything else.
    """
    if not sniff_labspec6(data):
        raise LoadError(path, "not a Horiba LabSpec 6 file (no 'LabSpec6' signature)")
    raise UnsupportedFormatError(
        path, "Horiba LabSpec 6 .l6s binary is not supported; export as .txt or .xml from LabSpec"
    )


def sniff_opus(head: bytes) -> bool:
    """True for a Bruker OPUS binary file."""
    return head.startswith(OPUS_MAGIC)


@register_reader(
    "bruker_opus",
    suffixes=tuple(f".{i}" for i in range(10)),
    description="Bruker OPUS binary (not supported)",
    sniff=sniff_opus,
)
def read_opus(data: bytes, path: str) -> list[RawScan]:
    """Refuse a Bruker OPUS binary with a clear message.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        File name, for messages.

    Raises
    ------
    UnsupportedFormatError
        Always, for an OPUS file; LoadError for anything else.
    """
    if not sniff_opus(data):
        raise LoadError(path, "not a Bruker OPUS file (no OPUS signature)")
    raise UnsupportedFormatError(path, "Bruker OPUS binary is not supported; export as .txt/.csv")
