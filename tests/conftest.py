from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.process import SidekickProcess


@pytest.fixture
def sidekick() -> Iterator[SidekickProcess]:
    process = SidekickProcess()
    yield process
    process.close()
