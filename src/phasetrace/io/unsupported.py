"""Formats that are recognised but deliberately not read, so the error can say exactly why.

Neutron powder data (ILL and PSI column formats) look like X-ray data but need
neutron scattering lengths; reading them as X-ray patterns would give wrong
intensities, so they are refused by name.
"""

from __future__ import annotations

import re

from ..errors import UnsupportedFormatError
from ._registry import RawScan, register_reader

__all__: list[str] = []

_PSI = re.compile(rb"^[^\n]*\r?\n\s*lambda\s*=\s*([0-9.]+)", re.IGNORECASE)
_ILL = re.compile(rb"^[^\n]*Title:[^\n]*\r?\n\s*Ident:", re.IGNORECASE)


def _sniff_neutron(head: bytes) -> bool:
    return bool(_PSI.match(head) or _ILL.match(head))


@register_reader(
    "neutron-dat",
    suffixes=(),
    description="ILL / PSI neutron powder data",
    sniff=_sniff_neutron,
    priority=10,
)
def read_neutron(data: bytes, path: str) -> list[RawScan]:
    """Refuse neutron powder data with a message naming the variant."""
    head = data[:4096]
    if _PSI.match(head):
        lam = _PSI.match(head).group(1).decode()
        variant = f"PSI (HRPT/DMC) neutron powder data, λ = {lam} Å"
    else:
        variant = "ILL (D1A/D2B) neutron powder data"
    raise UnsupportedFormatError(
        path,
        f"{variant} is not supported: phasetrace analyses X-ray diffraction and Raman scans",
    )
