"""Systems of the cathode-electrolyte literature resolve to their hosts, crucible and contaminants.

Each system name goes through ``resolve_system`` and the library selection the
matcher uses (``select(elements=..., always=...)``), so a test here fails when
a host is missing, when the crucible or the air contaminants are not tried, or
when a phase from another chemistry leaks into the candidate pool.
"""

from __future__ import annotations

import pytest

from phasetrace.library.materials import resolve_system

#: system -> (host phases in order, phases that must be candidates, phases that must not be)
SYSTEMS = {
    "NCM111 + LLTO": (
        ("NMC111", "LLTO_cubic"),
        {"LaNi0.5Ti0.5O3", "La2Ti2O7", "LiTiO2_cubic", "Li4Ti5O12", "Li2TiO3", "TiO2_rutile", "LaCoO3", "MgO"},
        {"La2Zr2O7", "LLZO_cubic", "La2O2CO3", "Li6PS5Cl", "Al2O3"},
    ),
    "NCM811 + LLTO": (
        ("NMC811", "LLTO_cubic"),
        {"LaNi0.5Ti0.5O3", "La2Ti2O7", "LaNiO3", "LiTiO2_cubic", "Li4Ti5O12", "NiO"},
        {"La2Zr2O7", "ZrO2_mono", "Li2S"},
    ),
    "LNO + LLZO": (
        ("LiNiO2", "LLZO_cubic", "LLZO_tetragonal"),
        {"LaNiO3", "La2Zr2O7", "NiO", "LiNiO_rocksalt", "La2O2CO3", "Li2CO3", "ZrO2_mono"},
        {"LiCoO2", "Co3O4", "Mn3O4", "Al2O3", "LaAlO3", "La2Ti2O7"},
    ),
    "NCA + Al-LLZO": (
        ("NCA", "LLZO_Al_cubic", "LLZO_cubic"),
        {"LaAlO3", "LiAlO2_gamma", "Al2O3", "LaNiO3", "LaCoO3", "La2O2CO3"},
        {"Mn3O4", "LLZTO_cubic", "LiTaO3"},
    ),
    "LMO + LLZO": (
        ("LiMn2O4", "LLZO_cubic", "LLZO_tetragonal"),
        {"Mn3O4", "LiMnO2_ortho", "Li2MnO3", "LaMnO3_Pnma", "La2Zr2O7", "La2O2CO3", "MnO", "Mn2O3"},
        {"NiO", "Co3O4", "NCA"},
    ),
    "NCM811 + Li6PS5Cl": (
        ("NMC811", "Li6PS5Cl"),
        {"Li2S", "LiCl", "Li3PS4_gamma", "Li3PO4_beta", "NiO"},
        {"La2O2CO3", "La2Zr2O7", "LLZO_cubic"},
    ),
    "LCO + LGPS": (
        ("LiCoO2", "LGPS"),
        {"Li2S", "Li3PS4_gamma", "Co3O4"},
        {"LiCl", "Li6PS5Cl", "La2O2CO3"},
    ),
    "NCA + LPS": (
        ("NCA", "Li3PS4_gamma"),
        {"Li2S", "Li3PO4_beta", "Al2O3"},
        {"LiCl"},
    ),
    "Ga-LLZO + LCO": (
        ("LLZO_Ga_cubic", "LLZO_cubic", "LiCoO2"),
        {"LaCoO3", "La2Zr2O7", "La2O2CO3"},
        {"LaAlO3", "Al2O3"},
    ),
    # the systems of the bundled sample data keep working
    "pc-LCO + LLZTO": (
        ("LiCoO2", "LLZTO_cubic", "LLZO_tetragonal"),
        {"LaCoO3", "La2Zr2O7", "Co3O4", "MgO", "Li2CO3", "LiOH"},
        {"NiO", "LaNiO3", "Al2O3", "Li2S"},
    ),
    "pc-LNMO + LLZTO": (
        ("LNMO_Fd3m", "LNMO_P4332", "LLZTO_cubic", "LLZO_tetragonal"),
        {"LaNiO3", "LaMnO3_R3c", "Li2MnO3", "La2Zr2O7", "Mn3O4"},
        {"Co3O4", "LaCoO3"},
    ),
    "sc-NMC631 + LLZTO": (
        ("NMC631", "LLZTO_cubic", "LLZO_tetragonal"),
        {"La2Ni0.5Li0.5O4", "LaNiO3", "LaCoO3", "Li2MnO3", "rocksalt_NMC"},
        {"Al2O3", "LLTO_cubic"},
    ),
}


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_system_resolves_to_hosts_crucible_and_contaminants(library, system):
    hosts, required, forbidden = SYSTEMS[system]
    spec = resolve_system(system, library.materials)
    assert spec.host_phases == hosts
    for pid in spec.host_phases:
        assert library[pid].role == "host" or pid == "LLZO_tetragonal", pid
    pool = {p.id for p in library.select(elements=set(spec.elements), always=spec.always)}
    assert set(hosts) <= pool
    assert required <= pool, required - pool
    assert not forbidden & pool, forbidden & pool
    # the MgO crucible of the core paper and the moisture/CO2 contaminants are always tried
    assert {"MgO", "Li2CO3", "LiOH", "LiOH_H2O"} <= set(spec.always)


def test_garnet_systems_try_la2o2co3_and_others_do_not(library):
    """La2O2CO3 contains C, so only the garnets' air contaminants bring it into a pool."""
    for system in ("LNO + LLZO", "pc-LCO + LLZTO", "NCA + Al-LLZO", "LMO + Nb-LLZO"):
        spec = resolve_system(system, library.materials)
        assert "La2O2CO3" in spec.contaminants and "La2O2CO3" in spec.always, system
    for system in ("NCM111 + LLTO", "NCM811 + Li6PS5Cl"):
        spec = resolve_system(system, library.materials)
        assert "La2O2CO3" not in spec.always, system


def test_al_and_ga_garnets_carry_their_dopant(library):
    for system, dopant in (("NCA + Al-LLZO", "Al"), ("LCO + Ga-LLZO", "Ga")):
        spec = resolve_system(system, library.materials)
        assert dopant in spec.elements
        garnet = spec.host_phases[-2]
        assert dopant in library[garnet].elements
        # the dopant sits on a Li site of the CIF (the tetrahedral 24d, shared with Li)
        text = library[garnet].cif_bytes.decode()
        row = next(ln.split() for ln in text.splitlines() if ln.split()[:2] == [f"Li1{dopant}", dopant])
        li_row = next(ln.split() for ln in text.splitlines() if ln.split()[:2] == ["Li1Li", "Li"])
        assert row[3:6] == li_row[3:6]


def test_every_material_names_library_phases(library):
    """Host and contaminant ids in materials.yaml exist, and hosts are of a matching chemistry."""
    from phasetrace.library.formula import formula_elements

    for entry in library.materials["materials"]:
        for pid in (*entry.get("phases", ()), *entry.get("contaminants", ())):
            assert pid in library, (entry["alias"], pid)
        material = formula_elements(entry["formula"])
        for pid in entry.get("phases", ()):
            # a host phase has (nearly) the material's elements: at most the dopant differs
            assert len(library[pid].elements ^ material) <= 2, (entry["alias"], pid)
