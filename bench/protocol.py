"""Protocol benchmark: the sidekick beside a bare echo loop and its peers, all measured in the same run.

    python bench/protocol.py [--rounds 7] [--pings 500] [--pipelined 20000] [--starts 9] [--no-peers]
                             [--no-node] [--sidekick-root DIR] [--baseline-root DIR] [--json FILE]

Every figure is the median (min–max) over rounds; within a round each target is measured in turn (the
order rotates), and every ratio is taken round by round, so a busy moment of a shared machine weighs
on both sides of it. Clients are buffered, in Python (bench/pyclient.py) and in Node
(bench/node_client.mjs), and run the same plan. Peers: the MCP Python SDK over stdio and FastAPI over
loopback HTTP, installed into bench/.venv-peers by this bench (never the sidekick's dependencies).
`--baseline-root` adds another tree's sidekick (an earlier checkout) as one more target of the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import peers, startup  # noqa: E402
from bench.pyclient import run_plan  # noqa: E402
from bench.stats import Spread, paired  # noqa: E402
from tests.support.process import rss_kb  # noqa: E402

ECHO, SIDEKICK, MCP_SDK, FASTAPI = "echo loop", "sidekick", "MCP Python SDK", "FastAPI (HTTP)"
BASELINE = "sidekick (baseline)"
TARGETS = {"ping p50 ÷ echo": 2.0, "ping p50 ÷ echo (Node)": 2.5, "pipelined from Node": 30000.0,
           "cold start ÷ floor": 1.15, "idle RSS MB": 40.0}


def plan(args: argparse.Namespace, fastapi_url: str | None, peers_python: Path | None) -> dict[str, Any]:
    sidekick = {"name": SIDEKICK, "stdio": [sys.executable, "-m", "sidekick", "--stdio"],
                "cwd": str(args.sidekick_root), "mcp": True, "calculate": True, "pipelined": True}
    targets: list[dict[str, Any]] = [{"name": ECHO, "stdio": peers.echo_command(), "pipelined": True}, sidekick]
    if args.baseline_root is not None:
        targets.append({**sidekick, "name": BASELINE, "cwd": str(args.baseline_root)})
    if peers_python is not None:
        targets.append({"name": MCP_SDK, "stdio": peers.mcp_command(peers_python), "mcp": True, "calculate": True})
    if fastapi_url is not None:
        targets.append({"name": FASTAPI, "http": fastapi_url, "calculate": True})
    return {"rounds": args.rounds, "pings": args.pings, "warmup": 200, "calls": max(50, args.pings // 4),
            "pipelined": args.pipelined, "targets": targets}


def run_node(the_plan: dict[str, Any]) -> dict[str, Any] | None:
    node = shutil.which("node")
    if node is None:
        return None
    out = subprocess.run([node, str(ROOT / "bench" / "node_client.mjs")], input=json.dumps(the_plan).encode(),
                         capture_output=True, timeout=1800)
    if out.returncode:
        raise RuntimeError(f"node client failed: {out.stderr.decode()[-2000:]}")
    return json.loads(out.stdout)


def memory(results: dict[str, Any], fastapi_pid: int | None) -> dict[str, float]:
    pids = dict(results["pids"])
    if fastapi_pid is not None:
        pids[FASTAPI] = fastapi_pid
    return {name: rss_kb(pid) / 1024 for name, pid in pids.items() if pid is not None}


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def latency_table(title: str, figures: dict[str, list[float]], reference: str, per: str) -> list[str]:
    """Rows of `name  median (min–max) µs  name ÷ reference`, every ratio paired by round."""
    lines = [title, f"  {'':<18}{'µs':>26}{per:>26}"]
    for name, values in figures.items():
        ratio = "1" if name == reference else paired(values, figures[reference]).show(2)
        lines.append(f"  {name:<18}{Spread.of(values).show():>26}{ratio:>26}")
    return lines


def report(args: argparse.Namespace, py: dict[str, Any], node: dict[str, Any] | None, rss: dict[str, float],
           starts: dict[str, dict[str, list[float]]]) -> list[str]:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rounds = f"{args.rounds} rounds of {args.pings} sequential calls"
    out = [f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load} (shared machine: "
           "read the spreads); median (min–max) over " + rounds]
    ping_ratio = paired(py["ping"][SIDEKICK], py["ping"][ECHO])
    out += latency_table("\nping p50, Python client", py["ping"], ECHO, "÷ echo loop")
    out.append(f"  sidekick ÷ echo: {ping_ratio.show(2)}   target ≤ {TARGETS['ping p50 ÷ echo']}: "
               f"{verdict(ping_ratio.median <= TARGETS['ping p50 ÷ echo'])}")
    if node is not None:
        node_ratio = paired(node["ping"][SIDEKICK], node["ping"][ECHO])
        out += latency_table("\nping p50, Node client", node["ping"], ECHO, "÷ echo loop")
        out.append(f"  sidekick ÷ echo: {node_ratio.show(2)}   target ≤ {TARGETS['ping p50 ÷ echo (Node)']}: "
                   f"{verdict(node_ratio.median <= TARGETS['ping p50 ÷ echo (Node)'])}")
    out.append(f"\npipelined pings, {args.pipelined} written at once, req/s")
    for client, results in (("Python", py), ("Node", node)):
        if results is None:
            continue
        piped = results["pipelined"]
        for name in piped:
            ratio = "" if name == ECHO else f"   ÷ echo {paired(piped[name], piped[ECHO]).show(2)}"
            out.append(f"  {client + ', ' + name:<30}{Spread.of(piped[name]).show(0):>30}{ratio}")
    if node is not None:
        fast = Spread.of(node["pipelined"][SIDEKICK]).median >= TARGETS["pipelined from Node"]
        out.append(f"  target from Node ≥ {TARGETS['pipelined from Node']:.0f}/s: {verdict(fast)}")
    for client, results in (("Python", py), ("Node", node)):
        if results is not None:
            out += latency_table(f"\ncalculate ({'1234567 * 0.175'}) p50, {client} client", results["calculate"],
                                 SIDEKICK, "÷ sidekick")
    out.append("\ncold start to the first answer (initialize), interleaved with the import floor")
    out += ["  " + line for line in startup.report(starts)]
    floor = paired(starts[SIDEKICK]["wall"], starts["import floor"]["wall"])
    out.append(f"  sidekick ÷ import floor: {floor.show(2)}   target ≤ {TARGETS['cold start ÷ floor']}: "
               f"{verdict(floor.median <= TARGETS['cold start ÷ floor'])}")
    out.append("\nidle RSS after the rounds, MB: " + ", ".join(f"{n} {v:.1f}" for n, v in rss.items())
               + f"   sidekick target < {TARGETS['idle RSS MB']:.0f}: {verdict(rss[SIDEKICK] < TARGETS['idle RSS MB'])}")
    out += peers_table(py, node, rss, starts)
    return out


def peers_table(py: dict[str, Any], node: dict[str, Any] | None, rss: dict[str, float],
                starts: dict[str, dict[str, list[float]]]) -> list[str]:
    names = [n for n in (BASELINE, MCP_SDK, FASTAPI) if n in py["ping"]]
    if not names:
        return []
    out = ["\npeers: the sidekick's own figures, then how many times them each peer's are (paired by round; "
           "> 1: the sidekick wins)",
           "  " + "".join(f"{h:>{w}}" for h, w in zip(["", "ping (Python)", "ping (Node)", "calculate (Python)",
                                                         "calculate (Node)", "cold start", "RSS MB"],
                                                        [18] + [28] * 5 + [10]))]
    for name in [SIDEKICK, *names]:
        cells = []
        for results, metric in ((py, "ping"), (node, "ping"), (py, "calculate"), (node, "calculate")):
            if results is None or name not in results[metric]:
                cells.append("")
            elif name == SIDEKICK:
                cells.append(Spread.of(results[metric][name]).show() + " µs")
            else:
                cells.append(paired(results[metric][name], results[metric][SIDEKICK]).show(2) + "×")
        if name == SIDEKICK:
            cells.append(Spread.of(starts[name]["wall"]).show(0) + " ms")
        else:
            cells.append(paired(starts[name]["wall"], starts[SIDEKICK]["wall"]).show(2) + "×" if name in starts else "")
        out.append(f"  {name:<18}" + "".join(f"{c:>28}" for c in cells) + f"{rss.get(name, 0):>10.1f}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pings", type=int, default=500, help="sequential calls per target per round")
    parser.add_argument("--pipelined", type=int, default=20000, help="pings written at once per round")
    parser.add_argument("--starts", type=int, default=9, help="cold-start rounds")
    parser.add_argument("--no-peers", action="store_true", help="skip the MCP SDK and FastAPI peers")
    parser.add_argument("--no-node", action="store_true", help="skip the Node client")
    parser.add_argument("--sidekick-root", type=Path, default=ROOT, help="the tree whose sidekick to measure")
    parser.add_argument("--baseline-root", type=Path, help="also measure this tree's sidekick, in the same rounds")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    peers_python = None if args.no_peers else peers.peers_python()
    fastapi = peers.FastApiServer(peers_python) if peers_python else None
    if fastapi is not None:
        fastapi.__enter__()
    try:
        the_plan = plan(args, fastapi.url if fastapi else None, peers_python)
        py = run_plan({**the_plan, "keep": True})
        rss = memory(py, fastapi.proc.pid if fastapi else None)
        for target in py.pop("open"):
            target.close()
        node = None if args.no_node else run_node(the_plan)
    finally:
        if fastapi is not None:
            fastapi.__exit__(None, None, None)
    specs = {SIDEKICK: startup.sidekick_command(args.sidekick_root), **startup.floors()}
    if args.baseline_root is not None:
        specs[BASELINE] = startup.sidekick_command(args.baseline_root)
    if peers_python is not None:
        specs[MCP_SDK] = {"cmd": peers.mcp_command(peers_python)}
        specs[FASTAPI] = {"measure": lambda: peers.fastapi_cold_start(peers_python)}
    starts = startup.cold_starts(specs, args.starts)
    print("\n".join(report(args, py, node, rss, starts)))
    if args.json:
        py.pop("pids", None)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"python": py, "node": node, "rss_mb": rss, "cold_start": starts}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
