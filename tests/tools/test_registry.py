"""The built-in registry: what it lists, that outputs match the declared schemas, and a cheap import."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest

from sidekick.tools import build_registry
from tests.tools.conftest import Site

ROOT = Path(__file__).resolve().parents[2]


def test_the_built_ins_are_listed_with_their_schemas() -> None:
    registry = build_registry(load_plugins=False)
    assert registry.names() == ["calculate", "fetch_url", "web_search"]
    specs = {spec["name"]: spec for spec in registry.specs()}
    for spec in specs.values():
        assert spec["description"]
        assert spec["inputSchema"]["type"] == "object"
        assert spec["inputSchema"]["additionalProperties"] is False
        jsonschema.Draft202012Validator.check_schema(spec["inputSchema"])
        jsonschema.Draft202012Validator.check_schema(spec["outputSchema"])
    assert specs["calculate"]["inputSchema"]["required"] == ["expression"]
    assert set(specs["fetch_url"]["inputSchema"]["properties"]) == {"url", "maxChars", "links"}
    assert set(specs["web_search"]["inputSchema"]["properties"]) == {"query", "maxResults"}
    assert [spec["name"] for spec in registry.specs(["web_search", "nope"])] == ["web_search"]


def test_structured_results_match_the_output_schemas(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.tools.test_fetch import ARTICLE
    from tests.tools.test_search import DDG_PAGE

    site.page("/moon", ARTICLE)
    site.page("/html/", DDG_PAGE)
    monkeypatch.setenv("SIDEKICK_ALLOW_PRIVATE_URLS", "127.0.0.1")
    monkeypatch.setenv("SIDEKICK_DDG_URL", site.url("/html/"))
    monkeypatch.delenv("SIDEKICK_SEARXNG_URL", raising=False)
    registry = build_registry(load_plugins=False)
    schemas = {spec["name"]: spec["outputSchema"] for spec in registry.specs()}
    calls = [
        ("calculate", {"expression": "2**70"}),
        ("calculate", {"expression": "1/3"}),
        ("calculate", {"expression": "3 > 2"}),
        ("fetch_url", {"url": site.url("/moon")}),
        ("fetch_url", {"url": site.url("/moon"), "links": True}),
        ("web_search", {"query": "moon"}),
    ]
    for name, arguments in calls:
        result = asyncio.run(registry.call(name, arguments)).to_mcp()
        assert result["isError"] is False, result
        jsonschema.validate(result["structuredContent"], schemas[name])
        json.dumps(result)


def test_importing_the_tools_stays_cheap() -> None:
    code = (
        "import sys, sidekick.tools; sidekick.tools.build_registry(); "
        "print(sorted(m for m in ('numexpr', 'numpy', 'requests', 'urllib3', 'bs4') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_calculate_runs_on_the_event_loop_unless_it_imports_numexpr(monkeypatch: pytest.MonkeyPatch) -> None:
    from sidekick.tools import calculate
    from sidekick.tools.base import ToolRegistry
    from sidekick.tools.calculate import INLINE_LENGTH, CalculateArgs, CalculateTool

    monkeypatch.setattr(calculate, "_imported", False)  # as in a fresh process
    threads: list[threading.Thread] = []
    real_run = CalculateTool.run
    monkeypatch.setattr(CalculateTool, "run", lambda self, args: (threads.append(threading.current_thread()),
                                                                  real_run(self, args))[1])
    registry = ToolRegistry()
    registry.add(CalculateTool())
    long_sum = "+".join(["1.5"] * 40)
    assert len(long_sum) > INLINE_LENGTH

    async def calls() -> list[str]:
        return [(await registry.call("calculate", {"expression": e})).text
                for e in ("6 * 7", "1.5 * 2", "not 1.5 > 2", "sqrt(9)", long_sum)]

    inline = [CalculateTool().runs_inline(CalculateArgs(expression=e))
              for e in ("6 * 7", "2 > 1 and 3.5 > 2", "sqrt(2)", "max (1, 2)", "not 1.5 > 2")]
    assert inline == [True, True, False, False, False]
    assert asyncio.run(calls()) == ["42", "3", "true", "3", "60"]
    loop_thread = threading.main_thread()
    # Arithmetic needs no numexpr; the first function call (`not` is where()) imports it in a worker thread;
    # then short expressions take no thread hop.
    assert [thread is loop_thread for thread in threads] == [True, True, False, True, False]


def test_arithmetic_without_functions_imports_neither_numexpr_nor_numpy() -> None:
    code = (
        "import sys; from sidekick.tools.calculate import evaluate; "
        "print(evaluate('1234567 * 0.175'), evaluate('(2.5 > 1) + 2**0.5'), "
        "[m for m in ('numexpr', 'numpy') if m in sys.modules], evaluate('sqrt(4)'), 'numexpr' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["216049.22499999998", "2.414213562373095", "[]", "2.0", "True"]


@pytest.mark.parametrize("name", ["weather.now", "bad name!", "", "x" * 65, "echo\n"])
def test_the_registry_refuses_a_name_no_model_endpoint_takes(name: str) -> None:
    from sidekick.tools.base import Tool, ToolArgs, ToolRegistry

    class Named(Tool):
        description = "d"
        Args = ToolArgs

        async def run(self, args: ToolArgs) -> str:
            return ""

    Named.name = name
    registry = ToolRegistry()
    with pytest.raises(ValueError, match="invalid tool name"):
        registry.add(Named())
    assert registry.names() == []
