"""Always-on stage timers: where the time of a run goes (load, library, ranking, selection, fit, ...).

A stage is timed with ``with stage("load"): ...``; its seconds are added to the :class:`StageClock`
that :func:`recording` made current in this context (thread or task), and nothing is recorded (at
the cost of one context-variable lookup) when there is none. Stages nest: a stage's own time
excludes the stages timed inside it, so the seconds of a clock add up to the time spent inside its
stages and can be summed across processes without double counting.

The timers count the CPU seconds of the process (:func:`time.process_time`), not wall time: on a
machine shared with other work, wall time grows with the load while CPU time stays what the stage
costs. Waiting (for files, for workers) is not counted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["STAGES", "StageClock", "cpu_seconds", "recording", "stage", "summarise"]

#: The clock of the timers: CPU seconds of this process.
cpu_seconds = time.process_time

#: The stages of a series run, in pipeline order (the rows of the per-stage table; others follow).
STAGES = (
    "collect",
    "load",
    "library",
    "ranking",
    "selection",
    "final fit",
    "raman",
    "results",
    "store",
    "figures",
    "reports",
)


class StageClock:
    """Seconds per stage name, own time only (nested stages are subtracted)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._inner = [0.0]

    def add(self, name: str, seconds: float) -> None:
        """Add seconds to a stage."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


_CLOCK: ContextVar[StageClock | None] = ContextVar("phasetrace_stage_clock", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage ``name`` on the current clock (a no-op without one)."""
    clock = _CLOCK.get()
    if clock is None:
        yield
        return
    clock._inner.append(0.0)
    t0 = time.process_time()
    try:
        yield
    finally:
        elapsed = time.process_time() - t0
        inner = clock._inner.pop()
        clock._inner[-1] += elapsed
        clock.add(name, elapsed - inner)


@contextmanager
def recording() -> Iterator[StageClock]:
    """Make a fresh :class:`StageClock` current for the block and yield it."""
    clock = StageClock()
    token = _CLOCK.set(clock)
    try:
        yield clock
    finally:
        _CLOCK.reset(token)


def summarise(
    per_scan: Iterable[Mapping[str, float]], run_level: Mapping[str, float] | None = None
) -> dict[str, dict[str, float]]:
    """Per stage: total seconds, median seconds per scan, and share of the total.

    Parameters
    ----------
    per_scan : iterable of mapping
        Stage -> seconds of each scan (all of a scan's tasks together).
    run_level : mapping, optional
        Stage -> seconds of work done once for the whole run (collecting, figures, reports);
        it adds its total over the number of scans to the stage's per-scan figure.

    Returns
    -------
    dict
        Stage -> ``{"seconds", "per_scan_s", "share"}``, in :data:`STAGES` order. ``per_scan_s`` is
        the median over the scans the stage ran for (a Raman scan has no ranking); ``share`` is the
        stage's part of the summed seconds of all stages (CPU time across processes, not wall).
    """
    scans = list(per_scan)
    run_level = dict(run_level or {})
    names = {k for s in scans for k in s} | set(run_level)
    total = sum(sum(s.values()) for s in scans) + sum(run_level.values())
    out: dict[str, dict[str, float]] = {}
    for name in sorted(names, key=lambda n: (STAGES.index(n) if n in STAGES else len(STAGES), n)):
        secs = sum(s.get(name, 0.0) for s in scans) + run_level.get(name, 0.0)
        ran = [s[name] for s in scans if name in s]
        per = (statistics.median(ran) if ran else 0.0) + run_level.get(name, 0.0) / max(len(scans), 1)
        out[name] = {"seconds": secs, "per_scan_s": per, "share": secs / total if total > 0 else 0.0}
    return out
