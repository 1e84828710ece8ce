"""Bad input gets a clear one-line error, never an empty or misleading ranking."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.errors import PhasetraceError
from phasetrace.library.phases import LibraryError
from phasetrace.match import (
    MatchConfig,
    MatchError,
    NoCandidatesError,
    NoPeaksError,
    TechniqueMismatchError,
    rank_candidates,
)
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta
from phasetrace.simulate import simulate_raman, simulate_xrd


def _noise_scan(kind="xrd"):
    rng = np.random.default_rng(1)
    x = np.arange(10.0, 80.0, 0.02)
    return Scan(
        x=x,
        y=rng.poisson(300, x.size).astype(float),
        kind=kind,
        meta=ScanMeta(sample="blank", radiation=CU_KALPHA),
    )


def test_errors_are_phasetrace_errors():
    for cls in (NoPeaksError, NoCandidatesError, TechniqueMismatchError):
        assert issubclass(cls, MatchError) and issubclass(cls, PhasetraceError)


def test_scan_without_peaks(library):
    with pytest.raises(NoPeaksError, match=r"blank: no .*peak.* nothing to identify"):
        rank_candidates(_noise_scan(), library, system="LCO+LLZTO")
    flat = Scan(
        x=np.arange(10.0, 80.0, 0.02),
        y=np.full(3500, 100.0),
        kind="xrd",
        meta=ScanMeta(sample="flat", radiation=CU_KALPHA),
    )
    with pytest.raises(NoPeaksError, match="flat: no peak stands out by 3σ"):
        rank_candidates(flat, library, system="LCO+LLZTO")


def test_elements_that_select_nothing(library):
    scan = simulate_xrd(library, {"MgO": 1.0}, seed=1)
    with pytest.raises(NoCandidatesError, match="elements Au, Pt select no library phase"):
        rank_candidates(scan, library, elements=["Au", "Pt"])
    with pytest.raises(LibraryError, match="not element symbols"):
        rank_candidates(scan, library, elements=["Xyz"])
    with pytest.raises(NoCandidatesError, match="give elements, a system or a list of phases"):
        rank_candidates(scan, library)
    with pytest.raises(LibraryError, match="unknown phase"):
        rank_candidates(scan, library, phases=["Unobtainium"])


def test_technique_mismatch(library):
    xrd = simulate_xrd(library, {"MgO": 1.0}, seed=1)
    with pytest.raises(TechniqueMismatchError, match="is an XRD pattern, but 'raman' was asked for"):
        rank_candidates(xrd, library, system="LCO+LLZTO", technique="raman")
    raman = simulate_raman(library, {"LLZTO_cubic": 1.0}, seed=1)
    # a Raman spectrum mislabelled as XRD: a shift axis is no 2θ range
    as_xrd = Scan(x=raman.x, y=raman.y, kind="xrd", meta=ScanMeta(sample="spectrum", radiation=CU_KALPHA))
    with pytest.raises(TechniqueMismatchError, match="not a 2θ range"):
        rank_candidates(as_xrd, library, system="LCO+LLZTO")
    no_wavelength = Scan(x=xrd.x, y=xrd.y, kind="xrd", meta=ScanMeta(sample="p"))
    with pytest.raises(TechniqueMismatchError, match="without a wavelength"):
        rank_candidates(no_wavelength, library, system="LCO+LLZTO")


def test_no_candidate_reflection_in_range(library):
    x = np.arange(150.0, 175.0, 0.02)
    rng = np.random.default_rng(2)
    y = rng.poisson(200 + 5000 * np.exp(-0.5 * ((x - 160) / 0.05) ** 2)).astype(float)
    scan = Scan(x=x, y=y, kind="xrd", meta=ScanMeta(sample="far", radiation=CU_KALPHA))
    with pytest.raises(NoCandidatesError, match="has a reflection in 2θ 150"):
        rank_candidates(scan, library, phases=["LiCoO2", "La2Zr2O7"])


def test_bad_config():
    with pytest.raises(MatchError, match="non-negative"):
        MatchConfig(raman_tolerance=-1)
    with pytest.raises(MatchError, match="possible_score"):
        MatchConfig(likely_score=0.1, possible_score=0.5)
