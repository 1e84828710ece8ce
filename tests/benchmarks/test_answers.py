"""The answer record's comparison (benchmarks/answers.py) reports what moved, and nothing when nothing did."""

from benchmarks.answers import diff


def _doc(wt: float, lod: float, detected: list[str], flag: str = "ok") -> dict:
    phases = {"A": {"wt": wt, "esd": 0.1, "lod": lod, "detected": "A" in detected},
              "B": {"wt": 90.0, "esd": 0.2, "lod": 0.5, "detected": True}}
    return {"scans": {"s1": {"flag": flag, "detected": detected, "phases": phases}}, "seconds": 2.0}


def test_identical_records_show_no_change():
    lines = diff(_doc(3.0, 0.4, ["A", "B"]), _doc(3.0, 0.4, ["A", "B"]))
    assert "changed sets or flags: 0" in lines[0]
    assert lines[1].startswith("max |dwt|: 0.0000")
    assert lines[2].startswith("max relative LoD change: 0.00 %")


def test_moved_numbers_and_sets_are_reported():
    lines = diff(_doc(3.0, 0.4, ["A", "B"]), _doc(2.5, 0.5, ["B"], flag="poor fit"))
    text = "\n".join(lines)
    assert "changed sets or flags: 1" in lines[0]
    assert "s1: ['A', 'B'] ok -> ['B'] poor fit" in text
    assert "max |dwt|: 0.5000" in text and "s1 A 3.0000 -> 2.5000 (esd 0.100)" in text
    assert "max relative LoD change: 25.00 %" in text


def test_a_scan_missing_on_one_side_counts_as_changed():
    after = _doc(3.0, 0.4, ["A", "B"])
    after["scans"]["s2"] = after["scans"]["s1"]
    assert "changed sets or flags: 1" in diff(_doc(3.0, 0.4, ["A", "B"]), after)[0]
