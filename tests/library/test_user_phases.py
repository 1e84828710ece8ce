"""User phases as first-class library members: add, remove, roles, Raman bands, project and global folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.library.phases import (
    LibraryError,
    PhaseLibrary,
    add_user_phase,
    project_library_dir,
    read_band_csv,
    remove_user_phase,
)


def fluorite_cif(a: float = 5.4113) -> str:
    """CeO2 (fluorite, Fm-3m), a phase the bundled library does not have, with every symmetry operator."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Ce", "O"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    return str(CifWriter(s))


#: Ceria's one first-order Raman band (F2g), as in W. H. Weber, K. C. Hass, J. R. McBride, Phys. Rev. B 48
#: (1993) 178: the same columns as reference_patterns/raman_bands.csv.
CEO2_BANDS = (
    "phase_id,band_cm1,rel_intensity,fwhm_cm1,assignment,source,note\n"
    'CeO2_user,465,1.0,12,F2g O-Ce-O stretch,"W. H. Weber, K. C. Hass, J. R. McBride, Phys. Rev. B 48 (1993) 178",\n'
)


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Fresh project-local and global folders; the working directory is the project's root."""
    project_root = tmp_path / "project"
    (project_root / ".phasetrace" / "library").mkdir(parents=True)
    monkeypatch.delenv("PHASETRACE_PROJECT_LIBRARY", raising=False)
    monkeypatch.setenv("PHASETRACE_USER_LIBRARY", str(tmp_path / "global"))
    monkeypatch.chdir(project_root)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "CeO2.cif").write_text(fluorite_cif())
    (inputs / "bands.csv").write_text(CEO2_BANDS)
    return {"project": project_root / ".phasetrace" / "library", "global": tmp_path / "global", "in": inputs}


def invoke(*args):
    """Run the phasetrace command line in-process."""
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(r) -> str:
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2, r.output
    assert len(lines) == 1 and lines[0].startswith("phasetrace: error:"), r.output
    assert "Traceback" not in r.output
    return lines[0]


def test_project_folder_is_found_from_a_subdirectory(folders, monkeypatch):
    sub = folders["project"].parents[1] / "scans" / "day1"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert project_library_dir() == folders["project"].resolve()
    monkeypatch.setenv("PHASETRACE_PROJECT_LIBRARY", str(folders["project"].parent / "elsewhere"))
    assert project_library_dir() == folders["project"].parent / "elsewhere"


def test_add_writes_to_the_project_folder_and_refuses_to_overwrite(folders):
    cif, bands = folders["in"] / "CeO2.cif", folders["in"] / "bands.csv"
    before = cif.read_bytes()
    r = invoke("phases", "add", cif, "--id", "CeO2_user", "--role", "secondary", "--raman", bands, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["library"] == "project" and Path(doc["folder"]).resolve() == folders["project"].resolve()
    assert doc["formula"] == "CeO2" and doc["raman_bands"] == 1 and doc["role"] == "secondary"
    assert cif.read_bytes() == before  # the input is never modified
    line = one_error_line(invoke("phases", "add", cif, "--id", "CeO2_user"))
    assert "'CeO2_user' is already in" in line and "--force" in line
    r = invoke("phases", "add", cif, "--id", "CeO2_user", "--role", "contaminant", "--force", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["replaced"] is True
    lib = PhaseLibrary.default()
    # replaced completely: the new role, and no bands left from the old entry
    assert lib["CeO2_user"].role == "contaminant" and lib.raman_bands("CeO2_user") is None
    assert lib["CeO2_user"].scope == "project"
    # a contaminant is tested in every sample, whatever its elements
    assert "CeO2_user" in lib.materials["always_candidates"]
    assert "CeO2_user" in {p.id for p in lib.select(elements={"Li", "Co", "O"}, always=lib.materials["always_candidates"])}


def test_global_folder_and_project_shadowing(folders):
    cif = folders["in"] / "CeO2.cif"
    r = invoke("phases", "add", cif, "--id", "CeO2_user", "--global", "--role", "host", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["library"] == "global"
    assert (folders["global"] / "CeO2_user.cif").is_file()
    assert PhaseLibrary.default()["CeO2_user"].scope == "global"
    # the project's phase of the same id hides the global one
    r = invoke("phases", "add", cif, "--id", "CeO2_user", "--project", "--role", "secondary")
    assert r.exit_code == 0, r.output
    lib = PhaseLibrary.default()
    assert lib["CeO2_user"].scope == "project" and lib["CeO2_user"].role == "secondary"
    listed = json.loads(invoke("phases", "list", "--json").output)["phases"]
    scopes = {p["id"]: p["scope"] for p in listed}
    assert scopes["CeO2_user"] == "project" and scopes["LLZO_cubic"] == "bundled"
    text = invoke("phases", "list").output
    assert "from" in text.splitlines()[0] and f"project: {folders['project']}" in text
    # remove takes the project's first, then the global one
    assert remove_user_phase("CeO2_user")[0] == "project"
    assert PhaseLibrary.default()["CeO2_user"].scope == "global"
    assert remove_user_phase("CeO2_user")[0] == "global"
    assert "CeO2_user" not in PhaseLibrary.default()


def test_bundled_phases_cannot_be_removed_or_reused(folders):
    line = one_error_line(invoke("phases", "remove", "LLZO_cubic"))
    assert "'LLZO_cubic' is a bundled phase and cannot be removed" in line
    line = one_error_line(invoke("phases", "remove", "NoSuchPhase"))
    assert "no user phase 'NoSuchPhase'" in line
    line = one_error_line(invoke("phases", "add", folders["in"] / "CeO2.cif", "--id", "MgO"))
    assert "a bundled phase is already called 'MgO'" in line and "--id" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("phase_id,band_cm1,rel_intensity\nCeO2_user,465,1\n", "missing column(s) fwhm_cm1"),
        ("phase_id,band_cm1,rel_intensity,fwhm_cm1\nCeO2_user,abc,1,12\n", "row 2: band_cm1 'abc' is not a number"),
        ("phase_id,band_cm1,rel_intensity,fwhm_cm1\nCeO2_user,465,1,12\nCeO2_user,9000,1,12\n", "row 3: band_cm1 9000 is outside"),
        ("phase_id,band_cm1,rel_intensity,fwhm_cm1\nCeO2_user,465,-1,12\n", "rel_intensity -1 must be positive"),
        ("phase_id,band_cm1,rel_intensity,fwhm_cm1\nCeO2_user,465,1,0\n", "fwhm_cm1 0 is outside"),
        ("phase_id,band_cm1,rel_intensity,fwhm_cm1\nOther,465,1,12\n", "no band rows for phase 'CeO2_user' (it has rows for Other)"),
        ("", "no header and no rows"),
    ],
)
def test_band_files_are_validated(folders, content, message):
    bad = folders["in"] / "bad_bands.csv"
    bad.write_text(content)
    line = one_error_line(invoke("phases", "add", folders["in"] / "CeO2.cif", "--id", "CeO2_user", "--raman", bad))
    assert message in line and "bad_bands.csv" in line
    assert not (folders["project"] / "CeO2_user.cif").exists()  # nothing stored on a refused add


def test_silent_row_and_bands_of_a_multi_phase_file(folders):
    f = folders["in"] / "many.csv"
    f.write_text(CEO2_BANDS + "Other,300,1,10,,,\nRockSalt,,,,,,silent: no first-order Raman (Fm-3m rock salt)\n")
    assert [b.position for b in read_band_csv(f, "CeO2_user")] == [465.0]
    assert read_band_csv(f, "RockSalt") == []
    res = add_user_phase(folders["in"] / "CeO2.cif", phase_id="RockSalt", raman=f)
    assert res.bands == [] and PhaseLibrary.default().is_raman_silent("RockSalt")
    with pytest.raises(LibraryError, match="no user phase"):
        remove_user_phase("RockSalt", where="global")
    remove_user_phase("RockSalt", where="project")
    assert not (folders["project"] / "raman_bands.csv").exists()


def test_a_user_phase_through_simulate_series_identify_and_fit(folders, tmp_path):
    """End to end: add a phase with a role and Raman bands, simulate a heating series that forms it,
    find it with its onset, identify and fit it in one scan, then remove it."""
    r = invoke("phases", "add", folders["in"] / "CeO2.cif", "--id", "CeO2_user", "--role", "secondary",
            "--family", "fluorite", "--raman", folders["in"] / "bands.csv")
    assert r.exit_code == 0, r.output
    scans = tmp_path / "scans"
    scans.mkdir()
    plan = {600: "LLZTO_cubic=70,LiCoO2=30", 700: "LLZTO_cubic=70,LiCoO2=30",
            800: "LLZTO_cubic=67,LiCoO2=29,CeO2_user=4", 900: "LLZTO_cubic=65,LiCoO2=28,CeO2_user=7"}
    for n, (t, mix) in enumerate(plan.items()):
        r = invoke("simulate", "--phases", mix, "--out", scans / f"pc-LCO + LLZTO-{t}.xy", "--seed", n)
        assert r.exit_code == 0, r.output
        r = invoke("simulate", "--technique", "raman", "--phases", mix, "--out",
                scans / f"pc-LCO + LLZTO-{t}_raman.txt", "--seed", 10 + n)
        assert r.exit_code == 0, r.output
    r = invoke("series", scans, "--out", tmp_path / "out", "--no-figures", "--json",
            "--elements", "Li,La,Zr,Ta,Co,O,Ce")
    assert r.exit_code == 0, r.output
    (system,) = json.loads(r.output)["systems"]
    ceo2 = next(p for p in system["phases"] if p["id"] == "CeO2_user")
    assert ceo2["role"] == "secondary"
    assert ceo2["onset"] == {"xrd": [700.0, 800.0], "raman": [700.0, 800.0], "combined": [700.0, 800.0]}
    assert ceo2["wt_percent_by_T"]["900"]["wt_percent"] == pytest.approx(7.0, abs=0.5)
    assert ceo2["wt_percent_by_T"]["600"]["detected_xrd"] is False
    # identify and fit one scan with the user phase
    scan = scans / "pc-LCO + LLZTO-900.xy"
    r = invoke("identify", scan, "--elements", "Li,La,Zr,Ta,Co,O,Ce", "--no-fit", "--json")
    assert r.exit_code == 0, r.output
    assert "CeO2_user" in [c["id"] for c in json.loads(r.output)["candidates"][:4]]
    r = invoke("fit", scan, "--phases", "LLZTO_cubic,LiCoO2,CeO2_user", "--json")
    assert r.exit_code == 0, r.output
    wt = {p["id"]: p["wt_percent"] for p in json.loads(r.output)["phases"]}
    assert wt["CeO2_user"] == pytest.approx(7.0, abs=0.5)
    # removed: gone from the library and from every command
    r = invoke("phases", "remove", "CeO2_user", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["library"] == "project"
    assert "CeO2_user" not in {p["id"] for p in json.loads(invoke("phases", "list", "--json").output)["phases"]}
    assert "unknown phase 'CeO2_user'" in one_error_line(invoke("phases", "show", "CeO2_user"))
    assert sorted(q.name for q in folders["project"].iterdir()) == []


def test_a_long_lived_process_sees_phases_added_and_removed(folders):
    """The series workers keep their library per process: an add or remove in between must show.

    Before the key held the user folders' state, a process that had analysed one series (the report
    tests' fixture, a notebook) analysed the next without a phase added meanwhile.
    """
    from phasetrace.series import tasks

    assert "CeO2_user" not in tasks._library([])
    add_user_phase(folders["in"] / "CeO2.cif", phase_id="CeO2_user")
    assert "CeO2_user" in tasks._library([])
    remove_user_phase("CeO2_user", where="project")
    assert "CeO2_user" not in tasks._library([])
