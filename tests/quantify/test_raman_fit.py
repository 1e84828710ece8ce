"""Whole-spectrum Raman test: flank bands, single-band phases, host misfit, twins, spikes, real spectra."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from numpy.polynomial import chebyshev

from phasetrace.match import TechniqueMismatchError
from phasetrace.peaks.profiles import split_pseudo_voigt
from phasetrace.quantify.raman import DETECTION_SIGMA, RamanFitConfig, fit_raman
from phasetrace.scan import Scan
from phasetrace.simulate import simulate_raman

#: Candidates of a LiCoO2 + LLZTO pellet (the LaMO3 twins included) and of an LNMO + LLZTO one.
LCO = [
    "LLZO_cubic",
    "LLZTO_cubic",
    "LiCoO2",
    "Co3O4",
    "CoO",
    "MgO",
    "La2Zr2O7",
    "LaCoO3",
    "LaNiO3",
    "LaMnO3_R3c",
    "Li6Zr2O7",
    "La2O3",
    "Li2CO3",
]
LNMO = [
    "LLZTO_cubic",
    "LNMO_Fd3m",
    "LNMO_P4332",
    "LiMn2O4",
    "NiO",
    "La2Zr2O7",
    "LaMnO3_R3c",
    "LaMnO3_Pnma",
    "La2Ni0.5Li0.5O4",
    "Li2MnO3",
    "La2O3",
    "Li2CO3",
]
HOSTS_LCO = {"LLZTO_cubic", "LiCoO2"}


def _ideal_significance(library, fractions, pid, **kw):
    """The truth's definition (sample_data/generate.py): amplitude / esd with the exact band shapes,
    a Chebyshev background of 8 terms and Poisson weights of the expected counts."""
    quiet = dict(kw, noise=False, background=0.0)
    singles = {p: simulate_raman(library, {p: 1.0}, **quiet).y for p in fractions}
    total = simulate_raman(library, fractions, **quiet).y
    a = np.column_stack(list(singles.values()))
    coef = np.linalg.lstsq(a, total, rcond=None)[0]
    expected = simulate_raman(library, fractions, **dict(kw, noise=False)).y
    basis = chebyshev.chebvander(np.linspace(-1.0, 1.0, expected.size), 7)
    m = np.column_stack([*(c * v for c, v in zip(coef, singles.values(), strict=True)), basis])
    norm = np.linalg.norm(m, axis=0)
    m = m / norm
    cov = np.linalg.pinv(m.T @ (m / np.maximum(expected, 1.0)[:, None]))
    j = list(fractions).index(pid)
    return float(norm[j] / math.sqrt(cov[j, j]))


def _asymmetric(library, fractions, asym, seed):
    """A spectrum whose phases' bands are split pseudo-Voigts (asymmetry per phase), with Poisson noise."""
    x = np.arange(100.0, 1200.5, 1.0)
    signal = np.zeros_like(x)
    for pid, wt in fractions.items():
        for b in library.raman_bands(pid):
            signal += (
                wt * b.rel_intensity * split_pseudo_voigt(x, b.position, b.fwhm, 0.7, asym.get(pid, 0.0))
            )
    signal *= 5000.0 / signal.max()
    background = 400.0 * (1.0 + ((x - 100.0) / 1100.0) ** 1.5)
    y = np.random.default_rng(seed).poisson(signal + background).astype(float)
    return Scan(x=x, y=y, kind="raman")


def _secondaries_detected(fit, hosts):
    return [p.id for p in fit if p.detected and p.id not in hosts]


# ----------------------------------------------------------------------------------------------- detection
@pytest.mark.parametrize("seed", [1, 2])
def test_band_on_a_host_flank_is_detected_at_a_few_wt_percent(library, seed):
    # Li2MnO3's strongest band (612 cm⁻¹) sits on the flank of the spinel host's 600/637 cm⁻¹ bands
    scan = simulate_raman(
        library, {"LNMO_Fd3m": 50, "LLZTO_cubic": 47, "Li2MnO3": 3}, efficiency={"Li2MnO3": 5}, seed=seed
    )
    fit = fit_raman(scan, library, LNMO)
    p = fit["Li2MnO3"]
    assert p.detected is True and p.status == "detected"
    assert p.significance > DETECTION_SIGMA and p.unique_significance > 5
    assert abs(p.shift) < 2 and 0.85 < p.width_scale < 1.15
    # the same pellet without it: nothing but the hosts
    control = fit_raman(
        simulate_raman(library, {"LNMO_Fd3m": 50, "LLZTO_cubic": 50}, seed=seed), library, LNMO
    )
    assert _secondaries_detected(control, {"LNMO_Fd3m", "LLZTO_cubic"}) == []
    assert control["Li2MnO3"].detected is False


def test_pyrochlore_between_garnet_bands_is_detected(library):
    scan = simulate_raman(
        library, {"LLZTO_cubic": 58, "LiCoO2": 40, "La2Zr2O7": 2}, efficiency={"La2Zr2O7": 10}, seed=3
    )
    fit = fit_raman(scan, library, LCO)
    assert _secondaries_detected(fit, HOSTS_LCO) == ["La2Zr2O7"]
    assert 300 < fit["La2Zr2O7"].bands[0] < 308


def test_single_band_phase_is_detected_when_its_band_is_there(library):
    # Li2CO3: one strong band (1090 cm⁻¹), here shifted by 5 cm⁻¹; 0.3 wt % of a strong scatterer
    fr = {"LLZTO_cubic": 60, "LiCoO2": 39.7, "Li2CO3": 0.3}
    fit = fit_raman(
        simulate_raman(library, fr, efficiency={"Li2CO3": 20}, band_shift={"Li2CO3": 5}, seed=4), library, LCO
    )
    p = fit["Li2CO3"]
    assert p.detected is True
    assert 3.5 < p.shift < 6.5
    assert any(abs(b - 1095) < 1.5 for b in p.bands)


def test_detection_tracks_the_ideal_significance(library):
    # the truth calls a phase seen when its ideal significance is >= 10: far below, not detected; far above, yes
    results = []
    for wt in (0.005, 0.02, 0.08):
        fr = {"LLZTO_cubic": 60, "LiCoO2": 40 - wt, "Li2CO3": wt}
        kw = {"efficiency": {"Li2CO3": 20}, "seed": 11}
        ideal = _ideal_significance(library, fr, "Li2CO3", **kw)
        p = fit_raman(simulate_raman(library, fr, **kw), library, LCO)["Li2CO3"]
        results.append((ideal, p.significance, p.detected))
    (i0, z0, d0), (i1, z1, d1), (i2, z2, d2) = results
    assert i0 < 3 and not d0
    assert i1 < 7 and not d1
    assert i2 > 15 and d2
    assert abs(z2 / i2 - 1) < 0.25  # the fitted significance is of the ideal's size


# ----------------------------------------------------------------------------------------------- no false positives
def test_absent_candidates_are_not_detected_with_shifted_and_broadened_hosts(library):
    scan = simulate_raman(
        library,
        {"LLZTO_cubic": 60, "LiCoO2": 40},
        band_shift={"LLZTO_cubic": 7, "LiCoO2": -6},
        width_scale=1.4,
        seed=5,
    )
    fit = fit_raman(scan, library, LCO)
    assert set(fit.detected) == HOSTS_LCO
    assert 6 < fit["LLZTO_cubic"].shift < 8 and -7 < fit["LiCoO2"].shift < -5
    assert 1.3 < fit["LLZTO_cubic"].width_scale < 1.5
    for pid in ("La2Zr2O7", "LaCoO3", "Co3O4", "La2O3", "Li2CO3"):
        assert fit[pid].detected is False, pid
        assert fit[pid].reason


@pytest.mark.parametrize("seed", [1, 2])
def test_absent_candidates_do_not_soak_up_asymmetric_host_bands(library, seed):
    scan = _asymmetric(
        library, {"LLZTO_cubic": 60, "LiCoO2": 40}, {"LLZTO_cubic": 0.25, "LiCoO2": -0.25}, seed
    )
    fit = fit_raman(scan, library, LCO)
    assert set(fit.detected) == HOSTS_LCO


def test_a_cosmic_spike_does_not_make_a_phase(library):
    base = simulate_raman(library, {"LLZTO_cubic": 60, "LiCoO2": 40}, seed=7)
    y = np.array(base.y)
    i = int(np.searchsorted(base.x, 1090.0))
    y[i] += 900.0
    y[i + 1] += 500.0  # a two-pixel spike right on the Li2CO3 band
    spiky = Scan(x=base.x, y=y, kind="raman", meta=base.meta)
    fit = fit_raman(spiky, library, LCO)
    assert fit.n_spikes >= 2 and not fit.weight_mask[i] and not fit.weight_mask[i + 1]
    assert fit["Li2CO3"].detected is False
    # without despiking the spike is taken for the carbonate band
    raw = fit_raman(spiky, library, LCO, config=RamanFitConfig(despike=False))
    assert raw.n_spikes == 0 and raw["Li2CO3"].detected is True


def test_non_poisson_intensities_use_the_robust_noise(library):
    # a CCD spectrum: gain 3, read noise, rescaled to non-integers by the vendor software
    rng = np.random.default_rng(3)
    for fr, expect in (
        ({"LLZTO_cubic": 58, "LiCoO2": 40, "La2Zr2O7": 2}, {"La2Zr2O7"}),
        ({"LLZTO_cubic": 60, "LiCoO2": 40}, set()),
    ):
        lam = np.asarray(simulate_raman(library, fr, efficiency={"La2Zr2O7": 10}, noise=False, seed=1).y)
        y = 1.37 * (3.0 * rng.poisson(lam / 3.0) + rng.normal(0.0, 10.0, lam.size))
        fit = fit_raman(Scan(x=np.arange(100.0, 1200.5, 1.0), y=y, kind="raman"), library, LCO)
        assert fit.noise_method == "mad"
        assert 0.7 < fit.gof < 1.5
        assert set(_secondaries_detected(fit, HOSTS_LCO)) == expect


# ----------------------------------------------------------------------------------------------- untestable, twins
def test_raman_silent_and_unreferenced_phases_are_not_testable(library):
    fit = fit_raman(simulate_raman(library, {"LLZTO_cubic": 60, "LiCoO2": 40}, seed=8), library, LCO)
    for pid in ("CoO", "MgO"):
        assert fit[pid].detected is None and fit[pid].status == "not testable"
        assert "Raman-silent" in fit[pid].reason
    assert fit["Li6Zr2O7"].detected is None and "no reference" in fit["Li6Zr2O7"].reason
    # a phase whose bands all lie outside the window
    narrow = simulate_raman(library, {"LLZTO_cubic": 1.0}, shift_range=(100.0, 700.0), seed=8)
    assert fit_raman(narrow, library, ["LLZTO_cubic", "Li2CO3"])["Li2CO3"].detected is False  # 156/192 inside
    assert fit_raman(narrow, library, ["LLZTO_cubic", "LiOH"])["LiOH"].status == "not testable"


def test_indistinguishable_phases_are_reported_as_such(library):
    present = simulate_raman(
        library, {"LLZTO_cubic": 58, "LiCoO2": 40, "LaNiO3": 2}, efficiency={"LaNiO3": 10}, seed=2
    )
    fit = fit_raman(present, library, LCO)
    # one broad band near 680 cm⁻¹: the first of the LaMO3 twins in candidate order stands for them
    assert fit["LaCoO3"].detected is True and set(fit["LaCoO3"].alternatives) == {"LaNiO3", "LaMnO3_R3c"}
    for pid in ("LaNiO3", "LaMnO3_R3c"):
        assert fit[pid].detected is None and fit[pid].status == "indistinguishable"
        assert fit[pid].twin_of == "LaCoO3"
    absent = fit_raman(simulate_raman(library, {"LLZTO_cubic": 60, "LiCoO2": 40}, seed=2), library, LCO)
    for pid in ("LaCoO3", "LaNiO3", "LaMnO3_R3c"):
        assert absent[pid].detected is False
    # LLZTO is told from LLZO by its Ta-O band near 748 cm⁻¹
    assert fit["LLZTO_cubic"].detected is True and fit["LLZO_cubic"].status != "indistinguishable"


# ----------------------------------------------------------------------------------------------- result, errors
def test_result_is_complete_and_json_ready(library):
    scan = simulate_raman(library, {"LLZTO_cubic": 60, "LiCoO2": 40}, seed=9)
    fit = fit_raman(scan, library, [*LCO, "LiCoO2"])  # a duplicate is ignored
    assert [p.id for p in fit] == LCO
    assert np.allclose(fit.calculated + fit.residual, fit.y)
    assert set(fit.contributions) == HOSTS_LCO
    assert fit.noise_method == "counts" and 0.8 < fit.gof < 1.3 and fit.background_terms == 8
    doc = json.loads(json.dumps(fit.to_dict(arrays=True)))
    assert len(doc["x"]) == len(doc["residual"]) == fit.x.size
    rec = next(p for p in doc["phases"] if p["id"] == "LLZTO_cubic")
    assert rec["detected"] is True and rec["significance"] > 100 and rec["esd_full"] >= rec["esd"] > 0
    for p in fit:
        if p.status != "not testable":
            assert math.isfinite(p.significance) and (p.detected is None or p.esd > 0)


def test_errors(library):
    xrd = Scan(x=np.linspace(10.0, 80.0, 500), y=np.full(500, 100.0), kind="xrd")
    with pytest.raises(TechniqueMismatchError):
        fit_raman(xrd, library, ["LLZTO_cubic"])
    short = simulate_raman(library, {"LLZTO_cubic": 1.0}, shift_range=(100.0, 110.0), seed=1)
    with pytest.raises(Exception, match="points in the fitted window"):
        fit_raman(short, library, ["LLZTO_cubic"])
    with pytest.raises(Exception, match="width_bounds"):
        RamanFitConfig(width_bounds=(1.5, 2.0))


def test_series_task_reports_the_fit(library):
    from phasetrace.series import tasks

    scan = simulate_raman(
        library, {"LLZTO_cubic": 58, "LiCoO2": 40, "La2Zr2O7": 2}, efficiency={"La2Zr2O7": 10}, seed=3
    )
    out = tasks._raman(scan, library, ["LLZTO_cubic", "LiCoO2", "La2Zr2O7", "LaCoO3", "LaNiO3", "MgO"])
    by = {p["id"]: p for p in out["phases"]}
    assert out["success"] is True
    assert by["La2Zr2O7"]["detected"] is True and by["La2Zr2O7"]["status"] == "detected"
    assert by["La2Zr2O7"]["significance"] > DETECTION_SIGMA
    assert by["LaCoO3"]["detected"] is False and by["LaNiO3"]["detected"] is False
    assert by["MgO"]["detected"] is None and by["MgO"]["status"] == "not testable"
    assert by["LaNiO3"]["twin_of"] == "LaCoO3" and "score" not in by["LLZTO_cubic"]
    json.dumps(out)
    # a spectrum that cannot be fitted: every phase untestable, with the reason
    short = simulate_raman(library, {"LLZTO_cubic": 1.0}, shift_range=(100.0, 110.0), seed=1)
    bad = tasks._raman(short, library, ["LLZTO_cubic", "MgO"])
    assert bad["success"] is False and all(p["detected"] is None for p in bad["phases"])


# ----------------------------------------------------------------------------------------------- real spectra
@pytest.mark.realdata
def test_real_spectrum_with_a_cosmic_spike(library, real):
    from phasetrace.io import load

    # silicon (520 cm⁻¹), integer CCD counts, a two-pixel cosmic ray near 199 cm⁻¹
    scan = load(real("raman/formats/ramanchada2/PrincetonInstruments/S0N_50x.spe"))
    fit = fit_raman(scan, library, LCO)
    assert fit.noise_method == "counts"
    spikes = fit.x[~fit.weight_mask]
    assert spikes.size >= 2 and np.all(np.abs(spikes - 199.0) < 3.0)
    assert all(math.isfinite(p.significance) for p in fit)
    assert np.all(np.isfinite(fit.calculated)) and math.isfinite(fit.gof)
    assert fit.detected == []  # none of the library phases is in a silicon wafer


@pytest.mark.realdata
def test_real_spectrum_with_fluorescence_and_vendor_scaling(library, real):
    from phasetrace.io import load

    scan = load(real("raman/reference/rruff/Anatase__R060277__Broad_Scan__Raman_Data_RAW__21346.txt"))
    fit = fit_raman(scan, library, LNMO)
    assert fit.noise_method == "mad" and fit.x[0] >= 80.0
    assert fit.background_terms == 20 and fit.x.size > 1500
    assert all(math.isfinite(p.significance) and math.isfinite(p.amplitude) for p in fit)
    assert np.all(np.isfinite(fit.residual))
    json.dumps(fit.to_dict())
