"""Onset, maximum and disappearance of a phase along a temperature series.

An onset is an interval: the last temperature at which the phase was not
detected and the first at which it was. It is only as fine as the temperature
grid. Phases present at the first temperature (hosts, contamination such as
Li2CO3) have no onset. Phases may vanish again; that temperature is reported
too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Evolution", "combine", "evolution", "onset_basis", "screen_onset_evidence", "xrd_evidence_ok"]

#: A reflection is a phase's own when its share of the calculated Bragg intensity there is at least this.
OWN_SHARE = 0.5
#: ... and it stands this many standard errors above the noise (the evidence rows' local significance).
OWN_SIGMA = 3.0


@dataclass(frozen=True)
class Evolution:
    """How one phase evolves along a series, from one technique (or combined).

    Attributes
    ----------
    onset : (float, float) or None
        (last temperature without, first temperature with); None if never
        detected or present from the start.
    present_from_start : bool
    vanishes_at : float or None
        First temperature after its appearance at which it is no longer detected.
    detected_at : tuple of float
    testable : bool
        False when no scan of this technique could test the phase (Raman-silent).
    """

    onset: tuple[float | None, float] | None
    present_from_start: bool
    vanishes_at: float | None
    detected_at: tuple[float, ...]
    testable: bool = True

    def to_list(self) -> list[float | None] | None:
        """Onset as ``[T_without, T_with]`` for JSON (None if no onset)."""
        return None if self.onset is None else [self.onset[0], self.onset[1]]


def evolution(temperatures: Sequence[float], detected: Sequence[bool | None]) -> Evolution:
    """Onset and disappearance from detection flags per temperature.

    Parameters
    ----------
    temperatures : sequence of float
        Increasing.
    detected : sequence of bool or None
        True/False per temperature; None where the phase could not be tested
        (no scan of that technique, or a Raman-silent phase).

    Examples
    --------
    >>> evolution([25, 600, 700, 800], [False, False, True, True]).onset
    (600, 700)
    >>> evolution([25, 700, 900], [False, True, False]).vanishes_at
    900
    """
    pairs = [(t, d) for t, d in zip(temperatures, detected, strict=True) if d is not None]
    if not pairs:
        return Evolution(None, False, None, (), testable=False)
    det = tuple(t for t, d in pairs if d)
    if not det:
        return Evolution(None, False, None, ())
    first_idx = next(i for i, (_, d) in enumerate(pairs) if d)
    present = first_idx == 0
    onset = None if present else (pairs[first_idx - 1][0], pairs[first_idx][0])
    vanish = None
    for t, d in pairs[first_idx + 1 :]:
        if not d:
            vanish = t
            break
    return Evolution(onset, present, vanish, det)


def combine(temperatures: Sequence[float], *flags: Sequence[bool | None]) -> list[bool | None]:
    """Detected by any technique (True), by none that could test it (False), or untestable (None)."""
    out: list[bool | None] = []
    for i in range(len(temperatures)):
        vals = [f[i] for f in flags if f[i] is not None]
        out.append(None if not vals else any(vals))
    return out


def xrd_evidence_ok(reflections: Sequence[dict] | None) -> bool:
    """Whether a scan's XRD evidence for a phase is enough to date its appearance.

    A careful analyst accepts a new phase from XRD when the whole-pattern detection is borne out by
    at least one reflection of its own: it carries at least :data:`OWN_SHARE` of the calculated
    intensity there and stands :data:`OWN_SIGMA` above the noise. A detection that rests on
    overlapped reflections only (the shoulder of an isostructural twin's peak, a host's profile
    misfit) is not.

    Parameters
    ----------
    reflections : sequence of dict or None
        ``PhaseResult.evidence`` rows (``share``, ``sigma``).
    """
    rows = reflections or ()
    return any((r.get("sigma") or 0.0) >= OWN_SIGMA and (r.get("share") or 0.0) >= OWN_SHARE for r in rows)


def screen_onset_evidence(
    flags: Sequence[bool | None],
    evidence: Sequence[Sequence[dict] | None],
    confirmed: Sequence[bool | None] | None = None,
) -> list[bool | None]:
    """XRD detection flags with the detections before the first well-founded one made inconclusive.

    Until a phase has one detection that :func:`xrd_evidence_ok` accepts (or that the other
    technique confirms at the same temperature, ``confirmed``), its detections do not date its
    appearance: they become None (not a test), so the onset interval widens to the last
    temperature at which it was tested absent and the first well-founded detection. A detection
    whose evidence is None (not recorded) is taken as it is.
    """
    out: list[bool | None] = list(flags)
    for i, f in enumerate(flags):
        if not f:
            continue
        # a record without evidence (an older store) cannot be judged: it stands
        if evidence[i] is None or xrd_evidence_ok(evidence[i]) or (confirmed is not None and confirmed[i]):
            break
        out[i] = None
    return out


def onset_basis(
    temperatures: Sequence[float],
    onset: tuple[float | None, float] | list | None,
    xrd: Sequence[bool | None],
    raman: Sequence[bool | None],
) -> str | None:
    """Which technique an onset rests on: "XRD", "Raman" or "XRD and Raman" (None without onset)."""
    if not onset:
        return None
    t = onset[1]
    i = list(temperatures).index(t)
    by = [name for name, f in (("XRD", xrd), ("Raman", raman)) if f[i]]
    return " and ".join(by) if by else None
