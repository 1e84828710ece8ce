"""A user CIF of a phase the library already has is that phase's twin: one of them in a model, not both."""

from __future__ import annotations

import shutil

import pytest

from phasetrace.library.phases import PhaseLibrary, bundled_dir
from phasetrace.library.twins import compact_space_group, same_composition
from phasetrace.quantify.selection import twins
from phasetrace.series.rules import merge_twins

#: The CPD round robin's sample 1 as weighed (wt %), /work/shared/data/real/xrd/qpa/cpd-roundrobin/weighed.csv.
CPD_1E = {"corundum": 55.12, "fluorite": 29.62, "zincite": 15.25}


def _cubic_cif(symbols: list[str], a: float) -> str:
    """A fluorite-type (Fm-3m) CIF of ``symbols`` (cation, anion) with cell ``a``."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), symbols, [[0, 0, 0], [0.25, 0.25, 0.25]])
    return str(CifWriter(s))


@pytest.fixture
def cpd_library(real):
    return PhaseLibrary.default([real("cif/cpd-roundrobin")], include_user=False)


def test_a_user_cif_of_a_bundled_phase_joins_its_family(cpd_library):
    lib = cpd_library
    assert lib["corundum"].family == lib["Al2O3"].family
    assert lib["corundum"].twin_of == "Al2O3"
    assert twins(lib, "corundum", "Al2O3") and twins(lib, "Al2O3", "corundum")
    # the other round-robin phases have no bundled twin, and are not each other's
    assert lib["fluorite"].twin_of == "" and lib["fluorite"].family == "user"
    assert not twins(lib, "fluorite", "zincite")
    assert not twins(lib, "corundum", "fluorite")


def test_a_third_copy_from_another_source_is_a_twin_too(real):
    lib = PhaseLibrary.default(
        [real("cif/cpd-roundrobin"), real("cif/dans_diffraction/Sapphire.cif")], include_user=False
    )
    assert twins(lib, "Sapphire", "corundum") and twins(lib, "Sapphire", "Al2O3")


def test_user_phases_are_twins_by_structure_not_by_the_user_family(tmp_path):
    """Every user CIF has the family "user": that is no reason to be twins (CeO2 and CaF2, 1 % apart)."""
    (tmp_path / "CeO2_a.cif").write_text(_cubic_cif(["Ce", "O"], 5.4113))
    (tmp_path / "CeO2_b.cif").write_text(_cubic_cif(["Ce", "O"], 5.4200))  # another refinement, 0.16 %
    (tmp_path / "CeO2_far.cif").write_text(_cubic_cif(["Ce", "O"], 5.70))  # 5 %: beyond both strains
    (tmp_path / "CaF2.cif").write_text(_cubic_cif(["Ca", "F"], 5.4626))
    lib = PhaseLibrary.default([tmp_path], include_user=False)
    assert twins(lib, "CeO2_a", "CeO2_b")
    assert not twins(lib, "CeO2_a", "CaF2")
    assert not twins(lib, "CeO2_a", "CeO2_far")


def test_series_union_keeps_one_of_a_user_cif_and_its_bundled_twin(cpd_library):
    found = ["corundum", "fluorite", "zincite", "Al2O3"]
    union, dropped = merge_twins(cpd_library, found, dict.fromkeys(found, 4), set())
    assert sorted(union) == ["corundum", "fluorite", "zincite"]
    assert dropped == {"Al2O3": "corundum"}


def test_equal_twins_prefer_the_users_phase(tmp_path, library):
    """The user's copy of a bundled structure fits exactly as well: the user's phase is chosen."""
    import phasetrace
    from phasetrace.simulate import simulate_xrd

    shutil.copy(bundled_dir() / "cif" / "Al2O3.cif", tmp_path / "my_alumina.cif")
    lib = PhaseLibrary.default([tmp_path / "my_alumina.cif"], include_user=False)
    scan = simulate_xrd(library, {"Al2O3": 70.0, "MgO": 30.0}, seed=11)
    r = phasetrace.quantify(scan, elements="Al,Mg,O", library=lib)
    assert sorted(p.id for p in r.phases if p.detected) == ["MgO", "my_alumina"]
    assert r["my_alumina"].wt_percent == pytest.approx(70.0, abs=1.0)
    assert "Al2O3" in r["my_alumina"].alternatives


@pytest.mark.slow
def test_cpd_fit_with_the_round_robin_cifs_gives_the_weighed_amounts(real, cpd_library):
    """CPD-1E with the round robin's own CIFs: one corundum in the model, amounts as weighed.

    Both corundum.cif and the bundled Al2O3 entered the model before (45.00 and 11.39 wt %, both
    "detected"), and a series then reported each as an upper limit.
    """
    import phasetrace

    scan = phasetrace.load(real("xrd/qpa/cpd-roundrobin/CPD-1E.xye"))
    r = phasetrace.quantify(scan, elements="Al,Ca,F,Zn,O", library=cpd_library)
    alumina = [p for p in r.phases if p.detected and p.id in ("corundum", "Al2O3")]
    assert len(alumina) == 1
    assert alumina[0].wt_percent == pytest.approx(CPD_1E["corundum"], abs=1.6)
    assert r["fluorite"].wt_percent == pytest.approx(CPD_1E["fluorite"], abs=1.0)
    assert r["zincite"].wt_percent == pytest.approx(CPD_1E["zincite"], abs=1.2)


def test_space_group_symbols_compare_without_spaces_and_settings():
    assert compact_space_group("R -3 c H") == compact_space_group("R-3c") == compact_space_group("R -3 c :H")
    assert compact_space_group("P 63/m m c") == "P63/mmc"
    assert same_composition("Al2O3", "Al4O6") and not same_composition("Al2O3", "AlO")


@pytest.mark.slow
def test_identify_gives_the_fits_twin_the_matching_evidence(real, cpd_library):
    """The fit's pick of two twins is not "likely, score 0.00, 0 unique" above its twin's "possible, 0.99"."""
    import phasetrace

    scan = phasetrace.load(real("xrd/qpa/cpd-roundrobin/CPD-1E.xye"))
    ranking = phasetrace.identify(scan, elements="Al,Ca,F,Zn,O", library=cpd_library)
    rows = {c.id: c for c in ranking.candidates}
    chosen = [rows[p] for p in ("corundum", "Al2O3") if rows[p].fit and rows[p].fit["detected"]]
    assert len(chosen) == 1
    (pick,) = chosen
    other = rows["Al2O3" if pick.id == "corundum" else "corundum"]
    assert pick.status == "likely" and pick.score > 0.9 and len(pick.unique) >= 20
    assert other.status == "unlikely" and other.score < 0.1 and not other.unique
    assert pick.alternatives[0] == other.id and other.alternatives[0] == pick.id


def test_a_cif_with_ionic_species_is_the_twin_of_the_neutral_one(real):
    """autoXRD's tetragonal LLZO writes Li+, La3+ ... and "P 1" (expanded): still the bundled LLZO_tetragonal."""
    lib = PhaseLibrary.default([real("cif/autoXRD_LiLaZrO/Li7La3Zr2O12_142.cif")], include_user=False)
    assert lib["Li7La3Zr2O12_142"].twin_of == "LLZO_tetragonal"
    assert twins(lib, "Li7La3Zr2O12_142", "LLZO_tetragonal")
    assert not twins(lib, "Li7La3Zr2O12_142", "LLZO_cubic")  # a tetragonal cell is not the cubic garnet
