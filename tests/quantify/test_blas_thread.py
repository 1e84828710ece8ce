"""quantify runs its fits with one BLAS thread and gives the caller's thread count back (issue 18)."""

from __future__ import annotations

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from phasetrace.quantify import api, quantify  # noqa: E402
from phasetrace.simulate import simulate_xrd  # noqa: E402


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}


def test_fits_run_with_one_blas_thread_and_the_callers_setting_returns(library, monkeypatch):
    scan = simulate_xrd(library, {"LiCoO2": 70.0, "LLZO_cubic": 30.0}, seed=3)
    seen: list[set[int]] = []
    fit_pattern = api.fit_pattern

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return fit_pattern(*args, **kwargs)

    monkeypatch.setattr(api, "fit_pattern", spy)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() == {2}
        res = quantify(scan, ["LiCoO2", "LLZO_cubic"], library=library)
        assert _blas_threads() == {2}  # the caller's setting is back
    assert seen and all(s == {1} for s in seen)
    assert res.success and res["LiCoO2"].wt_percent == pytest.approx(70.0, abs=3.0)
