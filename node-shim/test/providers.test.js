// The agent's model provider as the sidekick's endpoint: every row of the table, the plugins' own
// defaults, SIDEKICK_* overrides, SIDEKICK_PROVIDER, plugin order, and what is said when nothing fits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeEndpoint, LOCAL_AI_HINT, PROVIDERS, resolveEndpoint } from "../dist/index.js";

const getter = (values) => (key) => (values[key] === undefined || values[key] === "" ? undefined : String(values[key]));
const resolve = (values, loaded = []) => resolveEndpoint(getter(values), loaded);

/** Per plugin: its runtime name, its key, and what an agent with only the key gets (the plugin's defaults). */
const defaults = [
  ["openai", "OPENAI_API_KEY", "https://api.openai.com/v1", "gpt-4o"],
  ["anthropic", "ANTHROPIC_API_KEY", "https://api.anthropic.com/v1", "claude-sonnet-4-20250514"],
  ["openrouter", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1", "google/gemini-2.5-flash"],
  ["groq", "GROQ_API_KEY", "https://api.groq.com/openai/v1", "qwen-qwq-32b"],
  ["google-genai", "GOOGLE_GENERATIVE_AI_API_KEY", "https://generativelanguage.googleapis.com/v1beta/openai", "gemini-2.5-pro-preview-03-25"],
  ["elizaOSCloud", "ELIZAOS_CLOUD_API_KEY", "https://www.elizacloud.ai/api/v1", "gpt-4o"],
];

test("each loaded model plugin with only its key: its endpoint and its own default model", () => {
  for (const [plugin, key, baseUrl, model] of defaults) {
    const { endpoint } = resolve({ [key]: "k-123" }, [plugin]);
    assert.deepEqual({ baseUrl: endpoint.baseUrl, model: endpoint.model, apiKey: endpoint.apiKey }, { baseUrl, model, apiKey: "k-123" }, plugin);
  }
  const ollama = resolve({}, ["ollama"]).endpoint;
  assert.deepEqual([ollama.provider, ollama.baseUrl, ollama.model, ollama.apiKey], ["ollama", "http://localhost:11434/v1", "gemma3:latest", undefined]);
});

test("each plugin's base URL and model settings, as the plugin reads them", () => {
  const cases = [
    ["openai", { OPENAI_API_KEY: "k", OPENAI_BASE_URL: "http://h/v1", LARGE_MODEL: "m2" }, "http://h/v1", "m2"],
    ["openai", { OPENAI_API_KEY: "k", OPENAI_LARGE_MODEL: "m1", LARGE_MODEL: "m2" }, "https://api.openai.com/v1", "m1"],
    ["anthropic", { ANTHROPIC_API_KEY: "k", ANTHROPIC_BASE_URL: "http://proxy:8080/", ANTHROPIC_LARGE_MODEL: "claude-x" }, "http://proxy:8080/v1", "claude-x"],
    ["anthropic", { ANTHROPIC_API_KEY: "k", ANTHROPIC_BASE_URL: "http://proxy/v1", LARGE_MODEL: "ignored" }, "http://proxy/v1", "claude-sonnet-4-20250514"],
    ["ollama", { OLLAMA_API_ENDPOINT: "http://gpu:11434/api/", OLLAMA_LARGE_MODEL: "qwen2.5" }, "http://gpu:11434/v1", "qwen2.5"],
    ["ollama", { OLLAMA_API_URL: "http://gpu:11434", LARGE_MODEL: "llama3", OLLAMA_MEDIUM_MODEL: "not-read" }, "http://gpu:11434/v1", "llama3"],
    ["openrouter", { OPENROUTER_API_KEY: "k", OPENROUTER_BASE_URL: "http://or/v1", OPENROUTER_LARGE_MODEL: "a/b" }, "http://or/v1", "a/b"],
    ["groq", { GROQ_API_KEY: "k", GROQ_BASE_URL: "http://g/openai/v1", GROQ_LARGE_MODEL: "llama-3.3-70b-versatile" }, "http://g/openai/v1", "llama-3.3-70b-versatile"],
    ["google-genai", { GOOGLE_GENERATIVE_AI_API_KEY: "k", GOOGLE_GEMINI_BASE_URL: "http://gem/", GOOGLE_LARGE_MODEL: "gemini-2.5-flash" }, "http://gem/v1beta/openai", "gemini-2.5-flash"],
    ["elizaOSCloud", { ELIZAOS_CLOUD_API_KEY: "k", ELIZAOS_CLOUD_BASE_URL: "http://cloud/api/v1", ELIZAOS_CLOUD_LARGE_MODEL: "gpt-4.1" }, "http://cloud/api/v1", "gpt-4.1"],
  ];
  for (const [plugin, values, baseUrl, model] of cases) {
    const { endpoint } = resolve(values, [plugin]);
    assert.deepEqual([endpoint.baseUrl, endpoint.model], [baseUrl, model], `${plugin} ${JSON.stringify(values)}`);
  }
  assert.deepEqual(PROVIDERS.map((p) => p.name), ["openai", "anthropic", "ollama", "openrouter", "groq", "google-genai", "elizacloud"]);
});

test("explicit SIDEKICK_* settings win; a provider's key never goes to SIDEKICK_BASE_URL", () => {
  const agent = { ANTHROPIC_API_KEY: "sk-ant" };
  const own = resolve({ ...agent, SIDEKICK_BASE_URL: "http://local:8000/v1", SIDEKICK_MODEL: "qwen" }, ["anthropic"]).endpoint;
  assert.deepEqual(own, { provider: "custom", via: "SIDEKICK_BASE_URL", baseUrl: "http://local:8000/v1", model: "qwen", apiKey: undefined });
  const model = resolve({ ...agent, SIDEKICK_MODEL: "claude-haiku" }, ["anthropic"]).endpoint;
  assert.deepEqual([model.provider, model.model, model.apiKey], ["anthropic", "claude-haiku", "sk-ant"]);
  const key = resolve({ ...agent, SIDEKICK_API_KEY: "sk-other" }, ["anthropic"]).endpoint;
  assert.equal(key.apiKey, "sk-other");
  const keyOnly = resolve({ SIDEKICK_API_KEY: "sk-x" }).endpoint;
  assert.deepEqual([keyOnly.provider, keyOnly.baseUrl], ["custom", "https://api.openai.com/v1"]);
});

test("several configured: the loaded plugin wins, in the runtime's plugin order; SIDEKICK_PROVIDER forces one", () => {
  const both = { OPENAI_API_KEY: "sk-o", GROQ_API_KEY: "gsk" };
  assert.equal(resolve(both, ["@elizaos/plugin-sql", "groq", "openai"]).endpoint.provider, "groq");
  assert.equal(resolve(both, ["openai", "groq"]).endpoint.provider, "openai");
  assert.equal(resolve(both, ["groq"]).endpoint.via, "loaded plugin @elizaos/plugin-groq");
  // A loaded plugin without its key gives way to one that has it.
  assert.equal(resolve({ GROQ_API_KEY: "gsk" }, ["openai", "groq"]).endpoint.provider, "groq");
  // Without the plugin, a key in the settings still counts (table order).
  const unloaded = resolve(both, ["@elizaos/plugin-sql"]).endpoint;
  assert.deepEqual([unloaded.provider, unloaded.via], ["openai", "OPENAI_API_KEY (@elizaos/plugin-openai is not loaded)"]);
  for (const forced of ["groq", "@elizaos/plugin-groq"]) {
    assert.equal(resolve({ ...both, SIDEKICK_PROVIDER: forced }, ["openai"]).endpoint.provider, "groq");
  }
  assert.equal(resolve({ SIDEKICK_PROVIDER: "ollama" }, ["openai"]).endpoint.baseUrl, "http://localhost:11434/v1");
});

test("no usable model: what was looked for and the exact settings to add", () => {
  const none = resolve({}, ["@elizaos/plugin-sql"]);
  assert.equal(none.endpoint, null);
  assert.match(none.problem, /no model plugin is loaded \(looked for @elizaos\/plugin-openai, .*@elizaos\/plugin-local-ai\)/);
  assert.match(none.problem, /Add OPENAI_API_KEY or ANTHROPIC_API_KEY or .*ELIZAOS_CLOUD_API_KEY to the character's secrets/);
  assert.match(none.problem, /or set SIDEKICK_BASE_URL and SIDEKICK_MODEL/);
  const keyless = resolve({}, ["anthropic"]);
  assert.match(keyless.problem, /@elizaos\/plugin-anthropic is loaded but ANTHROPIC_API_KEY is not set\. Add ANTHROPIC_API_KEY to the character's secrets/);
  const local = resolve({}, ["local-ai"]);
  assert.ok(local.problem.includes(LOCAL_AI_HINT));
  assert.match(LOCAL_AI_HINT, /no HTTP endpoint.*llama-server.*SIDEKICK_BASE_URL and SIDEKICK_MODEL/);
  assert.match(resolve({ SIDEKICK_PROVIDER: "local-ai" }).problem, /no HTTP endpoint/);
  assert.match(resolve({ SIDEKICK_PROVIDER: "mistral" }).problem, /SIDEKICK_PROVIDER=mistral is not one of openai, anthropic, ollama/);
  assert.match(resolve({ SIDEKICK_PROVIDER: "groq" }).problem, /SIDEKICK_PROVIDER=groq, but GROQ_API_KEY is not set/);
});

test("what is shown of an endpoint carries no key, and no credentials or query in its URL", () => {
  const shown = describeEndpoint({ provider: "custom", via: "x", baseUrl: "https://user:pw@host/v1?key=abc", model: "m", apiKey: "sk-secret" });
  assert.deepEqual(shown, { provider: "custom", baseUrl: "https://host/v1", model: "m" });
  assert.doesNotMatch(JSON.stringify(shown), /sk-secret|pw|abc/);
});
