from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

import sidekick.usage as usage
from sidekick.agent.openai_model import close_clients


@pytest.fixture
def usage_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own usage database; the process's writer for it is closed afterwards."""
    path = tmp_path / "state" / "usage.db"
    monkeypatch.setenv("SIDEKICK_USAGE_DB", str(path))
    monkeypatch.delenv("SIDEKICK_USAGE", raising=False)
    monkeypatch.delenv("SIDEKICK_USAGE_CONTENT", raising=False)
    yield path
    if usage._writer is not None:
        usage._writer.close()
        usage._writer = None


@pytest.fixture
async def closed_clients() -> AsyncIterator[None]:
    """The model clients an in-process run pooled on this test's loop are closed after it."""
    yield
    await close_clients()
