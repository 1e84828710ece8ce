"""The X-ray radiation a file states, read by one rule for every reader.

Vendor files state the tube's lines in fields of their own (UXD ``_WL1``/``_WL2``/``_WLRATIO``,
BRML ``WaveLengthAlpha1``, Rigaku ``*HW_XG_WAVE_LENGTH_ALPHA1``, XRDML ``usedWavelength``, Bruker
RAW headers); each reader finds its fields and :func:`file_radiation` turns them into a
:class:`~phasetrace.scan.Radiation` the same way:

* Kα1 and Kα2 stated: the doublet, at the stated Kα2/Kα1 ratio, or at :data:`ASSUMED_RATIO` when the
  file gives none (said in ``kalpha2_ratio_source``);
* Kα1 alone, a stated ratio of 0 (a Kα2 line of no intensity), or a beam the file calls Kα1 only:
  one line, so every format reads a monochromatic beam as the same ``Radiation``;
* no wavelength but a known anode: the anode table (:data:`phasetrace.scan.ANODES`, said in
  ``wavelength_source``), its Kα1 alone for a Kα1-only beam;
* nothing: None (the front door applies the documented default with a warning).

Text files, whose headers are free text, read a single wavelength by the rule of
:func:`phasetrace.io.text.header_radiation`, which uses :func:`kalpha1_anode` to recognise a tube line.
"""

from __future__ import annotations

from typing import Any

from ..errors import LoadError
from ..scan import ANODES, Radiation

__all__ = ["ASSUMED_RATIO", "KALPHA1_MATCH_TOL", "file_radiation", "kalpha1_anode"]

#: Kα2/Kα1 ratio used when a file gives Kα1 and Kα2 but no ratio: the anode-table value
#: (:data:`phasetrace.scan.ANODES`, as PANalytical and Bruker software write it); recorded as assumed.
ASSUMED_RATIO = 0.5

#: A stated wavelength within this of an anode's tabulated Kα1 (Å) is that line: published Cu Kα1 values
#: (1.540562 Bearden, 1.540593 Hölzer, 1.540598) lie within 4·10⁻⁵ Å, distinct anodes ≥ 0.1 Å apart.
KALPHA1_MATCH_TOL = 5e-4


def kalpha1_anode(lam: float) -> str | None:
    """The anode whose tabulated Kα1 the wavelength is (within :data:`KALPHA1_MATCH_TOL`), if any."""
    return next((a for a, (a1, _, _) in ANODES.items() if abs(lam - a1) <= KALPHA1_MATCH_TOL), None)


def file_radiation(
    a1: float | None,
    a2: float | None,
    ratio: float | None,
    anode: str | None,
    *,
    what: str,
    path: str,
    one_line: bool = False,
) -> tuple[Radiation | None, dict[str, Any]]:
    """The radiation from the wavelengths a file states, else from its anode (the rule above).

    Parameters
    ----------
    a1, a2 : float or None
        Kα1 and Kα2 as stated (Å); None or 0 when not stated.
    ratio : float or None
        Kα2/Kα1 intensity ratio as stated; None when not stated.
    anode : str or None
        The tube's anode as the file names it (``"Cu"``, ``"cu "``).
    what : str
        The format, for messages ("UXD", "Rigaku file").
    path : str
        The file, for messages.
    one_line : bool
        The file says the beam is Kα1 only (a Kα1 monochromator).

    Returns
    -------
    (Radiation or None, dict)
        The radiation and metadata saying what was assumed or taken from the table.

    Raises
    ------
    LoadError
        A stated wavelength or ratio that is not physical.
    """
    meta: dict[str, Any] = {}
    anode = anode.strip().capitalize() if anode and anode.strip() else None
    try:
        if a1:
            if one_line or not a2 or ratio == 0:
                return Radiation(a1, None, 0.0, anode, "file"), meta
            if ratio is None:
                ratio = ASSUMED_RATIO
                meta["kalpha2_ratio_source"] = f"not stated in the file; {ASSUMED_RATIO} assumed"
            return Radiation(a1, a2, ratio, anode, "file"), meta
    except ValueError as exc:
        raise LoadError(path, f"{what} states an implausible wavelength ({exc})") from None
    if anode not in ANODES:
        return None, meta
    rad = Radiation.from_anode(anode)
    meta["wavelength_source"] = "anode table"
    if one_line:
        rad = Radiation(rad.kalpha1, None, 0.0, rad.anode, "file")
    return rad, meta
