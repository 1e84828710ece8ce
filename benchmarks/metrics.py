"""Accuracy metrics of the benchmark: pure functions of known answers and results.

Every function takes plain mappings and sequences (phase id -> wt %, lists of detected ids, ...), so
that it can be tested on hand-made inputs and used on any stage's output. Phase groups that the data
can hardly tell apart (``equivalents``, e.g. the LaMO3 family) can be merged before scoring.

Conventions
-----------
* A phase is *present* in a scan when its true wt % is > 0 and *absent* when it is exactly 0 (or not
  listed).
* Identification counts phases at or above :data:`MIN_WT_IDENTIFY`. A phase that is present but
  smaller is neither a miss if it is not found nor a false positive if it is.
* Weight-fraction errors are absolute, in wt %. *Minor* phases have a true wt % of at most
  :data:`MINOR_MAX_WT`; the others are *major*.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median as _median

__all__ = [
    "MAJOR_TARGET_WT",
    "MINOR_MAX_WT",
    "MINOR_TARGET_WT",
    "MIN_WT_ERROR",
    "MIN_WT_IDENTIFY",
    "MIN_WT_RANKING",
    "FalseDetections",
    "Identification",
    "OnsetScore",
    "RankSeparation",
    "WtErrors",
    "below_own_lod",
    "false_detections",
    "identification",
    "merge_equivalents",
    "median",
    "onset_match",
    "rank_separation",
    "stage_shares",
    "top_ranks_match",
    "wt_errors",
]

#: Identification is scored for phases at or above 1 wt %: the level of the secondary phases that
#: matter in co-sintering (1 wt % La2Zr2O7 is reported to cost 40 % of capacity).
MIN_WT_IDENTIFY = 1.0
#: Phases up to 5 wt % are "minor" (the secondary phases of a heating series are 0.5-3 wt %).
MINOR_MAX_WT = 5.0
#: Target absolute error for minor phases, wt % (issue 6).
MINOR_TARGET_WT = 0.5
#: Target absolute error for major phases, wt % (issue 6).
MAJOR_TARGET_WT = 2.0
#: Weight-fraction errors are taken over present phases at or above this wt %. Below it a phase sits
#: under the detection limit at lab counting statistics; a fit reports it as "< LoD" (0), and its
#: error, bounded by its own size, would only flatter the mean.
MIN_WT_ERROR = 0.5
#: Candidate ranking is scored for phases at or above 3 wt % (issue 5).
MIN_WT_RANKING = 3.0


def median(values: Iterable[float]) -> float:
    """Median of the finite values, NaN if there are none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(_median(vals)) if vals else math.nan


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def merge_equivalents(
    wt: Mapping[str, float], equivalents: Mapping[str, Sequence[str]] | None
) -> dict[str, float]:
    """Sum the wt % of phases in the same equivalence group under the group's name.

    Parameters
    ----------
    wt : mapping
        Phase id -> wt %.
    equivalents : mapping, optional
        Group name -> phase ids. Phases in no group keep their id.

    Returns
    -------
    dict
        Group name or phase id -> wt %.
    """
    group = _group_of(equivalents)
    out: dict[str, float] = {}
    for pid, v in wt.items():
        key = group.get(pid, pid)
        out[key] = out.get(key, 0.0) + float(v)
    return out


def _group_of(equivalents: Mapping[str, Sequence[str]] | None) -> dict[str, str]:
    return {pid: name for name, ids in (equivalents or {}).items() for pid in ids}


def _rename(ids: Iterable[str], equivalents: Mapping[str, Sequence[str]] | None) -> list[str]:
    group = _group_of(equivalents)
    out: list[str] = []
    for pid in ids:
        key = group.get(pid, pid)
        if key not in out:
            out.append(key)
    return out


# ----------------------------------------------------------------------------- identification
@dataclass(frozen=True)
class Identification:
    """Phase identification scored over scans.

    Attributes
    ----------
    tp, fp, fn : int
        Found phases that are present at >= ``min_wt``; found phases that are absent; phases present
        at >= ``min_wt`` that were not found.
    ignored : int
        Found phases that are present below ``min_wt`` (neither right nor wrong).
    precision, recall : float
        ``tp / (tp + fp)`` and ``tp / (tp + fn)``; NaN when the denominator is 0.
    """

    tp: int
    fp: int
    fn: int
    ignored: int
    precision: float
    recall: float


def identification(
    truth: Sequence[Mapping[str, float]],
    found: Sequence[Iterable[str]],
    *,
    min_wt: float = MIN_WT_IDENTIFY,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> Identification:
    """Precision and recall of the phases reported as present.

    Parameters
    ----------
    truth : sequence of mapping
        Per scan, phase id -> true wt %.
    found : sequence of iterables
        Per scan, the ids reported as present (same order as ``truth``).
    min_wt : float
        Phases at or above this true wt % must be found.
    equivalents : mapping, optional
        Groups scored as one phase (see :func:`merge_equivalents`).
    """
    if len(truth) != len(found):
        raise ValueError(f"{len(truth)} truth entries but {len(found)} results")
    tp = fp = fn = ignored = 0
    for t, f in zip(truth, found, strict=True):
        tw = merge_equivalents(t, equivalents)
        fs = set(_rename(f, equivalents))
        must = {k for k, v in tw.items() if v >= min_wt}
        for pid in fs:
            w = tw.get(pid, 0.0)
            if w >= min_wt:
                tp += 1
            elif w > 0:
                ignored += 1
            else:
                fp += 1
        fn += len(must - fs)
    return Identification(tp, fp, fn, ignored, _ratio(tp, tp + fp), _ratio(tp, tp + fn))


# ----------------------------------------------------------------------------- weight fractions
@dataclass(frozen=True)
class WtErrors:
    """Absolute wt % errors of one class of phases (minor or major).

    Attributes
    ----------
    n : int
        Phase-scan pairs scored.
    mean, median, max : float
        Of the absolute errors (NaN if ``n == 0``).
    target : float
        The error target of this class.
    within : int
        Pairs with an error at or below ``target``.
    """

    n: int
    mean: float
    median: float
    max: float
    target: float
    within: int

    @property
    def within_rate(self) -> float:
        """Fraction of pairs within the target."""
        return _ratio(self.within, self.n)


def _errors(errs: Sequence[float], target: float) -> WtErrors:
    if not errs:
        return WtErrors(0, math.nan, math.nan, math.nan, target, 0)
    return WtErrors(
        len(errs),
        sum(errs) / len(errs),
        median(errs),
        max(errs),
        target,
        sum(1 for e in errs if e <= target + 1e-12),
    )


def wt_errors(
    truth: Sequence[Mapping[str, float]],
    predicted: Sequence[Mapping[str, float]],
    *,
    minor_max: float = MINOR_MAX_WT,
    min_wt: float = MIN_WT_ERROR,
    minor_target: float = MINOR_TARGET_WT,
    major_target: float = MAJOR_TARGET_WT,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, WtErrors]:
    """Absolute wt % errors of present phases, minor and major separately.

    A present phase that the result does not list counts as predicted 0 wt %.

    Parameters
    ----------
    truth, predicted : sequence of mapping
        Per scan, phase id -> wt % (true and reported).
    minor_max : float
        Phases with a true wt % up to this are minor.
    min_wt : float
        Only phases with a true wt % at or above this are scored.

    Returns
    -------
    dict
        ``{"minor": WtErrors, "major": WtErrors}``.
    """
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} truth entries but {len(predicted)} results")
    minor: list[float] = []
    major: list[float] = []
    for t, p in zip(truth, predicted, strict=True):
        tw = merge_equivalents(t, equivalents)
        pw = merge_equivalents(p, equivalents)
        for pid, w in tw.items():
            if w <= 0 or w < min_wt:
                continue
            err = abs(float(pw.get(pid, 0.0)) - w)
            (minor if w <= minor_max else major).append(err)
    return {"minor": _errors(minor, minor_target), "major": _errors(major, major_target)}


# ----------------------------------------------------------------------------- onsets
@dataclass(frozen=True)
class OnsetScore:
    """Onset temperatures compared with the truth.

    Attributes
    ----------
    n : int
        (system, phase) pairs with a true onset.
    exact : int
        Of those, reported at exactly the true temperature.
    missed : int
        Of those, reported with no onset.
    wrong : int
        Of those, reported at another temperature.
    spurious : int
        Onsets reported for phases that have none (not formed, or present from the start).
    rate : float
        ``exact / n``.
    mismatches : list
        ``(key, true, reported)`` for every miss, wrong or spurious onset.
    """

    n: int
    exact: int
    missed: int
    wrong: int
    spurious: int
    rate: float
    mismatches: list[tuple[tuple[str, str], float | None, float | None]] = field(default_factory=list)


def onset_match(
    truth: Mapping[tuple[str, str], float | None],
    reported: Mapping[tuple[str, str], float | None],
    *,
    tolerance: float = 1e-6,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> OnsetScore:
    """Exact-match rate of onset temperatures.

    Parameters
    ----------
    truth : mapping
        (system, phase) -> true onset temperature (°C) or None (no onset: absent throughout, host or
        present from the start).
    reported : mapping
        (system, phase) -> reported onset or None. Missing keys mean "no onset".
    tolerance : float
        Temperatures closer than this are equal.
    equivalents : mapping, optional
        Groups scored as one phase (see :func:`merge_equivalents`): a group's onset is the earliest
        onset of its members, on both sides.
    """
    if equivalents:
        truth, reported = _group_onsets(truth, equivalents), _group_onsets(reported, equivalents)
    n = exact = missed = wrong = spurious = 0
    mism: list[tuple[tuple[str, str], float | None, float | None]] = []
    for key, t in truth.items():
        r = reported.get(key)
        if t is None:
            if r is not None:
                spurious += 1
                mism.append((key, None, r))
            continue
        n += 1
        if r is None:
            missed += 1
            mism.append((key, t, None))
        elif abs(float(r) - float(t)) <= tolerance:
            exact += 1
        else:
            wrong += 1
            mism.append((key, t, r))
    for key, r in reported.items():
        if key not in truth and r is not None:
            spurious += 1
            mism.append((key, None, r))
    return OnsetScore(n, exact, missed, wrong, spurious, _ratio(exact, n), mism)


def _group_onsets(
    onsets: Mapping[tuple[str, str], float | None], equivalents: Mapping[str, Sequence[str]]
) -> dict[tuple[str, str], float | None]:
    """(system, phase) onsets with the phases of an equivalence group merged: the earliest onset."""
    group = _group_of(equivalents)
    out: dict[tuple[str, str], float | None] = {}
    for (sysname, pid), t in onsets.items():
        key = (sysname, group.get(pid, pid))
        prev = out.get(key)
        out[key] = t if prev is None else (prev if t is None else min(prev, t))
    return out


# ----------------------------------------------------------------------------- false detections
@dataclass(frozen=True)
class FalseDetections:
    """Reported phases that are absent, over (scan, absent candidate) pairs.

    Attributes
    ----------
    pairs : int
        (scan, candidate) pairs where the candidate is absent from the scan.
    false : int
        Of those, pairs where the candidate was reported as present.
    rate : float
        ``false / pairs``.
    """

    pairs: int
    false: int
    rate: float


def false_detections(
    truth: Sequence[Mapping[str, float]],
    found: Sequence[Iterable[str]],
    candidates: Sequence[Iterable[str]],
    *,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> FalseDetections:
    """False-detection rate for absent phases.

    Parameters
    ----------
    truth : sequence of mapping
        Per scan, phase id -> true wt %.
    found : sequence of iterables
        Per scan, the ids reported as present.
    candidates : sequence of iterables
        Per scan, the phases that were tried (e.g. the library's candidates for the sample's
        elements). Only candidates that are absent from the scan form pairs.
    equivalents : mapping, optional
        Groups scored as one phase: a group is absent only if none of its phases is present.
    """
    if not len(truth) == len(found) == len(candidates):
        raise ValueError("truth, found and candidates must have one entry per scan")
    pairs = false = 0
    for t, f, c in zip(truth, found, candidates, strict=True):
        tw = merge_equivalents(t, equivalents)
        fs = set(_rename(f, equivalents))
        for pid in set(_rename(c, equivalents)):
            if tw.get(pid, 0.0) > 0:
                continue
            pairs += 1
            false += pid in fs
    return FalseDetections(pairs, false, _ratio(false, pairs))


def below_own_lod(results: Iterable[tuple[float | None, float | None, bool]]) -> int:
    """Count phases reported as detected with a wt % below their own detection limit.

    Parameters
    ----------
    results : iterable of (wt %, detection limit wt %, detected)
        One entry per (scan, phase) of a fit result. Entries without a limit are not counted.
    """
    n = 0
    for wt, lod, detected in results:
        if detected and wt is not None and lod is not None and float(wt) < float(lod):
            n += 1
    return n


# ----------------------------------------------------------------------------- candidate ranking
@dataclass(frozen=True)
class RankSeparation:
    """Candidate rankings in which every clearly present phase ranks above every absent one.

    Attributes
    ----------
    cases : int
        Scans with at least one phase at or above ``min_wt``.
    separated : int
        Of those, rankings where all such phases are listed and rank above every absent phase.
    rate : float
        ``separated / cases``.
    failures : list of int
        Indices (into the inputs) of the scans that failed.
    """

    cases: int
    separated: int
    rate: float
    failures: list[int] = field(default_factory=list)


def rank_separation(
    truth: Sequence[Mapping[str, float]],
    rankings: Sequence[Sequence[str]],
    *,
    min_wt: float = MIN_WT_RANKING,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> RankSeparation:
    """Fraction of scans whose ranking puts every phase >= ``min_wt`` above every absent phase.

    Phases present below ``min_wt`` may rank anywhere. A required phase missing from the ranking fails
    the scan; absent phases missing from the ranking rank below everything.

    Parameters
    ----------
    truth : sequence of mapping
        Per scan, phase id -> true wt %.
    rankings : sequence of sequences
        Per scan, candidate ids best first.
    """
    if len(truth) != len(rankings):
        raise ValueError(f"{len(truth)} truth entries but {len(rankings)} rankings")
    cases = sep = 0
    failures = []
    for i, (t, r) in enumerate(zip(truth, rankings, strict=True)):
        tw = merge_equivalents(t, equivalents)
        order = _rename(r, equivalents)
        must = [k for k, v in tw.items() if v >= min_wt]
        if not must:
            continue
        cases += 1
        pos = {pid: j for j, pid in enumerate(order)}
        absent = [pos[k] for k in order if tw.get(k, 0.0) <= 0]
        ok = all(k in pos for k in must) and max(pos[k] for k in must) < min(absent, default=math.inf)
        if ok:
            sep += 1
        else:
            failures.append(i)
    return RankSeparation(cases, sep, _ratio(sep, cases), failures)


def top_ranks_match(
    expected: Iterable[str],
    ranking: Sequence[str],
    *,
    equivalents: Mapping[str, Sequence[str]] | None = None,
) -> bool:
    """True when the ``len(expected)`` best-ranked candidates are exactly the expected phases."""
    exp = set(_rename(expected, equivalents))
    top = _rename(ranking, equivalents)[: len(exp)]
    return len(top) == len(exp) and set(top) == exp


def stage_shares(
    stages: Mapping[str, Mapping[str, float]], min_share: float = 0.0
) -> list[tuple[str, Mapping[str, float]]]:
    """Stages of a run's per-stage breakdown (in pipeline order), checked for consistency.

    Parameters
    ----------
    stages : mapping
        Stage -> ``{"seconds", "per_scan_s", "share"}`` (``summary.json``, section ``run``).
    min_share : float
        Stages below this share are left out.

    Returns
    -------
    list of (str, mapping)

    Raises
    ------
    ValueError
        When the shares do not add up to 1 (within rounding) or a value is negative: a breakdown
        that does not account for all of the time is not a breakdown.
    """
    if not stages:
        return []
    total = sum(v["share"] for v in stages.values())
    negative = any(min(v["seconds"], v["per_scan_s"], v["share"]) < 0 for v in stages.values())
    if abs(total - 1.0) > 1e-6 or negative:
        raise ValueError(f"stage shares add up to {total:.4f}, not 1, or a time is negative")
    return [(k, v) for k, v in stages.items() if v["share"] >= min_share]
