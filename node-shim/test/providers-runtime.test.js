// Zero config for every model provider: a real AgentRuntime set up only for one provider (its base
// URL pointed at a local fake, no SIDEKICK_BASE_URL/MODEL/API_KEY) answers PYTHON_ANALYZE through the
// real sidekick, on that provider's OpenAI-compatible path with its key and its plugin's default model.
// And an agent with no usable model: the service starts, warns once, and PYTHON_ANALYZE is not offered.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { pythonAnalyzeAction, pythonSidekickPlugin, pythonSidekickStatusProvider } from "../dist/index.js";
import { analyzeResponse, createAgent, modelPlugin, userMessage } from "./helpers/agent.js";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { PYTHON, recordingLogger, SKIP_PYTHON, within } from "./helpers/util.js";

let fake;
before(async () => {
  if (!SKIP_PYTHON) fake = await startFakeOpenAI();
});
after(async () => fake?.close());

/** [provider, plugins loaded before ours, settings (given the fake's origin), the path the loop must call, model, key sent] */
const PROVIDER_CASES = [
  ["openai", ["openai"], (o) => ({ OPENAI_API_KEY: "k-openai", OPENAI_BASE_URL: `${o}/v1` }), "/v1/chat/completions", "gpt-4o", "k-openai"],
  ["anthropic", ["anthropic"], (o) => ({ ANTHROPIC_API_KEY: "k-anthropic", ANTHROPIC_BASE_URL: o }), "/v1/chat/completions", "claude-sonnet-4-20250514", "k-anthropic"],
  ["ollama", ["ollama"], (o) => ({ OLLAMA_API_ENDPOINT: `${o}/api` }), "/v1/chat/completions", "gemma3:latest", null],
  ["openrouter", ["openrouter"], (o) => ({ OPENROUTER_API_KEY: "k-openrouter", OPENROUTER_BASE_URL: `${o}/api/v1` }), "/api/v1/chat/completions", "google/gemini-2.5-flash", "k-openrouter"],
  // Also configured for OpenAI, loaded after groq: the first loaded plugin wins.
  ["groq", ["groq", "openai"], (o) => ({ GROQ_API_KEY: "k-groq", GROQ_BASE_URL: `${o}/openai/v1`, OPENAI_API_KEY: "k-not-this" }), "/openai/v1/chat/completions", "qwen-qwq-32b", "k-groq"],
  ["google-genai", ["google-genai"], (o) => ({ GOOGLE_GENERATIVE_AI_API_KEY: "k-google", GOOGLE_GEMINI_BASE_URL: o }), "/v1beta/openai/chat/completions", "gemini-2.5-pro-preview-03-25", "k-google"],
  ["elizacloud", ["elizaOSCloud"], (o) => ({ ELIZAOS_CLOUD_API_KEY: "k-elizacloud", ELIZAOS_CLOUD_BASE_URL: `${o}/api/v1` }), "/api/v1/chat/completions", "gpt-4o", "k-elizacloud"],
];

for (const [provider, plugins, settingsFor, path, model, key] of PROVIDER_CASES) {
  test(`${provider}: an agent set up only for it answers PYTHON_ANALYZE, on its endpoint with its key and default model`, { skip: SKIP_PYTHON }, async () => {
    const settings = settingsFor(fake.origin);
    const logger = recordingLogger();
    const runtime = await createAgent(pythonSidekickPlugin, { SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio` }, [], settings, {
      before: plugins.map(modelPlugin),
      logger,
    });
    try {
      const service = await within(runtime.getServiceLoadPromise("python_sidekick"), 30_000, "service start");
      fake.setScript([{ text: `Answer from ${provider}.` }]);
      const seen = fake.calls.length;
      const message = userMessage(runtime, "Please analyze the quarterly numbers");
      assert.equal(await pythonAnalyzeAction.validate(runtime, message), true);
      const said = [];
      await runtime.processActions(message, [analyzeResponse(runtime, message)], undefined, async (c) => (said.push(c.text), []));
      assert.equal(said.at(-1), `Answer from ${provider}.`);

      const [call] = fake.calls.slice(seen);
      assert.equal(call.path, path);
      assert.equal(call.body.model, model);
      if (key) assert.equal(call.headers.authorization, `Bearer ${key}`);
      else assert.doesNotMatch(call.headers.authorization ?? "", /k-/, "a provider without a key sends none of ours");

      const shown = { provider, baseUrl: `${fake.origin}${path.replace(/\/chat\/completions$/, "")}`, model };
      assert.deepEqual(runtime.getActionResults(message.id)[0].data.endpoint, shown);
      assert.deepEqual(service.getStatus().endpoint, shown);
      const status = await pythonSidekickStatusProvider.get(runtime, message, { values: {}, data: {}, text: "" });
      assert.match(status.text, new RegExp(`ready, model ${model.replace(/[.]/g, "\\.")} via ${provider} at`));
      await logger.waitFor(new RegExp(`sidekick: model ${model.replace(/[.]/g, "\\.")} at .* provider ${provider} \\(loaded plugin @elizaos/plugin-`));
      // The key is never logged.
      const keys = Object.entries(settings).filter(([k]) => k.endsWith("_API_KEY")).map(([, v]) => v);
      for (const line of logger.lines) for (const k of keys) assert.ok(!line.text.includes(k), `key in log: ${line.text}`);
    } finally {
      await runtime.stop();
    }
  });
}

test("no usable model: the service starts and its tools work, one warning names the settings to add, PYTHON_ANALYZE is not offered", { skip: SKIP_PYTHON }, async () => {
  const logger = recordingLogger();
  const runtime = await createAgent(pythonSidekickPlugin, { SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio` }, [], {}, { before: [modelPlugin("anthropic")], logger });
  try {
    const service = await within(runtime.getServiceLoadPromise("python_sidekick"), 30_000, "service start");
    assert.equal(service.getStatus().state, "ready");
    const tool = await service.callTool("calculate", { expression: "6 * 7" });
    assert.equal(tool.isError, false);
    assert.match(tool.content[0].text, /42/);

    const warnings = logger.lines.filter((l) => l.level === "warn" && /PYTHON_ANALYZE is not offered/.test(l.text));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].text, /@elizaos\/plugin-anthropic is loaded but ANTHROPIC_API_KEY is not set\. Add ANTHROPIC_API_KEY .*or set SIDEKICK_BASE_URL and SIDEKICK_MODEL/);

    const message = userMessage(runtime, "Please analyze this");
    assert.equal(await pythonAnalyzeAction.validate(runtime, message), false);
    const status = await pythonSidekickStatusProvider.get(runtime, message, { values: {}, data: {}, text: "" });
    assert.match(status.text, /^Python specialist: not configured, .*ANTHROPIC_API_KEY/);
    assert.equal(status.values.pythonSidekickReady, false);
    assert.equal(status.values.pythonSidekickConfigured, false);
    const result = await pythonAnalyzeAction.handler(runtime, message, undefined, {}, async () => []);
    assert.equal(result.success, false);
    assert.match(result.text, /No usable model for the sidekick/);
  } finally {
    await runtime.stop();
  }
});

test("@elizaos/plugin-local-ai alone: not configured, and the warning says it has no HTTP endpoint and what to set", { skip: SKIP_PYTHON }, async () => {
  const logger = recordingLogger();
  const runtime = await createAgent(pythonSidekickPlugin, { SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio` }, [], {}, { before: [modelPlugin("local-ai")], logger });
  try {
    await within(runtime.getServiceLoadPromise("python_sidekick"), 30_000, "service start");
    const warning = await logger.waitFor(/PYTHON_ANALYZE is not offered/);
    assert.match(warning.text, /@elizaos\/plugin-local-ai runs its models inside the agent and has no HTTP endpoint.*set SIDEKICK_BASE_URL and SIDEKICK_MODEL/);
  } finally {
    await runtime.stop();
  }
});
