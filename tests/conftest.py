from __future__ import annotations

from typing import Iterator

import pytest

from tests.agent.scripted_model import ScriptedModel
from tests.support.process import SidekickProcess


@pytest.fixture(autouse=True)
def _scripted_models_are_used_up() -> Iterator[None]:
    """A scripted model's unused steps fail the test that made it (unless it allowed them)."""
    ScriptedModel.made.clear()
    yield
    made, ScriptedModel.made = ScriptedModel.made, []
    for model in made:
        if not model.allow_unused:
            model.assert_used_up()


@pytest.fixture
def sidekick() -> Iterator[SidekickProcess]:
    process = SidekickProcess()
    yield process
    process.close()
