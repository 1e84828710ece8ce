"""Reader for Thermo/Galactic GRAMS ``.spc`` spectra (single and multi-file).

The format is publicly documented (Galactic Industries, "SPC file format",
1996/1997): a 512-byte main header, optionally an X array, one or more
sub-files (32-byte sub-header, optional X array, Y array) and an optional log
block whose text part holds ``key=value`` lines.

Supported: the "new" format in little-endian (version byte ``0x4B``) and
big-endian (``0x4C``) byte order; Y stored as float32, int32 or int16 with the
``2**exp`` scaling; evenly spaced X (``ffirst``/``flast``/``fnpts``), one common
X array (``TXVALS``) or one X array per sub-file (``TXYXYS``); multi-files
(``TMULTI``) give one :class:`RawScan` per sub-file. The old format (``0x4D``)
is refused with :class:`UnsupportedFormatError`.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import numpy as np

from ..errors import LoadError, UnsupportedFormatError
from ._registry import RawScan, register_reader, register_writer
from ._save import SaveError
from ._writeutil import exact_number, is_evenly_stepped, one_line, stated_radiation

__all__ = ["read_spc", "sniff_spc", "write_spc"]

#: Size of the main header of a new-format file.
MAIN_HEADER = 512
#: Size of each sub-file header.
SUB_HEADER = 32
#: Size of the fixed part of the log block (sizes and offsets, then reserved bytes).
LOG_HEADER = 64

#: Version bytes (byte 1): new format little-endian, new format big-endian, old format.
VERSION_NEW_LE = 0x4B
VERSION_NEW_BE = 0x4C
VERSION_OLD = 0x4D

#: ``ftflgs`` bits.
TSPREC = 0x01  # Y stored as 16-bit integers
TCGRAM = 0x02  # chromatogram-style experiment (informational)
TMULTI = 0x04  # several sub-files
TRANDM = 0x08  # multi-file Z values are random
TORDRD = 0x10  # multi-file Z values are ordered but not even
TALABS = 0x20  # axis labels are in fcatxt
TXYXYS = 0x40  # each sub-file has its own X array
TXVALS = 0x80  # one X array follows the header (unevenly spaced X)

#: ``fexp`` / ``subexp`` value that means "Y is IEEE float32".
FLOAT_Y = -128

#: More sub-files than this is not a spectrum file but a corrupted header.
MAX_SUBFILES = 1_000_000

#: An axis stated in wavenumbers whose every value is above this (cm⁻¹, i.e.
#: shorter than 1250 nm) is absolute wavenumber of light, not a Raman shift:
#: Raman shifts beyond ~4500 cm⁻¹ do not occur, while visible/NIR light is
#: 9 000-40 000 cm⁻¹.
ABSOLUTE_WAVENUMBER_MIN = 8000.0

#: h·c in eV·nm, to turn an energy axis into wavelength.
HC_EV_NM = 1239.841984

#: Largest log text kept in the metadata, in characters (logs are normally < 10 kB).
MAX_LOG_TEXT = 65536

#: Names of the ``fxtype`` codes (Galactic's table).
_XTYPES = {
    0: "arbitrary",
    1: "wavenumber (cm-1)",
    2: "micrometers",
    3: "nanometers",
    4: "seconds",
    5: "minutes",
    6: "hertz",
    7: "kilohertz",
    8: "megahertz",
    9: "mass (m/z)",
    10: "parts per million",
    11: "days",
    12: "years",
    13: "Raman shift (cm-1)",
    14: "electron volts",
    15: "text labels",
    16: "diode number",
    17: "channel",
    18: "degrees",
    19: "degrees Fahrenheit",
    20: "degrees Celsius",
    21: "kelvin",
    22: "data points",
    23: "milliseconds",
    24: "microseconds",
    25: "nanoseconds",
    26: "gigahertz",
    27: "centimeters",
    28: "meters",
    29: "millimeters",
    30: "hours",
    255: "double interferogram",
}

#: Names of the ``fytype`` codes.
_YTYPES = {
    0: "arbitrary intensity",
    1: "interferogram",
    2: "absorbance",
    3: "Kubelka-Munk",
    4: "counts",
    5: "volts",
    6: "degrees",
    7: "milliamps",
    8: "millimeters",
    9: "millivolts",
    10: "log(1/R)",
    11: "percent",
    12: "intensity",
    13: "relative intensity",
    14: "energy",
    16: "decibel",
    19: "degrees Fahrenheit",
    20: "degrees Celsius",
    21: "kelvin",
    22: "index of refraction",
    23: "extinction coefficient",
    24: "real",
    25: "imaginary",
    26: "complex",
    128: "transmission",
    129: "reflectance",
    130: "arbitrary or single beam with valley peaks",
    131: "emission",
}

#: Names of the ``fexper`` (experiment technique) codes.
_EXPERIMENTS = {
    0: "general",
    1: "gas chromatogram",
    2: "general chromatogram",
    3: "HPLC chromatogram",
    4: "FT-IR, FT-NIR, FT-Raman",
    5: "NIR spectrum",
    6: "UV-VIS spectrum",
    8: "X-ray diffraction",
    9: "mass spectrum",
    10: "NMR spectrum",
    11: "Raman spectrum",
    12: "fluorescence spectrum",
    13: "atomic spectrum",
    14: "chromatography diode array",
}

#: x-axis codes that cannot be a Raman shift or a 2θ axis (time, frequency, mass, pixels...).
_NON_SPECTRAL_X = {*range(4, 13), *range(15, 18), *range(19, 31), 255}

_LASER_NM = re.compile(r"(\d+(?:\.\d+)?)\s*nm", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def sniff_spc(head: bytes) -> bool:
    """True when ``head`` starts like a GRAMS SPC file (new or old format)."""
    if len(head) < 32 or head.startswith(b"PK\x03\x04"):  # zip's "PK" has 0x4B at byte 1
        return False
    if b"\0" not in head[4:28]:
        return False  # binary counts and doubles always hold NUL bytes; text never does
    version = head[1]
    if version in (VERSION_NEW_LE, VERSION_NEW_BE):
        end = "<" if version == VERSION_NEW_LE else ">"
        flags = head[0]
        npts, first, last, nsub = struct.unpack_from(end + "IddI", head, 4)
        xtype, ytype = head[28], head[29]
        if xtype not in _XTYPES or ytype > 131:
            return False
        if not (math.isfinite(first) and math.isfinite(last)):
            return False
        xyxy = flags & TXYXYS and flags & TMULTI
        if not xyxy and not 0 < npts < 100_000_000:
            return False
        return not (flags & TMULTI and not 0 < nsub <= MAX_SUBFILES)
    if version == VERSION_OLD:
        (onpts,) = struct.unpack_from("<f", head, 4)
        return math.isfinite(onpts) and 0 < onpts < 1e8 and onpts == int(onpts) and head[16] in _XTYPES
    return False


def _cstr(raw: bytes) -> str:
    """A NUL-terminated, fixed-width text field as str (trailing blanks removed)."""
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _date(packed: int) -> str | None:
    """Decode ``fdate`` (minute:6, hour:5, day:5, month:4, year:12 bits); None if implausible."""
    minute = packed & 0x3F
    hour = (packed >> 6) & 0x1F
    day = (packed >> 11) & 0x1F
    month = (packed >> 16) & 0x0F
    year = packed >> 20
    if not (1900 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}"


def _need(data: bytes, path: str, start: int, size: int, what: str) -> None:
    """Raise LoadError unless ``data[start:start+size]`` lies inside the file."""
    if start < 0 or size < 0 or start + size > len(data):
        raise LoadError(
            path,
            f"SPC file is truncated: {what} needs bytes {start}..{start + size} but the file has {len(data)}",
        )


def _floats(data: bytes, offset: int, count: int, end: str) -> np.ndarray:
    """``count`` float32 values at ``offset`` as float64 (NaNs pass; the front door reports them)."""
    with np.errstate(invalid="ignore"):
        return np.frombuffer(data, dtype=end + "f4", count=count, offset=offset).astype(np.float64)


def _y_values(
    data: bytes, path: str, offset: int, npts: int, exp: int, flags: int, end: str, what: str
) -> tuple[np.ndarray, int]:
    """Read one Y array; returns the values and the number of bytes used."""
    if exp == FLOAT_Y:
        size = 4 * npts
        _need(data, path, offset, size, what)
        return _floats(data, offset, npts, end), size
    if flags & TSPREC:
        size = 2 * npts
        _need(data, path, offset, size, what)
        raw = np.frombuffer(data, dtype=end + "i2", count=npts, offset=offset)
        return raw.astype(np.float64) * 2.0 ** (exp - 16), size
    size = 4 * npts
    _need(data, path, offset, size, what)
    raw = np.frombuffer(data, dtype=end + "i4", count=npts, offset=offset)
    return raw.astype(np.float64) * 2.0 ** (exp - 32), size


def _parse_log(data: bytes, path: str, logoff: int, end: str) -> dict[str, str]:
    """Text part of the log block as an ordered ``key -> value`` dict."""
    _need(data, path, logoff, LOG_HEADER, "the log block header")
    logsizd, _logsizm, logtxto = struct.unpack_from(end + "III", data, logoff)
    if logtxto == 0:
        return {}
    if logoff + logsizd > len(data):
        raise LoadError(
            path,
            f"SPC file is truncated: the log block needs bytes {logoff}..{logoff + logsizd} "
            f"but the file has {len(data)}",
        )
    start = logoff + logtxto
    if start > len(data):
        raise LoadError(path, f"SPC file is truncated: log text at byte {start} is past the end")
    stop = logoff + logsizd if logsizd > logtxto else len(data)
    text = data[start:stop].split(b"\0", 1)[0][:MAX_LOG_TEXT].decode("latin-1")
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if "=" not in line or line.startswith("["):
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key and key not in out:
            out[key] = value
    return out


def _strip_label(value: str) -> str:
    """``"Grating: 1800 l/mm"`` → ``"1800 l/mm"`` (WiRE repeats the field name in the value)."""
    value = value.strip()
    head, sep, rest = value.partition(":")
    return rest.strip() if sep and len(head) < 40 and not head[-1:].isdigit() else value


def _log_meta(log: dict[str, str]) -> dict[str, Any]:
    """Laser, exposure, accumulations and instrument from log keys of known writers."""
    meta: dict[str, Any] = {}
    lower = {k.lower(): v for k, v in log.items()}
    laser = lower.get("laser") or lower.get("laser_wavelength") or lower.get("excitation_wavelength")
    if laser:
        m = _LASER_NM.search(laser)
        text = m.group(1) if m else laser.strip()
        if _NUMBER.fullmatch(text) and 150.0 < float(text) < 3000.0:
            meta["laser_nm"] = float(text)
            meta["laser_source"] = "log"
    if "laser_nm" not in meta and "ramanfreq" in lower:
        # Nicolet FT-Raman logs state the excitation laser as a wavenumber (cm-1).
        m = _NUMBER.search(lower["ramanfreq"])
        if m and float(m.group(0)) > 3000.0:
            meta["laser_nm"] = 1e7 / float(m.group(0))
            meta["laser_source"] = "log RAMANFREQ (laser wavenumber, cm-1)"
    exposure = lower.get("exposure_time")
    if exposure:
        value_text = _strip_label(exposure)
        meta["exposure_time"] = value_text
        m = re.fullmatch(r"([-+]?\d+(?:\.\d+)?)\s*(ms|s)", value_text)
        if m:
            meta["counting_time"] = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    accum = lower.get("accumulations")
    if accum:
        m = re.search(r"\d+", _strip_label(accum))
        if m:
            meta["accumulations"] = int(m.group(0))
    for key, name in (
        ("grating_grooves", "grating"),
        ("microscope_objective", "objective"),
        ("laser_power", "laser_power"),
        ("operator", "operator"),
        ("serial_number", "serial_number"),
        ("measurement_type", "measurement_type"),
        ("integration time", "integration_time"),
        ("scans", "scans"),
    ):
        if lower.get(key):
            value = _strip_label(lower[key])
            if value:
                meta[name] = value
    if lower.get("model"):
        meta["instrument"] = lower["model"]
    return meta


def _axis_label(catxt: bytes) -> str:
    """X label from ``fcatxt`` (three NUL-separated labels: x, y, z)."""
    return catxt.split(b"\0", 1)[0].decode("latin-1").strip()


def _x_unit(
    xtype: int, flags: int, catxt: bytes, x: np.ndarray, path: str
) -> tuple[np.ndarray, str | None, str | None, str]:
    """Map ``fxtype`` (or an axis label) to (x, x_unit, kind, description)."""
    name = _XTYPES.get(xtype, f"code {xtype}")
    if xtype == 0 and flags & TALABS:
        label = _axis_label(catxt).lower()
        if "raman" in label or "shift" in label:
            xtype = 13
        elif "cm-1" in label or "cm^-1" in label or "1/cm" in label or "wavenumber" in label:
            xtype = 1
        elif re.search(r"\bnm\b|nanomet|wavelength", label):
            xtype = 3
        if label:
            name = f"arbitrary, labelled {_axis_label(catxt)!r}"
    if xtype == 13:
        return x, "raman_shift_cm-1", "raman", name
    if xtype == 1:
        if x.size and float(np.min(x)) > ABSOLUTE_WAVENUMBER_MIN:
            # Absolute wavenumber of the scattered light: hand it over as wavelength.
            return 1e7 / x, "wavelength_nm", "raman", f"{name}, absolute"
        return x, "raman_shift_cm-1", "raman", name
    if xtype == 3:
        return x, "wavelength_nm", "raman", name
    if xtype == 2:
        return x * 1000.0, "wavelength_nm", "raman", name
    if xtype == 14:
        if x.size and float(np.min(x)) <= 0:
            raise LoadError(path, "SPC energy axis has non-positive values")
        return HC_EV_NM / x, "wavelength_nm", "raman", name
    if xtype == 18:
        return x, "2theta_deg", None, name
    if xtype in _NON_SPECTRAL_X:
        raise UnsupportedFormatError(
            path,
            f"SPC file with x axis in {name} (fxtype {xtype}) is not supported: "
            "it is neither a Raman shift, a wavelength nor 2θ",
        )
    return x, None, None, name


@register_reader(
    "spc",
    suffixes=(".spc",),
    description="Thermo/Galactic GRAMS SPC spectrum",
    sniff=sniff_spc,
    priority=40,
)
def read_spc(data: bytes, path: str) -> list[RawScan]:
    """Read a GRAMS ``.spc`` file: one :class:`RawScan` per sub-file.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        File name, for messages.

    Returns
    -------
    list of RawScan
        In file order. ``meta`` holds the x unit, the laser wavelength and
        exposure when the log block states them, the date, the comment
        (``title``), the source instrument and the log entries (``spc_log``).

    Raises
    ------
    UnsupportedFormatError
        For the old (``0x4D``) format or an x axis that is not spectral.
    LoadError
        For truncated or inconsistent files.
    """
    if len(data) < 2:
        raise LoadError(path, "too short to be an SPC file")
    version = data[1]
    if version == VERSION_OLD:
        raise UnsupportedFormatError(
            path,
            "old-format (0x4D) SPC is not supported; re-save it as new-format SPC or export it as .txt/.csv",
        )
    if version not in (VERSION_NEW_LE, VERSION_NEW_BE):
        raise LoadError(path, f"not an SPC file (version byte 0x{version:02X}, expected 0x4B or 0x4C)")
    _need(data, path, 0, MAIN_HEADER, "the 512-byte main header")
    end = "<" if version == VERSION_NEW_LE else ">"

    flags, exper = data[0], data[2]
    (fexp,) = struct.unpack_from("b", data, 3)
    fnpts, ffirst, flast, fnsub = struct.unpack_from(end + "IddI", data, 4)
    xtype, ytype, ztype = data[28], data[29], data[30]
    (fdate,) = struct.unpack_from(end + "I", data, 32)
    fres, fsource = _cstr(data[36:45]), _cstr(data[45:54])
    comment = _cstr(data[88:218])
    catxt = data[218:248]
    (flogoff,) = struct.unpack_from(end + "I", data, 248)

    multi = bool(flags & TMULTI)
    xyxy = bool(flags & TXYXYS)
    nsub = fnsub if multi else 1
    if multi and not 0 < nsub <= min(MAX_SUBFILES, (len(data) - MAIN_HEADER) // SUB_HEADER):
        raise LoadError(path, f"SPC header states {fnsub} sub-files, which the file size cannot hold")
    if xyxy and not multi:
        # TXYXYS only has a meaning for multi-files; Galactic's readers ignore it otherwise.
        xyxy = False
    if not xyxy:
        if not 0 < fnpts <= (len(data) - MAIN_HEADER) // 2:
            raise LoadError(path, f"SPC header states {fnpts} points, which the file size cannot hold")
        if not (math.isfinite(ffirst) and math.isfinite(flast)):
            raise LoadError(path, "SPC header has a non-finite first/last x value")

    offset = MAIN_HEADER
    common_x: np.ndarray | None = None
    if flags & TXVALS and not xyxy:
        _need(data, path, offset, 4 * fnpts, "the X array")
        common_x = _floats(data, offset, fnpts, end)
        offset += 4 * fnpts
    elif not xyxy:
        common_x = np.linspace(ffirst, flast, fnpts)

    log: dict[str, str] = {}
    if flogoff:
        log = _parse_log(data, path, flogoff, end)

    base: dict[str, Any] = {}
    if comment:
        base["title"] = comment
    if fsource:
        base["instrument"] = fsource
    if fres:
        base["resolution"] = fres
    date = _date(fdate)
    if date:
        base["date"] = date
    base["experiment_type"] = _EXPERIMENTS.get(exper, f"code {exper}")
    base["y_type"] = _YTYPES.get(ytype, f"code {ytype}")
    if flags & TALABS:
        labels = [s.decode("latin-1").strip() for s in catxt.split(b"\0")]
        if len(labels) > 1 and labels[1]:
            base["y_label"] = labels[1]
    base.update(_log_meta(log))
    if log:
        base["spc_log"] = dict(list(log.items())[:500])
    base["spc_version"] = f"0x{version:02X}"

    scans: list[RawScan] = []
    for i in range(nsub):
        what = f"sub-file {i + 1} of {nsub}"
        _need(data, path, offset, SUB_HEADER, f"the header of {what}")
        (subexp,) = struct.unpack_from("b", data, offset + 1)
        subtime, subnext = struct.unpack_from(end + "ff", data, offset + 4)
        (subnpts,) = struct.unpack_from(end + "I", data, offset + 16)
        offset += SUB_HEADER
        if xyxy:
            if not 0 < subnpts <= (len(data) - offset) // 4:
                raise LoadError(path, f"SPC {what} states {subnpts} points, which the file cannot hold")
            npts = subnpts
            _need(data, path, offset, 4 * npts, f"the X array of {what}")
            x = _floats(data, offset, npts, end)
            offset += 4 * npts
        else:
            assert common_x is not None
            npts = fnpts
            x = common_x
        exp = fexp if (fexp == FLOAT_Y or not multi) else subexp
        y, used = _y_values(data, path, offset, npts, exp, flags, end, f"the Y array of {what}")
        offset += used

        x_out, x_unit, kind, x_name = _x_unit(xtype, flags, catxt, x, path)
        meta = dict(base)
        # integer Y (scaled by a power of 2): a flat top at the maximum is a clipped read-out
        meta["_integer_counts"] = exp != FLOAT_Y
        meta["x_axis"] = x_name
        if x_unit:
            meta["x_unit"] = x_unit
        if multi:
            meta["subfile"] = i
            if math.isfinite(subtime):
                meta["z"] = float(subtime)
                meta["z_type"] = _XTYPES.get(ztype, f"code {ztype}")
        scans.append(RawScan(x_out, y, kind=kind, meta=meta))
    return scans


# --------------------------------------------------------------------------- writer

#: ``fxtype`` codes the writer uses: Raman shift (cm⁻¹) and degrees (2θ).
_XTYPE_RAMAN_SHIFT, _XTYPE_DEGREES = 13, 18
#: ``fytype`` codes the writer uses: counts (integer data) and intensity.
_YTYPE_COUNTS, _YTYPE_INTENSITY = 4, 12
#: ``fexper`` codes the writer uses.
_EXPER_XRD, _EXPER_RAMAN = 8, 11
#: Largest magnitude float32 holds.
_F32_MAX = float(np.finfo(np.float32).max)
#: Width of the ``fcmnt`` comment field (NUL-terminated).
_COMMENT_BYTES = 130
#: Width of the ``fsource`` instrument field (NUL-terminated).
_SOURCE_BYTES = 9


def _log_number(v: float) -> str:
    """A log-block number: positional (no exponent), integers with ".0", exact as float64."""
    return exact_number(v, positional=True, integer_point=True)


def _spc_line(value: object) -> str:
    """A log value on one Latin-1 line."""
    return one_line(value).encode("latin-1", errors="replace").decode("latin-1")


def _spc_log(scan) -> bytes:
    """The log block: 64-byte header, then ``key=value`` text lines, NUL-terminated."""
    meta = scan.meta
    entries: list[tuple[str, str]] = [("software", "phasetrace")]
    if meta.sample:
        entries.append(("sample", _spc_line(meta.sample)))
    if meta.instrument:
        entries.append(("model", _spc_line(meta.instrument)))
    if scan.kind == "raman" and meta.laser_nm is not None:
        entries.append(("laser_wavelength", f"{_log_number(meta.laser_nm)} nm"))
    if meta.counting_time:
        entries.append(("exposure_time", f"{_log_number(meta.counting_time)} s"))
    rad = stated_radiation(meta)
    if scan.kind == "xrd" and rad is not None:
        # informational: the SPC reader does not take X-ray wavelengths from the log
        if rad.anode:
            entries.append(("xray_anode", rad.anode))
        entries.append(("xray_kalpha1_A", _log_number(rad.kalpha1)))
        if rad.kalpha2 is not None:
            entries.append(("xray_kalpha2_A", _log_number(rad.kalpha2)))
            entries.append(("xray_kalpha2_ratio", _log_number(rad.ratio)))
    text = "".join(f"{k}={v}\r\n" for k, v in entries).encode("latin-1", errors="replace") + b"\0"
    header = bytearray(LOG_HEADER)
    struct.pack_into("<III", header, 0, LOG_HEADER + len(text), 0, LOG_HEADER)
    return bytes(header) + text


def write_spc(scan, path: str) -> None:
    """Write a scan as a new-format (0x4B, little-endian) GRAMS ``.spc`` file with one spectrum.

    Y is float32 (``fexp = -128``). X is the Raman shift (``fxtype`` 13) for a
    Raman scan and degrees (``fxtype`` 18, read back as 2θ) for an XRD scan;
    an evenly stepped axis is stored as first/last/number of points, any other
    as a float32 X array (``TXVALS``). The log block states the laser
    wavelength (``laser_wavelength=532.0 nm``), the exposure
    (``exposure_time=… s``), the instrument (``model=``) and the sample; for
    XRD it also lists the X-ray wavelengths, which the reader keeps only as
    log entries (it takes no radiation from SPC, so a reloaded XRD scan gets
    the documented Cu Kα default). The sample name is kept in the comment
    field and the log, which the reader does not map to ``sample``.

    Round trip: even x to within 1e-6 of a step, uneven x to float32
    precision; y to float32 precision (exact for integer counts up to 2**24);
    laser wavelength and exposure exactly.

    Parameters
    ----------
    scan : Scan
        An XRD or Raman scan.
    path : str
        The file to write.

    Raises
    ------
    SaveError
        Intensities beyond the float32 range, or an uneven x axis whose steps
        float32 cannot resolve.
    """
    x = np.asarray(scan.x, dtype=np.float64)
    y = np.asarray(scan.y, dtype=np.float64)
    n = x.size
    if not np.all(np.abs(y) <= _F32_MAX):
        raise SaveError("SPC stores intensities as float32; this scan has values beyond its range (±3.4e38)")
    even = is_evenly_stepped(x)
    if not even and not np.all(np.diff(x.astype("<f4")) > 0):
        raise SaveError(
            "SPC stores an uneven x axis as float32 and this scan's steps are too fine for it "
            "(neighbouring x values would coincide); save it as .xy instead"
        )
    raman = scan.kind == "raman"
    flags = 0 if even else TXVALS
    integer = bool(np.all(np.floor(y) == y))
    header = bytearray(MAIN_HEADER)
    struct.pack_into(
        "<BBBbIddIBBBB",
        header,
        0,
        flags,
        VERSION_NEW_LE,
        _EXPER_RAMAN if raman else _EXPER_XRD,
        FLOAT_Y,
        n,
        float(x[0]),
        float(x[-1]),
        1,
        _XTYPE_RAMAN_SHIFT if raman else _XTYPE_DEGREES,
        _YTYPE_COUNTS if integer else _YTYPE_INTENSITY,
        0,
        0,
    )
    meta = scan.meta
    if meta.instrument:
        source = _spc_line(meta.instrument).encode("latin-1")[: _SOURCE_BYTES - 1]
        header[45 : 45 + len(source)] = source
    if meta.sample:
        comment = _spc_line(meta.sample).encode("latin-1")[: _COMMENT_BYTES - 1]
        header[88 : 88 + len(comment)] = comment

    body = bytearray()
    if not even:
        body += x.astype("<f4").tobytes()
    sub = bytearray(SUB_HEADER)
    struct.pack_into("<BbH", sub, 0, 0, FLOAT_Y, 0)
    struct.pack_into("<I", sub, 16, n)
    body += sub
    body += y.astype("<f4").tobytes()
    struct.pack_into("<I", header, 248, MAIN_HEADER + len(body))  # log block offset
    with open(path, "wb") as fh:
        fh.write(bytes(header))
        fh.write(bytes(body))
        fh.write(_spc_log(scan))


register_writer(
    "spc",
    suffixes=(".spc",),
    description="GRAMS SPC (new format, one spectrum, float32)",
    kinds=("xrd", "raman"),
)(write_spc)
