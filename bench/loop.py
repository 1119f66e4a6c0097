"""Agent-loop benchmark against the scripted OpenAI-compatible server, measured in pairs.

    python bench/loop.py [--steps 20] [--repeats 7] [--concurrent 50] [--latency-ms 100] [--rounds 3]
                         [--only overhead|concurrency] [--sidekick-root DIR] [--baseline-root DIR]

1. Loop overhead per step, from paired runs: each repeat is a `sidekick/run` of N tool steps through a real
   `sidekick --stdio` subprocess, then, right after it, the same model requests replayed with the bare
   `openai` client (the model's own time). The overhead of that pair is (run − replay) / N; the figure is
   the spread of those per-pair overheads, never the difference of two separate medians.
2. Concurrency: the wall time of N simultaneous one-step runs in one child against a model with 100 ms
   latency, as a ratio of one run's wall time in the same round, and the sidekick's own CPU per run (user +
   system time of the child, which a busy machine distorts far less than wall time). `--baseline-root`
   starts another tree's sidekick too (an earlier checkout), in the same rounds against the same server,
   the order alternating, and gives the CPU ratio round by round. `--concurrent 500` is the target's case.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import Spread, paired  # noqa: E402
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


def concurrency(count: int, latency_ms: float, rounds: int,
                roots: dict[str, Path]) -> dict[str, dict[str, list[float]]]:
    """Per tree (name → the root its sidekick starts from): its figures, one per round."""
    figures = {name: {"single ms": [], "many ms": [], "ratio": [], "CPU ms/run": []} for name in roots}
    children = {name: SidekickProcess(cwd=str(root)) for name, root in roots.items()}
    try:
        with ScriptedOpenAIServer(step_script(1), latency_s=latency_ms / 1000) as server:
            for name, sidekick in children.items():
                sidekick.initialize()
                run_once(sidekick, server, "warm-up")
            names = list(children)
            for round_no in range(rounds):
                for name in names[round_no % len(names):] + names[:round_no % len(names)]:
                    single, many, cpu = concurrent_runs(children[name], server, count, f"{round_no}")
                    figures[name]["single ms"].append(single * 1000)
                    figures[name]["many ms"].append(many * 1000)
                    figures[name]["ratio"].append(many / single)
                    figures[name]["CPU ms/run"].append(cpu / count * 1000)
    finally:
        for sidekick in children.values():
            sidekick.close()
    return figures


def concurrent_runs(sidekick: SidekickProcess, server: ScriptedOpenAIServer, count: int,
                    tag: str) -> tuple[float, float, float]:
    """(one run's wall time, the wall time of `count` runs sent at once, the child's CPU seconds for those)."""
    single, _ = run_once(sidekick, server, f"single-{tag}")
    cpu_before = cpu_seconds(sidekick.proc.pid)
    start = time.perf_counter()
    for i in range(count):
        sidekick.send({"jsonrpc": "2.0", "id": f"c{tag}-{i}", "method": "sidekick/run", "params": {
            "task": "count", "tools": ["calculate"],
            "model": {"baseUrl": server.base_url, "model": "scripted-model"}}})
    pending = {f"c{tag}-{i}" for i in range(count)}
    while pending:
        message = sidekick.read(timeout=120)
        if message.get("id") in pending:
            assert message["result"]["stopReason"] == "done", json.dumps(message)[:300]
            pending.discard(message["id"])
    return single, time.perf_counter() - start, cpu_seconds(sidekick.proc.pid) - cpu_before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7, help="paired runs for the overhead")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=3, help="concurrency rounds")
    parser.add_argument("--only", choices=["overhead", "concurrency"], help="measure one of the two only")
    parser.add_argument("--sidekick-root", type=Path, default=ROOT, help="the tree whose sidekick the concurrency "
                        "rounds start")
    parser.add_argument("--baseline-root", type=Path, help="also start this tree's sidekick in the concurrency rounds")
    args = parser.parse_args()
    over = overhead_per_step(args.steps, args.repeats) if args.only != "concurrency" else None
    roots = {"sidekick": args.sidekick_root}
    if args.baseline_root is not None:
        roots["baseline"] = args.baseline_root
    conc = concurrency(args.concurrent, args.latency_ms, args.rounds, roots) if args.only != "overhead" else None
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} (a shared machine: read the spreads); median (min–max)")
    if over is not None:
        print(f"loop overhead, {args.repeats} pairs of a {args.steps}-step run and a bare replay of its model calls:")
        print(f"  run {Spread.of(over['run ms']).show()} ms; bare model calls {Spread.of(over['model ms']).show()} ms")
        per_step = Spread.of(over["overhead ms/step"])
        print(f"  overhead per step (paired): {per_step.show(2)} ms   target < 2 ms: "
              f"{'ok' if per_step.median < 2 else 'MISSED'}")
        print(f"  the sidekick's CPU per step: {Spread.of(over['CPU ms/step']).show(2)} ms "
              "(10 ms clock ticks over the run)")
    if conc is not None:
        print(f"concurrency, {args.rounds} rounds of 1 run then {args.concurrent} at once in one child "
              f"(model latency {args.latency_ms:g} ms):")
        for name, figures in conc.items():
            print(f"  {name}: 1 run {Spread.of(figures['single ms']).show(0)} ms; {args.concurrent} runs "
                  f"{Spread.of(figures['many ms']).show(0)} ms; ratio {Spread.of(figures['ratio']).show(2)}")
            cpu = Spread.of(figures["CPU ms/run"])
            verdict = f"   target ≤ 3 ms (at 500 concurrent): {'ok' if cpu.median <= 3 else 'MISSED'}" \
                if name == "sidekick" else ""
            print(f"    its CPU per run: {cpu.show(2)} ms{verdict}")
        if "baseline" in conc:
            print(f"  CPU per run, sidekick ÷ baseline (paired by round): "
                  f"{paired(conc['sidekick']['CPU ms/run'], conc['baseline']['CPU ms/run']).show(2)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
