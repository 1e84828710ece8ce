"""Atomic outputs: a file appears complete or not at all; many files share one flush to disk."""

from __future__ import annotations

import os
import sys

import pytest

from phasetrace import _atomic
from phasetrace._atomic import atomic_write_text, synced_once


@pytest.fixture
def flushes(monkeypatch):
    """Count the fsync calls (file and folder flushes) and the file-system flushes."""
    calls = {"fsync": 0, "syncfs": 0}
    real = os.fsync

    def fsync(fd):
        calls["fsync"] += 1
        real(fd)

    def syncfs(fd):
        calls["syncfs"] += 1
        return True

    monkeypatch.setattr(_atomic.os, "fsync", fsync)
    monkeypatch.setattr(_atomic, "_syncfs", syncfs)
    return calls


def test_each_file_is_flushed_outside_a_batch(tmp_path, flushes):
    for k in range(3):
        atomic_write_text(tmp_path / f"f{k}.txt", str(k))
    assert flushes == {"fsync": 3, "syncfs": 0}


def test_a_batch_flushes_each_folder_once_at_its_end(tmp_path, flushes):
    with synced_once():
        for k in range(20):
            atomic_write_text(tmp_path / "profiles" / f"p{k}.csv", f"{k}\n")
        atomic_write_text(tmp_path / "summary.json", "{}")
        with synced_once():  # nested: flushed with the outer block
            atomic_write_text(tmp_path / "report.html", "<p>")
        assert flushes == {"fsync": 0, "syncfs": 0}
        # the renames are done as each file is finished: a reader sees complete files at once
        assert (tmp_path / "profiles" / "p7.csv").read_text() == "7\n"
    assert flushes == {"fsync": 2, "syncfs": 2}  # two folders: profiles/ and the run's folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profiles", "report.html", "summary.json"]
    assert len(list((tmp_path / "profiles").iterdir())) == 20  # no temporary file left


def test_a_failed_write_in_a_batch_leaves_the_old_file(tmp_path, flushes):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with synced_once(), pytest.raises(RuntimeError):
        with _atomic.atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_syncfs_flushes_a_real_folder(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        # Linux's libc has syncfs (one file system flushed, not all); elsewhere os.sync is the fallback
        assert _atomic._syncfs(fd) is sys.platform.startswith("linux")
    finally:
        os.close(fd)
    _atomic._sync_folder(tmp_path)
