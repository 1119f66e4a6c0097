// Many agents in one Node process: N real AgentRuntimes (@elizaos/core, an in-memory database, the
// plugin from node-shim/dist) started together, with one shared sidekick child (the default) and with
// one child each (SIDEKICK_SHARED_CHILD=0, the behaviour before sharing), in interleaved rounds.
//
//   (cd node-shim && npm run build) && node bench/many_agents.mjs [--agents 50] [--rounds 3] [--modes shared,separate]
//
// Python: SIDEKICK_PYTHON, else .venv/bin/python of this checkout, else python3 (eliza-sidekick must
// be importable). Per round and mode it prints the time from the first runtime's construction to every
// service being ready, the sidekick children's RSS (and PSS) summed, then the time for each agent to
// call `calculate` once, all at the same time. Goal (DESIGN.md, issue 17): 50 agents ≤ 100 MB of
// sidekick RSS in all, started in ≤ 1 s. The model endpoint is never called (no run is made).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shim = join(root, "node-shim");
const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "50" },
    rounds: { type: "string", default: "3" },
    modes: { type: "string", default: "shared,separate" },
    "baseline-agents": { type: "string" },
  },
});
const agents = Number(values.agents);
const rounds = Number(values.rounds);
// The baseline spawns a Python process per agent: on a small, busy machine fewer of them may be kinder.
const baselineAgents = Number(values["baseline-agents"] ?? values.agents);
const modes = values.modes.split(",").map((m) => m.trim());
const localVenv = join(root, ".venv", "bin", "python");
const python = process.env.SIDEKICK_PYTHON || (existsSync(localVenv) ? localVenv : "python3");

const core = await import(pathToFileURL(createRequire(join(shim, "package.json")).resolve("@elizaos/core")).href);
const { pythonSidekickPlugin } = await import(pathToFileURL(join(shim, "dist", "index.js")).href);
const { spawnToInitialize } = await import(pathToFileURL(join(shim, "scripts", "spawn-initialize.mjs")).href);
const { createMemoryAdapter } = await import(pathToFileURL(join(shim, "test", "helpers", "memory-adapter.js")).href);

/** Kilobytes of a /proc/<pid>/smaps_rollup field (Rss, Pss), or of VmRSS when that file is missing. */
function memoryKb(pid, field) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  } catch {
    if (field !== "Rss") return 0;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  }
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** One round of one mode: start, measure, call, stop. */
async function round(mode) {
  const settings = {
    SIDEKICK_COMMAND: `"${python}" -m sidekick --stdio`,
    SIDEKICK_BASE_URL: "http://127.0.0.1:9/v1",
    SIDEKICK_MODEL: "bench",
    SIDEKICK_SHARED_CHILD: mode === "shared" ? "1" : "0",
    LOG_LEVEL: "error",
  };
  const t0 = performance.now();
  const count = mode === "separate" ? baselineAgents : agents;
  const runtimes = Array.from({ length: count }, (_, i) => new core.AgentRuntime({
    character: { name: `agent-${i}`, bio: ["bench"], settings, plugins: [] },
    plugins: [pythonSidekickPlugin],
    adapter: createMemoryAdapter(),
  }));
  for (const runtime of runtimes) for (const level of ["debug", "info", "warn"]) runtime.logger[level] = () => {};
  await Promise.all(runtimes.map((r) => r.initialize()));
  const initialized = performance.now() - t0;
  const services = await Promise.all(runtimes.map((r) => r.getServiceLoadPromise("python_sidekick")));
  const ready = performance.now() - t0;
  // The old way can fail outright on a busy machine (handshakes time out): count it, do not hide it.
  const notReady = services.filter((s) => s.getStatus().state !== "ready");
  const failure = notReady.length ? `${notReady.length} of ${count} not ready: ${notReady[0].getStatus().lastError}` : "";
  const up = services.filter((s) => s.getStatus().state === "ready");
  const pids = [...new Set(up.map((s) => s.getStatus().pid))];
  const rssKb = pids.reduce((sum, pid) => sum + memoryKb(pid, "Rss"), 0);
  const pssKb = pids.reduce((sum, pid) => sum + memoryKb(pid, "Pss"), 0);
  const c0 = performance.now();
  const answers = await Promise.all(up.map((s, i) => s.callTool("calculate", { expression: `${i} + 1` })));
  const calls = performance.now() - c0;
  // Each agent must get its own answer. The first calculate of a child imports numexpr under the
  // tool's 5 s limit, which a busy machine can miss: that is counted as a tool error, not a mix-up.
  const wrong = answers.filter((a, i) => !a.isError && a.content[0].text !== String(i + 1));
  if (wrong.length) throw new Error(`${wrong.length} agents got another agent's answer`);
  const toolErrors = answers.filter((a) => a.isError).length;
  const s0 = performance.now();
  await Promise.all(runtimes.map((r) => r.stop()));
  const stopped = performance.now() - s0;
  const left = pids.filter(alive);
  if (left.length) throw new Error(`${left.length} sidekick processes left after stop`);
  return { agents: count, children: pids.length, failure, toolErrors, initialized, ready, rssMb: rssKb / 1024, pssMb: pssKb / 1024, calls, stopped };
}

const results = Object.fromEntries(modes.map((m) => [m, []]));
const floor = [];
console.log(`${agents} agents (baseline ${baselineAgents}), ${rounds} rounds, modes interleaved: ${modes.join(", ")}; python ${python}; node ${process.version}; load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (let r = 0; r < rounds; r++) {
  floor.push(await spawnToInitialize(python));
  console.log(`round ${r + 1} one sidekick alone: spawn → initialize answer ${floor.at(-1).toFixed(0)} ms`);
  // Alternate which mode goes first, so neither always runs on a warmer (or busier) machine.
  for (const mode of r % 2 ? [...modes].reverse() : modes) {
    const res = await round(mode);
    results[mode].push(res);
    console.log(
      `round ${r + 1} ${mode.padEnd(8)} agents ${String(res.agents).padStart(3)} children ${String(res.children).padStart(3)}  all ready ${res.ready.toFixed(0).padStart(6)} ms` +
        ` (initialize() done at ${res.initialized.toFixed(0)} ms)  RSS ${res.rssMb.toFixed(1).padStart(7)} MB  PSS ${res.pssMb.toFixed(1).padStart(7)} MB` +
        `  ${res.agents} calculate calls ${res.calls.toFixed(0)} ms${res.toolErrors ? ` (${res.toolErrors} tool errors)` : ""}  stop ${res.stopped.toFixed(0)} ms${res.failure ? `  FAILED: ${res.failure}` : ""}`,
    );
  }
}

const spread = (xs, digits = 0) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0].toFixed(digits)}–${s[Math.floor(s.length / 2)].toFixed(digits)}–${s.at(-1).toFixed(digits)}`;
};
console.log("\nmin–median–max over the rounds");
console.log(`one sidekick alone, spawn → initialize answer ${spread(floor)} ms (the floor of any start)`);
for (const mode of modes) {
  const rs = results[mode];
  console.log(
    `${mode.padEnd(8)} agents ${rs[0].agents}  children ${spread(rs.map((x) => x.children))}  all ready ${spread(rs.map((x) => x.ready))} ms  RSS ${spread(rs.map((x) => x.rssMb), 1)} MB` +
      `  PSS ${spread(rs.map((x) => x.pssMb), 1)} MB  RSS per child ${spread(rs.map((x) => x.rssMb / Math.max(1, x.children)), 1)} MB  calls ${spread(rs.map((x) => x.calls))} ms` +
      `${rs.some((x) => x.failure) ? `  (${rs.filter((x) => x.failure).length} rounds with agents not ready)` : ""}`,
  );
}
if (results.shared && results.separate && agents === baselineAgents) {
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const sh = results.shared;
  const se = results.separate;
  console.log(
    `shared vs separate (medians): all ready ${(median(se.map((x) => x.ready)) / median(sh.map((x) => x.ready))).toFixed(1)}× faster,` +
      ` RSS ${(median(se.map((x) => x.rssMb)) / median(sh.map((x) => x.rssMb))).toFixed(1)}× less`,
  );
}
const goal = results.shared;
if (goal) {
  const worstReady = Math.max(...goal.map((x) => x.ready));
  const worstRss = Math.max(...goal.map((x) => x.rssMb));
  console.log(`goal (${agents} agents ≤ 100 MB, ≤ 1 s): worst round RSS ${worstRss.toFixed(1)} MB ${worstRss <= 100 ? "ok" : "MISSED"}, all ready ${worstReady.toFixed(0)} ms ${worstReady <= 1000 ? "ok" : "MISSED"}`);
  const ratios = goal.map((x, i) => x.ready / floor[i]);
  console.log(`shared all ready / one sidekick alone, per round: ${spread(ratios, 2)}× (what the agents add to one child's cold start)`);
}
