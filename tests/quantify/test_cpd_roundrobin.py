"""Weight fractions against weighed real mixtures: the IUCr CPD round robin (samples 1A-1G and 2).

The scans are measured (not simulated), the compositions weighed; one instrument file for the
round-robin diffractometer and the same defaults for every sample (``benchmarks/cpd.py``).

Issue 13's targets are CPD-1: every phase within ±1.0 wt % and mean |error| ≤ 0.5; CPD-2: every phase
within ±2.0 wt % and GoF ≤ 2. Reached: the mean, CPD-2 and its GoF. Not reached: the ±1.0 per phase
in sample 1 -- corundum stays up to +1.25 and zincite down to -1.21 wt % in the 15-55 % mixtures
(1D-1G); the candidates measured for it are in ``benchmarks/cpd_bias.md``. The assertions below pin
what is reached, so that a regression fails, and the per-phase bound is the reached one (1.25, pinned
at 1.35), not the target. The three-phase fits of sample 1 stay within GoF 1.6 (1.16-1.54).
Without the instrument file (the defaults: no monochromator) the fit reaches 0.50 / 1.52.
"""

from __future__ import annotations

import pytest

from benchmarks import cpd

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def rows():
    if not cpd.available(cpd.REAL_DATA):
        pytest.skip(f"CPD round-robin data not available under {cpd.REAL_DATA}")
    return cpd.run(cpd.REAL_DATA)


def test_sample_1_mean_error_within_target(rows):
    s = cpd.summary(rows)
    assert s["cpd1_mean"] <= cpd.TARGETS["cpd1_mean"]
    # the model describes the measured patterns: no sample-1 fit beyond GoF 1.6 (reached 1.15-1.54). The
    # bound was 1.5 with split pseudo-Voigt lines; with the axial-divergence tail CPD-1B (94 % corundum) went
    # 1.44 -> 1.54 while its wt % errors fell. Its refined tail is 0.003° where CPD-1A on the same instrument
    # gets 0.05°, with displacement +86 µm (1A: -26 µm), and the data keep more intensity on the low side of
    # the mid-angle corundum lines (43°, 57°) than the model: most likely specimen transparency of the weakly
    # absorbing corundum (μ about 70 cm⁻¹, a low-angle tail of sin 2θ / 2μR, 0.016-0.024° at 43-90°), which the
    # model does not have. Measured bound, not a target.
    assert all(r["gof"] <= 1.6 for r in rows if r["sample"].startswith("1")), [r["gof"] for r in rows]


def test_sample_1_every_phase_within_reached_bound(rows):
    worst = {
        r["sample"]: max(abs(e) for e in r["error"].values()) for r in rows if r["sample"].startswith("1")
    }
    assert max(worst.values()) <= 1.35, worst
    # the trace phases (about 1 wt %) and the 4-5 wt % phases of 1A-1C are within 0.3 wt %, about two of
    # their standard errors (1C corundum: 5.29 ± 0.14 for 5.04 weighed; 5.22 before the fit converged as far)
    for r in rows:
        if r["sample"] in ("1A", "1B", "1C"):
            assert all(abs(e) <= 0.3 for e in r["error"].values()), r["error"]


def test_sample_1_without_the_old_bias(rows):
    """The fixed-B bias (corundum +1.6..+2.7 in 1D-1G) is at least halved: mean corundum error ≤ 1.0."""
    cor = [r["error"]["corundum"] for r in rows if r["sample"] in ("1D", "1E", "1F", "1G")]
    assert sum(cor) / len(cor) <= 1.0, cor


def test_sample_2_platy_brucite(rows):
    (two,) = [r for r in rows if r["sample"] == "2"]
    assert all(abs(e) <= cpd.TARGETS["cpd2_max"] for e in two["error"].values()), two["error"]
    # the target is GoF <= 2; reached 1.30 (Rwp of a 7,000-point scan with its esds), pinned at 1.4
    assert two["gof"] <= 1.4, two["gof"]
    # the texture search found brucite's plates lying flat: March–Dollase about [001] with r < 1
    axis, r = two["texture"]["brucite"]
    assert tuple(axis) == (0, 0, 1) and r < 0.9


def test_stiff_and_soft_lattices_get_different_b(rows):
    """Corundum (stiff Al-O) refines to a lower B than zincite (soft Zn-O) wherever both are major."""
    for r in rows:
        if r["sample"] in ("1D", "1E", "1F", "1G"):
            assert r["b_iso"]["corundum"] < r["b_iso"]["zincite"], r["b_iso"]


def test_single_crystal_coordinates_are_kept(rows):
    """The CIFs' coordinates are single-crystal and neutron values (cpd_bias.md): the score test for
    refining them (POSITIONS_MIN_GAIN, 1 % of χ²) finds at most 0.4 % on these scans, so no phase,
    however major, gets its coordinates refined; refined anyway, corundum's O moved 2-3 esd and the
    worst phase error grew from 1.36 to 1.41 wt %."""
    assert all(not r["positions"] for r in rows), {r["sample"]: r["positions"] for r in rows}


def test_defaults_without_instrument_file(rows):
    """How a user runs ``phasetrace fit CPD-1x.xye`` with no instrument file: the documented defaults
    (no monochromator, K = 1) reach mean 0.50 / worst 1.52 wt % on sample 1 (pinned at 0.55 / 1.65); the
    file's only effect on these scans is its polarisation: the defaults with the file's monochromator angle
    alone give the file's weight fractions (cpd_bias.md: 0.445 / 1.247 both ways)."""
    import dataclasses
    import warnings

    from phasetrace.io import load
    from phasetrace.library.phases import PhaseLibrary
    from phasetrace.quantify import QuantConfig, quantify

    plain = cpd.run(cpd.REAL_DATA, instrument=None)
    s = cpd.summary(plain)
    assert s["cpd1_mean"] <= 0.55 and s["cpd1_max"] <= 1.65, s
    assert QuantConfig().monochromator_2theta is None  # the documented default: no monochromator
    lib = PhaseLibrary.default(extra=(cpd.REAL_DATA / cpd.CIFS,))
    (entry,) = [e for e in cpd.weighed(cpd.REAL_DATA) if e["sample"] == "1E"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = load(cpd.REAL_DATA / cpd.SCANS / entry["file"], kind="xrd")
    config = dataclasses.replace(QuantConfig(), monochromator_2theta=26.6)
    res = quantify(scan, list(entry["weighed"]), config, library=lib)
    (with_file,) = [r for r in rows if r["sample"] == "1E"]
    for pid, found in with_file["found"].items():
        assert abs(res[pid].wt_percent - found) <= 0.02, (pid, res[pid].wt_percent, found)
    # and the polarisation matters: without it, 1E's corundum is 0.2 wt % higher
    (plain_1e,) = [r for r in plain if r["sample"] == "1E"]
    assert plain_1e["found"]["corundum"] - with_file["found"]["corundum"] >= 0.15
