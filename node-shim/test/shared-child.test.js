// One sidekick child per Node process for the agent runtimes with the same settings: what they share,
// where the child's calls go, and who may end it. Most tests use a stand-in sidekick (a node fixture);
// the last one runs two real AgentRuntimes on the real Python sidekick.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { pythonAnalyzeAction, pythonSidekickPlugin, PythonSidekickService, RequestCancelledError, SidekickExitedError } from "../dist/index.js";
import { sharedChildCount } from "../dist/shared-child.js";
import { createAgent, userMessage } from "./helpers/agent.js";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { fakeRuntime } from "./helpers/service.js";
import { alive, onceWithin, PYTHON, recordingLogger, SKIP_PYTHON, within } from "./helpers/util.js";

const fixture = fileURLToPath(new URL("./fixtures/shared-sidekick.mjs", import.meta.url));
const BASE = { SIDEKICK_COMMAND: `"${process.execPath}" "${fixture}"`, SIDEKICK_BASE_URL: "http://127.0.0.1:9/v1", SIDEKICK_MODEL: "m" };

/** A service for one stand-in runtime with these settings, started. */
async function startService(settings = BASE, options = {}) {
  const service = new PythonSidekickService(fakeRuntime(settings, recordingLogger()), options);
  await within(service.processSupervisor.start(), 15_000, "sidekick start");
  return service;
}

const roomTool = (room) => ({ name: "WHERE_AM_I", description: "which runtime", inputSchema: { type: "object" }, call: async () => `room ${room}` });

/** Starts a run that the fixture holds; `held` resolves once its host call was answered and it waits. */
function heldRun(service, task) {
  const progress = [];
  let onHeld;
  const held = new Promise((resolve) => (onHeld = resolve));
  const run = service.executeTask({
    task,
    hostTools: [roomTool(task)],
    onProgress: (p) => {
      progress.push(p);
      onHeld();
    },
  });
  run.catch(() => {}); // awaited by the test
  return { run, held: within(held, 15_000, `run ${task} held`), progress };
}

const stats = (service) => service.processSupervisor.request("stats", {});

test("two runtimes with the same settings share one child; host calls and progress reach the runtime whose run asked", async () => {
  const a = await startService();
  const b = await startService();
  try {
    assert.equal(a.getStatus().pid, b.getStatus().pid);
    assert.equal(a.getStatus().sharedBy, 2);
    const runA = heldRun(a, "A");
    const runB = heldRun(b, "B");
    await Promise.all([runA.held, runB.held]);
    assert.deepEqual(runA.progress, [{ progress: 1, total: undefined, message: "held A" }]);
    assert.deepEqual(runB.progress, [{ progress: 1, total: undefined, message: "held B" }]);
    assert.deepEqual(await a.processSupervisor.request("release", {}), { released: 2 });
    assert.equal((await runA.run).text, "A: room A");
    assert.equal((await runB.run).text, "B: room B");
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("one runtime's stop cancels only its own run; the other's goes on; the last one out stops the child", async () => {
  const a = await startService();
  const b = await startService();
  const pid = a.getStatus().pid;
  try {
    const runA = heldRun(a, "A");
    const runB = heldRun(b, "B");
    await Promise.all([runA.held, runB.held]);

    await within(b.stop(), 5000, "b.stop");
    await assert.rejects(runB.run, (e) => e instanceof RequestCancelledError && /stopped/.test(e.message));
    assert.equal(b.getStatus().state, "stopped");
    await assert.rejects(b.executeTask({ task: "after stop" }), /stopped/);
    assert.ok(alive(pid));
    assert.equal(a.getStatus().state, "ready");
    assert.equal(a.getStatus().sharedBy, 1);
    // The child was told to cancel B's run, and still holds A's.
    const seen = await stats(a);
    assert.equal(seen.cancelled.length, 1);
    assert.equal(seen.held, 1);
    assert.deepEqual(await a.processSupervisor.request("release", {}), { released: 1 });
    assert.equal((await runA.run).text, "A: room A");

    await within(a.stop(), 10_000, "a.stop");
    assert.equal(alive(pid), false);
    assert.equal(sharedChildCount(), 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("runtimes with different settings get their own child; SIDEKICK_SHARED_CHILD=0 gets one of its own", async () => {
  const services = await Promise.all([
    startService(),
    startService({ ...BASE, SIDEKICK_MODEL: "other" }),
    startService({ ...BASE, SIDEKICK_SHARED_CHILD: "0" }),
    startService(),
    // A setting that never reaches the child does not split it.
    startService({ ...BASE, SIDEKICK_TIMEOUT_MS: "5000" }),
  ]);
  const [same, otherModel, own, same2, otherTimeout] = services;
  try {
    const pid = (s) => s.getStatus().pid;
    assert.equal(pid(same2), pid(same));
    assert.equal(pid(otherTimeout), pid(same));
    assert.notEqual(pid(otherModel), pid(same));
    assert.notEqual(pid(own), pid(same));
    assert.notEqual(pid(own), pid(otherModel));
    assert.equal((await stats(otherModel)).model, "other");
    assert.equal((await stats(same)).model, "m");
    assert.equal(same.getStatus().sharedBy, 3);
    assert.equal(own.getStatus().sharedBy, 1);
    assert.equal(sharedChildCount(), 2);
  } finally {
    const pids = services.map((s) => s.getStatus().pid);
    await Promise.all(services.map((s) => s.stop()));
    for (const pid of pids) assert.equal(alive(pid), false);
  }
});

test("a crashed shared child is restarted for every runtime on it; their runs in flight fail with the exit", async () => {
  const options = { backoff: { initialDelayMs: 10 } };
  const a = await startService(BASE, options);
  const b = await startService(BASE, options);
  try {
    const pid = a.getStatus().pid;
    const runA = heldRun(a, "A");
    const runB = heldRun(b, "B");
    await Promise.all([runA.held, runB.held]);
    const readyAgain = [onceWithin(a.processSupervisor, "ready", 15_000), onceWithin(b.processSupervisor, "ready", 15_000)];
    process.kill(pid, "SIGKILL");
    for (const { run } of [runA, runB]) await assert.rejects(run, (e) => e instanceof SidekickExitedError && e.signal === "SIGKILL");
    const [[procA], [procB]] = await Promise.all(readyAgain);
    assert.equal(procA, procB);
    assert.notEqual(procA.pid, pid);
    for (const s of [a, b]) {
      assert.equal(s.getStatus().pid, procA.pid);
      assert.equal(s.getStatus().restarts, 1);
    }
    const again = heldRun(b, "B2");
    await again.held;
    await a.processSupervisor.request("release", {});
    assert.equal((await again.run).text, "B2: room B2");
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("a runtime stopped while its sidekick starts never joins a child", async () => {
  let resolveSpec;
  const spec = new Promise((resolve) => (resolveSpec = resolve));
  const service = new PythonSidekickService(fakeRuntime(BASE, recordingLogger()), { spec: () => spec });
  const starting = service.processSupervisor.start();
  const waiter = service.processSupervisor.ready();
  await service.stop();
  resolveSpec({ command: process.execPath, args: [fixture], env: {} });
  await assert.rejects(starting, /stopped/);
  await assert.rejects(waiter, /stopped/);
  assert.equal(service.processSupervisor.process, null);
  assert.equal(sharedChildCount(), 0);
});

/** A model plugin stand-in's sibling: an action that tells this agent's own secret. */
function secretPlugin(secret, calls) {
  return {
    name: `secret-${secret}`,
    description: "test action",
    actions: [
      {
        name: "GET_SECRET_NUMBER",
        description: "Tells the agent's secret number",
        validate: async () => true,
        handler: async () => {
          calls.push(secret);
          return { success: true, text: `the secret is ${secret}` };
        },
      },
    ],
  };
}

test("two AgentRuntimes on one Python sidekick: each run calls its own agent's action; one stop leaves the other working", { skip: SKIP_PYTHON }, async () => {
  const openai = await startFakeOpenAI();
  // Whatever order the runs reach the model in: ask for the secret, then answer with it.
  const step = (body) => {
    const tool = body.messages.find((m) => m.role === "tool");
    return tool ? { text: `Answer: ${tool.content}` } : { toolCalls: [{ name: "GET_SECRET_NUMBER", arguments: { text: "secret?" } }] };
  };
  openai.setScript([step, step, step, step, step, step]);
  const settings = {
    SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio`,
    SIDEKICK_BASE_URL: openai.baseUrl,
    SIDEKICK_MODEL: "test-model",
    SIDEKICK_HOST_ACTIONS: "GET_SECRET_NUMBER",
  };
  const calls = [];
  const agents = [];
  try {
    for (const secret of [7, 9]) agents.push(await createAgent(pythonSidekickPlugin, settings, [secretPlugin(secret, calls)], { SIDEKICK_API_KEY: "sk-test" }));
    const [seven, nine] = agents;
    const services = await Promise.all(agents.map((a) => within(a.getServiceLoadPromise("python_sidekick"), 30_000, "service")));
    const pid = services[0].getStatus().pid;
    assert.equal(services[1].getStatus().pid, pid);
    assert.equal(services[0].getStatus().sharedBy, 2);

    const analyze = (agent) => pythonAnalyzeAction.handler(agent, userMessage(agent, "calculate our secret"), undefined, {}, async () => []);
    const [r7, r9] = await within(Promise.all([analyze(seven), analyze(nine)]), 30_000, "two runs");
    assert.equal(r7.text, "Answer: the secret is 7");
    assert.equal(r9.text, "Answer: the secret is 9");
    assert.deepEqual(calls.sort(), [7, 9]);

    await within(seven.stop(), 15_000, "first agent stop");
    agents.shift();
    assert.ok(alive(pid));
    const r9again = await within(analyze(nine), 30_000, "run after the other agent stopped");
    assert.equal(r9again.text, "Answer: the secret is 9");
    assert.equal(services[1].getStatus().pid, pid);

    await within(nine.stop(), 15_000, "last agent stop");
    agents.shift();
    assert.equal(alive(pid), false);
  } finally {
    for (const agent of agents) await agent.stop();
    await openai.close();
  }
});
