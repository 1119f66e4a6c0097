// Bootstrap errors that need no network: missing or old Python, no bundled wheel. The full
// zero-config install from the packed tarball is in pack.test.js.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { defaultCacheDir, ensureVenv, findPython, PACKAGE_VERSION } from "../dist/bootstrap.js";
import { PythonNotFoundError, SidekickUnavailableError } from "../dist/errors.js";
import { PYTHON, recordingLogger, SKIP_PYTHON } from "./helpers/util.js";

test("a missing Python gives an error that says what to install", async () => {
  await assert.rejects(findPython("/nonexistent/python3"), (e) =>
    e instanceof PythonNotFoundError &&
    /\/nonexistent\/python3: not found/.test(e.message) &&
    /Install Python 3.10 or newer/.test(e.message) &&
    /SIDEKICK_PYTHON/.test(e.message) &&
    /SIDEKICK_COMMAND/.test(e.message));
});

test("a Python that is too old is refused", async () => {
  const old = fileURLToPath(new URL("./fixtures/old-python.sh", import.meta.url));
  await assert.rejects(findPython(old), /Python 3\.8\.10 is too old/);
});

test("the Python under test is found", { skip: SKIP_PYTHON }, async () => {
  const info = await findPython(PYTHON);
  assert.ok(info.version[0] === 3 && info.version[1] >= 10);
});

test("no bundled wheel: a clear error naming SIDEKICK_COMMAND", { skip: SKIP_PYTHON }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "sidekick-nowheel-"));
  try {
    await assert.rejects(
      ensureVenv({ wheelDir: dir, cacheDir: dir, python: PYTHON, logger: recordingLogger() }),
      (e) => e instanceof SidekickUnavailableError && /ships no Python wheel/.test(e.message) && /SIDEKICK_COMMAND/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the cache directory is per user and the venv is keyed by the package version", () => {
  assert.match(defaultCacheDir({ XDG_CACHE_HOME: "/tmp/xdg" }), process.platform === "linux" ? /^\/tmp\/xdg\/plugin-python-sidekick$/ : /plugin-python-sidekick/);
  assert.match(PACKAGE_VERSION, /^\d+\.\d+\.\d+/);
});
