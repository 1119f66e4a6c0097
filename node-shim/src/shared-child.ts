/**
 * One sidekick child per Node process for every agent runtime with the same settings. Each runtime
 * holds a ChildLease; leases whose resolved spawn spec (command, arguments, working directory and the
 * whole environment the child gets) is the same share one SharedChild: one Supervisor, one connection.
 * What the child sends back (host/callTool, progress) reaches the lease whose request it names; a
 * lease's stop cancels only its own requests, and the last lease out stops the child.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { SidekickError, SidekickUnavailableError } from "./errors.js";
import { callHostTool, hostToolFor, type HostTool, type HostToolResult, type JsonObject } from "./host-tools.js";
import type { LoggerLike } from "./log.js";
import type { SidekickProcess, SpawnSpec } from "./process.js";
import type { Id } from "./rpc.js";
import { DEFAULT_BACKOFF, nextReady, Supervisor, type BackoffPolicy, type SupervisorEvents, type SupervisorStatus } from "./supervisor.js";

export interface LeaseOptions {
  /** Resolves what to run (may bootstrap a venv); called once, by `start()`. */
  spec: () => Promise<SpawnSpec>;
  /** The initialize handshake on a fresh process (the first lease's is used for a shared child). */
  handshake: (proc: SidekickProcess) => Promise<unknown>;
  logger: LoggerLike;
  backoff?: Partial<BackoffPolicy>;
  /** false: this lease gets a child of its own (SIDEKICK_SHARED_CHILD=0). Default true. */
  share?: boolean;
}

export interface LeaseRequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Tools the request (a sidekick/run) may call back: a host/callTool that names it reaches them. */
  hostTools?: HostTool[];
  /** Receives the request's notifications/progress (a progressToken is added to its `_meta`). */
  onProgress?: (params: JsonObject) => void;
  /** How long to wait for a child that is starting or restarting (default 60 s). */
  readyTimeoutMs?: number;
}

/** Children shared in this Node process, by `childKey`. */
const children = new Map<string, SharedChild>();

/** The sharing key: equal for runtimes whose child would be started the same way (the key itself holds no secret). */
export function childKey(spec: SpawnSpec, backoff: Partial<BackoffPolicy> = {}): string {
  const env = Object.entries(spec.env)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const material = JSON.stringify([spec.command, spec.args, spec.cwd ?? null, env, { ...DEFAULT_BACKOFF, ...backoff }]);
  return createHash("sha256").update(material).digest("hex");
}

/** How many shared children this process has, for diagnostics and tests. */
export function sharedChildCount(): number {
  return children.size;
}

/** A logger that writes to whichever logger `target` names at the time of each line. */
function forwardingLogger(target: () => LoggerLike): LoggerLike {
  return {
    debug: (...args) => target().debug(...args),
    info: (...args) => target().info(...args),
    warn: (...args) => target().warn(...args),
    error: (...args) => target().error(...args),
  };
}

/** A signal that aborts with either source; `dispose` removes its listeners from long-lived sources. */
function eitherSignal(a: AbortSignal | undefined, b: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (!a) return { signal: b, dispose: () => {} };
  const controller = new AbortController();
  if (a.aborted || b.aborted) {
    controller.abort((a.aborted ? a : b).reason);
    return { signal: controller.signal, dispose: () => {} };
  }
  const onA = () => controller.abort(a.reason);
  const onB = () => controller.abort(b.reason);
  a.addEventListener("abort", onA, { once: true });
  b.addEventListener("abort", onB, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      a.removeEventListener("abort", onA);
      b.removeEventListener("abort", onB);
    },
  };
}

/** One supervised child and the runtimes using it. */
class SharedChild {
  readonly supervisor: Supervisor;
  /** In joining order: the first is the one whose logger gets the child's lines. */
  readonly leases = new Set<ChildLease>();
  /** Per process: the host tools of each request in flight that offered some, by its request id. */
  private readonly runs = new WeakMap<SidekickProcess, Map<Id, HostTool[]>>();
  private readonly progress = new Map<string, (params: JsonObject) => void>();
  private progressCounter = 0;

  private constructor(readonly key: string | null, spec: SpawnSpec, opts: LeaseOptions) {
    // The child's stderr and the supervisor's reports go to one runtime's log, not to every one.
    const logger = forwardingLogger(() => this.leases.values().next().value?.logger ?? opts.logger);
    this.supervisor = new Supervisor({ spec: async () => spec, handshake: opts.handshake, attach: (proc) => this.attach(proc), logger, backoff: opts.backoff });
    this.supervisor.setMaxListeners(0); // each lease forwards its events: 4 listeners a runtime
    this.supervisor.start().catch(() => {}); // every lease's ready() reports the failure
  }

  /** The child `lease` joins: the shared one for its spec, a fresh one if none (or it gave up), or its own. */
  static join(lease: ChildLease, spec: SpawnSpec, opts: LeaseOptions): SharedChild {
    const key = opts.share === false ? null : childKey(spec, opts.backoff);
    let child = key ? children.get(key) : undefined;
    // A child that gave up stays with the leases that saw it fail; a newcomer gets a fresh try.
    if (!child || child.supervisor.status().state === "failed") {
      child = new SharedChild(key, spec, opts);
      if (key) children.set(key, child);
    }
    child.leases.add(lease);
    return child;
  }

  /** `lease` is done; the last one out stops the child. */
  async leave(lease: ChildLease): Promise<void> {
    if (!this.leases.delete(lease) || this.leases.size > 0) return;
    if (this.key && children.get(this.key) === this) children.delete(this.key);
    await this.supervisor.stop();
  }

  /** Sends `method` on `proc` for a lease, cancelled when `leaseSignal` aborts. */
  async request<T>(proc: SidekickProcess, leaseSignal: AbortSignal, method: string, params: JsonObject, opts: LeaseRequestOptions): Promise<T> {
    const runs = this.runs.get(proc);
    const signal = eitherSignal(opts.signal, leaseSignal);
    const token = opts.onProgress ? `p${++this.progressCounter}` : undefined;
    if (token && opts.onProgress) this.progress.set(token, opts.onProgress);
    const sent = token ? { ...params, _meta: { ...(params._meta as JsonObject | undefined), progressToken: token } } : params;
    let id: Id | undefined;
    try {
      return await proc.connection.request<T>(method, sent, {
        timeoutMs: opts.timeoutMs,
        signal: signal.signal,
        onId: (requestId) => {
          id = requestId;
          if (opts.hostTools) runs?.set(requestId, opts.hostTools);
        },
      });
    } finally {
      signal.dispose();
      if (token) this.progress.delete(token);
      if (id !== undefined) runs?.delete(id);
    }
  }

  private attach(proc: SidekickProcess): void {
    const runs = new Map<Id, HostTool[]>();
    this.runs.set(proc, runs);
    type CallParams = { name?: string; arguments?: JsonObject; _meta?: { relatedRequestId?: Id | null } };
    // The run's own tools are closures over its runtime: naming the run names the runtime.
    proc.connection.onRequest("host/callTool", async (params: CallParams, { signal }): Promise<HostToolResult> => {
      const tool = hostToolFor(runs, String(params?.name), params?._meta?.relatedRequestId);
      return callHostTool(tool, params.arguments ?? {}, signal);
    });
    proc.connection.onNotification("notifications/progress", (params: JsonObject) => {
      const token = params?.progressToken;
      if (typeof token === "string") this.progress.get(token)?.(params);
    });
  }
}

type LeaseState = "idle" | "starting" | "joined" | "failed" | "stopped";

const SUPERVISOR_EVENTS = ["ready", "exit", "restartScheduled", "gaveUp"] as const;

/**
 * One agent runtime's hold on a (usually shared) sidekick child. It looks like a Supervisor: start,
 * ready, status, its events, stop; `request` sends on the child for this runtime alone, and `stop`
 * cancels this runtime's requests and leaves the child to the others.
 */
export class ChildLease extends EventEmitter<SupervisorEvents> {
  private state: LeaseState = "idle";
  private child: SharedChild | null = null;
  private error: Error | null = null;
  private lastStatus: SupervisorStatus | null = null;
  private stopping: Promise<void> | null = null;
  private readonly cancelAll = new AbortController();
  private readonly forwarders: [keyof SupervisorEvents, (...args: any[]) => void][] = [];

  constructor(private readonly opts: LeaseOptions) {
    super();
  }

  /** This runtime's logger. */
  get logger(): LoggerLike {
    return this.opts.logger;
  }

  /** Resolves the spec, joins the child for it and waits until it is ready. */
  async start(): Promise<SidekickProcess> {
    if (this.state !== "idle") throw new SidekickError(`sidekick already ${this.state}`);
    this.state = "starting";
    let spec: SpawnSpec;
    try {
      spec = await this.opts.spec();
    } catch (error) {
      if ((this.state as LeaseState) === "stopped") throw this.unavailable();
      // Nothing to restart: resolving the command failed (no Python, bootstrap error).
      this.state = "failed";
      this.error = error instanceof Error ? error : new Error(String(error));
      this.opts.logger.error(`sidekick: ${this.error.message}`);
      this.emit("gaveUp", this.error);
      throw this.unavailable();
    }
    if ((this.state as LeaseState) === "stopped") throw this.unavailable();
    const child = SharedChild.join(this, spec, this.opts);
    this.child = child;
    this.state = "joined";
    for (const event of SUPERVISOR_EVENTS) {
      const forward = (...args: any[]) => (this.emit as (e: string, ...a: any[]) => boolean)(event, ...args);
      child.supervisor.on(event, forward);
      this.forwarders.push([event, forward]);
    }
    const { state, pid } = child.supervisor.status();
    if (child.leases.size > 1) {
      this.opts.logger.info(`sidekick: sharing the sidekick${pid ? ` (pid ${pid})` : ""} of ${child.leases.size - 1} other agent(s) in this process`);
    }
    const ready = this.ready();
    if (state === "ready" && child.supervisor.process) this.emit("ready", child.supervisor.process);
    return ready;
  }

  /** The ready process; waits (up to `timeoutMs`, 0 = no limit) while starting or restarting. */
  ready(timeoutMs = 0): Promise<SidekickProcess> {
    const supervisor = this.state === "joined" ? this.child?.supervisor : undefined;
    if (supervisor) {
      const { state } = supervisor.status();
      if (state === "ready" || state === "failed") return supervisor.ready();
    } else if (this.state !== "starting") {
      return Promise.reject(this.unavailable());
    }
    return nextReady(this, timeoutMs, (error) => this.unavailable(error), () => {
      const why = this.child?.supervisor.status().lastError;
      return new SidekickUnavailableError(`Python sidekick not ready after ${timeoutMs} ms (${this.status().state})${why ? `: ${why}` : ""}`);
    });
  }

  /** The child's status as this runtime sees it (`stopped` once it left; `sharedBy` counts the runtimes on it). */
  status(): SupervisorStatus {
    if (this.state === "joined" && this.child) return { ...this.child.supervisor.status(), sharedBy: this.child.leases.size };
    if (this.state === "stopped" && this.lastStatus) return this.lastStatus;
    const state = this.state === "joined" ? "starting" : this.state;
    return { state, restarts: 0, consecutiveFailures: 0, ...(this.error ? { lastError: this.error.message } : {}) };
  }

  /** The child's current process (ready or not), for tests and diagnostics. */
  get process(): SidekickProcess | null {
    return this.child?.supervisor.process ?? null;
  }

  /**
   * Sends a request on the child for this runtime. Rejects like JsonRpcConnection.request, with
   * SidekickUnavailableError when the child cannot be had, and with RequestCancelledError when this
   * lease stops meanwhile.
   */
  async request<T = unknown>(method: string, params: JsonObject, opts: LeaseRequestOptions = {}): Promise<T> {
    const proc = await this.ready(opts.readyTimeoutMs ?? 60_000);
    return this.child!.request<T>(proc, this.cancelAll.signal, method, params, opts);
  }

  /**
   * Leaves the child: this runtime's requests in flight are cancelled (the sidekick is told, their
   * promises reject), and the child is stopped when no other runtime uses it. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const child = this.child;
    const stopped = new SidekickUnavailableError("Python sidekick was stopped");
    this.lastStatus = { ...this.status(), state: "stopped", pid: undefined, sharedBy: undefined };
    this.state = "stopped";
    for (const [event, forward] of this.forwarders) child?.supervisor.off(event, forward);
    this.cancelAll.abort(stopped);
    this.emit("gaveUp", stopped);
    this.stopping = child ? child.leave(this) : Promise.resolve();
    return this.stopping;
  }

  private unavailable(error: Error | null = this.error): Error {
    if (this.state === "stopped") return new SidekickUnavailableError("Python sidekick was stopped");
    if (this.state === "idle") return new SidekickUnavailableError("Python sidekick was not started");
    return error instanceof SidekickUnavailableError
      ? error
      : new SidekickUnavailableError(`Python sidekick is unavailable: ${error?.message ?? "unknown error"}`, { cause: error });
  }
}
