"""GSAS powder data files (STD, ESD, FXY, FXYE) and the GSAS files that are not scans.

A GSAS raw data file is a sequence of 80-character records (with line ends on
Windows, without them on old UNIX installations):

* record 1: a free title;
* optionally ``Instrument parameter <file>`` and ``#`` comment records;
* for each bank, a ``BANK ibank nchan nrec bintyp bcoef1 bcoef2 bcoef3 bcoef4 datyp``
  record followed by its data records. For constant-wavelength data
  (``bintyp`` ``CONST`` or ``CONS``) ``bcoef1`` and ``bcoef2`` are the start
  and step of 2θ in centidegrees. ``datyp`` is

  - ``STD`` (the default): ten 8-character fields per record, each
    ``(I2,F6)`` -- the number of counters that contributed (blank = 1) and the
    intensity -- or a plain ``F8`` intensity; the variance of an intensity
    ``y`` summed over ``n`` counters is ``y / n``;
  - ``ESD``: five ``(F8,F8)`` intensity / standard-uncertainty pairs per record;
  - ``FXY`` / ``FXYE``: one point per record, ``x y`` or ``x y esd``, with x
    in centidegrees.

Each bank becomes one :class:`RawScan`. Time-of-flight (``RALF``, ``SLOG``,
``TIME_MAP``), energy-dispersive and ``ALT`` banks are refused by name.

The wavelength lives in the instrument parameter file, not in the data file,
so no radiation is given unless the title or a comment states a wavelength
(``wavelength = 0.4133``, ``Lam 1.5406``, ...) or names an anode line
(``Cu Ka``); ``meta["wavelength_source"]`` says which.

GSAS instrument parameter files (``.prm``, and GSAS-II ``.instprm``) and GSAS
experiment files (``.EXP``) are recognised and refused with a message saying
what they are.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..errors import LoadError, UnsupportedFormatError
from ..scan import ANODES, Radiation
from ._registry import RawScan, register_reader, register_writer
from ._writeutil import exact_number, stated_radiation

__all__ = [
    "read_gsas",
    "read_gsas_exp",
    "read_gsas_prm",
    "sniff_gsas",
    "sniff_gsas_exp",
    "sniff_gsas_prm",
    "write_gsas",
]

#: GSAS records are 80 characters long.
_RECORD = 80
#: A BANK record: "BANK", bank number, number of points, number of records.
_BANK = re.compile(r"^BANK\s+(\d+)\s+(\d+)\s+(\d+)\b")
_BANK_B = re.compile(rb"^BANK\s+\d+\s+\d+\s+\d+\b", re.MULTILINE)
#: Constant-wavelength binning keywords.
_CONST = frozenset({"CONST", "CONS"})
#: Time-of-flight binning keywords (not supported).
_TOF = frozenset({"RALF", "SLOG", "TIME_MAP"})
#: Data layouts.
_DATYPES = ("FXYE", "FXY", "ESD", "STD", "ALT")
#: An intensity field of the STD and ESD layouts is 8 characters wide.
_FIELD = 8
#: A whitespace-separated token of a record.
_TOKEN = re.compile(r"\S+")
#: Upper bound on the number of points of a bank (a corrupt count must not loop for long).
_MAX_POINTS = 50_000_000

#: A wavelength stated in the title or a comment: "wavelength = 0.413", "Lam 1.5406", "lambda: 1.54".
_WAVELENGTH = re.compile(
    r"(?:wavelength|lambda|\blam\b|λ)\s*(?:\(\s*(?:a|å|angstrom)\s*\))?\s*[=:]?\s*([0-9]*\.[0-9]+)",
    re.IGNORECASE,
)
#: Jade's convention of putting "LA= 1.23966" in the GSAS title.
_JADE_LA = re.compile(r"\bLA\s*=\s*([0-9]*\.[0-9]+)")
#: An anode line named in the title: "Cu Ka", "CuKa1", "Mo K-alpha".
_ANODE_LINE = re.compile(
    r"\b(" + "|".join(ANODES) + r")\s*K[-\s]?(?:a|α|alpha)(?:1|₁)?(?![A-Za-z])", re.IGNORECASE
)
#: "# key = value" or "# key :: value" comment records (GSAS-II and 11-BM style).
_COMMENT_KV = re.compile(r"^#\s*([^=:]+?)\s*(?:=|::)\s*(.*?)\s*$")

#: The optional second record naming the instrument parameter file.
_INST_LINE = re.compile(r"^instrument parameter(?:s)?(?:\s+file)?\s*:?\s*(.*)$", re.IGNORECASE)
#: Instrument-parameter file: "INS   BANK", "INS   HTYPE", "INS  1 ICONS" records; GSAS-II .instprm header.
_PRM = re.compile(rb"^INS\s+(?:BANK|HTYPE|\d+\s*(?:ICONS|IRAD|I HEAD|ITYP|INAME|PRCF))", re.MULTILINE)
_INSTPRM = re.compile(rb"^#\s*GSAS-II instrument parameter file", re.IGNORECASE)
_ICONS = re.compile(r"^INS\s+\d+\s*ICONS\s+([0-9.]+)\s+([0-9.]+)", re.MULTILINE)
#: Experiment file: starts with a "VERSION" record, then DESCR / HSTRY / EXPR records.
_EXP_START = re.compile(rb"^\s*VERSION\s+\d+")
_EXP_RECORD = re.compile(rb"\b(?:DESCR|HSTRY|EXPR|CRS\d|ZZZZZZZZZZZZ)\b")


# --------------------------------------------------------------------------- sniffers


def sniff_gsas(head: bytes) -> bool:
    """True when a record after the title is a GSAS ``BANK`` record."""
    if b"\x00" in head:
        return False
    first_end = head.find(b"\n")
    if first_end < 0:
        # 80-character records without line ends.
        return any(head[i : i + 4] == b"BANK" for i in range(_RECORD, min(len(head), 20 * _RECORD), _RECORD))
    return bool(_BANK_B.search(head, first_end + 1))


def sniff_gsas_prm(head: bytes) -> bool:
    """True for a GSAS instrument-parameter file (``INS`` records) or a GSAS-II ``.instprm``."""
    return b"\x00" not in head and bool(_PRM.search(head) or _INSTPRM.match(head))


def sniff_gsas_exp(head: bytes) -> bool:
    """True for a GSAS experiment file (a ``VERSION`` record then DESCR/HSTRY/EXPR records)."""
    return b"\x00" not in head and bool(_EXP_START.match(head)) and bool(_EXP_RECORD.search(head))


# --------------------------------------------------------------------------- readers


@register_reader(
    "gsas",
    suffixes=(".gsa", ".gsas", ".gss", ".fxye", ".esd", ".xra", ".gs", ".gda"),
    description="GSAS powder data (STD, ESD, FXY, FXYE)",
    sniff=sniff_gsas,
    kind="xrd",
    priority=30,
)
def read_gsas(data: bytes, path: str) -> list[RawScan]:
    """Read every constant-wavelength bank of a GSAS powder data file.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per bank, in file order.

    Raises
    ------
    LoadError
        No BANK record, a malformed BANK record, too few data values.
    UnsupportedFormatError
        Time-of-flight, energy-dispersive or ALT banks.
    """
    records = _records(data)
    if not records:
        raise LoadError(path, "is empty")
    title = records[0].strip()
    file_meta: dict[str, Any] = {"x_unit": "2theta_deg"}
    if title:
        file_meta["title"] = title
    texts = [title]  # where a wavelength may be stated
    comments: list[str] = []

    banks: list[tuple[str, list[str], list[str]]] = []  # (BANK record, data records, comments before it)
    pending: list[str] = []
    for i, rec in enumerate(records[1:], start=1):
        if rec.startswith("BANK"):
            banks.append((rec, [], pending))
            pending = []
        elif rec.startswith("#"):
            pending.append(rec)
            comments.append(rec)
        elif rec.startswith("TIME_MAP"):
            raise UnsupportedFormatError(
                path, "GSAS time-of-flight data (TIME_MAP) is not supported; phasetrace reads 2θ scans"
            )
        elif i == 1 and rec.lower().startswith("instrument parameter"):
            m = _INST_LINE.match(rec)
            file_meta["instrument_parameter_file"] = m.group(1).strip() if m else rec.strip()
            texts.append(rec)
        elif rec.startswith("Monitor") or not rec.strip():
            continue
        elif banks:
            banks[-1][1].append(rec)
        else:
            raise LoadError(path, f"not a GSAS data file: record {i + 1} comes before any BANK record")
    if not banks:
        raise LoadError(path, "not a GSAS data file (no BANK record)")

    scans: list[RawScan] = []
    for bank_rec, data_recs, bank_comments in banks:
        meta = dict(file_meta)
        meta.update(_comment_meta(bank_comments or comments))
        radiation, rad_meta = _radiation(texts + (bank_comments or comments))
        meta.update(rad_meta)
        if radiation is not None:
            meta["radiation"] = radiation
        scans.append(_read_bank(bank_rec, data_recs, meta, path))
    return scans


@register_reader(
    "gsas-prm",
    suffixes=(".prm", ".instprm"),
    description="GSAS instrument parameter file (not a scan)",
    sniff=sniff_gsas_prm,
    priority=30,
)
def read_gsas_prm(data: bytes, path: str) -> list[RawScan]:
    """Refuse a GSAS instrument-parameter file with a message that says what it is.

    Raises
    ------
    UnsupportedFormatError
        Always, for a recognised parameter file (it holds no scan).
    LoadError
        A file with such a suffix that is not a GSAS parameter file.
    """
    head = data[:65536]
    if not sniff_gsas_prm(head):
        raise LoadError(path, "not a GSAS instrument-parameter file (no INS records) and not a scan")
    hint = ""
    m = _ICONS.search(head.decode("latin-1"))
    if m:
        lams = [v for v in (m.group(1), m.group(2)) if _number(v)]
        hint = f" (its wavelength: {' / '.join(lams)} Å; load the data file it describes)" if lams else ""
    raise UnsupportedFormatError(path, f"is a GSAS instrument-parameter file, not a scan{hint}")


@register_reader(
    "gsas-exp",
    suffixes=(".exp",),
    description="GSAS experiment file (not a scan)",
    sniff=sniff_gsas_exp,
    priority=30,
)
def read_gsas_exp(data: bytes, path: str) -> list[RawScan]:
    """Refuse a GSAS experiment file with a message that says what it is.

    Raises
    ------
    UnsupportedFormatError
        Always, for a recognised experiment file (it holds no scan).
    LoadError
        A file with such a suffix that is not a GSAS experiment file.
    """
    if not sniff_gsas_exp(data[:65536]):
        raise LoadError(path, "not a GSAS experiment (.EXP) file and not a scan")
    raise UnsupportedFormatError(
        path, "is a GSAS experiment (.EXP) file, not a scan (load the raw data file it refines)"
    )


# --------------------------------------------------------------------------- helpers


def _records(data: bytes) -> list[str]:
    """The file's records: its lines, or 80-character slices of a file without line ends."""
    text = data.decode("latin-1").replace("\x1a", "")
    if "\n" not in text and "\r" not in text and len(text) > _RECORD:
        return [text[i : i + _RECORD].rstrip() for i in range(0, len(text), _RECORD)]
    return [line.rstrip() for line in text.splitlines()]


def _float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(s)
    return v


def _bank_fields(rec: str, path: str) -> tuple[int, int, str, list[float], str]:
    """Bank number, number of points, binning, coefficients and data layout of a BANK record."""
    m = _BANK.match(rec)
    if not m:
        raise LoadError(path, f"malformed GSAS BANK record {rec.strip()!r}")
    bank, npts = int(m.group(1)), int(m.group(2))
    tokens = rec[m.end() :].split()
    if not tokens:
        raise LoadError(path, f"GSAS BANK {bank} record gives no binning type (CONST, RALF, ...)")
    bintyp = tokens[0].upper()
    datyp = "STD"
    rest = tokens[1:]
    if rest and rest[-1].upper() in _DATYPES:
        datyp = rest[-1].upper()
        rest = rest[:-1]
    coefs: list[float] = []
    for t in rest:
        try:
            coefs.append(_float(t))
        except ValueError:
            break
    return bank, npts, bintyp, coefs, datyp


def _read_bank(rec: str, data_recs: list[str], meta: dict[str, Any], path: str) -> RawScan:
    bank, npts, bintyp, coefs, datyp = _bank_fields(rec, path)
    where = f"GSAS BANK {bank}"
    if bintyp in _TOF:
        raise UnsupportedFormatError(
            path, f"{where} is time-of-flight data ({bintyp}); phasetrace reads 2θ scans"
        )
    if bintyp.startswith("EDS") or "EDS" in rec.upper().split():
        raise UnsupportedFormatError(path, f"{where} is energy-dispersive data; phasetrace reads 2θ scans")
    if bintyp not in _CONST:
        raise UnsupportedFormatError(
            path, f"{where} has binning type {bintyp!r}; only constant-wavelength (CONST) data is supported"
        )
    if datyp == "ALT":
        raise UnsupportedFormatError(
            path,
            f"{where} is in the ALT layout (a time-of-flight layout); only STD, ESD, FXY, FXYE are supported",
        )
    if not 1 <= npts <= _MAX_POINTS:
        raise LoadError(path, f"{where} claims {npts} points")
    meta = dict(meta)
    meta.update(bank=bank, gsas_layout=datyp)

    sigma: np.ndarray | None = None
    if datyp in ("FXY", "FXYE"):
        x, y, sigma = _xy_records(data_recs, datyp == "FXYE", where, path)
        if x.size < npts:
            raise LoadError(path, f"truncated {where}: it declares {npts} points, the file has {x.size}")
        x, y = x[:npts] / 100.0, y[:npts]
        sigma = sigma[:npts] if sigma is not None else None
    else:
        if len(coefs) < 2:
            raise LoadError(path, f"{where} record gives no start and step of 2θ")
        start, step = coefs[0] / 100.0, coefs[1] / 100.0
        if step <= 0:
            raise LoadError(path, f"{where} gives a 2θ step of {coefs[1]} centidegrees")
        if datyp == "ESD":
            y, sigma = _esd_records(data_recs, npts, where, path)
        else:
            y, counters = _std_records(data_recs, npts, where, path)
            if (counters != 1).any():
                sigma = np.sqrt(np.clip(y, 0, None) / counters)
                meta["sigma_source"] = "GSAS STD: sqrt(intensity / number of counters)"
        x = start + step * np.arange(npts, dtype=np.float64)
        meta["step_stated"] = step
        extra = _extra_values(data_recs, npts, 2 if datyp == "ESD" else 1)
        if extra:
            meta["values_beyond_declared_points"] = extra
    if sigma is not None and (sigma < 0).any():
        meta["negative_esd_points"] = int((sigma < 0).sum())
        sigma = None
    return RawScan(x=x, y=y, sigma=sigma, kind="xrd", meta=meta)


def _std_field(field: str) -> tuple[float, int] | None:
    """Intensity and number of counters of one 8-character STD field, or None if it is not one."""
    body = field.strip()
    if not body:
        return None
    if " " not in body:
        try:
            return _float(body), 1
        except ValueError:
            pass
    counters, value = field[:2].strip(), field[2:].strip()
    try:
        n = int(counters) if counters else 1
        return _float(value), max(n, 1)
    except ValueError:
        raise ValueError(field) from None


def _std_records(recs: list[str], npts: int, where: str, path: str) -> tuple[np.ndarray, np.ndarray]:
    values: list[float] = []
    counters: list[int] = []
    for rec in recs:
        if len(values) >= npts:
            break
        parsed = _fixed_std(rec)
        if parsed is None:
            try:
                parsed = [(_float(t), 1) for t in rec.split()]
            except ValueError:
                raise LoadError(path, f"{where}: data record {rec.strip()!r} is not numbers") from None
        for v, n in parsed:
            values.append(v)
            counters.append(n)
    if len(values) < npts:
        raise LoadError(path, f"truncated {where}: it declares {npts} points, the file has {len(values)}")
    return np.array(values[:npts], dtype=np.float64), np.array(counters[:npts], dtype=np.float64)


def _extra_values(recs: list[str], npts: int, per_point: int) -> int:
    """How many non-zero numbers follow the declared points (zero padding of the last record is normal)."""
    tokens = " ".join(recs).split()
    extra = tokens[npts * per_point :]
    n = 0
    for t in extra:
        try:
            n += _float(t) != 0
        except ValueError:
            n += 1
    return n


def _is_fixed(rec: str) -> bool:
    """True when every number of the record is right-justified in an 8-character field.

    A counter count (the I2 of ``(I2,F6)``) ends at column 2 of its field and
    is followed by an intensity ending at the field's end. Free-format records
    ("20 21 26 ...") fail this and are split on whitespace instead.
    """
    tokens = list(_TOKEN.finditer(rec))
    for k, m in enumerate(tokens):
        end = m.end()
        if end % _FIELD == 0:
            continue
        field_end = (end // _FIELD + 1) * _FIELD
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if not (
            end % _FIELD == 2
            and m.group().isdigit()
            and m.start() >= field_end - _FIELD
            and nxt is not None
            and nxt.end() == field_end
        ):
            return False
    return True


def _fixed_std(rec: str) -> list[tuple[float, int]] | None:
    """The fields of an STD record read as fixed 8-character fields, or None if it is free format."""
    if not _is_fixed(rec):
        return None
    out: list[tuple[float, int]] = []
    for i in range(0, len(rec), _FIELD):
        try:
            f = _std_field(rec[i : i + _FIELD])
        except ValueError:
            return None
        if f is None:
            continue
        out.append(f)
    return out


def _esd_records(recs: list[str], npts: int, where: str, path: str) -> tuple[np.ndarray, np.ndarray]:
    values: list[float] = []
    for rec in recs:
        if len(values) >= 2 * npts:
            break
        try:
            if not all(m.end() % _FIELD == 0 for m in _TOKEN.finditer(rec)):
                raise ValueError(rec)
            fields = [rec[i : i + _FIELD] for i in range(0, len(rec), _FIELD)]
            parsed = [_float(f) for f in fields if f.strip()]
        except ValueError:
            try:
                parsed = [_float(t) for t in rec.split()]
            except ValueError:
                raise LoadError(path, f"{where}: data record {rec.strip()!r} is not numbers") from None
        values.extend(parsed)
    if len(values) < 2 * npts:
        raise LoadError(
            path, f"truncated {where}: it declares {npts} points, the file has {len(values) // 2}"
        )
    arr = np.array(values[: 2 * npts], dtype=np.float64)
    return arr[0::2], arr[1::2]


def _xy_records(
    recs: list[str], with_esd: bool, where: str, path: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    need = 3 if with_esd else 2
    rows: list[list[float]] = []
    for rec in recs:
        tokens = rec.split()
        if len(tokens) < need:
            raise LoadError(path, f"{where}: data record {rec.strip()!r} has fewer than {need} numbers")
        try:
            rows.append([_float(t) for t in tokens[:need]])
        except ValueError:
            raise LoadError(path, f"{where}: data record {rec.strip()!r} is not numbers") from None
    if not rows:
        return np.empty(0), np.empty(0), None
    arr = np.array(rows, dtype=np.float64)
    return arr[:, 0], arr[:, 1], (arr[:, 2] if with_esd else None)


def _comment_meta(comments: list[str]) -> dict[str, Any]:
    """Key/value pairs of ``# key = value`` comments, and the few that map to scan fields."""
    header: dict[str, str] = {}
    for c in comments:
        m = _COMMENT_KV.match(c)
        if m and m.group(1).strip():
            header[m.group(1).strip()] = m.group(2).strip()
    out: dict[str, Any] = {}
    if header:
        out["header"] = header
    for key, value in header.items():
        k = key.lower()
        if k in ("user sample name", "sample name", "sample") and value:
            out.setdefault("sample", value)
        elif k in ("temp (k)", "temperature (k)"):
            t = _number(value)
            if t is not None and t > 0:
                out["temperature_C"] = round(t - 273.15, 6)
                out["measurement_temperature_K"] = t
        elif k in ("temp (c)", "temperature (c)"):
            t = _number(value)
            if t is not None:
                out["temperature_C"] = t
        elif k.startswith("time per step"):
            t = _number(value)
            if t is not None and t > 0:
                out["counting_time"] = t
        elif k == "instrument" and value:
            out["instrument"] = value
        elif k in ("scan time", "date") and value:
            out.setdefault("date", value)
    return out


def _number(s: str) -> float | None:
    try:
        return _float(s.split()[0])
    except (ValueError, IndexError):
        return None


def _radiation(texts: list[str]) -> tuple[Radiation | None, dict[str, Any]]:
    """A wavelength stated in the title, the instrument-parameter line or a comment, else a named anode."""
    for text in texts:
        for pattern in (_WAVELENGTH, _JADE_LA):
            m = pattern.search(text)
            if m:
                wl = float(m.group(1))
                if 0.05 < wl < 5.0:
                    return Radiation(wl, None, 0.0, None, "file"), {
                        "wavelength_source": f"stated in the file: {text.strip()!r}"
                    }
    for text in texts:
        m = _ANODE_LINE.search(text)
        if m:
            anode = m.group(1).capitalize()
            return Radiation.from_anode(anode), {
                "wavelength_source": f"anode table ({m.group(0)!r} named in {text.strip()!r})",
                "anode": anode,
            }
    return None, {}


# --------------------------------------------------------------------------- FXYE writer

#: Decimals of the short centidegree value tried first (1e-6 centidegree is far below any step).
_CENTIDEGREE_DECIMALS = 6
#: Tolerance when matching a radiation to the anode table (wavelengths are given to ~1e-6 Å).
_ANODE_MATCH_TOL = 1e-9


def _centidegrees(x: np.ndarray) -> np.ndarray:
    """2θ in centidegrees, chosen (among the neighbours of ``100·x``) so that ``c / 100`` gives ``x`` back.

    Not every float64 is such a quotient; those keep ``100·x`` (one ulp away at most).
    """
    c = x * 100.0
    short = np.round(c, _CENTIDEGREE_DECIMALS)  # a short decimal when it reads back the same
    c = np.where(short / 100.0 == x, short, c)
    for direction in (np.inf, -np.inf):
        bad = c / 100.0 != x
        if not bad.any():
            break
        alt = np.nextafter(c[bad], direction)
        c[bad] = np.where(alt / 100.0 == x[bad], alt, c[bad])
    return c


def _table_anode(rad: Radiation) -> str | None:
    """The anode whose tabulated Kα1, Kα2 and ratio are exactly this radiation's, if any."""
    if rad.kalpha2 is None:
        return None
    for anode, (a1, a2, ratio) in ANODES.items():
        if rad.anode not in (None, anode):
            continue
        if (
            abs(rad.kalpha1 - a1) <= _ANODE_MATCH_TOL
            and abs(rad.kalpha2 - a2) <= _ANODE_MATCH_TOL
            and abs(rad.ratio - ratio) <= _ANODE_MATCH_TOL
        ):
            return anode
    return None


def _comment_value(value: object) -> str:
    """A comment value on one Latin-1 line."""
    text = " ".join("".join(ch if ord(ch) >= 32 else " " for ch in str(value)).split())
    return text.encode("latin-1", errors="replace").decode("latin-1")


def _misleads(text: str) -> bool:
    """True when a free text would be taken for a wavelength or an anode line by :func:`read_gsas`."""
    return bool(_WAVELENGTH.search(text) or _JADE_LA.search(text) or _ANODE_LINE.search(text))


def write_gsas(scan, path: str) -> None:
    """Write an XRD scan as a GSAS FXYE file (one constant-wavelength bank) that :func:`read_gsas` reads.

    Records: a title, ``#`` comments (wavelength, sample, counting time,
    instrument), ``BANK 1 n n CONST start step 0 0 FXYE`` and one record per
    point, ``2θ(centidegrees)  y  esd``. The esd is the scan's sigma, else
    ``sqrt(max(y, 1))``.

    GSAS keeps the wavelength in the instrument-parameter file, so it is stated
    in the file the way the reader picks it up: a radiation that is exactly an
    anode's tabulated Kα1/Kα2 doublet is named in the title (``Cu Ka``), and is
    read back as that doublet; any other radiation is stated as
    ``# Wavelength (A) = <Kα1>``, read back as monochromatic Kα1 (a non-table
    Kα2 line cannot be expressed). An assumed default wavelength is not
    written.

    Round trip: y and esd exactly; 2θ exactly wherever some float64
    centidegree value divided by 100 gives it back (the writer picks that
    value; true of decimal grids such as 10.00, 10.01, ...), otherwise to
    within one unit in the last place (relative 2.2e-16).

    Parameters
    ----------
    scan : Scan
        An XRD scan.
    path : str
        The file to write.
    """
    x = np.asarray(scan.x, dtype=np.float64)
    y = np.asarray(scan.y, dtype=np.float64)
    esd = np.asarray(scan.sigma, dtype=np.float64) if scan.sigma is not None else np.sqrt(np.maximum(y, 1.0))
    meta = scan.meta
    rad = stated_radiation(meta)
    anode = _table_anode(rad) if rad is not None else None
    title = "phasetrace powder pattern" + (f", {anode} Ka radiation" if anode else "")
    comments = []
    if rad is not None and anode is None:
        comments.append(f"# Wavelength (A) = {float(rad.kalpha1)!r}")  # the reader needs a decimal point
    sample = _comment_value(meta.sample) if meta.sample else ""
    if sample and not _misleads(sample):
        comments.append(f"# Sample = {sample}")
    if meta.counting_time:
        comments.append(f"# Time per step (s) = {exact_number(meta.counting_time)}")
    instrument = _comment_value(meta.instrument) if meta.instrument else ""
    if instrument and not _misleads(instrument):
        comments.append(f"# Instrument = {instrument}")
    cx = _centidegrees(x)
    step = float(np.median(np.diff(cx))) if x.size > 1 else 0.0
    bank = f"BANK 1 {x.size} {x.size} CONST {exact_number(cx[0])} {exact_number(step)} 0 0 FXYE"
    lines = [title, *comments, bank]
    lines += [
        f"{exact_number(a)} {exact_number(b)} {exact_number(c)}" for a, b, c in zip(cx, y, esd, strict=True)
    ]
    lines.append("")
    with open(path, "w", encoding="latin-1", newline="\r\n") as fh:
        fh.write("\n".join(lines))


register_writer(
    "gsas",
    suffixes=(".fxye", ".gsa", ".gsas", ".gss"),
    description="GSAS powder data (FXYE layout)",
    kinds=("xrd",),
)(write_gsas)
