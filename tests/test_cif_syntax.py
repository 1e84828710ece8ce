"""The one CIF syntax reader (phasetrace._cif): tokens, blocks, strict errors, line ends."""

from __future__ import annotations

import pytest

from phasetrace._cif import CifSyntaxError, cif_blocks, cif_named_blocks, cif_tokens

CIF = """# a comment line
data_first
_cell.length_a 4.5870(3) # trailing comment
_chemical_name_mineral 'O'Brien's mineral'
_publ_section_title
;
 A title; with a semicolon
;
loop_
_atom_site_label
_atom_site_fract_x
O1 0.25
'_not_a_name' 0.5
data_second
_cell_length_a 3.0
"""


def test_blocks_items_and_loops():
    (items, loops), (items2, _) = cif_blocks(CIF)
    assert items["_cell_length_a"] == "4.5870(3)"  # "." read as "_", comment dropped
    assert items["_chemical_name_mineral"] == "O'Brien's mineral"  # a quote before a letter is literal
    assert items["_publ_section_title"] == "A title; with a semicolon"
    assert loops == [{"_atom_site_label": ["O1", "_not_a_name"], "_atom_site_fract_x": ["0.25", "0.5"]}]
    assert items2 == {"_cell_length_a": "3.0"}


def test_quoted_values_are_never_names():
    assert cif_tokens("_a 'loop_' \"_b\"") == [("_a", False), ("loop_", True), ("_b", True)]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_line_ends(newline):
    assert cif_blocks(CIF.replace("\n", newline)) == cif_blocks(CIF)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_x\n_title\n;\nnever closed\n", "unterminated"),
        ("data_x\nloop_\n_a\n_b\n1 2 3\n", "2 columns has 3 values"),
        ("data_x\n_a\n_b 1\n", "_a has no value"),
        ("data_x\n_a 'never closed\n", "unterminated quoted string"),
        ("data_x\n_a 1 2\n", "value '2' has no data name"),
        ("data_x\n_a 1 'two'\n", "value 'two' has no data name"),
    ],
)
def test_strict_mode_reports_broken_syntax(text, message):
    with pytest.raises(CifSyntaxError, match=message):
        cif_blocks(text, strict=True)
    cif_blocks(text)  # lenient: no error


def test_lenient_mode_keeps_a_ragged_loop_and_skips_a_name_without_value():
    ((items, loops),) = cif_blocks("data_x\n_a\n_b 1\nloop_\n_c\n_d\n1 2 3\n")
    assert items == {"_b": "1"}
    assert loops == [{"_c": ["1", "3"], "_d": ["2"]}]


def test_named_blocks_keep_the_block_names_and_the_items_before_the_first():
    blocks = cif_named_blocks("_pre 0\ndata_First\n_a 1\ndata_empty\ndata_3\nloop_\n_b\n1 2\n")
    assert [b[0] for b in blocks] == [None, "First", "empty", "3"]  # case kept, an empty block too
    assert blocks[1][1] == {"_a": "1"} and blocks[3][2] == [{"_b": ["1", "2"]}]
    # cif_blocks is the same without names and without the empty block
    assert cif_blocks("_pre 0\ndata_First\n_a 1\ndata_empty\n") == [({"_pre": "0"}, []), ({"_a": "1"}, [])]
