"""GSAS powder data (STD, ESD, FXY, FXYE) and the GSAS files that are not scans.

Expected values were read from the text files directly (head/tail/awk): the
BANK record's start and step in centidegrees, the number of points, the first
and last intensities of the declared points.
"""

from __future__ import annotations

import warnings
import zipfile

import numpy as np
import pytest

from phasetrace.errors import DefaultRadiationWarning, LoadError, UnsupportedFormatError
from phasetrace.io import load, load_all
from phasetrace.io.gsas import read_gsas, sniff_gsas, sniff_gsas_exp, sniff_gsas_prm
from tests.conftest import real_file

pytestmark = pytest.mark.realdata

NIST = "xrd/formats/gsas2-tutorials/NIST660CBI.gsas"
PBSO4 = "xrd/formats/gsas2-tutorials/PBSO4.XRA"
FAP = "xrd/formats/gsas2-tutorials/FAP.XRA"
SI3N4 = "xrd/measured/gsas2/B_SI3N4.XRA"
PRM = "xrd/formats/gsas2-tutorials/INST_XRY.PRM"
FAP_EXP = "xrd/formats/gsas2-tutorials/FAP.EXP"
SI3N4_EXP = "xrd/measured/gsas2/B_SI3N4X.EXP"
SEQTUT = "xrd/insitu/gsas2-tutorials/SeqTut.zip"


def test_nist660c_std_without_wavelength_gets_the_default():
    with pytest.warns(DefaultRadiationWarning):
        scan = load(real_file(NIST))
    # BANK 1 8378 838 CONST 1500.66 1.31303 0 0 STD
    assert scan.meta.format == "gsas"
    assert scan.x.size == 8378
    assert scan.x[0] == pytest.approx(15.0066)
    assert scan.x[-1] == pytest.approx(15.0066 + 8377 * 0.0131303, rel=1e-9)
    assert scan.y[:3].tolist() == [2364.0, 2382.0, 2386.0]
    assert scan.y[10] == 2444.0  # first value of the second record
    assert scan.y[-1] == 370.0
    assert scan.sigma is None
    assert scan.meta.radiation.source == "default"
    assert scan.meta.extra["title"] == "Sample ID - Anode and Instrument"
    assert scan.meta.extra["bank"] == 1 and scan.meta.extra["gsas_layout"] == "STD"


def test_pbso4_anode_named_in_title():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultRadiationWarning)
        scan = load(real_file(PBSO4))
    # BANK 1  6001  601 CONST 1000 2.5 0 0 STD ; last record "368 0 0 ..." (zero padding)
    assert scan.x.size == 6001
    assert scan.x[0] == pytest.approx(10.0) and scan.x[-1] == pytest.approx(160.0)
    assert scan.y[0] == 179.0 and scan.y[-1] == 368.0
    rad = scan.meta.radiation
    assert rad.anode == "Cu" and rad.kalpha1 == pytest.approx(1.540598)
    assert "Cu Ka" in scan.meta.extra["wavelength_source"]
    assert "values_beyond_declared_points" not in scan.meta.extra


def test_fap_and_si3n4_std():
    with pytest.warns(DefaultRadiationWarning):
        fap = load(real_file(FAP))
    # BANK 1  5753  576 CONST 1500 2 0 0 STD; record 576 is "84 0 0 0 ..."
    assert fap.x.size == 5753
    assert fap.x[0] == pytest.approx(15.0) and fap.x[-1] == pytest.approx(130.04)
    assert fap.y[0] == 609.0 and fap.y[5750] == 84.0 and fap.y[-1] == 0.0
    with pytest.warns(DefaultRadiationWarning):
        si = load(real_file(SI3N4))
    # BANK 1 6500 650 CONST 1000.00 2.00 (no layout word: STD); one extra record of 5 values follows
    assert si.x.size == 6500
    assert si.x[0] == pytest.approx(10.0) and si.x[-1] == pytest.approx(139.98)
    assert si.y[0] == 58.0 and si.y[-1] == 41.0
    assert si.meta.extra["values_beyond_declared_points"] == 5


def test_fxye_from_the_seqtut_series(tmp_path):
    with zipfile.ZipFile(real_file(SEQTUT)) as zf:
        names = [n for n in zf.namelist() if n.endswith(".fxye")]
        assert len(names) == 17  # (SOURCES.md says 19; the archive holds 17)
        zf.extract("OH_19.fxye", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultRadiationWarning)
        scan = load(tmp_path / "OH_19.fxye")
    # BANK 1 12799 12799 CONS 50.000000 0.200000  0 0 FXYE ; x in centidegrees
    assert scan.x.size == 12799
    assert scan.x[0] == pytest.approx(0.5) and scan.x[-1] == pytest.approx(26.096)
    assert scan.x[1000] == pytest.approx(2.5)
    assert scan.y[0] == pytest.approx(62.314799) and scan.y[1000] == pytest.approx(20.443790)
    assert scan.sigma[0] == pytest.approx(11.3135) and scan.sigma[-1] == pytest.approx(3.723876)
    # "# Calibrated wavelength = 0.413263" (synchrotron, one line)
    rad = scan.meta.radiation
    assert rad.kalpha1 == pytest.approx(0.413263) and rad.kalpha2 is None and rad.source == "file"
    assert "Calibrated wavelength" in scan.meta.extra["wavelength_source"]
    # "# Temp (K) = 98.89", "# User sample name = VarnishOn06mmKapton,Spinning"
    assert scan.meta.temperature_C == pytest.approx(98.89 - 273.15)
    assert scan.meta.sample == "VarnishOn06mmKapton,Spinning"
    assert scan.meta.counting_time == pytest.approx(0.1)


def test_prm_and_exp_are_not_scans(tmp_path):
    with pytest.raises(LoadError, match="is a GSAS instrument-parameter file, not a scan") as e:
        load(real_file(PRM))
    assert "INST_XRY.PRM" in str(e.value)
    for name in (FAP_EXP, SI3N4_EXP):
        with pytest.raises(LoadError, match=r"is a GSAS experiment \(\.EXP\) file, not a scan"):
            load(real_file(name))
    with zipfile.ZipFile(real_file(SEQTUT)) as zf:
        zf.extract("OH_00.prm", tmp_path)
    with pytest.raises(LoadError, match="instrument-parameter file"):
        load(tmp_path / "OH_00.prm")
    assert sniff_gsas_prm(real_file(PRM).read_bytes()[:4096])
    assert sniff_gsas_exp(real_file(FAP_EXP).read_bytes()[:4096])
    assert not sniff_gsas(real_file(PRM).read_bytes()[:4096])
    assert not sniff_gsas_prm(real_file(PBSO4).read_bytes()[:4096])


# --------------------------------------------------------------------------- synthetic layouts


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, newline="\r\n")
    return p


def test_std_with_counter_multipliers(tmp_path):
    vals = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 50, 60]
    fields = [f"{' 4' if i == 1 else '  '}{v:6d}" for i, v in enumerate(vals[:10])]
    rec1 = "".join(fields)
    rec2 = f"{vals[10]:8d}{vals[11]:8d}"
    p = _write(tmp_path, "m.gsa", f"test Lambda = 1.5406\nBANK 1 12 2 CONST 2000 5 0 0 STD\n{rec1}\n{rec2}\n")
    scan = load(p)
    assert scan.x.size == 12 and scan.x[-1] == pytest.approx(20.0 + 11 * 0.05)
    assert scan.y.tolist() == [float(v) for v in vals]
    assert scan.sigma[1] == pytest.approx(np.sqrt(200 / 4))
    assert scan.sigma[0] == pytest.approx(10.0)
    assert scan.meta.radiation.kalpha1 == pytest.approx(1.5406)


def test_free_format_std_with_jade_wavelength(tmp_path):
    # the layout of a Jade-written GSAS file (title carries "LA= 1.23966")
    text = "BA67AJ_300K.002 11:55:37 31-JUL-98 PRB sa= 4.00 fa= 81.02 icr=0.010 LA= 1.23966\n"
    text += "BANK 1 12 2 CONST 400 1\n20 21 26 29 30 36 18 21 25 25\n20 21\n"
    scan = load(_write(tmp_path, "j.gsas", text))
    assert scan.y.tolist() == [20, 21, 26, 29, 30, 36, 18, 21, 25, 25, 20, 21]
    assert scan.x[0] == pytest.approx(4.0) and scan.meta.step == pytest.approx(0.01)
    assert scan.meta.radiation.kalpha1 == pytest.approx(1.23966)


def test_esd_and_two_banks(tmp_path):
    ys = np.arange(1, 11) * 10.0
    es = np.sqrt(ys)
    rec = "".join(f"{y:8.1f}{e:8.3f}" for y, e in zip(ys[:5], es[:5], strict=True))
    rec2 = "".join(f"{y:8.1f}{e:8.3f}" for y, e in zip(ys[5:], es[5:], strict=True))
    text = "two banks\nBANK 1 10 2 CONST 1000 10 0 0 ESD\n" + rec + "\n" + rec2 + "\n"
    text += "BANK 2 10 2 CONST 5000 10 0 0 ESD\n" + rec + "\n" + rec2 + "\n"
    with pytest.warns(DefaultRadiationWarning):
        scans = load_all(_write(tmp_path, "e.esd", text))
    assert len(scans) == 2
    assert scans[1].x[0] == pytest.approx(50.0) and scans[1].meta.extra["bank"] == 2
    np.testing.assert_allclose(scans[0].y, ys)
    np.testing.assert_allclose(scans[0].sigma, es, atol=1e-3)


def test_unix_fixed_records_without_line_ends(tmp_path):
    recs = ["unix style", "BANK 1 10 1 CONST 1000 2 0 0 STD", "".join(f"{v:8d}" for v in range(10, 20))]
    data = "".join(r.ljust(80) for r in recs).encode()
    assert sniff_gsas(data[:4096])
    scans = read_gsas(data, "u.gsa")
    assert scans[0].y.tolist() == list(map(float, range(10, 20)))


def test_time_of_flight_and_alt_are_unsupported(tmp_path):
    tof = "tof\nBANK 1 3 3 RALF 48008 64 64331 0.0010 FXYE\n1500.2 23.5 0.37\n1502.2 22.8 0.36\n1504.2 22.3 0.36\n"
    with pytest.raises(UnsupportedFormatError, match="time-of-flight"):
        load(_write(tmp_path, "t.gss", tof))
    alt = "alt\nBANK 1 4 1 CONST 1000 2 0 0 ALT\n  320000  1000  100\n"
    with pytest.raises(UnsupportedFormatError, match="ALT"):
        load(_write(tmp_path, "a.gss", alt))


def test_truncated_and_malformed_files_raise_loaderror(tmp_path):
    data = real_file(PBSO4).read_bytes()
    for cut in (10, 100, 200, len(data) // 2, len(data) - 900):
        with pytest.raises(LoadError):
            read_gsas(data[:cut], "cut.xra")
        p = tmp_path / f"cut{cut}.xra"
        p.write_bytes(data[:cut])
        with pytest.raises(LoadError):
            load(p)
    with pytest.raises(LoadError, match="BANK"):
        read_gsas(b"title\nBANK x\n1 2 3\n", "b.gsa")
    with pytest.raises(LoadError, match="not numbers"):
        read_gsas(b"title\nBANK 1 3 1 CONST 100 1 0 0 STD\nabc def ghi\n", "b.gsa")
    with pytest.raises(LoadError, match="start and step"):
        read_gsas(b"title\nBANK 1 3 1 CONST\n1 2 3\n", "b.gsa")


def test_gsas_text_named_raw_is_found_by_content(tmp_path):
    p = tmp_path / "pbso4.raw"
    p.write_bytes(real_file(PBSO4).read_bytes())
    scan = load(p)
    assert scan.meta.format == "gsas" and scan.x.size == 6001
