// JsonRpcConnection over in-memory streams: no subprocess.
import assert from "node:assert/strict";
import { createInterface } from "node:readline";
import { PassThrough, Writable } from "node:stream";
import { test } from "node:test";
import { JsonRpcConnection, RequestCancelledError, RequestTimeoutError, RpcError, SidekickExitedError, SidekickUnavailableError } from "../dist/index.js";
import { recordingLogger, within } from "./helpers/util.js";

/** A connection plus the peer's side: `sent` collects what the connection wrote, `reply` writes to it. */
function pair(opts = {}) {
  const toConn = new PassThrough();
  const fromConn = new PassThrough();
  const logger = recordingLogger();
  const conn = new JsonRpcConnection({ input: toConn, output: fromConn, logger, ...opts });
  const sent = [];
  const waiters = [];
  createInterface({ input: fromConn }).on("line", (line) => {
    sent.push(JSON.parse(line));
    for (const w of waiters.splice(0)) w();
  });
  const nextSent = (pred = () => true, ms = 5000) =>
    within(
      new Promise((resolve) => {
        const check = () => {
          const hit = sent.find(pred);
          if (hit) resolve(hit);
          else waiters.push(check);
        };
        check();
      }),
      ms,
      "message from the connection",
    );
  const reply = (msg) => toConn.write(`${typeof msg === "string" ? msg : JSON.stringify(msg)}\n`);
  return { conn, sent, nextSent, reply, logger };
}

test("answers are matched to requests by id, in any order", async () => {
  const { conn, nextSent, reply } = pair();
  const a = conn.request("echo", { n: 1 });
  const b = conn.request("echo", { n: 2 });
  const ma = await nextSent((m) => m.params?.n === 1);
  const mb = await nextSent((m) => m.params?.n === 2);
  assert.notEqual(ma.id, mb.id);
  reply({ jsonrpc: "2.0", id: mb.id, result: "second" });
  reply({ jsonrpc: "2.0", id: ma.id, result: "first" });
  assert.equal(await a, "first");
  assert.equal(await b, "second");
  assert.equal(conn.pendingCount, 0);
});

test("onId reports the id that goes on the wire, before the request is sent", async () => {
  const { conn, nextSent, reply, sent } = pair();
  let id;
  const p = conn.request("sidekick/run", { task: "t" }, { onId: (x) => (id = x, assert.equal(sent.length, 0)) });
  const m = await nextSent((x) => x.method === "sidekick/run");
  assert.equal(m.id, id);
  reply({ jsonrpc: "2.0", id, result: "ok" });
  assert.equal(await p, "ok");
});

test("an error answer rejects with RpcError carrying code and data", async () => {
  const { conn, nextSent, reply } = pair();
  const p = conn.request("boom");
  const m = await nextSent();
  reply({ jsonrpc: "2.0", id: m.id, error: { code: -32001, message: "tool failed", data: { why: "x" } } });
  await assert.rejects(p, (e) => e instanceof RpcError && e.code === -32001 && e.message === "tool failed" && e.data.why === "x");
});

test("batches (arrays) of answers are dispatched one by one", async () => {
  const { conn, nextSent, reply } = pair();
  const a = conn.request("a");
  const b = conn.request("b");
  const ma = await nextSent((m) => m.method === "a");
  const mb = await nextSent((m) => m.method === "b");
  reply([{ jsonrpc: "2.0", id: ma.id, result: 1 }, { jsonrpc: "2.0", id: mb.id, result: 2 }]);
  assert.deepEqual(await Promise.all([a, b]), [1, 2]);
});

test("a request that times out rejects with RequestTimeoutError and tells the peer to cancel", async () => {
  const { conn, nextSent } = pair();
  const p = conn.request("slow", {}, { timeoutMs: 50 });
  const m = await nextSent((x) => x.method === "slow");
  await assert.rejects(p, (e) => e instanceof RequestTimeoutError && e.timeoutMs === 50 && /slow.*50 ms/.test(e.message));
  const cancel = await nextSent((x) => x.method === "notifications/cancelled");
  assert.equal(cancel.params.requestId, m.id);
  assert.equal(cancel.id, undefined);
  assert.equal(conn.pendingCount, 0);
});

test("aborting the signal sends notifications/cancelled and rejects with RequestCancelledError", async () => {
  const { conn, nextSent, reply, logger } = pair();
  const controller = new AbortController();
  const p = conn.request("sidekick/run", { task: "t" }, { signal: controller.signal });
  const m = await nextSent((x) => x.method === "sidekick/run");
  controller.abort(new Error("user went away"));
  await assert.rejects(p, (e) => e instanceof RequestCancelledError && /user went away/.test(e.message));
  const cancel = await nextSent((x) => x.method === "notifications/cancelled");
  assert.equal(cancel.params.requestId, m.id);
  // A late answer for the cancelled id is ignored (and noted at debug level).
  reply({ jsonrpc: "2.0", id: m.id, result: "late" });
  await logger.waitFor(new RegExp(`answer for unknown or abandoned request id ${m.id}`));
});

test("an already aborted signal rejects without sending", async () => {
  const { conn, sent } = pair();
  await assert.rejects(conn.request("x", {}, { signal: AbortSignal.abort() }), RequestCancelledError);
  assert.equal(sent.length, 0);
});

test("requests from the peer are answered; unknown methods get -32601; throws become errors", async () => {
  const { conn, nextSent, reply } = pair();
  conn.onRequest("host/callTool", async (params) => ({ content: [{ type: "text", text: `hi ${params.name}` }], isError: false }));
  conn.onRequest("fails", async () => {
    throw new Error("nope");
  });
  conn.onRequest("fails-rpc", async () => {
    throw new RpcError(-32602, "bad params");
  });
  reply({ jsonrpc: "2.0", id: "s-1", method: "host/callTool", params: { name: "X", arguments: {} } });
  reply({ jsonrpc: "2.0", id: "s-2", method: "nope/nothing" });
  reply({ jsonrpc: "2.0", id: "s-3", method: "fails" });
  reply({ jsonrpc: "2.0", id: "s-4", method: "fails-rpc" });
  assert.deepEqual((await nextSent((m) => m.id === "s-1")).result, { content: [{ type: "text", text: "hi X" }], isError: false });
  assert.equal((await nextSent((m) => m.id === "s-2")).error.code, -32601);
  assert.deepEqual((await nextSent((m) => m.id === "s-3")).error, { code: -32603, message: "nope" });
  assert.equal((await nextSent((m) => m.id === "s-4")).error.code, -32602);
});

test("a request from the peer that the peer cancels is aborted and not answered", async () => {
  const { conn, sent, reply, nextSent } = pair();
  let seenSignal;
  const started = new Promise((resolve) => {
    conn.onRequest("host/callTool", (_params, { signal }) => {
      seenSignal = signal;
      resolve();
      return new Promise((r) => signal.addEventListener("abort", () => r("too late")));
    });
  });
  reply({ jsonrpc: "2.0", id: "s-9", method: "host/callTool", params: { name: "slow" } });
  await within(started, 5000, "handler start");
  reply({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "s-9", reason: "run cancelled" } });
  await within(new Promise((r) => (seenSignal.aborted ? r() : seenSignal.addEventListener("abort", r))), 5000, "abort");
  // A following exchange proves the loop is alive and that nothing was sent for s-9.
  const p = conn.request("ping");
  const m = await nextSent((x) => x.method === "ping");
  reply({ jsonrpc: "2.0", id: m.id, result: {} });
  await p;
  assert.equal(sent.filter((x) => x.id === "s-9").length, 0);
});

test("garbage lines are logged and skipped; the connection keeps working", async () => {
  const { conn, nextSent, reply, logger } = pair();
  reply("this is not json");
  reply("[1, 2]");
  reply('"a string"');
  const p = conn.request("ping");
  const m = await nextSent((x) => x.method === "ping");
  reply({ jsonrpc: "2.0", id: m.id, result: {} });
  assert.deepEqual(await p, {});
  await logger.waitFor(/non-JSON line on stdout: this is not json/);
  await logger.waitFor(/not an object/);
});

test("notifications reach their handler", async () => {
  const { conn, reply } = pair();
  const got = new Promise((resolve) => conn.onNotification("notifications/progress", resolve));
  reply({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "t", progress: 1, message: "step" } });
  assert.deepEqual(await within(got, 5000, "notification"), { progressToken: "t", progress: 1, message: "step" });
});

test("close() rejects every pending request with the one error and refuses new ones", async () => {
  const { conn } = pair();
  const ps = [conn.request("a"), conn.request("b", {}, { timeoutMs: 60_000 })];
  const error = new SidekickExitedError(1, null);
  conn.close(error);
  for (const p of ps) await assert.rejects(p, (e) => e === error);
  assert.equal(conn.pendingCount, 0);
  await assert.rejects(conn.request("c"), (e) => e === error);
});

test("backpressure: while the peer does not read, messages wait for 'drain' in order, and past the limit requests are refused", async () => {
  const written = [];
  const held = [];
  // A peer that reads nothing until told to: every write stays pending.
  const output = new Writable({
    highWaterMark: 64,
    write(chunk, _enc, done) {
      written.push(...String(chunk).trim().split("\n").map((l) => JSON.parse(l)));
      held.push(done);
    },
  });
  const logger = recordingLogger();
  const conn = new JsonRpcConnection({ input: new PassThrough(), output, logger, maxQueuedBytes: 2000 });
  const big = "x".repeat(300);
  const accepted = [];
  let refused;
  for (let i = 0; i < 20 && !refused; i++) {
    accepted.push(conn.request("echo", { i, big }, { timeoutMs: 60_000 }).catch((e) => e));
    const last = await Promise.race([accepted.at(-1), new Promise((r) => setImmediate(() => r(null)))]);
    if (last instanceof Error) refused = last;
  }
  assert.ok(refused instanceof SidekickUnavailableError, "a request past the queue limit is refused");
  assert.match(refused.message, /not reading its input/);
  assert.equal(written.length, 1, "nothing more reached the stream before 'drain'");

  // The peer reads again: what was queued goes out, in order.
  while (held.length) {
    held.shift()();
    await new Promise((r) => setImmediate(r));
  }
  const ids = written.map((m) => m.params.i);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.equal(written.length, accepted.length - 1);
  conn.close(new Error("done"));
});

test("a line longer than maxLineBytes is dropped as it arrives and reported; the next line is read", async () => {
  const { conn, nextSent, reply, logger } = pair({ maxLineBytes: 1024 });
  const first = conn.request("echo", {}, { timeoutMs: 60_000 });
  const second = conn.request("echo", {});
  const [a, b] = [await nextSent((m) => m.id === 1), await nextSent((m) => m.id === 2)];
  // A valid answer, but too long: it must not be taken.
  reply({ jsonrpc: "2.0", id: a.id, result: "y".repeat(5000) });
  reply({ jsonrpc: "2.0", id: b.id, result: "short" });
  assert.equal(await second, "short");
  await logger.waitFor(/dropped a 50\d\d-byte line on stdout \(the limit is 1024\)/);
  assert.equal(conn.pendingCount, 1, "the oversized answer did not settle its request");
  conn.close(new Error("done"));
  await assert.rejects(first, /done/);
});
