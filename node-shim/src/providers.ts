/**
 * The agent's own model provider, as an OpenAI-compatible endpoint for the sidekick's loop. Each row
 * is an elizaOS model plugin: the settings it reads and its defaults, as its npm package has them
 * (versions noted below), and the OpenAI-compatible endpoint of the same service.
 */

/** Reads a setting (runtime.getSetting, then the environment); empty counts as unset. */
export type Get = (key: string) => string | undefined;

export interface ModelProvider {
  /** The SIDEKICK_PROVIDER value. */
  name: string;
  /** The plugin's npm package. */
  pkg: string;
  /** The plugin's `name`, as it appears in runtime.plugins. */
  pluginName: string;
  /** The setting with the API key. */
  keySetting?: string;
  /** Settings that point the plugin at another server; one of them set makes the key optional. */
  urlSettings: string[];
  /** Where its model setting is looked for, in order, and the plugin's default. */
  modelSettings: string[];
  defaultModel: string;
  /** Its OpenAI-compatible endpoint. */
  baseUrl(get: Get): string;
}

const trimSlash = (url: string) => url.replace(/\/+$/, "");

export const PROVIDERS: ModelProvider[] = [
  {
    // @elizaos/plugin-openai 1.6.0 (src/utils/config.ts)
    name: "openai",
    pkg: "@elizaos/plugin-openai",
    pluginName: "openai",
    keySetting: "OPENAI_API_KEY",
    urlSettings: ["OPENAI_BASE_URL"],
    modelSettings: ["OPENAI_LARGE_MODEL", "LARGE_MODEL"],
    defaultModel: "gpt-4o",
    baseUrl: (get) => get("OPENAI_BASE_URL") ?? "https://api.openai.com/v1",
  },
  {
    // @elizaos/plugin-anthropic 1.5.12; Anthropic serves its OpenAI SDK compatibility under /v1.
    name: "anthropic",
    pkg: "@elizaos/plugin-anthropic",
    pluginName: "anthropic",
    keySetting: "ANTHROPIC_API_KEY",
    urlSettings: ["ANTHROPIC_BASE_URL"],
    modelSettings: ["ANTHROPIC_LARGE_MODEL"],
    defaultModel: "claude-sonnet-4-20250514",
    baseUrl: (get) => {
      const url = trimSlash(get("ANTHROPIC_BASE_URL") ?? "https://api.anthropic.com/v1");
      return url.endsWith("/v1") ? url : `${url}/v1`;
    },
  },
  {
    // @elizaos/plugin-ollama 1.2.4: its endpoint ends in /api (the plugin adds it); Ollama's
    // OpenAI-compatible API is /v1 beside it. It reads no MEDIUM or SMALL model for TEXT_LARGE.
    name: "ollama",
    pkg: "@elizaos/plugin-ollama",
    pluginName: "ollama",
    urlSettings: ["OLLAMA_API_ENDPOINT", "OLLAMA_API_URL"],
    modelSettings: ["OLLAMA_LARGE_MODEL", "LARGE_MODEL"],
    defaultModel: "gemma3:latest",
    baseUrl: (get) => {
      const url = trimSlash(get("OLLAMA_API_ENDPOINT") ?? get("OLLAMA_API_URL") ?? "http://localhost:11434/api");
      return `${url.replace(/\/api$/, "")}/v1`;
    },
  },
  {
    // @elizaos/plugin-openrouter 1.5.17
    name: "openrouter",
    pkg: "@elizaos/plugin-openrouter",
    pluginName: "openrouter",
    keySetting: "OPENROUTER_API_KEY",
    urlSettings: ["OPENROUTER_BASE_URL"],
    modelSettings: ["OPENROUTER_LARGE_MODEL", "LARGE_MODEL"],
    defaultModel: "google/gemini-2.5-flash",
    baseUrl: (get) => get("OPENROUTER_BASE_URL") ?? "https://openrouter.ai/api/v1",
  },
  {
    // @elizaos/plugin-groq 1.0.4 (its TEXT_LARGE handler)
    name: "groq",
    pkg: "@elizaos/plugin-groq",
    pluginName: "groq",
    keySetting: "GROQ_API_KEY",
    urlSettings: ["GROQ_BASE_URL"],
    modelSettings: ["GROQ_LARGE_MODEL", "LARGE_MODEL"],
    defaultModel: "qwen-qwq-32b",
    baseUrl: (get) => get("GROQ_BASE_URL") ?? "https://api.groq.com/openai/v1",
  },
  {
    // @elizaos/plugin-google-genai 1.1.0 has no base URL setting; its SDK (@google/genai) reads
    // GOOGLE_GEMINI_BASE_URL. Gemini's OpenAI compatibility lives under /v1beta/openai.
    name: "google-genai",
    pkg: "@elizaos/plugin-google-genai",
    pluginName: "google-genai",
    keySetting: "GOOGLE_GENERATIVE_AI_API_KEY",
    urlSettings: ["GOOGLE_GEMINI_BASE_URL"],
    modelSettings: ["GOOGLE_LARGE_MODEL", "LARGE_MODEL"],
    defaultModel: "gemini-2.5-pro-preview-03-25",
    baseUrl: (get) => `${trimSlash(get("GOOGLE_GEMINI_BASE_URL") ?? "https://generativelanguage.googleapis.com")}/v1beta/openai`,
  },
  {
    // @elizaos/plugin-elizacloud 1.7.3. The plugin itself never sends `tools` (its text models go
    // through the Responses API with a prompt only), so its package does not show that the cloud
    // accepts them on /chat/completions; the loop also reads tool calls written as text.
    name: "elizacloud",
    pkg: "@elizaos/plugin-elizacloud",
    pluginName: "elizaOSCloud",
    keySetting: "ELIZAOS_CLOUD_API_KEY",
    urlSettings: ["ELIZAOS_CLOUD_BASE_URL"],
    modelSettings: ["ELIZAOS_CLOUD_LARGE_MODEL", "LARGE_MODEL"],
    defaultModel: "gpt-4o",
    baseUrl: (get) => get("ELIZAOS_CLOUD_BASE_URL") ?? "https://www.elizacloud.ai/api/v1",
  },
];

/** @elizaos/plugin-local-ai 1.2.1 runs GGUF models in-process (node-llama-cpp): nothing to call over HTTP. */
export const LOCAL_AI = { pkg: "@elizaos/plugin-local-ai", pluginName: "local-ai" };

export const LOCAL_AI_HINT =
  `${LOCAL_AI.pkg} runs its models inside the agent and has no HTTP endpoint the sidekick could call: ` +
  "serve a model with an OpenAI-compatible server (llama.cpp's llama-server, Ollama, LM Studio) and set " +
  "SIDEKICK_BASE_URL and SIDEKICK_MODEL";

/** The endpoint the sidekick's loop uses, and how it was chosen. */
export interface ModelEndpoint {
  /** A provider name from PROVIDERS, or "custom" (SIDEKICK_BASE_URL, or SIDEKICK_API_KEY alone). */
  provider: string;
  /** How it was chosen, for the log: "loaded plugin @elizaos/plugin-groq", "SIDEKICK_BASE_URL", … */
  via: string;
  baseUrl: string;
  /** Unset: the sidekick's own default. */
  model?: string;
  apiKey?: string;
}

export type EndpointResolution = { endpoint: ModelEndpoint; problem: null } | { endpoint: null; problem: string };

/** The sidekick's own default endpoint (its SIDEKICK_BASE_URL default). */
const SIDEKICK_DEFAULT_BASE_URL = "https://api.openai.com/v1";

function usable(p: ModelProvider, get: Get): boolean {
  return !p.keySetting || Boolean(get(p.keySetting) ?? get("SIDEKICK_API_KEY")) || p.urlSettings.some((s) => get(s) !== undefined);
}

function endpointOf(p: ModelProvider, get: Get, via: string): ModelEndpoint {
  const model = p.modelSettings.map(get).find((v) => v !== undefined) ?? p.defaultModel;
  return { provider: p.name, via, baseUrl: p.baseUrl(get), model, apiKey: p.keySetting ? get(p.keySetting) : undefined };
}

function missingKey(p: ModelProvider): string {
  return `${p.pkg} is loaded but ${p.keySetting} is not set`;
}

function findProvider(name: string): ModelProvider | undefined {
  const wanted = name.trim().toLowerCase();
  return PROVIDERS.find((p) => [p.name, p.pkg, p.pluginName].some((n) => n.toLowerCase() === wanted));
}

const GENERIC_FIX =
  "or set SIDEKICK_BASE_URL and SIDEKICK_MODEL (and SIDEKICK_API_KEY when the server wants one) for any " +
  "OpenAI-compatible server, e.g. SIDEKICK_BASE_URL=http://localhost:11434/v1 SIDEKICK_MODEL=qwen2.5 for Ollama";

function chooseProvider(get: Get, loaded: string[]): EndpointResolution {
  const forced = get("SIDEKICK_PROVIDER");
  if (forced !== undefined) {
    if ([LOCAL_AI.pkg, LOCAL_AI.pluginName].includes(forced.trim())) return { endpoint: null, problem: `SIDEKICK_PROVIDER=${forced}: ${LOCAL_AI_HINT}` };
    const p = findProvider(forced);
    if (!p) return { endpoint: null, problem: `SIDEKICK_PROVIDER=${forced} is not one of ${PROVIDERS.map((x) => x.name).join(", ")}` };
    if (!usable(p, get)) return { endpoint: null, problem: `SIDEKICK_PROVIDER=${forced}, but ${p.keySetting} is not set: add ${p.keySetting}, ${GENERIC_FIX}` };
    return { endpoint: endpointOf(p, get, `SIDEKICK_PROVIDER=${forced}`), problem: null };
  }
  const loadedProviders = loaded.map((name) => PROVIDERS.find((p) => p.pluginName === name)).filter((p): p is ModelProvider => p !== undefined);
  const ready = loadedProviders.find((p) => usable(p, get));
  if (ready) return { endpoint: endpointOf(ready, get, `loaded plugin ${ready.pkg}`), problem: null };
  // Settings without their plugin (the agent's environment has OPENAI_API_KEY, say) still count.
  const configured = PROVIDERS.find((p) => p.keySetting && get(p.keySetting) !== undefined);
  if (configured) return { endpoint: endpointOf(configured, get, `${configured.keySetting} (${configured.pkg} is not loaded)`), problem: null };
  if (get("SIDEKICK_API_KEY") !== undefined) {
    return { endpoint: { provider: "custom", via: "SIDEKICK_API_KEY", baseUrl: SIDEKICK_DEFAULT_BASE_URL }, problem: null };
  }

  const found = loadedProviders.map(missingKey);
  if (loaded.includes(LOCAL_AI.pluginName)) found.push(LOCAL_AI_HINT);
  const keys = (loadedProviders.length ? loadedProviders : PROVIDERS).flatMap((p) => (p.keySetting ? [p.keySetting] : []));
  const looked = found.length ? `${found.join("; ")}.` : `no model plugin is loaded (looked for ${[...PROVIDERS.map((p) => p.pkg), LOCAL_AI.pkg].join(", ")}) and no provider key is set.`;
  return { endpoint: null, problem: `No usable model for the sidekick: ${looked} Add ${keys.join(" or ")} to the character's secrets, ${GENERIC_FIX}.` };
}

/**
 * Picks the loop's endpoint. Explicit SIDEKICK_BASE_URL / SIDEKICK_MODEL / SIDEKICK_API_KEY win;
 * otherwise SIDEKICK_PROVIDER, else the first loaded model plugin (in `loaded`, the runtime's plugin
 * order) that is configured, else a provider whose key is set although its plugin is not loaded.
 */
export function resolveEndpoint(get: Get, loaded: string[] = []): EndpointResolution {
  const baseUrl = get("SIDEKICK_BASE_URL");
  const model = get("SIDEKICK_MODEL");
  const apiKey = get("SIDEKICK_API_KEY");
  // A provider's key is never sent to an endpoint the provider does not own.
  if (baseUrl !== undefined) return { endpoint: { provider: "custom", via: "SIDEKICK_BASE_URL", baseUrl, model, apiKey }, problem: null };
  const chosen = chooseProvider(get, loaded);
  if (!chosen.endpoint) return chosen;
  return { endpoint: { ...chosen.endpoint, model: model ?? chosen.endpoint.model, apiKey: apiKey ?? chosen.endpoint.apiKey }, problem: null };
}

/** What may be shown of an endpoint: no key, and no credentials or query in the URL. */
export function describeEndpoint(e: ModelEndpoint): { provider: string; baseUrl: string; model: string | null } {
  let baseUrl = e.baseUrl;
  try {
    const url = new URL(e.baseUrl);
    url.username = "";
    url.password = "";
    url.search = "";
    baseUrl = url.toString().replace(/\/$/, e.baseUrl.endsWith("/") ? "/" : "");
  } catch {
    baseUrl = "(not a URL)";
  }
  return { provider: e.provider, baseUrl, model: e.model ?? null };
}
