"""The command line: JSON outputs, examples in --help, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phasetrace import __version__
from phasetrace.cli import main
from phasetrace.io import load
from tests.library.test_crystallography import NIO_CIF


@pytest.fixture
def run():
    runner = CliRunner()

    def _run(*args):
        return runner.invoke(main, list(map(str, args)))

    return _run


def test_version(run):
    r = run("--version")
    assert r.exit_code == 0 and __version__ in r.output


@pytest.mark.parametrize("command", [["info"], ["formats"], ["phases", "list"], ["phases", "show"],
                                     ["phases", "add"], ["simulate"]])
def test_every_command_has_help_with_example_and_json(run, command):
    r = run(*command, "--help")
    assert r.exit_code == 0
    assert "Example" in r.output
    assert "--json" in r.output


def test_phases_list_json_by_system(run):
    r = run("phases", "list", "--system", "pc-LCO + LLZTO", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    ids = {p["id"] for p in doc["phases"]}
    assert {"LiCoO2", "LLZTO_cubic", "La2Zr2O7", "LaCoO3", "MgO", "Li2CO3"} <= ids
    assert "NiO" not in ids and "LaNiO3" not in ids
    assert all(p["formula"] for p in doc["phases"])


def test_phases_list_by_elements_text(run):
    r = run("phases", "list", "--elements", "Li,La,Zr,O")
    assert r.exit_code == 0
    assert "La2Zr2O7" in r.output and "LaCoO3" not in r.output


def test_phases_show_json(run):
    r = run("phases", "show", "La2Zr2O7", "--json")
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["id"] == "La2Zr2O7" and doc["formula"] == "La2Zr2O7"
    strongest = max(doc["reflections"], key=lambda x: x["intensity"])
    assert strongest["hkl"] == [2, 2, 2]
    assert strongest["two_theta_ka1"] == pytest.approx(28.6, abs=0.1)
    assert strongest["two_theta_ka2"] > strongest["two_theta_ka1"]
    assert doc["raman_bands"][0]["position"] == pytest.approx(304)


def test_phases_show_silent_phase_text(run):
    r = run("phases", "show", "NiO")
    assert r.exit_code == 0 and "silent" in r.output


def test_unknown_phase_is_one_line_exit_2(run):
    r = run("phases", "show", "la2zr2o7")
    assert r.exit_code == 2
    assert r.output.strip() == "phasetrace: error: unknown phase 'la2zr2o7'; did you mean 'La2Zr2O7'?"


def test_unknown_system_token(run):
    r = run("phases", "list", "--system", "LCO + XYZ")
    assert r.exit_code == 2 and "unknown material 'xyz'" in r.output and "Traceback" not in r.output


def test_phases_add_then_used_everywhere(run, tmp_path):
    cif = tmp_path / "MyNiO.cif"
    cif.write_text(NIO_CIF)
    r = run("phases", "add", cif, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["id"] == "MyNiO" and doc["formula"] == "NiO"
    listed = json.loads(run("phases", "list", "--elements", "Ni,O", "--json").output)
    assert "MyNiO" in {p["id"] for p in listed["phases"]}
    out = tmp_path / "sim.xy"
    r = run("simulate", "--phases", "MyNiO=1", "--out", out, "--seed", 1)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not a CIF", "cannot parse the CIF"),
        (NIO_CIF.replace("Ni1 Ni 0 0 0 1 0.40", "Ni1 Ni 0 0 0 1.6 0.40"), "occupancy"),
        (NIO_CIF.replace("_cell_length_a 4.1770", "_cell_length_a 41.770"), "density"),
    ],
)
def test_phases_add_refuses_bad_cifs(run, tmp_path, content, message):
    cif = tmp_path / "bad.cif"
    cif.write_text(content)
    r = run("phases", "add", cif)
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("phasetrace: error:") and message in lines[0]
    assert "bad.cif" in lines[0]


@pytest.mark.parametrize("suffix", [".xy", ".csv", ".xye"])
def test_simulate_writes_a_loadable_file(run, tmp_path, suffix):
    out = tmp_path / f"mix{suffix}"
    r = run("simulate", "--phases", "LLZTO_cubic=97,La2Zr2O7=3", "--out", out, "--seed", 2, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert {p["id"]: p["wt_percent"] for p in doc["phases"]} == pytest.approx({"LLZTO_cubic": 97, "La2Zr2O7": 3})
    scan = load(out)
    assert scan.kind == "xrd" and len(scan) == 7001
    assert scan.meta.radiation.kalpha2 == pytest.approx(1.544426)


def test_simulate_raman(run, tmp_path):
    out = tmp_path / "r.txt"
    r = run("simulate", "--technique", "raman", "--phases", "La2Zr2O7=1", "--out", out)
    assert r.exit_code == 0, r.output
    scan = load(out)
    assert scan.kind == "raman" and scan.meta.laser_nm == 532.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phases", "LLZTO_cubic", "--out", "x.xy"], "write ID=WT"),
        (["--phases", "Nope=1", "--out", "x.xy"], "unknown phase 'Nope'"),
        (["--phases", "NiO=1", "--out", "x.unknown"], "no writer for '.unknown'"),
    ],
)
def test_simulate_bad_input(run, tmp_path, args, message):
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    r = run("simulate", *args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_library_option_with_a_folder_and_cif_named_id(run, tmp_path):
    folder = tmp_path / "mylib"
    folder.mkdir()
    (folder / "whatever.cif").write_text(NIO_CIF.replace("data_NiO_test", "data_NiO_test\n_phasetrace_id NiO_mine"))
    r = run("phases", "list", "--elements", "Ni,O", "--library", folder, "--json")
    assert r.exit_code == 0, r.output
    ids = {p["id"]: p for p in json.loads(r.output)["phases"]}
    assert "NiO_mine" in ids and ids["NiO_mine"]["origin"] == "user" and ids["NiO_mine"]["formula"] == "NiO"
    r = run("phases", "show", "NiO_mine", "--library", folder, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["space_group"]


def test_phases_add_warns_on_charge_balance(run, tmp_path):
    # NiO2 in the rock-salt cell: plausible density, but no charge-balanced oxidation states with Ni<=+3
    cif = tmp_path / "Weird.cif"
    cif.write_text(NIO_CIF.replace("O1 O 0.5 0.5 0.5 1 0.60", "O1 O 0.5 0.5 0.5 1 0.60\nO2 O 0.25 0.25 0.25 1 0.6"))
    r = run("phases", "add", cif, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert any("charge-balanced" in w for w in doc["warnings"])


# ---- inputs the command line must answer about clearly (user review 2026-12-04) ----

_KEOKUK = "xrd/formats/gsas2-tutorials/Keokuk_kaolinite.RAW"  # Bruker RAW with two ranges
_SEQTUT = "xrd/insitu/gsas2-tutorials/SeqTut.zip"  # 17 scans of a 7-289 K series in one archive


def _one_error_line(r):
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("phasetrace: error: "), r.output
    return lines[0]


def test_fit_of_a_multi_scan_file_names_the_index_option(run, real):
    """Finding 13: the message named Python's ``index=`` and ``load_all``; fit had no --index."""
    path = real(_KEOKUK)
    line = _one_error_line(run("fit", path, "--phases", "MgO"))
    assert line.endswith(f"{path}: holds 2 scans; choose one with --index 0..1")
    line = _one_error_line(run("fit", path, "--phases", "MgO", "--index", "2"))
    assert "--index must be 0..1, not 2" in line
    r = run("fit", path, "--phases", "MgO", "--index", "1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output[r.output.index("{") :])["phases"][0]["id"] == "MgO"


def test_identify_of_a_multi_scan_file_names_the_index_option(run, real):
    line = _one_error_line(run("identify", real(_KEOKUK), "--elements", "Al,Si,O", "--no-fit"))
    assert "choose one with --index 0..1" in line and "load_all" not in line


def test_series_of_a_zip_says_to_unpack_it(run, real, tmp_path):
    line = _one_error_line(run("series", real(_SEQTUT), "--out", tmp_path / "out"))
    assert line == (
        f"phasetrace: error: {real(_SEQTUT)}: a .zip of 17 scans; a series reads one scan per file: unpack it "
        "into a folder and give the folder ('phasetrace series FOLDER')"
    )


@pytest.fixture
def mgo_scan(run, tmp_path):
    path = tmp_path / "mgo.xy"
    assert run("simulate", "--phases", "MgO=100", "--range", "20", "80", "--out", path).exit_code == 0
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--range", "200", "300"), "--range 200 300 lies outside the scan's 2θ 20–80°"),
        (("--range", "60", "20"), "--range 60 20: give the lower end first (--range 20 60)"),
        (("--zoom", "300", "400", "--plot", "{tmp}/fit.png"), "--zoom 300 400 lies outside the scan's 2θ 20–80°"),
        (("--range", "30", "50", "--zoom", "60", "70"), "--zoom 60 70 lies outside the fitted 2θ 30–50°"),
    ],
)
def test_fit_windows_outside_the_scan_are_named(run, mgo_scan, tmp_path, args, message):
    """Findings 16: these said "none of MgO has a reflection in the scan range", or drew an empty panel."""
    args = [a.format(tmp=tmp_path) for a in args]
    line = _one_error_line(run("fit", mgo_scan, "--phases", "MgO", *args))
    assert line.endswith(message)


def test_fit_of_a_reaction_name_suggests_elements(run, real):
    """Finding 17: "unknown material 'cr2o3'" without a word on what to give instead."""
    path = real("xrd/measured/dara_binary_reactions/Cr2O3-2ZnO_1100C_60min.xrdml")
    line = _one_error_line(run("fit", path))
    assert "unknown material 'cr2o3'" in line and line.endswith("give --elements Cr,O,Zn, --system or --phases")


def test_series_where_every_system_fails_says_so(run, real, tmp_path):
    """Finding 24: it printed "reports: " (empty) and an interactive-report path."""
    src = tmp_path / "scans"
    src.mkdir()
    for name in ("Cr2O3-2ZnO_1100C_60min.xrdml", "CoO-ZnO_1100C_60min.xrdml"):
        (src / name).write_bytes(real(f"xrd/measured/dara_binary_reactions/{name}").read_bytes())
    r = run("series", src, "--out", tmp_path / "out", "--no-figures")
    assert r.exit_code == 2
    assert "reports: none, no series could be analysed" in r.output and "interactive report" not in r.output


def test_info_manifest_that_lists_none_of_the_files_warns(run, mgo_scan, tmp_path):
    """Finding 18: names matching no scan were silently ignored (the scan's own metadata shown)."""
    man = tmp_path / "manifest.csv"
    man.write_text("file,system,temperature_C\nother.xy,MgO,700\n", encoding="utf-8")
    r = run("info", "--manifest", man, mgo_scan)
    assert r.exit_code == 0
    assert f"{man}: lists no row for 1 of the 1 file(s), which keep their own metadata: {mgo_scan}" in r.output
    man.write_text(f"file,system,temperature_C\n{mgo_scan.name},MgO,700\n", encoding="utf-8")
    assert "lists no row" not in run("info", "--manifest", man, mgo_scan).output
