"""Bytes of a text export as text: the one decoding rule of the text-based readers (no heavy imports)."""

from __future__ import annotations

__all__ = ["decode_export"]

_BOM = b"\xef\xbb\xbf"


def decode_export(data: bytes) -> str:
    """UTF-8 (a byte-order mark dropped), else Windows-1252.

    Instrument software and spreadsheets on Windows write text exports in the ANSI code page: a
    ``°`` or ``µ`` that is not UTF-8 is read as Windows-1252 (a superset of Latin-1 for printable
    characters); its five undefined bytes become U+FFFD rather than an error.

    Parameters
    ----------
    data : bytes
        The file, or its first bytes.

    Returns
    -------
    str
    """
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
