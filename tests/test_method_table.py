"""One method table: what the sidekick serves is what schemas/ documents, validated with the same models."""

from __future__ import annotations

from sidekick.mcp_protocol import MCP_WIRE
from sidekick.method_table import BY_NAME, UNVALIDATED, WIRE_METHODS
from sidekick.methods import ServerState, build_methods


def test_the_served_methods_are_the_tables_host_methods_with_its_params_models() -> None:
    served = {method.name: method for method in build_methods(ServerState(registry_factory=dict))}
    sent_by_host = {m.name for m in WIRE_METHODS if m.direction in ("host", "both") and m.result is not None} | {
        "notifications/initialized"}
    newer = {m.name for m in MCP_WIRE if m.name not in BY_NAME and m.direction in ("host", "both")}
    assert set(served) == sent_by_host | newer
    for name, method in served.items():
        # The newer MCP methods check their params in the handler, so their models load only when used.
        expected = None if name in UNVALIDATED or name in newer else BY_NAME[name].params
        assert method.params_model is expected, name


def test_every_mcp_method_says_which_revisions_serve_it() -> None:
    documented = {m.name: m for m in MCP_WIRE}
    assert set(BY_NAME) <= set(documented)
    assert documented["server/discover"].revisions == ("2026-07-28",)
    assert "2026-07-28" not in documented["initialize"].revisions
    assert documented["tasks/result"].revisions == ("2025-11-25",)
