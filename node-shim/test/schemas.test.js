// The wire protocol against ../schemas/*.json (generated from the sidekick's pydantic models): real
// messages exchanged by the plugin's own service and rpc layer with a real Python sidekick are
// captured line by line and validated with Ajv (draft 2020-12). A failure names the message, the
// field and what the schema says: that is a disagreement between the TS and the Python side.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import { JsonRpcConnection, RequestCancelledError } from "../dist/index.js";
import { startTestService, stopTestService } from "./helpers/service.js";
import { SKIP_PYTHON, within } from "./helpers/util.js";

const SCHEMA_DIR = fileURLToPath(new URL("../../schemas/", import.meta.url));
const SRC_DIR = fileURLToPath(new URL("../src/", import.meta.url));

/** method → { file, doc } for every schema file. */
function loadSchemas() {
  const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith(".json")).sort();
  const byMethod = new Map();
  for (const file of files) {
    const doc = JSON.parse(readFileSync(SCHEMA_DIR + file, "utf8"));
    byMethod.set(doc.title, { file, doc });
  }
  return byMethod;
}

const schemas = loadSchemas();
const ajv = new Ajv2020({ strict: false, allErrors: true });
/** `${method} ${part}` → compiled validator (part: "params" | "result"). */
const validators = new Map();
function validator(method, part) {
  const key = `${method} ${part}`;
  if (!validators.has(key)) {
    const entry = schemas.get(method);
    assert.ok(entry, `no schema file for method ${method}`);
    const schema = entry.doc[part];
    assert.ok(schema && typeof schema === "object", `${entry.file} has no '${part}' schema`);
    validators.set(key, ajv.compile(schema));
  }
  return validators.get(key);
}

/** Describes each Ajv error with the offending value and the schema's rule at that place. */
function describeErrors(errors, data, schema) {
  return errors
    .map((e) => {
      const value = e.instancePath
        .split("/")
        .slice(1)
        .reduce((v, k) => (v == null ? v : v[k.replace(/~1/g, "/").replace(/~0/g, "~")]), data);
      const rule = e.schemaPath
        .replace(/^#\//, "")
        .split("/")
        .reduce((s, k) => (s == null ? s : s[k.replace(/~1/g, "/").replace(/~0/g, "~")]), schema);
      return `  at '${e.instancePath || "/"}' ${e.message} ${JSON.stringify(e.params)}; value: ${JSON.stringify(value)}; schema ${e.schemaPath}: ${JSON.stringify(rule)}`;
    })
    .join("\n");
}

/** Asserts `data` matches `method`'s `part` schema; `what` names the message in the failure. */
function assertValid(method, part, data, what) {
  const validate = validator(method, part);
  if (validate(data)) return;
  const { file, doc } = schemas.get(method);
  assert.fail(
    `${what} does not match ${file} '${part}' (${doc[part].title}):\n${describeErrors(validate.errors, data, doc[part])}\nmessage ${part}: ${JSON.stringify(data)}`,
  );
}

test("every schema file has title/kind/sentBy and its params/result compile (draft 2020-12)", () => {
  assert.ok(schemas.size >= 10, `only ${schemas.size} schema files in ${SCHEMA_DIR}`);
  for (const [method, { file, doc }] of schemas) {
    assert.equal(file, `${method.replaceAll("/", ".")}.json`);
    assert.equal(doc.$schema, "https://json-schema.org/draft/2020-12/schema", file);
    assert.ok(["request", "notification"].includes(doc.kind), `${file}: kind ${doc.kind}`);
    assert.ok(["host", "sidekick", "both"].includes(doc.sentBy), `${file}: sentBy ${doc.sentBy}`);
    assert.equal(typeof doc.params, "object", `${file}: params`);
    assert.doesNotThrow(() => validator(method, "params"), `${file}: params compiles`);
    if (doc.kind === "request") {
      assert.equal(typeof doc.result, "object", `${file}: a request has a result schema`);
      assert.doesNotThrow(() => validator(method, "result"), `${file}: result compiles`);
    } else {
      assert.equal(doc.result, undefined, `${file}: a notification has no result`);
    }
  }
});

// --- TypeScript types versus the schemas (by reading src/, no compiler API) -------------------------

/** The top-level member names of `interface name { … }` in a TS source (nested braces skipped). */
function interfaceFields(source, name) {
  const start = source.search(new RegExp(`interface ${name}\\b[^{]*\\{`));
  assert.ok(start >= 0, `interface ${name} not found`);
  let i = source.indexOf("{", start) + 1;
  let depth = 1;
  let top = "";
  for (; depth > 0 && i < source.length; i++) {
    const c = source[i];
    if (c === "{") depth++;
    else if (c === "}") depth--;
    if (depth === 1 && c !== "}") top += c;
    else if (depth === 1 && c === "}") top += "\n";
  }
  const fields = new Map();
  for (const line of top.split("\n")) {
    const m = /^\s*([A-Za-z_$][\w$]*)(\?)?\s*:/.exec(line);
    if (m) fields.set(m[1], { optional: Boolean(m[2]) });
  }
  return fields;
}

test("the TS RunResult/RunStep/RunError/ToolCallResult/HostToolResult types cover the schemas' required fields", () => {
  const service = readFileSync(SRC_DIR + "types.ts", "utf8");
  const hostTools = readFileSync(SRC_DIR + "host-tools.ts", "utf8");
  const run = schemas.get("sidekick/run").doc.result;
  const cases = [
    ["RunResult", service, run, "sidekick.run.json result"],
    ["RunStep", service, run.$defs.Step, "sidekick.run.json result $defs.Step"],
    ["RunError", service, run.$defs.RunError, "sidekick.run.json result $defs.RunError"],
    ["ToolCallResult", service, schemas.get("tools/call").doc.result, "tools.call.json result"],
    ["HostToolResult", hostTools, schemas.get("host/callTool").doc.result, "host.callTool.json result"],
  ];
  for (const [iface, source, schema, where] of cases) {
    const fields = interfaceFields(source, iface);
    for (const name of schema.required ?? []) {
      assert.ok(fields.has(name), `${where} requires '${name}', but the TS interface ${iface} has no such field`);
      assert.equal(fields.get(name).optional, false, `${where} requires '${name}', but ${iface}.${name} is optional in TS`);
    }
    // The other way round: TS must not type a field the schema does not know.
    for (const name of fields.keys()) {
      assert.ok(name in schema.properties, `TS ${iface}.${name} is not a property in ${where}`);
    }
  }
  // The usage object: TS reads these three counters.
  assert.deepEqual(Object.keys(run.$defs.Usage.properties).sort(), ["completionTokens", "promptTokens", "totalTokens"]);
  assert.match(service, /usage: \{ promptTokens: number; completionTokens: number; totalTokens: number \}/);
  // stopReason: the TS union is exactly the schema's enum.
  const union = /stopReason:\s*([^;]+);/.exec(service)[1].match(/"([^"]+)"/g).map((s) => s.slice(1, -1));
  assert.deepEqual(union.sort(), [...run.properties.stopReason.enum].sort());
});

// --- Real messages with a real sidekick ---------------------------------------------------------------

/** Every line on the wire, in order: { dir: "out" (host → sidekick) | "in", raw, msg }. */
const wire = [];
let unpatch = () => {};

/** Taps the package's rpc layer: the exact text `send` writes and each line `onLine` reads. */
function tapWire() {
  const proto = JsonRpcConnection.prototype;
  const { send, onLine } = proto;
  assert.equal(typeof send, "function", "JsonRpcConnection.prototype.send");
  assert.equal(typeof onLine, "function", "JsonRpcConnection.prototype.onLine");
  proto.send = function (message) {
    const raw = JSON.stringify(message);
    wire.push({ dir: "out", raw, msg: JSON.parse(raw) });
    return send.call(this, message);
  };
  proto.onLine = function (line) {
    if (line.trim()) {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        msg = undefined;
      }
      wire.push({ dir: "in", raw: line, msg });
    }
    return onLine.call(this, line);
  };
  return () => {
    proto.send = send;
    proto.onLine = onLine;
  };
}

const other = (dir) => (dir === "out" ? "in" : "out");
const isRequest = (m) => typeof m?.method === "string" && m.id !== undefined && m.id !== null;
const isNotification = (m) => typeof m?.method === "string" && (m.id === undefined || m.id === null);

/** Messages of `method` sent in direction `dir`, from index `from` of the wire on. */
function sent(dir, method, from = 0) {
  return wire.slice(from).filter((e) => e.dir === dir && e.msg?.method === method);
}

/** The answer to the request `entry` (it travels the other way, with the same id). */
function answerTo(entry) {
  const hit = wire.find((e) => e.dir === other(entry.dir) && e.msg && e.msg.method === undefined && e.msg.id === entry.msg.id && wire.indexOf(e) > wire.indexOf(entry));
  assert.ok(hit, `no answer to ${entry.msg.method} id ${entry.msg.id} on the wire`);
  assert.equal(hit.msg.error, undefined, `${entry.msg.method} id ${entry.msg.id} was answered with an error: ${JSON.stringify(hit.msg.error)}`);
  return hit;
}

/** JSON-RPC lets a request or notification leave params out; the schemas describe the object. */
const paramsOf = (msg) => (msg.params === undefined ? {} : msg.params);
const who = (dir) => (dir === "out" ? "host → sidekick" : "sidekick → host");

/**
 * Members the host sends that the schema does not name, where the schema leaves
 * `additionalProperties` unset: pydantic's extra="ignore" drops them silently, so a typo on the TS
 * side would pass validation and yet never reach Python. Paths of such members.
 */
function ignoredMembers(data, schema, root, path = "") {
  if (!schema || typeof schema !== "object" || data === null || typeof data !== "object") return [];
  if (schema.$ref) {
    const target = schema.$ref.replace(/^#\//, "").split("/").reduce((s, k) => s?.[k], root);
    return ignoredMembers(data, target, root, path);
  }
  if (schema.anyOf) {
    const branch = schema.anyOf.find((b) => ajv.validate({ ...b, $defs: root.$defs }, data));
    return branch ? ignoredMembers(data, branch, root, path) : [];
  }
  if (Array.isArray(data)) return schema.items ? data.flatMap((item, i) => ignoredMembers(item, schema.items, root, `${path}/${i}`)) : [];
  const out = [];
  const properties = schema.properties ?? {};
  for (const [key, value] of Object.entries(data)) {
    if (key in properties) out.push(...ignoredMembers(value, properties[key], root, `${path}/${key}`));
    else if (schema.properties && schema.additionalProperties === undefined) out.push(`${path}/${key}`);
  }
  return out;
}

function assertParams(entry, what = `${entry.msg.method} params (${who(entry.dir)})`) {
  const params = paramsOf(entry.msg);
  assertValid(entry.msg.method, "params", params, what);
  if (entry.dir === "out") {
    const schema = schemas.get(entry.msg.method).doc.params;
    assert.deepEqual(ignoredMembers(params, schema, schema), [], `${what}: members the schema does not name (Python ignores them): ${JSON.stringify(params)}`);
  }
}

function assertResult(entry, what = `${entry.msg.method} result (${who(other(entry.dir))})`) {
  const answer = answerTo(entry);
  assertValid(entry.msg.method, "result", answer.msg.result, what);
  return answer.msg.result;
}

let openai;
let service;
let started;

before(async () => {
  if (SKIP_PYTHON) return;
  unpatch = tapWire();
  started = await startTestService({ SIDEKICK_MAX_STEPS: "6" });
  ({ service, openai } = started);
});

after(async () => {
  if (SKIP_PYTHON) return;
  await stopTestService(started);
  unpatch();
});

test("wire: initialize params (the plugin's handshake) and result; notifications/initialized", { skip: SKIP_PYTHON }, () => {
  const [init] = sent("out", "initialize");
  assert.ok(init, "the plugin sent initialize");
  assertParams(init, "initialize params as the plugin's service sends them");
  const result = assertResult(init, "initialize result from the sidekick");
  assert.equal(result.serverInfo.name, "eliza-sidekick");
  const [initialized] = sent("out", "notifications/initialized");
  assert.ok(initialized, "the plugin sent notifications/initialized");
  assertParams(initialized);
});

test("wire: ping result; tools/list result; tools/call params and result (calculate)", { skip: SKIP_PYTHON }, async () => {
  const from = wire.length;
  const proc = await service.processSupervisor.ready();
  await within(proc.connection.request("ping"), 10_000, "ping");
  const tools = await within(service.listTools(), 10_000, "tools/list");
  assert.ok(tools.some((t) => t.name === "calculate"));
  const ok = await within(service.callTool("calculate", { expression: "2**10" }), 10_000, "tools/call");
  assert.equal(ok.content[0].text, "1024");
  const bad = await within(service.callTool("calculate", { expression: "1/0" }), 10_000, "tools/call");
  assert.equal(bad.isError, true);

  const [ping] = sent("out", "ping", from);
  assertParams(ping);
  assertResult(ping);
  const [list] = sent("out", "tools/list", from);
  assertParams(list, "tools/list params as the plugin's listTools sends them");
  assertResult(list);
  const calls = sent("out", "tools/call", from);
  assert.equal(calls.length, 2);
  for (const call of calls) {
    assertParams(call, `tools/call params as the plugin's callTool sends them (${JSON.stringify(call.msg.params)})`);
    assertResult(call, `tools/call result for ${JSON.stringify(call.msg.params.arguments)}`);
  }
});

test("wire: sidekick/run with a host tool then calculate — run params as executeTask builds them, host/callTool both ways, progress, result", { skip: SKIP_PYTHON }, async () => {
  const from = wire.length;
  openai.setScript([
    { toolCalls: [{ name: "lookup_price", arguments: { item: "widget" } }] },
    { toolCalls: [{ name: "calculate", arguments: { expression: "42 * 3" } }] },
    (body) => ({ text: `Three widgets: ${body.messages.filter((m) => m.role === "tool").at(-1).content} EUR` }),
  ]);
  const progress = [];
  const hostCalls = [];
  const result = await within(
    service.executeTask({
      task: "What do three widgets cost?",
      context: { who: "schemas test", nested: { n: 1 } },
      system: "You are terse.",
      messages: [
        { role: "user", content: "hello" },
        { role: "assistant", content: "Hi, what do you need?" },
      ],
      tools: ["calculate"],
      maxSteps: 5,
      timeoutMs: 20_000,
      tokenBudget: 100_000,
      hostTools: [
        {
          name: "lookup_price",
          description: "Looks up the price of an item",
          inputSchema: { type: "object", properties: { item: { type: "string" } }, required: ["item"] },
          call: async (args) => {
            hostCalls.push(args);
            return `42`;
          },
        },
      ],
      onProgress: (p) => progress.push(p),
    }),
    30_000,
    "sidekick/run",
  );
  assert.equal(result.stopReason, "done", JSON.stringify(result.error));
  assert.equal(result.text, "Three widgets: 126 EUR");
  assert.deepEqual(hostCalls, [{ item: "widget" }]);
  assert.deepEqual(result.toolsUsed, ["lookup_price", "calculate"]);

  const runs = sent("out", "sidekick/run", from);
  assert.equal(runs.length, 1);
  const [run] = runs;
  // What executeTask put on the wire (so the test notices if it stops sending something).
  for (const key of ["task", "context", "timeoutMs", "hostTools", "tools", "messages", "system", "model", "maxSteps", "tokenBudget", "_meta"]) {
    assert.ok(key in run.msg.params, `executeTask sent no '${key}'`);
  }
  assertParams(run, "sidekick/run params as the plugin's executeTask builds them");
  assertResult(run, "sidekick/run result");

  const hostRequests = sent("in", "host/callTool", from);
  assert.equal(hostRequests.length, 1);
  const [hostRequest] = hostRequests;
  assertParams(hostRequest, "host/callTool params sent by the sidekick");
  assert.equal(hostRequest.msg.params._meta?.relatedRequestId, run.msg.id, "host/callTool names its run in _meta.relatedRequestId");
  const hostAnswer = assertResult(hostRequest, "host/callTool result as the plugin builds it (callHostTool → HostToolResult)");
  assert.deepEqual(hostAnswer, { content: [{ type: "text", text: "42" }], isError: false });

  const progressNotes = sent("in", "notifications/progress", from);
  assert.ok(progressNotes.length >= 1, "the run sent progress");
  assert.ok(progress.length >= 1, "onProgress was called");
  for (const note of progressNotes) {
    assertParams(note, `notifications/progress params ${JSON.stringify(note.msg.params)}`);
    assert.equal(note.msg.params.progressToken, run.msg.params._meta.progressToken);
  }
});

test("wire: a host tool that throws — the plugin's isError answer matches HostCallToolResult", { skip: SKIP_PYTHON }, async () => {
  const from = wire.length;
  openai.setScript([
    { toolCalls: [{ name: "flaky", arguments: {} }] },
    (body) => ({ text: `got: ${body.messages.find((m) => m.role === "tool").content}` }),
  ]);
  const result = await within(
    service.executeTask({
      task: "try flaky",
      hostTools: [{ name: "flaky", description: "Always fails", inputSchema: { type: "object", properties: {} }, call: async () => { throw new Error("boom"); } }],
    }),
    30_000,
    "sidekick/run",
  );
  assert.equal(result.stopReason, "done");
  const [run] = sent("out", "sidekick/run", from);
  assertParams(run, "sidekick/run params as executeTask builds them (defaults only)");
  assertResult(run);
  const [hostRequest] = sent("in", "host/callTool", from);
  assertParams(hostRequest);
  const answer = assertResult(hostRequest, "host/callTool isError result as the plugin builds it");
  assert.equal(answer.isError, true);
});

test("wire: notifications/cancelled params the plugin sends on abort", { skip: SKIP_PYTHON }, async () => {
  const from = wire.length;
  openai.setScript([{ delayMs: 30_000, text: "too late" }, { text: "after the cancel" }]);
  const controller = new AbortController();
  const before = openai.requests.length;
  const run = service.executeTask({ task: "slow one", signal: controller.signal });
  await openai.waitForRequests(before + 1);
  controller.abort(new Error("user left"));
  await assert.rejects(run, (e) => e instanceof RequestCancelledError);
  const next = await within(service.executeTask({ task: "quick one" }), 20_000, "next run");
  assert.equal(next.text, "after the cancel");

  const [runRequest] = sent("out", "sidekick/run", from);
  assertParams(runRequest);
  const cancels = sent("out", "notifications/cancelled", from);
  assert.equal(cancels.length, 1);
  assertParams(cancels[0], "notifications/cancelled params as the plugin's rpc layer sends them on abort");
  assert.equal(cancels[0].msg.params.requestId, runRequest.msg.id);
});

test("wire: every message seen matches its method's schema (params of requests and notifications, results of answers)", { skip: SKIP_PYTHON }, () => {
  assert.ok(wire.length > 10, `only ${wire.length} lines captured`);
  const unparsable = wire.filter((e) => e.msg === undefined);
  assert.deepEqual(unparsable.map((e) => e.raw), [], "non-JSON lines on the wire");
  const seen = new Set();
  for (const entry of wire) {
    const { msg, dir } = entry;
    if (isRequest(msg) || isNotification(msg)) {
      assert.ok(schemas.has(msg.method), `${who(dir)} sent ${msg.method}, which has no schema file`);
      const { doc } = schemas.get(msg.method);
      assert.ok(doc.sentBy === "both" || doc.sentBy === (dir === "out" ? "host" : "sidekick"), `${msg.method} sent ${who(dir)}, schema says sentBy ${doc.sentBy}`);
      assert.equal(doc.kind, isRequest(msg) ? "request" : "notification", `${msg.method} kind`);
      assertParams(entry);
      seen.add(msg.method);
    } else if (msg && !msg.error) {
      const request = wire.find((e) => e.dir === other(dir) && isRequest(e.msg) && e.msg.id === msg.id);
      if (!request) continue; // e.g. the answer the sidekick never sends for a cancelled run
      assertValid(request.msg.method, "result", msg.result, `${request.msg.method} result (${who(dir)}, id ${msg.id})`);
    }
  }
  for (const method of ["initialize", "notifications/initialized", "ping", "tools/list", "tools/call", "sidekick/run", "host/callTool", "notifications/progress", "notifications/cancelled"]) {
    assert.ok(seen.has(method), `no ${method} on the wire`);
  }
});
