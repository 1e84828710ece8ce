"""Readers for vendor Raman text exports that carry a header, and Raman Open Database ``.rod`` files.

* B&W Tek BWRam/BWSpec export (``File Version;BWRam...``, ``key;value`` header,
  a ``Pixel;Wavelength;Wavenumber;Raman Shift;...`` table, decimal comma).
* WITec ASCII export (``//Exported ASCII-File``, ``[Header]`` / ``[Data]``).
* RRUFF spectra (``##KEY=value`` header, ``x, y`` rows, ``##END=``).
* Renishaw WiRE text export (``#Wave  #Intensity``, optionally preceded by
  ``#X #Y ...`` position columns for maps and series).
* Raman Open Database ``.rod`` files (CIF syntax with a
  ``_raman_spectrum.raman_shift`` / ``_raman_spectrum.intensity`` loop).

Plain two-column files without a vendor header are left to the generic text
reader (:mod:`phasetrace.io.text`).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .._cif import cif_blocks
from ..errors import LoadError, UnsupportedFormatError
from ._decode import decode_export
from ._registry import RawScan, register_reader

__all__ = [
    "read_bwtek",
    "read_renishaw_txt",
    "read_rod",
    "read_rruff",
    "read_witec_txt",
]

#: Priority of these readers: before the generic text reader, which would
#: otherwise misread a vendor table as plain columns.
VENDOR_TEXT_PRIORITY = 20

#: Plausible excitation lasers, nm (deep UV to NIR); outside, a "laser" number is something else.
LASER_RANGE_NM = (150.0, 3000.0)

#: h·c in eV·nm, to turn an energy axis into wavelength.
HC_EV_NM = 1239.841984

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


# --------------------------------------------------------------------------- helpers


def _head_text(head: bytes) -> str:
    """First bytes as text for a sniffer (never raises)."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.decode("latin-1")


def _float(text: str, *, decimal_comma: bool = False) -> float:
    """Parse one number; ``ValueError`` for anything else (``nan``/``inf`` included)."""
    s = text.strip()
    if decimal_comma:
        s = s.replace(",", ".")
    if not _NUMBER.fullmatch(s):
        raise ValueError(text)
    return float(s)


def _maybe_number(text: str) -> Any:
    """An int or float if ``text`` is one, else the stripped text."""
    s = text.strip()
    if re.fullmatch(r"[-+]?\d+", s):
        return int(s)
    if _NUMBER.fullmatch(s):
        return float(s)
    return s


def _laser_from(value: str, *, decimal_comma: bool = False) -> float | None:
    """An excitation wavelength in nm from a header value, if plausible."""
    s = value.replace(",", ".") if decimal_comma else value
    m = _NUMBER.search(s)
    if not m:
        return None
    nm = float(m.group(0))
    return nm if LASER_RANGE_NM[0] < nm < LASER_RANGE_NM[1] else None


# --------------------------------------------------------------------------- B&W Tek


def _bwtek_table_start(lines: list[str]) -> tuple[int, str] | None:
    """Index of the ``Pixel;...;Raman Shift;...`` header row and its delimiter."""
    for i, line in enumerate(lines[:2000]):
        if not line.lower().startswith("pixel"):
            continue
        for delim in (";", "\t", ","):
            cells = [c.strip().lower() for c in line.split(delim)]
            if len(cells) > 3 and "raman shift" in cells:
                return i, delim
    return None


def sniff_bwtek(head: bytes) -> bool:
    """True for a B&W Tek BWRam/BWSpec text export."""
    text = _head_text(head)
    first = text.split("\n", 1)[0].strip().lower()
    return first.startswith("file version") and ("bwram" in first or "bwspec" in first)


@register_reader(
    "bwtek_txt",
    suffixes=(".txt", ".csv"),
    description="B&W Tek BWRam/BWSpec Raman text export",
    sniff=sniff_bwtek,
    kind="raman",
    priority=VENDOR_TEXT_PRIORITY,
)
def read_bwtek(data: bytes, path: str) -> list[RawScan]:
    """Read a B&W Tek text export.

    The rows with a Raman shift are kept; y is the ``Dark Subtracted #k``
    column (one scan per ``k``), or ``Raw data #k`` when no dark-subtracted
    column exists. ``meta["y_column"]`` names the column used.

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
    lines = decode_export(data).splitlines()
    found = _bwtek_table_start(lines)
    if found is None:
        raise LoadError(path, "B&W Tek export without a 'Pixel;...;Raman Shift' table header")
    start, delim = found
    comma = delim != ","
    header: dict[str, str] = {}
    for line in lines[:start]:
        key, sep, value = line.partition(delim)
        if sep and key.strip():
            header.setdefault(key.strip().lower(), value.strip().rstrip(delim).strip())
    columns = [c.strip() for c in lines[start].split(delim)]
    lower = [c.lower() for c in columns]
    ix = lower.index("raman shift")
    ycols = [i for i, c in enumerate(lower) if c.startswith("dark subtracted #")]
    if not ycols:
        ycols = [i for i, c in enumerate(lower) if c.startswith("raw data #")]
    if not ycols:
        raise LoadError(path, "B&W Tek export has no 'Dark Subtracted #1' or 'Raw data #1' column")

    xs: list[float] = []
    ys: list[list[float]] = [[] for _ in ycols]
    for n, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line.strip():
            continue
        cells = line.split(delim)
        if len(cells) <= max(ix, *ycols):
            raise LoadError(path, f"line {n}: {len(cells)} fields, the table header has {len(columns)}")
        if not cells[ix].strip():
            continue  # pixels outside the calibrated range have no Raman shift
        try:
            xs.append(_float(cells[ix], decimal_comma=comma))
            for k, c in enumerate(ycols):
                ys[k].append(_float(cells[c], decimal_comma=comma))
        except ValueError:
            raise LoadError(path, f"line {n}: not a number in {line.strip()[:60]!r}") from None
    if not xs:
        raise LoadError(path, "B&W Tek export has no rows with a Raman shift")

    meta: dict[str, Any] = {"x_unit": "raman_shift_cm-1"}
    laser = header.get("laser_wavelength")
    if laser:
        nm = _laser_from(laser, decimal_comma=comma)
        if nm is not None:
            meta["laser_nm"] = nm
    itime = header.get("intigration times(ms)") or header.get("integration times(ms)")
    if itime:
        try:
            meta["counting_time"] = _float(itime, decimal_comma=comma) / 1000.0
        except ValueError:
            pass
    avg = header.get("average number")
    if avg and avg.isdigit():
        meta["accumulations"] = int(avg)
    if header.get("model"):
        meta["instrument"] = header["model"]
    for key, name in (
        ("title", "title"),
        ("date", "date"),
        ("operator", "operator"),
        ("file version", "software"),
        ("laser_powerlevel", "laser_power_percent"),
    ):
        if header.get(key):
            meta[name] = _maybe_number(header[key])
    x = np.asarray(xs)
    return [
        RawScan(x, np.asarray(yk), kind="raman", meta={**meta, "y_column": columns[c]})
        for yk, c in zip(ys, ycols, strict=True)
    ]


# --------------------------------------------------------------------------- WITec


def sniff_witec(head: bytes) -> bool:
    """True for a WITec ASCII export (``//Exported ASCII-File``)."""
    return _head_text(head).lstrip().lower().startswith("//exported ascii")


def _witec_x_unit(unit: str, path: str) -> str:
    u = unit.strip().lower().replace(" ", "")
    if u in ("nm", "nanometer", "nanometers"):
        return "wavelength_nm"
    if "1/cm" in u or "cm-1" in u or "cm^-1" in u or "ramanshift" in u:
        return "raman_shift_cm-1"
    if u in ("ev",):
        return "energy_ev"
    raise UnsupportedFormatError(
        path, f"WITec export with x axis in {unit.strip()!r} is not supported (need nm or 1/cm)"
    )


@register_reader(
    "witec_txt",
    suffixes=(".txt", ".csv"),
    description="WITec ASCII export (//Exported ASCII-File)",
    sniff=sniff_witec,
    kind="raman",
    priority=VENDOR_TEXT_PRIORITY,
)
def read_witec_txt(data: bytes, path: str) -> list[RawScan]:
    """Read a WITec Project ASCII export: one scan per data column.

    An x axis in nm is passed on as ``x_unit="wavelength_nm"``; the laser
    wavelength is taken from the header when it states one (otherwise
    :func:`phasetrace.io.load` asks for it).

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
    lines = decode_export(data).splitlines()
    header: dict[str, str] = {}
    section = ""
    data_at = None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1].strip().lower()
            if section == "data":
                data_at = i + 1
                break
            continue
        if section == "header" and "=" in s:
            key, _, value = s.partition("=")
            header.setdefault(key.strip(), value.strip())
    if data_at is None or data_at + 2 > len(lines):
        raise LoadError(path, "WITec export without a [Data] section")
    names_line = lines[data_at]
    delim = "\t" if "\t" in names_line else ("," if "," in names_line else ";")
    names = [c.strip() for c in names_line.split(delim)]
    units = [c.strip() for c in lines[data_at + 1].split(delim)]
    if len(names) < 2:
        raise LoadError(path, "WITec [Data] section has fewer than two columns")
    unit = units[0] if units and units[0] else header.get("XAxisUnit", "")
    x_unit = _witec_x_unit(unit, path)

    rows: list[list[float]] = []
    for n, line in enumerate(lines[data_at + 2 :], start=data_at + 3):
        if not line.strip():
            continue
        cells = line.split(delim)
        if len(cells) != len(names):
            raise LoadError(path, f"line {n}: {len(cells)} fields, expected {len(names)}")
        try:
            rows.append([_float(c) for c in cells])
        except ValueError:
            raise LoadError(path, f"line {n}: not a number in {line.strip()[:60]!r}") from None
    if not rows:
        raise LoadError(path, "WITec [Data] section holds no rows")
    table = np.asarray(rows)
    x = table[:, 0]
    if x_unit == "energy_ev":
        if (x <= 0).any():
            raise LoadError(path, "WITec energy axis has non-positive values")
        x, x_unit = HC_EV_NM / x, "wavelength_nm"

    meta: dict[str, Any] = {"x_unit": x_unit, "x_axis_unit": unit}
    for key, value in header.items():
        k = key.lower()
        if ("excitation" in k or "laser" in k) and "wavelength" in k:
            nm = _laser_from(value)
            if nm is not None:
                meta["laser_nm"] = nm
    for key, name in (
        ("GraphName", "title"),
        ("FileName", "source_file"),
        ("DataUnit", "y_unit"),
        ("SizeX", "size_x"),
        ("SizeY", "size_y"),
        ("PositionX", "position_x"),
        ("PositionY", "position_y"),
        ("PositionZ", "position_z"),
        ("PositionUnit", "position_unit"),
    ):
        if header.get(key):
            meta[name] = _maybe_number(header[key])
    return [
        RawScan(x, table[:, j], kind="raman", meta={**meta, "y_column": names[j]})
        for j in range(1, len(names))
    ]


# --------------------------------------------------------------------------- RRUFF


def sniff_rruff(head: bytes) -> bool:
    """True for a RRUFF spectrum file (``##NAMES=`` / ``##RRUFFID=`` header)."""
    text = _head_text(head).lstrip()
    return (
        text.startswith("##")
        and ("##RRUFFID=" in text or "##NAMES=" in text)
        and ("##JCAMP" not in text.upper())
    )


@register_reader(
    "rruff",
    suffixes=(".txt", ".csv"),
    description="RRUFF Raman spectrum (##KEY=value header)",
    sniff=sniff_rruff,
    kind="raman",
    priority=VENDOR_TEXT_PRIORITY,
)
def read_rruff(data: bytes, path: str) -> list[RawScan]:
    """Read a RRUFF spectrum: ``##KEY=value`` header lines and ``x, y`` rows.

    ``sample`` is the mineral name (``##NAMES``); the RRUFF id and the other
    header keys go to the metadata in lower case.

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
    header: dict[str, str] = {}
    xs: list[float] = []
    ys: list[float] = []
    for n, line in enumerate(decode_export(data).splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("##"):
            key, _, value = s[2:].partition("=")
            if key.strip().upper() == "END":
                break
            header.setdefault(key.strip().upper(), value.strip())
            continue
        cells = [c for c in re.split(r"[,;\s]+", s) if c]
        if len(cells) != 2:
            raise LoadError(path, f"line {n}: expected 'x, y', got {s[:60]!r}")
        try:
            xs.append(_float(cells[0]))
            ys.append(_float(cells[1]))
        except ValueError:
            raise LoadError(path, f"line {n}: not a number in {s[:60]!r}") from None
    if not xs:
        raise LoadError(path, "RRUFF file holds no data rows")
    meta: dict[str, Any] = {"x_unit": "raman_shift_cm-1"}
    if header.get("NAMES"):
        meta["sample"] = header["NAMES"]
    if header.get("RRUFFID"):
        meta["rruff_id"] = header["RRUFFID"]
    for key, value in header.items():
        if "LASER" in key and "WAVELENGTH" in key:
            nm = _laser_from(value)
            if nm is not None:
                meta["laser_nm"] = nm
        if key not in ("NAMES", "RRUFFID") and value:
            meta.setdefault(key.lower().replace(" ", "_"), value)
    return [RawScan(xs, ys, kind="raman", meta=meta)]


# --------------------------------------------------------------------------- Renishaw text


def _renishaw_columns(first_line: str) -> list[str] | None:
    cols = first_line.split()
    if len(cols) >= 2 and all(c.startswith("#") for c in cols) and cols[-2:] == ["#Wave", "#Intensity"]:
        return [c[1:] for c in cols]
    return None


def sniff_renishaw_txt(head: bytes) -> bool:
    """True for a Renishaw WiRE text export (``#Wave  #Intensity`` header line)."""
    text = _head_text(head).lstrip()
    return _renishaw_columns(text.split("\n", 1)[0]) is not None


@register_reader(
    "renishaw_txt",
    suffixes=(".txt", ".csv"),
    description="Renishaw WiRE Raman text export (#Wave #Intensity)",
    sniff=sniff_renishaw_txt,
    kind="raman",
    priority=VENDOR_TEXT_PRIORITY,
)
def read_renishaw_txt(data: bytes, path: str) -> list[RawScan]:
    """Read a Renishaw WiRE text export.

    A single spectrum has the columns ``#Wave #Intensity``; maps and series
    add position/time columns before them (``#X #Y #Wave #Intensity``), and
    give one scan per position, with the position in ``meta["position"]``.

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
    lines = decode_export(data).lstrip().splitlines()
    cols = _renishaw_columns(lines[0]) if lines else None
    if cols is None:
        raise LoadError(path, "Renishaw text export without a '#Wave #Intensity' header line")
    npos = len(cols) - 2
    groups: list[tuple[tuple[float, ...], list[float], list[float]]] = []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != len(cols):
            raise LoadError(path, f"line {n}: {len(cells)} fields, expected {len(cols)}")
        try:
            values = [_float(c) for c in cells]
        except ValueError:
            raise LoadError(path, f"line {n}: not a number in {line.strip()[:60]!r}") from None
        pos = tuple(values[:npos])
        if not groups or groups[-1][0] != pos:
            groups.append((pos, [], []))
        groups[-1][1].append(values[npos])
        groups[-1][2].append(values[npos + 1])
    if not groups:
        raise LoadError(path, "Renishaw text export holds no data rows")
    scans = []
    for pos, xs, ys in groups:
        meta: dict[str, Any] = {"x_unit": "raman_shift_cm-1"}
        if npos:
            meta["position"] = dict(zip(cols[:npos], pos, strict=True))
        scans.append(RawScan(xs, ys, kind="raman", meta=meta))
    return scans


# --------------------------------------------------------------------------- ROD (CIF syntax)


def _parse_cif(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Single items and looped columns of the first data block (names with ``.`` read as ``_``).

    Raises
    ------
    CifSyntaxError
        For broken CIF syntax (a ValueError).
    """
    blocks = cif_blocks(text, strict=True)
    if not blocks:
        return {}, {}
    items, loops = blocks[0]
    return items, {name: column for lp in loops for name, column in lp.items()}


def _cif_number(value: str) -> float:
    """A CIF number, without a standard uncertainty in parentheses."""
    return _float(re.sub(r"\(\d+\)$", "", value))


def sniff_rod(head: bytes) -> bool:
    """True for a Raman Open Database file (CIF with ``_raman_`` data names)."""
    text = _head_text(head)
    return "data_" in text and (
        "_raman_spectrum." in text
        or "_raman_measurement" in text
        or ("solsa.crystallography.net/rod" in text)
    )


@register_reader(
    "rod",
    suffixes=(".rod",),
    description="Raman Open Database (ROD) CIF-style spectrum",
    sniff=sniff_rod,
    kind="raman",
    priority=VENDOR_TEXT_PRIORITY,
)
def read_rod(data: bytes, path: str) -> list[RawScan]:
    """Read the measured spectrum of a Raman Open Database ``.rod`` file.

    ``sample`` is the mineral name (or the systematic name), ``laser_nm`` the
    excitation wavelength; the ROD code, formula, reference and measurement
    conditions go to the metadata.

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
    try:
        items, loops = _parse_cif(decode_export(data))
    except ValueError as exc:
        raise LoadError(path, f"malformed ROD/CIF file ({exc})") from None
    xs = loops.get("_raman_spectrum_raman_shift")
    ys = loops.get("_raman_spectrum_intensity")
    if not xs or not ys:
        raise LoadError(
            path, "ROD file without a _raman_spectrum.raman_shift / _raman_spectrum.intensity loop"
        )
    try:
        x = [_cif_number(v) for v in xs]
        y = [_cif_number(v) for v in ys]
    except ValueError as exc:
        raise LoadError(path, f"ROD spectrum has a value that is not a number ({exc})") from None

    meta: dict[str, Any] = {"x_unit": "raman_shift_cm-1"}
    name = items.get("_chemical_name_mineral") or items.get("_chemical_name_systematic")
    if name and name not in ("?", "."):
        meta["sample"] = name
    laser = items.get("_raman_measurement_device_excitation_laser_wavelength")
    if laser:
        try:
            nm = _cif_number(laser)
        except ValueError:
            nm = None
        if nm is not None and LASER_RANGE_NM[0] < nm < LASER_RANGE_NM[1]:
            meta["laser_nm"] = nm
    company = items.get("_raman_measurement_device_company", "")
    model = items.get("_raman_measurement_device_model", "")
    instrument = " ".join(s for s in (company, model) if s and s not in ("?", "."))
    if instrument:
        meta["instrument"] = instrument
    for key, name_ in (
        ("_rod_database_code", "rod_id"),
        ("_chemical_name_mineral", "mineral"),
        ("_chemical_formula_sum", "formula"),
        ("_journal_paper_doi", "doi"),
        ("_raman_measurement_datetime_initiated", "date"),
        ("_raman_measurement_integration_time", "integration_time"),
        ("_raman_measurement_temperature", "measurement_temperature"),
        ("_raman_measurement_pressure", "measurement_pressure"),
        ("_raman_measurement_device_excitation_laser_type", "laser_type"),
        ("_raman_measurement_device_diffraction_grating", "grating"),
        ("_raman_measurement_device_microscope_objective_magnification", "objective"),
        ("_raman_measurement_device_power_on_sample", "laser_power"),
        ("_raman_measurement_background_subtraction", "background_subtraction"),
        ("_raman_measurement_baseline_correction", "baseline_correction"),
    ):
        value = items.get(key)
        if value and value not in ("?", "."):
            meta[name_] = _maybe_number(value)
    return [RawScan(x, y, kind="raman", meta=meta)]
