"""The front door: read a file with the right reader, then check and normalise once."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataWarning, DefaultRadiationWarning, LoadError, UnsupportedFormatError
from ..scan import CU_KALPHA, Radiation, Scan, ScanMeta
from ._registry import READERS, RawScan, Reader, readers_for, run_readers
from .saturation import find_saturation

__all__ = [
    "LASER_RANGE_NM",
    "MAX_FILE_BYTES",
    "MAX_TWO_THETA",
    "MIN_POINTS",
    "RAMAN_SHIFT_RANGE",
    "load",
    "load_all",
    "loads",
    "read_bytes",
]

#: Files larger than this are refused before reading: no powder pattern or
#: Raman spectrum comes near it, and it protects against reading a disk image.
MAX_FILE_BYTES = 512 * 1024 * 1024

#: Fewer points than this cannot even describe one peak; analysis stages ask for more.
MIN_POINTS = 3

#: Largest 2θ a diffractometer can reach; larger x means the axis is not 2θ. 2θ below 0 is refused too.
MAX_TWO_THETA = 180.0

#: Raman shifts (cm⁻¹) a spectrum may span. Vibrational Raman lies within about ±4500 cm⁻¹
#: (the H–H stretch of H₂ is at 4155); electronic Raman and photoluminescence recorded on a
#: Raman axis reach further, but no Stokes shift can exceed the laser's own wavenumber
#: (1e7/200 nm = 50000 cm⁻¹, the shortest laser accepted) and anti-Stokes signal beyond
#: −10000 cm⁻¹ is thermally unobservable (exp(−hcν/kT) < 1e−8 even at 1000 °C).
#: With a stated laser, the upper bound is that laser's wavenumber.
RAMAN_SHIFT_RANGE = (-10_000.0, 50_000.0)

#: Excitation wavelengths (nm) accepted as a Raman laser: deep-UV 200 nm to the 1064 nm Nd:YAG
#: line with margin. A value outside is a corrupt field, not a laser.
LASER_RANGE_NM = (200.0, 1100.0)

#: Lowest temperature a scan can be recorded at, °C (absolute zero).
ABSOLUTE_ZERO_C = -273.15

_SCANMETA_FIELDS = {f.name for f in dataclasses.fields(ScanMeta)} - {"extra"}

_KIND_NAMES = {"xrd": "an XRD pattern", "raman": "a Raman spectrum"}


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a whole file, with one-line errors for missing, unreadable, huge or non-regular files.

    Devices (``/dev/zero``, also behind a symlink), FIFOs and sockets are refused from their
    ``stat`` before anything is opened: their size says nothing (reads as 0) and reading one
    can block forever or never end. The read itself is capped at :data:`MAX_FILE_BYTES`.
    """
    p = Path(path)
    try:
        st = os.stat(p)  # follows symlinks: the target is what would be read
        if stat.S_ISDIR(st.st_mode):
            raise LoadError(p, "is a folder, not a scan file")
        if not stat.S_ISREG(st.st_mode):
            raise LoadError(p, f"is {_file_type(st.st_mode)}, not a regular file; refused before reading")
        if st.st_size > MAX_FILE_BYTES:
            raise LoadError(p, f"is {st.st_size / 2**20:.0f} MiB, larger than any scan file should be")
        with open(p, "rb") as fh:
            # read what stat promised (+1 to notice growth): read(MAX) would allocate MAX at once
            data = fh.read(st.st_size + 1)
            while len(data) > st.st_size and len(data) <= MAX_FILE_BYTES:
                more = fh.read(1 << 20)
                if not more:
                    break
                data += more
    except FileNotFoundError:
        raise LoadError(p, "no such file") from None
    except PermissionError:
        raise LoadError(p, "permission denied") from None
    except OSError as exc:
        raise LoadError(p, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(p, "grew beyond any scan file's size while being read")
    if not data or data.isspace():  # (no .strip(): it would copy a large file)
        raise LoadError(p, "is empty")
    return data


def _file_type(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def load_all(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    format: str | None = None,  # noqa: A002 - the natural name for the option
    radiation: Radiation | None = None,
    laser_nm: float | None = None,
    meta: Mapping[str, Any] | None = None,
    parse_filename: bool = True,
) -> list[Scan]:
    """Read every scan a file holds (ranges, repeated measurements, archive members).

    Parameters
    ----------
    path : str or path-like
        The file.
    kind : {"xrd", "raman"}, optional
        The technique the caller expects. A file of the other technique is an
        error rather than a silently misread scan.
    format : str, optional
        Name of the reader to use (see ``phasetrace formats``), bypassing
        suffix and content detection.
    radiation : Radiation, optional
        Wavelengths to use instead of what the file states (e.g. from the
        user); without it a file that states none gets :data:`CU_KALPHA` and a
        :class:`DefaultRadiationWarning`.
    laser_nm : float, optional
        Raman excitation wavelength, for files whose x axis is absolute
        wavelength and which do not state the laser.
    meta : mapping, optional
        Metadata that overrides what the file and its name say (a manifest
        entry: ``system``, ``temperature_C``, ``technique``, ...).
    parse_filename : bool
        Take system and temperature from the file name where the file and
        ``meta`` do not give them.

    Returns
    -------
    list of Scan
        In file order; ``scan.meta.index`` is the position.

    Raises
    ------
    LoadError
        With a one-line message naming the file and the problem.
    """
    p = Path(path)
    return _load_data(
        read_bytes(p),
        p,
        kind=kind,
        format=format,
        radiation=radiation,
        laser_nm=laser_nm,
        meta=meta,
        parse_filename=parse_filename,
    )


def loads(data: bytes, name: str, **kwargs: Any) -> list[Scan]:
    """Read every scan of a file's content (bytes) through the same readers and checks as :func:`load_all`.

    Parameters
    ----------
    data : bytes
        The file's content.
    name : str
        A file name: its suffix chooses the readers (with content sniffing), and it names the
        data in messages.
    **kwargs
        As for :func:`load_all`.

    Examples
    --------
    >>> [len(s) for s in loads(b"10 1\n10.1 2\n10.2 3\n", "a.xy", parse_filename=False)]  # doctest: +SKIP
    [3]
    """
    if not data or data.isspace():
        raise LoadError(name, "is empty")
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(name, f"is {len(data) / 2**20:.0f} MiB, larger than any scan file should be")
    return _load_data(data, Path(name), **kwargs)


def _load_data(
    data: bytes,
    p: Path,
    *,
    kind: str | None = None,
    format: str | None = None,  # noqa: A002 - the natural name for the option
    radiation: Radiation | None = None,
    laser_nm: float | None = None,
    meta: Mapping[str, Any] | None = None,
    parse_filename: bool = True,
) -> list[Scan]:
    digest = hashlib.sha256(data).hexdigest()
    reader_list = _choose_readers(p, data, format)
    raws, reader = run_readers(reader_list, data, p)
    del data  # the file's bytes are not needed any more: memory stays proportional to the numbers
    if not raws:
        raise LoadError(p, f"holds no scan ({reader.description})")
    scans = []
    for i, raw in enumerate(raws):
        scans.append(
            _finalise(
                raw,
                path=p,
                sha256=digest,
                reader=reader,
                index=i,
                kind=kind,
                radiation=radiation,
                laser_nm=laser_nm,
                meta=meta,
                parse_filename=parse_filename,
            )
        )
    return scans


def load(
    path: str | os.PathLike[str],
    *,
    index: int | None = None,
    **kwargs: Any,
) -> Scan:
    """Read one scan from a file.

    Parameters
    ----------
    path : str or path-like
        The file.
    index : int, optional
        Which scan, for a file that holds several (see :func:`load_all`).
        Without it such a file is an error that says how many it holds.
    **kwargs
        Passed to :func:`load_all` (``kind``, ``format``, ``radiation``,
        ``laser_nm``, ``meta``, ``parse_filename``).

    Returns
    -------
    Scan

    Examples
    --------
    >>> scan = load("pattern.xrdml")  # doctest: +SKIP
    >>> scan.x_range, scan.meta.radiation.kalpha1  # doctest: +SKIP
    ((10.0, 80.0), 1.540598)
    """
    scans = load_all(path, **kwargs)
    if index is None:
        if len(scans) > 1:
            raise LoadError(
                path,
                f"holds {len(scans)} scans; choose one with index=0..{len(scans) - 1} "
                "(or read them all with load_all)",
            )
        return scans[0]
    if not -len(scans) <= index < len(scans):
        raise LoadError(path, f"holds {len(scans)} scan(s); there is no index {index}")
    return scans[index]


def _choose_readers(p: Path, data: bytes, fmt: str | None) -> list[Reader]:
    if fmt is not None:
        if fmt not in READERS:
            raise UnsupportedFormatError(p, f"unknown format {fmt!r}; known formats: {', '.join(READERS)}")
        return [READERS[fmt]]
    candidates = readers_for(p.suffix.lower(), data[:4096])
    if not candidates:
        raise UnsupportedFormatError(
            p,
            f"unrecognised file type {p.suffix or '(no suffix)'!r} and content; "
            "'phasetrace formats' lists what phasetrace reads",
        )
    return candidates


def _finalise(
    raw: RawScan,
    *,
    path: Path,
    sha256: str,
    reader: Reader,
    index: int,
    kind: str | None,
    radiation: Radiation | None,
    laser_nm: float | None,
    meta: Mapping[str, Any] | None,
    parse_filename: bool,
) -> Scan:
    from .metadata import metadata_from_filename

    where = path if index == 0 else f"{path} [scan {index}]"
    x, y, sigma = _check_arrays(raw, where)

    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.meta.items():
        if value is None or key.startswith("_"):  # "_..." keys are for the front door only
            continue
        (fields if key in _SCANMETA_FIELDS else extra)[key] = value
    _check_temperature(fields, where)  # the file's own value first; again below after a manifest
    if fields.get("laser_nm") is not None:
        _check_laser(fields["laser_nm"], where, "the file states")
    if laser_nm is not None:
        _check_laser(laser_nm, where, "the laser wavelength given is")

    # Raman axis in absolute wavelength: convert to Raman shift with the laser line.
    if fields.get("x_unit") == "wavelength_nm":
        laser = laser_nm if laser_nm is not None else fields.get("laser_nm")
        if laser is None:
            raise LoadError(
                where,
                "x axis is wavelength in nm and the file does not state the laser wavelength; "
                "give it (--laser-nm / laser_nm=)",
            )
        x = 1e7 / float(laser) - 1e7 / x
        fields["laser_nm"] = float(laser)
        fields["x_unit"] = "raman_shift_cm-1"
        extra["x_converted_from"] = "wavelength_nm"
        if x[0] > x[-1]:
            x, y = x[::-1], y[::-1]
            sigma = sigma[::-1] if sigma is not None else None
    elif laser_nm is not None:
        fields["laser_nm"] = float(laser_nm)

    the_kind = raw.kind or reader.kind or _infer_kind(x, fields.get("x_unit"))
    if meta and meta.get("technique"):
        tech = str(meta["technique"]).strip().lower()
        if tech in ("xrd", "raman") and raw.kind is None and reader.kind is None:
            the_kind = tech
    _check_axis(x, the_kind, fields.get("laser_nm"), where, raw.meta)
    if kind is not None and kind != the_kind:
        lo, hi = float(x[0]), float(x[-1])
        raise LoadError(
            where,
            f"is {_KIND_NAMES[the_kind]} (x {lo:g}..{hi:g}), not {_KIND_NAMES.get(kind, kind)}",
        )
    fields["x_unit"] = "2theta_deg" if the_kind == "xrd" else "raman_shift_cm-1"

    if the_kind == "xrd":
        if radiation is not None:
            fields["radiation"] = radiation
        elif not isinstance(fields.get("radiation"), Radiation):
            fields["radiation"] = CU_KALPHA
            warnings.warn(
                f"{where}: the file states no X-ray wavelength; assuming Cu Kα1/Kα2 "
                f"({CU_KALPHA.kalpha1} / {CU_KALPHA.kalpha2} Å, ratio {CU_KALPHA.ratio})",
                DefaultRadiationWarning,
                stacklevel=3,
            )
    else:
        fields.pop("radiation", None)
        _check_saturation(raw, x, y, extra, where)

    if parse_filename:
        for key, value in metadata_from_filename(path).items():
            if key in _SCANMETA_FIELDS:
                fields.setdefault(key, value)
            else:
                extra.setdefault(key, value)
    if meta:
        for key, value in meta.items():
            if value is None or key == "file":
                continue
            if key in _SCANMETA_FIELDS:
                fields[key] = value
            else:
                extra[key] = value

    _check_temperature(fields, where)
    fields.setdefault("sample", path.stem)
    fields["step"] = float(np.median(np.diff(x)))
    fields.update(source_path=str(path), sha256=sha256, format=reader.name, index=index)
    return Scan(x=x, y=y, sigma=sigma, kind=the_kind, meta=ScanMeta(**fields, extra=extra))


def _check_saturation(raw: RawScan, x: np.ndarray, y: np.ndarray, extra: dict[str, Any], where: Any) -> None:
    """Record saturated detector points of a Raman spectrum (``extra["saturated"]``) and warn once.

    The reader says what it knows of the read-out: ``_integer_counts`` (the format stores integers) and
    ``_full_scale`` (the largest value of its data type).
    """
    sat = find_saturation(
        y, integer_counts=bool(raw.meta.get("_integer_counts")), full_scale=raw.meta.get("_full_scale")
    )
    if sat is None:
        return
    extra["saturated"] = sat.to_dict(x)
    spans = ", ".join(f"{a:.1f}" if a == b else f"{a:.1f} to {b:.1f}" for a, b in sat.ranges(x))
    kind = "the detector's full scale" if sat.full_scale else "a flat top at the maximum"
    warnings.warn(
        f"{where}: {sat.count} point(s) at {sat.value:g} counts ({kind}) at {spans} cm⁻¹: the detector "
        "saturated there; a band there is cut off (its height, width and position are not measured)",
        DataWarning,
        stacklevel=4,
    )


def _line_of(meta: Mapping[str, Any], i: int) -> str:
    """'line N' for point ``i`` (0-based) when the reader says where its rows are, else 'point i+1'."""
    rows = meta.get("_row_lines")
    if rows is not None and 0 <= i < len(rows):
        return f"line {int(rows[i])}"
    first = meta.get("_first_line")
    if first is not None:
        return f"line {int(first) + i}"
    return f"point {i + 1}"


def _check_arrays(raw: RawScan, where: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Shapes, finite values, uncertainties and a strictly monotonic x (reversed if decreasing).

    Uncertainties: a negative one is refused (corrupt column). Zero ones would give a point
    infinite weight in every fit (Rwp 0 %, NaN detection limits), so they are replaced by the
    median of the scan's positive uncertainties, with a :class:`DataWarning`; a column with
    no positive value at all is dropped (weights then come from counting statistics).
    """
    x, y, sigma = raw.x, raw.y, raw.sigma
    if x.ndim != 1 or y.ndim != 1 or x.size != y.size:
        raise LoadError(where, f"x and y differ in shape ({x.shape} vs {y.shape})")
    if sigma is not None and sigma.shape != x.shape:
        raise LoadError(where, "the uncertainty column differs in length from the data")
    if x.size < MIN_POINTS:
        raise LoadError(where, f"has {x.size} data point(s); at least {MIN_POINTS} are needed")
    for name, arr in (("x", x), ("intensity", y), ("uncertainty", sigma)):
        if arr is None:
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.argmax(bad))
            raise LoadError(where, f"{name} has a non-finite value ({arr[i]}) at {_line_of(raw.meta, i)}")
        del bad
    if sigma is not None:
        sigma = _floor_sigma(sigma, raw.meta, where)
    dx = np.diff(x)
    if (dx == 0).any():
        i = int(np.argmax(dx == 0))
        raise LoadError(
            where, f"duplicate x value {x[i]:g} at {_line_of(raw.meta, i)} and {_line_of(raw.meta, i + 1)}"
        )
    if (dx < 0).all():
        x, y = x[::-1], y[::-1]
        sigma = sigma[::-1] if sigma is not None else None
    elif (dx < 0).any():
        i = int(np.argmax(dx < 0)) if dx[0] > 0 else int(np.argmax(dx > 0))
        raise LoadError(
            where,
            f"x not monotonic at {_line_of(raw.meta, i + 1)}: {x[i]:g} is followed by {x[i + 1]:g}",
        )
    return x, y, sigma


def _floor_sigma(sigma: np.ndarray, meta: Mapping[str, Any], where: Any) -> np.ndarray | None:
    neg = sigma < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise LoadError(where, f"uncertainty is negative ({sigma[i]:g}) at {_line_of(meta, i)}")
    zero = sigma == 0
    nzero = int(np.count_nonzero(zero))
    if not nzero:
        return sigma
    positive = sigma[~zero]
    if positive.size == 0:
        warnings.warn(
            f"{where}: every uncertainty is zero; the column is ignored (weights from counting statistics)",
            DataWarning,
            stacklevel=4,
        )
        return None
    floor = float(np.median(positive))
    warnings.warn(
        f"{where}: {nzero} zero uncertainty value(s) (first at {_line_of(meta, int(np.argmax(zero)))}) "
        f"replaced by the median uncertainty {floor:.4g}",
        DataWarning,
        stacklevel=4,
    )
    return np.where(zero, floor, sigma)


def _check_laser(value: Any, where: Any, what: str) -> None:
    try:
        lam = float(value)
    except (TypeError, ValueError):
        raise LoadError(where, f"{what} a laser wavelength {value!r} that is not a number") from None
    lo, hi = LASER_RANGE_NM
    if not lo <= lam <= hi:
        raise LoadError(
            where, f"{what} a laser wavelength of {lam:g} nm, outside the {lo:g}–{hi:g} nm of Raman lasers"
        )


def _check_axis(x: np.ndarray, kind: str, laser: Any, where: Any, meta: Mapping[str, Any]) -> None:
    """2θ within 0–180°, Raman shift within :data:`RAMAN_SHIFT_RANGE` (and below the laser's wavenumber)."""
    lo, hi = float(x[0]), float(x[-1])
    if kind == "xrd":
        bad_at = 0 if lo < 0 else (x.size - 1 if hi > MAX_TWO_THETA else None)
        if bad_at is not None:
            raise LoadError(
                where,
                f"x reaches {x[bad_at]:g} at {_line_of(meta, bad_at)}, which cannot be 2θ "
                f"(0–{MAX_TWO_THETA:g}°)",
            )
        return
    rlo, rhi = RAMAN_SHIFT_RANGE
    if laser is not None:
        rhi = min(rhi, 1e7 / float(laser))
    if lo < rlo or hi > rhi:
        bad_at = 0 if lo < rlo else x.size - 1
        raise LoadError(
            where,
            f"x reaches {x[bad_at]:g} at {_line_of(meta, bad_at)}, outside both 2θ (0–{MAX_TWO_THETA:g}°) "
            f"and Raman shifts ({rlo:g} to {rhi:.0f} cm⁻¹)",
        )


def _check_temperature(fields: dict[str, Any], where: Any) -> None:
    t = fields.get("temperature_C")
    if t is None:
        return
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise LoadError(where, f"temperature {t!r} is not a number") from None
    if not math.isfinite(value) or value < ABSOLUTE_ZERO_C:
        raise LoadError(where, f"temperature {value:g} °C is not a physical temperature")


def _infer_kind(x: np.ndarray, x_unit: str | None) -> str:
    """XRD or Raman from the axis unit, else from the x range (2θ never exceeds 180°)."""
    if x_unit in ("2theta_deg",):
        return "xrd"
    if x_unit in ("raman_shift_cm-1",):
        return "raman"
    return "raman" if x[-1] > MAX_TWO_THETA or x[0] < -5.0 else "xrd"
