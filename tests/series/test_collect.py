"""Collecting a batch of plain instrument files: names, --system, manifests, replicates, bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.errors import PhasetraceError
from phasetrace.series import collect, group_by_system
from phasetrace.series.collect import nothing_usable

#: what researchers call the scans of one heating series (no metadata inside the files)
NAMES = {
    "LCO_LLZTO_RT.xy": 25.0,
    "20240312_LCO_LLZTO_600C.xy": 600.0,
    "LCO_LLZTO_700degC.xy": 700.0,
    "LCO_LLZTO_T700_b.xy": 700.0,
    "LCO+LLZTO_900C_2h_O2.xy": 900.0,
}


def _xrd(path):
    x = np.arange(10.0, 80.0, 0.05)
    np.savetxt(path, np.c_[x, 100 + 50 * np.exp(-((x - 30) ** 2) / 0.01)], fmt="%.3f")
    return path


def _raman(path):
    x = np.arange(100.0, 1500.0, 1.0)
    np.savetxt(path, np.c_[x, 100 + 50 * np.exp(-((x - 600) ** 2) / 50)], fmt="%.3f")
    return path


@pytest.fixture
def plain(tmp_path):
    for n in NAMES:
        _xrd(tmp_path / n)
    return tmp_path


def test_system_applies_to_every_plain_file(plain):
    found = collect(plain, system="LCO + LLZTO")
    assert not found.problems and not found.warnings
    assert {e.system for e in found.entries} == {"LCO + LLZTO"}
    assert sorted(e.temperature_C for e in found.entries) == sorted(NAMES.values())
    assert {e.path.name: e.label for e in found.entries}["LCO_LLZTO_RT.xy"] == "RT"
    # the system reaches the workers, which load the file again
    assert all(e.meta["system"] == "LCO + LLZTO" for e in found.entries)


def test_spellings_of_one_system_form_one_series(plain):
    ((name, entries),) = group_by_system(collect(plain).entries).items()
    assert name == "LCO_LLZTO" and len(entries) == len(NAMES)
    assert [e.temperature_C for e in entries] == sorted(NAMES.values())


def test_replicates_are_kept_and_named(plain):
    entries = collect(plain, system="LCO + LLZTO").entries
    at700 = sorted((e.path.name, e.replicate) for e in entries if e.temperature_C == 700)
    # one name says "b", the other nothing: they are numbered in file order
    assert at700 == [("LCO_LLZTO_700degC.xy", "1"), ("LCO_LLZTO_T700_b.xy", "2")]
    assert {e.replicate for e in entries if e.temperature_C != 700} == {""}


def test_an_output_folder_inside_the_source_is_not_read_as_scans(plain):
    out = plain / "results"
    out.mkdir()
    (out / "series.sqlite").write_bytes(b"")
    _xrd(out / "profile_LCO_LLZTO_700C.csv")
    found = collect(plain, system="LCO + LLZTO")
    assert len(found.entries) == len(NAMES) and not found.problems


def test_technique_comes_from_the_content_not_the_name(tmp_path):
    _raman(tmp_path / "LCO_LLZTO_700C_xrd.txt")
    _xrd(tmp_path / "LCO_LLZTO_700C_raman.xy")
    tech = {e.path.name: e.technique for e in collect(tmp_path, system="LCO + LLZTO").entries}
    assert tech == {"LCO_LLZTO_700C_xrd.txt": "raman", "LCO_LLZTO_700C_raman.xy": "xrd"}


def test_files_without_temperature_are_problems_that_say_how_to_name_them(tmp_path):
    _xrd(tmp_path / "scan1.xy")
    _xrd(tmp_path / "LCO_LLZTO_800C.xy")
    found = collect(tmp_path, system="LCO + LLZTO")
    assert [e.path.name for e in found.entries] == ["LCO_LLZTO_800C.xy"]
    ((f, msg),) = found.problems
    assert f.endswith("scan1.xy") and "no temperature" in msg
    assert "LCO_LLZTO_700C" in msg and "manifest" in msg
    _xrd(tmp_path / "700C.xy")  # a temperature and no system: --system gives it one
    assert any(p.endswith("700C.xy") and "no system" in m for p, m in collect(tmp_path).problems)
    assert "700C.xy" in [e.path.name for e in collect(tmp_path, system="LCO + LLZTO").entries]


def test_a_temperature_that_is_not_finite_is_a_problem(tmp_path):
    # the file's own header states it (the loader reads it as given)
    _xrd(tmp_path / "a.xy")
    text = (tmp_path / "a.xy").read_text()
    (tmp_path / "a.xy").write_text("# phasetrace: scan\n# kind: xrd\n# temperature_C: -inf\n" + text)
    found = collect(tmp_path, system="LCO + LLZTO")
    # (refused here, or by the loader when it checks headers itself)
    ((f, msg),) = found.problems
    assert not found.entries and f.endswith("a.xy") and "temperature" in msg and "inf" in msg


def test_manifest_with_other_column_names_replicates_and_unlisted_files(tmp_path):
    for n in ("p1.xy", "p2.xy", "p3.xy", "stray.xy", "LCO_LLZTO_700C.xy"):
        _xrd(tmp_path / n)
    (tmp_path / "manifest.csv").write_text(
        "Filename,Material,T (°C),Tech\n"
        "p1.xy,pc-LCO + LLZTO,700,XRD\n"
        "p2.xy,pc-LCO + LLZTO,700,XRD\n"
        "p3.xy,pc-NMC811 + LLZTO,RT,XRD\n",
        encoding="utf-8",
    )
    found = collect(tmp_path, system="pc-LCO + LLZTO")
    groups = group_by_system(found.entries)
    # two scans of one system, technique and temperature: both kept
    assert [(e.path.name, e.replicate) for e in groups["pc-LCO + LLZTO"]] == [("p1.xy", "1"), ("p2.xy", "2")]
    # the manifest's own system wins over --system, and the run says so
    assert [e.path.name for e in groups["pc-NMC811 + LLZTO"]] == ["p3.xy"]
    unlisted, not_applied = found.warnings
    assert "manifest.csv: 2 file(s)" in unlisted and "LCO_LLZTO_700C.xy, stray.xy" in unlisted
    assert "not applied to 1 file(s)" in not_applied and "p3.xy" in not_applied
    # the manifest named as the source gives the same
    assert collect(tmp_path / "manifest.csv").warnings[0] == unlisted


def test_a_single_scan_file_is_a_series_of_one(plain):
    entries, problems = collect(plain / "LCO_LLZTO_700degC.xy")
    assert [(e.system, e.temperature_C) for e in entries] == [("LCO_LLZTO", 700.0)] and not problems


def test_nothing_usable_is_one_line(tmp_path):
    with pytest.raises(PhasetraceError, match="no such folder or manifest"):
        collect(tmp_path / "missing")
    assert nothing_usable(tmp_path, []) == f"{tmp_path}: no scan files found"
    msg = nothing_usable(tmp_path, [("a.xy", "a.xy: bad"), ("b.xy", "b.xy: bad")])
    assert msg == f"{tmp_path}: none of its 2 file(s) can be used; first: a.xy: bad"


@pytest.mark.parametrize("make", ["missing", "empty", "no_temperature"])
def test_series_without_usable_scans_exits_2_with_one_line_and_no_output(tmp_path, make):
    src = tmp_path / "src"
    if make != "missing":
        src.mkdir()
    if make == "no_temperature":
        for i in range(3):
            _xrd(src / f"scan{i}.xy")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["series", str(src), "--out", str(out), "--system", "LCO + LLZTO"])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("phasetrace: error: ") and str(src) in lines[0]
    assert not out.exists()


def test_no_system_message_says_elements_do_not_replace_it(tmp_path):
    """Finding 17: ``series --elements`` without --system said only "no system"."""
    _xrd(tmp_path / "700C.xy")
    (msg,) = [m for p, m in collect(tmp_path).problems if p.endswith("700C.xy")]
    assert "give --system NAME, which --elements does not replace" in msg


def test_instrument_and_structure_files_beside_the_scans_are_left_out_not_failed(tmp_path):
    """Finding 20: GSAS-II's SeqTut folder holds OH_00.prm (instrument parameters) and the phases' CIFs;
    the .prm was counted as a failed scan ("1 failed"). Listed in a manifest, it is still an error."""
    from tests.library.test_crystallography import NIO_CIF

    _xrd(tmp_path / "LCO_LLZTO_700C.xy")
    (tmp_path / "OH_00.prm").write_text(
        "INS   BANK      1\nINS   HTYPE   PXCR\nINS  1 ICONS 0.4132630    0.0000    0.0000\n", encoding="utf-8"
    )
    (tmp_path / "NiO.cif").write_text(NIO_CIF, encoding="utf-8")
    found = collect(tmp_path)
    assert [e.path.name for e in found.entries] == ["LCO_LLZTO_700C.xy"] and found.problems == []
    notes = "\n".join(found.warnings)
    assert "OH_00.prm: is a GSAS instrument-parameter file, not a scan (its wavelength: 0.4132630 Å" in notes
    assert "NiO.cif: is a crystal-structure CIF without powder data" in notes
    (tmp_path / "manifest.csv").write_text(
        "file,system,temperature_C\nLCO_LLZTO_700C.xy,LCO_LLZTO,700\nOH_00.prm,LCO_LLZTO,800\n", encoding="utf-8"
    )
    assert [p.endswith("OH_00.prm") for p, _ in collect(tmp_path).problems] == [True]
