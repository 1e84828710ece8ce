"""The index of a large CIF folder: its lines against the reflection lists, caching, and candidate ranking."""

from __future__ import annotations

import json
import os
import random
import time

import numpy as np
import pytest
from benchmarks.library_index import make_variant_folder, probe
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.library import index as ix
from phasetrace.library import phases as phases_module
from phasetrace.library.crystallography import lorentz_polarisation
from phasetrace.library.index import LibraryIndex, ObservedPeaks, index_cif, read_cif
from phasetrace.library.phases import INDEX_MIN_FILES, PhaseLibrary

#: CIFs in the generated folder: a few thousand, built in well under a minute on 2 idle cores.
N_FOLDER = 2000


def _cu_intensity(d, mf2):
    tt = np.degrees(2 * np.arcsin(1.540598 / (2 * np.asarray(d))))
    return np.asarray(mf2) * lorentz_polarisation(tt)


def test_index_lines_agree_with_the_reflection_lists(library):
    """The index's quick structure factors give the strongest lines of every bundled phase."""
    for p in library.phases:
        if p.origin != "bundled":
            continue
        e = index_cif(p.cif_path)
        assert e["error"] is None, e["error"]
        assert set(e["elements"]) == set(p.elements), p.id
        tab = library.reflections(p).table((1.540598,), two_theta_range=(5, 95))
        d, inten = np.array(e["d"]), _cu_intensity(e["d"], e["mf2"])
        # lines closer than 0.002 Å are one peak: compare summed intensities, relative to the strongest
        ref, mine = [], []
        for k in np.argsort(-tab["intensity"])[:5]:
            near = np.abs(d - tab["d"][k]) < 2e-3
            assert near.any(), (p.id, tab["hkl"][k])
            ref.append(tab["intensity"][np.abs(tab["d"] - tab["d"][k]) < 2e-3].sum())
            mine.append(inten[near].sum())
        ref, mine = 100 * np.array(ref) / max(ref), 100 * np.array(mine) / max(mine)
        np.testing.assert_allclose(mine, ref, atol=8.0, rtol=0.2, err_msg=p.id)


def test_cif_reader_handles_quoted_values_loops_and_text_fields():
    text = """data_x
_journal_name_full 'J. O'Keeffe Chem.'
_publ_section_title
;
A title over
two lines
;
_cell_length_a 4.2(1)
_cell_length_b 4.2
_cell_length_c 4.2
_cell_angle_alpha 90
_cell_angle_beta 90.0(2)
_cell_angle_gamma 90
loop_
_space_group_symop_operation_xyz
'x,y,z' '-x,-y,-z'
loop_
_atom_site_label _atom_site_fract_x _atom_site_fract_y _atom_site_fract_z _atom_site_U_iso_or_equiv
Mg1 0 0 0 0.005  # a comment
O1 0.5 0.5 0.5 .
"""
    st = read_cif(text)
    assert st.cell[0] == pytest.approx(4.2) and st.elements == ["Mg", "O"]
    assert st.b_iso[0] == pytest.approx(8 * np.pi**2 * 0.005) and st.b_iso[1] == pytest.approx(0.7)
    with pytest.raises(ix.IndexError_, match="no data block with atom sites"):
        read_cif("data_y\n_cell_length_a 3\n")
    # a CIF that names its space group but lists no operators is expanded by pymatgen
    no_ops = text.replace("loop_\n_space_group_symop_operation_xyz\n'x,y,z' '-x,-y,-z'\n", "")
    no_ops = no_ops.replace("_cell_angle_gamma 90", "_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'F m -3 m'")
    st = read_cif(no_ops)
    assert sorted(st.elements).count("Mg") == 4 and len(st.ops) == 1


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A few thousand CIFs made from the bundled phases by element substitution and cell scaling."""
    path = tmp_path_factory.mktemp("cod-like") / "cifs"
    made = make_variant_folder(path, N_FOLDER, seed=3)
    return path, made


@pytest.fixture(scope="module")
def index(folder):
    return LibraryIndex.open(folder[0], jobs=2)


@pytest.mark.slow
def test_index_builds_once_and_ranks_members_first(library, folder, index):
    path, made = folder
    assert index.stats["files"] == N_FOLDER and index.stats["indexed"] == N_FOLDER
    assert index.stats["errors"] == 0 and len(index) == N_FOLDER
    cpu = index.stats["seconds"]
    print(f"index of {N_FOLDER} CIFs built in {cpu:.1f} s (wall, 2 processes)")
    again = LibraryIndex.open(path, jobs=2)
    assert again.stats["reused"] == N_FOLDER and again.stats["indexed"] == 0
    assert again.digest == index.digest
    # scans simulated from members of the folder: the member ranks first among thousands, or right behind
    # its twin: the same substitutions and scale on a parent of the same structure family whose cell is
    # within 0.5 % (NMC622 and NMC631 are such parents), a pair no powder pattern tells apart
    for k, member in enumerate(random.Random(5).sample(made, 8)):
        rank, seconds = probe(index, path, member, seed=k)
        assert seconds < 0.5
        twins = [m for m in made if _twins(library, member, m)]
        assert rank is not None and rank <= 1 + len(twins), (member["name"], rank, [m["name"] for m in twins])


def _twins(lib, a, b):
    """Two folder members that are the same variant of two isostructural parents with cells within 0.5 %."""
    if a["name"] == b["name"] or a["subs"] != b["subs"] or a["scale"] != b["scale"]:
        return False
    pa, pb = lib[a["parent"]], lib[b["parent"]]
    if pa.family != pb.family or pa.space_group != pb.space_group:
        return False
    ca, cb = lib.reflections(pa).cell, lib.reflections(pb).cell
    return bool(np.allclose(ca[:3], cb[:3], rtol=5e-3) and np.allclose(ca[3:], cb[3:], atol=0.1))


def test_index_is_updated_by_hash_and_rebuilt_for_a_new_schema(tmp_path, monkeypatch):
    path = tmp_path / "small"
    made = make_variant_folder(path, 40, seed=1)
    cache = tmp_path / "cache"
    first = LibraryIndex.open(path, cache_dir=cache, jobs=1)
    assert first.stats["indexed"] == 40 and first.path.parent == cache / "index"
    a, b, c = (path / m["name"] for m in made[:3])
    a.write_text(a.read_text().replace("_cell_length_a ", "_cell_length_a 1", 1))  # new bytes
    st = b.stat()
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched, same bytes
    c.unlink()
    second = LibraryIndex.open(path, cache_dir=cache, jobs=1)
    assert second.stats == {**second.stats, "indexed": 1, "rehashed": 1, "removed": 1, "reused": 37}
    assert second.digest != first.digest
    monkeypatch.setattr(ix, "SCHEMA", ix.SCHEMA + 1)
    third = LibraryIndex.open(path, cache_dir=cache, jobs=1)
    assert third.stats["indexed"] == 39


def test_unreadable_files_are_listed_not_fatal(tmp_path, monkeypatch):
    path = tmp_path / "mixed"
    make_variant_folder(path, 5, seed=2)
    (path / "broken.cif").write_text("data_broken\n_cell_length_a 3\nloop_\n_atom_site_label\n_atom_site_fract_x\nX 0\n")
    idx = LibraryIndex.open(path, cache_dir=tmp_path / "cache", jobs=1)
    assert len(idx) == 5 and set(idx.errors) == {"broken.cif"}
    assert "broken.cif" in idx.errors["broken.cif"]
    # phases list names them (a folder this small is not indexed by the library on its own)
    monkeypatch.setattr(phases_module, "INDEX_MIN_FILES", 5)
    r = CliRunner().invoke(main, ["phases", "list", "--library", str(path), "--json"])
    assert r.exit_code == 0, r.output
    (folder,) = json.loads(r.output)["indexed_folders"]
    assert folder["cifs"] == 5 and set(folder["errors"]) == {"broken.cif"}


@pytest.mark.slow
def test_large_library_folder_through_the_library_and_identify(folder, index):
    path, made = folder
    assert N_FOLDER >= INDEX_MIN_FILES
    lib = PhaseLibrary.default(extra=[path])
    assert len(lib.indexes) == 1 and len(lib) < 200  # indexed, not loaded whole
    member = next(m for m in random.Random(11).sample(made, 50) if m["parent"] in ("LiCoO2", "LaCoO3", "NiO"))
    single = PhaseLibrary.default(extra=[path / member["name"]])
    from phasetrace.io import save
    from phasetrace.peaks import search_peaks
    from phasetrace.simulate import simulate_xrd

    scan = simulate_xrd(single, {member["id"]: 100}, seed=4)
    peaks = ObservedPeaks.from_search(search_peaks(scan))
    els = single[member["id"]].elements
    t0 = time.perf_counter()
    chosen = lib.select(elements=els, peaks=peaks)
    assert time.perf_counter() - t0 < 0.5
    ids = [p.id for p in chosen]
    assert member["id"] in ids and lib[member["id"]].scope == "index"
    assert member["id"] in lib  # found by id in a fresh library too (series workers look phases up by id)
    assert member["id"] in PhaseLibrary.default(extra=[path])
    # the command line: identify with --library on the folder ranks the member first
    f = path.parent / "member.xy"
    save(scan, f)
    r = CliRunner().invoke(
        main,
        ["identify", str(f), "--elements", ",".join(sorted(els)), "--library", str(path), "--no-fit", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["candidates"][0]["id"] == member["id"]
    # fit picks its candidates from the folder the same way, and quantifies the member
    r = CliRunner().invoke(
        main, ["fit", str(f), "--elements", ",".join(sorted(els)), "--library", str(path), "--json"]
    )
    assert r.exit_code == 0, r.output
    wt = {p["id"]: p["wt_percent"] for p in json.loads(r.output)["phases"] if p["detected"]}
    assert wt == {member["id"]: pytest.approx(100.0)}
    # a series takes the candidates of a system from the peaks of all its XRD scans (a list)
    other = ObservedPeaks(peaks.two_theta[:3], peaks.height[:3], peaks.wavelength, peaks.scan_range)
    fresh = PhaseLibrary.default(extra=[path])
    assert member["id"] in [p.id for p in fresh.select(elements=els, peaks=[other, peaks])]
