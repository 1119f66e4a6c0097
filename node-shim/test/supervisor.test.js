// Supervisor: restarts with exponential backoff, reset after a healthy period, giving up on a crash loop.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  backoffDelay,
  childEnv,
  DEFAULT_BACKOFF,
  PythonNotFoundError,
  SidekickExitedError,
  SidekickUnavailableError,
  Supervisor,
} from "../dist/index.js";
import { alive, onceWithin, recordingLogger, within } from "./helpers/util.js";

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

function supervisor(name, env = {}, backoff = {}) {
  const logger = recordingLogger();
  const sup = new Supervisor({
    spec: async () => ({ command: process.execPath, args: [fixture(name)], env: childEnv(env) }),
    handshake: (proc) => proc.connection.request("initialize", { protocolVersion: "2025-06-18" }, { timeoutMs: 5000 }),
    logger,
    backoff,
  });
  const delays = [];
  sup.on("restartScheduled", ({ delayMs }) => delays.push(delayMs));
  return { sup, logger, delays };
}

test("backoffDelay grows exponentially and is capped", () => {
  const policy = { ...DEFAULT_BACKOFF, initialDelayMs: 100, factor: 2, maxDelayMs: 1000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n)), [100, 200, 400, 800, 1000, 1000]);
});

test("a crash loop restarts with growing, capped delays, then gives up with a clear error", async () => {
  const { sup, delays, logger } = supervisor("crash.mjs", { CRASH_ON_START: "1", CRASH_CODE: "7" }, {
    initialDelayMs: 20, factor: 2, maxDelayMs: 100, maxConsecutiveFailures: 5, healthyAfterMs: 60_000,
  });
  const gaveUp = onceWithin(sup, "gaveUp", 20_000);
  await assert.rejects(sup.start(), (e) => e instanceof SidekickUnavailableError && /crashed 6 times in a row, giving up/.test(e.message) && /code 7/.test(e.message));
  const [error] = await gaveUp;
  assert.match(error.message, /exited with code 7/);
  assert.deepEqual(delays, [20, 40, 80, 100, 100]);
  const status = sup.status();
  assert.equal(status.state, "failed");
  assert.equal(status.restarts, 5);
  assert.match(status.lastError, /giving up/);
  await assert.rejects(sup.ready(), /giving up/);
  await logger.waitFor(/restarting in 80 ms \(attempt 3 of 5\)/);
  await sup.stop();
});

test("the failure count resets after a healthy period", async () => {
  const { sup, delays } = supervisor("crash.mjs", { CRASH_AFTER_MS: "150" }, {
    initialDelayMs: 10, factor: 3, maxDelayMs: 1000, maxConsecutiveFailures: 2, healthyAfterMs: 100,
  });
  await sup.start();
  // Four crashes, each after a healthy 150 ms: never more than one failure in a row, never giving up.
  for (let i = 0; i < 4; i++) await onceWithin(sup, "ready", 10_000);
  assert.deepEqual(delays.slice(0, 4), [10, 10, 10, 10]);
  assert.equal(sup.status().consecutiveFailures, 1);
  assert.notEqual(sup.status().state, "failed");
  await sup.stop();
  assert.equal(sup.status().state, "stopped");
});

test("a killed child is restarted; pending requests fail with the exit error; the next one succeeds", async () => {
  const { sup } = supervisor("lib-serve.mjs", {}, { initialDelayMs: 10 });
  const first = await sup.start();
  const pending = first.connection.request("never");
  const readyAgain = onceWithin(sup, "ready", 10_000);
  process.kill(first.pid, "SIGKILL");
  await assert.rejects(pending, (e) => e instanceof SidekickExitedError && e.signal === "SIGKILL");
  const next = await sup.ready(10_000);
  const [again] = await readyAgain;
  assert.equal(next, again);
  assert.notEqual(next.pid, first.pid);
  assert.deepEqual(await next.connection.request("ping"), {});
  assert.equal(sup.status().restarts, 1);
  assert.match(sup.status().lastError, /killed by SIGKILL/);
  await sup.stop();
  assert.equal(alive(next.pid), false);
});

test("stop during a restart delay spawns nothing more and rejects waiters", async () => {
  const { sup } = supervisor("lib-serve.mjs", {}, { initialDelayMs: 5000 });
  const first = await sup.start();
  const scheduled = onceWithin(sup, "restartScheduled", 5000);
  process.kill(first.pid, "SIGKILL");
  await scheduled;
  const waiter = sup.ready();
  await within(sup.stop(), 5000, "stop");
  await assert.rejects(waiter, /stopped/);
  assert.equal(sup.process, first);
  assert.equal(sup.status().state, "stopped");
});

test("a failing command resolution (no Python) fails at once without restarts", async () => {
  const logger = recordingLogger();
  const sup = new Supervisor({
    spec: async () => {
      throw new PythonNotFoundError("No usable Python 3.10+ found");
    },
    handshake: async () => ({}),
    logger,
  });
  await assert.rejects(sup.start(), /No usable Python/);
  assert.equal(sup.status().state, "failed");
  assert.equal(sup.status().restarts, 0);
});

test("a handshake that times out counts as a failure and is retried", async () => {
  const logger = recordingLogger();
  let spawns = 0;
  const sup = new Supervisor({
    spec: async () => {
      spawns++;
      return { command: process.execPath, args: [fixture("lib-serve.mjs")], env: childEnv({}) };
    },
    // The first handshake asks a method that never answers; later ones succeed (with room for a
    // child that starts slowly on a loaded machine).
    handshake: (proc) => proc.connection.request(spawns === 1 ? "never" : "initialize", {}, { timeoutMs: spawns === 1 ? 200 : 15_000 }),
    logger,
    backoff: { initialDelayMs: 10 },
  });
  await within(sup.start(), 10_000, "start");
  assert.equal(spawns, 2);
  await logger.waitFor(/handshake failed: sidekick request 'never' timed out/);
  await sup.stop();
});
