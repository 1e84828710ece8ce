"""Bruker UXD (real file) and BRML (constructed archives: no real .brml was available).

UXD expectations were read from the file with sed (rows 1, 101 and the last
of the _2THETACOUNTS block; header keys), not from the reader.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from phasetrace.errors import DefaultRadiationWarning, LoadError, UnsupportedFormatError
from phasetrace.io import load, load_all
from phasetrace.io.bruker import sniff_uxd
from phasetrace.quantify.instrument import metadata_instrument
from tests.conftest import real_file

UXD = "xrd/formats/xylib/BT86_.UXD"


def _write(tmp_path: Path, data: bytes, name: str) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# --------------------------------------------------------------------------- UXD


@pytest.mark.realdata
def test_uxd_real_file():
    s = load(real_file(UXD))
    assert s.meta.format == "bruker_uxd"
    assert s.x.size == 2374
    # 2θ from _START=3.0 and _STEPSIZE=0.015592: the column is that grid rounded to 2-3 decimals
    # (39.97, 39.98, 40.00: steps of 0.01 and 0.02, positions off by up to 0.0054°)
    assert s.x[0] == pytest.approx(3.0) and s.x[-1] == pytest.approx(3.0 + 2373 * 0.015592, abs=1e-9)
    assert s.x[100] == pytest.approx(4.5592, abs=1e-9)
    assert s.meta.step == pytest.approx(0.015592, abs=1e-9)
    assert s.y[0] == 187 and s.y[100] == 180 and s.y[-1] == 269
    rad = s.meta.radiation
    assert rad.kalpha1 == pytest.approx(1.5406) and rad.kalpha2 == pytest.approx(1.54439)
    assert rad.ratio == pytest.approx(0.5) and rad.anode == "Cu" and rad.source == "file"
    assert s.meta.sample == "BT86"
    assert s.meta.counting_time == pytest.approx(0.5)
    ex = s.meta.extra
    assert ex["date"] == "04-Mar-2010 20:59:14"
    assert ex["goniometer_radius_mm"] == pytest.approx(200.5)
    assert ex["scan_axis"] == "COUPLED"
    assert ex["scan_mode"] == "continuous"
    assert ex["y_unit"] == "counts"
    assert ex["tube_voltage_kV"] == 45 and ex["tube_current_mA"] == 40
    # _VARDIVERGENCE='V6': a variable slit, 6 mm irradiated length, in the keys the XRDML reader uses
    assert ex["divergence_slit"] == "V6"
    assert ex["divergence_slit_mode"] == "automatic" and ex["irradiated_length_mm"] == 6.0
    inst = metadata_instrument(s.meta)
    assert inst.divergence == "automatic" and inst.irradiated_length_mm == 6.0
    assert inst.goniometer_radius_mm == pytest.approx(200.5)


@pytest.mark.realdata
def test_uxd_written_from_a_variable_slit_scan_keeps_its_slit(tmp_path):
    """Converted to UXD (from a UXD here; an XRDML automatic slit the same), the slit mode stays."""
    from phasetrace.io import save

    s = load(real_file(UXD))
    save(s, tmp_path / "copy.uxd")
    again = load(tmp_path / "copy.uxd")
    assert again.meta.extra["divergence_slit_mode"] == "automatic"
    assert again.meta.extra["irradiated_length_mm"] == 6.0
    np.testing.assert_array_equal(again.x, s.x)  # the grid, written and read back exactly


@pytest.mark.realdata
def test_info_gives_the_header_step_of_a_uxd():
    from click.testing import CliRunner

    from phasetrace.cli import main

    r = CliRunner().invoke(main, ["info", str(real_file(UXD))])
    assert r.exit_code == 0, r.output
    assert "step 0.015592°" in r.output  # was 0.016°, the median of the rounded column


_GRID_HEADER = "_FILEVERSION=2\n_WL1=1.540600\n_ANODE='Cu'\n_DRIVE='COUPLED'\n_START=10.000000\n_STEPSIZE={step}\n"


def _grid_uxd(tmp_path: Path, step: str, xs, name: str) -> Path:
    rows = "".join(f"{x}\t{100 + i}\n" for i, x in enumerate(xs))
    return _write(tmp_path, (_GRID_HEADER.format(step=step) + "_2THETACOUNTS\n" + rows).encode(), name)


def test_uxd_rounded_column_takes_the_header_grid(tmp_path):
    grid = 10.0 + 0.015592 * np.arange(700)
    # four significant digits, as DIFFRAC plus writes them: 3 decimals below 10°... 2 above
    rounded = [f"{x:.2f}" for x in grid]
    s = load(_grid_uxd(tmp_path, "0.015592", rounded, "rounded.uxd"))
    np.testing.assert_allclose(s.x, grid, rtol=0, atol=1e-12)
    assert s.meta.step == pytest.approx(0.015592, abs=1e-12)
    # a header that does not describe the column (stale, or another range's): the column is kept
    s = load(_grid_uxd(tmp_path, "0.015000", rounded, "stale.uxd"))
    np.testing.assert_array_equal(s.x, [float(v) for v in rounded])
    # a column as precise as the header is taken as written
    exact = [f"{x:.6f}" for x in grid]
    s = load(_grid_uxd(tmp_path, "0.015592", exact, "exact.uxd"))
    np.testing.assert_array_equal(s.x, [float(v) for v in exact])


def test_uxd_variable_slit_feeds_the_intensity_correction(tmp_path, library):
    """A V12 slit's data (intensity ∝ sin θ) give the true wt % only with the slit read from the file.

    MgO + corundum (30/70 wt %) simulated with a constant irradiated length: every Bragg intensity
    times sin θ. Read without the slit mode, the fit put corundum at 64.4 wt % (its strong
    reflections lie at lower angles than MgO's).
    """
    from phasetrace.quantify import quantify
    from phasetrace.report.text import format_fit
    from phasetrace.simulate import simulate_xrd

    truth = {"MgO": 30.0, "Al2O3": 70.0}
    sim = simulate_xrd(
        library, truth, two_theta_range=(15.0, 120.0), step=0.02, background=0.0, background_rise=0.0,
        noise=False, max_counts=2e4,
    )  # fmt: skip
    y = np.random.default_rng(3).poisson(sim.y * np.sin(np.radians(sim.x / 2)) / 0.5 + 200.0)
    head = (
        "_FILEVERSION=2\n_WL1=1.540600\n_WL2=1.544390\n_WLRATIO=0.500000\n_ANODE='Cu'\n"
        "_GONIOMETER_RADIUS=217.5\n_DRIVE='COUPLED'\n_START=15.0\n_STEPSIZE=0.02\n"
    )
    rows = "".join(f"{a:.2f}\t{b}\n" for a, b in zip(sim.x, y, strict=True))
    wt, text = {}, {}
    for slit in ("_VARDIVERGENCE='V12'\n", ""):
        path = _write(tmp_path, (head + slit + "_2THETACOUNTS\n" + rows).encode(), f"v{len(slit)}.uxd")
        r = quantify(load(path), list(truth), library=library)
        wt[bool(slit)] = {p.id: p.wt_percent for p in r.phases}
        text[bool(slit)] = format_fit(r)
    assert wt[True]["Al2O3"] == pytest.approx(70.0, abs=0.5)
    assert wt[True]["MgO"] == pytest.approx(30.0, abs=0.5)
    assert abs(wt[False]["Al2O3"] - 70.0) > 3.0  # the bias the slit mode removes
    # the fit's text says what it corrected for
    assert "automatic divergence slit, 12 mm irradiated length" in text[True]
    assert "automatic divergence slit" not in text[False]


@pytest.mark.realdata
def test_uxd_sniffer(tmp_path):
    head = real_file(UXD).read_bytes()[:4096]
    assert sniff_uxd(head)
    assert sniff_uxd(b"; converted\n_WL1=1.54\n_2THETACOUNTS\n10 1\n")
    assert not sniff_uxd(b"; a comment\n10 1\n11 2\n")
    assert not sniff_uxd(b"")
    s = load(_write(tmp_path, real_file(UXD).read_bytes(), "bt86.unknownsuffix"))
    assert s.meta.format == "bruker_uxd"


_SECOND_RANGE = (
    "; (Data for Range number 2)\n"
    "_DRIVE='COUPLED'\n_STEPTIME=2.0\n_STEPSIZE=0.05\n_START=50.0\n"
    "_COUNTS\n"
    "  10  11  12  13\n  14  15  16  17\n  18  19\n"
)


def _uxd_text() -> str:
    return real_file(UXD).read_text(encoding="latin-1")


@pytest.mark.realdata
def test_uxd_two_ranges_counts_only_block(tmp_path):
    p = _write(tmp_path, (_uxd_text() + _SECOND_RANGE).encode("latin-1"), "two.uxd")
    scans = load_all(p)
    assert len(scans) == 2
    assert scans[0].x.size == 2374
    s = scans[1]
    assert np.allclose(s.x, 50.0 + 0.05 * np.arange(10))
    assert np.array_equal(s.y, np.arange(10, 20))
    assert s.meta.counting_time == 2.0
    # file-level keys (wavelength, sample) carry over to the second range
    assert s.meta.radiation.kalpha1 == pytest.approx(1.5406)
    assert s.meta.sample == "BT86"
    assert s.meta.extra["data_block"] == "_COUNTS"


def test_uxd_minimal_cps_and_monochromatic(tmp_path):
    text = (
        "_FILEVERSION=1\n_SAMPLE='x'\n_WL1=1.540598\n_WL2=1.544426\n_WLRATIO=0\n"
        "_START=10\n_STEPSIZE=0.1\n_CPS\n1.5 2.5 3.5\n4.5 5.5 6.5\n"
    )
    s = load(_write(tmp_path, text.encode(), "m.uxd"))
    assert s.meta.extra["y_unit"] == "cps"
    assert s.meta.radiation.kalpha2 is None and s.meta.radiation.ratio == 0
    assert np.allclose(s.x, [10, 10.1, 10.2, 10.3, 10.4, 10.5])


def test_uxd_without_wavelength_gets_the_default_with_a_warning(tmp_path):
    text = "_FILEVERSION=1\n_2THETACOUNTS\n" + "".join(f"{10 + i} {i}\n" for i in range(8))
    with pytest.warns(DefaultRadiationWarning):
        s = load(_write(tmp_path, text.encode(), "nowl.uxd"))
    assert s.meta.radiation.source == "default"


@pytest.mark.realdata
def test_uxd_theta_drive_is_unsupported(tmp_path):
    text = _uxd_text().replace("_DRIVE='COUPLED'", "_DRIVE='THETA'")
    with pytest.raises(UnsupportedFormatError, match=r"rock\.uxd.*'THETA'"):
        load(_write(tmp_path, text.encode("latin-1"), "rock.uxd"))


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("3.016\t183", "3.016\t1x83", "not numeric"),
        ("3.016\t183", "3.016", "incomplete"),
        ("_2THETACOUNTS", "_PSDCOUNTS", "not supported"),
        ("_2THETACOUNTS", "_2THETA_COUNTS_", "not supported"),
        ("_WL1=1.540600", "_WL1=15.40600", "implausible"),
    ],
)
def test_uxd_corrupted_is_a_load_error(tmp_path, old, new, message):
    text = _uxd_text()
    assert old in text
    # format= names this reader: through suffix/sniffing alone, the generic text
    # reader may take a damaged UXD as plain two-column data
    with pytest.raises(LoadError, match=message):
        load(
            _write(tmp_path, text.replace(old, new, 1).encode("latin-1"), "bad.uxd"),
            format="bruker_uxd",
        )


@pytest.mark.realdata
def test_uxd_truncated_is_a_load_error(tmp_path):
    data = real_file(UXD).read_bytes()
    # Cut inside the header (no data block left) and in the middle of a data row
    # (between a 2θ value and its count). A text file cut exactly at a line end
    # cannot be told from a shorter scan: UXD states no point count.
    marker = data.index(b"_2THETACOUNTS")
    row = data.index(b"3.561\t192")
    for cut in (20, len(data) // 100, marker - 5, marker + 5, row + 5):
        with pytest.raises(LoadError) as info:
            load(_write(tmp_path, data[:cut], "cut.uxd"), format="bruker_uxd")
        assert not isinstance(info.value, UnsupportedFormatError)


# --------------------------------------------------------------------------- BRML (constructed)

TWO_THETA = np.round(np.arange(20.0, 21.0, 0.02), 4)
COUNTS = np.round(100 + 900 * np.exp(-(((TWO_THETA - 20.5) / 0.05) ** 2)))

TUBE = (
    '<FixedInformation><Instrument><PrimaryTracks><TrackInfoData><MountedOptics>'
    '<InfoData xsi:type="Tube" LogicName="Tube">'
    '<WaveLengthAlpha1 Value="1.5406" Unit="Å" />'
    '<WaveLengthAlpha2 Value="1.54439" Unit="Å" />'
    '<WaveLengthRatio Value="0.5" />'
    '<TubeMaterial Value="Cu" />'
    "</InfoData></MountedOptics></TrackInfoData></PrimaryTracks></Instrument></FixedInformation>"
)


def _rawdata(
    *,
    views: bool = True,
    axes: tuple[str, ...] = ("TwoTheta", "Theta"),
    recorded: int = 1,
    tube: str = TUBE,
    offset: float = 0.0,
    width: int | None = None,
) -> bytes:
    """A DIFFRAC.SUITE RawData document.

    With views, rows are ``time, absorber, <axes...>, extra, counts`` so the
    counts sit where only the DataViews can say (not at the common index 4).
    """
    rows = []
    for tt, c in zip(TWO_THETA, COUNTS, strict=True):
        ax = [f"{tt:.4f}", f"{tt / 2:.4f}"][: len(axes)]
        if views:
            vals = ["0.5", "1", *ax, "-0.1", f"{c + offset:g}"]
        else:
            vals = ["0.5", "1", f"{tt:.4f}", f"{tt / 2:.4f}", f"{c + offset:g}"]
        if width is not None:
            vals = (vals + ["0"] * width)[:width]
        rows.append(f"<Datum>{','.join(vals)}</Datum>")
    fields = "".join(f'<FieldDefinitions FieldName="{a}" AxisId="{a}" />' for a in axes)
    rec = 2 + len(axes) + 1
    dataviews = (
        "<DataViews>"
        '<RawDataView xsi:type="FixedRawDataView" Start="0" Length="1" LogicName="MeasuredTime" />'
        '<RawDataView xsi:type="FixedRawDataView" Start="1" Length="1" LogicName="AbsorptionFactor" />'
        f'<RawDataView xsi:type="VaryingRawDataView" Start="2" Length="{len(axes)}">'
        f"<Varying>{fields}</Varying></RawDataView>"
        f'<RawDataView xsi:type="RecordedRawDataView" Start="{rec}" Length="{recorded}">'
        '<Recording><Unit Base="Counts" /></Recording></RawDataView>'
        "</DataViews>"
    )
    scan_axes = "".join(
        f'<ScanAxisInfo AxisId="{a}" AxisName="{a}" Unit="°"><Start>20</Start>'
        f"<Stop>20.98</Stop><Increment>0.02</Increment></ScanAxisInfo>"
        for a in axes
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<RawData xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<TimeStampStarted>2024-03-12T15:02:00+02:00</TimeStampStarted>"
        "<TimeStampFinished>2024-03-12T15:12:00+02:00</TimeStampFinished>"
        f"{tube}"
        '<DataRoutes><DataRoute RouteFlag="Final">'
        '<ScanInformation ScanName="TwoThetaScan" VisibleName="Coupled TwoTheta/Theta">'
        f"<ScanMode>StepScan</ScanMode><TimePerStep>0.5</TimePerStep>"
        f"<MeasurementPoints>{TWO_THETA.size}</MeasurementPoints>"
        f"<ScanAxes>{scan_axes}</ScanAxes></ScanInformation>"
        f"{''.join(rows)}{dataviews if views else ''}"
        "</DataRoute></DataRoutes></RawData>"
    )
    return xml.encode("utf-8")


def _container(members: list[str], sample: str = "LLZO-900") -> bytes:
    refs = "".join(f"<string>{m}</string>" for m in members)
    return (
        '<?xml version="1.0" encoding="utf-8"?><DataContainer>'
        f'<MeasurementInfo SampleName="{sample}" />'
        f"<RawDataReferenceList>{refs}</RawDataReferenceList></DataContainer>"
    ).encode()


def _brml(tmp_path: Path, members: dict[str, bytes], name: str = "s.brml") -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("experimentCollection.xml", "<ExperimentCollection/>")
        for n, d in members.items():
            zf.writestr(n, d)
    return _write(tmp_path, buf.getvalue(), name)


def test_brml_columns_come_from_dataviews(tmp_path):
    p = _brml(
        tmp_path,
        {
            "Experiment0/DataContainer.xml": _container(["Experiment0/RawData0.xml"]),
            "Experiment0/RawData0.xml": _rawdata(),
        },
    )
    s = load(p)
    assert s.meta.format == "bruker_brml"
    assert np.allclose(s.x, TWO_THETA)
    # counts are column 5 here (after an extra column), as the DataViews say
    assert np.array_equal(s.y, COUNTS)
    rad = s.meta.radiation
    assert (rad.kalpha1, rad.kalpha2, rad.ratio, rad.anode) == (1.5406, 1.54439, 0.5, "Cu")
    assert s.meta.sample == "LLZO-900"
    assert s.meta.counting_time == 0.5
    ex = s.meta.extra
    assert ex["scan_axis"] == "TwoTheta/Theta"
    assert ex["date"] == "2024-03-12T15:02:00+02:00"
    assert ex["points_declared"] == 50
    assert ex["y_unit"] == "counts"


def test_brml_scans_follow_the_container_order(tmp_path):
    p = _brml(
        tmp_path,
        {
            "Experiment0/DataContainer.xml": _container(
                ["Experiment0/RawData1.xml", "Experiment0/RawData0.xml"]
            ),
            "Experiment0/RawData0.xml": _rawdata(offset=0),
            "Experiment0/RawData1.xml": _rawdata(offset=1000),
        },
    )
    scans = load_all(p)
    assert len(scans) == 2
    assert scans[0].y[0] == COUNTS[0] + 1000 and scans[1].y[0] == COUNTS[0]
    assert scans[0].meta.extra["brml_member"] == "Experiment0/RawData1.xml"


def test_brml_without_dataviews_uses_the_five_column_layout(tmp_path):
    p = _brml(tmp_path, {"Experiment0/RawData0.xml": _rawdata(views=False)})
    s = load(p)
    assert np.allclose(s.x, TWO_THETA) and np.array_equal(s.y, COUNTS)


def test_brml_without_dataviews_and_unknown_width_is_a_load_error(tmp_path):
    p = _brml(tmp_path, {"Experiment0/RawData0.xml": _rawdata(views=False, width=7)})
    with pytest.raises(LoadError, match="no <DataViews>"):
        load(p, format="bruker_brml")


def test_brml_wavelength_from_the_measurement_container(tmp_path):
    p = _brml(
        tmp_path,
        {
            "Experiment0/RawData0.xml": _rawdata(tube=""),
            "Experiment0/MeasurementContainer.xml": (
                '<?xml version="1.0"?><MeasurementContainer '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                f"{TUBE.replace('1.5406', '1.78897').replace('1.54439', '1.79285')}"
                "</MeasurementContainer>"
            ).replace('Value="Cu"', 'Value="Co"').encode("utf-8"),
        },
    )
    rad = load(p).meta.radiation
    assert rad.kalpha1 == 1.78897 and rad.anode == "Co"


def test_brml_without_wavelength_gets_the_default(tmp_path):
    p = _brml(tmp_path, {"Experiment0/RawData0.xml": _rawdata(tube="")})
    with pytest.warns(DefaultRadiationWarning):
        s = load(p)
    assert s.meta.radiation.source == "default"


def test_brml_rocking_curve_is_unsupported(tmp_path):
    p = _brml(tmp_path, {"Experiment0/RawData0.xml": _rawdata(axes=("Theta",))})
    with pytest.raises(UnsupportedFormatError, match=r"s\.brml.*Theta, not of 2θ"):
        load(p)


def test_brml_area_detector_frame_is_unsupported(tmp_path):
    p = _brml(tmp_path, {"Experiment0/RawData0.xml": _rawdata(recorded=1280)})
    with pytest.raises(UnsupportedFormatError, match="1280 detector channels"):
        load(p)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.replace(b"<Datum>0.5,1,20.0200", b"<Datum>0.5,1,2x"), "not numeric"),
        (lambda b: b.replace(b"<Datum>0.5,1,20.0200,10.0100,-0.1,", b"<Datum>0.5,1,"), "values"),
        (lambda b: b.replace(b'Start="5" Length="1"', b'Start="5000000000" Length="1"'), "values"),
        (lambda b: b.replace(b'Start="0" Length="1"', b'Start="zero" Length="1"'), "Start"),
        (lambda b: b.replace(b"<Datum>", b"<Dat>").replace(b"</Datum>", b"</Dat>"), "no <Datum>"),
        (lambda b: b[: len(b) // 2], "malformed"),
        (
            lambda b: b.replace(
                b'<?xml version="1.0" encoding="utf-8"?>',
                b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]>',
            ),
            "DTD",
        ),
    ],
)
def test_brml_corrupted_is_a_load_error(tmp_path, mutate, message):
    raw = _rawdata()
    bad = mutate(raw)
    assert bad != raw
    p = _brml(tmp_path, {"Experiment0/RawData0.xml": bad})
    with pytest.raises(LoadError, match=message):
        load(p, format="bruker_brml")


def test_brml_archive_without_raw_data_is_a_load_error(tmp_path):
    p = _brml(tmp_path, {"Experiment0/DataContainer.xml": _container([])})
    with pytest.raises(LoadError, match="no Experiment"):
        load(p, format="bruker_brml")


@pytest.mark.parametrize("frac", [0.05, 0.5, 0.95])
def test_brml_truncated_is_a_load_error(tmp_path, frac):
    p = _brml(tmp_path, {"Experiment0/RawData0.xml": _rawdata()})
    data = p.read_bytes()
    with pytest.raises(LoadError):
        load(_write(tmp_path, data[: int(len(data) * frac)], "cut.brml"))
    with pytest.raises(LoadError, match="zip"):
        load(_write(tmp_path, data[: int(len(data) * frac)], "cut.brml"), format="bruker_brml")


def test_random_bytes_are_load_errors(tmp_path):
    noise = np.random.default_rng(2).bytes(4000)
    for name in ("n.uxd", "n.brml"):
        with pytest.raises(LoadError):
            load(_write(tmp_path, noise, name))
