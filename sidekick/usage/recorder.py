"""Recording usage: a run-hook consumer per run, and one writer thread per process that owns the database.

On the event loop a run only appends to lists and, when it ends, puts one record on a queue. The writer
thread takes whatever is queued, writes it in one transaction, and keeps rows that met a locked database for
the next try (up to MAX_PENDING runs). At exit the queue is flushed within EXIT_FLUSH_S.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidekick.hooks import ModelCallEnded, RunEnded, RunHooks, RunStarted, ToolCallEnded
from sidekick.usage.store import Retention, RunRow, StoreBusy, StoreUnavailable, ToolRow, UsageStore

if TYPE_CHECKING:
    from sidekick.run_protocol import RunResult

log = logging.getLogger("sidekick.usage")

MAX_PENDING = 10_000  # runs kept in memory while the database is locked; past that the oldest are dropped
RETRY_S = 2.0
EXIT_FLUSH_S = 3.0
CONTENT_CHARS = 4_000
_STOP = object()


class UsageWriter:
    """Owns one database file from a daemon thread, started on the first record."""

    def __init__(self, path: Path, retention: Retention | None = None) -> None:
        self.path = path
        self.retention = retention
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.written = 0  # runs written so far

    def submit(self, run: RunRow) -> None:
        """Queue one run for writing; cheap and never blocking."""
        if self._closed:
            return
        self._queue.put(run)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name="sidekick-usage", daemon=True)
                self._thread.start()
                atexit.register(self.close, EXIT_FLUSH_S)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far has been written (or dropped); False on timeout."""
        if self._thread is None or self._closed:  # nothing started, or close() has flushed it
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = EXIT_FLUSH_S) -> None:
        """Write what is queued, then stop the thread (used at exit, and when the path changes)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)
            atexit.unregister(self.close)

    def _loop(self) -> None:
        store = UsageStore(self.path, self.retention)
        pending: list[RunRow] = []
        stopping = False
        while not stopping:
            try:
                items = [self._queue.get(timeout=RETRY_S) if pending else self._queue.get()]
            except queue.Empty:
                items = []
            while True:  # take everything queued: one transaction for all of it
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            waiters = [item for item in items if isinstance(item, threading.Event)]
            stopping = any(item is _STOP for item in items)
            pending += [item for item in items if isinstance(item, RunRow)]
            pending = self._write(store, pending, final=stopping or bool(waiters))
            for waiter in waiters:
                waiter.set()
        store.close()

    def _write(self, store: UsageStore, pending: list[RunRow], final: bool) -> list[RunRow]:
        if not pending:
            return pending
        deadline = time.monotonic() + EXIT_FLUSH_S
        while True:
            try:
                store.write(pending)
                self.written += len(pending)
                return []
            except StoreBusy as exc:
                store.warn_once("usage store %s is locked (%s); %d run(s) kept for a later try",
                                store.path, exc, len(pending))
                if not final or time.monotonic() >= deadline:
                    return pending[-MAX_PENDING:]
            except StoreUnavailable:
                return []
            except Exception:  # a bug here must never reach the runs; the rows are lost, once
                log.exception("usage store: writing failed")
                return []


def _error_kind(result: RunResult) -> str | None:
    error = result.error
    if error is None:
        return None
    if error.kind:
        return error.kind
    return {-32603: "internal", -32011: "configuration", -32020: "host_error"}.get(error.code, "error")


def _clip(text: Any) -> str:
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False, default=str)
    return text if len(text) <= CONTENT_CHARS else text[:CONTENT_CHARS] + "…"


class UsageRun(RunHooks):
    """One run's usage record, built from its hooks and handed to the writer when the run ends."""

    def __init__(self, writer: UsageWriter, *, plugin_tools: frozenset[str] = frozenset(), client: str | None = None,
                 category: str | None = None, provider: str | None = None, content: bool = False) -> None:
        self.writer = writer
        self.plugin_tools = plugin_tools
        self.client = client
        self.category = category
        self.provider = provider
        self.content = content
        self.started_at = time.time()
        self.model: str | None = None
        self.task: str | None = None
        self.tools: list[ToolRow] = []
        self.turns = 0
        self.tokens = [0, 0, 0]  # what the model calls reported: a cancelled run has no result to read

    def on_run_start(self, event: RunStarted) -> None:
        self.started_at = time.time()
        self.model = event.model
        if self.content:
            self.task = _clip(event.params.task)

    def on_model_call_end(self, event: ModelCallEnded) -> None:
        self.turns += 1
        if event.usage is not None:
            usage = event.usage
            self.tokens = [self.tokens[0] + usage.prompt_tokens, self.tokens[1] + usage.completion_tokens,
                           self.tokens[2] + usage.total_tokens]

    def on_tool_call_end(self, event: ToolCallEnded) -> None:
        source = "plugin" if event.source == "builtin" and event.name in self.plugin_tools else event.source
        self.tools.append(ToolRow(
            started_at=time.time() - event.duration_ms / 1000, tool=event.name, source=source, ok=event.ok,
            duration_ms=round(event.duration_ms, 3), error_class=event.error,
            arguments=_clip(event.arguments) if self.content else None,
            result=event.preview if self.content else None))

    def on_run_end(self, event: RunEnded) -> None:
        result = event.result
        row = RunRow(started_at=self.started_at, duration_ms=event.duration_ms, framework=event.framework,
                     stop_reason="cancelled" if result is None else result.stop_reason, model=self.model,
                     provider=self.provider, client=self.client, category=self.category, task=self.task,
                     tools=self.tools, steps=len(self.tools), model_turns=self.turns, prompt_tokens=self.tokens[0],
                     completion_tokens=self.tokens[1], total_tokens=self.tokens[2])
        if result is not None:
            row.error_kind = _error_kind(result)
            row.error_code = result.error.code if result.error else None
            row.steps, row.model_turns = len(result.steps), result.model_turns
            row.prompt_tokens = result.usage.prompt_tokens
            row.completion_tokens = result.usage.completion_tokens
            row.total_tokens = result.usage.total_tokens
            if self.content:
                row.answer = _clip(result.text)
        self.writer.submit(row)
