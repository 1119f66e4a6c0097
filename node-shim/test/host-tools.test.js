// Host actions as tools: schemas, the synthetic message, and answers (no subprocess).
import assert from "node:assert/strict";
import { test } from "node:test";
import { actionInputSchema, hostActionTools } from "../dist/host-tools.js";
import { recordingLogger } from "./helpers/util.js";

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
