"""Candidate selection by elements: always-tested phases and the sample's own elements."""

from __future__ import annotations

import pytest

from phasetrace.library.phases import PhaseLibrary
from phasetrace.match.candidates import NoCandidatesError, select_candidates


def _silicon_cif() -> str:
    """Silicon (Fd-3m, a = 5.4309 Å) as a user contaminant."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    s = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.4309), ["Si"], [[0.125, 0.125, 0.125]])
    return str(CifWriter(s)) + "_phasetrace_role contaminant\n"


def test_an_always_tested_phase_of_the_given_elements_is_selected_by_them(tmp_path):
    """``--elements Si`` with a user Silicon contaminant selects Silicon, not "no library phase"."""
    (tmp_path / "Silicon.cif").write_text(_silicon_cif())
    lib = PhaseLibrary.default([tmp_path / "Silicon.cif"], include_user=False)
    assert lib["Silicon"].role == "contaminant"
    chosen, _ = select_candidates(lib, elements=["Si"])
    assert "Silicon" in [p.id for p in chosen]
    # elements that select nothing of their own still say so, whatever is always tested
    with pytest.raises(NoCandidatesError, match="select no library phase"):
        select_candidates(lib, elements=["Xe"])
