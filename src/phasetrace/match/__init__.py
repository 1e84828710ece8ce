"""Search-match: rank the library phases a sample may contain by how well they explain a scan's peaks.

>>> from phasetrace.match import rank_candidates                          # doctest: +SKIP
>>> ranking = rank_candidates(scan, library, system="pc-LCO + LLZTO")    # doctest: +SKIP
>>> [(c.id, c.status) for c in ranking.top(3)]                          # doctest: +SKIP
"""

from .candidates import candidate_pool, host_phases, select_candidates
from .result import (
    STATUSES,
    Candidate,
    MatchConfig,
    MatchError,
    NoCandidatesError,
    NoPeaksError,
    PeakMatch,
    Ranking,
    TechniqueMismatchError,
)
from .score import rank_candidates

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
    "candidate_pool",
    "host_phases",
    "rank_candidates",
    "select_candidates",
]
