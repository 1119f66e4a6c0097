/**
 * The plugin's settings, read with runtime.getSetting and falling back to the environment.
 */
import { resolveEndpoint, type ModelEndpoint } from "./providers.js";

/** Something that has elizaOS's getSetting (an IAgentRuntime, or a stub in tests). */
export interface SettingsSource {
  getSetting(key: string): string | boolean | number | null;
  /** The loaded plugins, in load order (the agent's model plugin is picked from them). */
  plugins?: { name: string }[];
}

export interface SidekickSettings {
  /** SIDEKICK_COMMAND split into argv; overrides the bootstrap. */
  command?: string[];
  /** SIDEKICK_PYTHON: the interpreter used to create the venv. */
  python?: string;
  /** The loop's model endpoint; null when no usable model was found (see `endpointProblem`). */
  endpoint: ModelEndpoint | null;
  /** Why there is no endpoint: what was looked for and which settings to add. */
  endpointProblem: string | null;
  maxSteps?: number;
  /** Time limit of one run, in ms. */
  timeoutMs: number;
  allowPrivateUrls: boolean;
  /** Names of the agent's actions that the loop may call. */
  hostActions: string[];
  /** SIDEKICK_CACHE_DIR: where the venv lives (default: the per-user cache directory). */
  cacheDir?: string;
  /** SIDEKICK_ENV_PASSTHROUGH: extra environment variable names passed to the child. */
  envPassthrough: string[];
  /** The Python side's own settings (search providers, log level, streaming, config file), as set. */
  pythonSettings: Record<string, string>;
  /** SIDEKICK_SHARED_CHILD (default on): share one child with the other agents of this process that have the same settings. */
  sharedChild: boolean;
}

/** Settings only the Python side reads; the plugin forwards them to the child as they are. */
export const PYTHON_SETTINGS = [
  "SIDEKICK_SEARXNG_URL",
  "SIDEKICK_DDG_URL",
  "SIDEKICK_LOG_LEVEL",
  "SIDEKICK_STREAM",
  "SIDEKICK_CONFIG",
  "SIDEKICK_MAX_TOKENS",
  "SIDEKICK_CONTEXT_TOKENS",
] as const;

export const DEFAULT_RUN_TIMEOUT_MS = 120_000;

/** Setting names, as declared in package.json agentConfig.pluginParameters. */
export const SETTING_NAMES = [
  "SIDEKICK_COMMAND",
  "SIDEKICK_PYTHON",
  "SIDEKICK_BASE_URL",
  "SIDEKICK_MODEL",
  "SIDEKICK_API_KEY",
  "SIDEKICK_PROVIDER",
  "SIDEKICK_MAX_STEPS",
  "SIDEKICK_TIMEOUT_MS",
  "SIDEKICK_ALLOW_PRIVATE_URLS",
  "SIDEKICK_HOST_ACTIONS",
  "SIDEKICK_CACHE_DIR",
  "SIDEKICK_ENV_PASSTHROUGH",
  "SIDEKICK_SHARED_CHILD",
  ...PYTHON_SETTINGS,
] as const;

/** Splits a command line into argv, honouring single quotes, double quotes and backslashes. */
export function parseCommand(line: string): string[] {
  const args: string[] = [];
  let current = "";
  let inArg = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inArg = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      current += line[++i];
      inArg = true;
    } else if (/\s/.test(ch)) {
      if (inArg) args.push(current);
      current = "";
      inArg = false;
    } else {
      current += ch;
      inArg = true;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} in command: ${line}`);
  if (inArg) args.push(current);
  return args;
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function positiveInt(name: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${value}'`);
  if (n > max) throw new Error(`${name} must be at most ${max}, got '${value}'`);
  return n;
}

/** The sidekick's own bound on maxSteps (schemas/sidekick.run.json). */
export const MAX_STEPS_LIMIT = 200;

/**
 * Reads every setting. `runtime` may be null (environment only). Without SIDEKICK_BASE_URL the model
 * endpoint is the agent's own model provider (see providers.ts), so most agents need no extra config.
 */
export function readSettings(runtime: SettingsSource | null, env: NodeJS.ProcessEnv = process.env): SidekickSettings {
  const get = (key: string): string | undefined => {
    const value = runtime?.getSetting(key);
    if (value !== null && value !== undefined && value !== "") return String(value);
    const fromEnv = env[key];
    return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  };
  const list = (value: string | undefined) =>
    (value ?? "").split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  const command = get("SIDEKICK_COMMAND");
  const { endpoint, problem } = resolveEndpoint(get, (runtime?.plugins ?? []).map((p) => p?.name));
  return {
    command: command ? parseCommand(command) : undefined,
    python: get("SIDEKICK_PYTHON"),
    endpoint,
    endpointProblem: problem,
    maxSteps: positiveInt("SIDEKICK_MAX_STEPS", get("SIDEKICK_MAX_STEPS"), MAX_STEPS_LIMIT),
    timeoutMs: positiveInt("SIDEKICK_TIMEOUT_MS", get("SIDEKICK_TIMEOUT_MS")) ?? DEFAULT_RUN_TIMEOUT_MS,
    allowPrivateUrls: truthy(get("SIDEKICK_ALLOW_PRIVATE_URLS")),
    hostActions: list(get("SIDEKICK_HOST_ACTIONS")),
    cacheDir: get("SIDEKICK_CACHE_DIR"),
    envPassthrough: list(get("SIDEKICK_ENV_PASSTHROUGH")),
    sharedChild: !/^(0|false|no|off)$/i.test(get("SIDEKICK_SHARED_CHILD")?.trim() ?? ""),
    pythonSettings: Object.fromEntries(
      PYTHON_SETTINGS.flatMap((key) => {
        const value = get(key);
        return value === undefined ? [] : [[key, value]];
      }),
    ),
  };
}

/** The sidekick's settings as the child's environment variables. */
export function settingsEnv(s: SidekickSettings): Record<string, string | undefined> {
  return {
    ...s.pythonSettings,
    SIDEKICK_BASE_URL: s.endpoint?.baseUrl,
    SIDEKICK_MODEL: s.endpoint?.model,
    SIDEKICK_API_KEY: s.endpoint?.apiKey,
    SIDEKICK_ALLOW_PRIVATE_URLS: s.allowPrivateUrls ? "1" : undefined,
  };
}
