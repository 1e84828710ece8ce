"""PANalytical XRDML reader: real files of schema 1.0, 1.5, 1.6 and 2.2, and constructed variants.

Expected numbers were read from the files with grep/awk, not from the reader:
the number of values in <intensities>/<counts>, the values at indices 0, 100
and -1, the 2Theta start/end positions and the <usedWavelength> block.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from phasetrace.errors import LoadError, UnsupportedFormatError
from phasetrace.io import load, load_all
from phasetrace.io.xrdml import sniff_xrdml
from tests.conftest import REAL_DATA, real_file

pytestmark = pytest.mark.realdata

PYNX = "xrd/formats/pynxtools-xrd/XRD-918-16_10.xrdml"
PARUCH = "xrd/formats/paruch-xrdtools/test_scan.xrdml"
EMPYREAN = "xrd/formats/xylib/empyrean.xrdml"
DARA_DIR = "xrd/measured/dara_binary_reactions"
COWO = f"{DARA_DIR}/CoO-WO3_900C_60min.xrdml"
BIMO = f"{DARA_DIR}/Bi2O3-2MoO3_400C_60min.xrdml"

REL = 1e-9


def _cu(rad, ratio=0.5):
    assert rad.source == "file"
    assert rad.kalpha1 == pytest.approx(1.5405980, rel=REL)
    assert rad.kalpha2 == pytest.approx(1.5444260, rel=REL)
    assert rad.ratio == pytest.approx(ratio)
    assert rad.anode == "Cu"


# --------------------------------------------------------------------------- real files


def test_pynxtools_empyrean_v16():
    s = load(real_file(PYNX))
    assert s.kind == "xrd"
    assert s.x.size == 5027
    assert s.x[0] == pytest.approx(4.00656514, rel=1e-9)
    assert s.x[-1] == pytest.approx(69.99936587, rel=1e-9)
    assert s.y[0] == 1305 and s.y[100] == 1225 and s.y[-1] == 171
    _cu(s.meta.radiation)
    assert s.meta.counting_time == pytest.approx(39.27)
    assert s.meta.instrument == "EMPYREAN"
    assert s.meta.x_unit == "2theta_deg"
    ex = s.meta.extra
    assert ex["xrdml_version"] == "1.6"
    assert ex["scan_axis"] == "Gonio"
    assert ex["scan_mode"] == "Continuous"
    assert ex["date"] == "2021-03-16T13:10:14+03:00"
    assert ex["operator"] == "XRD"
    assert ex["y_unit"] == "counts"
    assert ex["intensity_element"] == "intensities"
    assert ex["goniometer_radius_mm"] == 240.0
    assert ex["tube_voltage_kV"] == 45.0 and ex["tube_current_mA"] == 40.0
    # empty <id> and <name>: the sample falls back to the file stem
    assert s.meta.sample == "XRD-918-16_10"


def test_paruch_thin_film_2theta_omega_v10():
    s = load(real_file(PARUCH))
    assert s.x.size == 750
    assert s.x[0] == pytest.approx(15.01, rel=1e-12)
    assert s.x[-1] == pytest.approx(29.99, rel=1e-12)
    assert np.allclose(np.diff(s.x), (29.99 - 15.01) / 749)
    assert s.y[0] == 9 and s.y[100] == 5 and s.y[-1] == 13
    # a Ge(220) monochromator: the file states Kα2 1.5444260 at ratio 0, so no Kα2 line; read as monochromatic
    # radiation is written everywhere (Radiation: kalpha2 None), the rule of every reader (io/_radiation.py)
    rad = s.meta.radiation
    assert (rad.kalpha1, rad.kalpha2, rad.ratio, rad.anode, rad.source) == (1.540598, None, 0.0, "Cu", "file")
    assert not rad.is_doublet
    assert s.meta.sample == "B10135"
    assert s.meta.counting_time == pytest.approx(10.0)
    assert s.meta.instrument == "XPERT-PRO"
    assert s.meta.extra["scan_axis"] == "2Theta-Omega"
    assert s.meta.extra["xrdml_version"] == "1.0"
    # all attenuation factors are 1.00: nothing applied, nothing reported
    assert "attenuation_applied" not in s.meta.extra


def test_xylib_empyrean_v15():
    s = load(real_file(EMPYREAN))
    assert s.x.size == 196
    assert s.x[0] == pytest.approx(30.05) and s.x[-1] == pytest.approx(41.75)
    assert s.y[0] == 8 and s.y[100] == 5 and s.y[-1] == 6
    _cu(s.meta.radiation)
    assert s.meta.counting_time == pytest.approx(0.44)
    assert s.meta.extra["scan_axis"] == "2Theta"
    assert s.meta.extra["xrdml_version"] == "1.5"
    assert s.meta.extra["detector"] == "PIXcel-3D detector"


@pytest.mark.parametrize(
    ("rel", "y0", "y100", "ylast", "sample_id", "date"),
    [
        (
            COWO, 2531, 2198, 757,
            "PG_0849_1_df478d73-d25b-48bc-b967-2599fe27b00a",
            "2024-04-17T04:45:38-07:00",
        ),
        (
            BIMO, 2504, 2250, 738,
            "PG_0630_1_Bi2O3-2MoO3_Bi2Mo2O9_400C_60min_2514dd27-4d70-484a-b3d2-834f8dc7ea0d",
            "2024-02-28T19:42:23-08:00",
        ),
    ],
)
def test_dara_aeris_v22_counts(rel, y0, y100, ylast, sample_id, date):
    s = load(real_file(rel))
    assert s.x.size == 8301
    assert s.x[0] == pytest.approx(9.90343322, rel=1e-9)
    assert s.x[-1] == pytest.approx(100.09488522, rel=1e-9)
    assert s.y[0] == y0 and s.y[100] == y100 and s.y[-1] == ylast
    _cu(s.meta.radiation)
    assert s.meta.counting_time == pytest.approx(13.77)
    assert s.meta.instrument == "AERIS"
    ex = s.meta.extra
    assert ex["xrdml_version"] == "2.2"
    assert ex["intensity_element"] == "counts"
    assert ex["y_unit"] == "counts"
    assert ex["date"] == date
    assert s.meta.sample == sample_id == ex["sample_id"]


def test_all_dara_files_load_with_plausible_ranges():
    folder = REAL_DATA / DARA_DIR
    if not folder.is_dir():
        pytest.skip(f"real data folder not available: {folder}")
    files = sorted(folder.glob("*.xrdml"))
    assert len(files) >= 19
    for f in files:
        scans = load_all(f)
        assert len(scans) == 1, f.name
        s = scans[0]
        assert s.x.size == 8301, f.name
        assert 9.8 < s.x[0] < 10.0 and 100.0 < s.x[-1] < 100.2, f.name
        assert (s.y >= 0).all() and s.y.max() > 100, f.name
        assert s.meta.radiation.anode == "Cu" and s.meta.radiation.source == "file"
        assert s.meta.format == "xrdml"


def test_sniffer():
    for rel in (PYNX, PARUCH, EMPYREAN, COWO):
        assert sniff_xrdml(real_file(rel).read_bytes()[:4096])
    assert not sniff_xrdml(b"<?xml version='1.0'?><RawData/>")
    assert not sniff_xrdml(b"")


def test_unknown_suffix_is_found_by_content(tmp_path):
    p = tmp_path / "pattern.unknownsuffix"
    p.write_bytes(real_file(EMPYREAN).read_bytes())
    s = load(p)
    assert s.meta.format == "xrdml" and s.x.size == 196


# --------------------------------------------------------------------------- constructed variants


def _empyrean_text() -> str:
    return real_file(EMPYREAN).read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str, name: str = "x.xrdml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_two_scans_give_two_raw_scans(tmp_path):
    text = _empyrean_text()
    scan = re.search(r"<scan .*?</scan>", text, re.S).group(0)
    second = scan.replace('appendNumber="0"', 'appendNumber="1"').replace(
        "<startPosition>30.0500</startPosition>", "<startPosition>40.0500</startPosition>"
    ).replace("<endPosition>41.7500</endPosition>", "<endPosition>51.7500</endPosition>")
    p = _write(tmp_path, text.replace(scan, scan + second))
    scans = load_all(p)
    assert len(scans) == 2
    assert scans[0].x[0] == pytest.approx(30.05) and scans[1].x[0] == pytest.approx(40.05)
    assert scans[1].meta.extra["append_number"] == 1
    with pytest.raises(LoadError, match="holds 2 scans"):
        load(p)


def test_omega_rocking_curve_is_unsupported_and_named(tmp_path):
    text = _empyrean_text().replace('scanAxis="2Theta"', 'scanAxis="Omega"')
    p = _write(tmp_path, text, "rocking.xrdml")
    with pytest.raises(UnsupportedFormatError, match=r"rocking\.xrdml.*'Omega'"):
        load(p)


def test_gonio_scan_with_fixed_two_theta_is_unsupported(tmp_path):
    text = _empyrean_text().replace(
        "<startPosition>30.0500</startPosition>\n\t\t\t\t\t<endPosition>41.7500</endPosition>",
        "<commonPosition>30.0500</commonPosition>",
    )
    assert "<commonPosition>30.0500</commonPosition>" in text
    with pytest.raises(UnsupportedFormatError, match="2Theta fixed"):
        load(_write(tmp_path, text))


def test_raw_counts_are_multiplied_by_attenuation_factors(tmp_path):
    n = 196
    factors = ["1"] * n
    factors[5] = "100"
    text = _empyrean_text().replace('<intensities unit="counts">', '<counts unit="counts">')
    text = text.replace("</intensities>", "</counts>")
    text = text.replace(
        "<commonCountingTime",
        f"<beamAttenuationFactors>{' '.join(factors)}</beamAttenuationFactors><commonCountingTime",
    )
    s = load(_write(tmp_path, text))
    ref = load(real_file(EMPYREAN))
    expected = ref.y.copy()
    expected[5] *= 100
    assert np.array_equal(s.y, expected)
    assert s.meta.extra["attenuation_applied"] is True
    assert s.meta.extra["max_attenuation_factor"] == 100.0


def test_corrected_intensities_are_not_multiplied_again(tmp_path):
    factors = ["1"] * 196
    factors[5] = "100"
    text = _empyrean_text().replace(
        "<commonCountingTime",
        f"<beamAttenuationFactors>{' '.join(factors)}</beamAttenuationFactors><commonCountingTime",
    )
    s = load(_write(tmp_path, text))
    assert np.array_equal(s.y, load(real_file(EMPYREAN)).y)
    assert "attenuation_applied" not in s.meta.extra


def test_list_positions_cps_and_counting_times(tmp_path):
    xs = " ".join(f"{30.05 + 0.06 * i:.4f}" for i in range(196))
    text = _empyrean_text().replace(
        "<startPosition>30.0500</startPosition>\n\t\t\t\t\t<endPosition>41.7500</endPosition>",
        f"<listPositions>{xs}</listPositions>",
    )
    text = text.replace(
        '<commonCountingTime unit="seconds">0.440</commonCountingTime>',
        f'<countingTimes unit="seconds">{" ".join(["0.5"] * 196)}</countingTimes>',
    )
    text = text.replace('<intensities unit="counts">', '<intensities unit="counts per second">')
    s = load(_write(tmp_path, text))
    assert s.x[1] == pytest.approx(30.11) and s.x[-1] == pytest.approx(30.05 + 0.06 * 195)
    assert s.meta.counting_time == 0.5
    assert s.meta.extra["y_unit"] == "cps"


def test_list_positions_count_mismatch_is_a_load_error(tmp_path):
    text = _empyrean_text().replace(
        "<startPosition>30.0500</startPosition>\n\t\t\t\t\t<endPosition>41.7500</endPosition>",
        "<listPositions>30 31 32</listPositions>",
    )
    with pytest.raises(LoadError, match="3 2Theta positions for 196"):
        load(_write(tmp_path, text))


def test_sample_name_and_anode_only_radiation(tmp_path):
    text = _empyrean_text().replace("<name></name>", "<name>LLZO-800</name>", 1)
    text = re.sub(r"<usedWavelength.*?</usedWavelength>", "", text, flags=re.S)
    s = load(_write(tmp_path, text))
    assert s.meta.sample == "LLZO-800"
    assert s.meta.radiation.anode == "Cu" and s.meta.radiation.source == "file"
    assert s.meta.extra["wavelength_source"] == "anode table"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("rel", [PYNX, PARUCH, EMPYREAN, COWO])
@pytest.mark.parametrize("frac", [0.02, 0.3, 0.6, 0.97])
def test_truncated_files_are_load_errors(tmp_path, rel, frac):
    data = real_file(rel).read_bytes()
    p = tmp_path / "cut.xrdml"
    p.write_bytes(data[: int(len(data) * frac)])
    with pytest.raises(LoadError):
        load(p)


def test_cut_just_before_the_end_is_a_load_error(tmp_path):
    data = real_file(EMPYREAN).read_bytes()
    p = tmp_path / "cut.xrdml"
    p.write_bytes(data.rstrip()[:-3])
    with pytest.raises(LoadError, match="malformed"):
        load(p)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('<intensities unit="counts">8 11', '<intensities unit="counts">8 x11', "not a number"),
        ('<intensities unit="counts">', '<nothing unit="counts">', "neither <intensities>"),
        ("<xrdMeasurements", "<xrdMeasurement2s", "not an XRDML"),
        ("<kAlpha1 unit=\"Angstrom\">1.5405980", "<kAlpha1 unit=\"Angstrom\">154.05980", "implausible"),
    ],
)
def test_corrupted_content_is_a_load_error(tmp_path, old, new, message):
    text = _empyrean_text()
    assert old in text
    text = text.replace(old, new)
    if new.startswith("<nothing"):
        text = text.replace("</intensities>", "</nothing>")
    if new.startswith("<xrdMeasurement2s"):
        text = text.replace("</xrdMeasurements>", "</xrdMeasurement2s>")
    with pytest.raises(LoadError, match=message):
        load(_write(tmp_path, text))


def test_doctype_is_refused(tmp_path):
    text = _empyrean_text().replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    )
    with pytest.raises(LoadError, match="DTD"):
        load(_write(tmp_path, text))


def test_random_bytes_are_a_load_error(tmp_path):
    p = tmp_path / "noise.xrdml"
    p.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(LoadError):
        load(p)
