from __future__ import annotations

import json

from sidekick import schemas


def test_schema_files_are_fresh() -> None:
    stale = schemas.stale_files(schemas.DEFAULT_DIR)
    assert not stale, f"schemas/ is stale ({', '.join(stale)}): run `python -m sidekick.schemas`"


def test_every_wire_method_has_a_schema_with_params() -> None:
    rendered = schemas.render_all()
    assert len(rendered) == len({m.name for m in schemas.WIRE_METHODS} | {m.name for m in schemas.MCP_WIRE})
    run = json.loads(rendered["sidekick.run.json"])
    assert "task" in run["params"]["required"]
    assert {"text", "stopReason", "steps", "usage", "messages"} <= set(run["result"]["properties"])


def test_each_revision_is_documented_where_it_differs() -> None:
    rendered = {name: json.loads(text) for name, text in schemas.render_all().items()}
    call = rendered["tools.call.json"]
    assert call["revisions"][-1] == "2026-07-28" and "task" in call["params"]["properties"]
    assert call["otherResults"][0]["required"] == ["task"]  # 2025-11-25: the task a task-augmented call makes
    modern = [shape["properties"]["resultType"] for shape in call["modern"]["result"]["anyOf"]]
    assert [m["const"] for m in modern] == ["complete", "task"]
    run = rendered["sidekick.run.json"]["modern"]
    assert {"inputResponses", "requestState"} <= set(run["params"]["properties"])
    assert [s["properties"]["resultType"]["const"] for s in run["result"]["anyOf"]] == ["complete", "input_required"]
    discover = rendered["server.discover.json"]
    assert discover["revisions"] == ["2026-07-28"] and "modern" not in discover
    assert set(discover["params"]["required"]) == {"_meta"}
    assert {"resultType", "tools", "ttlMs", "cacheScope"} <= set(rendered["tools.list.json"]["modern"]["result"][
        "required"])
    assert "resultType" in call["modern"]["result"]["anyOf"][0]["required"]


def test_check_mode_reports_stale_files(tmp_path) -> None:
    schemas.write_all(tmp_path)
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "ping.json").write_text("{}")
    (tmp_path / "old.json").write_text("{}")
    assert schemas.stale_files(tmp_path) == ["old.json", "ping.json"]
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1
