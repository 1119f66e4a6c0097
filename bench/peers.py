"""The peers bench/protocol.py measures the sidekick against, and the venv they run in.

The peers (the MCP Python SDK and FastAPI under uvicorn) live in bench/.venv-peers, which the bench makes
itself on first use (`python -m venv` and `pip install` from PyPI): they are never the sidekick's
dependencies. The bare echo loop is the floor: it parses each line and writes one answer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.pyclient import reap

BENCH = Path(__file__).resolve().parent
PEERS_VENV = BENCH / ".venv-peers"
PEER_PACKAGES = ("mcp", "fastapi", "uvicorn", "numexpr")  # numexpr: the peers' calculate is the sidekick's

ECHO_LOOP = r"""
import json, sys
out = sys.stdout
for line in sys.stdin:
    message = json.loads(line)
    out.write(json.dumps({"jsonrpc": "2.0", "id": message.get("id"), "result": {}}) + "\n")
    out.flush()
"""


def peers_python() -> Path:
    """bench/.venv-peers' Python, with the peer packages installed (made and installed on first use)."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {PEERS_VENV} for the peers ({', '.join(PEER_PACKAGES)} from PyPI)…", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        (PEERS_VENV / ".gitignore").write_text("*\n")  # never committed
    probe = subprocess.run([python, "-c", "import mcp, fastapi, uvicorn, numexpr"], capture_output=True)
    if probe.returncode:
        subprocess.run([python, "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True)
    return python


def echo_command() -> list[str]:
    return [sys.executable, "-c", ECHO_LOOP]


def mcp_command(python: Path) -> list[str]:
    return [str(python), str(BENCH / "peer_mcp.py")]


class FastApiServer:
    """The FastAPI peer, listening on a loopback port for as long as the `with` lasts."""

    def __init__(self, python: Path) -> None:
        self.python = python

    def __enter__(self) -> FastApiServer:
        self.proc = subprocess.Popen([str(self.python), str(BENCH / "peer_fastapi.py")], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"
        wait_listening(self.port, self.proc)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.proc.terminate()
        reap(self.proc)


def wait_listening(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the FastAPI peer exited before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.001)
    raise TimeoutError("the FastAPI peer did not listen in time")


def fastapi_cold_start(python: Path) -> tuple[float, float]:
    """(ms from spawn to the first HTTP answer, CPU ms of the server until then, in 10 ms clock ticks)."""
    import http.client

    start = time.perf_counter()
    with FastApiServer(python) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        connection.request("POST", "/ping", body=b"{}", headers={"Content-Type": "application/json"})
        connection.getresponse().read()
        wall = (time.perf_counter() - start) * 1000
        connection.close()
        with open(f"/proc/{server.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1000
    return wall, cpu
