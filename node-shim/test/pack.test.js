// Zero-config from the packed tarball: `npm pack` (builds the wheel into python/), `npm install` of
// the tarball in a fresh project, then a real AgentRuntime there creates the venv in a temporary
// cache dir, pip-installs the wheel and its dependencies from PyPI, and answers. Slow (a minute or two).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { alive, PYTHON, SKIP_PYTHON } from "./helpers/util.js";

const run = promisify(execFile);
const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
let tmp;
let app;
let cache;

/** The environment of the scenario: no SIDEKICK_* or OPENAI_* leaking in from the test's own. */
function scenarioEnv(out) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SIDEKICK_|OPENAI_)/.test(k)));
  return { ...env, SIDEKICK_PYTHON: PYTHON, SIDEKICK_CACHE_DIR: cache, SCENARIO_OUT: out, LOG_LEVEL: "info" };
}

async function scenario(name) {
  const out = join(tmp, `${name}.json`);
  const { stdout, stderr } = await run(process.execPath, ["scenario.mjs"], { cwd: app, env: scenarioEnv(out), timeout: 8 * 60_000, maxBuffer: 64 << 20 });
  assert.ok(existsSync(out), `scenario wrote no result\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
  const result = JSON.parse(readFileSync(out, "utf8"));
  assert.equal(result.error, undefined, `${result.error}\n${stdout.slice(-3000)}`);
  return { result, log: stdout + stderr };
}

before(async () => {
  if (SKIP_PYTHON) return;
  tmp = await mkdtemp(join(tmpdir(), "sidekick-pack-"));
  app = join(tmp, "app");
  cache = join(tmp, "cache");
  mkdirSync(app);
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: pkgDir, env: { ...process.env, SIDEKICK_PYTHON: PYTHON }, maxBuffer: 64 << 20 });
  const [{ filename, files }] = JSON.parse(stdout.slice(stdout.indexOf("[")));
  assert.ok(files.some((f) => /^python\/eliza_sidekick-.*\.whl$/.test(f.path)), "the wheel is in the tarball");
  assert.ok(files.some((f) => f.path === "dist/index.d.ts"), "types are in the tarball");
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await run("npm", ["install", "--no-audit", "--no-fund", join(tmp, filename)], { cwd: app, maxBuffer: 64 << 20, timeout: 5 * 60_000 });
  for (const f of ["helpers/agent.js", "helpers/memory-adapter.js", "helpers/fake-openai.js"]) copyFileSync(here(f), join(app, f.split("/")[1]));
  copyFileSync(here("fixtures/pack-scenario.mjs"), join(app, "scenario.mjs"));
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test("zero-config from the packed tarball: bootstrap, analyze with a host action, restart, stop", { skip: SKIP_PYTHON, timeout: 9 * 60_000 }, async () => {
  const { result, log } = await scenario("first");
  const [ready, analyze, afterRestart] = result.steps;
  assert.equal(ready.state, "ready", ready.lastError);
  assert.match(log, /first start, installing the Python sidekick/);
  const venvs = readdirSync(cache).filter((d) => d.startsWith("venv-"));
  assert.equal(venvs.length, 1);
  assert.match(venvs[0], /^venv-0\.1\.0-py3\.\d+$/);

  assert.equal(analyze.said[0], "Engaging Python specialist…");
  assert.match(analyze.said.at(-1), /^Factor 7\.61\d* \/ The secret number for growth is 42$/);
  assert.equal(analyze.result.success, true);
  assert.deepEqual(analyze.result.data.toolsUsed, ["calculate", "GET_SECRET_NUMBER"]);
  assert.equal(analyze.hostCalls, 1);

  assert.equal(afterRestart.restarts, 1);
  assert.equal(afterRestart.result.success, true);
  assert.equal(afterRestart.result.text, "second answer after restart");
  assert.notEqual(result.pids[0], result.pids[1]);
  for (const pid of result.pids) assert.equal(alive(pid), false, `sidekick ${pid} left behind`);
});

test("a second start reuses the venv", { skip: SKIP_PYTHON, timeout: 3 * 60_000 }, async () => {
  const { result, log } = await scenario("second");
  assert.equal(result.steps[0].state, "ready");
  assert.doesNotMatch(log, /first start, installing/);
  assert.ok(result.steps[0].startMs < 20_000, `start took ${result.steps[0].startMs} ms`);
});
