// Bootstrap errors that need no network: missing or old Python, no bundled wheel. The full
// zero-config install from the packed tarball is in pack.test.js.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
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
    /SIDEKICK_COMMAND="sidekick --stdio"/.test(e.message) &&
    // Commands that work today come first; the published name is marked as not yet published.
    /pip install <eliza-sidekick checkout or wheel>/.test(e.message) &&
    /pipx run --spec eliza-sidekick sidekick --stdio` once eliza-sidekick is published on PyPI/.test(e.message));
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

test("a bad version answer from the interpreter is refused, not taken for a Python", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sidekick-badpy-"));
  try {
    const fake = join(dir, "python");
    await writeFile(fake, "#!/bin/sh\necho 'Python is not installed, see the store'\necho /x\n", { mode: 0o755 });
    await assert.rejects(findPython(fake), (e) => e instanceof PythonNotFoundError && /could not read its version/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bootstrap: a failed install leaves no half-built venv; venv and pip get no secrets; concurrent starts install once; a dangling interpreter is rebuilt", { skip: process.platform === "win32" }, async () => {
  const cache = await mkdtemp(join(tmpdir(), "sidekick-boot-"));
  const python = fileURLToPath(new URL("./fixtures/fake-python.sh", import.meta.url));
  const wheel = join(cache, "eliza_sidekick-0.0.0-py3-none-any.whl");
  await writeFile(wheel, "");
  const opts = { python, cacheDir: cache, wheel, logger: recordingLogger() };
  const venv = join(cache, `venv-${PACKAGE_VERSION}-py3.11`);
  const installs = () => (existsSync(join(cache, "installs.log")) ? readFileSync(join(cache, "installs.log"), "utf8").trim().split("\n").length : 0);
  process.env.SIDEKICK_TEST_SECRET_TOKEN = "s3cr3t";
  process.env.PIP_SIDEKICK_TEST = "pip-setting";
  try {
    await writeFile(join(cache, "fail-pip"), "");
    await assert.rejects(ensureVenv(opts), (e) => e instanceof SidekickUnavailableError && /Installing the Python sidekick failed.*no matching distribution/s.test(e.message));
    assert.equal(existsSync(venv), false, "the half-built venv was removed");
    await rm(join(cache, "fail-pip"));

    const [a, b] = await Promise.all([ensureVenv(opts), ensureVenv(opts)]);
    assert.equal(a, join(venv, "bin", "python"));
    assert.equal(b, a);
    assert.equal(installs(), 1, "two concurrent starts installed once");
    const pipEnv = readFileSync(join(venv, "pip-env.txt"), "utf8");
    assert.match(pipEnv, /^PIP_SIDEKICK_TEST=pip-setting$/m);
    assert.match(pipEnv, /^PATH=/m);
    assert.doesNotMatch(pipEnv, /s3cr3t/);

    assert.equal(await ensureVenv(opts), a);
    assert.equal(installs(), 1, "a second start reuses the venv");
    await rm(a);
    assert.equal(await ensureVenv(opts), a);
    assert.equal(installs(), 2, "a venv without its interpreter is rebuilt");
  } finally {
    delete process.env.SIDEKICK_TEST_SECRET_TOKEN;
    delete process.env.PIP_SIDEKICK_TEST;
    await rm(cache, { recursive: true, force: true });
  }
});

test("warm start: a venv already built for this setting is used without probing Python again", { skip: process.platform === "win32" }, async () => {
  const cache = await mkdtemp(join(tmpdir(), "sidekick-warm-"));
  const python = fileURLToPath(new URL("./fixtures/fake-python.sh", import.meta.url));
  const wheel = join(cache, "eliza_sidekick-0.0.0-py3-none-any.whl");
  await writeFile(wheel, "");
  const probeLog = join(cache, "probes.log");
  const probes = () => (existsSync(probeLog) ? readFileSync(probeLog, "utf8").trim().split("\n").length : 0);
  process.env.PROBE_LOG = probeLog;
  try {
    const opts = { python, cacheDir: cache, wheel, logger: recordingLogger() };
    const first = await ensureVenv(opts);
    assert.equal(probes(), 1);
    assert.equal(await ensureVenv(opts), first);
    assert.equal(probes(), 1, "the second start did not probe");
    // Another interpreter setting is probed again (the venv itself is reused).
    const alias = join(cache, "python3-alias");
    await symlink(python, alias);
    assert.equal(await ensureVenv({ ...opts, python: alias }), first);
    assert.equal(probes(), 2);
    // A venv that lost its interpreter is probed for and rebuilt.
    await rm(first);
    assert.equal(await ensureVenv({ ...opts, python: alias }), first);
    assert.equal(probes(), 3);
    assert.equal(readFileSync(join(cache, "installs.log"), "utf8").trim().split("\n").length, 2);
  } finally {
    delete process.env.PROBE_LOG;
    await rm(cache, { recursive: true, force: true });
  }
});

/** A cache with a fake wheel, and the venv ensureVenv makes there for the fake Python 3.11. */
async function fakeCache(prefix) {
  const cache = await mkdtemp(join(tmpdir(), prefix));
  const wheel = join(cache, "eliza_sidekick-0.0.0-py3-none-any.whl");
  await writeFile(wheel, "");
  return { cache, wheel, venv: join(cache, `venv-${PACKAGE_VERSION}-py3.11`) };
}

const FAKE_PYTHON = fileURLToPath(new URL("./fixtures/fake-python.sh", import.meta.url));

test("first start: the base Python's pip (22.3+) fills a venv made without pip, and nothing is compiled up front", { skip: process.platform === "win32" }, async () => {
  const { cache, wheel, venv } = await fakeCache("sidekick-pip-");
  process.env.FAKE_PIP_VERSION = "23.2.1";
  try {
    const logger = recordingLogger();
    await ensureVenv({ python: FAKE_PYTHON, cacheDir: cache, wheel, logger });
    const args = readFileSync(join(venv, "pip-args.txt"), "utf8").trim();
    assert.equal(args, `${FAKE_PYTHON} -m pip --python ${join(venv, "bin", "python")} install --no-input --disable-pip-version-check --no-compile --find-links ${cache} ${wheel}`);
    assert.ok(logger.lines.some(({ text: l }) => /installed in [\d.]+ s \(with pip\)/.test(l)), logger.lines.map((l) => l.text).join("\n"));
  } finally {
    delete process.env.FAKE_PIP_VERSION;
    await rm(cache, { recursive: true, force: true });
  }
});

test("first start: an old pip installs from inside the venv; no ensurepip and no new pip is a clear error", { skip: process.platform === "win32" }, async () => {
  const { cache, wheel, venv } = await fakeCache("sidekick-oldpip-");
  process.env.FAKE_PIP_VERSION = "22.0.2";
  try {
    await ensureVenv({ python: FAKE_PYTHON, cacheDir: cache, wheel, logger: recordingLogger() });
    const args = readFileSync(join(venv, "pip-args.txt"), "utf8").trim();
    assert.equal(args, `${join(venv, "bin", "python")} -m pip install --no-input --disable-pip-version-check --no-compile --find-links ${cache} ${wheel}`);
    process.env.FAKE_NO_ENSUREPIP = "1";
    await assert.rejects(findPython(FAKE_PYTHON), (e) => e instanceof PythonNotFoundError && /has no 'ensurepip' module and no pip 22\.3 or newer \(install python3-venv\)/.test(e.message));
    process.env.FAKE_PIP_VERSION = "24.0";
    assert.equal((await findPython(FAKE_PYTHON)).pipForOthers, true, "no ensurepip is fine with a pip that installs elsewhere");
  } finally {
    delete process.env.FAKE_PIP_VERSION;
    delete process.env.FAKE_NO_ENSUREPIP;
    await rm(cache, { recursive: true, force: true });
  }
});

test("first start: uv is used when it is on PATH, and pip takes over when uv fails", { skip: process.platform === "win32" }, async () => {
  const { cache, wheel, venv } = await fakeCache("sidekick-uv-");
  const bin = join(cache, "bin");
  await mkdir(bin);
  await symlink(fileURLToPath(new URL("./fixtures/fake-uv.sh", import.meta.url)), join(bin, "uv"));
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  const installs = () => readFileSync(join(cache, "installs.log"), "utf8").trim().split("\n");
  try {
    const logger = recordingLogger();
    assert.equal(await ensureVenv({ python: FAKE_PYTHON, cacheDir: cache, wheel, logger }), join(venv, "bin", "python"));
    assert.deepEqual(installs(), ["uv"]);
    assert.ok(logger.lines.some(({ text: l }) => /\(with uv\)/.test(l)), logger.lines.map((l) => l.text).join("\n"));
    await rm(venv, { recursive: true, force: true });
    await writeFile(join(cache, "fail-uv"), "");
    const fallback = recordingLogger();
    await ensureVenv({ python: FAKE_PYTHON, cacheDir: cache, wheel, logger: fallback });
    assert.deepEqual(installs(), ["uv", "install"]);
    assert.ok(fallback.lines.some(({ text: l }) => /uv could not install it .*no index configured for uv.*; trying pip/.test(l)), fallback.lines.map((l) => l.text).join("\n"));
  } finally {
    process.env.PATH = path;
    await rm(cache, { recursive: true, force: true });
  }
});
