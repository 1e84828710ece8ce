"""What `phases list/show/add/remove` say about user phases: formulas, symbols, sources, messages, refusals."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.errors import PhasetraceError
from phasetrace.library.crystallography import compact_hm_symbol
from phasetrace.library.formula import reduced_formula
from phasetrace.library.phases import PhaseLibrary, add_user_phase


def invoke(*args):
    """Run the phasetrace command line in-process."""
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def no_user_folders(tmp_path, monkeypatch):
    """No project-local or global user folder exists yet."""
    monkeypatch.setenv("PHASETRACE_USER_LIBRARY", str(tmp_path / "global"))
    monkeypatch.setenv("PHASETRACE_PROJECT_LIBRARY", str(tmp_path / "project"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_user_phases_are_listed_per_formula_unit_with_compact_symbols(real, no_user_folders):
    """The CPD CIFs state cell contents (Al12O18, Ca4F8, Zn2O2) and "P -3 m 1"; the list shows Al2O3, P-3m1."""
    lib = PhaseLibrary.default([real("cif/cpd-roundrobin")], include_user=False)
    assert lib["corundum"].formula == "Al2O3"
    assert lib["fluorite"].formula == "CaF2"
    assert lib["zincite"].formula == "ZnO"
    assert lib["brucite"].space_group == "P-3m1"
    assert lib["zincite"].space_group == "P6_3mc"  # as the bundled entries write screw axes
    r = invoke("phases", "list", "--library", real("cif/cpd-roundrobin"), "--elements", "Al,O", "--json")
    rows = {row["id"]: row for row in json.loads(r.output)["phases"]} if r.exit_code == 0 else {}
    assert rows["corundum"]["nominal_formula"] == "Al2O3"


def test_formula_and_symbol_helpers():
    assert reduced_formula("Li56La24Zr16O96") == "Li7La3Zr2O12"
    assert reduced_formula("H2MgO2") == "H2MgO2"
    assert reduced_formula("Li6.4La3Zr1.4Ta0.6O12") == "Li6.4La3Zr1.4Ta0.6O12"
    assert compact_hm_symbol("P 21 21 21") == "P2_12_12_1"
    assert compact_hm_symbol("F d -3 m :2") == "Fd-3m"


def test_a_cif_with_implicit_hydrogens_is_refused(real, no_user_folders):
    """kaolinite.cif states Al2 Si2 O9 H4 with no H site: as Al2Si2O9 its mass and wt % would be wrong."""
    cif = real("cif/gsas2-tutorials/kaolinite.cif")
    with pytest.raises(PhasetraceError, match="has H but no atom site holds it"):
        add_user_phase(cif)
    r = invoke("phases", "add", cif)
    assert r.exit_code != 0
    assert [ln for ln in r.output.splitlines() if ln.strip()] == [
        ln for ln in r.output.splitlines() if ln.startswith("phasetrace: error:")
    ]
    # the same CIF given with --library is refused when its reflections are computed
    lib = PhaseLibrary.default([cif], include_user=False)
    with pytest.raises(PhasetraceError, match="implicit atoms"):
        lib.reflections("kaolinite")


def test_messages_name_folders_in_words(real, no_user_folders):
    r = invoke("phases", "remove", "CuO")
    assert "no user phase 'CuO': no user library folder exists yet" in r.output
    folder = no_user_folders / "lib"
    r = invoke("phases", "add", real("cif/dans_diffraction/Sapphire.cif"), "--library-dir", folder)
    assert r.exit_code == 0, r.output
    assert "in the library folder:" in r.output and "library library" not in r.output
    # pymatgen's "Cannot determine chemical composition from CIF! 'NoneType' object is not iterable"
    assert "NoneType" not in r.output and "no chemical formula" in r.output
    r = invoke("phases", "show", "Sapphire", "--library", folder)
    assert "library library" not in r.output
    assert "the same structure as Al2O3" in r.output


def test_bands_without_a_source_show_no_empty_brackets(real, no_user_folders, tmp_path):
    bands = tmp_path / "bands.csv"
    bands.write_text(
        "phase_id,band_cm1,rel_intensity,fwhm_cm1,assignment,source,note\nfluorite,322,1,10,T2g,,\n"
    )
    r = invoke("phases", "add", real("cif/cpd-roundrobin/fluorite.cif"), "--raman", bands)
    assert r.exit_code == 0, r.output
    r = invoke("phases", "show", "fluorite")
    assert "322.0" in r.output and "[]" not in r.output


def test_a_reflection_list_cached_before_the_check_is_refused_too(real, monkeypatch, no_user_folders):
    """A kaolinite list in the disk cache from an older version does not slip past the implicit-H check."""
    import phasetrace.library.phases as phases
    import phasetrace.library.validate as validate

    cif = real("cif/gsas2-tutorials/kaolinite.cif")
    with monkeypatch.context() as m:
        for module in (validate, phases):  # the version before the check
            m.setattr(module, "check_formula_sites", lambda *a, **k: None)
        PhaseLibrary.default([cif], include_user=False).reflections("kaolinite")  # cached, unchecked
    with pytest.raises(PhasetraceError, match="implicit atoms"):
        PhaseLibrary.default([cif], include_user=False).reflections("kaolinite")
