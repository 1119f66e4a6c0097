// Builds the eliza-sidekick wheel from the repository root into python/ (run by `npm pack`), or into
// --out DIR. Python: SIDEKICK_PYTHON, else SIDEKICK_TEST_PYTHON, else python3. pip's output is shown
// only when every attempt failed.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const repo = join(pkg, "..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(pkg, "python") } } });
const out = values.out;
const python = process.env.SIDEKICK_PYTHON || process.env.SIDEKICK_TEST_PYTHON || "python3";

mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith(".whl")) rmSync(join(out, f));

const wheelArgs = ["-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", out, repo];
// Without build isolation when the build backend is installed (fast, offline); else pip fetches it.
const hasBackend = spawnSync(python, ["-c", "import hatchling"], { stdio: "ignore" }).status === 0;
const attempts = [
  { label: "without build isolation", args: [...wheelArgs.slice(0, 4), "--no-build-isolation", ...wheelArgs.slice(4)] },
  { label: "with build isolation", args: wheelArgs },
];
if (!hasBackend) attempts.reverse();

const failures = [];
for (const attempt of attempts) {
  const r = spawnSync(python, attempt.args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status === 0) break;
  failures.push(`--- '${python} -m pip wheel' ${attempt.label} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ""}${r.stderr ?? ""}`);
}
if (failures.length === attempts.length) {
  console.error(failures.join("\n"));
  console.error(`build-wheel: '${python} -m pip wheel' failed both ways; set SIDEKICK_PYTHON to a Python 3.10+ with pip`);
  process.exit(1);
}
const wheels = readdirSync(out).filter((f) => /^eliza_sidekick-.*\.whl$/.test(f));
if (wheels.length !== 1) {
  console.error(`build-wheel: expected one eliza_sidekick wheel in ${out}, found: ${wheels.join(", ") || "none"}`);
  process.exit(1);
}

// Dependencies PyPI publishes only as an sdist. A wheel of each ships beside the sidekick's (the
// bootstrap gives pip this directory with --find-links), so a first start does not set up setuptools
// in an isolated environment to build one (about 10 s of it). Best effort: without one, pip builds it.
const SDIST_ONLY = ["jsonrpcserver"];
const pyproject = readFileSync(join(repo, "pyproject.toml"), "utf8");
for (const name of SDIST_ONLY) {
  const spec = new RegExp(`"(${name}[^";]*)`).exec(pyproject)?.[1] ?? name;
  const r = spawnSync(python, ["-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--retries", "1", "--timeout", "15", "-q", "-w", out, spec], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) console.error(`build-wheel: no ${name} wheel (${r.error?.message ?? `pip exit ${r.status}`}); a first start builds it from its sdist`);
}
console.log(`build-wheel: ${relative(pkg, join(out, wheels[0]))}`);
