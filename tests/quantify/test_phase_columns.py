"""``phase_columns`` gives ``phase_pattern``'s columns bit for bit (issue 18: the selection's grid).

The selection's decisions and the reported detection limits depend on these columns through argmax
and thresholds; the batched evaluation may only be faster, never different.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from phasetrace.quantify import QuantConfig
from phasetrace.quantify import model as model_module
from phasetrace.quantify.model import phase_columns, phase_pattern
from phasetrace.quantify.phase_models import phase_models
from phasetrace.simulate import simulate_xrd

# a phase with five reflections in range, one with a few dozen, one with hundreds
IDS = ["MgO", "LiCoO2", "LLZO_tetragonal"]


@pytest.fixture(scope="module")
def models(library):
    scan = simulate_xrd(library, {"MgO": 50.0, "LiCoO2": 50.0}, seed=3, step=0.02)
    models, _, _ = phase_models(scan, library, IDS, QuantConfig())
    assert [m.id for m in models] == IDS
    # one with a texture axis away from random (March-Dollase factors per reflection)
    return [*models, replace(models[1], texture_axis=(0, 0, 1))], np.asarray(scan.x)


#: the profile terms every case shares
PROFILE = {"u": 0.003, "v": -0.001, "w": 0.002, "strain_y": 0.0, "eta": 0.45, "radius_mm": 240.0}

CASES = [
    # shared parameters: doublet or not, tail or not, zero/displacement, an instrument angle factor
    {"asymmetry": 0.0, "zero": 0.0, "displacement": 0.0},
    {"asymmetry": 0.08, "zero": 0.013, "displacement": 55.0},
    {"asymmetry": 0.03, "zero": -0.02, "displacement": -30.0, "single": True},
    {"asymmetry": 0.05, "zero": 0.0, "displacement": 10.0, "monochromator_2theta": 26.6, "texture_r": 0.8},
    {"asymmetry": 0.0, "zero": 0.0, "displacement": 0.0, "angle_factor": True},
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("every", [1, 2])
def test_columns_are_phase_patterns_bit_for_bit(models, case, every, monkeypatch):
    mods, x_full = models
    x = x_full[::every]
    case = dict(case)
    single = case.pop("single", False)
    if case.pop("angle_factor", False):
        case["angle_factor"] = lambda t: 1.0 / np.sin(np.radians(t)) ** 1.5
    common = {
        **PROFILE,
        "wavelengths": (1.540598,) if single else (1.540598, 1.544426),
        "weights": (1.0,) if single else (1.0, 0.5),
        **case,
    }
    # a cell-scale grid at one width (different windows for different scales), then widths at one scale
    scales = [*np.arange(0.98, 1.02 + 1e-12, 0.002), 1.0, 1.0, 1.0005, 0.9993]
    sizes = [0.12] * (len(scales) - 4) + [0.03, 0.25, 0.10, 0.11]
    for m in mods:
        ref = np.column_stack([phase_pattern(x, m, scale=s, size_x=z, **common) for s, z in zip(scales, sizes, strict=True)])
        assert np.any(ref > 0)
        got = phase_columns(x, m, scales=scales, sizes=sizes, **common)
        assert got.shape == ref.shape
        assert np.array_equal(got, ref), (m.id, case, every)
        # in chunks of one or a few columns: the same numbers
        monkeypatch.setattr(model_module, "COLUMNS_CHUNK", 2000)
        assert np.array_equal(phase_columns(x, m, scales=scales, sizes=sizes, **common), ref)
        monkeypatch.undo()
        # one column alone
        one = phase_columns(x, m, scales=[scales[3]], sizes=[sizes[3]], **common)
        assert np.array_equal(one[:, 0], ref[:, 3])


def test_a_phase_outside_the_range_gives_zero_columns(models):
    mods, x_full = models
    x = x_full[(x_full > 10.0) & (x_full < 12.0)]  # MgO's first reflection is near 37°
    common = {"wavelengths": (1.540598,), "weights": (1.0,), "u": 0.003, "v": -0.001, "w": 0.002,
              "strain_y": 0.0, "eta": 0.5, "zero": 0.0, "displacement": 0.0, "radius_mm": 240.0}
    got = phase_columns(x, mods[0], scales=[1.0, 1.01], sizes=[0.1, 0.1], **common)
    ref = phase_pattern(x, mods[0], scale=1.01, size_x=0.1, **common)
    assert np.array_equal(got[:, 1], ref) and not got.any()


def test_detection_limit_columns_are_the_state_columns(library):
    from phasetrace.quantify import limits
    from phasetrace.quantify.fit import fit_pattern, state_column

    scan = simulate_xrd(library, {"LiCoO2": 70.0, "MgO": 30.0}, seed=5, step=0.02)
    config = QuantConfig()
    models, strains, textured = phase_models(scan, library, ["LiCoO2", "MgO"], config)
    state = fit_pattern(scan, models, strains=strains, config=config, textured=textured)
    # with an axial tail and a displacement, which the columns carry
    state = replace(state, globals_={**state.globals_, "asymmetry": 0.06, "displacement": 40.0})
    (cand,), _, _ = phase_models(scan, library, ["Co3O4"], config)
    pairs = [(1.0, limits.LOD_SIZE), (1.0005, limits.LOD_SIZE), (1.0, limits.LOD_SIZE + 0.01)]
    got = limits._columns(scan, state, cand, config, pairs)
    for (s, z), col in zip(pairs, got, strict=True):
        p = {"scale": s, "cell": None, "size": z, "strain": 0.0, "texture": 1.0}
        assert np.array_equal(col, state_column(scan, state, config, cand, p))


def test_narrower_windows_only_cut_far_wings(models):
    """``window_fwhm`` below the fits' WINDOW_FWHM (the selection's grid search) drops only the profile
    wings beyond that many FWHM: never adds intensity, keeps every peak, and changes no point by more
    than a pseudo-Voigt's wing there (≤ 1.5 % of the column's maximum at ± 4 FWHM, η = 0.45)."""
    mods, x = models
    common = {
        **PROFILE,
        "wavelengths": (1.540598, 1.544426),
        "weights": (1.0, 0.5),
        "asymmetry": 0.05,
        "zero": 0.01,
        "displacement": 20.0,
    }
    scales, sizes = [0.99, 1.0, 1.004], [0.12, 0.03, 0.25]
    for m in mods:
        full = phase_columns(x, m, scales=scales, sizes=sizes, **common)
        cut = phase_columns(x, m, scales=scales, sizes=sizes, window_fwhm=4.0, **common)
        assert np.all(cut <= full + 1e-12 * full.max())
        assert np.abs(full - cut).max() <= 0.015 * full.max(axis=0).max()
        assert not np.array_equal(full, cut)
        for k in range(len(scales)):
            assert np.argmax(cut[:, k]) == np.argmax(full[:, k])
            # most of the intensity stays (the Lorentzian part beyond ± 4 FWHM is ~8 % of its area)
            assert cut[:, k].sum() >= 0.95 * full[:, k].sum()
