"""PNG output of the figures: the file writer (report/png.py) and save_figure's PNG and layout."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from phasetrace.report.png import png_bytes
from phasetrace.report.style import PNG_DPI, RC, save_figure


def _read(data_or_path) -> Image.Image:
    src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    im = Image.open(src)
    im.load()
    return im


@pytest.mark.parametrize("opaque", [True, False])
def test_png_bytes_is_lossless(opaque):
    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    rgba[:10] = 255  # a white band: rows equal to the row above
    if opaque:
        rgba[:, :, 3] = 255
    im = _read(png_bytes(rgba, dpi=300, software="test"))
    assert im.mode == ("RGB" if opaque else "RGBA")
    assert np.array_equal(np.asarray(im.convert("RGBA")), rgba)
    assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert im.info["Software"] == "test"


def test_png_bytes_rejects_other_shapes():
    with pytest.raises(ValueError, match="RGBA"):
        png_bytes(np.zeros((4, 4, 3), np.uint8), dpi=300)


def test_saved_png_has_the_pixels_matplotlib_draws(tmp_path):
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    def figure():
        fig, ax = plt.subplots(figsize=(3, 2))
        x = np.linspace(0, 10, 2000)
        ax.plot(x, np.sin(3 * x) ** 2, lw=0.6)
        ax.set_title("Li₇La₃Zr₂O₁₂ (2 1 1)", loc="left")
        ax.legend(["sin²"], loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return fig

    mine = _read(save_figure(figure(), tmp_path / "mine", formats=("png",))["png"])
    fig = figure()
    with mpl.rc_context(RC):  # matplotlib's own PNG of the same figure and box (text measured at PNG_DPI)
        fig.set_dpi(PNG_DPI)
        box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(mpl.rcParams["savefig.pad_inches"])
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches=box)
    plt.close(fig)
    ref = _read(buf.getvalue())
    assert mine.size == ref.size
    assert mine.size[0] > 3.2 * PNG_DPI  # the legend outside the axes is in the picture
    assert np.array_equal(np.asarray(mine.convert("RGBA")), np.asarray(ref.convert("RGBA")))


def test_constrained_layout_is_laid_out_before_the_bounding_box(tmp_path):
    """A constrained-layout figure's right-hand panels are in the picture (they were cut off)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def figure():
        fig, axes = plt.subplots(2, 3, figsize=(8.7, 4.0), layout="constrained")
        for ax in axes.flat:
            ax.plot([0, 1000], [4.9544, 4.9550])
            ax.set_ylabel("c/a")
            ax.set_xlabel("temperature (°C)")
        fig.suptitle("a title as wide as the figure: refined lattice parameters", x=0.02, ha="left")
        return fig

    mine = _read(save_figure(figure(), tmp_path / "lattice", formats=("png",))["png"])
    fig = figure()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches="tight")
    plt.close(fig)
    ref = _read(buf.getvalue())
    # matplotlib's own "tight" output lays out first: the same width within a few pixels of hinting
    assert abs(mine.size[0] - ref.size[0]) <= 0.01 * ref.size[0]
    assert abs(mine.size[1] - ref.size[1]) <= 0.01 * ref.size[1]
