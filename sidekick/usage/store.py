"""The usage database: one SQLite file (WAL, a busy timeout), its schema and migrations, writes and pruning.

Everything here blocks and is called from the usage writer thread (`sidekick.usage.recorder`) or from
`sidekick stats`, never from the event loop. A database that is locked, corrupt or read-only costs one
warning: a corrupt file is set aside (`usage.db.corrupt-<time>`) and a new one made; a locked one keeps the
rows for a later try; a read-only one (or one written by a newer sidekick) turns writing off for the process.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

log = logging.getLogger("sidekick.usage")

BUSY_TIMEOUT_MS = 5_000
PRUNE_EVERY_S = 3_600.0  # besides at open, age and size are checked this often
PRUNE_EVERY_RUNS = 1_000  # or after this many runs written, whichever comes first

# Each migration takes the schema from version i to i + 1 (PRAGMA user_version); never edit a released one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(function: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(function)
    return function


def _statements(conn: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it commits first, and a migration runs inside the caller's transaction.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


@migration
def _v1_runs_and_tool_calls(conn: sqlite3.Connection) -> None:
    _statements(conn, """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at REAL NOT NULL,          -- Unix time, seconds
            duration_ms REAL NOT NULL,
            framework TEXT NOT NULL,
            model TEXT,
            provider TEXT,
            stop_reason TEXT NOT NULL,         -- done, max_steps, timeout, token_budget, error, cancelled
            error_kind TEXT,                   -- the run error's kind on the wire (timeout, auth, host_gone, ...)
            error_code INTEGER,
            steps INTEGER NOT NULL DEFAULT 0,
            model_turns INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            total_tokens INTEGER NOT NULL DEFAULT 0,
            client TEXT,                       -- the host's clientInfo.name
            category TEXT,                     -- _meta.category or context.category, when the host gives one
            task TEXT,                         -- only with SIDEKICK_USAGE_CONTENT=1
            answer TEXT                        -- likewise
        );
        CREATE INDEX runs_started_at ON runs (started_at);
        CREATE TABLE tool_calls (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            started_at REAL NOT NULL,
            tool TEXT NOT NULL,
            source TEXT NOT NULL,              -- builtin, plugin, host, unknown
            ok INTEGER NOT NULL,
            duration_ms REAL NOT NULL,
            error_class TEXT,                  -- tool_error, host_error, unknown_tool, or an exception's name
            arguments TEXT,                    -- only with SIDEKICK_USAGE_CONTENT=1
            result TEXT                        -- likewise (the start of it)
        );
        CREATE INDEX tool_calls_run_id ON tool_calls (run_id);
        CREATE INDEX tool_calls_started_at ON tool_calls (started_at);
    """)


@dataclass(slots=True)
class ToolRow:
    started_at: float
    tool: str
    source: str
    ok: bool
    duration_ms: float
    error_class: str | None = None
    arguments: str | None = None
    result: str | None = None


@dataclass(slots=True)
class RunRow:
    started_at: float
    duration_ms: float
    framework: str
    stop_reason: str
    model: str | None = None
    provider: str | None = None
    error_kind: str | None = None
    error_code: int | None = None
    steps: int = 0
    model_turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    client: str | None = None
    category: str | None = None
    task: str | None = None
    answer: str | None = None
    tools: list[ToolRow] = field(default_factory=list)


RUN_COLUMNS = ("started_at", "duration_ms", "framework", "model", "provider", "stop_reason", "error_kind",
               "error_code", "steps", "model_turns", "prompt_tokens", "completion_tokens", "total_tokens", "client",
               "category", "task", "answer")
TOOL_COLUMNS = ("run_id", "started_at", "tool", "source", "ok", "duration_ms", "error_class", "arguments", "result")
INSERT_RUN = f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})"
INSERT_TOOL = f"INSERT INTO tool_calls ({', '.join(TOOL_COLUMNS)}) VALUES ({', '.join('?' * len(TOOL_COLUMNS))})"


class StoreUnavailable(Exception):
    """Writing is off for this process (read-only, or a newer schema): rows are dropped."""


class StoreBusy(Exception):
    """The database stayed locked past the busy timeout: try the same rows again later."""


def _error_name(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", None)  # Python 3.11+
    if name:
        return name
    text = str(exc).lower()
    if "not a database" in text:
        return "SQLITE_NOTADB"
    if "malformed" in text:
        return "SQLITE_CORRUPT"
    if "locked" in text or "busy" in text:
        return "SQLITE_BUSY"
    if "readonly" in text or "read-only" in text:
        return "SQLITE_READONLY"
    if "unable to open" in text:
        return "SQLITE_CANTOPEN"
    return "SQLITE_ERROR"


def _is_corrupt(exc: sqlite3.Error) -> bool:
    return _error_name(exc).startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def _is_busy(exc: sqlite3.Error) -> bool:
    return _error_name(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the settings every user of the file needs (autocommit: transactions are explicit)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; the version it is at. A newer file than we know is refused."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreUnavailable(f"its schema is version {version}, newer than this sidekick's {len(MIGRATIONS)}")
    if version == len(MIGRATIONS):
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated it
        for number in range(version, len(MIGRATIONS)):
            MIGRATIONS[number](conn)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)


@dataclass
class Retention:
    """How much history is kept: runs older than `days`, and the oldest runs past `max_bytes`, are deleted."""

    days: float = 90.0
    max_bytes: int = 64 * 1024 * 1024


class UsageStore:
    """The writing side of one usage database. Not thread-safe: one writer thread owns it."""

    def __init__(self, path: Path, retention: Retention | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.retention = retention or Retention()
        self.clock = clock
        self.conn: sqlite3.Connection | None = None
        self.disabled: str | None = None  # why writing is off, once it is
        self._warned = False
        self._last_prune = 0.0
        self._written_since_prune = 0

    def warn_once(self, message: str, *args: Any) -> None:
        """Log one warning for this process; later problems are only debug lines."""
        if not self._warned:
            self._warned = True
            log.warning(message, *args)
        else:
            log.debug(message, *args)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path)
        try:
            # Before anything writes the header (WAL mode does): only an empty file takes it; pruning frees pages.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                log.debug("usage store %s is not in WAL mode", self.path)
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at each checkpoint, never corrupt
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def set_aside(self) -> Path:
        """Move a corrupt file (and its -wal, -shm) out of the way; where it went."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                os.replace(source, f"{aside}{suffix}")
        return aside

    def connection(self) -> sqlite3.Connection:
        """The open connection, opening (and migrating, or replacing a corrupt file) on first use."""
        if self.disabled is not None:
            raise StoreUnavailable(self.disabled)
        if self.conn is not None:
            return self.conn
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):
                raise StoreBusy(str(exc)) from None
            if not _is_corrupt(exc):
                self._disable(f"{exc}")
            aside = self.set_aside()
            self.warn_once("usage store %s was unreadable (%s); set aside as %s, a new one started",
                           self.path, exc, aside.name)
            try:
                self.conn = self._open()
            except sqlite3.DatabaseError as again:
                self._disable(f"{again}")
        except StoreUnavailable as exc:
            self._disable(str(exc))
        except OSError as exc:  # the directory cannot be made
            self._disable(f"{exc}")
        self.prune()
        assert self.conn is not None
        return self.conn

    def _disable(self, why: str) -> None:
        self.disabled = why
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.warn_once("usage store %s cannot be written (%s): usage is not recorded in this process", self.path, why)
        raise StoreUnavailable(why)

    def write(self, runs: Iterable[RunRow]) -> None:
        """Write runs and their tool calls in one transaction. StoreBusy: try again later; StoreUnavailable: drop."""
        runs = list(runs)
        for attempt in (1, 2):
            conn = self.connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for run in runs:
                        run_id = conn.execute(INSERT_RUN, [getattr(run, c) for c in RUN_COLUMNS]).lastrowid
                        conn.executemany(INSERT_TOOL, [
                            (run_id, t.started_at, t.tool, t.source, int(t.ok), t.duration_ms, t.error_class,
                             t.arguments, t.result) for t in run.tools])
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                if _is_busy(exc):
                    raise StoreBusy(str(exc)) from None
                if _is_corrupt(exc) and attempt == 1:
                    aside = self.set_aside()
                    self.warn_once("usage store %s is corrupt (%s); set aside as %s, a new one started",
                                   self.path, exc, aside.name)
                    continue
                self._disable(f"{exc}")
            break
        self._written_since_prune += len(runs)
        if self._written_since_prune >= PRUNE_EVERY_RUNS or self.clock() - self._last_prune >= PRUNE_EVERY_S:
            self.prune()

    def prune(self) -> int:
        """Delete runs past the retention (age, then size, oldest first); how many went. Never raises."""
        self._last_prune, self._written_since_prune = self.clock(), 0
        if self.conn is None:
            return 0
        try:
            return prune(self.conn, self.retention, self.clock())
        except sqlite3.Error as exc:
            log.debug("usage store prune failed: %s", exc)
            return 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def used_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
    return pages * conn.execute("PRAGMA page_size").fetchone()[0]


def _delete_runs(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> int:
    conn.execute(f"DELETE FROM tool_calls WHERE run_id IN (SELECT id FROM runs WHERE {where})", args)
    return conn.execute(f"DELETE FROM runs WHERE {where}", args).rowcount


def prune(conn: sqlite3.Connection, retention: Retention, now: float) -> int:
    """Apply `retention`: runs (and their tool calls) older than its days, then the oldest past its size."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        deleted = _delete_runs(conn, "started_at < ?", (now - retention.days * 86_400,))
        for _ in range(50):  # each pass removes a tenth of the rows: bounded however large the file is
            if used_bytes(conn) <= retention.max_bytes:
                break
            count = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
            if not count:
                break
            cut = conn.execute("SELECT started_at FROM runs ORDER BY started_at LIMIT 1 OFFSET ?",
                               (max(1, count // 10) - 1,)).fetchone()[0]
            deleted += _delete_runs(conn, "started_at <= ?", (cut,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if deleted:
        conn.executescript("PRAGMA incremental_vacuum;")  # execute() would take one step: one page
        log.info("usage store: %d old run(s) pruned", deleted)
    return deleted
