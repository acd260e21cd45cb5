"""The SQLite store: one committed row per run, a unique (variant, replication), WAL, and refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dsim.errors import UsageError
from dsim.sweep.store import Store


def open_store(path: Path, digest: str = "a" * 64) -> Store:
    return Store(path, scenario_name="t", scenario_hash=digest, dsim_version="0.1.0")


def test_rows_are_committed_and_unique(tmp_path: Path) -> None:
    path = tmp_path / "sweep.sqlite"
    with open_store(path) as store:
        assert store.add('{"a":1}', 0, 42, {"makespan_s": 1.5})
        assert not store.add('{"a":1}', 0, 42, {"makespan_s": 9.9})  # the same run again: ignored
        assert store.add('{"a":1}', 1, 7, {"makespan_s": 2.5})
        # another connection sees both rows at once: each add committed on its own
        other = sqlite3.connect(path)
        assert other.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        other.close()
    with open_store(path) as store:
        runs = list(store.runs())
        assert [(r.variant, r.replication, r.seed, r.summary) for r in runs] == [
            ('{"a":1}', 0, 42, {"makespan_s": 1.5}), ('{"a":1}', 1, 7, {"makespan_s": 2.5})]
        assert store.done() == {('{"a":1}', 0), ('{"a":1}', 1)}
        with pytest.raises(sqlite3.IntegrityError):  # the key itself refuses a duplicate
            store._db.execute("INSERT INTO runs VALUES ('{\"a\":1}', 0, 1, '{}', 'x', 'y', 0)")


def test_rows_record_version_and_scenario_hash(tmp_path: Path) -> None:
    path = tmp_path / "sweep.sqlite"
    with open_store(path) as store:
        store.add("{}", 0, 3, {})
    row = sqlite3.connect(path).execute("SELECT dsim_version, scenario_hash, seed FROM runs").fetchone()
    assert row == ("0.1.0", "a" * 64, 3)


def test_huge_seeds_survive(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite") as store:
        store.add("{}", 0, 2**70, {})
        assert next(store.runs()).seed == 2**70


def test_another_scenario_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sweep.sqlite"
    open_store(path).close()
    with pytest.raises(UsageError, match="holds runs of another scenario"):
        open_store(path, digest="b" * 64)


def test_not_a_store_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(UsageError, match="not a dsim sweep store"):
        open_store(garbage)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE things (x)")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="not a dsim sweep store"):
        open_store(other)
