"""What the matcher returns: :class:`Candidate` rows in a :class:`Ranking`, its settings and its errors."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import PhasetraceError
from ..peaks.find import PeakConfig, PeakSearch

__all__ = [
    "STATUSES",
    "Candidate",
    "MatchConfig",
    "MatchError",
    "NoCandidatesError",
    "NoPeaksError",
    "PeakMatch",
    "Ranking",
    "TechniqueMismatchError",
]

Status = Literal["likely", "possible", "unlikely", "not testable"]

#: Candidate statuses, strongest first. "not testable" is never "absent": the scan cannot tell.
STATUSES: tuple[str, ...] = ("likely", "possible", "unlikely", "not testable")


class MatchError(PhasetraceError, ValueError):
    """The scan cannot be matched against the library."""


class NoPeaksError(MatchError):
    """The scan has no peak that stands out from the noise, so there is nothing to identify."""


class NoCandidatesError(MatchError):
    """The elements, system or phase list select no phase that can be tested."""


class TechniqueMismatchError(MatchError):
    """The scan's technique does not fit the request (e.g. a Raman spectrum where XRD was expected)."""


@dataclass(frozen=True)
class MatchConfig:
    """Settings of the search-match (defaults are the documented behaviour).

    Parameters
    ----------
    peaks : PeakConfig
        Peak finding (background, noise, 3σ prominence threshold).
    tolerance_fwhm : float
        XRD: an expected reflection matches an observed peak within this
        fraction of the local peak width (FWHM). Half a width separates two
        peaks that a diffractometer resolves.
    min_tolerance_steps : float
        XRD: the tolerance is never below this many scan steps.
    displacement : bool
        XRD: estimate one common sample-displacement shift (Δ2θ ∝ cos θ,
        which also absorbs most of a zero error) from the confidently matched
        phases, and match all candidates after correcting for it.
    max_displacement_deg : float
        XRD: bound of that shift at 2θ → 0, degrees (±0.25° is about ±500 µm on a
        240 mm goniometer).
    missing_margin : float
        An unmatched reflection counts as *missing* only if its predicted
        height exceeds ``missing_margin × peaks.prominence`` local σ.
    raman_tolerance : float
        Raman: band position tolerance, cm⁻¹ (±8 by default).
    raman_broad_fraction : float
        Raman: for broad bands the tolerance grows to this fraction of the
        band's FWHM (the band table advises up to half the FWHM).
    likely_score, possible_score : float
        Score thresholds of the ``"likely"`` and ``"possible"`` statuses.
    """

    peaks: PeakConfig = field(default_factory=PeakConfig)
    tolerance_fwhm: float = 0.5
    min_tolerance_steps: float = 1.5
    displacement: bool = True
    max_displacement_deg: float = 0.25
    missing_margin: float = 1.5
    raman_tolerance: float = 8.0
    raman_broad_fraction: float = 0.35
    likely_score: float = 0.5
    possible_score: float = 0.2

    def __post_init__(self) -> None:
        for name in (
            "tolerance_fwhm",
            "min_tolerance_steps",
            "missing_margin",
            "raman_tolerance",
            "max_displacement_deg",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise MatchError(f"MatchConfig.{name} must be a non-negative number, got {v!r}")
        if not 0 <= self.possible_score <= self.likely_score <= 1:
            raise MatchError("MatchConfig needs 0 ≤ possible_score ≤ likely_score ≤ 1")

    def status(self, score: float) -> Status:
        """Status of a testable candidate with this score."""
        if score >= self.likely_score:
            return "likely"
        if score >= self.possible_score:
            return "possible"
        return "unlikely"


@dataclass(frozen=True)
class PeakMatch:
    """One expected reflection (XRD) or band (Raman) of a candidate and what was seen there.

    Attributes
    ----------
    label : str
        ``"(2 1 1)"`` (strongest hkl of an unresolved group, ``+n`` for more
        members) or ``"596 cm-1 A1g"``.
    expected : float
        Expected peak position (apex; degrees 2θ or cm⁻¹) at the candidate's scaling.
    expected_height : float
        Predicted net height from the candidate's matched peaks.
    observed : float or None
        Position of the matched observed peak.
    observed_height, significance : float or None
        Its net height and its prominence in local σ.
    unique : bool
        No other plausible candidate has a reflection or band there.
    hkl : tuple of int or None
    d : float or None
        Spacing (Å) at the candidate's scaling (XRD).
    shared_by : str
        Raman: the class of compounds every member of which has this band
        (``"carbonate"``), empty for a band of the phase's own lattice.
    saturated : bool
        The observed peak has saturated detector points: its top is cut off,
        so its height (and position) are not measured.
    """

    label: str
    expected: float
    expected_height: float
    observed: float | None = None
    observed_height: float | None = None
    significance: float | None = None
    unique: bool = False
    hkl: tuple[int, int, int] | None = None
    d: float | None = None
    shared_by: str = ""
    saturated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        out: dict[str, Any] = {
            "label": self.label,
            "expected": _r(self.expected, 4),
            "expected_height": _r(self.expected_height, 4),
        }
        if self.hkl is not None:
            out["hkl"] = list(self.hkl)
        if self.d is not None:
            out["d"] = _r(self.d, 5)
        if self.shared_by:
            out["shared_by"] = self.shared_by
        if self.observed is not None:
            out.update(
                observed=_r(self.observed, 4),
                observed_height=_r(self.observed_height, 4),
                significance=_r(self.significance, 2),
                unique=self.unique,
            )
            if self.saturated:
                out["saturated"] = True
        return out


def _r(v: float | None, nd: int) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), nd)


@dataclass(frozen=True)
class Candidate:
    """One library phase, scored against a scan.

    Attributes
    ----------
    id, formula : str
    score : float or None
        0–1: the evidence the phase adds to the phases chosen before it
        (coverage of its detectable reflections × weight of the new peaks it
        explains). None when not testable.
    rank : int or None
        By score, 1 = best; None when not testable.
    status : {"likely", "possible", "unlikely", "not testable"}
    lattice_scale : float or None
        Best common scaling of the reference cell (XRD), within the phase's
        allowed strain; None for Raman.
    matched, missing : tuple of PeakMatch
        Expected peaks found, and expected peaks not found although they
        should stand above the detection threshold.
    extra : tuple of float
        Observed peak positions still unexplained once this candidate and
        every candidate ranked above it are accepted.
    unique : tuple of PeakMatch
        The matched peaks no other plausible candidate explains: the evidence
        that carries the identification.
    standalone_score : float or None
        The score of the phase on its own (before other phases explain peaks).
    coverage : float or None
        Intensity-weighted fraction of its detectable reflections that were matched.
    alternatives : tuple of str
        Lower-ranked candidates whose reflections coincide with this one's within
        their allowed strains: positions alone cannot tell them apart.
    role : str
        The phase's library role.
    reason : str
        Why a candidate is not testable, or a short note (Raman: why its
        status is limited by the bands it matched).
    or_any : tuple of str
        Raman: compound classes whose shared bands carry part of the match
        (``("carbonate",)``): when the status is not "likely", any member of the
        class may be what was seen ("possible (or: any carbonate)").
    fit : dict or None
        XRD, when the ranking was confirmed by a whole-pattern fit
        (:func:`phasetrace.quantify.candidates.rerank_by_fit`): ``detected``, ``wt_percent``,
        ``esd``, ``lod_wt_percent`` and ``significance`` (scale factor over its
        standard error) of this phase in the selected model; None otherwise.
    """

    id: str
    formula: str
    score: float | None
    rank: int | None
    status: Status
    lattice_scale: float | None = None
    matched: tuple[PeakMatch, ...] = ()
    missing: tuple[PeakMatch, ...] = ()
    extra: tuple[float, ...] = ()
    unique: tuple[PeakMatch, ...] = ()
    standalone_score: float | None = None
    coverage: float | None = None
    alternatives: tuple[str, ...] = ()
    role: str = ""
    reason: str = ""
    or_any: tuple[str, ...] = ()
    fit: dict[str, Any] | None = None

    @property
    def testable(self) -> bool:
        """False for Raman-silent phases, phases without reference data, or no reflection in range."""
        return self.status != "not testable"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the keys of ``phasetrace identify --json``)."""
        return {
            "id": self.id,
            "formula": self.formula,
            "score": _r(self.score, 4) if self.score is not None else None,
            "rank": self.rank,
            "status": self.status,
            "lattice_scale": _r(self.lattice_scale, 6) if self.lattice_scale is not None else None,
            "matched": [m.to_dict() for m in self.matched],
            "missing": [m.to_dict() for m in self.missing],
            "extra": [_r(v, 4) for v in self.extra],
            "unique": [m.to_dict() for m in self.unique],
            "standalone_score": _r(self.standalone_score, 4) if self.standalone_score is not None else None,
            "coverage": _r(self.coverage, 4) if self.coverage is not None else None,
            "alternatives": list(self.alternatives),
            "role": self.role,
            "reason": self.reason,
            "or_any": list(self.or_any),
            "fit": self.fit,
        }


@dataclass(frozen=True, eq=False)
class Ranking:
    """Ranked candidates of one scan.

    Attributes
    ----------
    file : str
        Source path of the scan (or its sample name).
    technique : {"xrd", "raman"}
    candidates : tuple of Candidate
        Testable candidates by rank, then the not-testable ones.
    search : PeakSearch
        Background, noise and peaks the ranking used.
    displacement_deg : float
        XRD: the common peak shift applied, degrees 2θ at 2θ → 0 (shift =
        value × cos θ); 0 when not estimated.
    unexplained : tuple of float
        Observed peak positions that no ``"likely"`` or ``"possible"``
        candidate explains.
    config : MatchConfig
    fit : dict or None
        When confirmed by a whole-pattern fit: its ``rwp``, ``gof``, ``success``
        and ``message``; the candidates are then ranked by that fit first.
    """

    file: str
    technique: str
    candidates: tuple[Candidate, ...]
    search: PeakSearch
    displacement_deg: float = 0.0
    unexplained: tuple[float, ...] = ()
    config: MatchConfig = field(default_factory=MatchConfig)
    fit: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, key: int | str) -> Candidate:
        if isinstance(key, str):
            for c in self.candidates:
                if c.id == key:
                    return c
            raise KeyError(key)
        return self.candidates[key]

    @property
    def ids(self) -> list[str]:
        """Candidate ids in rank order."""
        return [c.id for c in self.candidates]

    def top(self, n: int) -> tuple[Candidate, ...]:
        """The ``n`` best testable candidates."""
        return tuple(c for c in self.candidates if c.rank is not None)[: max(n, 0)]

    def present(self) -> tuple[Candidate, ...]:
        """Candidates with status ``"likely"``."""
        return tuple(c for c in self.candidates if c.status == "likely")

    def report(self, *, top: int = 10, notes: Sequence[str] = ()) -> str:
        """Plain-text ranking (what ``phasetrace identify`` prints).

        Parameters
        ----------
        top : int
            Show the ``top`` best testable candidates.
        notes : sequence of str
            Notes printed under the header (e.g. an assumed wavelength).
        """
        xrd = self.technique == "xrd"
        npk = len(self.search.peaks.primary())
        head = f"{self.file}: {'XRD' if xrd else 'Raman'}, {npk} peak(s)"
        if xrd and self.displacement_deg:
            head += f", common peak shift {self.displacement_deg:+.3f}° × cos θ applied"
        lines = [head, *(f"  note: {n}" for n in notes)]
        ranked = self.top(top)
        scale_h = "scale" if xrd else ""
        fitted = self.fit is not None and self.fit.get("success")
        # a poor fit's amounts are not results (as ``fit`` prints them: "~82 ?" and the warning)
        poor = bool(fitted and self.fit.get("flag") == "poor")
        if fitted:
            lines.append(
                f"  whole-pattern fit: Rwp {100 * self.fit['rwp']:.2f} %, GoF {self.fit['gof']:.2f}; "
                "the phases it selects rank first (wt % of the crystalline part)"
            )
            quality = self.fit.get("quality") or {}
            if poor:
                lines.append(f"  {quality.get('message') or 'poor fit: numbers below are not reliable'}")
        elif self.fit is not None:
            lines.append(f"  whole-pattern fit failed ({self.fit['message']}): ranked by peak matching alone")
        wt_h = "wt %" if fitted else ""
        lines.append(
            f"  {'rank':>4}  {'phase':<18} {'status':<12} {'score':>5} {scale_h:>7} "
            f"{'matched':>7} {'missing':>7} {'unique':>6} {wt_h:>12}"
        )
        for c in ranked:
            sc = f"{c.lattice_scale:7.4f}" if c.lattice_scale is not None else " " * 7
            alt = f"  (≈ {', '.join(c.alternatives)})" if c.alternatives else ""
            if c.or_any and c.status != "likely":
                alt += f"  (or: any {' or '.join(c.or_any)})"
            wt = ""
            if fitted and c.fit is not None:
                wt = _amount(c.fit, poor)
            lines.append(
                f"  {c.rank:>4}  {c.id:<18} {c.status:<12} {c.score:5.2f} {sc} {len(c.matched):>7} "
                f"{len(c.missing):>7} {len(c.unique):>6} {wt:>12}{alt}"
            )
            if not xrd and c.reason:  # why the bands it matched allow no stronger claim
                lines.append(f"{'':8}{c.reason}")
            cut = [m for m in c.matched if m.saturated]
            if cut and c.status != "unlikely":
                at = ", ".join(f"{m.observed:.2f}" for m in cut)
                lines.append(
                    f"{'':8}matched on saturated points at {at}{' cm⁻¹' if not xrd else '°'} (top cut off)"
                )
        hidden = len([c for c in self.candidates if c.rank is not None]) - len(ranked)
        if hidden > 0:
            lines.append(f"  ... {hidden} more candidate(s) (use --top)")
        for c in self.candidates:
            if c.rank is None:
                lines.append(f"  {'-':>4}  {c.id:<18} not testable: {c.reason}")
        if self.unexplained:
            unit = "°" if xrd else " cm⁻¹"
            shown, how = self._unexplained_shown(UNEXPLAINED_SHOWN)
            cut = self._saturated_at(shown)
            text = ", ".join(
                f"{v:.2f}" + (" (saturated)" if s else "") for v, s in zip(shown, cut, strict=True)
            )
            lines.append(f"  unexplained peaks ({len(self.unexplained)}{how}): {text}{unit}")
        return "\n".join(lines)

    def _saturated_at(self, positions: Sequence[float]) -> list[bool]:
        """Whether the observed peak at each position has saturated points (its top cut off)."""
        prim = self.search.peaks.primary()
        pos, sat = np.asarray(prim.position, dtype=float), np.asarray(prim.saturated, dtype=bool)
        if pos.size == 0:
            return [False] * len(positions)
        return [bool(sat[int(np.argmin(np.abs(pos - v)))]) for v in positions]

    def _unexplained_shown(self, n: int) -> tuple[list[float], str]:
        """The unexplained peaks a report prints: all, or the ``n`` strongest (in position order).

        The strongest come first in importance: a spectrum's main bands that no candidate explains
        (polystyrene's 1001 and 3054 cm⁻¹) must not hide behind "..." after its weak low-shift bands.
        """
        vals = list(self.unexplained)
        if len(vals) <= n:
            return vals, ""
        prim = self.search.peaks.primary()
        pos, height = np.asarray(prim.position, dtype=float), np.asarray(prim.height, dtype=float)
        if pos.size == 0:
            return vals[:n], ", first shown"
        h = [float(height[int(np.argmin(np.abs(pos - v)))]) for v in vals]
        keep = sorted(sorted(range(len(vals)), key=lambda k: -h[k])[:n])
        return [vals[k] for k in keep], f", the {n} strongest shown"

    def plot(self, ax=None, *, top: int = 4):
        """Scan, peaks and a tick row per top candidate (:func:`phasetrace.report.pattern.plot_ranking`).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..report.pattern import plot_ranking

        return plot_ranking(self, top=top, ax=ax)

    def to_dict(self, *, top: int | None = None) -> dict[str, Any]:
        """JSON-ready dictionary: ``{"file", "technique", "candidates": [...], ...}``.

        Parameters
        ----------
        top : int, optional
            Only the ``top`` best testable candidates (the not-testable ones are
            always listed after them).
        """
        ranked = [c for c in self.candidates if c.rank is not None]
        rest = [c for c in self.candidates if c.rank is None]
        if top is not None:
            ranked = ranked[: max(top, 0)]
        return {
            "file": self.file,
            "technique": self.technique,
            "candidates": [c.to_dict() for c in (*ranked, *rest)],
            "peaks": len(self.search.peaks),
            "displacement_deg": round(self.displacement_deg, 5),
            "unexplained": [round(v, 4) for v in self.unexplained],
            "unexplained_saturated": [
                round(v, 4)
                for v, s in zip(self.unexplained, self._saturated_at(self.unexplained), strict=True)
                if s
            ],
            "peak_search": self.search.summary(),
            "fit": self.fit,
        }


#: Unexplained peaks a text report names (the strongest, when there are more).
UNEXPLAINED_SHOWN = 12


def _amount(f: Mapping[str, Any], poor: bool) -> str:
    """A candidate's wt % column: "wt ± esd", "< limit", or for a poor fit "~wt ± ?" (no "< nan")."""
    lod = f.get("lod_wt_percent")
    known = lod is not None and math.isfinite(lod)
    if f.get("detected"):
        if poor or f.get("reliable") is False:
            return f"~{f['wt_percent']:.0f} ± ?"
        return f"{f['wt_percent']:6.2f} ± {f['esd']:.2f}"
    return f"< {lod:.2f}" if known else "–"


def scan_label(scan: Any) -> str:
    """How messages name a scan: its file, else its sample name."""
    return scan.meta.source_path or scan.meta.sample or "scan"
