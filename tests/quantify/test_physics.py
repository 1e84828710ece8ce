"""Fit physics of issue 13: per-phase B, the second-stage rule, texture search, instrument description."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from phasetrace.quantify import QuantConfig
from phasetrace.quantify.fit import (
    SAMPLE_TERMS_MIN_WT,
    fit_pattern,
    refine_sample_terms,
    weight_percent,
)
from phasetrace.quantify.instrument import (
    Instrument,
    InstrumentError,
    instrument_from_dict,
    load_instrument,
    metadata_instrument,
)
from phasetrace.quantify.model import PhaseModel, phase_pattern
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

LAMS, WTS = (CU_KALPHA.kalpha1, CU_KALPHA.kalpha2), (1.0, CU_KALPHA.ratio)
PROFILE = {
    "u": 0.003,
    "v": -0.001,
    "w": 0.002,
    "size_x": 0.03,
    "strain_y": 0.01,
    "eta": 0.5,
    "zero": 0.0,
    "displacement": 0.0,
}


def _synthetic(library, parts, *, x=(10.0, 140.0), step=0.01, seed=0, texture=None):
    """A scan summed from phase_pattern columns: ``parts`` = {pid: (scale, b_delta)}; Poisson noise."""
    xs = np.arange(x[0], x[1] + step / 2, step)
    y = np.full(xs.size, 200.0)
    models = []
    for pid, (scale, b) in parts.items():
        refl = library.reflections(pid, d_min=0.7)
        axis = (texture or {}).get(pid, (None, 1.0))
        m = PhaseModel.build(pid, refl, (xs[0], xs[-1]), LAMS, texture_axis=axis[0])
        y += scale * phase_pattern(
            xs, m, wavelengths=LAMS, weights=WTS, radius_mm=240.0, b_delta=b, texture_r=axis[1], **PROFILE
        )
        models.append(PhaseModel.build(pid, refl, (xs[0], xs[-1]), LAMS))
    y = np.random.default_rng(seed).poisson(y).astype(float)
    scan = Scan(x=xs, y=y, kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="synthetic"))
    return scan, models


def test_b_delta_damps_by_debye_waller(library):
    refl = library.reflections("MgO")
    x = np.arange(30.0, 140.0, 0.01)
    m = PhaseModel.build("MgO", refl, (30.0, 140.0), LAMS[:1])
    kw = dict(wavelengths=LAMS[:1], weights=(1.0,), radius_mm=240.0, **PROFILE)
    a0 = phase_pattern(x, m, **kw)
    a1 = phase_pattern(x, m, b_delta=1.0, **kw)
    # (200) at d = 2.106 Å: exp(-1/(2 d²)) = 0.893; (420) at 0.942 Å: 0.569
    for d, expect in ((2.106, 0.893), (0.9418, 0.569)):
        tt = 2 * np.degrees(np.arcsin(LAMS[0] / (2 * d)))
        i = np.argmin(np.abs(x - tt))
        assert a1[i] / a0[i] == pytest.approx(expect, rel=0.01)


def test_refined_b_recovers_a_stiff_and_a_soft_phase(library):
    """Two phases with B off by −0.3 and +0.6 Å²: the second stage finds both and the wt % is right."""
    scan, models = _synthetic(library, {"MgO": (0.04, -0.3), "NiO": (0.004, 0.6)})
    cfg = QuantConfig(texture_search=False)
    first = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg)
    second = refine_sample_terms(scan, first, cfg, [0.01, 0.01], [False, False])
    b = {m.id: p["b"] for m, p in zip(second.models, second.per_phase, strict=True)}
    assert b["MgO"] == pytest.approx(-0.3, abs=0.08)
    assert b["NiO"] == pytest.approx(0.6, abs=0.08)
    assert second.chi2 < first.chi2
    # the true scales: the second stage's scale ratio is right within 1 %, the first stage's is not
    true_ratio = 0.04 / 0.004
    assert second.scales[0] / second.scales[1] == pytest.approx(true_ratio, rel=0.01)
    assert abs(first.scales[0] / first.scales[1] / true_ratio - 1) > 0.02


def test_traces_keep_their_b(library):
    """A phase below SAMPLE_TERMS_MIN_WT gets no B parameter, however far its B is off."""
    scan, models = _synthetic(library, {"MgO": (0.05, 0.0), "NiO": (0.0004, 1.0)}, seed=3)
    cfg = QuantConfig(texture_search=False)
    first = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg)
    wt = weight_percent(first)
    assert wt[1] < SAMPLE_TERMS_MIN_WT
    second = refine_sample_terms(scan, first, cfg, [0.01, 0.01], [False, False])
    assert "NiO:b" not in second.names
    assert "MgO:b" in second.names


def test_texture_search_finds_plates_and_leaves_powders_alone(library):
    scan, models = _synthetic(
        library,
        {"LiCoO2": (0.05, 0.0), "MgO": (0.02, 0.0)},
        x=(15.0, 100.0),
        texture={"LiCoO2": ((0, 0, 1), 0.7)},
    )
    cfg = QuantConfig(refine_b=False, cell="isotropic")  # the texture search alone in the second stage
    first = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg)
    second = refine_sample_terms(scan, first, cfg, [0.01, 0.01], [False, False])
    assert second.searched_texture == {"LiCoO2": (0, 0, 1)}
    i = [m.id for m in second.models].index("LiCoO2")
    assert second.per_phase[i]["texture"] == pytest.approx(0.7, abs=0.03)
    # a random powder: no axis explains a tenth of chi²
    scan, models = _synthetic(library, {"LiCoO2": (0.05, 0.0), "MgO": (0.02, 0.0)}, x=(15.0, 100.0), seed=5)
    first = fit_pattern(scan, models, strains=[0.01, 0.01], config=cfg)
    assert refine_sample_terms(scan, first, cfg, [0.01, 0.01], [False, False]) is first


# ------------------------------------------------------------------ instrument description
def test_angle_factor_monochromator_and_slits():
    tt = np.array([20.0, 60.0, 90.0, 140.0])
    plain = Instrument()
    mono = Instrument(monochromator="diffracted", monochromator_2theta=26.6)
    assert mono.polarisation_k == pytest.approx(np.cos(np.radians(26.6)) ** 2)
    r = mono.angle_factor(tt) / plain.angle_factor(tt)
    k = mono.polarisation_k
    np.testing.assert_allclose(
        r, (1 + k * np.cos(np.radians(tt)) ** 2) / (1 + k) / ((1 + np.cos(np.radians(tt)) ** 2) / 2)
    )
    ads = Instrument(divergence="automatic", irradiated_length_mm=10.0)
    np.testing.assert_allclose(ads.angle_factor(tt) / plain.angle_factor(tt), np.sin(np.radians(tt / 2)))
    # fixed 1° slit, 240 mm radius, 20 mm sample: the beam overflows below 2θ ≈ 24°
    over = Instrument(divergence_deg=1.0, goniometer_radius_mm=240.0, sample_length_mm=20.0)
    f = over.angle_factor(tt) / plain.angle_factor(tt)
    assert f[0] == pytest.approx(20.0 * np.sin(np.radians(10.0)) / (240.0 * np.radians(1.0)))
    assert f[1:] == pytest.approx([1.0, 1.0, 1.0])


def test_instrument_file_round_trip_and_errors(tmp_path):
    from benchmarks import cpd

    inst = load_instrument(cpd.INSTRUMENT)
    assert inst.goniometer_radius_mm == 173 and inst.monochromator_2theta == 26.6
    assert inst.lines[0] == (1.540593, 1.0) and inst.lines[1][1] == 0.5
    again = tmp_path / "again.yaml"
    again.write_text(inst.to_yaml(), encoding="utf-8")
    back = load_instrument(again)
    assert dataclasses.replace(back, source="") == dataclasses.replace(inst, source="")
    bad = tmp_path / "bad.yaml"
    bad.write_text("goniometer_radius_mm: 5\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match="bad.yaml: implausible goniometer radius"):
        load_instrument(bad)
    with pytest.raises(InstrumentError, match="unknown keys colour"):
        instrument_from_dict({"colour": "blue"}, "x.yaml")
    with pytest.raises(InstrumentError, match="cannot read"):
        load_instrument(tmp_path / "missing.yaml")


def test_instrument_applies_radiation_and_reports(library):
    scan, _ = _synthetic(library, {"MgO": (0.05, 0.0)}, x=(30.0, 80.0))
    inst = Instrument(
        name="test",
        lines=((1.540593, 1.0), (1.544414, 0.5)),
        goniometer_radius_mm=173.0,
        monochromator_2theta=26.6,
        profile={"w": 0.003},
    )
    s2, cfg = inst.apply(scan, QuantConfig())
    assert s2.meta.radiation.kalpha1 == 1.540593 and s2.meta.radiation.source == "instrument"
    assert cfg.radius_mm == 173.0 and cfg.monochromator_2theta == 26.6 and cfg.w == 0.003
    from phasetrace.quantify import quantify

    res = quantify(scan, ["MgO"], QuantConfig(instrument=inst), library=library)
    assert res.to_dict()["instrument"]["name"] == "test"
    assert "instrument: test" in res.report()


def test_metadata_fills_what_the_file_leaves_open():
    meta = ScanMeta(
        extra={"goniometer_radius_mm": 145.0, "divergence_slit_deg": 0.5, "soller_incident_rad": 0.04}
    )
    inst = metadata_instrument(meta)
    assert inst.goniometer_radius_mm == 145.0 and inst.divergence_deg == 0.5
    assert inst.soller_incident_deg == pytest.approx(np.degrees(0.04))
    base = Instrument(name="file", goniometer_radius_mm=200.0)
    merged = metadata_instrument(meta, base)
    assert merged.goniometer_radius_mm == 200.0 and merged.divergence_deg == 0.5
    assert metadata_instrument(ScanMeta(), None) is None


def test_config_takes_a_description_or_a_path():
    """Series workers get the instrument as plain data (its dict) and rebuild it."""
    from benchmarks import cpd

    inst = load_instrument(cpd.INSTRUMENT)
    from_dict = QuantConfig(instrument=inst.to_dict()).instrument
    assert isinstance(from_dict, Instrument) and from_dict.lines == inst.lines
    assert QuantConfig(instrument=str(cpd.INSTRUMENT)).instrument.goniometer_radius_mm == 173
