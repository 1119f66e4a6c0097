/** The shapes `PythonSidekickService` takes and gives: run options, run results, status. */
import type { HostTool, JsonObject } from "./host-tools.js";
import type { SpawnSpec } from "./process.js";
import type { BackoffPolicy, SupervisorStatus } from "./supervisor.js";

/** One step of a run, as the sidekick reports it. */
export interface RunStep {
  tool: string;
  arguments: unknown;
  ok: boolean;
  preview: string;
  durationMs: number;
  /** Where the tool lives: a built-in of the sidekick or a host tool. */
  source?: "builtin" | "host" | "unknown";
  /** The same call had already succeeded in this run: not run again, its result given back. */
  repeated?: boolean;
  [key: string]: unknown;
}

/** Why a run stopped with stopReason "error". */
export interface RunError {
  code: number;
  message: string;
  /** For model errors (-32010): auth, rate_limit, timeout, connection, context_overflow, …, or a reply the
   * loop could not use after a correction: malformed_call, invented_tool_result, max_tokens, no_answer,
   * echoed_correction. */
  kind?: string | null;
}

/** The model endpoint a run used, as it may be shown (never the key). */
export interface EndpointInfo {
  /** openai, anthropic, ollama, openrouter, groq, google-genai, elizacloud, or custom (SIDEKICK_BASE_URL). */
  provider: string;
  baseUrl: string;
  /** null: the sidekick's own default model. */
  model: string | null;
}

/** The result of `sidekick/run`, as on the wire. */
export interface RunResult {
  text: string;
  stopReason: "done" | "max_steps" | "timeout" | "token_budget" | "error";
  steps: RunStep[];
  toolsUsed: string[];
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  messages: unknown[];
  /** Model calls the run made. */
  modelTurns: number;
  durationMs: number;
  /** Set when stopReason is "error". */
  error?: RunError | null;
}

/** What `executeTask` resolves with: the run's result and the endpoint the plugin sent it to. */
export interface TaskResult extends RunResult {
  endpoint: EndpointInfo;
}

/** A progress notification of a run. */
export interface RunProgress {
  progress: number;
  total?: number;
  message?: string;
}

export interface ExecuteTaskOptions {
  task: string;
  context?: JsonObject;
  /** Tools the loop may call back on the host; default: the actions in SIDEKICK_HOST_ACTIONS. */
  hostTools?: HostTool[];
  /** Names of the sidekick's own tools to allow (default: all). */
  tools?: string[];
  /** Earlier turns of the conversation, chat-completions format. */
  messages?: unknown[];
  system?: string;
  maxSteps?: number;
  timeoutMs?: number;
  tokenBudget?: number;
  signal?: AbortSignal;
  onProgress?: (progress: RunProgress) => void;
}

/** The MCP tools/call result. */
export interface ToolCallResult {
  content: { type: string; text?: string }[];
  structuredContent?: unknown;
  isError: boolean;
}

export interface SidekickStatus extends SupervisorStatus {
  hostActions: string[];
  /** The loop's model endpoint; null when none is configured. */
  endpoint: EndpointInfo | null;
  /** Why no endpoint is configured, and which settings to add. */
  endpointProblem?: string;
}

/** Test and embedding hooks; the plugin itself uses the defaults. */
export interface ServiceOptions {
  backoff?: Partial<BackoffPolicy>;
  /** Replaces the spawn spec resolution entirely. */
  spec?: () => Promise<SpawnSpec>;
}
