"""Which frameworks a run may name, how a plugin is loaded, and what a broken one costs (one log line)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sidekick import frameworks
from sidekick.errors import ConfigurationError, InvalidParams
from sidekick.frameworks.native import NativeFramework
from tests.frameworks.plugin import require_plugin


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    require_plugin()
    monkeypatch.setattr(frameworks, "_loaded", {})
    monkeypatch.setattr(frameworks, "_failed", {})
    monkeypatch.setattr(frameworks, "_plugin_names", None)


def test_built_ins_come_first_then_installed_plugins(fresh: None) -> None:
    available = frameworks.available_frameworks()
    assert available[:2] == ["native", "upfront"] and "handmade" in available
    assert isinstance(frameworks.get_framework("native"), NativeFramework)
    handmade = frameworks.get_framework("handmade")
    assert type(handmade).__name__ == "HandmadeAgent" and frameworks.get_framework("handmade") is handmade


def test_an_unknown_name_lists_what_is_available(fresh: None) -> None:
    with pytest.raises(InvalidParams) as refused:
        frameworks.get_framework("crewai")
    assert "unknown framework 'crewai'" in refused.value.message and "handmade" in refused.value.message


def test_a_plugin_that_fails_to_load_is_logged_once_and_refused_each_time(
        fresh: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(group: str, name: str) -> Any:
        raise ModuleNotFoundError("No module named 'crewai'")

    monkeypatch.setattr(frameworks, "_plugin_names", ["broken"])
    monkeypatch.setattr(frameworks, "load_entry_point", fails)
    with caplog.at_level(logging.WARNING, "sidekick.frameworks"):
        for _ in range(2):
            with pytest.raises(ConfigurationError, match="'broken' failed to load: ModuleNotFoundError"):
                frameworks.get_framework("broken")
    assert len([r for r in caplog.records if "broken" in r.getMessage()]) == 1


@pytest.mark.parametrize("value, problem", [
    (type("NoRun", (), {"name": "x"}), "has no `async def run"),
    (type("SyncRun", (), {"name": "x", "run": lambda self, *a: None}), "has no `async def run"),
])
def test_an_entry_without_an_async_run_is_refused(fresh: None, monkeypatch: pytest.MonkeyPatch, value: Any,
                                                  problem: str) -> None:
    monkeypatch.setattr(frameworks, "_plugin_names", ["x"])
    monkeypatch.setattr(frameworks, "load_entry_point", lambda group, name: value)
    with pytest.raises(ConfigurationError, match=problem):
        frameworks.get_framework("x")


def test_listing_and_native_runs_import_no_optional_framework_nor_package_metadata() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom sidekick.frameworks import available_frameworks, get_framework\n"
            "assert 'native' in available_frameworks() and get_framework('native')\n"
            "loaded = [m for m in ('langchain', 'langgraph', 'langchain_openai', 'importlib.metadata') "
            "if m in sys.modules]\nassert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
