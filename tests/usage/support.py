"""Helpers of the usage tests: wait for the writer, read the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sidekick.usage as usage


def flush() -> None:
    writer = usage.writer()
    assert writer is not None and writer.flush(30), "the usage writer did not finish in time"


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()
