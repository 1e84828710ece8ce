"""PNG files of rendered figures: one "Up" row filter and zlib, written from the pixel array.

Pillow (what matplotlib's PNG output goes through) chooses a filter for every row of an 8-bit
image by trying them all, which at 300 dpi costs more than the compression: a figure's PNG took
about as long to encode as to draw. Line drawings on white need no such search: the difference to
the row above ("Up", PNG filter type 2) makes blank space and vertical runs zeros, and zlib at a
low level packs those as well as the adaptive choice does. Opaque figures are written as RGB
(three bytes a pixel, not four). The file states its resolution (pHYs), as matplotlib's does.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["png_bytes"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(rgba: np.ndarray, *, dpi: float, level: int = 1, software: str = "") -> bytes:
    """The PNG file of an 8-bit RGBA image, lossless.

    Parameters
    ----------
    rgba : ndarray, shape (H, W, 4), uint8
        Pixels, top row first (a matplotlib Agg buffer).
    dpi : float
        Resolution stated in the file.
    level : int
        zlib compression level.
    software : str
        Text of the file's ``Software`` entry (none when empty).

    Returns
    -------
    bytes
        RGB (colour type 2) when every pixel is opaque, else RGBA (colour type 6).
    """
    rgba = np.asarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA array, got shape {rgba.shape}")
    h, w, _ = rgba.shape
    opaque = bool(rgba[:, :, 3].min() == 255)
    if opaque:
        # the colour planes one at a time: numpy copies a 3-of-4-byte pixel slice (rgba[:, :, :3]) about
        # five times slower than three single-byte planes, and the copy cost as much as the compression
        px = np.empty((h, w, 3), dtype=np.uint8)
        for c in range(3):
            px[:, :, c] = rgba[:, :, c]
    else:
        px = np.ascontiguousarray(rgba)
    rows = px.reshape(h, -1)
    # each row: its filter type byte, then the row minus the row above (mod 256); the first row as is
    out = np.empty((h, rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = 2
    out[:1, 0] = 0
    out[:1, 1:] = rows[:1]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    ppm = int(round(dpi / 0.0254))
    parts = [
        _SIGNATURE,
        _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2 if opaque else 6, 0, 0, 0)),
        _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
    ]
    if software:
        parts.append(_chunk(b"tEXt", b"Software\x00" + software.encode("latin-1", "replace")))
    # zlib reads the filtered rows' buffer itself (no bytes copy of them)
    parts += [_chunk(b"IDAT", zlib.compress(out, level)), _chunk(b"IEND", b"")]
    return b"".join(parts)
