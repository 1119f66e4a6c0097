// The READMEs agree with the code on the plugin's defaults, and the README's way to run `sidekick
// doctor` as the plugin starts the sidekick works as written.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_RUN_TIMEOUT_MS } from "../dist/settings.js";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { PYTHON, SKIP_PYTHON } from "./helpers/util.js";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const read = (path) => readFileSync(join(pkgDir, path), "utf8");

/** The cells of the first table row whose first cell names `setting`. */
function row(markdown, setting) {
  const line = markdown.split("\n").find((l) => l.startsWith("|") && l.split("|")[1].includes(`\`${setting}\``));
  assert.ok(line, `a table row for ${setting}`);
  return line.split("|").slice(1, -1).map((cell) => cell.trim());
}

test("both READMEs give the run limits' real defaults", () => {
  const maxSteps = JSON.parse(read("../schemas/sidekick.run.json")).params.properties.maxSteps.default;
  const plugin = read("README.md");
  assert.match(row(plugin, "SIDEKICK_MAX_STEPS")[1], new RegExp(`^\`${maxSteps}\``));
  assert.match(row(plugin, "SIDEKICK_TIMEOUT_MS")[1], new RegExp(`^\`${DEFAULT_RUN_TIMEOUT_MS}\``));
  const [names, defaults] = row(read("../README.md"), "SIDEKICK_MAX_STEPS");
  assert.match(names, /SIDEKICK_MAX_STEPS.*SIDEKICK_TIMEOUT_MS/);
  assert.equal(defaults, `${maxSteps}, ${DEFAULT_RUN_TIMEOUT_MS}`);
});

test("the README's doctor command checks the endpoint the plugin picked", { skip: SKIP_PYTHON, timeout: 120_000 }, async () => {
  const block = /<!-- example: doctor -->\s*```bash\n([\s\S]*?)\n```/.exec(read("README.md"));
  assert.ok(block, "the README has the doctor example");
  const script = /node --input-type=module -e '([\s\S]*)'$/.exec(block[1].trim());
  assert.ok(script, "the example is one node -e script");
  const openai = await startFakeOpenAI([{ toolCalls: [{ name: "calculate", arguments: { expression: "2+2" } }] }]);
  const app = await mkdtemp(join(tmpdir(), "sidekick-doctor-"));
  try {
    mkdirSync(join(app, "node_modules"));
    symlinkSync(pkgDir, join(app, "node_modules", "plugin-python-sidekick"));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    const env = {
      PATH: process.env.PATH,
      HOME: app,
      XDG_CONFIG_HOME: join(app, "config"),
      OPENAI_API_KEY: "sk-doctor",
      OPENAI_BASE_URL: openai.baseUrl,
      OPENAI_LARGE_MODEL: "test-model",
      SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio`,
    };
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, ["--input-type=module", "-e", script[1]], { cwd: app, env, timeout: 110_000 }, (error, out, err) =>
        resolve({ code: error ? (error.code ?? error.signal) : 0, stdout: out, stderr: err }),
      );
    });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, new RegExp(`✓ model endpoint configured — test-model at ${openai.baseUrl.replace(/[.]/g, "\\.")}`));
    assert.match(stdout, /✓ tool calling answered — the model called calculate/);
    assert.doesNotMatch(stdout, /sk-doctor/);
    assert.equal(openai.calls.at(-1).headers.authorization, "Bearer sk-doctor");
  } finally {
    await openai.close();
    await rm(app, { recursive: true, force: true });
  }
});
