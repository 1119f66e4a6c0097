// The plugin starts its sidekick from init(), while the runtime is still initializing, and the
// service adopts that process, unless settings that reach the child changed meanwhile (then it starts a fresh one).
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { pythonSidekickPlugin } from "../dist/index.js";
import { createAgent } from "./helpers/agent.js";
import { alive, recordingLogger, until, within } from "./helpers/util.js";

const fixture = fileURLToPath(new URL("./fixtures/lib-serve.mjs", import.meta.url));

/** A plugin whose init() holds the runtime's initialize() until `open()` is called. */
function gate() {
  let open;
  const opened = new Promise((resolve) => (open = resolve));
  return { plugin: { name: "test-gate", description: "holds initialize()", init: () => opened }, open };
}

/** Starts an agent held at the gate; resolves once the prewarmed sidekick is ready. */
async function heldAgent() {
  const logger = recordingLogger();
  const { plugin, open } = gate();
  const settings = { SIDEKICK_COMMAND: `"${process.execPath}" "${fixture}"`, SIDEKICK_BASE_URL: "http://127.0.0.1:9/v1" };
  const agent = createAgent(pythonSidekickPlugin, settings, [plugin], {}, { logger });
  // Before: the sidekick was spawned only once initialize() had finished, so this never came.
  const ready = await logger.waitFor(/sidekick: ready \(pid (\d+)/, 15_000);
  return { agent, open, settings, prewarmedPid: Number(/pid (\d+)/.exec(ready.text)[1]) };
}

test("the sidekick is ready while initialize() is still running, and the service adopts it", async () => {
  const { agent, open, prewarmedPid } = await heldAgent();
  open();
  const runtime = await within(agent, 15_000, "initialize");
  try {
    const service = await within(runtime.getServiceLoadPromise("python_sidekick"), 15_000, "service");
    assert.equal(service.getStatus().state, "ready");
    assert.equal(service.getStatus().pid, prewarmedPid);
  } finally {
    await runtime.stop();
  }
  assert.equal(alive(prewarmedPid), false);
});

test("settings that reach the child changed during initialize(): the prewarmed sidekick is stopped and a fresh one started", async () => {
  const { agent, open, settings, prewarmedPid } = await heldAgent();
  // What initialize() does when the database holds settings for this agent.
  settings.SIDEKICK_MODEL = "another-model";
  open();
  const runtime = await within(agent, 15_000, "initialize");
  try {
    const service = await within(runtime.getServiceLoadPromise("python_sidekick"), 15_000, "service");
    assert.equal(service.settings.endpoint.model, "another-model");
    assert.notEqual(service.getStatus().pid, prewarmedPid);
    await until(() => !alive(prewarmedPid), 10_000, "the prewarmed sidekick stopped");
  } finally {
    await runtime.stop();
  }
});

test("settings that stay on this side changed during initialize(): the prewarmed sidekick is kept", async () => {
  const { agent, open, settings, prewarmedPid } = await heldAgent();
  settings.SIDEKICK_TIMEOUT_MS = "5000"; // sent with each run, not in the child's environment
  open();
  const runtime = await within(agent, 15_000, "initialize");
  try {
    const service = await within(runtime.getServiceLoadPromise("python_sidekick"), 15_000, "service");
    assert.equal(service.settings.timeoutMs, 5000);
    assert.equal(service.getStatus().state, "ready");
    assert.equal(service.getStatus().pid, prewarmedPid);
    assert.equal(service.getStatus().sharedBy, 1);
  } finally {
    await runtime.stop();
  }
  assert.equal(alive(prewarmedPid), false);
});
