"""Fuzzing the front door: mutated files of every writable format family never crash, hang or pass bad data.

For each family a small valid seed is written with phasetrace's own writer and its bytes are mutated
(flipped and inserted bytes, deleted and duplicated ranges, numbers replaced by NaN, infinities, huge,
negative or zero values, truncation): a few thousand times by a seeded generator (cheap, so many), and
a few hundred times by hypothesis (which shrinks a failing mutant to a minimal one). Every mutant must either load into
scans that satisfy the front door's promises (finite, strictly increasing x within the technique's
physical range, positive finite uncertainties, at least three points) or raise a
:class:`~phasetrace.errors.PhasetraceError` whose message is one bounded line. Anything else — another
exception type, a NaN in a "valid" scan, a message of a megabyte — fails with the mutant shrunk.

The whole module runs in well under a minute (the budget of ``make test``): seeds are small and the
number of mutants per family is fixed (seeded and derandomised, so a failure reproduces).
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phasetrace.errors import MAX_MESSAGE_CHARS, PhasetraceError
from phasetrace.io import loads, save
from phasetrace.io._load import MAX_TWO_THETA, RAMAN_SHIFT_RANGE
from phasetrace.scan import CU_KALPHA, Scan, ScanMeta

#: Mutants per format family from the seeded generator (≈ 0.3 ms each) ...
MUTANTS = 3000
#: ... and from hypothesis (≈ 2 ms each, most of it hypothesis's own bookkeeping).
EXAMPLES = 150

#: Values a corrupt or hostile file puts where a number belongs.
NASTY = [
    b"nan",
    b"NaN",
    b"inf",
    b"-inf",
    b"1e308",
    b"-1e308",
    b"1e-320",
    b"-1e10",
    b"0",
    b"-0",
    b"-1",
    b"99999999999999999999999",
    b"",
    b"1,5",
    b"\x1b[31m",
    b"\n",
    b"\x00",
]

_NUMBER = re.compile(rb"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _scan(kind: str, n: int = 60) -> Scan:
    rng = np.random.default_rng(7)
    if kind == "xrd":
        x = 20.0 + 0.25 * np.arange(n)  # binary-exact steps (RAW stores start + i·step)
        meta = ScanMeta(radiation=CU_KALPHA, sample="seed", x_unit="2theta_deg")
    else:
        x = 200.0 + 8.0 * np.arange(n)
        meta = ScanMeta(laser_nm=532.0, sample="seed", x_unit="raman_shift_cm-1")
    y = np.round(100 + 900 * np.exp(-0.5 * ((np.arange(n) - n / 2) / 3) ** 2) + rng.normal(0, 5, n), 1)
    sigma = np.round(np.sqrt(np.abs(y)) + 1, 3)
    return Scan(x=x, y=y, kind=kind, meta=meta, sigma=sigma)


# name -> (kind, file suffix)
FAMILIES = {
    "xy": ("xrd", ".xy"),
    "xye": ("xrd", ".xye"),
    "csv": ("raman", ".csv"),
    "uxd": ("xrd", ".uxd"),
    "bruker-raw": ("xrd", ".raw"),
    "gsas": ("xrd", ".fxye"),
    "pdcif": ("xrd", ".cif"),
    "ras": ("xrd", ".ras"),
    "xrdml": ("xrd", ".xrdml"),
    "spc": ("raman", ".spc"),
    "zip": ("xrd", ".zip"),
}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("seeds")
    out: dict[str, bytes] = {}
    for family, (kind, suffix) in FAMILIES.items():
        if family == "zip":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("a-600.xy", out["xy"])
                zf.writestr("b-700.xy", out["xy"])
            out[family] = buf.getvalue()
            continue
        path = save(_scan(kind), root / f"seed{suffix}")
        out[family] = Path(path).read_bytes()
    return out


@st.composite
def mutations(draw, data: bytes) -> bytes:
    """``data`` with 1-4 random edits."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "number", "truncate"]))
        n = len(buf)
        pos = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            buf[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and n:
            del buf[pos : pos + draw(st.integers(1, 64))]
        elif op == "duplicate" and n:
            buf[pos:pos] = buf[pos : pos + draw(st.integers(1, 256))]
        elif op == "number":
            numbers = list(_NUMBER.finditer(bytes(buf)))
            if numbers:
                m = numbers[draw(st.integers(0, len(numbers) - 1))]
                buf[m.start() : m.end()] = draw(st.sampled_from(NASTY))
        elif op == "truncate" and n:
            del buf[pos:]
    return bytes(buf)


def _mutate(rng: np.random.Generator, data: bytes) -> bytes:
    """The same edits as :func:`mutations`, drawn from a numpy generator."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        op = int(rng.integers(0, 6))
        n = len(buf)
        pos = int(rng.integers(0, max(n, 1)))
        if op == 0 and n:
            buf[pos] = int(rng.integers(0, 256))
        elif op == 1:
            buf[pos:pos] = rng.bytes(int(rng.integers(1, 17)))
        elif op == 2 and n:
            del buf[pos : pos + int(rng.integers(1, 65))]
        elif op == 3 and n:
            buf[pos:pos] = buf[pos : pos + int(rng.integers(1, 257))]
        elif op == 4:
            numbers = list(_NUMBER.finditer(bytes(buf)))
            if numbers:
                m = numbers[int(rng.integers(0, len(numbers)))]
                buf[m.start() : m.end()] = NASTY[int(rng.integers(0, len(NASTY)))]
        elif op == 5 and n:
            del buf[pos:]
    return bytes(buf)


def _check(data: bytes, name: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scans = loads(data, name, parse_filename=False)
    except PhasetraceError as exc:
        msg = str(exc)
        assert len(msg) <= MAX_MESSAGE_CHARS, f"message of {len(msg)} characters"
        assert not re.search(r"[\x00-\x1f\x7f]", msg), f"control character in {msg!r}"
        return
    for s in scans:
        assert len(s) >= 3
        assert np.all(np.isfinite(s.x)) and np.all(np.isfinite(s.y))
        assert np.all(np.diff(s.x) > 0)
        if s.sigma is not None:
            assert np.all(np.isfinite(s.sigma)) and np.all(s.sigma > 0)
        if s.kind == "xrd":
            assert 0.0 <= s.x[0] and s.x[-1] <= MAX_TWO_THETA
        else:
            assert RAMAN_SHIFT_RANGE[0] <= s.x[0] and s.x[-1] <= RAMAN_SHIFT_RANGE[1]
        if s.meta.laser_nm is not None:
            assert 200.0 <= s.meta.laser_nm <= 1100.0
        if s.meta.temperature_C is not None:
            assert np.isfinite(s.meta.temperature_C)


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def test_seeds_are_valid(seeds):
    for family, data in seeds.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the seeds state no wavelength on purpose (a default applies)
            scans = loads(data, f"seed{FAMILIES[family][1]}", parse_filename=False)
        assert scans and all(len(s) == 60 for s in scans), family


@pytest.mark.parametrize("family", list(FAMILIES))
def test_many_mutants_load_or_fail_cleanly(seeds, family, tmp_path):
    suffix = FAMILIES[family][1]
    rng = np.random.default_rng(sum(family.encode()))
    for k in range(MUTANTS):
        mutant = _mutate(rng, seeds[family])
        try:
            _check(mutant, f"mutant{suffix}")
        except Exception:
            keep = tmp_path / f"mutant{k}{suffix}"
            keep.write_bytes(mutant)
            raise AssertionError(f"{family} mutant {k} (kept as {keep}) broke the front door") from None


@pytest.mark.parametrize("family", list(FAMILIES))
def test_mutants_load_or_fail_cleanly(seeds, family):
    suffix = FAMILIES[family][1]

    @FUZZ
    @given(data=st.data())
    def run(data):
        _check(data.draw(mutations(seeds[family])), f"mutant{suffix}")

    run()
