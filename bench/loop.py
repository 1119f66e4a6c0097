"""Agent-loop benchmark against the scripted OpenAI-compatible server, measured in one run.

    python bench/loop.py [--steps 20] [--repeats 5] [--concurrent 50] [--latency-ms 100]

1. Loop overhead per step: a `sidekick/run` of N tool steps through a real `sidekick --stdio` subprocess,
   minus the same number of bare `openai` client calls to the same server (the model's own time).
2. Concurrency: the wall time of 50 simultaneous runs against a model with 100 ms latency, as a ratio
   of one run's wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


async def bare_model_calls(server: ScriptedOpenAIServer, bodies: list[dict[str, Any]]) -> float:
    """The model's own time: replay the exact requests the loop sent, with the bare openai client
    (its cheapest call path, the one the sidekick uses too)."""
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion

    client = AsyncOpenAI(base_url=server.base_url, api_key="x")
    await client.post("/chat/completions", body=bodies[-1], cast_to=ChatCompletion)  # connect, warm up
    start = time.perf_counter()
    for body in bodies[:-1]:
        await client.post("/chat/completions", body=body, cast_to=ChatCompletion)
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def overhead_per_step(steps: int, repeats: int) -> dict[str, float]:
    sidekick = SidekickProcess()
    try:
        with ScriptedOpenAIServer(step_script(steps)) as server:
            sidekick.initialize()
            run_once(sidekick, server, "warm-up")
            loop_times, model_times = [], []
            for i in range(repeats):
                first = server.calls
                elapsed, result = run_once(sidekick, server, i)
                assert result["stopReason"] == "done" and len(result["steps"]) == steps, result["text"]
                bodies = [dict(b) for b in server.requests[first:]]
                bodies.append(bodies[-1])  # replayed once more as the warm-up call
                loop_times.append(elapsed)
                model_times.append(asyncio.run(bare_model_calls(server, bodies)))
    finally:
        sidekick.close()
    loop_s, model_s = statistics.median(loop_times), statistics.median(model_times)
    return {"run": loop_s * 1000, "model": model_s * 1000, "per_step": (loop_s - model_s) / steps * 1000}


def concurrency(count: int, latency_ms: float) -> dict[str, float]:
    sidekick = SidekickProcess()
    try:
        with ScriptedOpenAIServer(step_script(1), latency_s=latency_ms / 1000) as server:
            sidekick.initialize()
            run_once(sidekick, server, "warm-up")
            single, _ = run_once(sidekick, server, "single")
            cpu_before = cpu_seconds(sidekick.proc.pid)
            start = time.perf_counter()
            for i in range(count):
                sidekick.send({"jsonrpc": "2.0", "id": f"c{i}", "method": "sidekick/run", "params": {
                    "task": "count", "tools": ["calculate"],
                    "model": {"baseUrl": server.base_url, "model": "scripted-model"}}})
            pending = {f"c{i}" for i in range(count)}
            while pending:
                message = sidekick.read()
                if message.get("id") in pending:
                    assert message["result"]["stopReason"] == "done", json.dumps(message)[:300]
                    pending.discard(message["id"])
            many = time.perf_counter() - start
            cpu = cpu_seconds(sidekick.proc.pid) - cpu_before
    finally:
        sidekick.close()
    return {"single": single * 1000, "many": many * 1000, "ratio": many / single, "cpu_per_run": cpu / count * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    over = overhead_per_step(args.steps, args.repeats)
    conc = concurrency(args.concurrent, args.latency_ms)
    print(f"loop overhead: a {args.steps}-step run took {over['run']:.1f} ms; the same {args.steps + 1} model "
          f"calls made bare took {over['model']:.1f} ms")
    verdict = "ok" if over["per_step"] < 2 else "MISSED"
    print(f"  overhead per step: {over['per_step']:.2f} ms   (target < 2 ms: {verdict})")
    print(f"concurrency: 1 run {conc['single']:.0f} ms; {args.concurrent} concurrent runs {conc['many']:.0f} ms "
          f"(model latency {args.latency_ms:g} ms)")
    print(f"  ratio {conc['ratio']:.2f}x   (target: little more than one run); the sidekick's own CPU: "
          f"{conc['cpu_per_run']:.1f} ms per run (the rest is the scripted server and this client on the same cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
