"""Every reproducer of issue 15 through info, fit, phases and series: exit 0 with sane numbers, or exit 2
with one bounded line naming the problem; never a traceback, an internal error, a crash, or > 1 GB.

The reproducers are read in place from ``../shared/data/defects`` (skipped with the reason when absent);
the cases the README keeps out of files (devices, FIFOs, large files, bad --out) are made here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from phasetrace.cli import main
from phasetrace.errors import MAX_MESSAGE_CHARS, LoadError

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = Path(os.environ.get("PHASETRACE_DEFECTS", ROOT.parent / "shared" / "data" / "defects"))
SAMPLE = ROOT / "sample_data" / "pc-NMC631 + LLZTO-800.xy"
SYSTEM = "pc-NMC631 + LLZTO"

#: Peak resident memory allowed to one command on one reproducer.
MAX_RSS_BYTES = 1 << 30

#: What each reproducer must give now: the problem named in the error line, or None for exit 0.
EXPECTED = {
    "cif_cell_60A_3GB.cif": r"cell volume 216,000 Å³ exceeds",
    "cif_cell_nan_segfault.cif": r"cell length a = 'nan' is not a finite number",
    "cif_unknown_element_exit70.cif": r"unknown element 'Xx'",
    "cif_negative_occupancy_accepted.cif": r"occupancy -1; it must lie between 0 and 1",
    "xrd_last_x_1e308_becomes_raman.xy": r"x reaches 1e\+308 at line 9001",
    "xrd_x_minus_1e10.csv": r"x not monotonic at line 4572",
    "spc_x_minus_1e300.spc": r"x reaches -1e\+300",
    "laser_1e11.csv": r"laser wavelength of 1e\+11 nm, outside the 200–1100 nm",
    "xrd_last_x_corrupt.xy": r"x reaches 2e\+09 at line 7015",
    "two_lines_swapped.xy": r"x not monotonic at line 3509: 44.94 is followed by 44.93",
    "header_temp_inf.csv": r"temperature -inf °C is not a physical temperature",
    "rsciio_log_on_stdout.xml": r"not a valid Horiba LabSpec XML",
    "one_MB_error_line.XRA": r"GSAS BANK 1: data record",
    "escape_in_error.rod": r"ROD spectrum has a value that is not a number \(ñ\(\\x1b526\)",
    "xrdml_dtd_utf16_bypasses_guard.xrdml": r"XRDML with a DTD or entity declarations is refused",
    "one_zero_sigma.xye": None,
    "member_name_newline.zip": None,  # readable: three scans, names escaped
}


def _defect(name: str) -> Path:
    p = DEFECTS / name
    if not p.exists():
        pytest.skip(f"reproducer not available: {p} (expected ../shared/data/defects beside the clone)")
    return p


def _cli(args: list[str], tmp: Path, timeout: float = 240) -> tuple[int, str, str, int]:
    """Run ``phasetrace ARGS`` in a fresh process; (exit code, stdout, stderr, peak RSS in bytes)."""
    env = dict(os.environ, PHASETRACE_USER_LIBRARY=str(tmp / "userlib"), COLUMNS="120")
    out, err = tmp / "stdout", tmp / "stderr"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "phasetrace.cli", *args], stdout=fo, stderr=fe, env=env
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return (
        proc.returncode,
        out.read_text(encoding="utf-8", errors="replace"),
        err.read_text(encoding="utf-8", errors="replace"),
        usage.ru_maxrss * 1024,
    )


def _commands(path: Path, tmp: Path) -> dict[str, list[str]]:
    src = tmp / "src"
    src.mkdir()
    if path.suffix == ".cif":
        lib = ["--library", str(path)]
        shutil.copy(SAMPLE, src / SAMPLE.name)
        return {
            "info": ["info", str(path)],
            "fit": ["fit", "--json", str(SAMPLE), "--phases", f"LLZTO_cubic,{path.stem}", *lib],
            "phases": ["phases", "list", *lib],
            "series": ["series", str(src), "--out", str(tmp / "out"), "--no-figures", *lib],
        }
    (src / f"{SYSTEM}-800{path.suffix}").symlink_to(path)
    return {
        "info": ["info", "--json", str(path)],
        "fit": ["fit", "--json", str(path), "--system", SYSTEM],
        "phases": ["phases", "add", str(path)],
        "series": [
            "series",
            str(src),
            "--out",
            str(tmp / "out"),
            "--no-figures",
            "--json",
            "--system",
            SYSTEM,
        ],
    }


def _assert_bounded(text: str) -> None:
    for line in text.splitlines():
        assert len(line) <= MAX_MESSAGE_CHARS, f"line of {len(line)} characters: {line[:80]!r}..."
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line), f"control character in {line!r}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reproducer_through_every_command(name, tmp_path):
    path = _defect(name)
    problem = EXPECTED[name]
    for command, args in _commands(path, tmp_path).items():
        (tmp_path / "out").exists() and shutil.rmtree(tmp_path / "out")
        code, out, err, rss = _cli(args, tmp_path)
        what = f"{command} {name}: exit {code}, stderr {err[-400:]!r}"
        assert code in (0, 1, 2), what  # 1: a fit that did not converge (reported, not an error)
        assert "internal error" not in err and "Traceback" not in err, what
        assert rss < MAX_RSS_BYTES, f"{what}: peak memory {rss / 2**20:.0f} MiB"
        _assert_bounded(err)
        assert "\x1b" not in out, f"{what}: escape sequence on stdout"
        errors = [ln for ln in err.splitlines() if not ln.startswith("phasetrace: warning:")]
        if "--json" in args and out.strip():
            doc = json.loads(out)  # strict JSON (no NaN, no log lines)
            if not errors:  # with --json the problems are in the document
                errors = [f["error"] for f in doc.get("files", []) if not f.get("ok", True)]
                errors += [p_["error"] for p_ in doc.get("problems", [])]
        _assert_bounded("\n".join(errors))
        if code == 2:
            assert len(errors) == 1, what
        err = "\n".join(errors)
        if command == "phases" and path.suffix != ".cif":
            assert code == 2 and "CIF" in err, what  # a scan file is not a phase
            continue
        if command == "info" and path.suffix == ".cif":
            assert code == 2 and "CIF without powder data" in err, what
            continue
        if problem is not None:
            assert code == 2 and re.search(problem, err), what
            assert path.name in err or path.suffix in err, what


def test_zero_sigma_gives_a_sane_fit(tmp_path):
    """One zero uncertainty no longer makes Rwp 0 % with every phase 'not detected'."""
    path = _defect("one_zero_sigma.xye")
    code, out, err, _ = _cli(["fit", "--json", str(path), "--system", SYSTEM], tmp_path)
    assert code == 0, err
    assert "zero uncertainty" in err
    doc = json.loads(out)
    assert 0.01 < doc["rwp"] < 0.2 and 0.5 < doc["gof"] < 2.0
    found = {p["id"]: p for p in doc["phases"] if p["detected"]}
    assert "LLZTO_cubic" in found and found["LLZTO_cubic"]["wt_percent"] > 20
    assert all(np.isfinite(p["esd"]) and p["esd"] < 10 for p in found.values())


def test_member_names_cannot_inject_lines():
    path = _defect("member_name_newline.zip")
    res = CliRunner().invoke(main, ["info", str(path)])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output
    assert not any(ln.startswith("-fake-line") for ln in res.output.splitlines())
    assert r"\x1b[31mRED\x1b[0m\n-fake-line" in res.output


# ----------------------------------------------------------------- cases made here
def _xy(path: Path, n: int = 400) -> Path:
    x = np.linspace(10, 80, n)
    y = 100 + 1000 * np.exp(-0.5 * ((x - 30) / 0.1) ** 2)
    np.savetxt(path, np.c_[x, y], fmt="%.5f")
    return path


def test_device_behind_a_symlink_is_refused_before_reading(tmp_path):
    link = tmp_path / "scan.xy"
    link.symlink_to("/dev/zero")
    with pytest.raises(LoadError, match="is a character device, not a regular file"):
        from phasetrace.io import load

        load(link)


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "scan.xy"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    res = CliRunner().invoke(main, ["info", str(fifo)])
    assert res.exit_code == 2
    assert "FIFO" in res.output


def test_negative_uncertainty_is_refused_with_its_line(tmp_path):
    p = tmp_path / "s.xye"
    p.write_text(
        "# x y sigma\n" + "".join(f"{10 + i * 0.1:.2f} {100 + i} {-1 if i == 5 else 10}\n" for i in range(50))
    )
    from phasetrace.io import load

    with pytest.raises(LoadError, match=r"uncertainty is negative \(-1\) at line 7"):
        load(p)


def test_all_zero_uncertainties_are_dropped_with_a_warning(tmp_path):
    p = tmp_path / "s.xye"
    p.write_text("".join(f"{10 + i * 0.1:.2f} {100 + i} 0\n" for i in range(50)))
    from phasetrace.errors import DataWarning
    from phasetrace.io import load

    with pytest.warns(DataWarning, match="every uncertainty is zero"):
        scan = load(p)
    assert scan.sigma is None


def test_concatenated_scans_are_still_split(tmp_path):
    """A real restart (the same range measured twice) is two scans; one lowered value is not."""
    p = tmp_path / "two.xy"
    x = np.linspace(10, 80, 200)
    p.write_text("".join(f"{v:.4f} {100 + k}\n" for k in range(2) for v in x))
    from phasetrace.io import load_all

    assert len(load_all(p)) == 2


@pytest.mark.parametrize("option", ["file", "under_file", "read_only"])
def test_bad_out_is_a_user_error(tmp_path, option):
    src = tmp_path / "src"
    src.mkdir()
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    out = {"file": a_file, "under_file": a_file / "out", "read_only": ro / "out"}[option]
    try:
        if option == "read_only" and os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        res = CliRunner().invoke(main, ["series", str(src), "--out", str(out)])
    finally:
        ro.chmod(0o700)
    assert res.exit_code == 2, res.output
    assert "--out" in res.output and "internal error" not in res.output
    assert not (tmp_path / "a_file").is_dir()


def test_read_only_out_is_a_user_error_even_for_root(tmp_path, monkeypatch):
    """What os.access says for a read-only folder (root is allowed everywhere, so it is simulated)."""
    import phasetrace.cli._util as util

    real_access = os.access
    monkeypatch.setattr(
        util.os,
        "access",
        lambda p, mode: False if Path(p) == tmp_path and mode & os.W_OK else real_access(p, mode),
    )
    res = CliRunner().invoke(main, ["series", str(tmp_path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "is not writable" in res.output and "--out" in res.output


def test_os_errors_from_user_paths_exit_2(tmp_path):
    """A write that fails for a reason of the user's (EROFS, EACCES, ENOSPC) is exit 2, not 'internal error'."""
    import errno

    import click

    from phasetrace.cli._util import guard

    @click.command()
    @guard
    def write():
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "out" / "summary.json"))

    res = CliRunner().invoke(write, [])
    assert res.exit_code == 2
    assert "summary.json: read-only file system" in res.output and "internal" not in res.output


def test_plot_under_a_file_is_a_user_error(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    res = CliRunner().invoke(
        main, ["fit", str(_xy(tmp_path / "s.xy")), "--phases", "LLZTO_cubic", "--plot", str(a_file / "p.png")]
    )
    assert res.exit_code == 2 and "--plot" in res.output and "which is a file" in res.output


def test_repeated_phase_id_is_refused():
    res = CliRunner().invoke(main, ["fit", str(SAMPLE), "--phases", "LLZTO_cubic,LLZTO_cubic"])
    assert res.exit_code == 2
    assert "phase 'LLZTO_cubic' is given twice" in res.output


@pytest.mark.parametrize(
    "command", [["fit", str(SAMPLE)], ["phases", "list"], ["series", str(ROOT), "--out", "x"]]
)
def test_unknown_element_is_a_user_error(command):
    res = CliRunner().invoke(main, [*command, "--elements", "Li,Xx,O"])
    assert res.exit_code == 2
    assert "unknown element symbol(s) 'Xx'" in res.output


def test_messages_are_bounded_and_escaped():
    from phasetrace.errors import bounded, escape_controls

    long = LoadError("f.xy", "bad value " + "1" * 100_000 + "\x1b[31m\nfake")
    assert len(str(long)) <= MAX_MESSAGE_CHARS and "\n" not in str(long) and "\x1b" not in str(long)
    assert str(long).startswith("f.xy: bad value 111")
    assert escape_controls("a\tb\x07") == r"a\tb\x07"
    assert bounded("ok") == "ok"


def test_json_never_holds_nan():
    from phasetrace.cli._util import json_safe

    doc = json_safe({"a": [np.float64("nan"), 1.5], "b": np.array([np.inf, 2.0]), "c": {"d": float("-inf")}})
    assert json.loads(json.dumps(doc, allow_nan=False)) == {
        "a": [None, 1.5],
        "b": [None, 2.0],
        "c": {"d": None},
    }


def test_rosettasciio_log_lines_stay_off_stdout(tmp_path):
    """rosettasciio logs to its own handler on stdout; with --json that would not parse."""
    path = _defect("rsciio_log_on_stdout.xml")
    code, out, err, _ = _cli(["info", "--json", str(path)], tmp_path)
    assert code == 2
    assert "CRITICAL" not in out and "\x1b" not in out
    assert json.loads(out)["failed"] == 1


def test_zip_members_share_one_budget(tmp_path, monkeypatch):
    """Members are read within one total budget, not each within it."""
    from phasetrace.io import _xml, load_all

    p = tmp_path / "many.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(4):
            zf.write(_xy(tmp_path / f"s{k}.xy", 2000), f"s{k}.xy")
    size = (tmp_path / "s0.xy").stat().st_size
    assert len(load_all(p)) == 4
    monkeypatch.setattr(_xml, "MAX_UNZIPPED_BYTES", int(size * 2.5))
    with pytest.raises(LoadError, match="beyond"):
        zf = zipfile.ZipFile(p)
        for name in zf.namelist():
            _xml.read_member(zf, name, str(p), "zip archive")


def test_dead_worker_fails_its_task_not_the_pool():
    """A worker that dies breaks a process pool; the renewable pool starts afresh for the next task."""
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    from phasetrace.series.tasks import _RenewablePool

    with _RenewablePool(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(BrokenProcessPool):
            pool.submit(os._exit, 3).result(timeout=60)
        assert pool.submit(abs, -4).result(timeout=60) == 4


@pytest.mark.slow
def test_ten_million_points_load_in_three_times_their_size(tmp_path):
    """A 10⁷-point .xy loads with peak traced memory <= 3x its numbers (2 columns of float64)."""
    import tracemalloc

    from phasetrace.io import load

    n = 10_000_000
    p = tmp_path / "big.xy"
    x = 10 + np.arange(n) * 7e-6
    with open(p, "w") as fh:
        fh.write("# 2theta intensity\n")
        for k in range(0, n, 500_000):
            chunk = x[k : k + 500_000]
            fh.write(("%.6f 1000.0\n" * chunk.size) % tuple(chunk))
    del x
    numeric = n * 2 * 8
    tracemalloc.start()
    try:
        with pytest.warns(Warning):
            scan = load(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(scan) == n
    assert peak <= 3 * numeric, f"peak {peak / 2**20:.0f} MiB for {numeric / 2**20:.0f} MiB of numbers"
