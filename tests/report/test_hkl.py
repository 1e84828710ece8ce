"""Conventional Miller indices: the member of a family a crystallographer writes."""

from __future__ import annotations

import numpy as np
import pytest

from phasetrace.library.crystallography import d_spacings
from phasetrace.report.hkl import conventional_hkl, format_hkl, laue_rotations

HEX = (2.816, 2.816, 14.05, 90, 90, 120)


@pytest.mark.parametrize(
    ("given", "group", "cell", "expected"),
    [
        ((1, 0, -8), "R-3m", HEX, (0, 1, 8)),
        ((2, -1, 0), "R-3m", HEX, (1, 1, 0)),
        ((-1, 0, -4), "R-3m", HEX, (1, 0, 4)),
        ((2, -1, -1, 0), "P6_3mc", (3.25, 3.25, 5.21, 90, 90, 120), (1, 1, 0)),  # Miller–Bravais
        ((1, -2, 1, 2), "P6_3mc", (3.25, 3.25, 5.21, 90, 90, 120), (1, 1, 2)),
        ((-2, -1, -1), "Ia-3d", (12.97,) * 3 + (90, 90, 90), (2, 1, 1)),
        ((-1, 1, -1), "C2/m", (5.0, 8.6, 5.0, 90, 110, 90), (1, 1, 1)),
    ],
)
def test_conventional_member(given, group, cell, expected):
    assert conventional_hkl(given, group, cell) == expected


def test_other_setting_falls_back_to_friedel_pairs():
    # a hexagonal group applied to an orthogonal cell would name another reflection: only ±hkl are used
    rots = laue_rotations("R-3m", (3.0, 4.0, 14.0, 90, 90, 90))
    assert len(rots) == 2
    assert conventional_hkl((-1, -2, -3), "R-3m", (3.0, 4.0, 14.0, 90, 90, 90)) == (1, 2, 3)


def test_library_reflections_of_layered_licoo2_are_conventional(library):
    refl = library.reflections("LiCoO2")
    assert refl.space_group == "R-3m"
    conv = np.array([conventional_hkl(h, refl.space_group, refl.cell) for h in refl.hkl])
    # same spacing, no negative index, and the obverse R-centring condition -h + k + l = 3n
    assert np.allclose(d_spacings(conv, refl.cell), refl.d)
    assert (conv >= 0).all()
    assert ((-conv[:, 0] + conv[:, 1] + conv[:, 2]) % 3 == 0).all()
    labels = {format_hkl(h) for h in conv}
    assert {"(0 0 3)", "(1 0 4)", "(0 1 8)", "(1 1 0)"} <= labels


def test_format_uses_a_minus_sign():
    assert format_hkl((1, 1, -1)) == "(1 1 −1)"
    assert format_hkl((2, -1, -1, 3)) == "(2 −1 3)"
