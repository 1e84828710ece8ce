"""Tests of the vendor Raman text readers (B&W Tek, WITec, RRUFF, Renishaw) and the ROD reader.

Expected values come from reading the files as text (``head``/``tail``/``awk``):
row counts, first and last rows, and header values.
"""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.errors import LoadError
from phasetrace.io import READERS, load, load_all
from phasetrace.io import raman_text as rt
from tests.conftest import real_file

pytestmark = pytest.mark.realdata

BWTEK = "raman/formats/ramanchada2/BWTEK/PST10_iR532_Probe_100_3000msx7.txt"
WITEC = "raman/formats/witec/Si-wafer-Raman-Spectrum-1.txt"
RRUFF = "raman/reference/rruff/Anatase__R060277__Broad_Scan__Raman_Data_RAW__21346.txt"
RENISHAW = "raman/formats/ramanchada2/Renishaw/nCal_Qontor785_z005H12_100_1x3s.txt"
ROD = "raman/reference/rod/rod_file_1000679.rod"
HORIBA_TXT = "raman/formats/ramanchada2/Horiba/PST10_iR785_OP01_8000msx8.txt"
INVIA_TXT = "raman/formats/ramanchada2/InViaReflex/PST_Reflex532_Z050_010_10000msx2.txt"

CALIBRATION = [
    # file, integration time (s), "average number" as in the file names and headers
    ("raman/calibration/ramanchada2/NeonSNQ043_iR532_Probe_100msx2.txt", 0.1, 2),
    ("raman/calibration/ramanchada2/PST10_iR532_Probe_100_3000msx7.txt", 3.0, 7),
    ("raman/calibration/ramanchada2/Sil10_iR532_Probe_100_60000msx2.txt", 60.0, 2),
    ("raman/calibration/ramanchada2/nCAL10_iR532_Probe_100_2500msx3.txt", 2.5, 3),
]


# --------------------------------------------------------------------------- B&W Tek


def test_bwtek_text():
    scan = load(real_file(BWTEK))
    assert scan.meta.format == "bwtek_txt"
    assert scan.kind == "raman"
    # rows with a Raman shift are pixels 109..1909
    assert scan.x.size == 1801
    assert scan.x[0] == 145.99 and scan.x[-1] == 4010.28
    assert scan.y[0] == 5655.2857  # "Dark Subtracted #1" of pixel 109
    assert scan.y[-1] == 655.4286  # pixel 1909
    assert scan.meta.laser_nm == 532.02  # laser_wavelength;532,02
    assert scan.meta.counting_time == 3.0  # intigration times(ms);3000
    assert scan.meta.instrument == "BTC162E-532S-SYS"
    extra = scan.meta.extra
    assert extra["y_column"] == "Dark Subtracted #1"
    assert extra["accumulations"] == 7
    assert extra["date"] == "2022-01-21 11:52:01"
    assert extra["title"] == "BWS415-532S"
    assert extra["software"] == "BWRam4.11_11"


@pytest.mark.parametrize(("rel", "seconds", "averages"), CALIBRATION)
def test_bwtek_calibration_files(rel, seconds, averages):
    scan = load(real_file(rel))
    assert scan.meta.format == "bwtek_txt"
    assert scan.x.size == 1801
    assert scan.x[0] == 145.99 and scan.x[-1] == 4010.28
    assert scan.meta.laser_nm == 532.02
    assert scan.meta.counting_time == pytest.approx(seconds)
    assert scan.meta.extra["accumulations"] == averages


def test_bwtek_silicon_line_position():
    scan = load(real_file(CALIBRATION[2][0]))
    window = (scan.x > 400) & (scan.x < 650)
    assert scan.x[window][np.argmax(scan.y[window])] == pytest.approx(520.7, abs=3.0)


def test_bwtek_raw_column_fallback_and_point_decimals():
    text = (
        "File Version;BWSpec4.03_23\nlaser_wavelength;785.0\nintigration times(ms);500\n"
        "Pixel;Wavelength;Wavenumber;Raman Shift;Dark;Reference;Raw data #1;\n"
        + "".join(f"{i};800.0;12500.0;{200.0 + i:.2f};10.0;1.0;{100 + i}.5;\n" for i in range(6))
        + "6;;;;10.0;1.0;99.0;\n"
    )
    (s,) = rt.read_bwtek(text.encode(), "bw.txt")
    assert s.meta["y_column"] == "Raw data #1"
    assert s.meta["laser_nm"] == 785.0
    assert s.meta["counting_time"] == 0.5
    np.testing.assert_array_equal(s.x, 200.0 + np.arange(6))
    np.testing.assert_array_equal(s.y, 100.5 + np.arange(6))


# --------------------------------------------------------------------------- WITec


def test_witec_nm_axis_without_laser_gives_clear_error():
    with pytest.raises(LoadError, match="does not state the laser wavelength") as exc:
        load(real_file(WITEC))
    assert "Si-wafer-Raman-Spectrum-1.txt" in str(exc.value)
    assert "laser_nm" in str(exc.value)


def test_witec_raw_values_and_conversion_with_laser():
    p = real_file(WITEC)
    (s,) = rt.read_witec_txt(p.read_bytes(), str(p))
    assert s.x.size == 1600
    assert s.x[0] == 530.7816803 and s.x[-1] == 661.8723782
    assert s.y[0] == 356.8500061 and s.y[-1] == 274.6499939
    assert s.meta["x_unit"] == "wavelength_nm"
    assert "laser_nm" not in s.meta
    assert s.meta["title"] == "Spectrum--000--Spec.Data 1"
    assert s.meta["y_unit"] == "CCD cts"
    scan = load(p, laser_nm=532.0)
    assert scan.meta.format == "witec_txt"
    assert scan.meta.laser_nm == 532.0
    assert scan.x[0] == pytest.approx(1e7 / 532.0 - 1e7 / 530.7816803)
    assert scan.x[-1] == pytest.approx(1e7 / 532.0 - 1e7 / 661.8723782)


def test_witec_header_laser_and_raman_shift_unit():
    text = (
        "//Exported ASCII-File\r\n[Header]\r\nGraphName = g\r\nExcitationWavelength = 532.1\r\n"
        "XAxisUnit = nm\r\n\r\n[Data]\r\nX-Axis,A,B\r\nnm,CCD cts,CCD cts\r\n"
        + "".join(f"{540 + i}.0,{i}.0,{2 * i}.0\r\n" for i in range(6))
    )
    scans = rt.read_witec_txt(text.encode(), "w.txt")
    assert [s.meta["y_column"] for s in scans] == ["A", "B"]
    assert scans[0].meta["laser_nm"] == 532.1
    shifted = text.replace("nm,CCD", "rel. 1/cm,CCD")
    assert rt.read_witec_txt(shifted.encode(), "w.txt")[0].meta["x_unit"] == "raman_shift_cm-1"


# --------------------------------------------------------------------------- RRUFF


def test_rruff():
    scan = load(real_file(RRUFF))
    assert scan.meta.format == "rruff"
    assert scan.x.size == 1753  # 1767 lines - 10 header - ##END= - 3 blank
    assert scan.x[0] == 79.84985 and scan.x[-1] == 3458.524
    assert scan.y[0] == 0.0 and scan.y[1] == 24506.01 and scan.y[-1] == 144.2470
    assert scan.meta.sample == "Anatase"
    assert scan.meta.extra["rruff_id"] == "R060277"
    assert scan.meta.extra["ideal_chemistry"] == "Ti^4+^O_2_"
    assert scan.meta.laser_nm is None  # the header does not state it
    # anatase's strongest band (Eg, ~144 cm-1)
    assert scan.x[np.argmax(scan.y)] == pytest.approx(144.0, abs=5.0)


# --------------------------------------------------------------------------- Renishaw text


def test_renishaw_text():
    scan = load(real_file(RENISHAW))
    assert scan.meta.format == "renishaw_txt"
    assert scan.x.size == 1021
    # file order is descending; the front door sorts it
    assert scan.x[0] == -154.501953 and scan.x[-1] == 1111.108398
    assert scan.y[0] == 267.675995 and scan.y[-1] == 1729.160645


def test_renishaw_text_map_gives_one_scan_per_position():
    rows = []
    for x in (0.0, 10.0):
        for w in (300.0, 200.0, 150.0, 120.0, 110.0, 100.0):
            rows.append(f"{x}\t5.0\t{w}\t{w / 10 + x}")
    text = "#X\t\t#Y\t\t#Wave\t\t#Intensity\r\n" + "\r\n".join(rows) + "\r\n"
    scans = rt.read_renishaw_txt(text.encode(), "map.txt")
    assert len(scans) == 2
    assert scans[1].meta["position"] == {"X": 10.0, "Y": 5.0}
    np.testing.assert_array_equal(scans[1].y, [40.0, 30.0, 25.0, 22.0, 21.0, 20.0])


# --------------------------------------------------------------------------- ROD


def test_rod():
    scan = load(real_file(ROD))
    assert scan.meta.format == "rod"
    assert scan.kind == "raman"
    assert scan.x.size == 1159
    assert (scan.x[0], scan.y[0]) == (50.0, 429.0)
    assert (scan.x[1], scan.y[1]) == (51.262, 438.0)
    assert (scan.x[-1], scan.y[-1]) == (1400.643, 529.0)
    assert scan.meta.sample == "K-cymrite"
    assert scan.meta.laser_nm == 488.0
    extra = scan.meta.extra
    assert extra["rod_id"] == 1000679
    assert extra["formula"] == "Al H2 K O9 Si3"
    assert extra["doi"] == "10.2465/jmps.111020i"
    assert extra["date"] == "2011-09-07"
    assert extra["laser_type"] == "argon"


ROD_MINI = """data_1
_chemical_name_mineral 'Test mineral'
_raman_measurement_device.excitation_laser_wavelength 632.8
_publ_section_title
;
 A title; with a semicolon
;
loop_
_raman_spectrum.raman_shift
_raman_spectrum.intensity
100.0 1
101.0 2
102.0 3
103.0 4
104.0 5(2)
"""


def test_rod_minimal_and_malformed(tmp_path):
    (s,) = rt.read_rod(ROD_MINI.encode(), "mini.rod")
    assert s.meta["sample"] == "Test mineral"
    assert s.meta["laser_nm"] == 632.8
    np.testing.assert_array_equal(s.y, [1, 2, 3, 4, 5])
    for bad in (
        ROD_MINI.replace("104.0 5(2)\n", "104.0\n"),  # odd number of loop values
        ROD_MINI.replace(" A title; with a semicolon\n;\n", " unterminated\n"),
        ROD_MINI.replace("_raman_spectrum.intensity", "_raman_spectrum.other"),
        ROD_MINI.replace("103.0 4", "103.0 four"),
    ):
        p = tmp_path / "bad.rod"
        p.write_text(bad)
        with pytest.raises(LoadError):
            load(p)


# --------------------------------------------------------------------------- sniffing and bad input


@pytest.mark.parametrize(
    ("rel", "name"),
    [(BWTEK, "bwtek_txt"), (WITEC, "witec_txt"), (RRUFF, "rruff"), (RENISHAW, "renishaw_txt"), (ROD, "rod")],
)
def test_each_sniffer_claims_only_its_format(rel, name):
    head = real_file(rel).read_bytes()[:4096]
    claimed = [
        n for n in ("bwtek_txt", "witec_txt", "rruff", "renishaw_txt", "rod") if READERS[n].sniff(head)
    ]
    assert claimed == [name]
    assert READERS[name].kind == "raman"
    assert READERS[name].priority < 50


@pytest.mark.parametrize("rel", [HORIBA_TXT, INVIA_TXT])
def test_plain_two_column_files_are_left_to_the_generic_reader(rel):
    head = real_file(rel).read_bytes()[:4096]
    for n in ("bwtek_txt", "witec_txt", "rruff", "renishaw_txt", "rod"):
        assert not READERS[n].sniff(head)


def test_truncated_headers_raise_loaderror(tmp_path):
    cases = {
        "bw.txt": (BWTEK, 1500),  # cut inside the key;value header
        "witec.txt": (WITEC, 300),  # cut before [Data]
        "rod.rod": (ROD, 2000),  # cut before the spectrum loop
        "ren.txt": (RENISHAW, 30),  # cut in the middle of the second row
    }
    for name, (rel, cut) in cases.items():
        p = tmp_path / name
        p.write_bytes(real_file(rel).read_bytes()[:cut])
        with pytest.raises(LoadError):
            load(p)


def test_corrupted_rows_raise_loaderror(tmp_path):
    cases = [
        (rt.read_bwtek, BWTEK, b"536,27;18647,30;148,98", b"536,27;18647,30;1x8,98", "not a number"),
        (rt.read_rruff, RRUFF, b"81.77832, 24506.01", b"81.77832, 24506.01, 7", "line 12"),
        (rt.read_witec_txt, WITEC, b"5.308650650E+02, 3.566000061E+02", b"5.308650650E+02", "fields"),
        (rt.read_renishaw_txt, RENISHAW, b"1110.006836\t1805.549316", b"1110.006836\t18x5.5", "not a number"),
    ]
    for reader, rel, old, new, message in cases:
        data = real_file(rel).read_bytes()
        assert old in data
        bad = data.replace(old, new)
        with pytest.raises(LoadError, match=message):
            reader(bad, rel)
        # the vendor reader recognised the file, so its error is final (no generic fallback)
        p = tmp_path / ("bad" + real_file(rel).suffix)
        p.write_bytes(bad)
        with pytest.raises(LoadError, match=message):
            load(p)


def test_load_all_returns_single_scans():
    for rel in (BWTEK, RRUFF, RENISHAW, ROD):
        assert len(load_all(real_file(rel))) == 1
