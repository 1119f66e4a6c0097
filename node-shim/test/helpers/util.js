// Shared test helpers: deadlines for events, a recording logger, the sidekick's Python.
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The sidekicks these tests start record their usage in SQLite under $XDG_STATE_HOME: a scratch directory
// of this test process, never the user's ~/.local/state.
const stateHome = mkdtempSync(join(tmpdir(), "sidekick-node-tests-state-"));
process.env.XDG_STATE_HOME = stateHome;
process.on("exit", () => rmSync(stateHome, { recursive: true, force: true }));

export const PYTHON = process.env.SIDEKICK_TEST_PYTHON;
export const SKIP_PYTHON = PYTHON ? false : "SIDEKICK_TEST_PYTHON is not set (a Python with eliza-sidekick installed)";

/** Resolves with the event's arguments, or rejects after `ms` (a ref'd timer keeps the test alive). */
export async function onceWithin(emitter, event, ms = 10_000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no '${event}' event within ${ms} ms`)), ms);
  try {
    return await once(emitter, event, { signal: controller.signal });
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects when `promise` has not settled within `ms`. */
export function within(promise, ms, what = "operation") {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `predicate` until it holds, or rejects after `ms` (for state only the OS can tell, like a pid). */
export async function until(predicate, ms = 10_000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True while a process with this pid runs (a zombie awaiting its reaper counts as gone). */
export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

/** A logger that records every line: { level, text }. */
export function recordingLogger() {
  const lines = [];
  const waiters = [];
  const push = (level) => (obj, msg) => {
    const text = typeof obj === "string" ? obj : `${msg ?? ""} ${JSON.stringify(obj)}`;
    lines.push({ level, text });
    for (const w of [...waiters]) w();
  };
  return {
    lines,
    debug: push("debug"),
    info: push("info"),
    warn: push("warn"),
    error: push("error"),
    /** Resolves when a line matching `re` has been logged. */
    waitFor(re, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l.text));
          if (hit) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`no log line matching ${re} within ${ms} ms`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
  };
}
