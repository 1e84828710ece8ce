"""`phasetrace fit --plot` and `identify --plot` write the report layer's figures."""

from __future__ import annotations

import re
import struct

import pytest
from click.testing import CliRunner

from phasetrace.cli import main


def _png_dpi(path) -> float:
    data = path.read_bytes()
    i = data.index(b"pHYs")
    return struct.unpack(">I", data[i + 4 : i + 8])[0] * 0.0254


@pytest.mark.realdata
def test_fit_plot_of_a_round_robin_sample(real, tmp_path):
    scan = real("xrd/qpa/cpd-roundrobin/CPD-1D.xye")
    cifs = scan.parents[3] / "cif" / "cpd-roundrobin"
    if not cifs.exists():
        pytest.skip(f"CIFs not available: {cifs}")
    png = tmp_path / "x.png"
    r = CliRunner().invoke(
        main,
        ["fit", str(scan), "--library", str(cifs), "--phases", "corundum,fluorite,zincite", "--plot", str(png),
         "--zoom", "24", "27", "--intensity", "sqrt"],
    )
    assert r.exit_code == 0, r.output
    assert _png_dpi(png) == pytest.approx(300, abs=1)
    svg = tmp_path / "x.svg"
    r = CliRunner().invoke(
        main, ["fit", str(scan), "--library", str(cifs), "--phases", "corundum,fluorite,zincite", "--plot", str(svg)]
    )
    assert r.exit_code == 0, r.output
    text = svg.read_text()
    assert "CPD-1D.xye" in text and str(scan.parent) not in text  # the file's name, not its path
    assert "(0 1 2)" in text and "(1 1 3)" in text  # corundum's reflections, conventional
    hkls = re.findall(r"\([−-]?\d+ [−-]?\d+ [−-]?\d+\)", text)
    assert len(hkls) > 10 and not [h for h in hkls if "−" in h or "-" in h]  # no negative index
    assert "wt %" in text
