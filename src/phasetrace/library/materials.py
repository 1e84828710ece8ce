"""Material aliases: from a system name such as "pc-NMC811 + LLZTO" to the sample's elements and host phases.

The aliases are data (``reference_patterns/materials.yaml``). A system string
is split at ``+``, ``_``, spaces and ``-``; ``pc``/``sc`` prefixes are read as
morphology and trailing numbers as replicate labels. Tokens are matched
case-insensitively, longest first, so that ``Al-LLZO`` is one material.

A system's ``always`` candidates are the file's ``always_candidates`` (the MgO
crucible and the moisture/CO2 contaminants) plus the ``contaminants`` its
materials list (garnets in air: La2O2CO3, whose carbon no element selection
would admit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import PhasetraceError
from .formula import formula_elements

__all__ = ["Material", "SystemSpec", "UnknownMaterialError", "resolve_system"]


class UnknownMaterialError(PhasetraceError, ValueError):
    """A system name contains a token that is not a known material alias."""


@dataclass(frozen=True)
class Material:
    """One material alias entry."""

    alias: str
    formula: str
    phases: tuple[str, ...]
    kind: str
    also: tuple[str, ...] = ()
    note: str = ""
    contaminants: tuple[str, ...] = ()

    @property
    def elements(self) -> frozenset[str]:
        """Elements of the nominal formula."""
        return formula_elements(self.formula)


@dataclass(frozen=True)
class SystemSpec:
    """What a system name resolves to."""

    name: str
    materials: tuple[Material, ...]
    morphology: dict[str, str] = field(default_factory=dict)
    replicate: str | None = None
    always: tuple[str, ...] = ()

    @property
    def elements(self) -> frozenset[str]:
        """Union of the materials' elements."""
        out: frozenset[str] = frozenset()
        for m in self.materials:
            out |= m.elements
        return out

    @property
    def host_phases(self) -> tuple[str, ...]:
        """Library phase ids of the materials themselves."""
        return tuple(p for m in self.materials for p in m.phases)

    @property
    def contaminants(self) -> tuple[str, ...]:
        """Phases the materials bring whatever the elements (garnet + air: La2O2CO3, ...), in order."""
        return tuple(dict.fromkeys(p for m in self.materials for p in m.contaminants))


def _materials(doc: Mapping[str, Any]) -> list[Material]:
    out = []
    for e in doc.get("materials", []) or []:
        out.append(
            Material(
                alias=str(e["alias"]),
                formula=str(e["formula"]),
                phases=tuple(e.get("phases") or ()),
                kind=str(e.get("kind", "")),
                also=tuple(str(a) for a in (e.get("also") or ())),
                note=str(e.get("note", "") or ""),
                contaminants=tuple(str(c) for c in (e.get("contaminants") or ())),
            )
        )
    return out


def resolve_system(system: str, doc: Mapping[str, Any]) -> SystemSpec:
    """Resolve a system name with the aliases in ``doc`` (a parsed ``materials.yaml``).

    Raises
    ------
    UnknownMaterialError
        Naming the unknown token and listing the known aliases.

    Examples
    --------
    >>> doc = {"materials": [{"alias": "LCO", "formula": "LiCoO2", "phases": ["LiCoO2"]},
    ...                      {"alias": "LLZTO", "formula": "Li6.4La3Zr1.4Ta0.6O12"}],
    ...        "morphology_prefixes": {"pc": "polycrystalline"}}
    >>> sorted(resolve_system("pc-LCO + LLZTO", doc).elements)
    ['Co', 'La', 'Li', 'O', 'Ta', 'Zr']
    """
    mats = _materials(doc)
    prefixes = {str(k).lower(): str(v) for k, v in (doc.get("morphology_prefixes") or {}).items()}
    table: dict[str, Material] = {}
    for m in mats:
        for name in (m.alias, *m.also):
            table[name.lower()] = m
    tokens = [t for t in re.split(r"[+_\s\-]+", system.strip().lower()) if t]
    if not tokens:
        raise UnknownMaterialError(f"empty system name {system!r}")
    found: list[Material] = []
    morphology: dict[str, str] = {}
    replicate = None
    pending_prefix: str | None = None
    i = 0
    while i < len(tokens):
        # longest alias made of consecutive tokens joined by '-' (e.g. "al-llzo")
        for j in range(min(len(tokens), i + 3), i, -1):
            cand = "-".join(tokens[i:j])
            if cand in table:
                mat = table[cand]
                if mat not in found:
                    found.append(mat)
                if pending_prefix:
                    morphology[mat.alias] = prefixes[pending_prefix]
                    pending_prefix = None
                i = j
                break
        else:
            tok = tokens[i]
            if tok in prefixes:
                pending_prefix = tok
            elif re.fullmatch(r"\d{1,2}|r\d+|rep\d+", tok) and found:
                replicate = tok
            else:
                known = sorted({m.alias for m in mats})
                raise UnknownMaterialError(
                    f"unknown material {tok!r} in system {system!r}; known: {', '.join(known)}"
                )
            i += 1
    if not found:
        raise UnknownMaterialError(f"system {system!r} names no material")
    spec = SystemSpec(name=system, materials=tuple(found), morphology=morphology, replicate=replicate)
    # the crucible and usual contaminants of every system, then those the materials bring (garnet + air)
    always = tuple(dict.fromkeys([*(doc.get("always_candidates") or ()), *spec.contaminants]))
    return replace(spec, always=always)
