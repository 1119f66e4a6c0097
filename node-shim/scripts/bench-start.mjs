// Start-up figures of the plugin: first start (venv created, wheel and dependencies installed) and
// warm start (venv already built) to "ready", with the parts a warm start is made of.
//
//   npm run build && node scripts/bench-start.mjs [--runs 10] [--cache DIR] [--fresh] [--sql]
//
// Python: SIDEKICK_PYTHON, else python3. The venv lives in --cache (default: a fixed temp folder, so
// a second run is warm); --fresh deletes it first, so the first start is measured (needs PyPI).
// --sql gives the agent @elizaos/plugin-sql (PGlite in memory) instead of an in-memory adapter.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { spawnToInitialize } from "./spawn-initialize.mjs";

const pkg = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: { runs: { type: "string", default: "10" }, cache: { type: "string" }, fresh: { type: "boolean", default: false }, sql: { type: "boolean", default: false } },
});
const runs = Number(values.runs);
const cacheDir = values.cache ?? join(tmpdir(), "sidekick-bench-cache");
const python = process.env.SIDEKICK_PYTHON || "python3";

const { PythonSidekickService, bundledWheel, ensureVenv, findPython, pythonSidekickPlugin } = await import(join(pkg, "dist", "index.js"));
const { AgentRuntime } = await import("@elizaos/core");
const { createMemoryAdapter } = await import(join(pkg, "test", "helpers", "memory-adapter.js"));
if (!bundledWheel()) {
  const built = spawnSync(process.execPath, [join(pkg, "scripts", "build-wheel.mjs")], { stdio: "inherit", env: { ...process.env, SIDEKICK_PYTHON: python } });
  if (built.status !== 0) process.exit(1);
}
if (values.fresh) rmSync(cacheDir, { recursive: true, force: true });

const quiet = { debug() {}, info() {}, warn() {}, error: (m) => console.error(m) };
const settings = { SIDEKICK_PYTHON: python, SIDEKICK_CACHE_DIR: cacheDir, SIDEKICK_BASE_URL: "http://127.0.0.1:9/v1", SIDEKICK_MODEL: "bench" };
const runtime = { getSetting: (k) => settings[k] ?? null, logger: quiet, plugins: [], actions: [], character: { name: "bench" } };

/** Milliseconds from PythonSidekickService.start() to ready; the service is stopped afterwards. */
async function startToReady() {
  const t0 = performance.now();
  const service = await PythonSidekickService.start(runtime);
  const ms = performance.now() - t0;
  const { state, lastError } = service.getStatus();
  await service.stop();
  if (state !== "ready") throw new Error(`sidekick did not start: ${lastError}`);
  return ms;
}

/**
 * Milliseconds from runtime.initialize() to the service's ready sidekick, in a real AgentRuntime (an
 * in-memory database, so initialize() itself is quick; with plugin-sql it takes seconds more).
 */
const sql = values.sql ? await import("@elizaos/plugin-sql") : null;
/** One database for every agent (plugin-sql keeps one PGlite per process); migrated before the first. */
let db = null;

async function agentToReady() {
  const agent = new AgentRuntime({
    character: { name: "bench", settings, plugins: [] },
    plugins: [...(sql ? [sql.default] : []), pythonSidekickPlugin],
    ...(sql ? {} : { adapter: createMemoryAdapter() }),
  });
  if (sql && !db) {
    db = sql.createDatabaseAdapter({ dataDir: "memory://" }, agent.agentId);
    await db.init();
    await db.runPluginMigrations([{ name: sql.default.name, schema: sql.default.schema }], { verbose: false });
  }
  if (db) agent.registerDatabaseAdapter(db);
  const t0 = performance.now();
  await agent.initialize();
  const initialized = performance.now();
  const service = await agent.getServiceLoadPromise("python_sidekick");
  const ready = performance.now();
  const { state, lastError } = service.getStatus();
  await agent.stop();
  if (state !== "ready") throw new Error(`sidekick did not start: ${lastError}`);
  return [ready - t0, ready - initialized];
}

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function summary(name, samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`${name.padEnd(34)} median ${median.toFixed(0).padStart(5)} ms   min ${sorted[0].toFixed(0).padStart(5)}   max ${sorted.at(-1).toFixed(0).padStart(5)}   (n=${samples.length})`);
}

const first = await startToReady();
console.log(`${"first start in this cache".padEnd(34)} ${(first / 1000).toFixed(1)} s (${values.fresh ? "fresh venv: created and installed" : "warm unless the cache was empty"})`);

const warm = [];
const agent = [];
const afterInit = [];
const probe = [];
const venv = [];
const handshake = [];
const venvPython = await ensureVenv({ python, cacheDir, logger: quiet });
for (let i = 0; i < runs; i++) {
  warm.push(await startToReady());
  const [total, waited] = await agentToReady();
  agent.push(total);
  afterInit.push(waited);
  probe.push(await timed(() => findPython(python)));
  venv.push(await timed(() => ensureVenv({ python, cacheDir, logger: quiet })));
  handshake.push(await spawnToInitialize(venvPython));
}
summary("warm start: start() → ready", warm);
summary(`agent${values.sql ? " (plugin-sql)" : ""}: initialize() → ready`, agent);
summary("  of which after initialize()", afterInit);
summary("  of which ensureVenv (warm)", venv);
summary("  findPython probe alone", probe);
summary("  spawn → initialize answer", handshake);
await db?.close();
