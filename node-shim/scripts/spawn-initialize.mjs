// Shared by the start-up benches: the floor every plugin start sits on.
import { spawn } from "node:child_process";

/** Milliseconds from spawning `python -m sidekick --stdio` to its initialize answer. */
export async function spawnToInitialize(python) {
  const t0 = performance.now();
  const child = spawn(python, ["-m", "sidekick", "--stdio"], { stdio: ["pipe", "pipe", "ignore"] });
  const request = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "0" } } };
  child.stdin.write(`${JSON.stringify(request)}\n`);
  await new Promise((resolve) => child.stdout.once("data", resolve));
  const ms = performance.now() - t0;
  child.stdin.end();
  await new Promise((resolve) => child.once("close", resolve));
  return ms;
}
