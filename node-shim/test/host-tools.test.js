// Host actions as tools: schemas, the synthetic message, and answers; which run a host call belongs to.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { actionInputSchema, hostActionTools } from "../dist/host-tools.js";
import { childEnv, PythonSidekickService } from "../dist/index.js";
import { recordingLogger, within } from "./helpers/util.js";

const action = (extra) => ({ name: "X", description: "x", validate: async () => true, handler: async () => ({ success: true, text: "ok" }), ...extra });
const runtime = (actions) => ({ agentId: "00000000-0000-0000-0000-00000000000a", actions });

test("inputSchema: a JSON Schema `parameters`, a 2.x parameter list, or {text}", () => {
  const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
  assert.deepEqual(actionInputSchema(action({ parameters: schema })), schema);
  assert.deepEqual(actionInputSchema(action({ parameters: [{ name: "n", description: "count", required: true, schema: { type: "integer" } }, { name: "u" }] })), {
    type: "object",
    properties: { n: { type: "integer", description: "count" }, u: { type: "string" } },
    required: ["n"],
  });
  assert.deepEqual(actionInputSchema(action({})).required, ["text"]);
  assert.equal(actionInputSchema(action({})).properties.text.type, "string");
});

test("only listed actions become tools (case-insensitive); PYTHON_ANALYZE never does", () => {
  const logger = recordingLogger();
  const tools = hostActionTools(runtime([action({ name: "SEND_EMAIL" }), action({ name: "PYTHON_ANALYZE" }), action({ name: "OTHER" })]), ["send_email", "PYTHON_ANALYZE", "MISSING"], {}, logger);
  assert.deepEqual(tools.map((t) => t.name), ["SEND_EMAIL"]);
  assert.ok(logger.lines.some((l) => /no such action/.test(l.text) && /MISSING/.test(l.text)));
});

test("a call runs the handler with the arguments in the message and answers with its text", async () => {
  let seen;
  const base = { entityId: "e", roomId: "r", content: { text: "orig" } };
  const [tool] = hostActionTools(
    runtime([action({ handler: async (_rt, message, _state, options, callback) => {
      seen = { message, options };
      await callback({ text: "said along the way" });
      return { success: true };
    } })]),
    ["X"],
    { message: base },
    recordingLogger(),
  );
  const answer = await tool.call({ text: "do it", n: 2 }, { signal: new AbortController().signal });
  assert.deepEqual(answer, { content: [{ type: "text", text: "said along the way" }], isError: false });
  assert.equal(seen.message.content.text, "do it");
  assert.deepEqual(seen.message.content.actionParams, { text: "do it", n: 2 });
  assert.deepEqual(seen.options.parameters, { text: "do it", n: 2 });
  assert.equal(seen.message.roomId, "r");
  assert.equal(seen.message.entityId, "e");
});

test("an action that fails answers isError with its reason", async () => {
  const [tool] = hostActionTools(runtime([action({ handler: async () => ({ success: false, text: "could not send", error: "SMTP down" }) })]), ["X"], {}, recordingLogger());
  assert.deepEqual(await tool.call({ text: "x" }, {}), { content: [{ type: "text", text: "could not send (SMTP down)" }], isError: true });
});

/** A service on the untagged-host-calls fixture, with RUNS runs to wait for before it calls back. */
function untaggedService(runs) {
  const fixture = fileURLToPath(new URL("./fixtures/untagged-host-calls.mjs", import.meta.url));
  const settings = { SIDEKICK_BASE_URL: "http://127.0.0.1:9/v1" };
  const runtime = { getSetting: (k) => settings[k] ?? null, logger: recordingLogger(), actions: [], plugins: [] };
  return new PythonSidekickService(runtime, { spec: async () => ({ command: process.execPath, args: [fixture], env: childEnv({ RUNS: String(runs) }) }) });
}

const roomTool = (room) => ({ name: "WHERE_AM_I", description: "which room", inputSchema: { type: "object" }, call: async () => `room ${room}` });

test("a host call that names no run is refused while two runs are in flight, never given to the newest", async () => {
  const service = untaggedService(2);
  try {
    await within(service.processSupervisor.start(), 10_000, "start");
    const [a, b] = await within(
      Promise.all([service.executeTask({ task: "A", hostTools: [roomTool("A")] }), service.executeTask({ task: "B", hostTools: [roomTool("B")] })]),
      10_000,
      "two runs",
    );
    for (const result of [a, b]) assert.match(result.text, /^error -32602: host\/callTool WHERE_AM_I: cannot tell which run this call belongs to \(2 runs in flight/);
  } finally {
    await service.stop();
  }
});

test("a host call that names no run goes to the only run in flight", async () => {
  const service = untaggedService(1);
  try {
    await within(service.processSupervisor.start(), 10_000, "start");
    const result = await within(service.executeTask({ task: "A", hostTools: [roomTool("A")] }), 10_000, "run");
    assert.equal(result.text, "room A");
  } finally {
    await service.stop();
  }
});
