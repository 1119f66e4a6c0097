// run_task as a 2025-11-25 task, driven by the official TypeScript SDK v1 client's tasks support
// (`client.experimental.tasks`, the only released client implementing that revision's tasks): after listTools
// the client sees run_task's taskSupport "optional" and the server's tasks capability, and callToolStream
// creates a task, polls tasks/get and fetches tasks/result; progress keeps the call's token; tasks/cancel stops it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { PYTHON, SKIP_PYTHON, within } from "./helpers/util.js";

let openai;

before(async () => {
  if (SKIP_PYTHON) return;
  openai = await startFakeOpenAI();
});

after(async () => {
  if (SKIP_PYTHON) return;
  await openai.close();
});

async function withClient(fn) {
  const transport = new StdioClientTransport({
    command: PYTHON,
    args: ["-m", "sidekick", "--stdio"],
    env: { SIDEKICK_BASE_URL: openai.baseUrl, SIDEKICK_MODEL: "test-model", SIDEKICK_API_KEY: "sk-test",
      XDG_STATE_HOME: process.env.XDG_STATE_HOME }, // the usage store: the scratch dir of helpers/util.js
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += chunk));
  const client = new Client({ name: "mcp-tasks-test", version: "1.0.0" });
  try {
    await within(client.connect(transport), 30_000, "connect");
    await client.listTools();
    await fn(client);
  } catch (error) {
    error.message += `\nsidekick stderr:\n${stderr}`;
    throw error;
  } finally {
    await within(client.close(), 10_000, "close");
  }
}

test("2025-11-25: the client runs run_task as a task: created, polled, its result fetched, progress on the way", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([
    { toolCalls: [{ name: "calculate", arguments: { expression: "6 * 7" } }] },
    { text: "The answer is 42." },
  ]);
  await withClient(async (client) => {
    assert.ok(client.getServerCapabilities().tasks.requests.tools.call);
    const { tools } = await client.listTools();
    assert.deepEqual(tools.find((t) => t.name === "run_task").execution, { taskSupport: "optional" });
    const progress = [];
    const seen = [];
    const stream = client.experimental.tasks.callToolStream({ name: "run_task", arguments: { task: "6 times 7?" } },
      undefined, { onprogress: (p) => progress.push(p.progress) });
    for await (const message of stream) seen.push(message);
    const created = seen.find((m) => m.type === "taskCreated");
    assert.ok(created, `a task was created: ${JSON.stringify(seen)}`);
    assert.equal(created.task.status, "working");
    const final = seen.at(-1);
    assert.equal(final.type, "result", JSON.stringify(final));
    assert.equal(final.result.structuredContent.stopReason, "done");
    assert.equal(final.result.content[0].text, "The answer is 42.");
    assert.equal(final.result._meta["io.modelcontextprotocol/related-task"].taskId, created.task.taskId);
    assert.deepEqual(progress, [1, 2, 3].slice(0, progress.length));
    const task = await client.experimental.tasks.getTask(created.task.taskId);
    assert.equal(task.status, "completed");
    const { tasks } = await client.experimental.tasks.listTasks();
    assert.deepEqual(tasks.map((t) => t.taskId), [created.task.taskId]);
    // A plain callTool keeps working: no task, the answer in the call itself.
    openai.setScript([{ text: "A plain answer." }]);
    const plain = await client.callTool({ name: "run_task", arguments: { task: "plain" } });
    assert.equal(plain.content[0].text, "A plain answer.");
  });
});

test("2025-11-25: tasks/cancel stops a running task and it reads as cancelled", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([{ delayMs: 60_000, text: "too late" }]);
  await withClient(async (client) => {
    const asked = openai.requests.length;
    const stream = client.experimental.tasks.callToolStream({ name: "run_task", arguments: { task: "slow" } });
    const first = await within(stream.next(), 10_000, "taskCreated");
    assert.equal(first.value.type, "taskCreated");
    await openai.waitForRequests(asked + 1);
    const cancelled = await client.experimental.tasks.cancelTask(first.value.task.taskId);
    assert.equal(cancelled.status, "cancelled");
    const rest = [];
    for await (const message of stream) rest.push(message);
    assert.equal(rest.at(-1).type, "error");
    assert.match(String(rest.at(-1).error.message), /cancelled/);
    assert.equal((await client.experimental.tasks.getTask(first.value.task.taskId)).status, "cancelled");
  });
});
