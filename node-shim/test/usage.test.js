// Usage where Eliza users look: each PYTHON_ANALYZE run is a runtime.log row of type python_sidekick:run,
// its tokens a MODEL_USED event, and the status provider counts today's runs; the Python side records the
// same run in its own usage store. A real AgentRuntime, the real Python sidekick, a scripted model.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { EventType } from "@elizaos/core";
import { pythonAnalyzeAction, pythonSidekickPlugin, pythonSidekickStatusProvider } from "../dist/index.js";
import { RUN_LOG_TYPE, runsToday } from "../dist/action.js";
import { createAgent, userMessage } from "./helpers/agent.js";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { PYTHON, SKIP_PYTHON, until, within } from "./helpers/util.js";

let openai;
let runtime;
const modelEvents = [];

before(async () => {
  if (SKIP_PYTHON) return;
  openai = await startFakeOpenAI();
  runtime = await createAgent(pythonSidekickPlugin, {
    SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio`,
    SIDEKICK_BASE_URL: openai.baseUrl,
    SIDEKICK_MODEL: "test-model",
  }, [], { SIDEKICK_API_KEY: "sk-test" });
  runtime.registerEvent(EventType.MODEL_USED, async (payload) => {
    modelEvents.push(payload);
  });
  await within(runtime.getServiceLoadPromise("python_sidekick"), 30_000, "service start");
});

after(async () => {
  if (SKIP_PYTHON) return;
  await runtime?.stop();
  await openai?.close();
});

async function runLogs() {
  return runtime.getLogs({ entityId: runtime.agentId, type: RUN_LOG_TYPE });
}

async function status() {
  return pythonSidekickStatusProvider.get(runtime, userMessage(runtime, "x"), { values: {}, data: {}, text: "" });
}

test("a run is logged with its summary, its tokens are a MODEL_USED event, and today's tally counts it", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([
    { toolCalls: [{ name: "calculate", arguments: { expression: "6*7" } }, { name: "calculate", arguments: { expression: "6*" } }] },
    { text: "It is 42." },
  ]);
  const message = userMessage(runtime, "calculate six times seven, the secret way");
  const result = await pythonAnalyzeAction.handler(runtime, message, undefined, {}, async () => []);
  assert.equal(result.success, true);

  const [row] = await runLogs();
  assert.equal(row.type, "python_sidekick:run");
  assert.equal(row.roomId, message.roomId);
  assert.deepEqual(row.body, {
    success: true,
    stopReason: "done",
    durationMs: result.data.durationMs,
    steps: 2,
    toolErrors: 1,
    toolsUsed: ["calculate"],
    usage: result.data.usage,
    modelTurns: 2,
    provider: "custom",
    model: "test-model",
    messageId: message.id,
  });
  assert.doesNotMatch(JSON.stringify(row.body), /secret way/); // a summary: no task or answer text

  assert.equal(modelEvents.length, 1);
  const [event] = modelEvents;
  assert.equal(event.source, "python_sidekick");
  assert.equal(event.type, "TEXT_LARGE");
  assert.deepEqual(event.tokens, {
    prompt: result.data.usage.promptTokens,
    completion: result.data.usage.completionTokens,
    total: result.data.usage.totalTokens,
  });

  const provided = await status();
  assert.match(provided.text, /today 1 run\(s\), 100% succeeded/);
  assert.equal(provided.values.pythonSidekickRunsToday, 1);
  assert.equal(provided.values.pythonSidekickSuccessRateToday, 1);
});

test("a failed run is logged as failed and lowers today's success rate", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([]); // every request answers 500
  const result = await pythonAnalyzeAction.handler(runtime, userMessage(runtime, "research something"), undefined, {}, async () => []);
  assert.equal(result.success, false);
  const [row] = await runLogs(); // newest first
  assert.equal(row.body.success, false);
  assert.equal(row.body.stopReason, "error");
  assert.equal(row.body.errorKind, "server");
  assert.match(row.body.error, /HTTP 500/);
  const provided = await status();
  assert.match(provided.text, /today 2 run\(s\), 50% succeeded/);
  assert.deepEqual(provided.data.pythonSidekick.today, { day: provided.data.pythonSidekick.today.day, runs: 2, succeeded: 1, successRate: 0.5 });
});

test("the Python side records the same runs in its usage store", { skip: SKIP_PYTHON }, async () => {
  const db = join(process.env.XDG_STATE_HOME, "sidekick", "usage.db");
  let report;
  await until(async () => {
    try {
      const { stdout } = await promisify(execFile)(PYTHON, ["-m", "sidekick", "stats", "--json", "--db", db]);
      report = JSON.parse(stdout);
    } catch {
      return false;
    }
    return report.runs.total >= 2;
  }, 30_000, "two runs in the usage store");
  assert.deepEqual([report.runs.byStopReason.done, report.runs.byStopReason.error], [1, 1]);
  assert.deepEqual(report.byClient.map((c) => c.client), ["plugin-python-sidekick"]);
  assert.deepEqual(report.tools.map((t) => [t.name, t.calls, t.errors]), [["calculate", 2, 1]]);
});

test("today's tally starts from the day's log rows, so a restart keeps the count", async () => {
  const now = new Date();
  const yesterday = new Date(now.getTime() - 36 * 3600 * 1000);
  const stored = [
    { createdAt: now, body: { success: true } },
    { createdAt: now, body: { success: false } },
    { createdAt: now.toISOString(), body: { success: true } },
    { createdAt: yesterday, body: { success: true } },
  ];
  const asked = [];
  const agent = { agentId: crypto.randomUUID(), getLogs: async (params) => (asked.push(params), stored) };
  assert.deepEqual(await runsToday(agent), { day: (await runsToday(agent)).day, runs: 3, succeeded: 2 });
  assert.equal(asked.length, 1); // read once per process
  assert.deepEqual(asked[0], { entityId: agent.agentId, type: RUN_LOG_TYPE, count: 1000 });

  const broken = { agentId: crypto.randomUUID(), getLogs: async () => { throw new Error("no log table"); } };
  assert.equal((await runsToday(broken)).runs, 0);
});
