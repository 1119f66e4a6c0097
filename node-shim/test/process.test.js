// SidekickProcess against misbehaving children (small node fixtures).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { childEnv, SidekickExitedError, SidekickProcess } from "../dist/index.js";
import { alive, onceWithin, recordingLogger, until, within } from "./helpers/util.js";

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const start = (name, env = {}, logger = recordingLogger()) =>
  new SidekickProcess({ command: process.execPath, args: [fixture(name)], env: childEnv(env) }, logger);

test("only allow-listed variables and the sidekick's settings reach the child", async () => {
  const source = { PATH: process.env.PATH, HOME: "/home/x", LC_ALL: "C.UTF-8", AWS_SECRET_ACCESS_KEY: "s3cr3t", OPENAI_API_KEY: "sk-agent", EXTRA_ONE: "1" };
  const env = childEnv({ SIDEKICK_MODEL: "m", SIDEKICK_API_KEY: "k", SIDEKICK_BASE_URL: undefined }, ["EXTRA_ONE"], source);
  const proc = new SidekickProcess({ command: process.execPath, args: [fixture("lib-serve.mjs")], env }, recordingLogger());
  try {
    const { env: seen } = await proc.connection.request("env");
    assert.equal(seen.SIDEKICK_MODEL, "m");
    assert.equal(seen.SIDEKICK_API_KEY, "k");
    assert.equal(seen.HOME, "/home/x");
    assert.equal(seen.LC_ALL, "C.UTF-8");
    assert.equal(seen.EXTRA_ONE, "1");
    assert.equal(seen.PYTHONUNBUFFERED, "1");
    assert.equal(seen.AWS_SECRET_ACCESS_KEY, undefined);
    assert.equal(seen.OPENAI_API_KEY, undefined);
    assert.equal("SIDEKICK_BASE_URL" in seen, false);
  } finally {
    await proc.stop();
  }
});

test("a child that crashes rejects every pending request with one error naming the exit code", async () => {
  const logger = recordingLogger();
  const proc = start("crash.mjs", {}, logger);
  await proc.connection.request("initialize", {});
  const pending = [proc.connection.request("never"), proc.connection.request("never", {}, { timeoutMs: 60_000 })];
  proc.connection.request("crash").catch(() => {});
  const errors = await Promise.all(pending.map((p) => p.then(() => assert.fail("resolved"), (e) => e)));
  assert.ok(errors[0] instanceof SidekickExitedError);
  assert.equal(errors[0], errors[1]);
  assert.equal(errors[0].exitCode, 3);
  assert.match(errors[0].message, /exited with code 3.*boom/);
  assert.equal(proc.connection.pendingCount, 0);
  await logger.waitFor(/\[sidekick\] Traceback.*boom/);
  assert.equal(logger.lines.find((l) => /boom/.test(l.text)).level, "error");
});

test("a child killed by a signal says which signal", async () => {
  const proc = start("lib-serve.mjs");
  await proc.connection.request("ping");
  const pending = proc.connection.request("never");
  process.kill(proc.pid, "SIGKILL");
  await assert.rejects(pending, (e) => e instanceof SidekickExitedError && e.signal === "SIGKILL" && /killed by SIGKILL/.test(e.message));
});

test("a command that does not exist fails with a clear error", async () => {
  const proc = new SidekickProcess({ command: "/nonexistent/sidekick", args: ["--stdio"], env: childEnv({}) }, recordingLogger());
  const info = await within(proc.exited, 5000, "exit");
  assert.ok(info.spawnError);
  assert.match(info.error.message, /^Python sidekick failed to start: could not start '\/nonexistent\/sidekick'.*ENOENT/);
  await assert.rejects(proc.connection.request("ping"), SidekickExitedError);
});

test("stop: a child that exits on EOF is done without signals", async () => {
  const proc = start("lib-serve.mjs");
  await proc.connection.request("ping");
  const info = await within(proc.stop({ graceMs: 5000 }), 8000, "stop");
  assert.equal(info.code, 0);
  assert.equal(info.signal, null);
});

test("stop: a child that hangs on EOF gets SIGTERM", async () => {
  const logger = recordingLogger();
  const proc = start("hang-on-eof.mjs", {}, logger);
  await proc.connection.request("ping");
  const info = await within(proc.stop({ graceMs: 200, termMs: 5000 }), 8000, "stop");
  assert.equal(info.signal, "SIGTERM");
  await logger.waitFor(/sending SIGTERM/);
  assert.equal(alive(proc.pid), false);
});

test("stop: a child that also ignores SIGTERM gets SIGKILL", async () => {
  const logger = recordingLogger();
  const proc = start("hang-on-eof.mjs", { IGNORE_SIGTERM: "1" }, logger);
  await proc.connection.request("ping");
  const info = await within(proc.stop({ graceMs: 200, termMs: 300 }), 8000, "stop");
  assert.equal(info.signal, "SIGKILL");
  await logger.waitFor(/ignoring SIGTERM/);
  await logger.waitFor(/sending SIGKILL/);
});

test("a child that floods stderr does not hang; its lines reach the logger, rate-limited", async () => {
  const logger = recordingLogger();
  const proc = start("flood-stderr.mjs", { FLOOD_LINES: "50000" }, logger);
  try {
    assert.deepEqual(await within(proc.connection.request("ping", {}, { timeoutMs: 30_000 }), 30_000, "ping after flood"), {});
    await logger.waitFor(/\[sidekick\] INFO flood line 0 /);
    const logged = logger.lines.filter((l) => /flood line/.test(l.text)).length;
    assert.ok(logged < 50_000, `logged ${logged} lines`);
    await logger.waitFor(/\d+ stderr lines suppressed/, 5000);
  } finally {
    await proc.stop();
  }
});

test("garbage on stdout is logged and skipped; requests still work", async () => {
  const logger = recordingLogger();
  const proc = start("garbage-stdout.mjs", {}, logger);
  try {
    assert.deepEqual(await proc.connection.request("ping"), {});
    assert.deepEqual(await proc.connection.request("echo", { a: 1 }), { a: 1 });
    await logger.waitFor(/non-JSON line on stdout: Hello from a stray print/);
    await logger.waitFor(/non-JSON line on stdout: noise before the answer/);
  } finally {
    await proc.stop();
  }
});

/** Runs test/fixtures/parent.mjs and returns [parent, childPid]. */
async function parentWithChild(env) {
  const parent = spawn(process.execPath, [fixture("parent.mjs")], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const [line] = await within(
    new Promise((resolve) => createInterface({ input: parent.stdout }).once("line", (l) => resolve([l]))),
    10_000,
    "parent start",
  );
  return [parent, Number(line)];
}

test("the child dies with the parent: process.exit() in the parent", async () => {
  const [, childPid] = await parentWithChild({ MODE: "exit", IGNORE_SIGTERM: "1" });
  assert.ok(childPid > 0);
  await until(() => !alive(childPid), 10_000, "child gone after parent exit");
});

test("the child dies with the parent: parent SIGKILLed (the child sees stdin EOF)", async () => {
  const [parent, childPid] = await parentWithChild({ MODE: "wait", CHILD: "./lib-serve.mjs" });
  parent.kill("SIGKILL");
  await until(() => !alive(childPid), 10_000, "child gone after parent kill");
});

test("an idle child does not keep the parent alive, and still dies with it", async () => {
  const [parent, childPid] = await parentWithChild({ MODE: "idle", IGNORE_SIGTERM: "1" });
  const [code] = await onceWithin(parent, "exit", 10_000);
  assert.equal(code, 0);
  await until(() => !alive(childPid), 10_000, "child gone after the parent ended");
});

test("an awaited stop that must escalate to SIGKILL finishes before the parent goes on (the child, not a timer, holds it)", async () => {
  const parent = spawn(process.execPath, [fixture("parent.mjs")], { env: { ...process.env, MODE: "stop", IGNORE_SIGTERM: "1" }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  parent.stdout.on("data", (d) => (out += d));
  const [code] = await onceWithin(parent, "exit", 20_000);
  // Before: once SIGKILL was sent nothing held the event loop, and the top-level await was cut off (exit 13).
  assert.equal(code, 0);
  const [pid, stopped] = out.trim().split("\n");
  assert.equal(stopped, "stopped SIGKILL");
  assert.equal(alive(Number(pid)), false);
});
