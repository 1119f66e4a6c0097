/**
 * PythonSidekickService: owns the supervised sidekick process and offers `executeTask` (a
 * `sidekick/run` agent loop) and `callTool` (one of the sidekick's own tools) to the plugin.
 */
import { Service, type IAgentRuntime } from "@elizaos/core";
import { ensureVenv, PACKAGE_VERSION } from "./bootstrap.js";
import { RpcError, SidekickUnavailableError } from "./errors.js";
import { callHostTool, describeHostTool, hostActionTools, type HostTool, type HostToolResult, type JsonObject } from "./host-tools.js";
import type { LoggerLike } from "./log.js";
import { childEnv, type SidekickProcess, type SpawnSpec } from "./process.js";
import type { Id } from "./rpc.js";
import { readSettings, settingsEnv, type SidekickSettings } from "./settings.js";
import { Supervisor, type BackoffPolicy, type SupervisorStatus } from "./supervisor.js";

export const PROTOCOL_VERSION = "2025-06-18";

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
   * loop could not use after a correction: malformed_call, invented_tool_result, max_tokens, no_answer. */
  kind?: string | null;
}

/** The result of `sidekick/run`. */
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
}

/** Test and embedding hooks; the plugin itself uses the defaults. */
export interface ServiceOptions {
  backoff?: Partial<BackoffPolicy>;
  /** Replaces the spawn spec resolution entirely. */
  spec?: () => Promise<SpawnSpec>;
}

/** Time given to the sidekick beyond a run's own time limit before the request times out here. */
const RUN_GRACE_MS = 30_000;

export class PythonSidekickService extends Service {
  static serviceType = "python_sidekick";
  /** Options applied to instances created by `start` (tests use this for short backoffs). */
  static options: ServiceOptions = {};

  capabilityDescription = "Runs multi-step analysis tasks in a Python tool-calling sidekick process";

  readonly settings: SidekickSettings;
  private readonly log: LoggerLike;
  private readonly supervisor: Supervisor;
  /** Per process: the host tools of each sidekick/run in flight, by its request id. */
  private readonly hostRuns = new WeakMap<SidekickProcess, Map<Id, HostTool[]>>();
  private readonly progressHandlers = new Map<string, (p: RunProgress) => void>();
  private progressCounter = 0;
  private command: string[] | undefined;
  /** A setting that could not be read: the service fails at start with it (a constructor must not throw). */
  private readonly settingsError: Error | null = null;

  constructor(runtime?: IAgentRuntime, options: ServiceOptions = PythonSidekickService.options) {
    super(runtime);
    this.log = (runtime?.logger as LoggerLike | undefined) ?? console;
    let settings: SidekickSettings;
    try {
      settings = readSettings(runtime ?? null);
    } catch (error) {
      this.settingsError = new SidekickUnavailableError(`Invalid setting: ${error instanceof Error ? error.message : String(error)}`);
      settings = readSettings(null, {});
    }
    this.settings = settings;
    this.supervisor = new Supervisor({
      spec: options.spec ?? (() => this.resolveSpec()),
      handshake: (proc) => this.handshake(proc),
      attach: (proc) => this.attach(proc),
      logger: this.log,
      backoff: options.backoff,
    });
  }

  /** Creates the service and starts the sidekick. A failure is logged, never thrown: the agent keeps running without the action. */
  static async start(runtime: IAgentRuntime): Promise<PythonSidekickService> {
    const service = new PythonSidekickService(runtime);
    try {
      await service.supervisor.start();
    } catch (error) {
      service.log.error(`sidekick: not available, PYTHON_ANALYZE is disabled: ${error instanceof Error ? error.message : String(error)}`);
    }
    return service;
  }

  /** Stops the service registered on `runtime`. */
  static async stop(runtime: IAgentRuntime): Promise<void> {
    await runtime.getService<PythonSidekickService>(PythonSidekickService.serviceType)?.stop();
  }

  /** Stops the sidekick (end stdin → SIGTERM → SIGKILL) and rejects what is pending. */
  async stop(): Promise<void> {
    await this.supervisor.stop();
  }

  /** True when the sidekick is ready or on its way there (starting, restarting after a crash). */
  get available(): boolean {
    const { state } = this.supervisor.status();
    return state === "ready" || state === "starting" || state === "restarting";
  }

  /** Status for the provider: state, pid, restarts, last error. */
  getStatus(): SidekickStatus {
    return { ...this.supervisor.status(), hostActions: this.settings.hostActions };
  }

  /** The supervisor, for diagnostics and tests. */
  get processSupervisor(): Supervisor {
    return this.supervisor;
  }

  /**
   * Runs a task in the sidekick's agent loop. Rejects with RpcError (the sidekick refused),
   * SidekickExitedError (it died meanwhile), RequestTimeoutError, RequestCancelledError (signal)
   * or SidekickUnavailableError.
   */
  async executeTask(opts: ExecuteTaskOptions): Promise<RunResult> {
    const proc = await this.supervisor.ready(60_000);
    const hostTools = opts.hostTools ?? (this.runtime ? hostActionTools(this.runtime, this.settings.hostActions, {}, this.log) : []);
    const timeoutMs = opts.timeoutMs ?? this.settings.timeoutMs;
    const token = opts.onProgress ? `run-${++this.progressCounter}` : undefined;
    const model = Object.fromEntries(
      Object.entries({ baseUrl: this.settings.baseUrl, model: this.settings.model, apiKey: this.settings.apiKey }).filter(([, v]) => v !== undefined),
    );
    const params: JsonObject = {
      task: opts.task,
      context: opts.context ?? {},
      timeoutMs,
      ...(hostTools.length ? { hostTools: hostTools.map(describeHostTool) } : {}),
      ...(opts.tools ? { tools: opts.tools } : {}),
      ...(opts.messages ? { messages: opts.messages } : {}),
      ...(opts.system ? { system: opts.system } : {}),
      ...(Object.keys(model).length ? { model } : {}),
      ...((opts.maxSteps ?? this.settings.maxSteps) ? { maxSteps: opts.maxSteps ?? this.settings.maxSteps } : {}),
      ...(opts.tokenBudget ? { tokenBudget: opts.tokenBudget } : {}),
      ...(token ? { _meta: { progressToken: token } } : {}),
    };
    if (token && opts.onProgress) this.progressHandlers.set(token, opts.onProgress);
    const runs = this.hostRuns.get(proc);
    let runId: Id | undefined;
    try {
      return await proc.connection.request<RunResult>("sidekick/run", params, {
        timeoutMs: timeoutMs + RUN_GRACE_MS,
        signal: opts.signal,
        onId: (id) => {
          runId = id;
          if (hostTools.length) runs?.set(id, hostTools);
        },
      });
    } finally {
      if (token) this.progressHandlers.delete(token);
      if (runId !== undefined) runs?.delete(runId);
    }
  }

  /** Calls one of the sidekick's own tools (MCP tools/call). */
  async callTool(name: string, args: JsonObject = {}, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ToolCallResult> {
    const proc = await this.supervisor.ready(60_000);
    return proc.connection.request<ToolCallResult>("tools/call", { name, arguments: args }, opts);
  }

  /** Lists the sidekick's own tools (MCP tools/list). */
  async listTools(): Promise<{ name: string; description?: string; inputSchema: JsonObject }[]> {
    const proc = await this.supervisor.ready(60_000);
    const result = await proc.connection.request<{ tools: { name: string; description?: string; inputSchema: JsonObject }[] }>("tools/list", {});
    return result.tools;
  }

  private async resolveSpec(): Promise<SpawnSpec> {
    if (this.settingsError) throw this.settingsError;
    if (!this.command) {
      if (this.settings.command?.length) {
        this.command = this.settings.command;
      } else {
        const python = await ensureVenv({
          python: this.settings.python,
          cacheDir: this.settings.cacheDir,
          envPassthrough: this.settings.envPassthrough,
          logger: this.log,
        });
        this.command = [python, "-m", "sidekick", "--stdio"];
      }
    }
    const [command, ...args] = this.command;
    if (!command) throw new SidekickUnavailableError("SIDEKICK_COMMAND is empty");
    return { command, args, env: childEnv(settingsEnv(this.settings), this.settings.envPassthrough) };
  }

  private async handshake(proc: SidekickProcess): Promise<unknown> {
    const result = await proc.connection.request(
      "initialize",
      { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "plugin-python-sidekick", version: PACKAGE_VERSION } },
      { timeoutMs: 30_000 },
    );
    proc.connection.notify("notifications/initialized");
    return result;
  }

  private attach(proc: SidekickProcess): void {
    const runs = new Map<Id, HostTool[]>();
    this.hostRuns.set(proc, runs);
    type CallParams = { name?: string; arguments?: JsonObject; _meta?: { relatedRequestId?: Id | null } };
    proc.connection.onRequest("host/callTool", async (params: CallParams, { signal }): Promise<HostToolResult> => {
      const name = String(params?.name);
      const related = params?._meta?.relatedRequestId;
      // Concurrent runs may offer the same action with different conversations: the call runs the
      // tool of its own run. Without relatedRequestId (an older sidekick), the newest run's tool.
      const offered = related !== undefined && related !== null ? (runs.get(related) ?? []) : [...runs.values()].reverse().flat();
      const tool = offered.find((t) => t.name === name);
      if (!tool) throw new RpcError(-32602, `Unknown host tool: ${name}${related !== undefined && related !== null ? ` (run ${JSON.stringify(related)})` : ""}`);
      return callHostTool(tool, params.arguments ?? {}, signal);
    });
    proc.connection.onNotification("notifications/progress", (params: { progressToken?: string } & RunProgress) => {
      const handler = params?.progressToken ? this.progressHandlers.get(params.progressToken) : undefined;
      handler?.({ progress: params.progress, total: params.total, message: params.message });
    });
  }
}
