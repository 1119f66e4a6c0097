"""`pipx run --spec <wheel> sidekick --stdio` works: the wheel is built, pipx installs it (and its
dependencies, from PyPI) into a temporary PIPX_HOME, and the server initializes and answers a ping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
def test_pipx_run_serves_stdio(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                   check=True, timeout=300)
    wheel = next(tmp_path.glob("eliza_sidekick-*.whl"))
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx-home"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    lines = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {}}},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "ping"}]
    done = subprocess.run([sys.executable, "-m", "pipx", "run", "--spec", str(wheel), "sidekick", "--stdio"],
                          input="".join(json.dumps(m) + "\n" for m in lines), capture_output=True, text=True,
                          env=env, timeout=540)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[0]["result"]["serverInfo"]["name"] == "eliza-sidekick"
    assert answers[1] == {"jsonrpc": "2.0", "result": {}, "id": 2}
