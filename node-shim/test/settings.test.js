// Settings: getSetting first, then the environment; the model endpoint (providers.test.js has every provider); command parsing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCommand, readSettings } from "../dist/settings.js";

const source = (values) => ({ getSetting: (key) => values[key] ?? null });

test("parseCommand splits like a shell, with quotes and escapes", () => {
  assert.deepEqual(parseCommand("pipx run --spec eliza-sidekick sidekick --stdio"), ["pipx", "run", "--spec", "eliza-sidekick", "sidekick", "--stdio"]);
  assert.deepEqual(parseCommand(`"/opt/my python/bin/python" -m sidekick  --stdio`), ["/opt/my python/bin/python", "-m", "sidekick", "--stdio"]);
  assert.deepEqual(parseCommand(`a\\ b 'c "d"' ""`), ["a b", 'c "d"', ""]);
  assert.throws(() => parseCommand(`"open`), /unbalanced/);
});

test("runtime settings win over the environment; model settings fall back to OPENAI_*", () => {
  const s = readSettings(source({ SIDEKICK_MODEL: "from-runtime", OPENAI_API_KEY: "sk-agent", SIDEKICK_HOST_ACTIONS: "A, B  C", SIDEKICK_ALLOW_PRIVATE_URLS: true }), {
    SIDEKICK_MODEL: "from-env",
    OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
    SIDEKICK_MAX_STEPS: "7",
    SIDEKICK_COMMAND: "sidekick --stdio",
  });
  assert.equal(s.endpoint.model, "from-runtime");
  assert.equal(s.endpoint.apiKey, "sk-agent");
  assert.equal(s.endpoint.baseUrl, "http://127.0.0.1:1/v1");
  assert.equal(s.maxSteps, 7);
  assert.equal(s.timeoutMs, 120_000);
  assert.equal(s.allowPrivateUrls, true);
  assert.deepEqual(s.hostActions, ["A", "B", "C"]);
  assert.deepEqual(s.command, ["sidekick", "--stdio"]);
});

test("SIDEKICK_* settings win over OPENAI_*; bad numbers are refused clearly", () => {
  const s = readSettings(null, { SIDEKICK_API_KEY: "k1", OPENAI_API_KEY: "k2", OPENAI_LARGE_MODEL: "gpt-x", SIDEKICK_TIMEOUT_MS: "5000" });
  assert.equal(s.endpoint.apiKey, "k1");
  assert.equal(s.endpoint.model, "gpt-x");
  assert.equal(s.timeoutMs, 5000);
  assert.equal(s.allowPrivateUrls, false);
  assert.throws(() => readSettings(null, { SIDEKICK_MAX_STEPS: "many" }), /SIDEKICK_MAX_STEPS must be a positive integer/);
  assert.throws(() => readSettings(null, { SIDEKICK_MAX_STEPS: "500" }), /SIDEKICK_MAX_STEPS must be at most 200/);
});

test("the Python side's own settings are forwarded to the child as set, and nothing else", async () => {
  const { settingsEnv } = await import("../dist/settings.js");
  const s = readSettings(source({ SIDEKICK_SEARXNG_URL: "http://searx.local" }), {
    SIDEKICK_LOG_LEVEL: "debug",
    UNRELATED_SECRET: "x",
  });
  assert.deepEqual(s.pythonSettings, { SIDEKICK_SEARXNG_URL: "http://searx.local", SIDEKICK_LOG_LEVEL: "debug" });
  const env = settingsEnv(s);
  assert.equal(env.SIDEKICK_SEARXNG_URL, "http://searx.local");
  assert.equal(env.SIDEKICK_LOG_LEVEL, "debug");
  assert.equal(env.UNRELATED_SECRET, undefined);
});
