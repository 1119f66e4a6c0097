"""What hostile peers cost: the figures behind the README's promises on trickling, flooding and bombs.

    python bench/hostile.py

Prints, one line each: a fetch against a server that trickles its headers (default limits: answered at
the 20 s total, the worker thread back); `calculate` while 64 fetches stall (fetch_url runs 16 at once);
five 3 KB gzip bombs at once (2 MB of nested <div>, then of sibling <p>), peak RSS growth in a child
process; a model endpoint streaming 256 KB deltas without end, peak RSS growth in a child process.
The tests in tests/reliability/test_hostile_pages.py and test_hostile_model.py assert the bounds.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sidekick.tools.base import ToolFailure, ToolRegistry  # noqa: E402
from sidekick.tools.calculate import CalculateTool  # noqa: E402
from sidekick.tools.fetch import FetchArgs, FetchUrlTool  # noqa: E402
from tests.reliability.test_hostile_model import FLOOD_CHILD, HostileEndpoint, chunk, flood  # noqa: E402
from tests.reliability.test_hostile_pages import BOMB_CHILD, DIV_BOMB, P_BOMB  # noqa: E402
from tests.tools.conftest import Request, Site, _Server, serving  # noqa: E402


def trickle(request: Request) -> None:
    request.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not request.server.site.release.wait(0.5):
        request.wfile.write(b"z")
        request.wfile.flush()


def stall(request: Request) -> None:
    request.server.site.release.wait(60)
    request.reply(b"late", "text/plain")


def child(script: str, argument: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script, argument], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    return json.loads(done.stdout)


def pages() -> None:
    os.environ["SIDEKICK_ALLOW_PRIVATE_URLS"] = "127.0.0.1"
    server = _Server(("127.0.0.1", 0), Request)
    server.site = Site(server.server_address[1])
    with serving(server) as site:
        site.route("/slow", trickle)
        site.route("/stall", stall)
        tool = FetchUrlTool()
        from sidekick.tools import htmltext, webclient  # noqa: F401 - imported before the clock starts
        begun, threads = time.monotonic(), threading.active_count()
        try:
            tool.run(FetchArgs(url=site.url("/slow")))
        except ToolFailure as exc:
            print(f"trickled headers: {exc!s} after {time.monotonic() - begun:.1f} s; "
                  f"threads {threads} -> {threading.active_count()} (the server's trickling handler included)")
        registry = ToolRegistry()
        registry.add(FetchUrlTool())
        registry.add(CalculateTool())

        async def scenario() -> None:
            fetches = [asyncio.ensure_future(registry.call("fetch_url", {"url": site.url(f"/stall?{i}")}))
                       for i in range(64)]
            while len(site.seen) < 1 + FetchUrlTool.threads:
                await asyncio.sleep(0.02)
            begun = time.monotonic()
            answer = await registry.call("calculate", {"expression": "6 * 7"})
            took_ms = (time.monotonic() - begun) * 1000
            print(f"calculate under 64 stalled fetches: {answer.text} in {took_ms:.1f} ms; "
                  f"fetches at the server at once: {len(site.seen) - 1}")
            site.release.set()
            await asyncio.gather(*fetches)

        asyncio.run(scenario())
    for name, bomb in (("nested <div>", DIV_BOMB), ("sibling <p>", P_BOMB)):
        seen = child(BOMB_CHILD, bomb.hex())
        print(f"five {len(bomb):,}-byte gzip bombs of {len(gzip.decompress(bomb)):,} bytes of {name} at once: "
              f"{seen['seconds']:.1f} s, peak RSS +{seen['grown_mb']:.0f} MB")


def model() -> None:
    with HostileEndpoint(flood(chunk(content="x" * 262_144))) as endpoint:
        begun = time.monotonic()
        seen = child(FLOOD_CHILD, endpoint.base_url)
        print(f"model streaming 256 KB deltas without end: {seen['kind']} after {time.monotonic() - begun:.1f} s "
              f"(child start included), peak RSS +{seen['grown_mb']:.0f} MB")


if __name__ == "__main__":
    pages()
    model()
