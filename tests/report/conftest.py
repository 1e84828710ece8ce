"""A small simulated heating series, analysed once for the report tests (figures, exports, HTML)."""

from __future__ import annotations

import pytest

from phasetrace.io import save
from phasetrace.simulate import simulate_raman, simulate_xrd

SYSTEM = "pc-LCO + LLZTO"
#: La2Zr2O7 and LaCoO3 appear at 700 °C; La2Zr2O7 vanishes again at 900 °C.
SERIES = {
    25: {"LLZTO_cubic": 50, "LiCoO2": 50},
    700: {"LLZTO_cubic": 48.5, "LiCoO2": 48.5, "La2Zr2O7": 2.0, "LaCoO3": 1.0},
    900: {"LLZTO_cubic": 48, "LiCoO2": 48, "LaCoO3": 4.0},
}


@pytest.fixture(scope="session")
def report_run(tmp_path_factory, library):
    """(run, written outputs) of the series above, with figures and the HTML report."""
    import matplotlib

    matplotlib.use("Agg")
    from phasetrace.report.run import write_reports
    from phasetrace.series import run_series

    d = tmp_path_factory.mktemp("report-series")
    for k, (t, fr) in enumerate(SERIES.items()):
        label = "RT" if t == 25 else str(t)
        save(simulate_xrd(library, fr, seed=300 + k, displacement_um=15 * k), d / f"{SYSTEM}-{label}.xy")
        save(simulate_raman(library, fr, seed=400 + k), d / f"{SYSTEM}-{label}_raman.txt")
    run = run_series(d, tmp_path_factory.mktemp("report-out"), progress=False)
    return run, write_reports(run, figures=True, html=True)


@pytest.fixture(scope="session")
def lco_fit(library):
    """A whole-pattern fit of LiCoO2 + LLZTO + La2Zr2O7 (a layered, a cubic and a minor phase)."""
    from phasetrace.quantify import quantify

    scan = simulate_xrd(library, {"LiCoO2": 60, "LLZTO_cubic": 37, "La2Zr2O7": 3}, seed=7)
    return quantify(scan, ["LiCoO2", "LLZTO_cubic", "La2Zr2O7"], library=library), scan
