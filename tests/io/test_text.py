"""Generic column text reader, on real files (read in place) and on constructed ones."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from phasetrace.errors import DefaultRadiationWarning, LoadError
from phasetrace.io import load, load_all
from tests.conftest import real_file

pytestmark = pytest.mark.filterwarnings("ignore::phasetrace.errors.DefaultRadiationWarning")


@pytest.mark.parametrize(
    ("relpath", "points", "first", "last", "spot"),
    [
        # spot = (index, x, y) read off the file with awk, independently of the reader
        ("xrd/formats/xylib/xy_text.txt", 4001, 20.0, 100.0, (100, 22.0, 36.0)),
        ("xrd/formats/maud/CPD-Y2O3.PRN", 7251, 5.0, 150.0, (100, 7.0, 345.0)),
        ("xrd/formats/xylib/pesa.txt", 41, 4.2, 6.2, (40, 6.2, 7.5)),
        ("xrd/measured/dara/BiFeO3.xy", 23928, 10.002717, 140.003372, (100, 10.546039, 2929.0)),
        ("xrd/measured/autoXRD/MnO2.xy", 9001, 10.0, 100.0, (100, 11.0, 2150.0)),
    ],
)
def test_real_xrd_text(relpath, points, first, last, spot):
    scan = load(real_file(relpath))
    assert scan.kind == "xrd"
    assert scan.meta.format == "text"
    assert len(scan) == points
    assert scan.x[0] == pytest.approx(first)
    assert scan.x[-1] == pytest.approx(last)
    i, x, y = spot
    assert scan.x[i] == pytest.approx(x)
    assert scan.y[i] == y
    # no wavelength in these files: the Cu default is applied and marked as such
    assert scan.meta.radiation.source == "default"


def test_missing_wavelength_warns_visibly():
    with pytest.warns(DefaultRadiationWarning, match="states no X-ray wavelength"):
        load(real_file("xrd/formats/xylib/xy_text.txt"))


def test_third_column_that_is_not_sigma_is_ignored():
    scan = load(real_file("xrd/measured/autoXRD/MnO2.xy"))
    assert scan.sigma is None
    assert "column 3" in scan.meta.extra["ignored_columns"][0]


def test_with_sigma_third_column():
    scan = load(real_file("xrd/formats/xylib/with_sigma.txt"))
    np.testing.assert_array_equal(scan.x, [20.0, 20.02, 20.04])
    np.testing.assert_array_equal(scan.y, [49, 39, 31])
    np.testing.assert_array_equal(scan.sigma, [0.5, 0.1, 0.3])


def test_stitched_csv_with_duplicate_point_is_refused():
    path = real_file("xrd/formats/xrdpattern/single.csv")
    with pytest.raises(LoadError, match=r"single\.csv: duplicate x value 69\.7031 at line 1512 and line 1513"):
        load(path)


def test_multicolumn_dat_with_named_columns_and_two_images():
    path = real_file("xrd/formats/xrdpattern/data.dat")
    scans = load_all(path)
    assert len(scans) == 2  # imagenum 0 and 1, concatenated
    for s in scans:
        assert len(s) == 2600
        assert s.meta.extra["columns"] == {"x": "twotheta_cuka", "y": "intensity"}
        assert s.x[0] == pytest.approx(3.72796)
        assert s.x[-1] == pytest.approx(69.99856)
        # the column is 2θ for Cu Kα1: monochromatic Cu, stated by the file
        assert s.meta.radiation.kalpha2 is None and s.meta.radiation.source == "file"
    with pytest.raises(LoadError, match="holds 2 scans"):
        load(path)


@pytest.mark.parametrize(
    ("relpath", "points", "first", "last"),
    [
        # Renishaw text export is written high-to-low: the reader returns increasing x
        ("raman/formats/ramanchada2/Renishaw/nCal_Qontor785_z005H12_100_1x3s.txt", 1021,
         -154.501953, 1111.108398),
        ("raman/formats/ramanchada2/Horiba/PST10_iR785_OP01_8000msx8.txt", 1024, 168.216, 3281.89),
    ],
)
def test_real_raman_two_column_text(relpath, points, first, last):
    scan = load(real_file(relpath))
    assert scan.kind == "raman"
    assert len(scan) == points
    assert scan.x[0] == pytest.approx(first)
    assert scan.x[-1] == pytest.approx(last)
    assert np.all(np.diff(scan.x) > 0)
    assert scan.meta.radiation is None


def test_renishaw_text_reversal_keeps_pairs():
    scan = load(real_file("raman/formats/ramanchada2/Renishaw/nCal_Qontor785_z005H12_100_1x3s.txt"))
    # first line of the file: 1111.108398 1729.160645 -> last point after reversal
    assert scan.x[-1] == pytest.approx(1111.108398)
    assert scan.y[-1] == pytest.approx(1729.160645)


# ---------------------------------------------------------------- constructed variants
def _write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_decimal_comma_semicolon(tmp_path):
    rows = "\n".join(f"{10 + i * 0.01:.2f};{100 + i}".replace(".", ",", 1) for i in range(20))
    p = _write(tmp_path, "s.csv", "2Theta;Intensity\n" + rows + "\n")
    scan = load(p)
    assert scan.x[1] == pytest.approx(10.01)
    assert scan.y[1] == 101
    assert scan.kind == "xrd"


def test_decimal_comma_whitespace(tmp_path):
    rows = "\n".join(f"{10 + i * 0.02:.2f}\t{5 + i}.5".replace(".", ",") for i in range(10))
    scan = load(_write(tmp_path, "s.txt", rows))
    assert scan.x[2] == pytest.approx(10.04)
    assert scan.y[2] == pytest.approx(7.5)


def test_header_wavelength_is_used(tmp_path):
    head = "# Sample: LLZO\n# Wavelength = 1.5406 A\n# anode: Cu\n"
    rows = "\n".join(f"{10 + i * 0.01:.2f} {100 + i}" for i in range(20))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultRadiationWarning)  # the header states it
        scan = load(_write(tmp_path, "w.xy", head + rows))
    assert scan.meta.radiation.kalpha1 == pytest.approx(1.5406)
    assert scan.meta.radiation.source == "file"


def test_xye_third_column_is_sigma(tmp_path):
    rows = "\n".join(f"{10 + i * 0.01:.2f} {1000 + i} {999}" for i in range(10))
    scan = load(_write(tmp_path, "a.xye", rows))
    assert scan.sigma is not None and scan.sigma[0] == 999


def test_cr_only_line_ends(tmp_path):
    rows = "\r".join(f"{10 + i * 0.01:.2f} {100 + i}" for i in range(10))
    assert len(load(_write(tmp_path, "cr.xy", rows))) == 10


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.xy", "", "is empty"),
        ("blank.xy", "\n\n   \n", "is empty"),
        ("onecol.xy", "\n".join(str(i) for i in range(20)), "single column"),
        ("words.txt", "hello world\nthis is not data\n", "no numeric data"),
        ("nan.xy", "\n".join(f"{i} {'nan' if i == 4 else i}" for i in range(10)), "non-finite value"),
        ("inf.xy", "\n".join(f"{i} {'inf' if i == 7 else i}" for i in range(10)), "non-finite value"),
        ("dup.xy", "1 1\n2 2\n2 3\n3 4\n4 5\n5 6\n", "duplicate x value 2"),
        ("order.xy", "1 1\n2 2\n5 3\n3 4\n4 5\n6 6\n7 7\n", "not monotonic"),
        ("wide.dat", "\n".join("1 2 3 4 5" for _ in range(8)), "5 unnamed numeric columns"),
    ],
)
def test_bad_text_gives_one_line_error(tmp_path, name, content, message):
    p = _write(tmp_path, name, content)
    with pytest.raises(LoadError) as info:
        load(p)
    text = str(info.value)
    assert text.startswith(str(p))
    assert message in text
    assert "\n" not in text


def test_raman_file_passed_as_xrd(tmp_path):
    path = real_file("raman/formats/ramanchada2/Horiba/PST10_iR785_OP01_8000msx8.txt")
    with pytest.raises(LoadError, match=r"is a Raman spectrum \(x 168.216\.\.3281\.89\), not an XRD pattern"):
        load(path, kind="xrd")


@pytest.mark.parametrize(
    "body",
    [
        "# 2theta counts\n10.00 101\n10.01 99.5\n10.02 1.5e2\n10.03 97\n10.04 98\n",
        "angle,intensity\n10.00,101\n10.01,99.5\n10.02,150\n10.03,97\n10.04,98\n",
        # a footer, a decimal comma, a '123(4)' cell: numpy's reader gives up, the line search decides
        "x y\n10.00 101\n10.01 99.5\n10.02 150\n10.03 97\n10.04 98\nEnd of data\n",
        "x;y\n10,00;101\n10,01;99,5\n10,02;150\n10,03;97\n10,04;98\n",
        "x y\n10.00 101(3)\n10.01 99.5\n10.02 150\n10.03 97\n10.04 98\n",
    ],
)
def test_fast_and_line_by_line_column_parsing_agree(body, monkeypatch):
    from phasetrace.io import text as T

    clean = body.startswith(("#", "angle"))
    assert (T._fast_block(body.split("\n")) is not None) == clean
    fast = T.parse_columns(body, "f.txt")
    monkeypatch.setattr(T, "_fast_block", lambda lines: None)
    slow = T.parse_columns(body, "f.txt")
    assert fast.names == slow.names and fast.header == slow.header and fast.first_line == slow.first_line
    np.testing.assert_array_equal(fast.rows, slow.rows)
    assert fast.rows.shape == (5, 2) and fast.rows[2, 1] == 150.0


# ------------------------------------------------- the .xye convention: a first line that is the wavelength
CPD = "xrd/qpa/cpd-roundrobin/"


@pytest.mark.parametrize("name", ["CPD-1A", "CPD-1B", "CPD-1C", "CPD-1D", "CPD-1F", "CPD-1G"])
def test_cpd_xye_first_line_is_the_wavelength(name):
    # the files' first line is "1.540593" (Cu Kα1, README beside them); read, so no default and no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultRadiationWarning)
        scan = load(real_file(f"{CPD}{name}.xye"))
    rad = scan.meta.radiation
    assert (rad.kalpha1, rad.anode, rad.source) == (1.540593, "Cu", "file")
    # the tube's Kα2 (the README: the monochromator passes the doublet), from the anode table
    assert (rad.kalpha2, rad.ratio) == (1.544426, 0.5)
    assert "first line" in scan.meta.extra["wavelength_source"]
    # the wavelength line is header, not a data row: 5.02 ... 150 in 0.02° steps, with esds
    assert len(scan) == 7250 and scan.x[0] == pytest.approx(5.02) and scan.x[-1] == pytest.approx(150.0)
    assert scan.sigma is not None


def test_cpd_1a_values_beside_the_wavelength_line():
    scan = load(real_file(f"{CPD}CPD-1A.xye"))
    # the first data row, read off the file: " 5.0200        161.0000         12.6886"
    assert (scan.x[0], scan.y[0], scan.sigma[0]) == (pytest.approx(5.02), 161.0, pytest.approx(12.6886))


@pytest.mark.parametrize("name", ["CPD-1E", "CPD-2"])
def test_cpd_files_without_the_line_still_get_the_default(name):
    with pytest.warns(DefaultRadiationWarning, match="states no X-ray wavelength"):
        scan = load(real_file(f"{CPD}{name}.xye"))
    assert scan.meta.radiation.source == "default"


def _xye(first: str) -> bytes:
    rows = "\n".join(f"{10 + 0.02 * k:.2f} {100 + k} {10.0:.1f}" for k in range(50))
    return f"{first}\n{rows}\n".encode()


def test_a_lone_synchrotron_wavelength_is_monochromatic(tmp_path):
    p = tmp_path / "sync.xye"
    p.write_bytes(_xye("0.413280"))
    scan = load(p)
    rad = scan.meta.radiation
    assert (rad.kalpha1, rad.kalpha2, rad.ratio, rad.source) == (0.41328, None, 0.0, "file")
    assert len(scan) == 50


@pytest.mark.parametrize("first", ["7251", "2.5", "12.345678"])
def test_a_first_line_that_is_no_wavelength_is_not_read_as_one(tmp_path, first):
    # a point count, a number without the decimals of a wavelength, a value outside 0.05–5 Å
    p = tmp_path / "other.xye"
    p.write_bytes(_xye(first))
    with pytest.warns(DefaultRadiationWarning):
        scan = load(p)
    assert scan.meta.radiation.source == "default"
    assert len(scan) == 50


# ------------------------------------------------- one radiation rule for a header key, an anode name, a first line
CU_DOUBLET = (1.540593, 1.544426, 0.5, "Cu")  # CPD's Kα1, the anode table's Kα2 and ratio


def _cpd_with_header(tmp_path, header: str, name: str = "h.xye"):
    """CPD-1A as measured, its first line (the wavelength) replaced by ``header``."""
    lines = real_file(f"{CPD}CPD-1A.xye").read_text().splitlines(keepends=True)
    assert lines[0].strip() == "1.540593"
    p = tmp_path / name
    p.write_text(header + "".join(lines[1:]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultRadiationWarning)  # every header here states the radiation
        scan = load(p)
    assert len(scan) == 7250 and scan.y[0] == 161.0  # the data rows are untouched by the header
    rad = scan.meta.radiation
    return (rad.kalpha1, rad.kalpha2, rad.ratio, rad.anode), scan.meta.extra["wavelength_source"]


@pytest.mark.parametrize(
    "header",
    [
        "1.540593\n",  # the file as it is: the first-line rule
        "# wavelength: 1.540593\n",
        "# Wavelength = 1.540593 A\n# anode: Cu\n",
        "# Kalpha1 = 1.540593\n",
        "# lambda 1.540593\n",
        "# Kα1: 1.540593\n# monochromator: graphite, diffracted beam\n",  # passes Kα2 (the CPD set-up)
    ],
)
def test_a_stated_cu_kalpha1_means_the_doublet_however_it_is_written(tmp_path, header):
    rad, source = _cpd_with_header(tmp_path, header)
    assert rad == CU_DOUBLET
    assert "Cu Kα1" in source and "from the anode table" in source


@pytest.mark.parametrize(
    "header",
    [
        "# wavelength: 1.540593\n# monochromatic\n",
        "# wavelength: 1.540593 (Kα1 only)\n",
        "# wavelength: 1.540593\n# kalpha2: none\n",
        "# Kalpha1 = 1.540593\n# Ge(111) Johansson primary monochromator\n",
    ],
)
def test_a_header_that_says_one_line_keeps_one_line(tmp_path, header):
    rad, source = _cpd_with_header(tmp_path, header)
    assert rad == (1.540593, None, 0.0, "Cu")
    assert "one line (the header says" in source


def test_a_stated_kalpha2_and_ratio_are_used_as_stated(tmp_path):
    rad, source = _cpd_with_header(tmp_path, "# Kalpha1: 1.540593\n# Kalpha2: 1.544414\n# ratio: 0.52\n")
    assert rad == (1.540593, 1.544414, 0.52, "Cu")
    assert "stated" in source


def test_an_anode_alone_is_its_doublet_unless_monochromatic(tmp_path):
    assert _cpd_with_header(tmp_path, "# anode: Co\n")[0] == (1.788965, 1.792850, 0.5, "Co")
    assert _cpd_with_header(tmp_path, "# radiation: monochromatic\n# anode: Co\n")[0] == (1.788965, None, 0.0, "Co")


@pytest.mark.parametrize("header", ["0.413280\n", "# wavelength: 0.41328\n", "# wavelength: 1.5418\n"])
def test_a_wavelength_that_is_no_anode_kalpha1_is_one_line(tmp_path, header):
    # a synchrotron wavelength, and the Cu Kα mean 1.5418 Å (not Kα1: no doublet is invented around it)
    (lam, lam2, ratio, _), source = _cpd_with_header(tmp_path, header)
    assert (lam2, ratio) == (None, 0.0) and lam == float(header.split()[-1])
    assert "not an anode's Kα1" in source
