from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterator

import pytest

from tests.agent.scripted_model import ScriptedModel
from tests.support.process import SidekickProcess

# Every run records its usage: the suite's runs (and those of the sidekick processes it starts, which inherit
# this environment; XDG_STATE_HOME for those that drop SIDEKICK_* variables) go to a scratch directory, never
# to the user's ~/.local/state. Tests of the store itself point SIDEKICK_USAGE_DB at their own tmp_path.
_STATE_HOME = tempfile.mkdtemp(prefix="sidekick-tests-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME
os.environ["SIDEKICK_USAGE_DB"] = os.path.join(_STATE_HOME, "sidekick", "usage.db")
os.environ.pop("SIDEKICK_USAGE", None)
os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)


def pytest_configure(config: pytest.Config) -> None:
    try:  # the mcp SDK starts servers with a short list of variables: ours must be among them
        from mcp.client import stdio
    except ImportError:
        return
    stdio.DEFAULT_INHERITED_ENV_VARS += [n for n in ("XDG_STATE_HOME", "SIDEKICK_USAGE_DB")
                                         if n not in stdio.DEFAULT_INHERITED_ENV_VARS]


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_STATE_HOME, ignore_errors=True)


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
