"""Generic column text: .xy, .xye, .dat, .txt, .csv, .prn (any delimiter, header lines, decimal comma).

The reader finds the longest block of consecutive numeric rows with the same
number of columns, takes column names from the line above it when there is one,
and picks x and intensity (and an uncertainty column) by name or by position.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np

from .._atomic import atomic_open
from ..errors import LoadError
from ..scan import ANODES, CU_KALPHA, Radiation
from ._radiation import kalpha1_anode
from ._registry import RawScan, register_reader, register_writer

__all__ = ["decode_text", "header_radiation", "parse_columns", "read_text", "write_xy"]

#: Lines starting with these are comments wherever they appear.
COMMENT_PREFIXES = ("#", "!", "%", "//", ";", "'")

#: A block of fewer numeric rows is not a scan (the front door asks for more).
MIN_ROWS = 3

#: Rows a text file needs for content sniffing to call it column text.
SNIFF_ROWS = 5

#: A file with more lines than this must be one clean numeric table after its header: the
#: line-by-line search for the main block costs ~400 bytes per line, so it is not tried on
#: such files (the first line that breaks the table is reported instead).
MAX_SLOW_LINES = 1_000_000

#: Bytes parsed at a time by the bulk reader (memory stays the output array plus one chunk).
_CHUNK_BYTES = 8 << 20

#: A third column is read as uncertainties only if its median is below this
#: fraction of the median |intensity| (uncertainties are much smaller than
#: counts; a background or fit column is not).
SIGMA_MAX_RATIO = 0.5

_X_NAMES = (
    r"2\s*-?\s*th(eta)?",
    r"two_?theta",
    r"tth",
    r"2θ",
    r"angle",
    r"raman\s*shift",
    r"shift",
    r"wave\s*number",
    r"wavenumber",
    r"x",
)
_Y_NAMES = (r"intensity", r"counts?", r"cps", r"int", r"y", r"signal", r"i(obs)?")
_SIGMA_NAMES = (r"sigma", r"esd", r"s\.?u\.?", r"err(or)?", r"unc(ertainty)?", r"std", r"dy")
_RAMAN_HINTS = re.compile(r"raman|cm-1|cm\^-1|1/cm|cm⁻¹|wavenumber", re.IGNORECASE)
_XRD_HINTS = re.compile(r"2\s*-?\s*theta|2θ|two_?theta|\btth\b|diffract", re.IGNORECASE)
_WAVELENGTH = re.compile(
    r"(?:wave\s*length|lambda|λ|alpha1|kalpha1|ka1|kα1)[^0-9\n]{0,20}?([0-9]+[.,][0-9]+)", re.IGNORECASE
)
#: A first line holding only a wavelength in Å (the .xye convention of the GSAS/TOPAS world, e.g. the
#: IUCr CPD round-robin files: "1.540593"). Three or more decimals: a wavelength is stated to 10⁻³ Å or
#: better, while a count or a column number is not.
_LONE_WAVELENGTH = re.compile(r"^\s*([0-9]\.[0-9]{3,})\s*$")

_ANODE = re.compile(r"(?:anode|target|tube)\s*[:=]?\s*\"?(Cu|Co|Mo|Fe|Cr|Ag)\b", re.IGNORECASE)
#: A stated Kα2 wavelength and Kα2/Kα1 ratio in a text header.
_KALPHA2 = re.compile(
    r"(?:k\s*(?:α|alpha|a)\s*2|alpha2|lambda\s*2|λ\s*2|wave\s*length\s*2)[^0-9\n]{0,20}?([0-9]+[.,][0-9]+)",
    re.IGNORECASE,
)
_RATIO = re.compile(r"ratio[^0-9\n]{0,30}?([0-9]*[.,]?[0-9]+)", re.IGNORECASE)
#: Words by which a header says its X-rays are one line: Kα2 removed by an incident-beam (Johansson,
#: primary) monochromator, or a synchrotron. A plain "monochromator" is not enough: a diffracted-beam
#: (secondary, graphite) monochromator passes the Kα1/Kα2 doublet.
_ONE_LINE = re.compile(
    r"monochromatic|k\s*(?:α|alpha|a)\s*1\s*only|only\s*k\s*(?:α|alpha|a)\s*1\b"
    r"|k\s*(?:α|alpha|a)\s*2\s*(?:removed|stripped|[:=]\s*(?:none|0(?:[.,]0*)?)(?![.,]?[0-9]))"
    r"|johans+on|(?:primary|incident)[ -]?(?:beam\s*)?monochromator|synchrotron",
    re.IGNORECASE,
)


def decode_text(data: bytes, path: str) -> str:
    """Decode bytes as text (UTF-8 with or without BOM, else Latin-1); refuse binary content."""
    if b"\x00" in data[:65536]:
        raise LoadError(path, "is a binary file, not a text scan")
    for enc in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if controls > max(8, len(text[:65536]) // 200):
        raise LoadError(path, "is a binary file, not a text scan")
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class _Table:
    names: list[str] | None
    rows: np.ndarray  # (n, ncol), NaN for non-numeric cells
    header: list[str]
    first_line: int
    row_lines: np.ndarray | None = None  # line number (1-based) of each row, if rows skip lines


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    return [t.strip() for t in line.split(delim)]


def _line_delimiter(line: str) -> tuple[str | None, bool]:
    """Delimiter and decimal-comma flag for one data line."""
    if ";" in line:
        return ";", "," in line
    if "\t" in line and "," not in line:
        return None, False
    if "\t" in line:
        # tab-separated with commas: decimal commas if every tab field has at most one
        fields = [f.strip() for f in line.split("\t") if f.strip()]
        return "\t", all(f.count(",") <= 1 for f in fields) and any("," in f for f in fields)
    if "," in line:
        ws = line.split()
        if (
            len(ws) >= 2
            and all(t.count(",") <= 1 for t in ws)
            and all(_num(t.replace(",", ".")) is not None for t in ws)
        ):
            return None, True
        return ",", False
    return None, False


def _num(tok: str) -> float | None:
    tok = tok.strip().strip('"').strip("'")
    if not tok:
        return None
    try:
        v = float(tok)
    except ValueError:
        # "123(4)" style standard uncertainty
        m = re.fullmatch(r"([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\(\d+\)", tok)
        return float(m.group(1)) if m else None
    return v


def _row_values(line: str) -> tuple[list[float | None], str | None, bool] | None:
    s = line.strip()
    if not s or s.startswith(COMMENT_PREFIXES):
        return None
    delim, dec_comma = _line_delimiter(s)
    toks = _split(s, delim)
    if delim is not None:
        # trailing delimiter gives an empty last field; drop trailing empties only
        while toks and toks[-1] == "":
            toks.pop()
    vals = [_num(t.replace(",", ".") if dec_comma else t) for t in toks]
    if len(vals) < 1 or vals[0] is None:
        return None
    return vals, delim, dec_comma


def _fast_block(lines: list[str]) -> tuple[int, np.ndarray] | None:
    """The common case in C: header lines, then one clean numeric block to the end of the file.

    The first line that parses as numbers starts the block; numpy's text parser reads the rest
    with that line's delimiter. Anything it does not read as a clean table (decimal commas,
    quoted or "123(4)" cells, comment or text lines, a footer, ragged rows) returns None and
    the general line-by-line search below decides. Returns (first line of the block, rows).
    """
    import io

    for i, line in enumerate(lines[:200]):
        r = _row_values(line)
        if r is None:
            continue
        vals, delim, dec_comma = r
        if dec_comma or any(v is None for v in vals):
            return None
        rest = lines[i:]
        if any(ln.lstrip().startswith(COMMENT_PREFIXES) for ln in rest):
            return None
        try:
            arr = np.loadtxt(io.StringIO("\n".join(rest)), delimiter=delim, comments=None, ndmin=2)
        except ValueError:
            return None
        if arr.shape[1] != len(vals) or not np.all(np.isfinite(arr)):
            return None
        return i, arr
    return None


def _head_lines(data: bytes, limit: int) -> tuple[list[str], list[int]]:
    """The first ``limit`` lines of ``data`` decoded, and the byte offset where each starts."""
    lines: list[str] = []
    starts: list[int] = []
    pos = 0
    while len(lines) < limit and pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        raw = data[pos:end].rstrip(b"\r")
        try:
            lines.append(raw.decode("utf-8-sig" if pos == 0 else "utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("latin-1"))
        starts.append(pos)
        pos = end + 1
    return lines, starts


def _bulk_table(data: bytes, path: str) -> _Table | None:
    """Header lines, then one clean numeric table to the end of the file, parsed chunk by chunk.

    Memory is the output array plus one chunk (no list of lines, no decoded copy of the
    file), so a 10⁷-point file costs little more than its numbers. Anything that is not a
    clean table (decimal commas, quoted or "123(4)" cells, comment, text or blank lines
    inside the data, ragged rows) returns None, and the line-by-line search decides —
    except in files of more than :data:`MAX_SLOW_LINES` lines, where the first line that
    breaks the table is reported.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:65536] or b"\n" not in data[:65536]:
        return None
    head, starts = _head_lines(data, 200)
    for i, line in enumerate(head):
        r = _row_values(line)
        if r is None or (i == 0 and _LONE_WAVELENGTH.match(line)):
            continue  # a first line that is only the wavelength belongs to the header
        vals, delim, dec_comma = r
        if dec_comma or any(v is None for v in vals) or (delim is not None and len(delim) != 1):
            return None
        ncol = len(vals)
        b0 = i
        break
    else:
        return None
    try:
        rows = numeric_table(data, starts[b0], ncol=ncol, delimiter=delim, first_line=b0, path=path)
    except NotATable:
        return None
    if rows is None or rows.shape[0] < MIN_ROWS:
        return None
    return _table(head, b0, rows)


class NotATable(Exception):
    """Raised by :func:`numeric_table` when the bytes are not one clean numeric table.

    Not an error for the user: the caller falls back to its line-by-line parser, which
    reads (or reports) what the bulk parser does not.
    """


def numeric_table(
    data: bytes,
    start: int = 0,
    *,
    ncol: int | None = None,
    delimiter: str | None = None,
    first_line: int = 0,
    path: str = "",
) -> np.ndarray | None:
    """Parse ``data[start:]`` as one clean table of numbers, chunk by chunk; None if it is not one.

    Memory is the output array plus one chunk of :data:`_CHUNK_BYTES` (no list of lines, no
    decoded copy). Cells are separated by white space or ``delimiter``; line ends may be
    ``\\r\\n``. Blank, comment or text lines, decimal commas, quoted or "123(4)" cells and
    ragged rows make it return None, except in tables of more than :data:`MAX_SLOW_LINES`
    lines, where the first such line is reported (:class:`LoadError`).

    Parameters
    ----------
    data : bytes
        File content.
    start : int
        Byte offset of the first row.
    ncol : int, optional
        Columns per row; by default those of the first row.
    delimiter : str, optional
        Cell separator besides white space (``","``, ``";"``).
    first_line : int
        0-based line number of the first row, for messages.
    path : str
        For messages.

    Returns
    -------
    ndarray, shape (n, ncol), or None
    """
    if data[start : start + 3] == b"\xef\xbb\xbf":
        start += 3
    end = len(data)
    while end > start and data[end - 1] in b" \t\r\n":
        end -= 1
    if end <= start:
        return None
    sep = delimiter.encode() if delimiter is not None else None
    if ncol is None:
        stop = data.find(b"\n", start, end)
        first = data[start : end if stop < 0 else stop]
        first = first.replace(sep, b" ") if sep else first
        ncol = len(first.split())
        if ncol == 0:
            return None
    nlines = data.count(b"\n", start, end) + 1
    out = np.empty(nlines * ncol, dtype=np.float64)
    pos, filled, line_no = start, 0, first_line
    while pos < end:
        stop = data.find(b"\n", min(pos + _CHUNK_BYTES, end))
        stop = end if stop < 0 or stop >= end else stop + 1
        chunk = data[pos:stop]
        rows = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
        if sep is not None:
            chunk = chunk.replace(sep, b" ")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns when it stops early: the count says so too
            try:
                vals = np.fromstring(chunk.decode("latin-1"), dtype=np.float64, sep=" ")
            except ValueError:
                vals = np.empty(0)
        if vals.size != rows * ncol or not _clean(chunk):
            if nlines > MAX_SLOW_LINES:
                _raise_bad_line(data, pos, stop, line_no, ncol, delimiter, path)
            raise NotATable
        out[filled : filled + vals.size] = vals
        filled += vals.size
        line_no += rows
        pos = stop
    return out.reshape(nlines, ncol)


_NOT_PLAIN = re.compile(rb"[^0-9eEnNaAiIfFtTyY.+\- \t\r\n]")


def _clean(chunk: bytes) -> bool:
    """True when a chunk holds only characters of plain numbers (so the count check is exact)."""
    return _NOT_PLAIN.search(chunk) is None


def _raise_bad_line(
    data: bytes, pos: int, stop: int, line_no: int, ncol: int, delim: str | None, path: str
) -> None:
    """Name the first line of ``data[pos:stop]`` that is not ``ncol`` plain numbers."""
    for k, raw in enumerate(data[pos:stop].split(b"\n")):
        line = raw.decode("latin-1").strip()
        r = _row_values(line)
        if r is None or len(r[0]) != ncol or any(v is None for v in r[0]) or r[2]:
            raise LoadError(
                path,
                f"line {line_no + k + 1} breaks the table of {ncol} numeric columns ({line[:40]!r}); "
                f"a file of more than {MAX_SLOW_LINES:,} lines must be one clean table",
            )
    raise LoadError(path, f"the numeric table from line {line_no + 1} on is malformed")


def parse_columns(text: str, path: str) -> _Table:
    """Find the main numeric block of a text file.

    Returns the numeric rows (NaN where a cell is not a number), the column
    names if the line above the block names them, and the header lines.
    """
    lines = text.split("\n")
    fast = _fast_block(lines)
    if fast is not None:
        b0, arr = fast
        if arr.shape[0] < MIN_ROWS:
            raise LoadError(path, f"has only {arr.shape[0]} numeric row(s); not a scan")
        return _table(lines, b0, arr)
    best: tuple[int, int] | None = None  # (start, end) exclusive
    start = None
    ncol = None
    if len(lines) > MAX_SLOW_LINES:
        raise LoadError(
            path,
            f"has {len(lines):,} lines that are not one clean numeric table after a header; "
            f"files of more than {MAX_SLOW_LINES:,} lines must be",
        )
    parsed: list[list[float | None] | None] = []
    for line in lines:
        r = _row_values(line)
        parsed.append(r[0] if r else None)
    i = 0
    n = len(lines)
    while i <= n:
        vals = parsed[i] if i < n else None
        blank = i < n and not lines[i].strip()
        if vals is not None and sum(v is not None for v in vals) >= 1:
            if start is None:
                start, ncol = i, len(vals)
            elif len(vals) != ncol:
                if best is None or (i - start) > (best[1] - best[0]):
                    best = (start, i)
                start, ncol = i, len(vals)
        elif blank and start is not None:
            pass  # blank lines inside a block (xylib's xy_text.txt) do not end it
        else:
            if start is not None and (best is None or (i - start) > (best[1] - best[0])):
                best = (start, i)
            start, ncol = None, None
        i += 1
    if best is None:
        raise LoadError(path, "has no numeric data columns")
    b0, b1 = best
    keep = [k for k in range(b0, b1) if parsed[k] is not None]
    rows = [parsed[k] for k in keep]
    if len(rows) < MIN_ROWS:
        raise LoadError(path, f"has only {len(rows)} numeric row(s); not a scan")
    arr = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)
    table = _table(lines, b0, arr)
    table.row_lines = np.asarray(keep, dtype=np.int64) + 1
    return table


def _table(lines: list[str], b0: int, arr: np.ndarray) -> _Table:
    """The table of a numeric block starting at line ``b0``, with its header and column names."""
    header = [ln for ln in lines[:b0] if ln.strip()]
    names = None
    if header:
        last = header[-1].strip().lstrip("#!%;/' ").strip()
        delim, _ = _line_delimiter(last)
        if ";" in last:
            delim = ";"
        elif "\t" in last:
            delim = "\t"
        elif "," in last:
            delim = ","
        toks = [t for t in _split(last, delim) if t != ""]
        if len(toks) == arr.shape[1] and all(_num(t) is None for t in toks):
            names = toks
    return _Table(names=names, rows=arr, header=header, first_line=b0 + 1)


def _find(names: list[str], patterns: tuple[str, ...], exclude: set[int]) -> int | None:
    low = [n.strip().strip('"').lower() for n in names]
    for pat in patterns:
        rx = re.compile(rf"^\s*{pat}(\s*[\(\[].*)?$", re.IGNORECASE)
        for k, name in enumerate(low):
            if k not in exclude and rx.match(name):
                return k
    for pat in patterns[:-1]:  # looser: name contains the pattern (but not single letters)
        rx = re.compile(pat, re.IGNORECASE)
        for k, name in enumerate(low):
            if k not in exclude and len(pat) > 2 and rx.search(name):
                return k
    return None


def _header_meta(header: list[str]) -> dict[str, object]:
    meta: dict[str, object] = {}
    pairs: dict[str, str] = {}
    for ln in header[:200]:
        s = ln.strip().lstrip("#!%;/' ").strip()
        m = re.match(r"^([A-Za-z_][\w .()/\-]{0,60}?)\s*[:=;]\s*(.+)$", s)
        if m:
            pairs.setdefault(m.group(1).strip(), m.group(2).strip().strip('"'))
    if pairs.get("phasetrace") == "scan":
        return _phasetrace_header(pairs)
    if pairs:
        meta["header"] = pairs
    joined = "\n".join(header[:200])
    m = _WAVELENGTH.search(joined)
    anode = _ANODE.search(joined)
    named = anode.group(1) if anode else None
    if m:
        lam = float(m.group(1).replace(",", "."))
        if 0.05 < lam < 5.0:
            meta["radiation"], meta["wavelength_source"] = header_radiation(lam, joined, named, "text header")
    elif anode:
        meta["radiation"], meta["wavelength_source"] = header_radiation(None, joined, named, "text header")
    elif header and (lone := _LONE_WAVELENGTH.match(header[0])) and 0.05 < float(lone.group(1)) < 5.0:
        lam = float(lone.group(1))
        meta["radiation"], meta["wavelength_source"] = header_radiation(lam, joined, None, "first line")
    return meta


def header_radiation(lam: float | None, text: str, anode: str | None, where: str) -> tuple[Radiation, str]:
    """The radiation a text header states: one rule for a wavelength key, an anode name and a first line.

    A lab tube emits the Kα1/Kα2 doublet; only an incident-beam (Kα1) monochromator removes
    Kα2, and a diffracted-beam monochromator passes it. So a single stated wavelength that is
    a known anode's Kα1 (:func:`phasetrace.io._radiation.kalpha1_anode`), or an anode named without a
    wavelength, means that anode's doublet, with Kα2 and the ratio from the anode table
    (:data:`phasetrace.scan.ANODES`, as the documented default) — unless the header states a
    Kα2 wavelength (then that one, with the stated ratio or the table's) or says the radiation
    is one line (:data:`_ONE_LINE`: "monochromatic", "Kα1 only", "Kα2 removed" or "Kα2: none",
    a Johansson, primary or incident-beam monochromator, a synchrotron). Any other single
    wavelength (synchrotron, Kβ, a mean Kα) is one line.

    Parameters
    ----------
    lam : float or None
        The stated wavelength (Å); None when only an anode is named.
    text : str
        The header lines, searched for a Kα2 wavelength, a ratio and a one-line statement.
    anode : str or None
        An anode the header names (``anode: Cu``); must be one of :data:`phasetrace.scan.ANODES`
        when ``lam`` is None.
    where : str
        Where the wavelength stands ("text header", "first line"), for the note.

    Returns
    -------
    (Radiation, str)
        The radiation and a note for ``wavelength_source`` that says what was read and what
        was taken from the table.
    """
    named = anode.capitalize() if anode else None
    if lam is None:
        line_anode = named
        lam = ANODES[named][0]
        where = f"{where}: anode {named}, Kα1 {lam} Å from the anode table"
    else:
        line_anode = kalpha1_anode(lam)
        where = f"{where}: {lam} Å" + (f", {line_anode} Kα1" if line_anode else "")
    anode_out = line_anode or named
    one_line = _ONE_LINE.search(text)
    if one_line:
        note = f"{where}; one line (the header says {one_line.group(0)!r})"
        return Radiation(lam, None, 0.0, anode_out), note
    k2 = _KALPHA2.search(text)
    lam2 = float(k2.group(1).replace(",", ".")) if k2 else None
    if lam2 is not None and 0.05 < lam2 < 5.0 and lam2 != lam:
        r = _RATIO.search(text)
        ratio = float(r.group(1).replace(",", ".")) if r else None
        if ratio is not None and 0.0 < ratio <= 1.0:
            return Radiation(lam, lam2, ratio, anode_out), f"{where}; Kα2 {lam2} Å, ratio {ratio:g} stated"
        ratio = ANODES[line_anode][2] if line_anode else CU_KALPHA.ratio
        note = f"{where}; Kα2 {lam2} Å stated, ratio {ratio:g} assumed"
        return Radiation(lam, lam2, ratio, anode_out), note
    if line_anode is not None:
        _, a2, ratio = ANODES[line_anode]
        note = (
            f"{where}; Kα2 {a2} Å, ratio {ratio:g} from the anode table "
            "(the file does not say a monochromator removed it)"
        )
        return Radiation(lam, a2, ratio, line_anode), note
    return Radiation(lam, None, 0.0, anode_out), f"{where} (one wavelength, not an anode's Kα1)"


#: Header keys that :func:`write_text` writes and :func:`read_text` restores.
_PT_FLOAT_KEYS = ("temperature_C", "laser_nm", "counting_time")
_PT_STR_KEYS = ("sample", "system", "technique", "atmosphere", "dwell", "instrument")


def _phasetrace_header(pairs: dict[str, str]) -> dict[str, object]:
    """Metadata from the header :func:`write_text` writes (exact round trip)."""
    meta: dict[str, object] = {}
    for key in _PT_STR_KEYS:
        if pairs.get(key):
            meta[key] = pairs[key]
    for key in _PT_FLOAT_KEYS:
        if pairs.get(key):
            try:
                meta[key] = float(pairs[key])
            except ValueError:
                pass
    if pairs.get("kind") in ("xrd", "raman"):
        meta["_kind"] = pairs["kind"]
    if pairs.get("kalpha1"):
        try:
            a2 = pairs.get("kalpha2")
            meta["radiation"] = Radiation(
                float(pairs["kalpha1"]),
                float(a2) if a2 and a2 != "none" else None,
                float(pairs.get("kalpha2_ratio") or 0.0),
                pairs.get("anode") or None,
                pairs.get("radiation_source") or "file",
            )
        except ValueError:
            pass
    return meta


def read_text(data: bytes, path: str) -> list[RawScan]:
    """Read a column text file: x, intensity and optionally uncertainties.

    Parameters
    ----------
    data : bytes
        File content.
    path : str
        File name, for messages and for the ``.xye`` convention (third column
        is the uncertainty).

    Returns
    -------
    list of RawScan
        One scan.
    """
    table = _bulk_table(data, path)
    if table is None:
        table = parse_columns(decode_text(data, path), path)
    rows, names = table.rows, table.names
    ncol = rows.shape[1]
    meta: dict[str, object] = _header_meta(table.header)
    kind = meta.pop("_kind", None)
    context = "\n".join(table.header[-20:]) + " " + " ".join(names or [])
    if kind is None and _RAMAN_HINTS.search(context):
        kind = "raman"
    elif kind is None and _XRD_HINTS.search(context):
        kind = "xrd"

    sigma_col: int | None = None
    if ncol == 1:
        raise LoadError(
            path,
            "has a single column of numbers; an x column (2θ or Raman shift) and an intensity "
            "column are needed",
        )
    if names is not None and ncol > 2:
        x_col = _prefer_cuka(names)
        if x_col is not None:
            meta["radiation"] = Radiation(1.540598, None, 0.0, "Cu")
            meta["wavelength_source"] = f"column {names[x_col]!r} is 2θ for Cu Kα1"
        else:
            x_col = _find(names, _X_NAMES, set())
        y_col = _find(names, _Y_NAMES, {x_col} if x_col is not None else set())
        if x_col is None or y_col is None:
            raise LoadError(
                path,
                f"has {ncol} columns ({', '.join(names)}); cannot tell which is x and which is intensity",
            )
        sigma_col = _find(names, _SIGMA_NAMES, {x_col, y_col})
        meta["columns"] = {"x": names[x_col], "y": names[y_col]}
    elif ncol == 2:
        x_col, y_col = 0, 1
    elif ncol == 3:
        x_col, y_col = 0, 1
        third = rows[:, 2]
        if path.lower().endswith(".xye"):
            sigma_col = 2
        elif np.all(np.isfinite(third)) and np.all(third >= 0):
            ratio = np.median(third) / max(float(np.median(np.abs(rows[:, 1]))), 1e-300)
            if ratio < SIGMA_MAX_RATIO:
                sigma_col = 2
        if sigma_col is None:
            meta["ignored_columns"] = ["column 3 (does not look like uncertainties)"]
    else:
        raise LoadError(
            path,
            f"has {ncol} unnamed numeric columns; cannot tell which is x and which is intensity "
            "(add a header line naming them, e.g. '2theta intensity')",
        )
    x = rows[:, x_col]
    y = rows[:, y_col]
    sigma = rows[:, sigma_col] if sigma_col is not None else None
    if names is not None and names[x_col].lower().startswith(("wavelength", "nm")):
        meta["x_unit"] = "wavelength_nm"
    out = []
    lines = table.row_lines if table.row_lines is not None else None
    for a, b in _segments(x):
        seg_meta = dict(meta)
        # file line of each point, for messages of the front door ("x not monotonic at line N")
        seg_meta["_first_line"] = table.first_line + a
        if lines is not None:
            seg_meta["_row_lines"] = lines[a:b]
        if (a, b) != (0, x.size):
            seg_meta["rows"] = [table.first_line + a, table.first_line + b - 1]
        out.append(
            RawScan(
                x=x[a:b],
                y=y[a:b],
                sigma=None if sigma is None else sigma[a:b],
                kind=kind,
                meta=seg_meta,
            )
        )
    return out


def _segments(x: np.ndarray) -> list[tuple[int, int]]:
    """Split concatenated scans: x that restarts lower, each piece strictly increasing.

    A drop is a restart only if it lands within the range of the piece before it, in its lower
    half (a second scan of about the same range): one lowered value, two swapped lines or one
    absurd value are disorder within one scan, not a second scan.
    Anything else (one monotonic run, or disorder) is one segment, left to the
    front door to accept or reject (it names the line).
    """
    dx = np.diff(x)
    if not np.all(np.isfinite(dx)):
        return [(0, x.size)]
    drops = np.flatnonzero(dx < 0)
    if drops.size == 0 or drops.size > 1000 or np.count_nonzero(dx > 0) < 0.9 * dx.size:
        return [(0, x.size)]
    edges = [0, *(drops + 1).tolist(), x.size]
    segs = list(zip(edges[:-1], edges[1:], strict=True))
    restarts = all(x[a] - (x[b - 1] - x[a]) <= x[b] <= x[a] + 0.5 * (x[b - 1] - x[a]) for a, b in segs[:-1])
    if restarts and all(b - a >= SNIFF_ROWS and np.all(np.diff(x[a:b]) > 0) for a, b in segs):
        return segs
    return [(0, x.size)]


def _prefer_cuka(names: list[str]) -> int | None:
    for k, n in enumerate(names):
        if re.fullmatch(r"(2theta|twotheta|tth)_?cuka1?", n.strip().lower()):
            return k
    return None


def _sniff_text(head: bytes) -> bool:
    """Plain numeric column text: most non-empty lines are 2-3 numbers."""
    if b"\x00" in head:
        return False
    try:
        s = head.decode("utf-8")
    except UnicodeDecodeError:
        s = head.decode("latin-1")
    lines = [ln for ln in s.replace("\r", "\n").split("\n")[:-1] if ln.strip()]
    if len(lines) < SNIFF_ROWS:
        return False
    good = 0
    for ln in lines:
        r = _row_values(ln)
        if r and 2 <= len(r[0]) <= 3 and all(v is not None for v in r[0]):
            good += 1
    return good >= 0.8 * len(lines)


register_reader(
    "text",
    suffixes=(".xy", ".xye", ".dat", ".txt", ".csv", ".tsv", ".prn", ".asc"),
    description="column text (x y [sigma])",
    sniff=_sniff_text,
    priority=90,
    generic=True,
)(read_text)


def write_xy(
    path: str,
    x: np.ndarray,
    y: np.ndarray,
    sigma: np.ndarray | None = None,
    header: str | None = None,
    *,
    delimiter: str = " ",
) -> None:
    """Write columns that :func:`read_text` reads back exactly (``repr`` keeps every float64 bit).

    The file is replaced atomically.
    """
    cols = [np.asarray(x, float), np.asarray(y, float)]
    if sigma is not None:
        cols.append(np.asarray(sigma, float))
    with atomic_open(path, "w", encoding="utf-8") as fh:
        if header:
            for ln in header.splitlines():
                fh.write(f"# {ln}\n")
        for row in zip(*cols, strict=True):
            fh.write(delimiter.join(repr(float(v)) if math.isfinite(v) else str(v) for v in row) + "\n")


def text_header(scan) -> str:
    """The ``key: value`` header :func:`write_text` writes (read back by :func:`read_text`)."""
    m = scan.meta
    lines = ["phasetrace: scan", f"kind: {scan.kind}"]
    for key in _PT_STR_KEYS:
        v = getattr(m, key)
        if v:
            lines.append(f"{key}: {' '.join(str(v).split())}")
    for key in _PT_FLOAT_KEYS:
        v = getattr(m, key)
        if v is not None:
            lines.append(f"{key}: {v!r}")
    rad = m.radiation
    if scan.kind == "xrd" and rad is not None:
        lines += [
            f"kalpha1: {rad.kalpha1!r}",
            f"kalpha2: {rad.kalpha2!r}" if rad.kalpha2 is not None else "kalpha2: none",
            f"kalpha2_ratio: {rad.ratio!r}",
        ]
        if rad.anode:
            lines.append(f"anode: {rad.anode}")
        if rad.source != "file":
            lines.append(f"radiation_source: {rad.source}")
    axis = "2theta_deg" if scan.kind == "xrd" else "raman_shift_cm-1"
    lines.append(f"columns: {axis} intensity" + (" sigma" if scan.sigma is not None else ""))
    return "\n".join(lines)


def write_text(scan, path: str) -> None:
    """Write a scan as column text with a metadata header; CSV for ``.csv`` files."""
    delim = "," if str(path).lower().endswith(".csv") else " "
    write_xy(path, scan.x, scan.y, scan.sigma, header=text_header(scan), delimiter=delim)


register_writer(
    "text",
    suffixes=(".xy", ".xye", ".dat", ".txt", ".csv"),
    description="column text with a metadata header",
)(write_text)
