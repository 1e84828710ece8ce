"""CIF syntax: tokens and data blocks, the one small CIF reader phasetrace's own code uses.

Read by the library index (thousands of CIFs, so it is fast: one regular expression over the
whole text), the CIF checks before pymatgen sees a user's file, and the Raman Open Database
reader. It knows CIF 1.1 syntax only, not dictionaries: a data block is its single items and
its loops, every value a string as written.

* Tokens: bare words, quoted strings (a quote closes only before white space, so
  ``'O'Brien'`` is one value) and ``;``-delimited text fields; comments are dropped.
* Quoted values and text fields are values even when they look like a data name or a
  reserved word (``'_x'``, ``'loop_'``).
* Data names are lower-cased, with ``.`` read as ``_``: the DDLm/mmCIF spelling
  ``_cell.length_a`` and the DDL1 spelling ``_cell_length_a`` are one name.

Base layer (no numpy, nothing of the stages): io and library both read CIFs.
"""

from __future__ import annotations

import re

__all__ = ["CifBlock", "CifSyntaxError", "NamedCifBlock", "cif_blocks", "cif_named_blocks", "cif_tokens"]

#: One data block: single items (name -> value) and loops (each name -> column of values).
CifBlock = tuple[dict[str, str], list[dict[str, list[str]]]]
#: A data block with its name (the text after ``data_``; None for items before the first ``data_``).
NamedCifBlock = tuple["str | None", dict[str, str], list[dict[str, list[str]]]]

_LEXEME = re.compile(
    r"""^;(?P<text>[^\n]*(?:\n(?!;)[^\n]*)*)(?P<close>\n;)?   # text field, to a line starting with ';'
      |\#[^\n]*                                               # comment
      |'(?P<sq>(?:[^'\n]|'(?=\S))*)'(?=\s|$)                  # single-quoted
      |"(?P<dq>(?:[^"\n]|"(?=\S))*)"(?=\s|$)                  # double-quoted
      |(?P<word>\S+)""",
    re.MULTILINE | re.VERBOSE,
)

#: Reserved words that end a loop's values (lower case; ``data_``/``save_`` as prefixes).
_ENDS_LOOP = ("data_", "save_", "loop_", "global_", "stop_")


class CifSyntaxError(ValueError):
    """The text breaks CIF syntax (raised in strict mode only; callers add the file name)."""


def cif_tokens(text: str, *, strict: bool = False) -> list[tuple[str, bool]]:
    """The tokens of a CIF text, in order.

    Parameters
    ----------
    text : str
        The whole CIF.
    strict : bool, default False
        Raise on a ``;`` text field that is not closed (otherwise it runs to the end) and
        on a quoted string that is not closed (otherwise it is read as a bare word: CIF
        does not let a bare word begin with a quote).

    Returns
    -------
    list of (str, bool)
        ``(value, quoted)``: quotes removed, text fields stripped of surrounding white
        space; ``quoted`` is True for quoted strings and text fields (never names or
        reserved words).

    Raises
    ------
    CifSyntaxError
        In strict mode, for an unclosed text field or quoted string.
    """
    if "\r" in text:  # CR LF and old Mac CR line ends: the expression reads lines by LF
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[tuple[str, bool]] = []
    append = out.append
    for m in _LEXEME.finditer(text):
        kind = m.lastgroup
        if kind == "word":
            word = m.group("word")
            if strict and word[0] in "'\"":
                raise CifSyntaxError(f"unterminated quoted string {word!r}")
            append((word, False))
        elif kind == "sq" or kind == "dq":
            append((m.group(kind), True))
        elif kind == "text" or kind == "close":
            if strict and m.group("close") is None:
                raise CifSyntaxError("unterminated ';' text field")
            append((m.group("text").strip(), True))
        # a comment: nothing
    return out


def cif_blocks(text: str, *, strict: bool = False) -> list[CifBlock]:
    """The data blocks of a CIF text.

    Parameters
    ----------
    text : str
        The whole CIF.
    strict : bool, default False
        Raise on broken syntax. Otherwise a loop keeps every value it has (a ragged last
        row leaves its columns of unequal length), and a data name without a value and a
        value without a data name are left out.

    Returns
    -------
    list of (dict, list of dict)
        Per data block (and for items before the first ``data_``, if any): its single items
        ``{name: value}`` (a repeated name keeps the last value) and its loops, each
        ``{name: [values]}``. Names lower-cased, ``.`` read as ``_``.

    Raises
    ------
    CifSyntaxError
        In strict mode: an unclosed text field or quoted string, a loop without names or
        whose values do not fill its rows, a data name without a value, a value without a
        data name.
    """
    return [(items, loops) for _, items, loops in cif_named_blocks(text, strict=strict) if items or loops]


def cif_named_blocks(text: str, *, strict: bool = False) -> list[NamedCifBlock]:
    """The data blocks of a CIF text with their names: :func:`cif_blocks` plus each block's name.

    Parameters
    ----------
    text : str
        The whole CIF.
    strict : bool, default False
        As for :func:`cif_blocks`.

    Returns
    -------
    list of (str or None, dict, list of dict)
        Per data block: its name as written after ``data_`` (case kept; None for items
        before the first ``data_``), its single items and its loops as in :func:`cif_blocks`.
        A ``data_`` header without items or loops is kept (an empty block).

    Raises
    ------
    CifSyntaxError
        As for :func:`cif_blocks`.
    """
    toks = cif_tokens(text, strict=strict)
    blocks: list[NamedCifBlock] = []
    name: str | None = None
    items: dict[str, str] = {}
    loops: list[dict[str, list[str]]] = []
    i, n = 0, len(toks)
    while i < n:
        tok, quoted = toks[i]
        if quoted:
            if strict:
                raise CifSyntaxError(f"value {tok!r} has no data name")
            i += 1  # a value without a name: nothing to keep
            continue
        low = tok.lower()
        if low.startswith("data_"):
            if name is not None or items or loops:
                blocks.append((name, items, loops))
            name, items, loops = tok[5:], {}, []
            i += 1
        elif low == "loop_":
            i += 1
            names = []
            while i < n and not toks[i][1] and toks[i][0].startswith("_"):
                names.append(toks[i][0].lower().replace(".", "_"))
                i += 1
            start = i
            while i < n and not _ends_values(toks[i]):
                i += 1
            values = [t for t, _ in toks[start:i]]
            if strict and (not names or len(values) % len(names)):
                first = f" (first {names[0]})" if names else ""
                raise CifSyntaxError(
                    f"loop of {len(names)} columns has {len(values)} values, "
                    f"not a multiple of its {len(names)} names{first}"
                )
            if names:
                loops.append({col: values[k :: len(names)] for k, col in enumerate(names)})
        elif tok.startswith("_"):
            if i + 1 < n and not _ends_values(toks[i + 1]):
                items[low.replace(".", "_")] = toks[i + 1][0]
                i += 2
            else:
                if strict:
                    raise CifSyntaxError(f"data name {tok} has no value")
                i += 1
        elif strict and not low.startswith(_ENDS_LOOP):
            raise CifSyntaxError(f"value {tok!r} has no data name")
        else:
            i += 1  # global_, save_ frames' markers, stray words
    if name is not None or items or loops:
        blocks.append((name, items, loops))
    return blocks


def _ends_values(token: tuple[str, bool]) -> bool:
    """True for a data name or a reserved word: not a value."""
    word, quoted = token
    if quoted:
        return False
    c = word[0]
    return c == "_" or (c in "dslgDSLG" and word.lower().startswith(_ENDS_LOOP))
