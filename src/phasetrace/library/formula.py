"""Chemical formulas without pymatgen: elements and amounts of "Li6.4La3Zr1.4Ta0.6O12", "La(OH)3", ..."""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["ELEMENTS", "formula_elements", "parse_formula"]

#: Element symbols H..Cf (what xraydb tabulates).
ELEMENTS = frozenset(
    """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se
    Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho
    Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf""".split()
)


def parse_formula(formula: str) -> dict[str, float]:
    """Amount of each element in a formula.

    Handles decimal subscripts, parentheses and hydrate dots (``·``, ``*``).

    Raises
    ------
    ValueError
        For unknown element symbols or malformed formulas.

    Examples
    --------
    >>> parse_formula("La(OH)3")
    {'La': 1.0, 'O': 3.0, 'H': 3.0}
    >>> parse_formula("LiOH·H2O")["H"]
    3.0
    """
    parts = re.split(r"\s*[·•*]\s*", formula.strip())
    total: Counter[str] = Counter()
    for part in parts:
        m = re.match(r"^(\d+(?:\.\d+)?)(?=[A-Z(])", part)
        mult = float(m.group(1)) if m else 1.0
        if m:
            part = part[m.end() :]
        for el, n in _parse_group(part, formula).items():
            total[el] += n * mult
    if not total:
        raise ValueError(f"empty formula {formula!r}")
    return dict(total)


def _parse_group(s: str, whole: str) -> Counter[str]:
    stack: list[Counter[str]] = [Counter()]
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "(":
            stack.append(Counter())
            i += 1
        elif ch == ")":
            if len(stack) == 1:
                raise ValueError(f"unbalanced parentheses in formula {whole!r}")
            group = stack.pop()
            m = re.match(r"\d*\.?\d+", s[i + 1 :])
            n = float(m.group(0)) if m else 1.0
            i += 1 + (m.end() if m else 0)
            for el, v in group.items():
                stack[-1][el] += v * n
        elif ch.isupper():
            m = re.match(r"([A-Z][a-z]?)(\d*\.?\d+(?:/\d+)?)?", s[i:])
            el = m.group(1)
            if el not in ELEMENTS:
                raise ValueError(f"unknown element {el!r} in formula {whole!r}")
            stack[-1][el] += _amount(m.group(2)) if m.group(2) else 1.0
            i += m.end()
        elif ch.isspace():
            i += 1
        else:
            raise ValueError(f"cannot read formula {whole!r} at {s[i:]!r}")
    if len(stack) != 1:
        raise ValueError(f"unbalanced parentheses in formula {whole!r}")
    return stack[0]


def _amount(text: str) -> float:
    """``"0.5"`` -> 0.5, ``"1/3"`` -> 0.333..."""
    if "/" in text:
        num, den = text.split("/")
        if float(den) == 0:
            raise ValueError(f"zero denominator in {text!r}")
        return float(num) / float(den)
    return float(text)


def formula_elements(formula: str) -> frozenset[str]:
    """The set of elements in a formula."""
    return frozenset(el for el, n in parse_formula(formula).items() if n > 0)
