"""Figures fit for a paper: each figure type rendered and checked for the problems users reported."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from phasetrace.report import figures as F  # noqa: E402
from phasetrace.report.pattern import fit_figure, plot_fit  # noqa: E402
from phasetrace.report.style import CURVE, PhaseColours, phase_label, save_figure  # noqa: E402

HKL = re.compile(r"^\(\d+ \d+ \d+\)$")


def _bbox(artist):
    fig = artist.figure
    return artist.get_window_extent(fig.canvas.get_renderer())


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _legend_clear_of_data(fig) -> None:
    """No legend of the figure overlaps an axes that holds data (lines, collections)."""
    fig.canvas.draw()
    legends = [lg for a in fig.axes if (lg := a.get_legend()) is not None] + list(fig.legends)
    assert legends
    for lg in legends:
        lb = _bbox(lg)
        for a in fig.axes:
            if a.get_visible() and (a.lines or a.collections):
                assert not _overlaps(lb, _bbox(a)), f"legend over the data of {a.get_title() or a}"


def _png_dpi(path: Path) -> float:
    data = path.read_bytes()
    i = data.index(b"pHYs")
    ppm_x, _, unit = struct.unpack(">IIB", data[i + 4 : i + 13])
    assert unit == 1
    return ppm_x * 0.0254


# ------------------------------------------------------------------------------------------ the fit
def test_rietveld_plot(lco_fit, library):
    res, scan = lco_fit
    ax = plot_fit(res, library=library, wavelength=scan.meta.radiation.kalpha1)
    fig = ax.figure
    # title is the file name, with the fit statistics
    assert "/" not in ax.get_title() and "Rwp" in ax.get_title()
    # the intensity axis is not stretched below the data to make room for ticks: they have a strip
    lo, hi = ax.get_ylim()
    assert lo >= float(np.min(res.y)) - 0.05 * (hi - lo)
    strip = fig.axes[1]
    tick_colours = [to_hex(c.get_colors()[0]) for c in strip.collections if isinstance(c, LineCollection)]
    in_model = [p.id for p in res.phases if p.in_model]
    assert len(tick_colours) == len(in_model) and len(set(tick_colours)) == len(in_model)
    assert to_hex(CURVE["calculated"]) not in tick_colours
    calc = next(line for line in ax.lines if line.get_label() == "calculated")
    assert to_hex(calc.get_color()) not in tick_colours
    # legend: every phase with wt % ± esd, outside the data
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for p in res.phases:
        if p.in_model and p.detected:
            assert any(t.startswith(phase_label(p.id)) and "±" in t and "wt %" in t for t in texts)
    _legend_clear_of_data(fig)
    # hkl labels: conventional (no negative index), inside the axes, LiCoO2's (0 0 3) and (1 0 4) among them
    labels = [a for a in ax.texts if isinstance(a, Annotation)]
    assert labels and all(HKL.match(a.get_text()) for a in labels)
    assert {"(0 0 3)", "(1 0 4)"} <= {a.get_text() for a in labels}
    fig.canvas.draw()
    top = _bbox(ax).y1
    assert all(_bbox(a).y1 <= top + 1 for a in labels)
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("scale", ["sqrt", "log"])
def test_rietveld_plot_scales_and_zoom(lco_fit, library, scale):
    res, scan = lco_fit
    fig = fit_figure(res, zoom=[(18, 20), (36, 40)], scale=scale, library=library)
    main = fig.axes[0]
    assert main.get_yscale() == ("function" if scale == "sqrt" else "log")
    zooms = [a for a in fig.axes if a.get_title().endswith("°")]
    assert [a.get_xlim() for a in zooms] == [(18, 20), (36, 40)]
    _legend_clear_of_data(fig)
    matplotlib.pyplot.close(fig)


def test_saved_png_300_dpi_and_svg_with_editable_text(lco_fit, library, tmp_path):
    res, _ = lco_fit
    paths = save_figure(plot_fit(res, library=library).figure, tmp_path / "fit")
    assert _png_dpi(paths["png"]) == pytest.approx(300, abs=1)
    svg = paths["svg"].read_text()
    # text stays text (editable), formulas as subscripts (LiCoO₂ is "LiCoO" + a lowered "2")
    assert "<text" in svg and "wt %" in svg
    assert not re.search(r'<path id="DejaVuSans-', svg)


def test_result_methods_delegate_to_the_report_layer(lco_fit):
    res, _ = lco_fit
    ax = res.plot(scale="sqrt", hkl=0)
    assert ax.get_yscale() == "function"
    assert "Rwp" in res.report()
    matplotlib.pyplot.close(ax.figure)


# ------------------------------------------------------------------------------------------ series
def _colour_of_labels(ax) -> dict[str, str]:
    lg = ax.get_legend()
    out = {}
    for h, t in zip(lg.legend_handles, lg.get_texts(), strict=True):
        if hasattr(h, "get_color"):
            out[t.get_text()] = to_hex(h.get_color())
    return out


def test_series_figures_share_phase_colours(report_run, library):
    run, _ = report_run
    (s,) = run.systems
    colours = F.run_colours(run.systems)
    want = {phase_label(pid): c for pid, c in colours.as_dict().items()}
    profiles = F.profiles_by_file(run.records)
    seen: dict[str, set[str]] = {}

    def note(label: str, colour: str) -> None:
        for name in want:
            if label.startswith(name):
                seen.setdefault(name, set()).add(colour)

    wf = F.plot_waterfall(s, library, colours=colours, profiles=profiles)
    for fa in wf.figure.axes:
        if fa.get_legend():
            for k, v in _colour_of_labels(fa).items():
                note(k, v)
    wt = F.plot_wt_vs_temperature(s, colours=colours)
    for fa in wt.figure.axes:
        if fa.get_legend():
            for k, v in _colour_of_labels(fa).items():
                note(k, v)
    on = F.plot_onsets(run.systems, library, colours=colours)
    for lab in on.get_yticklabels():
        note(lab.get_text().split(": ", 1)[1], to_hex(lab.get_color()))
    ra = F.plot_raman_stack(s, library, colours=colours)
    for k, v in _colour_of_labels(ra).items():
        note(k, v)
    assert {phase_label("La2Zr2O7"), phase_label("LaCoO3"), phase_label("LLZTO_cubic")} <= set(seen)
    for name, cs in seen.items():
        assert cs == {want[name]}, name
    for fig in {wf.figure, wt.figure, on.figure, ra.figure}:
        _legend_clear_of_data(fig)
        matplotlib.pyplot.close(fig)


def test_waterfall_marks_new_phases_on_their_own_trace(report_run, library):
    run, _ = report_run
    (s,) = run.systems
    ax = F.plot_waterfall(s, library, profiles=F.profiles_by_file(run.records))
    temps = sorted(f["temperature_C"] for f in s["files"] if f["technique"] == "xrd")
    k700 = temps.index(700)
    markers = [ln for ln in ax.lines if ln.get_marker() not in ("None", None, "") and ln.get_linestyle() == "None"]
    assert markers
    for ln in markers:  # on the 700 °C trace (offset 1 per trace, trace height 0.9), not between traces
        y = ln.get_ydata()
        assert np.all((y > k700) & (y < k700 + 1.0))
    # zoom panels on the diagnostic reflections, each labelled with conventional hkl
    zooms = [a for a in ax.figure.axes if a is not ax and a.get_title().endswith("°")]
    assert zooms
    hkl = [h for a in zooms for t in a.texts for h in t.get_text().split("/")]
    assert hkl and all(HKL.match(t) for t in hkl)
    assert "(2 2 2)" in hkl  # La2Zr2O7's strongest reflection carries its onset
    matplotlib.pyplot.close(ax.figure)


def test_wt_vs_temperature_has_hosts_errors_and_upper_limits(report_run):
    run, _ = report_run
    (s,) = run.systems
    ax = F.plot_wt_vs_temperature(s)
    host_ax = next(a for a in ax.figure.axes if a is not ax and a.get_visible())
    host_labels = {t.get_text() for t in ax.figure.axes[0].get_legend().get_texts()}
    assert phase_label("LLZTO_cubic") in host_labels and phase_label("LiCoO2") in host_labels
    assert host_ax.lines
    # one open triangle at its own detection limit per non-detection with a limit, no shared grey band
    expected = sum(
        1
        for p in s["phases"]
        if p["role"] != "host"
        for v in p["wt_percent_by_T"].values()
        if not v["detected_xrd"] and v["lod_wt_percent"] is not None
    )
    opens = [ln for ln in ax.lines if ln.get_marker() == "v" and ln.get_markerfacecolor() == "none"]
    assert expected > 0 and sum(len(ln.get_xdata()) for ln in opens) == expected
    assert not any(type(c).__name__ == "FillBetweenPolyCollection" for c in ax.collections)
    matplotlib.pyplot.close(ax.figure)


def test_onsets_are_intervals_with_technique_and_vanishing(report_run, library):
    run, _ = report_run
    (s,) = run.systems
    ax = F.plot_onsets(run.systems, library)
    p = {q["id"]: q for q in s["phases"]}["La2Zr2O7"]
    lo, hi = p["onset"]["combined"]
    bars = [b for b in ax.patches if abs(b.get_x() - lo) < 1e-9 and abs(b.get_x() + b.get_width() - hi) < 1e-9]
    assert bars, "onset drawn as the interval (last without, first with)"
    vanish = [ln for ln in ax.lines if ln.get_marker() == "X"]
    assert any(np.isclose(ln.get_xdata()[0], p["vanishes_at"]) for ln in vanish)
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"XRD", "Raman", "XRD and Raman", "vanishes"} <= legend
    matplotlib.pyplot.close(ax.figure)


def test_raman_stack_marks_every_strong_band_without_overlapping_labels(report_run, library):
    run, _ = report_run
    (s,) = run.systems
    ax = F.plot_raman_stack(s, library)
    fig = ax.figure
    fig.canvas.draw()
    drawn = {round(float(c.get_segments()[0][0][0]), 1) for c in ax.collections if isinstance(c, LineCollection)}
    lo, hi = ax.get_xlim()
    for p in s["phases"]:
        if phase_label(p["id"]) + " bands" not in {t.get_text() for t in ax.get_legend().get_texts()}:
            continue
        bands = library.raman_bands(p["id"])
        top = max(b.rel_intensity for b in bands)
        strong = {round(b.position, 1) for b in bands if b.rel_intensity >= F.RAMAN_STRONG * top and lo <= b.position <= hi}
        assert strong <= drawn, p["id"]
    boxes = [_bbox(t) for t in ax.texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _overlaps(boxes[i], boxes[j]), (ax.texts[i].get_text(), ax.texts[j].get_text())
    title = _bbox(ax.title)
    assert not any(_overlaps(b, title) for b in boxes)
    assert ax.get_ylabel()
    matplotlib.pyplot.close(fig)


def test_lattice_parameters_against_temperature(report_run):
    run, _ = report_run
    (s,) = run.systems
    ax = F.plot_lattice_vs_temperature(s, F.profiles_by_file(run.records))
    panels = [a for a in ax.figure.axes if a.get_visible() and a.lines]
    names = {a.get_ylabel() for a in panels}
    assert {"a (Å)", "c (Å)"} <= names  # LiCoO2 is hexagonal: a and c
    matplotlib.pyplot.close(ax.figure)


def test_run_writes_every_figure(report_run):
    run, written = report_run
    for name in ("waterfall", "wt", "lattice", "raman"):
        png = run.out / f"{name}_pc_LCO_LLZTO.png"
        assert _png_dpi(png) == pytest.approx(300, abs=1)
        assert (run.out / f"{name}_pc_LCO_LLZTO.svg").exists()
    assert written["onsets"].exists()


def test_phase_colours_are_stable_and_never_a_curve_colour():
    c = PhaseColours(["A", "B"])
    assert c["A"] != c["B"] and c["A"] == PhaseColours(["A"])["A"]
    assert not {to_hex(v) for v in CURVE.values()} & {c[str(k)] for k in range(16)}


def test_formulas_get_subscripts_and_names_do_not():
    from phasetrace.report.style import formula_html

    assert phase_label("Li2CO3") == "Li₂CO₃"  # Unicode subscripts: no mathtext, one SVG string
    assert phase_label("LaMnO3_R3c") == "LaMnO₃ R3c"
    assert phase_label("NMC811") == "NMC811" and phase_label("LLZTO_cubic") == "LLZTO cubic"
    assert formula_html("Li6.4La3Zr1.4Ta0.6O12").startswith("Li<sub>6.4</sub>La<sub>3</sub>")


class _Typed:
    """A typed series result: the report layer reads its JSON document."""

    def __init__(self, doc):
        self.doc = doc

    def to_dict(self):
        return self.doc


def test_figures_take_typed_series_results(report_run, library):
    run, _ = report_run
    (s,) = run.systems
    ax = F.plot_wt_vs_temperature(_Typed(s))
    assert ax.lines
    on = F.plot_onsets([_Typed(s)], library)
    assert on.patches
    for a in (ax, on):
        matplotlib.pyplot.close(a.figure)


def test_phase_label_keeps_an_id_with_a_number_as_written():
    """Finding 22: Dara's ``CaNi(PO3)4_15_sym`` (space group 15) rendered "CaNi(PO₃)₄ 15 sym"."""
    from phasetrace.report.style import phase_label

    assert phase_label("CaNi(PO3)4_15_sym") == "CaNi(PO₃)₄_15_sym"
    assert phase_label("CaNi(PO3)4_15_sym", html=True) == "CaNi(PO<sub>3</sub>)<sub>4</sub>_15_sym"
    assert phase_label("LLZTO_cubic") == "LLZTO cubic" and phase_label("LaMnO3_R3c") == "LaMnO₃ R3c"
    assert phase_label("LiCoO2") == "LiCoO₂"


def test_a_long_legend_outside_the_axes_is_not_cut(tmp_path):
    """Finding 22: the fit legend lost its end: the PNG's box was measured with 100-dpi text."""
    import matplotlib.pyplot as plt

    from phasetrace.report.style import PNG_DPI, RC

    label = "CaNi(PO₃)₄_15_sym: ~73 wt % (poor fit: amount unreliable; a phase may be missing from the library)"
    with matplotlib.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        ax.plot([0, 1], [0, 1], label=label)
        legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.set_dpi(PNG_DPI)
        renderer = fig.canvas.get_renderer()
        need = (legend.get_window_extent(renderer).x1 - fig.get_tightbbox(renderer).x0 * PNG_DPI) / PNG_DPI
        fig.set_dpi(100)
        path = save_figure(fig, tmp_path / "legend", formats=("png",))["png"]
    width_px = struct.unpack(">I", path.read_bytes()[16:20])[0]
    assert width_px / PNG_DPI >= need


def test_onsets_of_a_series_without_any_onset_draw_without_a_warning():
    """A series whose phases are all there from the start (the CPD round robin as a series) has no row:
    the y limits were (-0.5, -0.5), and matplotlib's 'identical low and high ylims' reached the user."""
    import warnings

    doc = {
        "system": "CPD mix", "temperatures": [100.0, 200.0], "labels": ["100", "200"],
        "phases": [{"id": "fluorite", "role": "secondary", "formula": "CaF2", "onset": {"xrd": None, "raman": None, "combined": None}, "vanishes_at": None}],
    }  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = F.plot_onsets([doc])
    lo, hi = ax.get_ylim()
    assert hi < lo  # one row's height, top down
    assert any(t.get_text() == "no onsets" for t in ax.texts)
    matplotlib.pyplot.close(ax.figure)
