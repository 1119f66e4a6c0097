// Builds the eliza-sidekick wheel from the repository root into python/ (run by `npm pack`).
// Python: SIDEKICK_PYTHON, else SIDEKICK_TEST_PYTHON, else python3.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const repo = join(pkg, "..");
const out = join(pkg, "python");
const python = process.env.SIDEKICK_PYTHON || process.env.SIDEKICK_TEST_PYTHON || "python3";

mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith(".whl")) rmSync(join(out, f));

const base = ["-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", out, repo];
// Without build isolation when the build backend is already installed (fast, offline); else let pip fetch it.
let r = spawnSync(python, [...base.slice(0, 4), "--no-build-isolation", ...base.slice(4)], { stdio: "inherit" });
if (r.status !== 0) {
  console.error("build-wheel: retrying with build isolation");
  r = spawnSync(python, base, { stdio: "inherit" });
}
if (r.status !== 0) {
  console.error(`build-wheel: '${python} -m pip wheel' failed; set SIDEKICK_PYTHON to a Python 3.10+ with pip`);
  process.exit(1);
}
const wheels = readdirSync(out).filter((f) => /^eliza_sidekick-.*\.whl$/.test(f));
if (wheels.length !== 1) {
  console.error(`build-wheel: expected one eliza_sidekick wheel in ${out}, found: ${wheels.join(", ") || "none"}`);
  process.exit(1);
}
console.log(`build-wheel: ${join("python", wheels[0])}`);
