"""Powder CIF (pdCIF) and crystal-structure CIFs.

Expected values for data.cif were read from the file with grep/sed:
_pd_meas_2theta_range_min/max/inc 8.0 / 89.994 / 0.022, _pd_meas_number_of_points
3728, the loop's first rows 1733.0, 1620.0, 1629.0, 1599.0 and last row 202.0,
the wavelength loop 1.540598 (wt 1.000) and 1.544390 (wt 0.380).
"""

from __future__ import annotations

import glob
import warnings

import numpy as np
import pytest

from phasetrace.errors import DefaultRadiationWarning, LoadError, UnsupportedFormatError
from phasetrace.io import load
from phasetrace.io.pdcif import _number_su, parse_cif, read_pdcif, sniff_pdcif
from tests.conftest import REAL_DATA, real_file

pytestmark = pytest.mark.realdata

DATA_CIF = "xrd/formats/xrdpattern/data.cif"
NEUTRON_CIF = "xrd/formats/xylib/1517474.cif"


def test_pdcif_with_range_and_two_wavelengths():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultRadiationWarning)
        scan = load(real_file(DATA_CIF))
    assert scan.meta.format == "pdcif"
    assert scan.x.size == 3728
    assert scan.x[0] == pytest.approx(8.0) and scan.x[-1] == pytest.approx(89.994)
    assert scan.meta.step == pytest.approx(0.022)
    assert scan.y[:4].tolist() == [1733.0, 1620.0, 1629.0, 1599.0]
    assert scan.y[-1] == 202.0
    rad = scan.meta.radiation
    assert rad.kalpha1 == pytest.approx(1.540598)
    assert rad.kalpha2 == pytest.approx(1.544390)
    assert rad.ratio == pytest.approx(0.38)
    # _pd_block_id 2010-05-18T16:07|45_OPT|paolo|Bruker_AXS_D8_Advance
    assert scan.meta.sample == "45_OPT"
    assert scan.meta.instrument == "Bruker_AXS_D8_Advance"
    assert scan.meta.extra["intensity_tag"] == "_pd_meas_counts_total"
    assert scan.meta.extra["cif_block"] == "1501688"


def test_neutron_pdcif_is_refused_by_name():
    with pytest.raises(UnsupportedFormatError, match="neutron powder data") as e:
        load(real_file(NEUTRON_CIF))
    assert "1517474.cif" in str(e.value) and "2.0785" in str(e.value)


def test_neutron_pdcif_still_parses_with_standard_uncertainties():
    # the CIF syntax and "5540(160)" values of 1517474.cif, independent of the refusal
    text = real_file(NEUTRON_CIF).read_text(encoding="latin-1")
    blocks = parse_cif(text, "x")
    assert [b.name for b in blocks] == ["1517474"]
    col = blocks[0].column("_pd_meas_intensity_total")
    assert len(col) == 3296 and col[0] == "5540(160)"
    assert _number_su(col[0]) == (5540.0, 160.0)
    assert blocks[0].get("_pd_meas_2theta_range_min") == "1.5"


@pytest.mark.parametrize(
    ("text", "value", "su"),
    [
        ("1.234(5)", 1.234, 0.005),
        ("5540(160)", 5540.0, 160.0),
        ("2.5e3(4)", 2500.0, 400.0),
        ("-7", -7.0, None),
    ],
)
def test_number_with_su(text, value, su):
    v, s = _number_su(text)
    assert v == pytest.approx(value)
    assert s == (pytest.approx(su) if su is not None else None)


def test_structure_only_cifs_point_to_phases_add():
    cifs = sorted(glob.glob(str(REAL_DATA / "cif" / "**" / "*.cif"), recursive=True))
    if not cifs:
        pytest.skip("no structure CIFs under shared/data/real/cif")
    for path in cifs[::5]:
        with pytest.raises(UnsupportedFormatError, match="crystal-structure CIF without powder data") as e:
            load(path)
        assert "phasetrace phases add" in str(e.value)


_SYNTHETIC = """\
# a hand-written pdCIF
data_global
_publ_section_title
;
A pattern; with a text field
that spans lines
;
data_quartz_scan
_pd_block_id  '2024-01-01|quartz #1|me|D8'
_diffrn_radiation_wavelength 1.5406
_diffrn_radiation_type 'Cu K\\a~1~'
_pd_meas_number_of_points 6
loop_
_pd_meas_2theta_scan
_pd_meas_counts_total
 20.00 100(10)
 20.02 121(11)
 20.04 144(12)   # comment
 20.06 169(13)
 20.08 196(14)
 20.10 225(15)
"""


def test_synthetic_pdcif_with_2theta_column_and_su(tmp_path):
    p = tmp_path / "q.cif"
    p.write_text(_SYNTHETIC)
    assert sniff_pdcif(p.read_bytes())
    scan = load(p)
    np.testing.assert_allclose(scan.x, [20.0, 20.02, 20.04, 20.06, 20.08, 20.10])
    assert scan.y.tolist() == [100.0, 121.0, 144.0, 169.0, 196.0, 225.0]
    assert scan.sigma.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert scan.meta.sample == "quartz #1"
    rad = scan.meta.radiation
    assert rad.kalpha1 == pytest.approx(1.5406) and rad.kalpha2 is None and rad.anode == "Cu"


def test_wrong_point_count_and_malformed_cif(tmp_path):
    with pytest.raises(LoadError, match="number_of_points"):
        read_pdcif(_SYNTHETIC.replace("number_of_points 6", "number_of_points 7").encode(), "a.cif")
    with pytest.raises(LoadError, match="not a multiple"):
        read_pdcif(_SYNTHETIC.replace(" 20.10 225(15)\n", " 20.10\n").encode(), "b.cif")
    with pytest.raises(LoadError, match="text field"):
        read_pdcif(_SYNTHETIC.split("that spans")[0].encode(), "c.cif")
    with pytest.raises(LoadError, match="quoted"):
        read_pdcif(_SYNTHETIC.replace("'2024-01-01|quartz #1|me|D8'", "'unterminated").encode(), "d.cif")


def test_truncated_pdcif_raises_loaderror(tmp_path):
    data = real_file(DATA_CIF).read_bytes()
    for cut in (100, 5000, 20000, len(data) // 2, len(data) - 50000):
        with pytest.raises(LoadError):
            read_pdcif(data[:cut], "cut.cif")
        p = tmp_path / f"cut{cut}.cif"
        p.write_bytes(data[:cut])
        with pytest.raises(LoadError):
            load(p)


def test_sniffer_is_not_fooled_by_vendor_text():
    assert sniff_pdcif(real_file(DATA_CIF).read_bytes()[:4096])
    assert not sniff_pdcif(b"File Version;BWRam4.11\ndata_mode;0\npixel_mode;0\n")
    assert not sniff_pdcif(b"data_1000\n_raman_measurement.temperature 300\n")
    assert not sniff_pdcif(b"\x00\x01binary")
