from __future__ import annotations

import json

from sidekick import schemas


def test_schema_files_are_fresh() -> None:
    stale = schemas.stale_files(schemas.DEFAULT_DIR)
    assert not stale, f"schemas/ is stale ({', '.join(stale)}): run `python -m sidekick.schemas`"


def test_every_wire_method_has_a_schema_with_params() -> None:
    rendered = schemas.render_all()
    assert len(rendered) == len(schemas.WIRE_METHODS)
    run = json.loads(rendered["sidekick.run.json"])
    assert "task" in run["params"]["required"]
    assert {"text", "stopReason", "steps", "usage", "messages"} <= set(run["result"]["properties"])


def test_check_mode_reports_stale_files(tmp_path) -> None:
    schemas.write_all(tmp_path)
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "ping.json").write_text("{}")
    (tmp_path / "old.json").write_text("{}")
    assert schemas.stale_files(tmp_path) == ["old.json", "ping.json"]
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1
