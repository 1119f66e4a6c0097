/**
 * PythonSidekickService: owns the supervised sidekick process and offers `executeTask` (a
 * `sidekick/run` agent loop) and `callTool` (one of the sidekick's own tools) to the plugin.
 */
import { Service, type IAgentRuntime } from "@elizaos/core";
import { ensureVenv, PACKAGE_VERSION } from "./bootstrap.js";
import { SidekickUnavailableError } from "./errors.js";
import { callHostTool, describeHostTool, hostActionTools, hostToolFor, type HostTool, type HostToolResult, type JsonObject } from "./host-tools.js";
import type { LoggerLike } from "./log.js";
import { childEnv, type SidekickProcess, type SpawnSpec } from "./process.js";
import { describeEndpoint } from "./providers.js";
import type { Id } from "./rpc.js";
import { readSettings, settingsEnv, type SidekickSettings } from "./settings.js";
import { Supervisor } from "./supervisor.js";
import type { ExecuteTaskOptions, RunProgress, RunResult, ServiceOptions, SidekickStatus, TaskResult, ToolCallResult } from "./types.js";

export type { EndpointInfo, ExecuteTaskOptions, RunError, RunProgress, RunResult, RunStep, ServiceOptions, SidekickStatus, TaskResult, ToolCallResult } from "./types.js";

export const PROTOCOL_VERSION = "2025-06-18";

/** Time given to the sidekick beyond a run's own time limit before the request times out here. */
const RUN_GRACE_MS = 30_000;

/** Services started early by `prewarm`, waiting for the runtime to `start` them. */
const prewarmed = new WeakMap<object, PythonSidekickService>();
/** A prewarmed sidekick that no start() adopted by then (the runtime failed to initialize) is stopped. */
const PREWARM_ADOPT_MS = 120_000;

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

  /**
   * Starts the sidekick for `runtime` before the runtime starts its services (which it does only at
   * the end of initialize()), so Python starts up meanwhile. `start` adopts it. Never throws.
   */
  static prewarm(runtime: IAgentRuntime): void {
    if (prewarmed.has(runtime)) return;
    const service = new PythonSidekickService(runtime);
    prewarmed.set(runtime, service);
    service.supervisor.start().catch(() => {}); // start() reports the failure
    setTimeout(() => {
      if (prewarmed.get(runtime) !== service) return;
      prewarmed.delete(runtime);
      void service.stop();
    }, PREWARM_ADOPT_MS).unref();
  }

  /** Creates the service (or adopts the prewarmed one) and waits for the sidekick. A failure is logged, never thrown: the agent keeps running without the action. */
  static async start(runtime: IAgentRuntime): Promise<PythonSidekickService> {
    let service = prewarmed.get(runtime);
    prewarmed.delete(runtime);
    const fresh = new PythonSidekickService(runtime);
    // Settings stored with the agent are merged in during initialize(), after the prewarm read them.
    if (service && JSON.stringify(service.settings) !== JSON.stringify(fresh.settings)) {
      await service.stop();
      service = undefined;
    }
    service ??= fresh;
    service.logEndpoint();
    try {
      await (service.supervisor.status().state === "idle" ? service.supervisor.start() : service.supervisor.ready());
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

  /** True when the loop has a model endpoint (the agent's provider or SIDEKICK_* settings). */
  get modelConfigured(): boolean {
    return this.settings.endpoint !== null;
  }

  /** Status for the provider: state, pid, restarts, last error, the model endpoint. */
  getStatus(): SidekickStatus {
    const { endpoint, endpointProblem } = this.settings;
    return {
      ...this.supervisor.status(),
      hostActions: this.settings.hostActions,
      endpoint: endpoint ? describeEndpoint(endpoint) : null,
      ...(endpointProblem ? { endpointProblem } : {}),
    };
  }

  /** The supervisor, for diagnostics and tests. */
  get processSupervisor(): Supervisor {
    return this.supervisor;
  }

  /**
   * Runs a task in the sidekick's agent loop. Rejects with RpcError (the sidekick refused),
   * SidekickExitedError (it died meanwhile), RequestTimeoutError, RequestCancelledError (signal)
   * or SidekickUnavailableError (also when no model is configured).
   */
  async executeTask(opts: ExecuteTaskOptions): Promise<TaskResult> {
    const proc = await this.supervisor.ready(60_000);
    const { endpoint, endpointProblem } = this.settings;
    if (!endpoint) throw new SidekickUnavailableError(endpointProblem ?? "No usable model for the sidekick");
    const hostTools = opts.hostTools ?? (this.runtime ? hostActionTools(this.runtime, this.settings.hostActions, {}, this.log) : []);
    const timeoutMs = opts.timeoutMs ?? this.settings.timeoutMs;
    const token = opts.onProgress ? `run-${++this.progressCounter}` : undefined;
    const model = Object.fromEntries(Object.entries({ baseUrl: endpoint.baseUrl, model: endpoint.model, apiKey: endpoint.apiKey }).filter(([, v]) => v !== undefined));
    const maxSteps = opts.maxSteps ?? this.settings.maxSteps;
    const params: JsonObject = {
      task: opts.task,
      context: opts.context ?? {},
      timeoutMs,
      model,
      ...(hostTools.length ? { hostTools: hostTools.map(describeHostTool) } : {}),
      ...(opts.tools ? { tools: opts.tools } : {}),
      ...(opts.messages ? { messages: opts.messages } : {}),
      ...(opts.system ? { system: opts.system } : {}),
      ...(maxSteps ? { maxSteps } : {}),
      ...(opts.tokenBudget ? { tokenBudget: opts.tokenBudget } : {}),
      ...(token ? { _meta: { progressToken: token } } : {}),
    };
    if (token && opts.onProgress) this.progressHandlers.set(token, opts.onProgress);
    const runs = this.hostRuns.get(proc);
    let runId: Id | undefined;
    try {
      const result = await proc.connection.request<RunResult>("sidekick/run", params, {
        timeoutMs: timeoutMs + RUN_GRACE_MS,
        signal: opts.signal,
        onId: (id) => {
          runId = id;
          runs?.set(id, hostTools);
        },
      });
      return { ...result, endpoint: describeEndpoint(endpoint) };
    } finally {
      if (token) this.progressHandlers.delete(token);
      if (runId !== undefined) runs?.delete(runId);
    }
  }

  /** Calls one of the sidekick's own tools (MCP tools/call). Needs no model. */
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

  /** Logs the model endpoint, or once why there is none. */
  private logEndpoint(): void {
    const { endpoint, endpointProblem } = this.settings;
    if (endpoint) {
      const shown = describeEndpoint(endpoint);
      this.log.info(`sidekick: model ${shown.model ?? "(the sidekick's default)"} at ${shown.baseUrl}, provider ${shown.provider} (${endpoint.via})`);
    } else {
      this.log.warn(`sidekick: PYTHON_ANALYZE is not offered. ${endpointProblem}`);
    }
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
      const tool = hostToolFor(runs, String(params?.name), params?._meta?.relatedRequestId);
      return callHostTool(tool, params.arguments ?? {}, signal);
    });
    proc.connection.onNotification("notifications/progress", (params: { progressToken?: string } & RunProgress) => {
      const handler = params?.progressToken ? this.progressHandlers.get(params.progressToken) : undefined;
      handler?.({ progress: params.progress, total: params.total, message: params.message });
    });
  }
}
