"""Manifests and file-name conventions."""

from __future__ import annotations

import pytest

from phasetrace.errors import MetadataError
from phasetrace.io import load, metadata_from_filename, read_manifest
from phasetrace.io.metadata import parse_temperature


@pytest.mark.parametrize(
    ("name", "system", "temp", "extra"),
    [
        ("pc-NMC631 + LLZTO-800.xy", "pc-NMC631 + LLZTO", 800.0, {}),
        ("pc-LCO + LLZTO-RT.xrdml", "pc-LCO + LLZTO", 25.0, {"temperature_label": "RT"}),
        ("sc-NMC631+LLZTO-1000_raman.txt", "sc-NMC631+LLZTO", 1000.0, {"technique": "raman"}),
        ("pc-NMC811 + LLZTO-800-2.xy", "pc-NMC811 + LLZTO", 800.0, {"replicate": "2"}),
        ("LCO_LLZO_800C.xy", "LCO_LLZO", 800.0, {}),
        ("NMC811-LLZTO_700C.csv", "NMC811-LLZTO", 700.0, {}),
        ("LCO_LLZO_RT.xy", "LCO_LLZO", 25.0, {"temperature_label": "RT"}),
        ("CoO-WO3_900C_60min.xrdml", "CoO-WO3", 900.0, {"dwell": "60min"}),
    ],
)
def test_filename_conventions(name, system, temp, extra):
    meta = metadata_from_filename(name)
    assert meta["system"] == system
    assert meta["temperature_C"] == temp
    for k, v in extra.items():
        assert meta[k] == v


@pytest.mark.parametrize("name", ["BiFeO3.xy", "MB120718Si3.ras", "XRD-918-16_10.xrdml", "Mn2O3.xy",
                                  "nCal_Qontor785_z005H12_100_1x3s.wdf"])
def test_filenames_without_convention_give_nothing(name):
    assert metadata_from_filename(name) == {}


@pytest.mark.parametrize(("value", "expected"), [
    (800, (800.0, None)), ("800", (800.0, None)), ("800 °C", (800.0, None)), ("800C", (800.0, None)),
    ("RT", (25.0, "RT")), ("rt", (25.0, "RT")), ("", (None, None)), (None, (None, None)),
])
def test_parse_temperature(value, expected):
    assert parse_temperature(value) == expected


@pytest.mark.parametrize("value", ["hot", "800 K", "1e9"])
def test_parse_temperature_rejects(value):
    with pytest.raises(MetadataError):
        parse_temperature(value, where="m.csv, entry 3")


def _scan_file(folder, name):
    p = folder / name
    p.write_text("\n".join(f"{10 + 0.01 * i:.2f} {100 + i}" for i in range(30)))
    return p


def test_csv_manifest_overrides_filename(tmp_path):
    scan_path = _scan_file(tmp_path, "LCO_LLZO_800C.xy")
    (tmp_path / "manifest.csv").write_text(
        "file,system,temperature_C,technique,atmosphere,dwell\n"
        "LCO_LLZO_800C.xy,pc-LCO + LLZTO,RT,XRD,O2,2 h\n"
    )
    man = read_manifest(tmp_path / "manifest.csv")
    assert len(man) == 1
    meta = man.lookup(scan_path)
    assert meta["temperature_C"] == 25.0
    with pytest.warns(UserWarning):
        scan = load(scan_path, meta=meta)
    assert scan.meta.system == "pc-LCO + LLZTO"
    assert scan.meta.temperature_C == 25.0
    assert scan.meta.atmosphere == "O2"
    assert scan.meta.dwell == "2 h"
    assert scan.meta.technique == "xrd"


def test_yaml_manifest(tmp_path):
    _scan_file(tmp_path, "a.xy")
    (tmp_path / "m.yaml").write_text(
        "scans:\n  - {file: a.xy, system: NMC811+LLZTO, temperature_C: 700, technique: raman}\n"
    )
    man = read_manifest(tmp_path / "m.yaml")
    assert man.lookup(tmp_path / "a.xy")["technique"] == "raman"
    assert man.files == [(tmp_path / "a.xy").resolve()]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.csv", "system,temperature_C\nLCO,800\n", "no column names the scan files (found 'system'"),
        ("m.csv", "file,temperature_C\na.xy,hot\n", "line 2"),
        ("m.csv", "file,technique\na.xy,XPS\n", "not XRD or Raman"),
        ("m.csv", "file,system\na.xy,X\na.xy,Y\n", "listed twice"),
        ("m.yaml", "file: [unclosed\n", "invalid YAML"),
        ("m.yaml", "just a string\n", "list of entries"),
        ("m.json", "{}", "must be .csv or .yaml"),
    ],
)
def test_bad_manifest(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(MetadataError) as info:
        read_manifest(tmp_path / name)
    assert str(info.value).startswith(str(tmp_path / name))
    assert message in str(info.value)
