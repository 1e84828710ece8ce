"""A series' identification skips the detection limits of the candidates it leaves out (nothing reads them)."""

from __future__ import annotations

import pytest

from phasetrace.quantify.candidates import select_by_fit
from phasetrace.simulate import simulate_xrd


def test_without_absent_limits_the_model_rows_are_the_same(library):
    scan = simulate_xrd(library, {"LLZTO_cubic": 70.0, "LiCoO2": 28.0, "La2Zr2O7": 2.0}, seed=3)
    pool = ["LLZTO_cubic", "LiCoO2", "La2Zr2O7", "LaCoO3", "Co3O4", "Li2CO3"]
    full, _ = select_by_fit(scan, library, pool)
    lean, _ = select_by_fit(scan, library, pool, absent_limits=False)
    absent = [p.id for p in full.phases if not p.in_model]
    assert absent  # the full result lists left-out candidates with their limits
    assert all(p.lod_wt_percent > 0 for p in full.phases if not p.in_model)
    assert [p.id for p in lean.phases] == [p.id for p in full.phases if p.in_model]
    for p in lean.phases:
        q = full[p.id]
        assert (p.detected, p.wt_percent, p.esd, p.lod_wt_percent) == pytest.approx(
            (q.detected, q.wt_percent, q.esd, q.lod_wt_percent)
        )
    assert lean.start_values == full.start_values
