"""One look for every figure of a run: phase colours, markers, formula labels, saving (PNG 300 dpi, SVG).

A phase keeps its colour in every figure of a run: :class:`PhaseColours` hands out colours in the
order phases are first seen and is passed (or rebuilt from the same phase list) to each figure.
The observed, calculated, background and difference curves use greys and black, which no phase
gets, so a phase's ticks never share a colour with the calculated curve.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CURVE",
    "FAMILY_MARKERS",
    "PHASE_PALETTE",
    "PhaseColours",
    "documents",
    "figure_style",
    "formula_html",
    "formula_plain",
    "formula_tex",
    "is_formula",
    "phase_label",
    "save_figure",
    "temperature_label",
]

#: Phase colours, in the order they are handed out: Okabe–Ito (colour-blind safe) without black,
#: grey and yellow (too pale on white), then darker distinct hues. None is grey or black.
PHASE_PALETTE: tuple[str, ...] = (
    "#0072b2",  # blue
    "#d55e00",  # vermillion
    "#009e73",  # bluish green
    "#cc79a7",  # reddish purple
    "#e69f00",  # orange
    "#56b4e9",  # sky blue
    "#8c564b",  # brown
    "#9467bd",  # purple
    "#bcbd22",  # olive
    "#17becf",  # cyan
    "#882255",  # wine
    "#117733",  # dark green
    "#332288",  # indigo
    "#aa4499",  # magenta
    "#44aa99",  # teal
    "#999933",  # khaki
)

#: Colours of the curves that are not a phase.
CURVE = {
    "observed": "0.35",
    "calculated": "#000000",
    "background": "0.6",
    "difference": "0.25",
}

#: Marker per phase family, after the core paper's legend (▼ pyrochlore, ◆ LaMO3, ► Li2MnO3, ...).
FAMILY_MARKERS = {
    "pyrochlore": "v",
    "LaMO3-perovskite": "D",
    "layered-Li2MnO3": ">",
    "K2NiF4": "<",
    "lithium-zirconate": "^",
    "rare-earth-oxide": "o",
    "rock-salt": "s",
    "spinel": "P",
    "carbonate": "*",
    "hydroxide": "X",
    "garnet": "h",
    "layered-LiMO2": "p",
}

#: Resolution of PNG figures (journals ask for 300 dpi or more).
PNG_DPI = 300

#: zlib level of PNG figures (report/png.py): line drawings on white, "Up"-filtered, compress at
#: level 1 about as well as at the default 6, in less time.
PNG_COMPRESSION = 1

#: rcParams of every figure: SVG keeps its text as text (editable), PDF embeds TrueType fonts.
RC = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "axes.linewidth": 0.8,
    "savefig.dpi": PNG_DPI,
}


class PhaseColours:
    """Phase id -> colour, the same in every figure that shares this object.

    Parameters
    ----------
    ids : iterable of str, optional
        Phases in the order they get colours (e.g. every phase of a run, as first seen).
    """

    def __init__(self, ids: Iterable[str] = ()):
        self._map: dict[str, str] = {}
        for pid in ids:
            self[pid]

    def __getitem__(self, pid: str) -> str:
        if pid not in self._map:
            self._map[pid] = PHASE_PALETTE[len(self._map) % len(PHASE_PALETTE)]
        return self._map[pid]

    def __contains__(self, pid: object) -> bool:
        return pid in self._map

    def as_dict(self) -> dict[str, str]:
        """Phase id -> colour of the phases seen so far."""
        return dict(self._map)


_ELEMENT_COUNT = re.compile(r"(?<=[A-Za-z\)\]])(\d+(?:\.\d+)?)")


def _split_id(pid: str) -> tuple[str, str]:
    """(formula part, suffix as shown): ``LLZTO_cubic`` -> ("LLZTO", " cubic").

    A suffix with a bare number (Dara's ``CaNi(PO3)4_15_sym``: space group 15) keeps its underscores:
    "CaNi(PO₃)₄ 15 sym" read as a count of something, while the id as written is recognisable.
    """
    head, sep, tail = pid.partition("_")
    if not sep:
        return head, ""
    if any(tok.isdigit() for tok in tail.split("_")):
        return head, "_" + tail
    return head, " " + tail.replace("_", " ")


def is_formula(text: str) -> bool:
    """Whether ``text`` reads as a chemical formula (element symbols and counts), not a name like NMC811."""
    from ..library.formula import ELEMENTS

    tokens = re.findall(r"[A-Z][a-z]?|\d+(?:\.\d+)?|[()\[\]]|.", text)
    return bool(tokens) and all(t in ELEMENTS or re.fullmatch(r"[\d.()\[\]]+", t) for t in tokens)


def formula_tex(text: str) -> str:
    """A formula with its counts as matplotlib subscripts: ``Li2CO3`` -> ``Li$_{2}$CO$_{3}$``.

    Text that is not a formula (``NMC811``, ``LLZTO``) is returned as it is.
    """
    if not is_formula(text):
        return text
    return _ELEMENT_COUNT.sub(lambda m: "$_{" + m.group(1) + "}$", text)


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def formula_plain(text: str) -> str:
    """A formula with its counts as Unicode subscript digits: ``Li2CO3`` -> ``Li₂CO₃``.

    Plain text for figures and canvases: no mathtext to parse (the parse of a few dozen labels at
    three resolutions was a tenth of a batch's figure time), and an SVG keeps each label as one
    editable string. Text that is not a formula is returned as it is.
    """
    if not is_formula(text):
        return text
    return _ELEMENT_COUNT.sub(lambda m: m.group(1).translate(_SUBSCRIPTS), text)


def formula_html(text: str) -> str:
    """A formula with its counts as HTML subscripts: ``Li2CO3`` -> ``Li<sub>2</sub>CO<sub>3</sub>``."""
    import html

    if not is_formula(text):
        return html.escape(text)
    return _ELEMENT_COUNT.sub(lambda m: "<sub>" + m.group(1) + "</sub>", html.escape(text))


def phase_label(pid: str, *, html: bool = False) -> str:
    """A phase id for a figure: the formula part with subscript digits, a suffix after a space.

    ``LiCoO2`` -> LiCoO₂, ``LaMnO3_R3c`` -> LaMnO₃ R3c, ``LLZTO_cubic`` -> LLZTO cubic.
    """
    head, tail = _split_id(pid)
    if html:
        import html as _html

        return formula_html(head) + _html.escape(tail)
    return formula_plain(head) + tail


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """The project's rcParams for the figures drawn inside the block (matplotlib imported here)."""
    import matplotlib as mpl

    with mpl.rc_context(RC):
        yield


def save_figure(fig: Any, base: str | Path, formats: Iterable[str] = ("png", "svg")) -> dict[str, Path]:
    """Write a figure atomically as ``base.<ext>`` for each format (PNG at 300 dpi, SVG with text).

    Returns
    -------
    dict
        Format -> written path. The figure is closed.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    from .._atomic import publish

    base = Path(base)
    paths: dict[str, Path] = {}
    try:
        with mpl.rc_context(RC):
            engine = fig.get_layout_engine()
            if engine is not None:
                # a layout engine (constrained layout) runs at every draw: run it once, before the
                # bounding box is taken (a box taken before would clip what the layout moves out),
                # and keep its result for every format
                engine.execute(fig)
                fig.set_layout_engine("none")
            # the tight bounding box is laid out once for all formats (``bbox_inches="tight"`` would
            # lay the figure out again for each; the text layout is most of a figure's cost)
            # measured at the resolution the PNG is drawn at: hinted text at the screen's 100 dpi came out
            # ~2 % narrower, and the box cut the end off a long legend outside the axes
            dpi = fig.get_dpi()
            fig.set_dpi(PNG_DPI)
            box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(mpl.rcParams["savefig.pad_inches"])
            fig.set_dpi(dpi)
            for ext in formats:
                target = base.with_name(f"{base.name}.{ext}") if base.suffix != f".{ext}" else base
                tmp = target.with_name(f".{target.name}.tmp.{ext}")
                if ext == "png":
                    _write_png(fig, tmp, box)
                else:
                    fig.savefig(tmp, dpi=PNG_DPI, bbox_inches=box, format=ext)
                publish(tmp, target)
                paths[ext] = target
    finally:
        plt.close(fig)
    return paths


class _Pixels:
    """File object for ``savefig(format="raw")`` that keeps the rendered Agg buffer as an array."""

    def __init__(self) -> None:
        self.array: Any = None

    def write(self, data: Any) -> int:
        import numpy as np

        # the buffer's (H, W, 4) memoryview, not copied: the view keeps the renderer's buffer alive, and
        # nothing draws into it before the PNG is encoded (a 300 dpi figure is 10-20 MB of pixels)
        self.array = np.asarray(data, dtype=np.uint8)
        return self.array.size

    def seek(self, *args: Any) -> int:  # matplotlib takes an object with ``seek`` for a file handle
        return 0


def _write_png(fig: Any, path: Path, box: Any) -> None:
    """The figure at PNG_DPI within ``box`` as a PNG file (:func:`phasetrace.report.png.png_bytes`)."""
    import matplotlib as mpl

    from .png import png_bytes

    pixels = _Pixels()
    fig.savefig(pixels, dpi=PNG_DPI, bbox_inches=box, format="raw")
    data = png_bytes(
        pixels.array, dpi=PNG_DPI, level=PNG_COMPRESSION, software=f"Matplotlib version{mpl.__version__}"
    )
    with open(path, "wb") as fh:
        fh.write(data)


def temperature_label(t: float, system: Mapping[str, Any] | None = None, *, unit: bool = True) -> str:
    """``RT`` where the series labels the scan room temperature, else the number (``700 °C``, ``-104.7 °C``).

    Room temperature is what a file name or manifest says (``RT``, ``room``, ``as-prepared``; the loaders
    record it as the label ``"RT"`` at 25 °C), not a range of numbers: a low-temperature series
    (7 K-289 K) has every scan at or below 30 °C, and each needs its own number.

    Parameters
    ----------
    t : float
        Temperature (°C).
    system : mapping, optional
        The series document (``temperatures`` and ``labels``, as in ``summary.json``); without it
        the number is given.
    unit : bool
        Append `` °C`` to a number.
    """
    if system is not None:
        labels = dict(zip(system.get("temperatures") or (), system.get("labels") or (), strict=False))
        if labels.get(t) == "RT":
            return "RT"
    return f"{t:g} °C" if unit else f"{t:g}"


def documents(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Series results as their JSON documents: dicts stay, typed results give ``to_dict()``.

    The report layer reads the documents (``summary.json``'s shape), so it serves the nested
    dictionaries and typed series results alike.
    """
    return [it.to_dict() if hasattr(it, "to_dict") and not isinstance(it, dict) else it for it in items]
