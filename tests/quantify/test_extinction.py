"""Sabine primary extinction (issue 13, ``QuantConfig.extinction_um``): the factor and its use in the fit."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.library.crystallography import cell_volume
from phasetrace.library.reflections import ELECTRON_RADIUS, sabine_extinction
from phasetrace.quantify import QuantConfig
from phasetrace.quantify.fit import fit_pattern, weight_percent
from phasetrace.quantify.model import phase_pattern
from phasetrace.quantify.phase_models import phase_models
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

LAM = CU_KALPHA.kalpha1


def test_no_block_no_extinction(library):
    refl = library.reflections("NiO")
    assert np.array_equal(sabine_extinction(refl, LAM, 0.0), np.ones(refl.d.size))


def test_weak_extinction_is_one_minus_half_x(library):
    """For x ≪ 1 both the Laue and the Bragg term are 1 − x/2: check x = (r_e λ |F| D / V)² by hand."""
    refl = library.reflections("NiO")
    i = int(np.argmax(refl.f2))
    x = (ELECTRON_RADIUS * LAM * np.sqrt(refl.f2[i]) * 0.05e4 / cell_volume(refl.cell)) ** 2
    assert 1e-5 < x < 1e-2
    assert sabine_extinction(refl, LAM, 0.05)[i] == pytest.approx(1.0 - x / 2.0, abs=x * x)


def test_extinction_grows_with_block_size_and_scattering_density(library):
    """Larger blocks lose more; the strong lines of NiO (Ni, small cell) more than those of MgO."""

    def mean_e(pid, um):
        refl = library.reflections(pid)
        e = sabine_extinction(refl, LAM, um)
        assert np.all((e > 0.0) & (e <= 1.0))
        return float(np.sum(e * refl.mf2) / np.sum(refl.mf2))

    sizes = (0.5, 1.0, 2.0, 5.0, 20.0)
    nio = [mean_e("NiO", s) for s in sizes]
    assert all(a > b for a, b in zip(nio, nio[1:], strict=False))
    assert all(mean_e("MgO", s) > n for s, n in zip(sizes, nio, strict=True))
    # the two branches of the Laue term meet at x = 1 (0.682 and 0.668 there): no jump beyond 3 %
    refl = library.reflections("NiO")
    i = int(np.argmax(refl.f2))
    d_one = cell_volume(refl.cell) / (ELECTRON_RADIUS * LAM * np.sqrt(refl.f2[i])) / 1e4
    below, above = (sabine_extinction(refl, LAM, d_one * k)[i] for k in (0.9999, 1.0001))
    assert below == pytest.approx(above, rel=0.03)


def test_fit_with_the_block_size_recovers_the_weight_fractions(library):
    """A MgO + NiO pattern whose NiO lines carry the extinction of 2 µm blocks: the fit told the size
    finds the weighed amounts; the fit without it puts NiO low by about its mean extinction."""
    x = np.arange(15.0, 140.0, 0.01)
    scan0 = Scan(x=x, y=np.ones(x.size), kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="synthetic"))
    told = QuantConfig(texture_search=False, refine_b=False, extinction_um={"NiO": 2.0})
    models, _, _ = phase_models(scan0, library, ["MgO", "NiO"], told)
    lams, wts = (CU_KALPHA.kalpha1, CU_KALPHA.kalpha2), (1.0, CU_KALPHA.ratio)
    prof = {"u": 0.003, "v": -0.001, "w": 0.002, "size_x": 0.03, "strain_y": 0.01, "eta": 0.5}
    prof.update(zero=0.0, displacement=0.0)
    scales = (0.03, 0.01)
    y = np.full(x.size, 200.0)
    for s, m in zip(scales, models, strict=True):
        y += s * phase_pattern(x, m, wavelengths=lams, weights=wts, radius_mm=240.0, **prof)
    y = np.random.default_rng(1).poisson(y).astype(float)
    scan = Scan(x=x, y=y, kind="xrd", meta=ScanMeta(radiation=CU_KALPHA, sample="synthetic"))
    zmv = np.array([m.refl.zmv for m in models])
    truth = 100.0 * np.array(scales) * zmv / np.sum(np.array(scales) * zmv)

    nio_e = sabine_extinction(models[1].refl, LAM, 2.0)
    mean_e = float(np.sum(nio_e * models[1].refl.mf2) / np.sum(models[1].refl.mf2))
    assert mean_e < 0.97  # a visible effect, not a rounding
    found = {}
    for name, cfg in (("told", told), ("plain", QuantConfig(texture_search=False, refine_b=False))):
        ms, strains, _ = phase_models(scan, library, ["MgO", "NiO"], cfg)
        found[name] = weight_percent(fit_pattern(scan, ms, strains=strains, config=cfg))
    assert found["told"][1] == pytest.approx(truth[1], abs=0.25)
    assert found["plain"][1] < truth[1] - 3.0  # mean E 0.83: NiO found ~6 wt % low
