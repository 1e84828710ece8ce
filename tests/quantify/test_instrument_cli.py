"""``phasetrace instrument calibrate`` and ``--instrument`` on fit: a simulated standard, real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.io import save
from phasetrace.library.reflections import compute_reflections
from phasetrace.quantify.calibration import calibrate
from phasetrace.quantify.instrument import load_instrument, standard_cif
from phasetrace.quantify.model import PhaseModel, phase_pattern
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

TRUE = {"u": 0.008, "v": -0.003, "w": 0.004, "eta": 0.6, "asymmetry": 0.05}


def _standard_scan(zero=0.03, seed=1):
    """A simulated Si standard: Caglioti TRUE, no sample broadening, zero shift, Poisson counts."""
    name, cif = standard_cif("Si")
    refl = compute_reflections(cif, d_min=0.75)
    x = np.arange(20.0, 140.0, 0.01)
    lams = (CU_KALPHA.kalpha1, CU_KALPHA.kalpha2)
    m = PhaseModel.build(name, refl, (20.0, 140.0), lams)
    y = 150.0 + 0.02 * phase_pattern(
        x, m, wavelengths=lams, weights=(1.0, 0.5), size_x=0.0, strain_y=0.0, zero=zero, displacement=0.0,
        radius_mm=240.0, **TRUE,
    )  # fmt: skip
    y = np.random.default_rng(seed).poisson(y).astype(float)
    return Scan(x=x, y=y, kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="Si standard"))


def test_calibrate_recovers_the_instrument_profile():
    inst, stats = calibrate(_standard_scan(), "Si")
    p = inst.profile
    assert stats["gof"] < 1.1
    assert inst.zero_deg == pytest.approx(0.03, abs=0.005)
    # FWHM at 2θ = 30°, 90°, 130° within 2 %
    for tt in (30.0, 90.0, 130.0):
        t = np.tan(np.radians(tt / 2))
        want = np.sqrt(TRUE["u"] * t * t + TRUE["v"] * t + TRUE["w"])
        got = np.sqrt(p["u"] * t * t + p["v"] * t + p["w"])
        assert got == pytest.approx(want, rel=0.02)
    assert p["eta"] == pytest.approx(TRUE["eta"], abs=0.03)
    # the axial-divergence tail (degrees at 2θ = 20°)
    assert p["asymmetry"] == pytest.approx(TRUE["asymmetry"], abs=0.008)


def test_calibrate_command_writes_a_file_fit_reads(tmp_path, library):
    scan_path = tmp_path / "si.xy"
    save(_standard_scan(), scan_path)
    out = tmp_path / "lab.yaml"
    r = CliRunner().invoke(
        main, ["instrument", "calibrate", str(scan_path), "--phase", "Si", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    inst = load_instrument(out)
    assert inst.profile["eta"] == pytest.approx(TRUE["eta"], abs=0.03)
    # fit with the file: its values are reported with the result
    from phasetrace.simulate import simulate_xrd

    mix = tmp_path / "mix.xy"
    save(simulate_xrd(library, {"MgO": 70, "NiO": 30}, seed=2), mix)
    r = CliRunner().invoke(main, ["fit", str(mix), "--phases", "MgO,NiO", "--instrument", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["instrument"]["profile"]["eta"] == pytest.approx(inst.profile["eta"])
    assert {p["id"]: p["wt_percent"] for p in doc["phases"]}["MgO"] == pytest.approx(70.0, abs=1.0)


def test_user_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("divergence_slit: {mode: sideways}\n", encoding="utf-8")
    scan_path = tmp_path / "si.xy"
    save(_standard_scan(), scan_path)
    r = CliRunner().invoke(main, ["fit", str(scan_path), "--phases", "MgO", "--instrument", str(bad)])
    assert r.exit_code == 2
    assert "bad.yaml: divergence slit mode must be fixed or automatic" in r.output
    r = CliRunner().invoke(main, ["instrument", "calibrate", str(scan_path), "--phase", "unobtainium"])
    assert r.exit_code == 2 and "not a known standard" in r.output


# ---- the calibration checks itself (user review 2026-12-04, findings 5 and 6) ----

_SI_RASX = "xrd/formats/dara/RM20220915Si01.rasx"  # 8.5-30°: background only, no Si reflection
_LAB6_RAW = "xrd/formats/gsas2-tutorials/LaB6_Jan2018.raw"  # GSAS-II's LaB6 calibration scan, 10-70°
_WINDOW_RASX = "xrd/formats/gsas2/Sample_Repeated_Measurement.rasx"  # 127.4-128.0°
_SILICON_CIF = "cif/dans_diffraction/Silicon.cif"


def _calibrate_cli(scan_path, phase, out, *extra):
    return CliRunner().invoke(
        main, ["instrument", "calibrate", str(scan_path), "--phase", str(phase), "--out", str(out), *extra]
    )


@pytest.mark.parametrize("phase", ["Si", "cif"])
def test_calibration_on_a_scan_without_the_standard_is_refused(tmp_path, real, phase):
    """No Si peak in the scan: the fit put the counts in the background (GoF 1.01, every profile term at
    a bound); with the Silicon CIF the width ran to its floor and NNLS got NaN (internal error)."""
    scan = real(_SI_RASX)
    out = tmp_path / "si.yaml"
    r = _calibrate_cli(scan, real(_SILICON_CIF) if phase == "cif" else phase, out)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"phasetrace: error: {scan}: no calibration on")
    assert "reflections significant" in lines[0] and "needs 30°" in lines[0]
    assert not out.exists()


def test_calibration_with_the_wrong_standard_is_refused(tmp_path, real):
    out = tmp_path / "si.yaml"
    r = _calibrate_cli(real(_LAB6_RAW), real(_SILICON_CIF), out)
    assert r.exit_code == 2, r.output
    assert "0 of 4 Silicon reflections significant" in r.output and "GoF 32.5 > 10" in r.output
    assert not out.exists()


def test_calibration_on_the_right_standard_passes_with_a_note(tmp_path, real):
    """The same LaB6 scan calibrated as LaB6: all 8 reflection groups significant, written; the
    standard's ΔB at its bound (intensities falling off unlike the model) is a warning, not a refusal."""
    out = tmp_path / "lab6.yaml"
    with pytest.warns(UserWarning, match="ΔB -0.254 Å² is at its search limit"):
        r = _calibrate_cli(real(_LAB6_RAW), "LaB6", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output[r.output.index("{") :])
    fit = doc["fit"]
    assert fit["problems"] == [] and fit["significant_reflections"] == fit["reflections"] == 8
    assert fit["gof"] < 10 and "ΔB" in fit["notes"][0]
    assert load_instrument(out).profile["eta"] == pytest.approx(doc["instrument"]["profile"]["eta"])


def test_calibration_on_a_narrow_window_is_refused_and_force_marks_the_file(tmp_path, real):
    scan = real(_WINDOW_RASX)
    out = tmp_path / "w.yaml"
    r = _calibrate_cli(scan, "LaB6", out)
    assert r.exit_code == 2 and "spans 0.6° of 2θ (needs 30°)" in r.output and not out.exists()
    with pytest.warns(UserWarning, match="failed its checks; kept because of --force"):
        r = _calibrate_cli(scan, "LaB6", out, "--force")
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# WARNING: this calibration failed its checks: the scan spans 0.6°")
    assert "NOT TRUSTWORTHY" in load_instrument(out).reference


def test_calibration_reports_its_checks():
    """A clean simulated standard passes every check: 11 reflection groups, all significant."""
    _, stats = calibrate(_standard_scan(), "Si")
    assert stats["problems"] == [] and stats["at_bounds"] == {}
    assert stats["significant_reflections"] == stats["reflections"] == 11
