// scripts/build-wheel.mjs (run by `npm pack`): quiet when an attempt works, everything shown when none does.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../scripts/build-wheel.mjs", import.meta.url));
const python = fileURLToPath(new URL("./fixtures/wheel-python.sh", import.meta.url));

function buildWheel(out, env) {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, "--out", out], { env: { ...process.env, SIDEKICK_PYTHON: python, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, output: stdout + stderr }),
    );
  });
}

test("a failed first attempt is not shown when the second one builds the wheel", { skip: process.platform === "win32" }, async () => {
  const out = await mkdtemp(join(tmpdir(), "sidekick-wheel-"));
  try {
    for (const env of [{ HAS_HATCHLING: "1" }, {}]) {
      const { code, output } = await buildWheel(out, env);
      assert.equal(code, 0, output);
      assert.doesNotMatch(output, /Traceback|ModuleNotFoundError|retrying/, JSON.stringify(env));
      assert.match(output.trim(), /^build-wheel: .*eliza_sidekick-0\.1\.0-py3-none-any\.whl$/);
      // jsonrpcserver ships only as an sdist: its wheel goes beside the sidekick's, for the first start.
      assert.deepEqual(readdirSync(out).sort(), ["eliza_sidekick-0.1.0-py3-none-any.whl", "jsonrpcserver-5.0.9-py3-none-any.whl"]);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test("when both attempts fail, both outputs and what to do are shown", { skip: process.platform === "win32" }, async () => {
  const out = await mkdtemp(join(tmpdir(), "sidekick-wheel-"));
  try {
    const { code, output } = await buildWheel(out, { FAIL_ALL: "1" });
    assert.equal(code, 1);
    assert.match(output, /without build isolation failed[\s\S]*isolated=no/);
    assert.match(output, /with build isolation failed[\s\S]*isolated=yes/);
    assert.match(output, /set SIDEKICK_PYTHON to a Python 3\.10\+ with pip/);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
