"""A stand-in `sidekick --stdio` for the host tests: it starts N runs, then asks the host for one tool per
run (in reverse order, so answers interleave), and answers each run with what its tool returned.

Usage: fake_sidekick.py [--tag] [--stale] [--runs N]. With --tag it advertises `hostToolMeta` and puts
`_meta.relatedRequestId` in every host/callTool; with --stale that id names no run of this host.
"""

import json
import sys

TAG = "--tag" in sys.argv
STALE = "--stale" in sys.argv
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


pending_runs = []
host_calls = {}
for line in sys.stdin:
    message = json.loads(line)
    method = message.get("method")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "protocolVersion": "2025-06-18", "serverInfo": {"name": "fake", "version": "0"},
            "capabilities": {"experimental": {"sidekick": {"run": True, "hostToolMeta": TAG}}}}})
    elif method == "sidekick/run":
        pending_runs.append(message)
        if len(pending_runs) == RUNS:
            for index, run in reversed(list(enumerate(pending_runs))):
                call_id = f"s-{index + 1}"
                host_calls[call_id] = run
                params = {"name": "lookup", "arguments": {"key": run["params"]["task"]}}
                if TAG:
                    params["_meta"] = {"relatedRequestId": "finished-run" if STALE else run["id"]}
                send({"jsonrpc": "2.0", "id": call_id, "method": "host/callTool", "params": params})
            pending_runs = []
    elif method is None and message.get("id") in host_calls:
        run = host_calls.pop(message["id"])
        if "error" in message:
            text = "host error: " + message["error"]["message"]
        else:
            text = message["result"]["content"][0]["text"]
        send({"jsonrpc": "2.0", "id": run["id"], "result": {
            "text": text, "stopReason": "done", "steps": [{"tool": "lookup"}],
            "messages": [{"role": "user", "content": run["params"]["task"]}, {"role": "assistant", "content": text}],
            "usage": {}}})
