"""System names resolve to the sample's elements through the bundled aliases."""

from __future__ import annotations

import pytest

from phasetrace.library.materials import UnknownMaterialError, resolve_system


@pytest.mark.parametrize(
    ("system", "aliases", "elements"),
    [
        ("pc-NMC811 + LLZTO", ["NMC811", "LLZTO"], {"Li", "Ni", "Mn", "Co", "O", "La", "Zr", "Ta"}),
        ("nmc811-llzto", ["NMC811", "LLZTO"], {"Li", "Ni", "Mn", "Co", "O", "La", "Zr", "Ta"}),
        ("LCO_LLZO", ["LCO", "LLZO"], {"Li", "Co", "O", "La", "Zr"}),
        ("pc-LNMO + LLZTO", ["LNMO", "LLZTO"], {"Li", "Ni", "Mn", "O", "La", "Zr", "Ta"}),
        ("NCM523 + Al-LLZO", ["NMC532", "Al-LLZO"], {"Li", "Ni", "Mn", "Co", "O", "La", "Zr", "Al"}),
        ("sc-NMC631 + LLZTO 2", ["NMC631", "LLZTO"], {"Li", "Ni", "Mn", "Co", "O", "La", "Zr", "Ta"}),
    ],
)
def test_resolve_systems(library, system, aliases, elements):
    spec = resolve_system(system, library.materials)
    assert [m.alias for m in spec.materials] == aliases
    assert set(spec.elements) == elements
    assert {"MgO", "Li2CO3"} <= set(spec.always)
    for pid in spec.host_phases:
        assert pid in library


def test_morphology_and_replicate(library):
    spec = resolve_system("sc-NMC631 + LLZTO 2", library.materials)
    assert spec.morphology == {"NMC631": "single-crystalline"} or "single" in spec.morphology["NMC631"]
    assert spec.replicate == "2"


def test_unknown_token_lists_known_aliases(library):
    with pytest.raises(UnknownMaterialError) as info:
        resolve_system("pc-NMC911 + LLZTO", library.materials)
    msg = str(info.value)
    assert "unknown material 'nmc911'" in msg and "LLZTO" in msg and "NMC811" in msg
