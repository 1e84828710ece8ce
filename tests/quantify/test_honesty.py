"""Honest answers (issue 14): minor phases beside overlapping majors, detection limits, poor-fit flags."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasetrace.quantify import quantify
from phasetrace.quantify.residual import POOR_MESSAGE, read_residual
from phasetrace.simulate import Instrument, simulate_xrd

from ..conftest import real_file

WIDE = Instrument(u=0.005, v=-0.0015, w=0.003, eta=0.6, asymmetry=0.05)
#: A structure outside the bundled library (rutile), read in place from the shared real data.
RUTILE = "cif/autoXRD_LiMnTiOF/TiO2_136.cif"


def _select(scan, library, system):
    """What ``fit --system`` runs: the pipeline's candidate pool and selection."""
    from phasetrace.quantify.candidates import quantify_scan

    return quantify_scan(scan, system=system, library=library)


def test_rock_salt_pair_is_not_absorbed_into_one_phase(library):
    """NiO + MgO 65 : 31 came out as 97 % NiO at an expanded cell; both are resolvable and fitted."""
    truth = {"NiO": 65.0, "MgO": 31.0, "La2Zr2O7": 4.0}
    scan = simulate_xrd(
        library, truth, seed=11, instrument=WIDE, crystallite_size_nm=120.0, displacement_um=30.0
    )
    pool = ["NiO", "MgO", "CoO", "LiNiO_rocksalt", "La2Zr2O7", "Li2CO3", "La2O3"]
    r = quantify(scan, None, library=library, candidates=pool)
    found = {p.id: p.wt_percent for p in r.phases if p.detected}
    assert set(found) == {"NiO", "MgO", "La2Zr2O7"}, r.selection
    assert found["NiO"] == pytest.approx(65.0, abs=5.0)
    assert found["MgO"] == pytest.approx(31.0, abs=5.0)
    # each keeps its own cell (within its allowed strain), not a compromise between the two
    assert r["NiO"].cell["a"] == pytest.approx(4.1771, rel=0.002)
    assert r["MgO"].cell["a"] == pytest.approx(4.2112, rel=0.002)


def test_a_single_rock_salt_gets_no_twin(library):
    """The pair test must not split one strained phase into two."""
    scan = simulate_xrd(
        library, {"NiO": 96.0, "La2Zr2O7": 4.0}, seed=5, instrument=WIDE, lattice_scale={"NiO": 1.004}
    )
    r = quantify(scan, None, library=library, candidates=["NiO", "MgO", "CoO", "La2Zr2O7"])
    assert sorted(p.id for p in r.phases if p.detected) == ["La2Zr2O7", "NiO"]


def test_sample_data_lacoo3_is_found_by_the_automatic_fit(library):
    """`fit --system` said LaCoO3 "not detected, < 0.07 wt %"; it is 0.9 wt % and 23σ in the model."""
    import phasetrace

    scan = phasetrace.load("sample_data/pc-LCO + LLZTO-700.xrdml")
    r = _select(scan, library, "pc-LCO + LLZTO")
    assert r["LaCoO3"].detected, r.selection
    assert r["LaCoO3"].wt_percent == pytest.approx(0.9, abs=0.3)
    assert not r.poor_fit


@pytest.mark.parametrize("factor, detected", [(0.4, False), (2.5, True)])
def test_detection_limit_means_what_it_says(library, factor, detected):
    """A candidate well below its reported limit is not found, one well above it is."""
    base = {"LiCoO2": 50.0, "LLZO_cubic": 50.0}
    kw = {"seed": 21, "instrument": WIDE, "crystallite_size_nm": {"LiCoO2": 150.0, "LLZO_cubic": 150.0,
                                                                   "LaCoO3": 60.0}}
    pool = ["LLZO_cubic", "LiCoO2", "LaCoO3", "La2Zr2O7", "Li2CO3"]
    clean = quantify(simulate_xrd(library, base, **kw), None, library=library, candidates=pool)
    lod = clean["LaCoO3"].lod_wt_percent
    assert not clean["LaCoO3"].detected and 0.05 < lod < 5.0
    mix = {**base, "LaCoO3": factor * lod}
    r = quantify(simulate_xrd(library, mix, **kw), None, library=library, candidates=pool)
    assert r["LaCoO3"].detected is detected, (lod, r.selection)


def test_residual_lists_an_unexplained_peak():
    x = np.arange(10.0, 80.0, 0.01)
    bg = np.full_like(x, 200.0)
    peak = 3000.0 * np.exp(-0.5 * ((x - 36.0) / 0.05) ** 2)
    rng = np.random.default_rng(1)
    y = rng.poisson(bg + peak).astype(float)
    q = read_residual(x, y, bg, bg, 1.0 / np.maximum(y, 1.0), 1.540598, rwp=0.2, rexp=0.05, gof=4.0)
    assert q.poor and len(q.peaks) == 1
    pk = q.peaks[0]
    assert pk.two_theta == pytest.approx(36.0, abs=0.02)
    assert pk.d == pytest.approx(1.540598 / (2 * np.sin(np.radians(18.0))), rel=1e-3)
    assert pk.share == pytest.approx(1.0, abs=0.1)
    # the same pattern, explained: nothing listed, not poor
    q2 = read_residual(x, y, bg + peak, bg, 1.0 / np.maximum(y, 1.0), 1.540598, rwp=0.05, rexp=0.05, gof=1.0)
    assert not q2.poor and not q2.peaks


def test_a_phase_outside_the_library_is_flagged(library):
    """A single-phase pattern of rutile (not in the library) must not read "LiOH 100 %"."""
    from phasetrace.library.phases import PhaseLibrary

    cif = real_file(RUTILE)
    sim = PhaseLibrary.default(include_user=False, extra=[str(cif)])
    scan = simulate_xrd(sim, {"TiO2_136": 100.0}, seed=4, instrument=WIDE)
    r = _select(scan, library, "LMO + LLZO")
    assert r.poor_fit and r.flag == "poor"
    assert all(p.wt_percent < 90.0 for p in r.phases if p.detected)
    doc = r.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["flag"] == "poor" and POOR_MESSAGE in doc["quality"]["message"]
    positions = [p["two_theta"] for p in doc["quality"]["unexplained_peaks"]]
    assert any(abs(t - 27.45) < 0.15 for t in positions)  # rutile (110)
    text = r.report()
    assert "poor fit: unexplained peaks at" in text and "± 0.00" not in text


def test_fit_statistics_and_flag_in_every_result(library):
    scan = simulate_xrd(library, {"LLZO_cubic": 90.0, "La2Zr2O7": 10.0}, seed=8, instrument=WIDE)
    doc = quantify(scan, ["LLZO_cubic", "La2Zr2O7"], library=library).to_dict()
    for key in ("rwp", "rexp", "gof", "flag", "quality"):
        assert key in doc
    assert doc["flag"] == "ok" and doc["quality"]["unexplained_peaks"] == []
    assert all(p["reliable"] for p in doc["phases"])


@pytest.mark.parametrize(
    "relpath, elements, extra",
    [
        ("xrd/measured/autoXRD/LiMnO2.xy", "Li,Mn,O", None),
        # with tenorite added as a user phase (the manganese oxides stay unexplained)
        ("xrd/measured/dara_binary_reactions/CuO-MnO_800C_60min.xrdml", "Cu,Mn,O", "cif/gsas2-tutorials/CuO.cif"),
    ],
)
def test_real_scans_the_library_cannot_explain_are_flagged(library, relpath, elements, extra):
    """Real files reported "100.00 ± 0.00, detected" with GoF 3.75 and 6.7 and large difference peaks."""
    import warnings

    import phasetrace
    from phasetrace.library.phases import PhaseLibrary

    path = real_file(relpath)
    lib = PhaseLibrary.default(include_user=False, extra=[str(real_file(extra))]) if extra else library
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = phasetrace.load(path, kind="xrd")
    pool = [p.id for p in lib.select(elements=set(elements.split(",")))]
    r = quantify(scan, None, library=lib, candidates=pool)
    assert r.poor_fit
    assert len(r.quality.peaks) >= 3
    assert "100.00" not in r.report()
    assert all(p.wt_percent < 90.0 for p in r.phases if p.detected)


TENORITE = "cif/gsas2-tutorials/CuO.cif"


@pytest.mark.parametrize("present", [False, True])
def test_a_phase_fitted_onto_a_strangers_peaks_is_not_detected(library, present):
    """LiOH soaked up tenorite's peaks (CuO, outside the library) at 4 wt % while its own reflections,
    predicted at its refined cell, were absent: it is not detected, and tenorite's peaks are left to
    the residual as unexplained. The same LiOH, really there at 4 wt %, is found."""
    from phasetrace.library.phases import PhaseLibrary

    sim = PhaseLibrary.default(include_user=False, extra=[str(real_file(TENORITE))])
    truth = {"LiCoO2": 58.0, "LLZO_cubic": 27.0, **({"LiOH": 4.0} if present else {"CuO": 15.0})}
    scan = simulate_xrd(sim, truth, seed=18, instrument=WIDE, crystallite_size_nm=120.0)
    r = _select(scan, library, "LCO + LLZO")
    found = {p.id for p in r.phases if p.detected}
    if present:
        assert "LiOH" in found and r["LiOH"].wt_percent == pytest.approx(4.0, abs=1.0)
    else:
        assert found == {"LiCoO2", "LLZO_cubic"}, r.selection
        assert r.poor_fit
        assert any(abs(p.two_theta - 35.5) < 0.3 for p in r.quality.peaks)  # tenorite's strongest


def _gauss(x, c, h, s=0.05):
    return h * np.exp(-0.5 * ((x - c) / s) ** 2)


def test_a_modelled_reflections_misfit_is_not_unexplained_but_a_strangers_peak_beside_it_is():
    """A residual that the modelled phase can take over with a local change of intensity, position or
    width is its misfit; a peak 0.3° beside a strong reflection (below half of it, so the old
    criterion 'large against the Bragg intensity within reach' missed it) is unexplained."""
    x = np.arange(20.0, 60.0, 0.01)
    bg = np.full_like(x, 100.0)
    model = _gauss(x, 36.0, 20000.0) + _gauss(x, 48.0, 8000.0)
    rng = np.random.default_rng(3)
    # the data: the reflection at 36° 25 % stronger and shifted by 0.01°, and a stranger's peak at 36.3°
    truth = 1.25 * _gauss(x, 36.01, 20000.0) + _gauss(x, 48.0, 8000.0) + _gauss(x, 36.3, 4000.0)
    y = rng.poisson(bg + truth).astype(float)
    w = 1.0 / np.maximum(y, 1.0)
    q = read_residual(x, y, bg + model, bg, w, 1.540598, rwp=0.1, rexp=0.05, gof=3.0, curves=model[:, None])
    positions = [p.two_theta for p in q.peaks]
    assert any(abs(t - 36.3) < 0.03 for t in positions), positions
    assert not any(abs(t - 36.0) < 0.1 for t in positions), positions
    # without the stranger, the misfit alone leaves nothing unexplained
    y2 = rng.poisson(bg + truth - _gauss(x, 36.3, 4000.0)).astype(float)
    w2 = 1.0 / np.maximum(y2, 1.0)
    q2 = read_residual(x, y2, bg + model, bg, w2, 1.540598, rwp=0.1, rexp=0.05, gof=3.0, curves=model[:, None])
    assert not q2.peaks, [p.two_theta for p in q2.peaks]


def test_the_misfit_gof_ignores_a_strangers_peaks():
    """Evidence is scaled by the misfit of the modelled reflections, not by a stranger's peaks."""
    from phasetrace.quantify.residual import misfit_gof2

    x = np.arange(20.0, 60.0, 0.01)
    bg = np.full_like(x, 100.0)
    model = _gauss(x, 36.0, 20000.0)
    rng = np.random.default_rng(5)
    y = rng.poisson(bg + model + _gauss(x, 44.0, 6000.0)).astype(float)
    w = 1.0 / np.maximum(y, 1.0)
    plain = float(np.sum(w * (y - bg - model) ** 2)) / (x.size - 3)
    assert plain > 10.0
    assert misfit_gof2(x, y, bg + model, bg, w, 3, model[:, None]) == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("present", [False, True])
def test_a_resolved_shoulder_is_evidence_a_neighbours_intensity_error_is_not(present):
    """Li2O's lines beside a garnet never dominate the calculated pattern; with the neighbour's local
    intensity free, a resolved peak 0.15° beside it still counts, and a neighbour merely 20 % stronger
    than modelled does not make a candidate sitting on it."""
    from phasetrace.quantify.missing import resolved_significance

    x = np.arange(30.0, 40.0, 0.01)
    bg = np.full_like(x, 100.0)
    neighbour = _gauss(x, 33.85, 8000.0) + _gauss(x, 38.0, 5000.0)
    cand = _gauss(x, 33.70, 1.0) + _gauss(x, 38.0, 0.6)  # one resolved line, one on the neighbour's
    rng = np.random.default_rng(9)
    truth = 1.2 * neighbour + (300.0 * cand if present else 0.0)
    y = rng.poisson(bg + truth).astype(float)
    w = 1.0 / np.maximum(y, 1.0)
    t = resolved_significance(x, y - bg, w, neighbour[:, None], cand, np.array([33.70, 38.0]), 1.0)
    if present:
        assert t > 10.0
    else:
        assert abs(t) < 3.0


def _honesty_mixture(index):
    """Mixture ``index`` of the honesty benchmark's validation set (simulated with phases outside the library)."""
    from benchmarks import honesty
    from phasetrace.library.phases import PhaseLibrary

    lib = PhaseLibrary.default(include_user=False)
    lib_sim, outside = honesty.outside_library(lib)
    if not outside:
        pytest.skip(f"outside-library CIFs not found under {honesty.CIF_DIR}")
    mix = honesty.make_mixtures(lib, lib_sim, outside, index + 1)[index]
    scan = simulate_xrd(lib_sim, mix["wt"], **mix["kw"], seed=mix["seed"], sample=f"mixture {index}")
    return lib, mix, scan


@pytest.mark.slow
def test_a_detection_resting_on_one_strangers_peak_is_not_a_detection():
    """Honesty mixture 8 (NMC622, LLZO, LaCoO3 1.0 wt %, tenorite 12.5 wt % outside the library):
    LaMnO3 (Pnma) was detected at 0.2 wt %, its cell strained onto tenorite's 32.5° peak, the one
    reflection group that carried it; its other strong reflections, 4.3 standard errors in all, were
    absent but below the missing-reflection test's gate. LaCoO3, really there, stays."""
    lib, mix, scan = _honesty_mixture(8)
    r = _select(scan, lib, mix["system"])
    found = {p.id for p in r.phases if p.detected}
    assert "LaMnO3_Pnma" not in found, r.selection
    assert {"NMC622", "LLZO_cubic", "LaCoO3"} <= found, r.selection


@pytest.mark.slow
def test_a_swap_must_not_trade_a_phase_for_one_fitted_on_a_strangers_peaks():
    """Honesty mixture 23 (LiOH·H2O 1.9 wt % beside NMC111, LLZTO and tenorite outside the library):
    LiOH·H2O was added, then swapped for LiOH (same family) which gained more chi² on tenorite's
    peaks, and LiOH then failed the missing-reflection test: both were lost. With NMC111 from Yin et
    al. the same happened through the close-lattice pair step: LiNiO2, fitted beside NMC111 on
    tenorite's peaks, pushed LiOH·H2O out in the overfit test and then failed the missing-reflection
    test itself. A phase swapped in or added as a pair must show its own pattern like one that is added."""
    lib, mix, scan = _honesty_mixture(23)
    r = _select(scan, lib, mix["system"])
    assert r["LiOH_H2O"].detected, r.selection
    assert not any(s["action"] == "swap" and s["for"] == "LiOH" for s in r.selection), r.selection


@pytest.mark.slow
def test_a_minor_phase_whose_cell_was_strained_onto_a_strangers_peaks_is_tested_at_its_own():
    """Honesty mixture 38 (LiOH 1.1 wt % beside NMC622, LLZO and rutile outside the library): the grid
    search strained LiOH's cell by -0.7 % onto rutile's 101, 220 and 002, where it showed no unique
    reflection (2.2 standard errors) and was rejected; near its reference cell its own 001 and 101
    carry it."""
    lib, mix, scan = _honesty_mixture(38)
    r = _select(scan, lib, mix["system"])
    assert r["LiOH"].detected, r.selection
    assert r["LiOH"].wt_percent == pytest.approx(1.1, abs=0.5)
    assert abs(r["LiOH"].cell_scale - 1.0) < 0.005  # near its reference cell, not strained onto rutile


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("sample", ["1E", "1G"])
def test_no_phase_is_detected_on_the_misfit_of_other_phases_reflections(sample):
    """CPD-1E and 1G hold weighed corundum, fluorite and zincite only. The automatic selection found
    MgO at 0.36-0.47 wt %: its evidence was its 200 and 220 on the low-angle flanks of corundum 113
    and zincite 103 (35 and 130 times higher), where the measured peaks keep more intensity than the
    profile model; its other reflections showed nothing. With the neighbours' local intensity, shift
    and width free there (the residual reading's misfit), it is no longer significant."""
    import phasetrace
    from phasetrace.library.phases import PhaseLibrary
    from phasetrace.quantify.candidates import quantify_scan

    path = real_file(f"xrd/qpa/cpd-roundrobin/CPD-{sample}.xye")
    lib = PhaseLibrary.default(include_user=False, extra=[str(real_file("cif/cpd-roundrobin"))])
    scan = phasetrace.load(path)
    r = quantify_scan(scan, elements="Al,Ca,F,Zn,O", library=lib)
    found = {p.id for p in r.phases if p.detected}
    assert "MgO" not in found, r.selection
    # the three weighed phases stay (corundum as the user's CIF or the bundled Al2O3, its twin)
    assert {"fluorite", "zincite"} <= found and found & {"corundum", "Al2O3"}, found


#: The round-robin phases, read in place from the shared real data (the bundled library lacks fluorite and zincite).
CPD_CIFS = "cif/cpd-roundrobin"
CPD_TRUTH = {"corundum": 31.4, "fluorite": 34.4, "zincite": 34.2}
CPD_POOL = ["corundum", "fluorite", "zincite", "MgO", "LiOH", "Li2CO3"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_a_shoulder_beside_every_reflection_is_not_a_phase(seed):
    """The CPD mixture simulated with an unmodelled low-angle shoulder beside every reflection (4 % of
    its height, 0.15° lower: what the measured scans keep beside their strong lines). MgO, strained by
    -0.6 %, put its 200 and 220 on the shoulders of corundum 113 and zincite 103 and was detected at
    0.25 wt %; the same shoulder beside the phases' other reflections shows it is their misfit."""
    import dataclasses

    from phasetrace.library.phases import PhaseLibrary

    lib = PhaseLibrary.default(include_user=False, extra=[str(real_file(CPD_CIFS))])
    clean = simulate_xrd(lib, CPD_TRUTH, noise=False, crystallite_size_nm=100.0)
    x, y = np.asarray(clean.x), np.asarray(clean.y)
    y = y + 0.04 * (np.interp(x + 0.15, x, y) - y.min())
    scan = dataclasses.replace(clean, y=np.random.default_rng(seed).poisson(y).astype(float))
    r = quantify(scan, None, library=lib, candidates=CPD_POOL)
    assert {p.id for p in r.phases if p.detected} == set(CPD_TRUTH), r.selection


@pytest.mark.slow
def test_a_real_weak_phase_on_a_neighbours_flank_is_still_found():
    """MgO really there at 0.45 wt %, its cell 0.5 % small: its 200, the only reflection carrying it, sits
    0.2° below corundum 113 (20 times higher), where a shoulder would be. Without the shoulder beside
    corundum's other reflections it is the phase's own peak, and found."""
    from phasetrace.library.phases import PhaseLibrary

    lib = PhaseLibrary.default(include_user=False, extra=[str(real_file(CPD_CIFS))])
    truth = {"corundum": 31.0, "fluorite": 34.0, "zincite": 34.55, "MgO": 0.45}
    scan = simulate_xrd(lib, truth, seed=7, lattice_scale={"MgO": 0.995}, crystallite_size_nm=100.0)
    r = quantify(scan, None, library=lib, candidates=CPD_POOL)
    assert r["MgO"].detected, r.selection
    assert r["MgO"].wt_percent == pytest.approx(0.45, abs=0.15)
    (top, *_) = r["MgO"].evidence
    assert top["hkl"] == [[2, 0, 0]] and abs(top["two_theta"] - 43.15) < 0.05
