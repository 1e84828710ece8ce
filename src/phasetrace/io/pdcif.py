"""Powder CIF (pdCIF): measured or processed powder patterns stored in a CIF.

A pdCIF data block holds the pattern in a loop whose intensity column is one
of ``_pd_meas_counts_total``, ``_pd_meas_intensity_total``,
``_pd_proc_intensity_total`` (or the ``_net`` variants), optionally with a
standard uncertainty in parentheses (``5540(160)``). The 2θ of each point is
either a column of the same loop (``_pd_meas_2theta_scan``,
``_pd_meas_angle_2theta``, ``_pd_proc_2theta_corrected``) or implied by
``_pd_meas_2theta_range_min``/``_max``/``_inc`` (``_pd_proc_...`` for
processed intensities). The wavelength is ``_diffrn_radiation_wavelength``; a
loop of two with ``_diffrn_radiation_wavelength_wt`` gives Kα1, Kα2 and their
intensity ratio. Every block with a pattern becomes one :class:`RawScan`.

A CIF that describes only a crystal structure is refused with a message that
points to where it is useful (as a reference phase); powder data measured with
neutrons (``_diffrn_radiation_probe neutron``) is refused like the other
neutron formats. The CIF syntax is read by phasetrace's one CIF reader,
:mod:`phasetrace._cif`, in strict mode (CIF 1.1: data blocks, loops, quoted
strings, ``;`` text fields, comments; broken syntax is a :class:`LoadError`);
DDLm tag names with a dot (``_pd_meas.counts_total``) are read as their
underscore form.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._cif import CifSyntaxError, cif_named_blocks
from ..errors import LoadError, UnsupportedFormatError
from ..scan import ANODES, Radiation
from ._decode import decode_export
from ._radiation import file_radiation
from ._registry import RawScan, register_reader, register_writer
from ._writeutil import exact_number, one_line, stated_radiation

__all__ = ["read_pdcif", "sniff_pdcif", "write_pdcif"]

#: Intensity tags in order of preference: raw counts first, then processed intensities.
_Y_TAGS = (
    "_pd_meas_counts_total",
    "_pd_meas_intensity_total",
    "_pd_proc_intensity_total",
    "_pd_meas_intensity_net",
    "_pd_proc_intensity_net",
)
#: 2θ column tags, for measured and for processed intensities.
_X_TAGS_MEAS = ("_pd_meas_2theta_scan", "_pd_meas_angle_2theta", "_pd_meas_2theta_corrected")
_X_TAGS_PROC = ("_pd_proc_2theta_corrected", "_pd_meas_2theta_scan", "_pd_meas_angle_2theta")
#: Axes other than 2θ that a pdCIF may use (refused by name).
_OTHER_AXES = {
    "_pd_meas_time_of_flight": "time of flight",
    "_pd_proc_d_spacing": "d-spacing",
    "_pd_proc_recip_len_q": "Q",
    "_pd_meas_position": "detector position",
    "_pd_proc_energy_incident": "energy",
}
#: "Unknown" and "not applicable" values of CIF.
_NULLS = frozenset({"?", "."})

_SNIFF_PD = re.compile(rb"^\s*_pd_[a-z]", re.MULTILINE)
#: A data block header alone on its line ("data_mode;0" in a vendor text file is not one).
_SNIFF_DATA = re.compile(rb"^data_\S*[ \t\r]*$", re.MULTILINE)
#: A CIF tag followed by whitespace, or a loop_ keyword, at the start of a line.
_SNIFF_TAG = re.compile(rb"^[ \t]*(?:_[A-Za-z][^\s]*\s|loop_\s)", re.MULTILINE)
#: Tags of a crystal structure, for the "structure-only CIF" message.
_STRUCTURE_TAGS = ("_cell_length_a", "_atom_site_fract_x", "_atom_site_label")
#: Raman Open Database (.rod) files are CIF too; they are not powder diffraction.
_RAMAN_MARK = "_raman_"
#: A number with an optional standard uncertainty in parentheses: 1.234(5), 5540(160), 2.5e3(4)
#: (CIF puts the uncertainty after the exponent; the form 2.5(4)e3 is accepted too).
_NUMBER_SU = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?(?:\((\d+)\))?$"
    r"|^([+-]?(?:\d+\.?\d*|\.\d+))\((\d+)\)[eE]([+-]?\d+)$"
)
#: An anode line in _diffrn_radiation_type, e.g. "Cu K\a", "CuK\a~1~", "Mo Kalpha".
_ANODE_TYPE = re.compile(r"\b(" + "|".join(ANODES) + r")\s*K", re.IGNORECASE)


def sniff_pdcif(head: bytes) -> bool:
    """True when the head holds a ``_pd_`` tag, or a ``data_`` block header and a CIF tag or loop.

    Raman Open Database files (CIF with ``_raman_`` tags) are not claimed.
    """
    if b"\x00" in head or _RAMAN_MARK.encode() in head:
        return False
    return bool(_SNIFF_PD.search(head) or (_SNIFF_DATA.search(head) and _SNIFF_TAG.search(head)))


@register_reader(
    "pdcif",
    suffixes=(".cif", ".pdcif"),
    description="powder CIF (pdCIF)",
    sniff=sniff_pdcif,
    kind="xrd",
    priority=30,
)
def read_pdcif(data: bytes, path: str) -> list[RawScan]:
    """Read every powder pattern of a pdCIF.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : str
        Its path, for messages.

    Returns
    -------
    list of RawScan
        One per data block that holds a powder pattern, in file order.

    Raises
    ------
    LoadError
        Malformed CIF, inconsistent point counts.
    UnsupportedFormatError
        A structure-only CIF (no powder data), neutron data, or a pattern on an
        axis other than 2θ.
    """
    text = decode_export(data)
    blocks = parse_cif(text, path)
    if not blocks:
        raise LoadError(path, "not a CIF (no data_ block)")
    scans: list[RawScan] = []
    other_axis: str | None = None
    for block in blocks:
        loop = _powder_loop(block)
        if loop is None:
            continue
        axis = next((name for tag, name in _OTHER_AXES.items() if tag in loop.tags), None)
        if axis is not None and not any(t in loop.tags for t in _X_TAGS_MEAS + _X_TAGS_PROC):
            other_axis = axis
            continue
        scans.append(_read_block(block, loop, blocks, path))
    if not scans:
        if other_axis is not None:
            raise UnsupportedFormatError(
                path, f"pdCIF powder data on a {other_axis} axis is not supported; phasetrace reads 2θ scans"
            )
        if any(_RAMAN_MARK in tag for b in blocks for tag in _all_tags(b)):
            raise LoadError(path, "is a Raman CIF (Raman Open Database), not powder diffraction data")
        if any(b.column(t) is not None for b in blocks for t in _STRUCTURE_TAGS):
            raise UnsupportedFormatError(
                path,
                "is a crystal-structure CIF without powder data "
                "(use it as a reference phase: phasetrace phases add)",
            )
        raise LoadError(path, "CIF holds no powder pattern (no _pd_meas/_pd_proc intensity loop)")
    return scans


def _all_tags(block: Block) -> list[str]:
    return list(block.items) + [t for loop in block.loops for t in loop.tags]


# --------------------------------------------------------------------------- CIF blocks


@dataclass
class Loop:
    """A CIF loop: its tags (lower case) and its rows of raw string values."""

    tags: list[str]
    columns: dict[str, list[str]]


@dataclass
class Block:
    """A CIF data block: single items and loops, with tags in lower case."""

    name: str
    items: dict[str, str] = field(default_factory=dict)
    loops: list[Loop] = field(default_factory=list)

    def get(self, tag: str) -> str | None:
        """A single item, or the first value of a looped tag; None when absent or unknown."""
        v = self.items.get(tag)
        if v is None:
            for loop in self.loops:
                if tag in loop.columns and loop.columns[tag]:
                    v = loop.columns[tag][0]
                    break
        return None if v is None or v in _NULLS else v

    def column(self, tag: str) -> list[str] | None:
        """All values of a tag (a one-element list for a single item)."""
        for loop in self.loops:
            if tag in loop.columns:
                return loop.columns[tag]
        if tag in self.items:
            return [self.items[tag]]
        return None


def parse_cif(text: str, path: str) -> list[Block]:
    """Parse CIF text into its data blocks (save frames are read into their block).

    Parameters
    ----------
    text : str
        The CIF.
    path : str
        Its path, for messages.

    Returns
    -------
    list of Block

    Raises
    ------
    LoadError
        Broken CIF syntax (:func:`phasetrace._cif.cif_named_blocks` in strict mode: an unclosed
        text field or quoted string, a value without a tag, a tag without a value, a loop whose
        values do not fill its rows) or content before the first ``data_`` block.
    """
    try:
        named = cif_named_blocks(text, strict=True)
    except CifSyntaxError as exc:
        raise LoadError(path, f"malformed CIF: {exc}") from None
    if named and named[0][0] is None:
        raise LoadError(path, "malformed CIF: content before the first data_ block")
    return [
        Block(name or "", items, [Loop(list(loop), loop) for loop in loops]) for name, items, loops in named
    ]


# --------------------------------------------------------------------------- powder data


def _powder_loop(block: Block) -> Loop | None:
    for loop in block.loops:
        if any(t in loop.columns for t in _Y_TAGS):
            return loop
    return None


def _number_su(s: str) -> tuple[float, float | None]:
    """A CIF number and its standard uncertainty (None if it states none)."""
    m = _NUMBER_SU.match(s.strip())
    if not m:
        raise ValueError(s)
    if m.group(1) is not None:
        mantissa, exp, su = m.group(1), m.group(2), m.group(3)
    else:
        mantissa, su, exp = m.group(4), m.group(5), m.group(6)
    try:
        scale = 10.0 ** int(exp) if exp else 1.0
    except OverflowError:
        raise ValueError(s) from None
    value = float(mantissa) * scale
    if su is None:
        return value, None
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return value, int(su) * 10.0 ** (-decimals) * scale


def _float_item(block: Block, tag: str) -> float | None:
    v = block.get(tag)
    if v is None:
        return None
    try:
        x, _ = _number_su(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _read_block(block: Block, loop: Loop, blocks: list[Block], path: str) -> RawScan:
    where = f"pdCIF block data_{block.name}"
    y_tag = next(t for t in _Y_TAGS if t in loop.columns)
    processed = y_tag.startswith("_pd_proc")
    raw_y = loop.columns[y_tag]
    n = len(raw_y)

    probe = (block.get("_diffrn_radiation_probe") or block.get("_diffrn_radiation_type") or "").lower()
    if "neutron" in probe:
        wl = block.get("_diffrn_radiation_wavelength")
        lam = f", λ = {wl} Å" if wl else ""
        raise UnsupportedFormatError(
            path,
            f"{where} holds neutron powder data{lam}, which is not supported: "
            "phasetrace analyses X-ray diffraction and Raman scans",
        )

    count_tag = "_pd_proc_number_of_points" if processed else "_pd_meas_number_of_points"
    stated = _float_item(block, count_tag)
    if stated is not None and int(stated) != n:
        raise LoadError(path, f"{where}: {count_tag} is {int(stated)} but the loop has {n} points")

    x_tags = _X_TAGS_PROC if processed else _X_TAGS_MEAS
    x_tag = next((t for t in x_tags if t in loop.columns), None)
    if x_tag is not None:
        try:
            x = np.array([_number_su(v)[0] if v not in _NULLS else math.nan for v in loop.columns[x_tag]])
        except ValueError:
            raise LoadError(path, f"{where}: a {x_tag} value is not a number") from None
        x_source = x_tag
    else:
        x, x_source = _x_from_range(block, processed, n, where, path)

    y = np.full(n, math.nan)
    su = np.full(n, math.nan)
    for k, v in enumerate(raw_y):
        if v in _NULLS:
            continue
        try:
            y[k], s = _number_su(v)
        except ValueError:
            raise LoadError(path, f"{where}: intensity {v!r} at point {k + 1} is not a number") from None
        if s is not None:
            su[k] = s
    keep = np.isfinite(y) & np.isfinite(x)
    meta: dict[str, Any] = {
        "x_unit": "2theta_deg",
        "cif_block": block.name,
        "intensity_tag": y_tag,
        "x_source": x_source,
    }
    if not keep.all():
        meta["points_without_value"] = int((~keep).sum())
    sigma = su[keep] if np.isfinite(su[keep]).all() and keep.any() else None
    if sigma is not None:
        meta["sigma_source"] = "standard uncertainties in the file"
    meta.update(_block_meta(block))
    radiation, rad_meta = _radiation(block, blocks, path)
    meta.update(rad_meta)
    if radiation is not None:
        meta["radiation"] = radiation
    return RawScan(x=x[keep], y=y[keep], sigma=sigma, kind="xrd", meta=meta)


def _x_from_range(block: Block, processed: bool, n: int, where: str, path: str) -> tuple[np.ndarray, str]:
    prefixes = (
        ("_pd_proc_2theta_range", "_pd_meas_2theta_range")
        if processed
        else (
            "_pd_meas_2theta_range",
            "_pd_proc_2theta_range",
        )
    )
    for prefix in prefixes:
        lo, hi, inc = (_float_item(block, f"{prefix}_{s}") for s in ("min", "max", "inc"))
        if lo is None or inc is None or inc <= 0:
            continue
        if hi is not None:
            expected = round((hi - lo) / inc) + 1
            if expected != n:
                raise LoadError(
                    path,
                    f"{where}: {prefix}_min/max/inc give {expected} points but the loop has {n}",
                )
        return lo + inc * np.arange(n, dtype=np.float64), f"{prefix}_min/inc"
    raise LoadError(path, f"{where} has intensities but neither a 2θ column nor a 2θ range")


def _block_meta(block: Block) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    block_id = block.get("_pd_block_id")
    if block_id:
        meta["pd_block_id"] = block_id
        parts = block_id.split("|")
        # GSAS2CIF and pdCIF convention: date|sample|operator|instrument.
        if len(parts) >= 2 and parts[1].strip():
            meta["sample"] = parts[1].strip()
            if len(parts) >= 4 and parts[3].strip():
                meta["instrument"] = parts[3].strip()
        else:
            meta["sample"] = block_id
    if "sample" not in meta and block.name:
        meta["sample"] = block.name
    for key, tag in (
        ("instrument", "_diffrn_measurement_device_type"),
        ("date", "_pd_meas_datetime_initiated"),
        ("operator", "_pd_meas_info_author_name"),
        ("chemical_formula", "_chemical_formula_sum"),
        ("phase_name", "_pd_phase_name"),
    ):
        v = block.get(tag)
        if v and key not in meta:
            meta[key] = v
    t = _float_item(block, "_diffrn_ambient_temperature") or _float_item(block, "_pd_meas_temperature")
    if t is not None and t > 0:
        meta["measurement_temperature_K"] = t
    step_time = _float_item(block, "_pd_meas_step_count_time")
    if step_time is not None and step_time > 0:
        meta["counting_time"] = step_time
    return meta


def _radiation(block: Block, blocks: list[Block], path: str) -> tuple[Radiation | None, dict[str, Any]]:
    """Wavelengths of the block, else of the one other block of the file that states them."""
    source = block
    if block.column("_diffrn_radiation_wavelength") is None:
        others = [b for b in blocks if b is not block and b.column("_diffrn_radiation_wavelength")]
        if len(others) == 1:
            source = others[0]
    meta: dict[str, Any] = {}
    if source is not block:
        meta["wavelength_block"] = source.name
    anode = _anode(source) or _anode(block)
    values = source.column("_diffrn_radiation_wavelength") or []
    lams: list[float] = []
    for v in values:
        if v in _NULLS:
            continue
        try:
            lams.append(_number_su(v)[0])
        except ValueError:
            raise LoadError(path, f"pdCIF wavelength {v!r} is not a number") from None
    weights = _weights(source, len(values))
    ratio = weights[1] / weights[0] if weights and len(weights) > 1 and weights[0] > 0 else None
    if len(lams) > 2:
        meta["other_wavelengths"] = lams[2:]
    a1, a2 = (lams + [None, None])[:2]
    rad, rad_meta = file_radiation(a1, a2, ratio, anode, what="pdCIF", path=path)
    return rad, {**meta, **rad_meta}


def _weights(block: Block, n: int) -> list[float] | None:
    col = block.column("_diffrn_radiation_wavelength_wt")
    if not col or len(col) != n:
        return None
    try:
        return [_number_su(v)[0] for v in col]
    except ValueError:
        return None


def _anode(block: Block) -> str | None:
    target = block.get("_diffrn_source_target")
    if target and target.strip().capitalize() in ANODES:
        return target.strip().capitalize()
    for tag in ("_diffrn_radiation_type", "_diffrn_radiation_wavelength_type"):
        v = block.get(tag)
        m = _ANODE_TYPE.search(v) if v else None
        if m:
            return m.group(1).capitalize()
    return None


# --------------------------------------------------------------------------- writer

#: Characters kept in a data block name (others become ``_``); CIF names hold no whitespace.
_BLOCK_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
#: Longest data block name written (CIF 1.1 allows 75 characters).
_BLOCK_NAME_MAX = 60


def _cif_number(v: float) -> str:
    """A CIF number that reads back as the same float64: positional (no exponent), shortest digits."""
    return exact_number(v, positional=True)


def _cif_text(value: object) -> str:
    """A one-line CIF character value, quoted so that the reader gives it back unchanged."""
    text = one_line(value)
    for q in ("'", '"'):
        # a quote ends a quoted string only when whitespace (or the line end) follows it
        if f"{q} " not in text and not text.endswith(q):
            return f"{q}{text}{q}"
    return f"\n;{text}\n;"  # a text field: the value on its own line after ';'


def write_pdcif(scan, path: str) -> None:
    """Write an XRD scan as a powder CIF that :func:`read_pdcif` reads back.

    One data block (named after the sample) with the radiation
    (``_diffrn_radiation_wavelength`` for monochromatic radiation, a loop of
    Kα1 and Kα2 with ``_diffrn_radiation_wavelength_wt`` 1 and the Kα2/Kα1
    ratio for a doublet, ``_diffrn_source_target``; nothing when the scan's
    radiation is only the assumed default), ``_pd_block_id``
    (``|sample||instrument``), the counting time and a loop of
    ``_pd_meas_2theta_scan`` with ``_pd_meas_counts_total`` (non-negative
    integer counts) or ``_pd_meas_intensity_total`` (any other values).
    Numbers are written positionally with the shortest digits that read back
    as the same float64, so 2θ and intensities round-trip exactly. The scan's
    sigma is not written (a CIF uncertainty in parentheses would round the
    intensity).

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
    sample = " ".join(str(meta.sample).split()) if meta.sample else ""
    name = _BLOCK_NAME_UNSAFE.sub("_", sample)[:_BLOCK_NAME_MAX] or "phasetrace"
    lines = ["#\\#CIF_1.1", "# powder pattern written by phasetrace", "", f"data_{name}", ""]
    if sample:
        instrument = " ".join(str(meta.instrument).split()) if meta.instrument else ""
        block_id = f"|{sample.replace('|', '/')}||{instrument.replace('|', '/')}"
        lines.append(f"_pd_block_id {_cif_text(block_id)}")
    if meta.instrument:
        lines.append(f"_diffrn_measurement_device_type {_cif_text(meta.instrument)}")
    rad = stated_radiation(meta)
    if rad is not None:
        lines.append("_diffrn_radiation_probe x-ray")
        if rad.anode:
            line_name = rad.anode + " K\\a"  # CIF markup for "Kα"
            lines.append(f"_diffrn_radiation_type {_cif_text(line_name)}")
            lines.append(f"_diffrn_source_target {_cif_text(rad.anode)}")
        if rad.kalpha2 is None:
            lines.append(f"_diffrn_radiation_wavelength {_cif_number(rad.kalpha1)}")
        else:
            lines += [
                "loop_",
                "_diffrn_radiation_wavelength_id",
                "_diffrn_radiation_wavelength",
                "_diffrn_radiation_wavelength_wt",
                f"1 {_cif_number(rad.kalpha1)} 1",
                f"2 {_cif_number(rad.kalpha2)} {_cif_number(rad.ratio)}",
            ]
    lines.append("")
    if meta.counting_time:
        lines.append(f"_pd_meas_step_count_time {_cif_number(meta.counting_time)}")
    lines.append(f"_pd_meas_number_of_points {x.size}")
    counts = bool(np.all(y >= 0) and np.all(np.floor(y) == y))
    y_tag = "_pd_meas_counts_total" if counts else "_pd_meas_intensity_total"
    lines += ["", "loop_", "_pd_meas_2theta_scan", y_tag]
    lines += [f"{_cif_number(a)} {_cif_number(b)}" for a, b in zip(x, y, strict=True)]
    lines.append("")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines))


register_writer(
    "pdcif",
    suffixes=(".cif", ".pdcif"),
    description="powder CIF (pdCIF)",
    kinds=("xrd",),
)(write_pdcif)
