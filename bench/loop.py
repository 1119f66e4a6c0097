"""Agent-loop benchmark against the scripted OpenAI-compatible server, measured in pairs.

    python bench/loop.py [--steps 20] [--repeats 7] [--concurrent 50] [--latency-ms 100] [--rounds 3]

1. Loop overhead per step, from paired runs: each repeat is a `sidekick/run` of N tool steps through a real
   `sidekick --stdio` subprocess, then, right after it, the same model requests replayed with the bare
   `openai` client (the model's own time). The overhead of that pair is (run − replay) / N; the figure is
   the spread of those per-pair overheads, never the difference of two separate medians.
2. Concurrency: the wall time of N simultaneous one-step runs against a model with 100 ms latency, as a
   ratio of one run's wall time in the same round, and the sidekick's own CPU per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import Spread  # noqa: E402
from sidekick.testing.scripted_server import ScriptedOpenAIServer  # noqa: E402
from tests.support.process import SidekickProcess, cpu_seconds  # noqa: E402


def step_script(steps: int) -> Any:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        done = sum(1 for m in body["messages"] if m["role"] == "tool")
        if done < steps:
            return {"tool_calls": [{"name": "calculate", "arguments": {"expression": f"{done} + 1"}}]}
        return {"content": f"Counted to {done}."}
    return script


def run_once(sidekick: SidekickProcess, server: ScriptedOpenAIServer, request_id: Any, **extra: Any) -> tuple[
        float, dict[str, Any]]:
    params = {"task": "count", "tools": ["calculate"], "maxSteps": 200,
              "model": {"baseUrl": server.base_url, "model": "scripted-model"}, **extra}
    start = time.perf_counter()
    answer = sidekick.request(request_id, "sidekick/run", params)
    return time.perf_counter() - start, answer["result"]


class BareClient:
    """The bare `openai` client on its cheapest call path (the one the sidekick uses), kept warm."""

    def __init__(self, base_url: str) -> None:
        from openai import AsyncOpenAI

        self.loop = asyncio.new_event_loop()
        self.client = AsyncOpenAI(base_url=base_url, api_key="x")

    def replay(self, bodies: list[dict[str, Any]]) -> float:
        from openai.types.chat import ChatCompletion

        async def calls() -> float:
            await self.client.post("/chat/completions", body=bodies[-1], cast_to=ChatCompletion)  # warm
            start = time.perf_counter()
            for body in bodies:
                await self.client.post("/chat/completions", body=body, cast_to=ChatCompletion)
            return time.perf_counter() - start

        return self.loop.run_until_complete(calls())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


def overhead_per_step(steps: int, repeats: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"run ms": [], "model ms": [], "overhead ms/step": [], "CPU ms/step": []}
    sidekick = SidekickProcess()
    try:
        with ScriptedOpenAIServer(step_script(steps)) as server:
            sidekick.initialize()
            run_once(sidekick, server, "warm-up")
            bare = BareClient(server.base_url)
            try:
                for i in range(repeats):
                    first = server.calls
                    cpu_before = cpu_seconds(sidekick.proc.pid)
                    elapsed, result = run_once(sidekick, server, i)
                    cpu = cpu_seconds(sidekick.proc.pid) - cpu_before
                    assert result["stopReason"] == "done" and len(result["steps"]) == steps, result["text"]
                    model = bare.replay([dict(b) for b in server.requests[first:]])
                    figures["run ms"].append(elapsed * 1000)
                    figures["model ms"].append(model * 1000)
                    figures["overhead ms/step"].append((elapsed - model) / steps * 1000)
                    figures["CPU ms/step"].append(cpu / steps * 1000)
            finally:
                bare.close()
    finally:
        sidekick.close()
    return figures


def concurrency(count: int, latency_ms: float, rounds: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"single ms": [], "many ms": [], "ratio": [], "CPU ms/run": []}
    sidekick = SidekickProcess()
    try:
        with ScriptedOpenAIServer(step_script(1), latency_s=latency_ms / 1000) as server:
            sidekick.initialize()
            run_once(sidekick, server, "warm-up")
            for round_no in range(rounds):
                single, _ = run_once(sidekick, server, f"single-{round_no}")
                cpu_before = cpu_seconds(sidekick.proc.pid)
                start = time.perf_counter()
                for i in range(count):
                    sidekick.send({"jsonrpc": "2.0", "id": f"c{round_no}-{i}", "method": "sidekick/run", "params": {
                        "task": "count", "tools": ["calculate"],
                        "model": {"baseUrl": server.base_url, "model": "scripted-model"}}})
                pending = {f"c{round_no}-{i}" for i in range(count)}
                while pending:
                    message = sidekick.read()
                    if message.get("id") in pending:
                        assert message["result"]["stopReason"] == "done", json.dumps(message)[:300]
                        pending.discard(message["id"])
                many = time.perf_counter() - start
                figures["single ms"].append(single * 1000)
                figures["many ms"].append(many * 1000)
                figures["ratio"].append(many / single)
                figures["CPU ms/run"].append((cpu_seconds(sidekick.proc.pid) - cpu_before) / count * 1000)
    finally:
        sidekick.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7, help="paired runs for the overhead")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=3, help="concurrency rounds")
    args = parser.parse_args()
    over = overhead_per_step(args.steps, args.repeats)
    conc = concurrency(args.concurrent, args.latency_ms, args.rounds)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} (a shared machine: read the spreads); median (min–max)")
    print(f"loop overhead, {args.repeats} pairs of a {args.steps}-step run and a bare replay of its model calls:")
    print(f"  run {Spread.of(over['run ms']).show()} ms; bare model calls {Spread.of(over['model ms']).show()} ms")
    per_step = Spread.of(over["overhead ms/step"])
    print(f"  overhead per step (paired): {per_step.show(2)} ms   target < 2 ms: "
          f"{'ok' if per_step.median < 2 else 'MISSED'}")
    print(f"  the sidekick's CPU per step: {Spread.of(over['CPU ms/step']).show(2)} ms (10 ms clock ticks over the run)")
    print(f"concurrency, {args.rounds} rounds of 1 run then {args.concurrent} at once "
          f"(model latency {args.latency_ms:g} ms):")
    print(f"  1 run {Spread.of(conc['single ms']).show(0)} ms; {args.concurrent} runs {Spread.of(conc['many ms']).show(0)} ms;"
          f" ratio {Spread.of(conc['ratio']).show(2)}")
    cpu = Spread.of(conc["CPU ms/run"])
    print(f"  the sidekick's CPU per run: {cpu.show(2)} ms   target ≤ 3 ms (at 500 concurrent): "
          f"{'ok' if cpu.median <= 3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
