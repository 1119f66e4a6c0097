// The service against the real Python sidekick and a scripted OpenAI-compatible server.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RequestCancelledError, RpcError } from "../dist/index.js";
import { startTestService, stopTestService } from "./helpers/service.js";
import { SKIP_PYTHON, within } from "./helpers/util.js";

let openai;
let service;
let logger;
let started;

before(async () => {
  if (SKIP_PYTHON) return;
  started = await startTestService({ SIDEKICK_ALLOW_PRIVATE_URLS: "1" });
  ({ service, openai, logger } = started);
});

after(async () => {
  if (SKIP_PYTHON) return;
  await stopTestService(started);
});

test("initialize handshake reports the server; tools/list and tools/call work", { skip: SKIP_PYTHON }, async () => {
  const status = service.getStatus();
  assert.equal(status.state, "ready");
  assert.equal(status.serverInfo.serverInfo.name, "eliza-sidekick");
  const tools = await service.listTools();
  assert.ok(tools.some((t) => t.name === "calculate"));
  const result = await service.callTool("calculate", { expression: "2**10" });
  assert.equal(result.isError, false);
  assert.equal(result.content[0].text, "1024");
  const bad = await service.callTool("calculate", { expression: "__import__('os')" });
  assert.equal(bad.isError, true);
});

test("an unknown method is a remote RpcError, not a local one", { skip: SKIP_PYTHON }, async () => {
  const proc = await service.processSupervisor.ready();
  await assert.rejects(proc.connection.request("no/such/method", {}), (e) => e instanceof RpcError && e.code === -32601);
});

test("sidekick/run: a multi-step run with a tool call, progress and usage", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([
    { toolCalls: [{ name: "calculate", arguments: { expression: "10000 * 1.07 ** 30" } }] },
    (body) => {
      const toolMsg = body.messages.find((m) => m.role === "tool");
      return { text: `It grows to about ${toolMsg.content.split(".")[0]} dollars.` };
    },
  ]);
  const progress = [];
  const result = await service.executeTask({
    task: "How much do $10,000 become at 7% over 30 years?",
    context: { who: "test" },
    onProgress: (p) => progress.push(p),
  });
  assert.equal(result.stopReason, "done");
  assert.match(result.text, /It grows to about 76122/);
  assert.deepEqual(result.toolsUsed, ["calculate"]);
  assert.equal(result.steps.length, 1);
  assert.equal(result.steps[0].tool, "calculate");
  assert.equal(result.steps[0].ok, true);
  assert.ok(result.usage.totalTokens >= 30);
  assert.ok(progress.length >= 1, "progress notifications arrived");
  assert.equal(openai.requests[0].model, "test-model");
  assert.equal(openai.remaining, 0);
});

test("sidekick/run: a host tool is called back on the host and its answer reaches the model", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([
    { toolCalls: [{ name: "lookup_price", arguments: { item: "widget" } }] },
    (body) => ({ text: `Price: ${body.messages.find((m) => m.role === "tool").content}` }),
  ]);
  const calls = [];
  const result = await service.executeTask({
    task: "What does a widget cost?",
    hostTools: [
      {
        name: "lookup_price",
        description: "Looks up the price of an item",
        inputSchema: { type: "object", properties: { item: { type: "string" } }, required: ["item"] },
        call: async (args) => {
          calls.push(args);
          return `${args.item} costs 42 EUR`;
        },
      },
    ],
  });
  assert.deepEqual(calls, [{ item: "widget" }]);
  assert.equal(result.text, "Price: widget costs 42 EUR");
  assert.deepEqual(result.toolsUsed, ["lookup_price"]);
  assert.ok(openai.requests.at(-2).tools.some((t) => t.function.name === "lookup_price"));
});

test("sidekick/run: concurrent runs offering the same host tool each get their own (relatedRequestId)", { skip: SKIP_PYTHON }, async () => {
  // One step for every request, whatever the order the two runs reach the model in.
  const step = (body) => {
    const toolMsg = body.messages.find((m) => m.role === "tool");
    return toolMsg ? { text: `Room says: ${toolMsg.content}` } : { toolCalls: [{ name: "WHERE_AM_I", arguments: {} }] };
  };
  openai.setScript([step, step, step, step]);
  const roomTool = (room, calls) => ({
    name: "WHERE_AM_I",
    description: "Tells which conversation this is",
    inputSchema: { type: "object", properties: {} },
    call: async (_args, { signal }) => {
      calls.push(signal instanceof AbortSignal);
      return `room ${room}`;
    },
  });
  const callsA = [];
  const callsB = [];
  const [a, b] = await within(
    Promise.all([
      service.executeTask({ task: "where am I? (A)", hostTools: [roomTool("A", callsA)] }),
      service.executeTask({ task: "where am I? (B)", hostTools: [roomTool("B", callsB)] }),
    ]),
    20_000,
    "two runs",
  );
  assert.equal(a.text, "Room says: room A");
  assert.equal(b.text, "Room says: room B");
  assert.deepEqual([callsA, callsB], [[true], [true]]);
  assert.ok(a.steps.every((s) => s.source === "host") && typeof a.modelTurns === "number");
});

test("sidekick/run: aborting sends notifications/cancelled; the promise rejects; the sidekick stays usable", { skip: SKIP_PYTHON }, async () => {
  openai.setScript([{ delayMs: 30_000, text: "too late" }, { text: "after the cancel" }]);
  const controller = new AbortController();
  const before = openai.requests.length;
  const run = service.executeTask({ task: "slow one", signal: controller.signal });
  await openai.waitForRequests(before + 1);
  controller.abort(new Error("user left"));
  await assert.rejects(run, (e) => e instanceof RequestCancelledError && /user left/.test(e.message));
  const next = await within(service.executeTask({ task: "quick one" }), 20_000, "next run");
  assert.equal(next.text, "after the cancel");
  // As MCP says, the cancelled request got no answer at all.
  assert.equal(logger.lines.some((l) => /answer for unknown or abandoned request/.test(l.text)), false);
});
