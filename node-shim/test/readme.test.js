// The README's AgentRuntime example runs as written: real @elizaos/plugin-sql (PGlite) and
// @elizaos/plugin-openai, its OPENAI_BASE_URL pointed at the scripted server, the real sidekick.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { PYTHON, SKIP_PYTHON } from "./helpers/util.js";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));

/** The ```js block after the README's `<!-- example: runtime -->` marker. */
function readmeExample() {
  const readme = readFileSync(join(pkgDir, "README.md"), "utf8");
  const match = /<!-- example: runtime -->\s*```js\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(match, "the README has the runtime example");
  return match[1];
}

test("the README's AgentRuntime example runs with @elizaos/plugin-sql and answers", { skip: SKIP_PYTHON, timeout: 180_000 }, async () => {
  const openai = await startFakeOpenAI([
    { toolCalls: [{ name: "calculate", arguments: { expression: "10000 * 1.07 ** 30" } }] },
    (body) => ({ text: `They become ${body.messages.find((m) => m.role === "tool").content} USD.` }),
  ]);
  // A project that has the plugin and the packages the example imports installed.
  const app = await mkdtemp(join(tmpdir(), "sidekick-readme-"));
  try {
    mkdirSync(join(app, "node_modules"));
    symlinkSync(join(pkgDir, "node_modules", "@elizaos"), join(app, "node_modules", "@elizaos"));
    symlinkSync(pkgDir, join(app, "node_modules", "plugin-python-sidekick"));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    writeFileSync(join(app, "example.mjs"), readmeExample());
    const env = {
      PATH: process.env.PATH,
      HOME: app,
      LOG_LEVEL: "error",
      OPENAI_API_KEY: "sk-readme",
      OPENAI_BASE_URL: openai.baseUrl,
      SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio`,
    };
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, ["example.mjs"], { cwd: app, env, timeout: 170_000, maxBuffer: 16 << 20 }, (error, out, err) =>
        resolve({ code: error ? (error.code ?? error.signal) : 0, stdout: out, stderr: err }),
      );
    });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /They become 76122\.5\d* USD\. \[ 'calculate' \]/);
    assert.match(stdout, /provider: 'openai'/);
    assert.equal(openai.calls[0].headers.authorization, "Bearer sk-readme");
  } finally {
    await openai.close();
    await rm(app, { recursive: true, force: true });
  }
});
