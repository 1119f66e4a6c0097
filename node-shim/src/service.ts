/**
 * PythonSidekickService: one agent runtime's service. It holds a lease on the supervised sidekick
 * process (shared with the other runtimes of this Node process that have the same settings, see
 * shared-child.ts) and offers `executeTask` (a `sidekick/run` agent loop) and `callTool` (one of the
 * sidekick's own tools) to the plugin.
 */
import { Service, type IAgentRuntime } from "@elizaos/core";
import { ensureVenv, PACKAGE_VERSION } from "./bootstrap.js";
import { SidekickUnavailableError } from "./errors.js";
import { describeHostTool, hostActionTools, type JsonObject } from "./host-tools.js";
import type { LoggerLike } from "./log.js";
import { childEnv, type SidekickProcess, type SpawnSpec } from "./process.js";
import { describeEndpoint } from "./providers.js";
import { readSettings, settingsEnv, type SidekickSettings } from "./settings.js";
import { ChildLease } from "./shared-child.js";
import type { ExecuteTaskOptions, RunResult, ServiceOptions, SidekickStatus, TaskResult, ToolCallResult } from "./types.js";

export type { EndpointInfo, ExecuteTaskOptions, RunError, RunProgress, RunResult, RunStep, ServiceOptions, SidekickStatus, TaskResult, ToolCallResult } from "./types.js";

export const PROTOCOL_VERSION = "2025-06-18";

/** Time given to the sidekick beyond a run's own time limit before the request times out here. */
const RUN_GRACE_MS = 30_000;

/** Venv bootstraps in progress, by their options: agents starting together wait for one. */
const bootstraps = new Map<string, Promise<string>>();

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
  private readonly lease: ChildLease;
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
    this.lease = new ChildLease({
      spec: options.spec ?? (() => this.resolveSpec()),
      handshake,
      logger: this.log,
      backoff: options.backoff,
      share: settings.sharedChild,
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
    service.lease.start().catch(() => {}); // start() reports the failure
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
    // The prewarmed lease is dropped only once the fresh one holds its child: a child both would
    // start the same way (the changes did not reach its environment) is kept.
    let stale: PythonSidekickService | undefined;
    if (service && JSON.stringify(service.settings) !== JSON.stringify(fresh.settings)) {
      stale = service;
      service = undefined;
    }
    service ??= fresh;
    service.logEndpoint();
    try {
      await (service.lease.status().state === "idle" ? service.lease.start() : service.lease.ready());
    } catch (error) {
      service.log.error(`sidekick: not available, PYTHON_ANALYZE is disabled: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await stale?.stop();
    }
    return service;
  }

  /** Stops the service registered on `runtime`. */
  static async stop(runtime: IAgentRuntime): Promise<void> {
    await runtime.getService<PythonSidekickService>(PythonSidekickService.serviceType)?.stop();
  }

  /**
   * Cancels this runtime's requests in flight (they reject) and leaves the sidekick; the last runtime
   * using it stops it (end stdin → SIGTERM → SIGKILL). Other runtimes' runs are not touched.
   */
  async stop(): Promise<void> {
    await this.lease.stop();
  }

  /** True when the sidekick is ready or on its way there (starting, restarting after a crash). */
  get available(): boolean {
    const { state } = this.lease.status();
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
      ...this.lease.status(),
      hostActions: this.settings.hostActions,
      endpoint: endpoint ? describeEndpoint(endpoint) : null,
      ...(endpointProblem ? { endpointProblem } : {}),
    };
  }

  /** This runtime's lease on its supervised sidekick (start, ready, status, events), for diagnostics and tests. */
  get processSupervisor(): ChildLease {
    return this.lease;
  }

  /**
   * Runs a task in the sidekick's agent loop. Rejects with RpcError (the sidekick refused),
   * SidekickExitedError (it died meanwhile), RequestTimeoutError, RequestCancelledError (signal)
   * or SidekickUnavailableError (also when no model is configured).
   */
  async executeTask(opts: ExecuteTaskOptions): Promise<TaskResult> {
    await this.lease.ready(60_000);
    const { endpoint, endpointProblem } = this.settings;
    if (!endpoint) throw new SidekickUnavailableError(endpointProblem ?? "No usable model for the sidekick");
    const hostTools = opts.hostTools ?? (this.runtime ? hostActionTools(this.runtime, this.settings.hostActions, {}, this.log) : []);
    const timeoutMs = opts.timeoutMs ?? this.settings.timeoutMs;
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
    };
    const { onProgress } = opts;
    const result = await this.lease.request<RunResult>("sidekick/run", params, {
      timeoutMs: timeoutMs + RUN_GRACE_MS,
      signal: opts.signal,
      hostTools,
      onProgress: onProgress && ((p) => onProgress({ progress: p.progress as number, total: p.total as number | undefined, message: p.message as string | undefined })),
    });
    return { ...result, endpoint: describeEndpoint(endpoint) };
  }

  /** Calls one of the sidekick's own tools (MCP tools/call). Needs no model. */
  async callTool(name: string, args: JsonObject = {}, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ToolCallResult> {
    return this.lease.request<ToolCallResult>("tools/call", { name, arguments: args }, opts);
  }

  /** Lists the sidekick's own tools (MCP tools/list). */
  async listTools(): Promise<{ name: string; description?: string; inputSchema: JsonObject }[]> {
    const result = await this.lease.request<{ tools: { name: string; description?: string; inputSchema: JsonObject }[] }>("tools/list", {});
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
        const options = { python: this.settings.python, cacheDir: this.settings.cacheDir, envPassthrough: this.settings.envPassthrough };
        const key = JSON.stringify(options);
        let bootstrap = bootstraps.get(key);
        if (!bootstrap) {
          bootstrap = ensureVenv({ ...options, logger: this.log }).finally(() => bootstraps.delete(key));
          bootstraps.set(key, bootstrap);
        }
        const python = await bootstrap;
        this.command = [python, "-m", "sidekick", "--stdio"];
      }
    }
    const [command, ...args] = this.command;
    if (!command) throw new SidekickUnavailableError("SIDEKICK_COMMAND is empty");
    return { command, args, env: childEnv(settingsEnv(this.settings), this.settings.envPassthrough) };
  }
}

/** The initialize handshake on a fresh sidekick process. */
async function handshake(proc: SidekickProcess): Promise<unknown> {
  const result = await proc.connection.request(
    "initialize",
    { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "plugin-python-sidekick", version: PACKAGE_VERSION } },
    { timeoutMs: 30_000 },
  );
  proc.connection.notify("notifications/initialized");
  return result;
}
