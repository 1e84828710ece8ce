"""Chemical formulas without pymatgen: elements and amounts of "Li6.4La3Zr1.4Ta0.6O12", "La(OH)3", ..."""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["ELEMENTS", "formula_elements", "parse_formula", "reduced_formula"]

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


def reduced_formula(formula: str) -> str:
    """A formula divided by the greatest common divisor of its amounts, elements in their order.

    CIFs state ``_chemical_formula_sum`` per cell or per formula unit as they please; the library
    shows formula units, as the bundled entries do. Formulas with groups, hydrate dots or
    fractional amounts are returned unchanged (their writer chose the unit).

    Examples
    --------
    >>> reduced_formula("Al12O18")
    'Al2O3'
    >>> reduced_formula("Li56La24Zr16O96")
    'Li7La3Zr2O12'
    >>> reduced_formula("Mg(OH)2")
    'Mg(OH)2'
    """
    if re.search(r"[()\[\]·•*]", formula):
        return formula
    try:
        amounts = parse_formula(formula)
    except ValueError:
        return formula
    if not all(float(n).is_integer() and n > 0 for n in amounts.values()):
        return formula
    g = math.gcd(*(int(n) for n in amounts.values()))
    if g <= 1:
        return formula
    return "".join(f"{el}{'' if int(n) // g == 1 else int(n) // g}" for el, n in amounts.items())
