"""The results store: one SQLite file in the sweep's output directory, one row per finished run.

Each run's row (variant, replication, seed, summary JSON, dsim version, scenario hash) is inserted and
committed as soon as the run finishes, in its own transaction, with the write-ahead log and
``synchronous=FULL``: a sweep killed at any moment (SIGKILL included) keeps every run it had stored and
no partial row. ``(variant, replication)`` is the primary key, so a run can never be stored twice.
The ``meta`` table names the scenario (its name and the hash of its data after fixed overrides); opening
a store written for another scenario is refused, so results of two scenarios never mix.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsim.errors import UsageError

FILENAME = "sweep.sqlite"
FORMAT = "dsim-sweep-store/1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    variant TEXT NOT NULL,
    replication INTEGER NOT NULL,
    seed NOT NULL,
    summary TEXT NOT NULL,
    dsim_version TEXT NOT NULL,
    scenario_hash TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (variant, replication)
);
"""

#: The columns of each table, in order, as _SCHEMA creates them.
_COLUMNS = {
    "meta": ("key", "value"),
    "runs": ("variant", "replication", "seed", "summary", "dsim_version", "scenario_hash", "finished_at"),
}


@dataclass(frozen=True)
class StoredRun:
    variant: str
    replication: int
    seed: int
    summary: dict[str, Any]
    dsim_version: str


class Store:
    """A sweep's SQLite store; one writer (the process coordinating the sweep)."""

    def __init__(self, path: Path, *, scenario_name: str, scenario_hash: str, dsim_version: str) -> None:
        self.path = path
        self.scenario_hash = scenario_hash
        self.dsim_version = dsim_version
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size == 0:  # SQLite would take it for a new database
            raise UsageError("an empty file (0 bytes), not a dsim sweep store; delete it or choose another --out",
                             file=str(path))
        if not path.exists():
            self._create(scenario_name)
        self._connect(path, scenario_name)

    def _create(self, scenario_name: str) -> None:
        """Write a new store beside its place and rename it there: a sweep killed at any moment leaves a
        whole store or none (never a 0-byte file, which is refused as not a store)."""
        final = self.path
        draft = final.with_name(f".{final.name}.{os.getpid()}.new")
        draft.unlink(missing_ok=True)
        self._connect(draft, scenario_name)
        self._db.close()
        os.replace(draft, final)

    def _connect(self, path: Path, scenario_name: str) -> None:
        try:
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as err:
            raise UsageError(f"cannot open the sweep store: {err}", file=str(self.path)) from None
        try:
            self._open(scenario_name)
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise UsageError(f"not a dsim sweep store, or a damaged one ({err}); choose another --out",
                             file=str(self.path)) from None
        except UsageError:
            self._db.close()
            raise

    def _open(self, scenario_name: str) -> None:
        """Check (or create) the schema and the meta rows; UsageError for a store that is not this one."""
        path, scenario_hash = self.path, self.scenario_hash
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and not {"meta", "runs"} <= tables:
            raise UsageError("not a dsim sweep store (it has other tables); choose another --out", file=str(path))
        for table, columns in _COLUMNS.items():
            found = tuple(row[1] for row in self._db.execute(f"PRAGMA table_info({table})"))
            if tables and found != columns:
                raise UsageError(f"not a dsim sweep store (its {table} table has columns {', '.join(found)}, "
                                 f"not {', '.join(columns)}); choose another --out", file=str(path))
        self._db.execute("PRAGMA journal_mode=WAL")  # only now: a file that is not a store is left as it was
        self._db.execute("PRAGMA synchronous=FULL")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("scenario", scenario_name), ("scenario_hash", scenario_hash),
                    ("created_by", self.dsim_version),
                ])
                meta = {"format": FORMAT, "scenario": scenario_name, "scenario_hash": scenario_hash}
        if meta.get("format") != FORMAT:
            raise UsageError(f"a sweep store of another format ({meta.get('format')!r}, this dsim reads {FORMAT!r}); "
                             "choose another --out", file=str(path))
        if meta.get("scenario_hash") != scenario_hash:
            raise UsageError(
                f"this store holds runs of another scenario ('{meta.get('scenario')}', data sha256 "
                f"{str(meta.get('scenario_hash'))[:12]}), not of '{scenario_name}' (sha256 {scenario_hash[:12]}): "
                "the scenario file or its fixed --set overrides changed since. Choose another --out, "
                "or delete the store to start again",
                file=str(path),
            )
        self._db.execute("PRAGMA quick_check").fetchall()  # damaged pages fail here, not in the middle of a sweep

    def _transaction(self) -> Any:
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def done(self) -> set[tuple[str, int]]:
        """(variant key, replication) of every stored run."""
        return {(row[0], int(row[1])) for row in self._db.execute("SELECT variant, replication FROM runs")}

    def add(self, variant: str, replication: int, seed: int, summary: dict[str, Any]) -> bool:
        """Store one finished run and commit; False (and nothing written) if it was already stored."""
        stored_seed: int | str = seed if -(2**63) <= seed < 2**63 else str(seed)
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (variant, replication, stored_seed, json.dumps(summary), self.dsim_version, self.scenario_hash,
                 time.time()),
            )
        return cursor.rowcount == 1

    def runs(self) -> Iterator[StoredRun]:
        for variant, replication, seed, summary, version in self._db.execute(
            "SELECT variant, replication, seed, summary, dsim_version FROM runs ORDER BY variant, replication"
        ):
            yield StoredRun(variant, int(replication), int(seed), json.loads(summary), version)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
