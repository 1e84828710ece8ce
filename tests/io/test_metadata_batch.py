"""Plain instrument exports: the file names researchers use, and manifests with their own column names."""

from __future__ import annotations

import pytest

from phasetrace.errors import MetadataError
from phasetrace.io import metadata_from_filename, read_manifest
from phasetrace.io.metadata import canonical_system, looks_like_manifest


@pytest.mark.parametrize(
    ("name", "system", "temp", "extra"),
    [
        ("LCO_LLZTO_700degC.xy", "LCO_LLZTO", 700.0, {}),
        ("LCO+LLZTO_700C_2h_O2.xy", "LCO+LLZTO", 700.0, {"dwell": "2h", "atmosphere": "O2"}),
        ("LCO_LLZTO_T700.xy", "LCO_LLZTO", 700.0, {}),
        ("20240312_LCO_LLZTO_700C.xy", "LCO_LLZTO", 700.0, {"date": "2024-03-12"}),
        ("2024-03-12_NMC811_LLZTO_800C.xy", "NMC811_LLZTO", 800.0, {"date": "2024-03-12"}),
        ("240312_LCO_LLZTO_650C.xy", "LCO_LLZTO", 650.0, {"date": "240312"}),
        ("LCO_LLZTO_RT.xy", "LCO_LLZTO", 25.0, {"temperature_label": "RT"}),
        ("LCO LLZTO 700 °C.xy", "LCO LLZTO", 700.0, {}),
        ("LCO_LLZTO_700oC_air.xy", "LCO_LLZTO", 700.0, {"atmosphere": "air"}),
        ("LCO_LLZTO_T700_b.xy", "LCO_LLZTO", 700.0, {"replicate": "b"}),
        ("LCO_LLZTO_700C_rep2.xy", "LCO_LLZTO", 700.0, {"replicate": "rep2"}),
        ("LCO-LLZO-800C.xy", "LCO-LLZO", 800.0, {}),
        ("700C_LCO_LLZTO.xy", "LCO_LLZTO", 700.0, {}),
        # the existing conventions are unchanged
        ("pc-NMC631 + LLZTO-800.xy", "pc-NMC631 + LLZTO", 800.0, {}),
        ("CoO-WO3_900C_60min.xrdml", "CoO-WO3", 900.0, {"dwell": "60min"}),
    ],
)
def test_names_researchers_use(name, system, temp, extra):
    meta = metadata_from_filename(name)
    assert (meta["system"], meta["temperature_C"]) == (system, temp)
    for k, v in extra.items():
        assert meta[k] == v


def test_a_name_that_is_only_a_temperature_gives_the_temperature():
    # with --system, "700C.xy" is enough
    assert metadata_from_filename("700C.xy") == {"name_convention": "<system>_<T>C", "temperature_C": 700.0}


@pytest.mark.parametrize(
    "name",
    [
        "scan_10.xy",  # a bare number is not a temperature here
        "NMC_1C_50cycles.xy",  # a charge rate is not a temperature
        "LCO_LLZTO_700C_25C.xy",  # two temperatures: which one is it?
        "XRD-918-16_10.xrdml",
        "nCal_Qontor785_z005H12_100_1x3s.wdf",
    ],
)
def test_names_without_one_temperature_give_nothing(name):
    assert metadata_from_filename(name) == {}


def test_spellings_of_one_system_meet():
    keys = {canonical_system(s) for s in ("LCO_LLZTO", "LCO+LLZTO", "LCO + LLZTO", "lco llzto")}
    assert keys == {"lco + llzto"}
    assert canonical_system("pc-NMC631 + LLZTO") != canonical_system("NMC631 + LLZTO")


def _touch(folder, *names):
    for n in names:
        (folder / n).write_text("10 1\n11 2\n")


@pytest.mark.parametrize(
    "header",
    [
        "filename,sample,T (°C),tech",
        "path;Temperature (C);technique;sample",
        "File Name\tT/°C\tMethod\tSample",
        "file,temperature,technique,sample",
    ],
)
def test_manifest_column_aliases(tmp_path, header):
    _touch(tmp_path, "a.xy", "b.xy")
    sep = ";" if ";" in header else "\t" if "\t" in header else ","
    cols = [c.strip().lower() for c in header.split(sep)]
    rows = []
    for f, t, tech, sample in (("a.xy", "700", "XRD", "p1"), ("b.xy", "RT", "Raman", "p2")):
        vals = {"file": f, "temp": t, "tech": tech, "sample": sample}
        order = []
        for c in cols:
            key = (
                "file"
                if c.startswith(("file", "path"))
                else "temp"
                if c.startswith("t")
                and not c.startswith("tech")
                else "tech"
                if c.startswith(("tech", "method"))
                else "sample"
            )
            order.append(vals[key])
        rows.append(sep.join(order))
    (tmp_path / "m.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    man = read_manifest(tmp_path / "m.csv")
    a, b = man.lookup(tmp_path / "a.xy"), man.lookup(tmp_path / "b.xy")
    assert (a["temperature_C"], a["technique"], a["sample"]) == (700.0, "xrd", "p1")
    assert (b["temperature_C"], b["temperature_label"], b["technique"]) == (25.0, "RT", "raman")


def test_manifest_temperature_in_kelvin_and_a_spreadsheet_encoding(tmp_path):
    _touch(tmp_path, "a.xy", "b.xy")
    (tmp_path / "m.csv").write_bytes("file,T (K),note (°)\na.xy,973.15,x\n".encode("cp1252"))
    assert read_manifest(tmp_path / "m.csv").lookup(tmp_path / "a.xy")["temperature_C"] == pytest.approx(700)
    (tmp_path / "m2.csv").write_text("file,temperature_C\nb.xy,800\n")
    assert read_manifest(tmp_path / "m2.csv").lookup(tmp_path / "b.xy")["temperature_C"] == 800


def test_manifest_without_file_column_names_files_by_sample(tmp_path):
    _touch(tmp_path, "LCO_LLZTO_700C.xy", "LCO_LLZTO_800C.xrdml")
    (tmp_path / "m.csv").write_text("Sample,T (°C)\nLCO_LLZTO_700C,700\nlco_llzto_800c,800\n")
    man = read_manifest(tmp_path / "m.csv")
    assert sorted(p.name for p in man.files) == ["LCO_LLZTO_700C.xy", "LCO_LLZTO_800C.xrdml"]
    (tmp_path / "m2.csv").write_text("sample,T\nLCO_LLZTO_900C,900\n")
    with pytest.raises(MetadataError, match=r"m2.csv, line 2: no file in .* is named 'LCO_LLZTO_900C'"):
        read_manifest(tmp_path / "m2.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("scan_id,temp\n1,700\n", "no column names the scan files (found 'scan_id', 'temp'); expected columns"),
        ("file,T,temperature\na.xy,700,700\n", "columns 'T' and 'temperature' both give the temperature_C"),
        ("file,T (°F)\na.xy,1292\n", "column 'T (°F)': temperatures in °C or K"),
    ],
)
def test_manifest_errors_say_what_is_expected(tmp_path, content, message):
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(MetadataError) as info:
        read_manifest(tmp_path / "m.csv")
    text = str(info.value)
    assert text.startswith(str(tmp_path / "m.csv")) and message in text
    assert "\n" not in text and len(text) - len(str(tmp_path / "m.csv")) <= 250
    if "expected" in message:
        for alias in ("filename", "path", "T", "temperature", "T (°C)", "tech"):
            assert alias in text


def test_looks_like_manifest(tmp_path):
    (tmp_path / "m.csv").write_text("filename,T\na.xy,700\n")
    (tmp_path / "scan.csv").write_text("2theta,intensity\n10.0,100\n")
    (tmp_path / "bare.csv").write_text("10.0,100\n10.01,101\n")
    (tmp_path / "m.yaml").write_text("- {file: a.xy}\n")
    (tmp_path / "vendor.csv").write_text("Sample Name,LCO-1\nLaser,532\n100,5\n")
    (tmp_path / "files.txt").write_text("file\na.xy\n")
    assert not looks_like_manifest(tmp_path / "vendor.csv") and looks_like_manifest(tmp_path / "files.txt")
    # columns it does not know, but a table of file names: a manifest (whose error lists the columns)
    (tmp_path / "odd.csv").write_text("scan_id,temp\nLCO_LLZTO_700C.xy,700\n")
    (tmp_path / "raman.csv").write_text("Raman shift,Intensity\n100.5,20\n")
    assert looks_like_manifest(tmp_path / "odd.csv") and not looks_like_manifest(tmp_path / "raman.csv")
    assert looks_like_manifest(tmp_path / "m.csv") and looks_like_manifest(tmp_path / "m.yaml")
    assert not looks_like_manifest(tmp_path / "scan.csv") and not looks_like_manifest(tmp_path / "bare.csv")
