from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.process import SidekickProcess


@pytest.fixture
def sidekick() -> Iterator[SidekickProcess]:
    process = SidekickProcess()
    yield process
    process.close()
    for stream in (process.proc.stdin, process.proc.stdout, process.proc.stderr):
        if stream is not None:
            stream.close()
