"""One method table: what the sidekick serves is what schemas/ documents, validated with the same models."""

from __future__ import annotations

from sidekick.method_table import BY_NAME, UNVALIDATED, WIRE_METHODS
from sidekick.methods import ServerState, build_methods


def test_the_served_methods_are_the_tables_host_methods_with_its_params_models() -> None:
    served = {method.name: method for method in build_methods(ServerState(registry_factory=dict))}
    sent_by_host = {m.name for m in WIRE_METHODS if m.direction in ("host", "both") and m.result is not None} | {
        "notifications/initialized"}
    assert set(served) == sent_by_host
    for name, method in served.items():
        assert method.params_model is (None if name in UNVALIDATED else BY_NAME[name].params), name
