"""The bundled phase library: every phase checked against its literature data, and the library API."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import yaml

from phasetrace.library.formula import parse_formula
from phasetrace.library.phases import LibraryError, bundled_dir
from phasetrace.library.reflections import ReflectionCache
from tests.conftest import real_file

CU_KA1 = 1.540598
PHASE_ENTRIES = yaml.safe_load((bundled_dir() / "phases.yaml").read_text())["phases"]
IDS = [e["id"] for e in PHASE_ENTRIES]

#: Phases the brief requires in the library (issue 3).
REQUIRED = {
    "LLZO_cubic", "LLZTO_cubic", "LLZO_tetragonal", "LiCoO2", "NMC811", "NMC622", "NMC631", "NMC532",
    "NMC111", "LNMO_Fd3m", "LNMO_P4332", "LiMn2O4", "La2Zr2O7", "LaCoO3", "LaNiO3", "LaMnO3_R3c",
    "LaMnO3_Pnma", "La2Ni0.5Li0.5O4", "Li2MnO3", "Li6Zr2O7", "Li2ZrO3", "La2O3", "LaOH3", "NiO", "CoO",
    "Co3O4", "rocksalt_NMC", "LiNiO_rocksalt", "spinel_NMC", "Li2CO3", "LiOH", "LiOH_H2O", "MgO",
}

#: Phases issue 16 adds: co-sintering/interface products, coatings, sulfide cells and more hosts.
ADDED_ISSUE16 = {
    "Mn3O4", "LiMnO2_ortho", "La2O2CO3", "LaAlO3", "LiAlO2_gamma", "LaNi0.5Ti0.5O3", "LiTiO2_cubic",
    "Li4Ti5O12", "LLTO_cubic", "Li6PS5Cl", "Li2S", "Li2O", "LiCl", "Li3PO4_beta", "Li3PS4_gamma", "Al2O3",
    "LiNbO3", "LiTaO3", "Li2TiO3", "ZrO2_mono", "TiO2_rutile", "TiO2_anatase", "MnO", "Mn2O3", "LiNiO2",
    "NCA", "LLZO_Al_cubic", "LLZO_Ga_cubic", "LGPS", "La2Ti2O7",
}

#: Allowed values of ``provenance`` (see the header of phases.yaml).
PROVENANCES = ("published", "published-structure, composition adjusted", "published-cell", "model")

#: Strongest lines per phase with the cell they were computed from (see the file's header).
LINES = list(csv.DictReader(ln for ln in open(os.path.join(os.path.dirname(__file__), "data", "strongest_lines.csv"),
                                              encoding="utf-8") if not ln.startswith("#")))


def test_library_has_every_required_phase(library):
    assert REQUIRED | ADDED_ISSUE16 <= set(library)
    assert len([p for p in library.phases if p.origin == "bundled"]) >= 60
    for p in library.phases:
        assert p.source and p.cif_path.exists(), p.id
        assert p.role in ("host", "secondary", "contaminant", "crucible")


@pytest.mark.parametrize("entry", PHASE_ENTRIES, ids=IDS)
def test_phase_provenance_is_stated(entry):
    """Every bundled phase says how far it is a published refinement; a model says so in its source."""
    assert entry["provenance"] in PROVENANCES
    if entry["provenance"] == "model":
        assert "model" in entry["source"].lower()
    # a journal reference (a year in brackets) or a database id for everything that is not a model
    if entry["provenance"] != "model":
        assert re.search(r"\((19|20)\d\d\)|COD \d{7}", entry["source"]), entry["source"]
    text = (bundled_dir() / entry["cif"]).read_text(encoding="utf-8") + entry["source"]
    assert "to be verified" not in text.replace("\n#", " ").replace("\n", " ")


@pytest.mark.parametrize("pid", ["NMC111", "Li3PO4_beta", "LaCoO3", "LiTiO2_cubic"])
def test_phases_show_states_the_provenance(pid):
    """`phases show` says whether a structure is a published refinement or a model (issue 16), and what
    of its source was re-checked (or that nothing was)."""
    from click.testing import CliRunner

    from phasetrace.cli import main

    entry = next(e for e in PHASE_ENTRIES if e["id"] == pid)
    r = CliRunner().invoke(main, ["phases", "show", pid])
    assert r.exit_code == 0
    assert f"[provenance: {entry['provenance']}]" in r.output
    checked = next(ln for ln in r.output.splitlines() if ln.startswith("  checked: "))
    if entry.get("checked"):
        assert " ".join(entry["checked"].split())[:60] in checked
    else:
        assert "not re-checked against the original publication" in checked


def test_every_model_says_where_a_published_structure_was_sought():
    """Issue 16 allows a model only where no published structure is at hand: each model's 'checked' records
    the search and names the database entries that hold a refinement of its composition (or that none was
    found), so that the next curator knows which entry to transcribe; `phases show` prints it."""
    models = [e for e in PHASE_ENTRIES if e["provenance"] == "model"]
    assert models
    for e in models:
        checked = " ".join(str(e.get("checked") or "").split())
        assert "search" in checked, e["id"]
        assert re.search(r"\b(COD|ICSD) \d{4,7}\b", checked) or re.search(r"\bno [\w -]*entry\b", checked), e["id"]


def test_phases_list_counts_the_provenance(tmp_path, monkeypatch):
    """`phases list` gives every phase's provenance and the published / published-cell / model counts."""
    from click.testing import CliRunner

    from phasetrace.cli import main

    monkeypatch.setenv("PHASETRACE_USER_LIBRARY", str(tmp_path / "no-user-library"))
    monkeypatch.setenv("PHASETRACE_PROJECT_LIBRARY", str(tmp_path / "no-project-library"))
    r = CliRunner().invoke(main, ["phases", "list", "--json"])
    assert r.exit_code == 0
    import json

    shown = {row["id"]: row["provenance"] for row in json.loads(r.output)["phases"]}
    assert shown == {e["id"]: e["provenance"] for e in PHASE_ENTRIES}
    text = CliRunner().invoke(main, ["phases", "list"]).output
    counts = {k: sum(e["provenance"] == k for e in PHASE_ENTRIES) for k in ("published", "published-cell", "model")}
    summary = text.strip().splitlines()[-1]
    for k, n in counts.items():
        assert f"{n} {k}" in summary, summary


def test_no_phase_or_band_table_left_to_be_verified():
    for path in (bundled_dir() / "phases.yaml", *sorted((bundled_dir() / "cif").glob("*.cif"))):
        flat = re.sub(r"\s*\n#?\s*", " ", path.read_text(encoding="utf-8"))
        assert "to be verified" not in flat, path.name


@pytest.mark.parametrize("pid", sorted({r["phase_id"] for r in LINES}))
def test_strongest_lines_at_the_published_positions(library, pid):
    """The CIF puts its strongest reflections within 0.05 deg of the lines listed for the published cell."""
    from phasetrace.library.crystallography import d_spacings

    rows = [r for r in LINES if r["phase_id"] == pid]
    assert len(rows) == 3
    refl = library.reflections(pid, wavelength=CU_KA1)
    tab = refl.table((CU_KA1,), two_theta_range=(10, 80))
    top5 = tab["two_theta_1"][np.argsort(-tab["intensity"])[:5]]
    cell = np.array([float(v) for v in rows[0]["cell"].split()])
    for r in rows:
        hkl = np.array([[int(r["h"]), int(r["k"]), int(r["l"])]])
        # the listed d follows from the listed (published) cell ...
        assert d_spacings(hkl, cell)[0] == pytest.approx(float(r["d_A"]), abs=2e-4)
        # ... and the CIF's own cell puts the reflection within 0.05 deg of it
        tt = np.degrees(2 * np.arcsin(CU_KA1 / (2 * _d_of(refl, hkl[0]))))
        assert tt == pytest.approx(float(r["two_theta"]), abs=0.05), r
        # and it is among the five strongest of the computed pattern (the ranking survives edits)
        assert np.min(np.abs(top5 - float(r["two_theta"]))) < 0.05, r


@pytest.mark.parametrize("entry", PHASE_ENTRIES, ids=IDS)
def test_phase_matches_its_literature_data(library, entry):
    refl = library.reflections(entry["id"], wavelength=CU_KA1)
    # formula: the CIF content reduces to the nominal formula (per formula unit, within occupancies)
    nominal = parse_formula(entry["formula"])
    cif_amounts = _cell_amounts(library, entry["id"])
    z = cif_amounts["O"] / nominal["O"] if "O" in nominal else refl.z
    assert z == pytest.approx(round(z), abs=0.02), f"non-integer Z {z}"
    for el, n in nominal.items():
        assert cif_amounts.get(el, 0.0) / z == pytest.approx(n, rel=0.02, abs=0.02), el
    # density within 2 % of the literature value
    assert refl.density == pytest.approx(entry["density"]["value"], rel=0.02)
    # diagnostic reflections where the literature puts them
    tab = refl.table((CU_KA1,), two_theta_range=(5, 90))
    for check in entry["checks"]:
        expected = check["two_theta"]
        # position computed from the cell for exactly this hkl
        tt = np.degrees(2 * np.arcsin(CU_KA1 / (2 * _d_of(refl, np.array(check["hkl"])))))
        assert tt == pytest.approx(expected, abs=0.15), f"{check['hkl']}"
        if check.get("strongest"):
            strongest = tab["two_theta_1"][np.argmax(tab["intensity"])]
            assert strongest == pytest.approx(expected, abs=0.15), "strongest reflection misplaced"


@pytest.mark.parametrize("entry", PHASE_ENTRIES, ids=IDS)
def test_formula_units_per_cell(library, entry):
    """The CIF holds exactly the recorded Z formula units of the nominal formula (no lost or doubled site)."""
    nominal = parse_formula(entry["formula"])
    cif_amounts = _cell_amounts(library, entry["id"])
    for el, n in nominal.items():
        assert cif_amounts.get(el, 0.0) == pytest.approx(entry["z"] * n, rel=0.01, abs=0.02), el
    assert set(cif_amounts) == set(nominal), "elements of the CIF and of the nominal formula differ"


@pytest.mark.parametrize("pid", sorted({r["phase_id"] for r in LINES}))
def test_density_from_the_published_cell(library, pid):
    """X-ray density from the recorded published cell, the nominal formula and Z (nothing read from the CIF)
    agrees with the CIF's density and with the density recorded in phases.yaml within 2 %."""
    from pymatgen.core import Composition

    from phasetrace.library.crystallography import cell_volume

    entry = next(e for e in PHASE_ENTRIES if e["id"] == pid)
    row = next(r for r in LINES if r["phase_id"] == pid)
    volume = cell_volume(tuple(float(v) for v in row["cell"].split()))
    mass = Composition(parse_formula(entry["formula"])).weight  # g/mol per formula unit
    rho = entry["z"] * float(mass) / (0.602214076 * volume)  # g/cm3 (N_A x 1e-24 cm3/A3)
    assert library.reflections(pid).density == pytest.approx(rho, rel=0.02)
    assert entry["density"]["value"] == pytest.approx(rho, rel=0.02)


def _d_of(refl, hkl):
    from phasetrace.library.crystallography import d_spacings

    return d_spacings(hkl[None, :], refl.cell)[0]


def _cell_amounts(library, pid):
    from phasetrace.library.reflections import parse_structure

    structure, _ = parse_structure(library[pid].cif_bytes.decode(), pid)
    return {el.symbol: float(n) for el, n in structure.composition.items()}


@pytest.mark.parametrize(
    ("pid", "hkl", "two_theta"),
    [
        ("La2Zr2O7", (2, 2, 2), 28.6),
        ("LiCoO2", (0, 0, 3), 18.9),
        ("LLZTO_cubic", (2, 1, 1), 16.8),
    ],
)
def test_brief_reference_positions(library, pid, hkl, two_theta):
    refl = library.reflections(pid)
    tt = np.degrees(2 * np.arcsin(CU_KA1 / (2 * _d_of(refl, np.array(hkl)))))
    assert tt == pytest.approx(two_theta, abs=0.15)


@pytest.mark.parametrize(
    ("pid", "third_party"),
    [
        ("La2Zr2O7", "cif/autoXRD_LiLaZrO/La2Zr2O7_227.cif"),
        ("LLZO_tetragonal", "cif/autoXRD_LiLaZrO/Li7La3Zr2O12_142.cif"),
        ("Li6Zr2O7", "cif/autoXRD_LiLaZrO/Li6Zr2O7_15.cif"),
        ("Li2ZrO3", "cif/autoXRD_LiLaZrO/Li2ZrO3_15.cif"),
        ("La2O3", "cif/autoXRD_LiLaZrO/La2O3_164.cif"),
        ("Li2MnO3", "cif/autoXRD_LiMnTiOF/Li2MnO3_12.cif"),
        ("LiMn2O4", "cif/autoXRD_LiMnTiOF/LiMn2O4_227.cif"),
        ("LiCoO2", "cif/dans_diffraction/LiCoO2.cif"),
        ("NiO", "cif/dara/NiO_225_sym.cif"),
        ("LaMnO3_Pnma", "cif/gsas2-tutorials/LaMnO3_Pbnm.cif"),
        ("Mn3O4", "cif/gsas2-tutorials/Mn3O4_hausmannite.cif"),
        ("Mn3O4", "cif/autoXRD_LiMnTiOF/Mn3O4_141.cif"),
        ("Al2O3", "cif/cpd-roundrobin/corundum.cif"),
        ("Al2O3", "cif/dans_diffraction/Sapphire.cif"),
        ("TiO2_rutile", "cif/dans_diffraction/Rutile.cif"),
        ("TiO2_rutile", "cif/autoXRD_LiMnTiOF/TiO2_136.cif"),
        ("TiO2_anatase", "cif/autoXRD_LiMnTiOF/TiO2_141.cif"),
        ("ZrO2_mono", "cif/autoXRD_LiLaZrO/ZrO2_14.cif"),
        ("Li2O", "cif/autoXRD_LiLaZrO/Li2O_225.cif"),
        ("MnO", "cif/autoXRD_LiMnTiOF/MnO_225.cif"),
        ("Mn2O3", "cif/autoXRD_LiMnTiOF/Mn2O3_206.cif"),
        ("LiMnO2_ortho", "cif/autoXRD_LiMnTiOF/LiMnO2_59.cif"),
        ("Li2TiO3", "cif/autoXRD_LiMnTiOF/Li2TiO3_15.cif"),
    ],
)
def test_cross_check_with_third_party_cifs(library, pid, third_party):
    """Our CIF and an independent one give the same strong reflections (cells may differ by ~2 %)."""
    from phasetrace.library.reflections import compute_reflections

    ours = library.reflections(pid)
    theirs = compute_reflections(real_file(third_party).read_text(), name=third_party)
    assert ours.volume == pytest.approx(theirs.volume, rel=0.07)
    assert ours.formula == theirs.formula or set(ours.elements) == set(theirs.elements)

    def top(refl, n=5):
        tab = refl.table((CU_KA1,), two_theta_range=(10, 80))
        # compare in d-space scaled to a common volume, so a 1-2 % cell difference does not matter
        order = np.argsort(-tab["intensity"])[:n]
        return tab["d"][order] / refl.volume ** (1 / 3), tab["intensity"][order]

    d_ours, _ = top(ours)
    d_theirs, i_theirs = top(theirs, 8)
    # each of our five strongest reflections is among their strong ones (same normalised d within 1 %)
    for d in d_ours[:3]:
        assert np.min(np.abs(d_theirs - d) / d) < 0.01


def test_select_by_elements_and_role(library):
    lco_llzto = {p.id for p in library.select(elements={"Li", "Co", "O", "La", "Zr", "Ta"})}
    assert {"LiCoO2", "LLZTO_cubic", "La2Zr2O7", "LaCoO3", "Co3O4", "CoO", "La2O3"} <= lco_llzto
    assert not {"NiO", "LaNiO3", "MgO", "Li2CO3", "NMC811"} & lco_llzto
    with_always = {p.id for p in library.select(elements={"Li", "Co", "O"}, always=("MgO", "Li2CO3"))}
    assert {"MgO", "Li2CO3", "LiCoO2"} <= with_always
    hosts = library.select(roles=["host"])
    assert hosts and all(p.role == "host" for p in hosts)
    assert {p.id for p in library.select(families=["LaMO3-perovskite"])} >= {"LaCoO3", "LaNiO3"}
    with pytest.raises(LibraryError, match="not element symbols"):
        library.select(elements={"Li", "X1"})


def test_unknown_phase_is_a_clear_error(library):
    with pytest.raises(LibraryError, match=r"unknown phase 'la2zr2o7'; did you mean 'La2Zr2O7'\?"):
        library["la2zr2o7"]


def test_raman_silent_and_untestable_phases(library):
    assert library.is_raman_silent("NiO") and library.is_raman_silent("MgO")
    assert library.raman_bands("La2Zr2O7")[0].position == pytest.approx(304)
    # Raman-active without a verified reference: unknown, never silent
    assert library.raman_bands("Li6Zr2O7") is None
    assert not library.is_raman_silent("Li6Zr2O7")


def test_reflection_cache_rebuilds_corrupt_entries(tmp_path, library):
    cache = ReflectionCache(tmp_path)
    p = library["NiO"]
    first = cache.get(p.id, p.cif_bytes)
    assert cache.misses == 1
    again = cache.get(p.id, p.cif_bytes)
    assert cache.hits == 1
    np.testing.assert_array_equal(first.f2, again.f2)
    (entry,) = list(tmp_path.glob("*.refl"))
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    rebuilt = cache.get(p.id, p.cif_bytes)
    assert cache.misses == 2
    np.testing.assert_array_equal(first.f2, rebuilt.f2)
    # a different CIF (or radiation) is a different entry
    cache.get(p.id, p.cif_bytes, wavelength=1.78897)
    assert cache.misses == 3
    # a truncated entry, or a file of another kind under the entry's name, is rebuilt too
    entry.write_bytes(entry.read_bytes()[:200])
    assert cache.get(p.id, p.cif_bytes).f2.size == first.f2.size
    assert cache.misses == 4
    np.savez(entry.with_suffix(".npz"), f2=first.f2)
    entry.write_bytes(entry.with_suffix(".npz").read_bytes())
    np.testing.assert_array_equal(cache.get(p.id, p.cif_bytes).f2, first.f2)
    assert cache.misses == 5


def test_reflection_cache_entries_round_trip(tmp_path, library):
    """Every array of a stored list comes back equal, with its dtype and shape, and writable."""
    from phasetrace.library.reflections import _flat_bytes, _read_flat

    p = library["LLZO_cubic"]
    refl = ReflectionCache(tmp_path).get(p.id, p.cif_bytes)
    arrays = refl.to_arrays()
    back = _read_flat(bytearray(_flat_bytes(arrays)))
    assert list(back) == list(arrays)
    for k, a in arrays.items():
        assert back[k].dtype == np.asarray(a).dtype and back[k].shape == np.asarray(a).shape
        np.testing.assert_array_equal(back[k], a)
    assert back["d"].flags.writeable
    again = ReflectionCache(tmp_path).get(p.id, p.cif_bytes)
    for k in ("hkl", "multiplicity", "d", "f2", "cell"):
        np.testing.assert_array_equal(getattr(again, k), getattr(refl, k))


def test_an_entry_of_the_earlier_npz_format_is_taken_over_without_computing(tmp_path, library):
    """An upgraded installation's .npz entries (same key and checksum) are read and rewritten in the flat
    format, not computed again with pymatgen; one with a wrong checksum is computed."""
    p = library["NiO"]
    made = ReflectionCache(tmp_path / "made")
    refl = made.get(p.id, p.cif_bytes)
    (flat,) = list((tmp_path / "made").glob("*.refl"))
    old = tmp_path / "old"
    old.mkdir()
    arrays = refl.to_arrays()
    payload = dict(arrays)
    payload["checksum"] = np.frombuffer(ReflectionCache._checksum(arrays).encode(), dtype=np.uint8)
    payload["key"] = np.frombuffer(ReflectionCache.key(p.cif_bytes, 1.540598, refl.d_min).encode(), dtype=np.uint8)
    np.savez(old / flat.with_suffix(".npz").name, **payload)  # as the earlier versions wrote it
    cache = ReflectionCache(old)
    got = cache.get(p.id, p.cif_bytes)
    assert cache.hits == 1 and cache.misses == 0
    np.testing.assert_array_equal(got.f2, refl.f2)
    assert (old / flat.name).is_file()  # rewritten in the flat format
    assert ReflectionCache(old)._read(old / flat.name, payload["key"].tobytes().decode()) is not None
    # a legacy entry that does not check out is not trusted
    bad = tmp_path / "bad"
    bad.mkdir()
    payload["checksum"] = np.frombuffer(b"0" * 64, dtype=np.uint8)
    np.savez(bad / flat.with_suffix(".npz").name, **payload)
    cache = ReflectionCache(bad)
    np.testing.assert_array_equal(cache.get(p.id, p.cif_bytes).f2, refl.f2)
    assert cache.misses == 1


def test_warm_library_loads_without_pymatgen(tmp_path):
    """A warm cache serves every reflection list without importing pymatgen (fast start-up)."""
    # the bundled library alone: phases other tests added to the session's user folders are not its concern
    env = dict(
        os.environ,
        PHASETRACE_CACHE=str(tmp_path / "cache"),
        PHASETRACE_USER_LIBRARY=str(tmp_path / "no-user-library"),
        PHASETRACE_PROJECT_LIBRARY=str(tmp_path / "no-project-library"),
    )
    code = (
        "import sys\n"
        "from phasetrace.library.phases import PhaseLibrary\n"
        "lib = PhaseLibrary.default()\n"
        "for p in lib.phases: lib.reflections(p)\n"
        "print('pymatgen' in sys.modules)\n"
    )
    cold = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert cold.stdout.strip() == "True"
    warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert warm.stdout.strip() == "False"


#: Published refinements as transcribed from stored public copies (see the file's header).
PUBLISHED_SITES = list(
    csv.DictReader(
        ln
        for ln in open(os.path.join(os.path.dirname(__file__), "data", "published_sites.csv"), encoding="utf-8")
        if not ln.startswith("#")
    )
)


def _rms_to(ours, theirs):
    """Normalised RMS site displacement between two structures of the same cell (None: no match)."""
    from pymatgen.analysis.structure_matcher import AbstractComparator, StructureMatcher
    from pymatgen.core import Composition

    class _Occupancy(AbstractComparator):
        """Sites match when they hold the same elements with occupancies equal to 1e-3 (a source may list
        1/6 as 0.1667)."""

        def are_equal(self, sp1, sp2):
            a, b = Composition(sp1).get_el_amt_dict(), Composition(sp2).get_el_amt_dict()
            return a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-3 for k in a)

        def get_hash(self, composition):
            return frozenset(el.symbol for el in composition.elements)

    matcher = StructureMatcher(
        ltol=0.01, stol=0.05, angle_tol=1, primitive_cell=False, scale=False, comparator=_Occupancy()
    )
    rms = matcher.get_rms_dist(ours, theirs)
    return None if rms is None else float(rms[0])


def _expand_orbits(symbol, lattice, sites):
    """The structure of ``sites`` (position -> occupancy) under the operations of the space group ``symbol``.

    Written out instead of ``Structure.from_spacegroup``, whose lattice check takes a monoclinic cell to have
    unique axis b and so rejects a refinement published with unique axis c (La2Ti2O7, 'P 1 1 21').
    """
    from pymatgen.core import Structure
    from pymatgen.symmetry.groups import SpaceGroup

    with warnings.catch_warnings():  # pymatgen notes that it reads 'P1121' by its short symbol; same group
        warnings.simplefilter("ignore", UserWarning)
        ops = SpaceGroup(symbol).symmetry_ops
    species, coords = [], []
    for position, occupancy in sites.items():
        orbit: list[np.ndarray] = []
        for op in ops:
            p = np.mod(op.operate(position), 1.0)
            if not any(lattice.get_distance_and_image(p, q)[0] < 1e-3 for q in orbit):
                orbit.append(p)
        species += [occupancy] * len(orbit)
        coords += orbit
    return Structure(lattice, species, coords)


@pytest.mark.parametrize("pid", sorted({r["phase_id"] for r in PUBLISHED_SITES}))
def test_bundled_cif_reproduces_the_published_refinement(library, pid):
    """Cell, positions and occupancies of the bundled CIF are those of the published refinement, as
    transcribed from a stored copy of the database entry (a moved site of 0.02 gives RMS ~0.02)."""
    from pymatgen.core import Lattice

    from phasetrace.library.reflections import parse_structure

    rows = [r for r in PUBLISHED_SITES if r["phase_id"] == pid]
    entry = next(e for e in PHASE_ENTRIES if e["id"] == pid)
    # 'composition adjusted': the published positions with the refined (partial) occupancies set to the
    # nominal composition; the occupancies of the source may then differ from ours by a few per cent only
    adjusted = entry["provenance"] == "published-structure, composition adjusted"
    cell = [float(rows[0][k]) for k in ("a", "b", "c", "alpha", "beta", "gamma")]
    sites: dict[tuple[float, ...], dict[str, float]] = {}  # rows at one position are one mixed site
    for r in rows:
        occupancy = float(r["occupancy"])
        if adjusted:
            assert occupancy > 0.85, r
            occupancy = 1.0
        sites.setdefault(tuple(float(r[k]) for k in "xyz"), {})[r["element"]] = occupancy
    for site in sites.values():  # listed values rounded (1/3 as 0.33333 beside a refined 0.309(1)) may overfill
        total = sum(site.values())
        assert total < 1 + 2e-3, site
        for el in site:
            site[el] /= max(total, 1.0)
    published = _expand_orbits(rows[0]["space_group"], Lattice.from_parameters(*cell), sites)
    ours, _ = parse_structure(library[pid].cif_bytes.decode(), pid)
    assert ours.lattice.parameters == pytest.approx(tuple(cell), rel=1e-4)
    assert ours.composition.fractional_composition.almost_equals(
        published.composition.fractional_composition, rtol=1e-3, atol=1e-4
    ), (ours.composition, published.composition)
    rms = _rms_to(ours, published)
    assert rms is not None and rms < 2e-3, rms
    # the density stated with the published structure (within the occupancy change when adjusted)
    stated = float(rows[0]["density"])
    assert library.reflections(pid).density == pytest.approx(stated, rel=2e-2 if adjusted else 2e-3)
    assert rows[0]["source"] in entry.get("checked", ""), "phases.yaml 'checked' names the copy compared"


@pytest.mark.parametrize(
    ("pid", "third_party", "cell_rel", "rms_max"),
    [
        # D. Jarosch, Mineral. Petrol. 37, 15-23 (1987), as distributed with the GSAS-II tutorials
        ("Mn3O4", "cif/gsas2-tutorials/Mn3O4_hausmannite.cif", 1e-4, 2e-3),
        # J. Lewis, D. Schwarzenbach, H. D. Flack, Acta Cryst. A38, 733-739 (1982), as distributed with
        # Dans_Diffraction; our cell is the CPD round-robin corundum's (0.03 % smaller), the positions are Lewis'
        ("Al2O3", "cif/dans_diffraction/Sapphire.cif", 1e-3, 2e-3),
        # not the same refinement: the neutron refinement of the GSAS-II magnetic tutorial (cell 0.3 % smaller);
        # the recalled Rodriguez-Carvajal et al. (1998) sites agree with it to ~0.003 (normalised RMS)
        ("LaMnO3_Pnma", "cif/gsas2-tutorials/LaMnO3_Magnetic-I.cif", 3e-3, 5e-3),
    ],
)
def test_positions_agree_with_a_third_party_copy_of_the_same_refinement(
    library, pid, third_party, cell_rel, rms_max
):
    """Where a licensed third-party CIF carries the same published refinement, every site agrees (and an
    independent refinement of the same compound agrees within its own differences)."""
    from pymatgen.core import Structure

    from phasetrace.library.reflections import parse_structure

    with warnings.catch_warnings():  # pymatgen notes the file's missing formula; the sites are what count
        warnings.simplefilter("ignore", UserWarning)
        theirs = Structure.from_str(real_file(third_party).read_text(), fmt="cif")
    ours, _ = parse_structure(library[pid].cif_bytes.decode(), pid)
    assert ours.lattice.abc == pytest.approx(theirs.lattice.abc, rel=cell_rel)
    rms = _rms_to(ours, theirs)
    assert rms is not None and rms < rms_max, rms
    # where the copy states the published X-ray density, the bundled CIF gives it (within the cell difference)
    stated = re.search(r"^_exptl_crystal_density_diffrn\s+([0-9.]+)", real_file(third_party).read_text(), re.M)
    if stated:
        assert library.reflections(pid).density == pytest.approx(float(stated.group(1)), rel=max(2e-3, 3 * cell_rel))
