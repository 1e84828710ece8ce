"""The run's index and store: one SQLite database per output folder (standard-library sqlite3).

Every per-scan result is keyed by the hash of the file bytes, the analysis
configuration and the library version, and written (and committed) as soon as
it arrives. A re-run skips the keys it finds; a killed run loses at most the
scans that were in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import __version__

__all__ = ["ResultStore", "pack_arrays", "task_key", "unpack_arrays"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    system TEXT,
    temperature_c REAL,
    technique TEXT,
    status TEXT NOT NULL,
    error TEXT,
    result TEXT,
    seconds REAL,
    created REAL
);
CREATE INDEX IF NOT EXISTS results_system ON results (system, temperature_c);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL,
    finished REAL,
    config TEXT,
    library_version TEXT,
    phasetrace_version TEXT
);
"""


#: Version of the per-scan result records: raised whenever the analysis changes what a record holds
#: or how it is computed, so that a resumed run never mixes records of two versions.
RESULT_SCHEMA = 4


def task_key(sha256: str, stage: str, config: dict[str, Any], library_version: str) -> str:
    """Key of one per-scan task: file bytes + stage + configuration + library version + result schema."""
    h = hashlib.sha256()
    h.update(f"phasetrace {__version__} records {RESULT_SCHEMA}".encode())
    h.update(sha256.encode())
    h.update(stage.encode())
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    h.update(library_version.encode())
    return h.hexdigest()


class ResultStore:
    """SQLite-backed store of per-scan results.

    Parameters
    ----------
    path : path-like
        The database file (created if missing).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.db.commit()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record for a key (with ``result`` decoded), or None."""
        row = self.db.execute(
            "SELECT key, stage, file, sha256, system, temperature_c, technique, status, error, result, "
            "seconds FROM results WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        names = (
            "key",
            "stage",
            "file",
            "sha256",
            "system",
            "temperature_C",
            "technique",
            "status",
            "error",
            "result",
            "seconds",
        )
        rec = dict(zip(names, row, strict=True))
        rec["result"] = json.loads(rec["result"]) if rec["result"] else None
        return rec

    def has(self, key: str) -> bool:
        """True when a finished (ok or error) result is stored for the key."""
        return self.db.execute("SELECT 1 FROM results WHERE key = ?", (key,)).fetchone() is not None

    def put(
        self,
        key: str,
        *,
        stage: str,
        file: str,
        sha256: str,
        system: str | None,
        temperature_C: float | None,
        technique: str | None,
        status: str,
        error: str | None,
        result: dict[str, Any] | None,
        seconds: float,
    ) -> None:
        """Store one result and commit at once (so a crash loses nothing finished)."""
        self.db.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                stage,
                file,
                sha256,
                system,
                temperature_C,
                technique,
                status,
                error,
                json.dumps(result, default=_jsonable) if result is not None else None,
                seconds,
                time.time(),
            ),
        )
        self.db.commit()

    def start_run(self, config: dict[str, Any], library_version: str, version: str) -> int:
        """Record the start of a run; returns its id."""
        cur = self.db.execute(
            "INSERT INTO runs (started, config, library_version, phasetrace_version) VALUES (?, ?, ?, ?)",
            (time.time(), json.dumps(config, sort_keys=True, default=str), library_version, version),
        )
        self.db.commit()
        return int(cur.lastrowid)

    def finish_run(self, run_id: int) -> None:
        """Record the end of a run."""
        self.db.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), run_id))
        self.db.commit()

    def records(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """Stored records for keys (missing keys skipped), in the given order."""
        out = []
        for k in keys:
            rec = self.get(k)
            if rec is not None:
                out.append(rec)
        return out


def _jsonable(v: Any) -> Any:
    try:
        import numpy as np

        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def pack_arrays(columns: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    """Equal-length float columns as one compact JSON-able record (float32, zlib, base64).

    A fitted profile (2θ, observed, calculated, background, one curve per phase) of a 7000-point
    scan is about 100 kB this way instead of ~1 MB of decimal text; float32 keeps 7 digits, more
    than any count rate has. ``attrs`` are stored beside the columns as they are.
    """
    import base64
    import zlib

    import numpy as np

    names = list(columns)
    data = np.stack([np.asarray(columns[k], dtype=np.float32) for k in names]) if names else np.zeros((0, 0))
    blob = base64.b64encode(zlib.compress(data.astype("<f4").tobytes(), 6)).decode("ascii")
    return {"encoding": "f32-zlib-b64", "columns": names, "n": int(data.shape[1]) if names else 0,
            "data": blob, **attrs}


def unpack_arrays(record: dict[str, Any]) -> dict[str, Any]:
    """The columns of :func:`pack_arrays` (name -> float64 array)."""
    import base64
    import zlib

    import numpy as np

    if record.get("encoding") != "f32-zlib-b64":
        raise ValueError(f"unknown array encoding {record.get('encoding')!r}")
    names = record["columns"]
    raw = np.frombuffer(zlib.decompress(base64.b64decode(record["data"])), dtype="<f4")
    data = raw.reshape(len(names), int(record["n"])).astype(float)
    return dict(zip(names, data, strict=True))
