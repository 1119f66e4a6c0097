"""The usage store on a real SQLite file: schema and migrations, WAL, retention, and the files it must survive
(corrupt, locked, unwritable, written by a newer sidekick) with one warning each and no exception."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from sidekick.usage import store
from sidekick.usage.store import Retention, RunRow, StoreBusy, StoreUnavailable, ToolRow, UsageStore

NOW = 1_750_000_000.0


def run(started_at: float = NOW, stop: str = "done", tools: int = 1, **extra: object) -> RunRow:
    return RunRow(started_at=started_at, duration_ms=12.5, framework="native", stop_reason=stop,
                  tools=[ToolRow(started_at=started_at, tool="calculate", source="builtin", ok=True, duration_ms=1.0)
                         for _ in range(tools)], **extra)  # type: ignore[arg-type]


def counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        return (conn.execute("SELECT count(*) FROM runs").fetchone()[0],
                conn.execute("SELECT count(*) FROM tool_calls").fetchone()[0])
    finally:
        conn.close()


def test_a_new_file_gets_the_schema_in_wal_mode_and_keeps_runs_with_their_tool_calls(tmp_path: Path) -> None:
    path = tmp_path / "state" / "usage.db"
    usage = UsageStore(path, clock=lambda: NOW)
    usage.write([run(tools=2, model="m", client="eliza", category="finance"), run(stop="error", tools=0)])
    usage.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(store.MIGRATIONS)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental: pruning gives pages back
    rows = conn.execute("SELECT stop_reason, model, client, category, task FROM runs ORDER BY id").fetchall()
    assert rows == [("done", "m", "eliza", "finance", None), ("error", None, None, None, None)]
    assert conn.execute("SELECT run_id, tool, source, ok FROM tool_calls").fetchall() == [
        (1, "calculate", "builtin", 1), (1, "calculate", "builtin", 1)]
    conn.close()


def test_migrations_run_once_and_carry_an_older_file_forward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "usage.db"
    UsageStore(path, clock=lambda: NOW).write([run()])

    def v2_adds_a_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN note TEXT")

    monkeypatch.setattr(store, "MIGRATIONS", [*store.MIGRATIONS, v2_adds_a_column])
    usage = UsageStore(path, clock=lambda: NOW)
    usage.write([run()])
    assert usage.connection().execute("PRAGMA user_version").fetchone()[0] == 2
    assert usage.connection().execute("SELECT count(note) FROM runs").fetchone()[0] == 0  # the column is there
    assert store.migrate(usage.connection()) == 2  # nothing left to do
    usage.close()
    assert counts(path) == (2, 2)


def test_a_file_from_a_newer_sidekick_is_left_alone_with_one_warning(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "usage.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    usage = UsageStore(path)
    with caplog.at_level(logging.WARNING, "sidekick.usage"):
        for _ in range(3):
            with pytest.raises(StoreUnavailable):
                usage.write([run()])
    assert len(caplog.records) == 1 and "newer than this sidekick" in caplog.text
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_file_is_set_aside_and_a_new_one_made(tmp_path: Path, damage: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "usage.db"
    if damage == "garbage":
        path.write_bytes(b"this is not a database, it is a note somebody saved here\n" * 200)
    else:
        first = UsageStore(path, clock=lambda: NOW)
        first.write([run() for _ in range(200)])
        first.close()
        with path.open("r+b") as handle:  # keep SQLite's header, smash the pages after it
            handle.seek(100)
            handle.write(os.urandom(8192))
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING, "sidekick.usage"):
        usage = UsageStore(path, clock=lambda: NOW)
        usage.write([run()])
        usage.write([run()])
    usage.close()
    assert counts(path) == (2, 2)
    aside = [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert aside and all(name.startswith("usage.db.corrupt-") for name in aside)
    assert len(caplog.records) == 1 and "set aside" in caplog.text


def test_a_locked_file_raises_busy_and_takes_the_same_rows_once_free(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "usage.db"
    usage = UsageStore(path, clock=lambda: NOW)
    usage.write([run()])
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    with pytest.raises(StoreBusy):
        usage.write([run(), run()])
    other.execute("ROLLBACK")
    other.close()
    usage.write([run(), run()])
    usage.close()
    assert counts(path) == (3, 3)


def test_an_unwritable_place_turns_writing_off_with_one_warning(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the state directory should be")
    usage = UsageStore(tmp_path / "not-a-dir" / "usage.db")
    with caplog.at_level(logging.WARNING, "sidekick.usage"):
        for _ in range(2):
            with pytest.raises(StoreUnavailable):
                usage.write([run()])
    assert len(caplog.records) == 1 and "cannot be written" in caplog.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_file_turns_writing_off(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    UsageStore(path, clock=lambda: NOW).write([run()])
    for p in tmp_path.iterdir():
        p.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(StoreUnavailable):
            UsageStore(path).write([run()])
    finally:
        tmp_path.chmod(0o755)


def test_retention_deletes_runs_past_their_age_with_their_tool_calls(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    usage = UsageStore(path, Retention(days=30), clock=lambda: NOW)
    usage.write([run(NOW - 40 * 86_400), run(NOW - 31 * 86_400), run(NOW - 29 * 86_400), run(NOW)])
    assert usage.prune() == 2
    usage.close()
    assert counts(path) == (2, 2)


def test_retention_keeps_the_file_under_its_size_dropping_the_oldest(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    usage = UsageStore(path, Retention(days=365, max_bytes=256 * 1024), clock=lambda: NOW)
    big = "x" * 2_000
    for batch in range(10):
        usage.write([run(NOW - 1_000 + batch * 100 + i, task=big, answer=big) for i in range(50)])
    usage.prune()
    conn = usage.connection()
    assert store.used_bytes(conn) <= 256 * 1024
    kept = [row[0] for row in conn.execute("SELECT started_at FROM runs ORDER BY started_at")]
    assert 0 < len(kept) < 500 and max(kept) == NOW - 1_000 + 9 * 100 + 49  # the newest survive
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    usage.close()
    assert path.stat().st_size <= 2 * 256 * 1024  # pages given back, not just marked free


def test_two_writers_on_one_file_in_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    stores = [UsageStore(path, clock=lambda: NOW) for _ in range(2)]
    go = threading.Barrier(2)

    def write(usage: UsageStore) -> None:
        go.wait(10)
        for _ in range(25):
            usage.write([run(tools=2)])

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for usage in stores:
        usage.close()
    assert counts(path) == (50, 100)
