// The plugin inside a real AgentRuntime (@elizaos/core 1.7), with the real Python sidekick.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pluginDefault, { pythonAnalyzeAction, pythonSidekickPlugin, pythonSidekickStatusProvider } from "../dist/index.js";
import { analyzeResponse, createAgent, secretNumberPlugin, userMessage } from "./helpers/agent.js";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { alive, onceWithin, PYTHON, SKIP_PYTHON, within } from "./helpers/util.js";

let openai;
let runtime;
let service;
const hostCalls = [];

before(async () => {
  if (SKIP_PYTHON) return;
  openai = await startFakeOpenAI();
  runtime = await createAgent(
    pythonSidekickPlugin,
    {
      SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio`,
      SIDEKICK_BASE_URL: openai.baseUrl,
      SIDEKICK_MODEL: "test-model",
      SIDEKICK_HOST_ACTIONS: "GET_SECRET_NUMBER, NO_SUCH_ACTION",
      SIDEKICK_ALLOW_PRIVATE_URLS: "true",
    },
    [secretNumberPlugin(hostCalls)],
    { SIDEKICK_API_KEY: "sk-test" },
  );
  service = await within(runtime.getServiceLoadPromise("python_sidekick"), 30_000, "service start");
});

after(async () => {
  if (SKIP_PYTHON) return;
  await runtime?.stop();
  await openai?.close();
});

test("the plugin exports itself as default and declares its parts", () => {
  assert.equal(pluginDefault, pythonSidekickPlugin);
  assert.equal(pythonSidekickPlugin.services[0].serviceType, "python_sidekick");
  assert.deepEqual(pythonSidekickPlugin.actions.map((a) => a.name), ["PYTHON_ANALYZE"]);
});

test("validate: analysis intents with the service up; not small talk", { skip: SKIP_PYTHON }, async () => {
  assert.equal(service.getStatus().state, "ready");
  for (const text of ["Please analyze these numbers", "research the topic", "calculate 2+2", "benchmark this", "Can you do an analysis?"]) {
    assert.equal(await pythonAnalyzeAction.validate(runtime, userMessage(runtime, text)), true, text);
  }
  assert.equal(await pythonAnalyzeAction.validate(runtime, userMessage(runtime, "hello, how are you?")), false);
});

test("a multi-step analyze request runs through processActions; an allowed agent action is called from Python", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([
    { toolCalls: [{ name: "calculate", arguments: { expression: "2**10" } }] },
    { toolCalls: [{ name: "GET_SECRET_NUMBER", arguments: { topic: "finance" } }] },
    (body) => {
      const tools = body.messages.filter((m) => m.role === "tool").map((m) => m.content);
      return { text: `Analysis: ${tools[0]} and ${tools[1]}.` };
    },
  ]);
  const message = userMessage(runtime, "Please analyze: what is 2**10, and what is our secret number?");
  const said = [];
  await runtime.processActions(message, [analyzeResponse(runtime, message)], undefined, async (content) => {
    said.push(content.text);
    return [];
  });
  assert.equal(said[0], "Engaging Python specialist…");
  assert.equal(said.at(-1), "Analysis: 1024 and The secret number for finance is 42.");

  // The host action ran with the arguments in content.text/actionParams and options.parameters.
  assert.equal(hostCalls.length, 1);
  assert.deepEqual(hostCalls[0].content.actionParams, { topic: "finance" });
  assert.deepEqual(hostCalls[0].options.parameters, { topic: "finance" });
  // Its parameters JSON Schema became the tool's inputSchema; the unknown name was skipped.
  const offered = openai.requests.at(-3).tools.map((t) => t.function);
  const secretTool = offered.find((f) => f.name === "GET_SECRET_NUMBER");
  assert.deepEqual(secretTool.parameters.required, ["topic"]);
  assert.equal(offered.some((f) => f.name === "NO_SUCH_ACTION"), false);
  // Context went along: the message and the character.
  const firstPrompt = JSON.stringify(openai.requests.at(-3).messages);
  assert.match(firstPrompt, /Sage/);

  const [result] = runtime.getActionResults(message.id);
  assert.equal(result.success, true);
  assert.equal(result.text, "Analysis: 1024 and The secret number for finance is 42.");
  assert.equal(result.data.pythonUsed, true);
  assert.deepEqual(result.data.toolsUsed, ["calculate", "GET_SECRET_NUMBER"]);
  assert.equal(result.data.steps.length, 2);
  assert.equal(result.data.stopReason, "done");
  assert.ok(result.data.usage.totalTokens > 0);
  assert.ok(result.data.durationMs >= 0);
});

test("a follow-up in the same room carries the earlier turns as messages", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([{ text: "First answer: 12." }, { text: "Second answer: 24." }]);
  const roomId = crypto.randomUUID();
  const first = userMessage(runtime, "calculate 3 * 4", roomId);
  await pythonAnalyzeAction.handler(runtime, first, undefined, {}, async () => []);
  const second = userMessage(runtime, "now calculate double that", roomId);
  const result = await pythonAnalyzeAction.handler(runtime, second, undefined, {}, async () => []);
  assert.equal(result.text, "Second answer: 24.");
  const turns = openai.requests.at(-1).messages.filter((m) => m.role !== "system").map((m) => `${m.role}: ${m.content}`);
  assert.deepEqual(turns, ["user: calculate 3 * 4", "assistant: First answer: 12.", "user: now calculate double that"]);
});

test("the provider reports the sidekick's status", { skip: SKIP_PYTHON }, async () => {
  const result = await pythonSidekickStatusProvider.get(runtime, userMessage(runtime, "x"), { values: {}, data: {}, text: "" });
  assert.match(result.text, /Python specialist: ready/);
  assert.equal(result.values.pythonSidekickReady, true);
});

test("a killed sidekick is restarted and the next request succeeds", { skip: SKIP_PYTHON }, async () => {
  const pid = service.getStatus().pid;
  const readyAgain = onceWithin(service.processSupervisor, "ready", 30_000);
  process.kill(pid, "SIGKILL");
  await readyAgain;
  assert.notEqual(service.getStatus().pid, pid);
  assert.equal(service.getStatus().restarts, 1);

  openai.setScript([{ text: "Still here: the answer is 7." }]);
  const message = userMessage(runtime, "calculate 3 + 4 please");
  const said = [];
  const result = await pythonAnalyzeAction.handler(runtime, message, undefined, {}, async (c) => {
    said.push(c.text);
    return [];
  });
  assert.equal(result.success, true);
  assert.equal(result.text, "Still here: the answer is 7.");
  assert.deepEqual(said, ["Engaging Python specialist…", "Still here: the answer is 7."]);
  const provider = await pythonSidekickStatusProvider.get(runtime, message, { values: {}, data: {}, text: "" });
  assert.match(provider.text, /ready, 1 restart/);
});

test("the model endpoint failing gives success: false with a readable error, never a throw", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([]); // every request answers 500
  const message = userMessage(runtime, "research something");
  const said = [];
  const result = await pythonAnalyzeAction.handler(runtime, message, undefined, {}, async (c) => {
    said.push(c.text);
    return [];
  });
  assert.equal(result.success, false);
  // The run's error object {code, message, kind} becomes a readable string.
  assert.equal(typeof result.error, "string");
  assert.match(result.error, /model endpoint .* failed with HTTP 500/);
  assert.doesNotMatch(result.text, /\[object Object\]/);
  assert.equal(result.data.stopReason, "error");
  assert.equal(said.length, 2);
  assert.equal(result.text, said[1]);
});

test("runtime.stop() stops the sidekick and leaves no process behind", { skip: SKIP_PYTHON }, async () => {
  const pid = service.getStatus().pid;
  assert.ok(alive(pid));
  await within(runtime.stop(), 15_000, "runtime.stop");
  assert.equal(alive(pid), false);
  assert.equal(service.getStatus().state, "stopped");
  runtime = null;
});

test("a bad setting: the agent keeps running without the action, and the provider names the setting", async () => {
  const agent = await createAgent(pythonSidekickPlugin, { SIDEKICK_MAX_STEPS: "many" });
  try {
    const svc = await within(agent.getServiceLoadPromise("python_sidekick"), 30_000, "service start");
    assert.equal(svc.getStatus().state, "failed");
    const provider = await pythonSidekickStatusProvider.get(agent, userMessage(agent, "x"), { values: {}, data: {}, text: "" });
    assert.match(provider.text, /Python specialist: failed.*SIDEKICK_MAX_STEPS must be a positive integer, got 'many'/);
  } finally {
    await agent.stop();
  }
});

test("without Python the agent keeps running without the action, and says what to install", async () => {
  const agent = await createAgent(pythonSidekickPlugin, { SIDEKICK_PYTHON: "/nonexistent/python3" });
  try {
    const svc = await within(agent.getServiceLoadPromise("python_sidekick"), 30_000, "service start");
    assert.equal(svc.getStatus().state, "failed");
    assert.equal(await pythonAnalyzeAction.validate(agent, userMessage(agent, "analyze this")), false);
    const provider = await pythonSidekickStatusProvider.get(agent, userMessage(agent, "x"), { values: {}, data: {}, text: "" });
    assert.match(provider.text, /Python specialist: failed.*Install Python 3\.10 or newer/);
    const result = await pythonAnalyzeAction.handler(agent, userMessage(agent, "analyze this"), undefined, {}, async () => []);
    assert.equal(result.success, false);
    assert.match(result.text, /No usable Python/);
  } finally {
    await agent.stop();
  }
});
