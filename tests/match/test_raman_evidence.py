"""What matched Raman bands can claim: two bands of the phase's own lattice for "likely", class bands
(the CO3 stretch every carbonate has) "possible (or: any carbonate)", one contradicted band nothing.

Real spectra (read in place, skipped when absent): natural calcite (Renishaw .wdf, 785 nm: 155, 282,
712, 1086 cm⁻¹) against a library whose only carbonate is Li2CO3, and polystyrene (B&W Tek .spc,
532 nm: 1001, 1031, 1602, 2904, 3054 cm⁻¹ ...) against the LCO + LLZTO candidates.
"""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.io import load
from phasetrace.library.phases import read_band_csv
from phasetrace.match import rank_candidates
from phasetrace.scan import Scan, ScanMeta
from phasetrace.simulate import simulate_raman

CALCITE = "raman/formats/ramanchada2/Renishaw/nCal_Qontor785_z005H12_100_1x3s.wdf"
POLYSTYRENE = "raman/formats/ramanchada2/BWTEK/PST10_iR532_Probe_100_3000msx7.spc"


def _spectrum(
    bands: dict[float, float],
    *,
    lo: float = 100.0,
    hi: float = 1200.0,
    seed: int = 7,
    broad: dict[float, float] | None = None,
) -> Scan:
    """Lorentzian bands (position -> height, counts) of FWHM 6 cm⁻¹ (``broad``: 60) on 200 counts."""
    x = np.arange(lo, hi, 1.0)
    y = np.full(x.size, 200.0)
    for pos, h in bands.items():
        y += h / (1.0 + ((x - pos) / 3.0) ** 2)
    for pos, h in (broad or {}).items():
        y += h / (1.0 + ((x - pos) / 30.0) ** 2)
    y = np.random.default_rng(seed).poisson(y).astype(float)
    return Scan(x, y, kind="raman", meta=ScanMeta(source_path="synthetic.txt", x_unit="raman_shift_cm-1"))


def test_band_table_marks_the_carbonate_internal_modes(library):
    bands = {b.position: b.shared_by for b in library.raman_bands("Li2CO3")}
    # the CO3 stretches and bend are every carbonate's; the lattice modes are Li2CO3's own
    assert bands[1090] == bands[712] == bands[1460] == "carbonate"
    assert bands[156] == bands[192] == ""


def test_calcite_like_spectrum_is_a_carbonate_not_li2co3(library):
    # calcite's bands where the real calcite spectrum has them (155 lattice, 282 libration, 713 nu4,
    # 1088 nu1): Li2CO3 shares 156, 712 and 1090; its 192 lattice mode is missing
    scan = _spectrum({155: 3000, 282: 4000, 713: 1500, 1088: 20000})
    c = rank_candidates(scan, library, elements=["Li", "C", "O"])["Li2CO3"]
    assert c.status == "possible", (c.status, c.score)
    assert c.or_any == ("carbonate",)
    assert "every carbonate" in c.reason and "2 are needed" in c.reason
    assert {m.shared_by for m in c.matched} == {"", "carbonate"}
    r = rank_candidates(scan, library, elements=["Li", "C", "O"])
    assert any(abs(v - 282) < 3 for v in r.unexplained)  # calcite's own band stays unexplained
    assert "(or: any carbonate)" in r.report()


def test_carbonate_bands_alone_say_only_carbonate(library):
    # 600-1200 cm⁻¹: Li2CO3's lattice modes are out of range, its nu4 and nu1 match (as any carbonate's)
    scan = _spectrum({712: 1500, 1086: 20000}, lo=600.0)
    c = rank_candidates(scan, library, elements=["Li", "C", "O"])["Li2CO3"]
    assert c.status == "possible", (c.status, c.score)
    assert c.or_any == ("carbonate",)
    assert c.reason.startswith("only bands every carbonate has (712, 1090 cm⁻¹)")


def test_li2co3_with_its_lattice_modes_is_still_likely(library):
    scan = simulate_raman(library, {"Li2CO3": 1.0}, seed=3)
    c = rank_candidates(scan, library, elements=["Li", "C", "O"])["Li2CO3"]
    assert c.status == "likely"
    assert sum(1 for m in c.matched if not m.shared_by) >= 2


def test_one_band_contradicted_by_the_phases_stronger_band_is_unlikely(library):
    # a polystyrene-like spectrum: 405 cm⁻¹ coincides with La2O3's 405 band, whose stronger 190 band
    # is in range and not there (on the flank of a broad band at 215, so not "missing" either); the
    # strong 1001 and 620 bands are nobody's
    scan = _spectrum({405: 1500, 620: 3000, 1001: 30000, 1031: 8000}, lo=170.0, broad={215: 6000})
    r = rank_candidates(scan, library, phases=["La2O3", "LiCoO2", "LLZTO_cubic"])
    c = r["La2O3"]
    assert c.status == "unlikely"
    assert "190" in c.reason and "not seen" in c.reason
    for band in (405, 620, 1001, 1031):
        assert any(abs(v - band) < 3 for v in r.unexplained), band


def test_single_band_phase_is_at_most_possible(library):
    # Li2O has one first-order band (523 cm⁻¹): a band there cannot tell it from anything else
    scan = _spectrum({521: 20000})
    c = rank_candidates(scan, library, phases=["Li2O"])["Li2O"]
    assert c.status == "possible"
    assert "cannot tell Li2O" in c.reason


def test_user_band_file_reads_the_shared_by_column(tmp_path):
    f = tmp_path / "bands.csv"
    f.write_text(
        "phase_id,band_cm1,rel_intensity,fwhm_cm1,assignment,source,note,shared_by\n"
        "CaCO3,155,0.3,8,lattice,,,\n"
        "CaCO3,1086,1.0,6,nu1 CO3,,,carbonate\n",
        encoding="utf-8",
    )
    bands = read_band_csv(f, "CaCO3")
    assert [b.shared_by for b in bands] == ["", "carbonate"]
    # the column stays optional
    f.write_text("phase_id,band_cm1,rel_intensity,fwhm_cm1\nCaCO3,1086,1.0,6\n", encoding="utf-8")
    assert read_band_csv(f, "CaCO3")[0].shared_by == ""


def test_real_calcite_is_not_li2co3_likely(library, real):
    scan = load(real(CALCITE))
    r = rank_candidates(scan, library, elements=["Li", "C", "O"])
    c = r["Li2CO3"]
    assert c.status == "possible" and c.or_any == ("carbonate",)
    assert r.to_dict()["candidates"][0]["or_any"] == ["carbonate"]
    assert any(abs(v - 282) < 4 for v in r.unexplained)


@pytest.mark.slow  # the system's candidates' reflections (formulas), computed once per session
def test_real_polystyrene_claims_no_phase_and_lists_its_strong_bands(library, real):
    scan = load(real(POLYSTYRENE))
    r = rank_candidates(scan, library, system="pc-LCO + LLZTO")
    assert r["La2O3"].status == "unlikely" and "190" in r["La2O3"].reason
    assert not [c.id for c in r if c.status in ("likely", "possible")]
    text = r.report()
    # the report names the strongest unexplained bands, not the first twelve by position
    for band in ("1001.", "1031.", "1601.", "2903.", "3053."):
        assert band in text, band


def test_two_own_bands_leave_the_score_to_decide(library):
    scan = _spectrum({486: 8000, 596: 12000}, seed=2)  # LiCoO2's Eg and A1g
    c = rank_candidates(scan, library, phases=["LiCoO2"])["LiCoO2"]
    assert c.status == "likely" and c.reason == "" and c.or_any == ()


def test_a_user_carbonate_keeps_its_class_bands(tmp_path):
    # calcite added by a user with its own band file: the class column survives the copy into the
    # library folder, and its CO3 stretch alone then says "a carbonate" for calcite too
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    from phasetrace.library.phases import PhaseLibrary, add_user_phase

    s = Structure.from_spacegroup(
        "R-3c", Lattice.hexagonal(4.99, 17.06), ["Ca", "C", "O"], [[0, 0, 0], [0, 0, 0.25], [0.257, 0, 0.25]]
    )
    cif = tmp_path / "calcite.cif"
    cif.write_text(str(CifWriter(s)), encoding="utf-8")
    bands = tmp_path / "bands.csv"
    bands.write_text(
        "phase_id,band_cm1,rel_intensity,fwhm_cm1,assignment,source,note,shared_by\n"
        "calcite,155,0.2,8,lattice,,,\n"
        "calcite,282,0.3,10,libration,,,\n"
        "calcite,712,0.1,6,nu4 CO3,,,carbonate\n"
        "calcite,1086,1.0,5,nu1 CO3,,,carbonate\n",
        encoding="utf-8",
    )
    folder = tmp_path / "lib"
    add_user_phase(cif, raman=bands, phase_id="calcite", directory=folder)
    lib = PhaseLibrary.default([folder], include_user=False)
    assert [b.shared_by for b in lib.raman_bands("calcite")] == ["", "", "carbonate", "carbonate"]
    c = rank_candidates(_spectrum({1086: 20000}, lo=600.0), lib, phases=["calcite"])["calcite"]
    assert c.status == "possible" and c.or_any == ("carbonate",)
