/**
 * Keeps one sidekick process alive: spawn → initialize handshake → ready; on an unexpected exit,
 * restart with exponential backoff (capped, reset after a healthy period) and give up after a
 * crash loop.
 */
import { EventEmitter } from "node:events";
import { SidekickError, SidekickUnavailableError } from "./errors.js";
import type { LoggerLike } from "./log.js";
import { SidekickProcess, type ExitInfo, type SpawnSpec } from "./process.js";

export interface BackoffPolicy {
  /** Delay before the first restart. */
  initialDelayMs: number;
  /** Growth factor per consecutive failure. */
  factor: number;
  /** Upper bound of the delay. */
  maxDelayMs: number;
  /** A process that ran this long counts as healthy: the failure count starts again. */
  healthyAfterMs: number;
  /** Consecutive failures after which the supervisor gives up. */
  maxConsecutiveFailures: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialDelayMs: 500,
  factor: 2,
  maxDelayMs: 30_000,
  healthyAfterMs: 60_000,
  maxConsecutiveFailures: 5,
};

/** The delay before restart number `failures` (1-based), per `policy`. */
export function backoffDelay(policy: BackoffPolicy, failures: number): number {
  return Math.min(policy.maxDelayMs, Math.round(policy.initialDelayMs * policy.factor ** Math.max(0, failures - 1)));
}

export type SupervisorState = "idle" | "starting" | "ready" | "restarting" | "failed" | "stopped";

export interface SupervisorStatus {
  state: SupervisorState;
  pid?: number;
  restarts: number;
  consecutiveFailures: number;
  lastError?: string;
  lastExit?: { code: number | null; signal: string | null; at: string };
  readySince?: string;
  serverInfo?: unknown;
  /** Agent runtimes of this Node process that use this child (1 when it is not shared). */
  sharedBy?: number;
}

export interface SupervisorOptions {
  /** Resolves what to run (may bootstrap a venv on first use; called once per spawn). */
  spec: () => Promise<SpawnSpec>;
  /** Runs the handshake on a fresh process and returns the server's initialize result. */
  handshake: (proc: SidekickProcess) => Promise<unknown>;
  /** Called for each fresh process before the handshake, to register request/notification handlers. */
  attach?: (proc: SidekickProcess) => void;
  logger: LoggerLike;
  backoff?: Partial<BackoffPolicy>;
  /** Per-request default timeout of each process's connection. */
  defaultTimeoutMs?: number;
  stop?: { graceMs?: number; termMs?: number };
}

export interface SupervisorEvents {
  ready: [SidekickProcess];
  exit: [ExitInfo];
  restartScheduled: [{ attempt: number; delayMs: number }];
  gaveUp: [Error];
}

/**
 * Resolves with the process of the emitter's next 'ready'; rejects on its next 'gaveUp' with
 * `onGaveUp(error)`, or after `timeoutMs` (0: never) with `onTimeout()`.
 */
export function nextReady(
  emitter: EventEmitter<SupervisorEvents>,
  timeoutMs: number,
  onGaveUp: (error: Error) => Error,
  onTimeout: () => Error,
): Promise<SidekickProcess> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off("ready", onReady);
      emitter.off("gaveUp", onGaveUpEvent);
    };
    const onReady = (proc: SidekickProcess) => {
      cleanup();
      resolve(proc);
    };
    const onGaveUpEvent = (error: Error) => {
      cleanup();
      reject(onGaveUp(error));
    };
    emitter.on("ready", onReady);
    emitter.on("gaveUp", onGaveUpEvent);
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        cleanup();
        reject(onTimeout());
      }, timeoutMs);
    }
  });
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private state: SupervisorState = "idle";
  private proc: SidekickProcess | null = null;
  private restarts = 0;
  private failures = 0;
  private lastError: Error | null = null;
  private lastExit: SupervisorStatus["lastExit"];
  private readySince: number | null = null;
  private serverInfo: unknown;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly handshakeErrors = new WeakMap<SidekickProcess, Error>();
  private readonly policy: BackoffPolicy;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.policy = { ...DEFAULT_BACKOFF, ...opts.backoff };
  }

  /** Starts the first process; resolves when it is ready, rejects when it could not get there. */
  async start(): Promise<SidekickProcess> {
    if (this.state !== "idle") throw new SidekickError(`supervisor already ${this.state}`);
    this.state = "starting";
    this.launch();
    return this.ready();
  }

  /** The ready process; waits (up to `timeoutMs`) while starting or restarting. */
  ready(timeoutMs = 0): Promise<SidekickProcess> {
    if (this.state === "ready" && this.proc) return Promise.resolve(this.proc);
    if (this.state === "failed" || this.state === "stopped" || this.state === "idle") {
      return Promise.reject(this.unavailable());
    }
    return nextReady(this, timeoutMs, () => this.unavailable(), () =>
      new SidekickUnavailableError(`Python sidekick not ready after ${timeoutMs} ms (${this.state})${this.lastError ? `: ${this.lastError.message}` : ""}`),
    );
  }

  /** A snapshot for the provider and for callers. */
  status(): SupervisorStatus {
    return {
      state: this.state,
      pid: this.state === "ready" ? this.proc?.pid : undefined,
      restarts: this.restarts,
      consecutiveFailures: this.failures,
      lastError: this.lastError?.message,
      lastExit: this.lastExit,
      readySince: this.readySince ? new Date(this.readySince).toISOString() : undefined,
      serverInfo: this.serverInfo,
    };
  }

  /** The current process (ready or not), for tests and diagnostics. */
  get process(): SidekickProcess | null {
    return this.proc;
  }

  /** Stops supervision and the child; no restart follows. */
  async stop(): Promise<void> {
    const wasStopped = this.state === "stopped";
    this.state = "stopped";
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (!wasStopped) this.emit("gaveUp", new SidekickUnavailableError("Python sidekick was stopped"));
    const proc = this.proc;
    if (proc) await proc.stop(this.opts.stop);
  }

  private unavailable(): Error {
    if (this.state === "stopped") return new SidekickUnavailableError("Python sidekick was stopped");
    if (this.state === "idle") return new SidekickUnavailableError("Python sidekick was not started");
    return this.lastError instanceof SidekickUnavailableError
      ? this.lastError
      : new SidekickUnavailableError(`Python sidekick is unavailable: ${this.lastError?.message ?? "unknown error"}`, { cause: this.lastError });
  }

  private launch(): void {
    void this.spawnAndHandshake();
  }

  private async spawnAndHandshake(): Promise<void> {
    let proc: SidekickProcess | null = null;
    try {
      const spec = await this.opts.spec();
      if (this.state === "stopped") return;
      proc = new SidekickProcess(spec, this.opts.logger, { defaultTimeoutMs: this.opts.defaultTimeoutMs });
      this.proc = proc;
      const current = proc;
      proc.once("exit", (info) => this.onExit(current, info));
      this.opts.attach?.(proc);
      const serverInfo = await this.opts.handshake(proc);
      if ((this.state as SupervisorState) === "stopped" || this.proc !== proc || proc.exitStatus) return;
      this.serverInfo = serverInfo;
      this.state = "ready";
      this.readySince = Date.now();
      this.opts.logger.info(`sidekick: ready (pid ${proc.pid}${this.restarts ? `, restart ${this.restarts}` : ""})`);
      this.emit("ready", proc);
    } catch (error) {
      if (this.state === "stopped") return;
      const err = error instanceof Error ? error : new Error(String(error));
      if (!proc) {
        // Nothing to restart: resolving the command failed (no Python, bootstrap error).
        this.giveUp(err);
        return;
      }
      this.handshakeErrors.set(proc, err);
      this.opts.logger.error(`sidekick: handshake failed: ${err.message}`);
      await proc.stop({ graceMs: 500, termMs: 1000 });
    }
  }

  private onExit(proc: SidekickProcess, info: ExitInfo): void {
    this.lastExit = { code: info.code, signal: info.signal, at: new Date().toISOString() };
    this.emit("exit", info);
    if (proc.stopping && this.state === "stopped") return;
    if (this.proc !== proc) return;
    this.readySince = null;
    this.lastError = this.handshakeErrors.get(proc) ?? info.error;
    if (info.spawnError) {
      this.giveUp(info.error);
      return;
    }
    const ranFor = Date.now() - proc.startedAt;
    if (ranFor >= this.policy.healthyAfterMs) this.failures = 0;
    this.failures++;
    this.opts.logger.error(`sidekick: ${this.lastError.message}`);
    if (this.failures > this.policy.maxConsecutiveFailures) {
      this.giveUp(
        new SidekickUnavailableError(
          `Python sidekick crashed ${this.failures} times in a row, giving up (last: ${this.lastError.message}). ` +
            "Check the [sidekick] lines in the log; restart the agent to try again.",
          { cause: info.error },
        ),
      );
      return;
    }
    const delayMs = backoffDelay(this.policy, this.failures);
    this.state = "restarting";
    this.opts.logger.warn(`sidekick: restarting in ${delayMs} ms (attempt ${this.failures} of ${this.policy.maxConsecutiveFailures})`);
    this.emit("restartScheduled", { attempt: this.failures, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.state !== "restarting") return;
      this.restarts++;
      this.launch();
    }, delayMs);
    this.restartTimer.unref();
  }

  private giveUp(error: Error): void {
    this.state = "failed";
    this.lastError = error;
    this.opts.logger.error(`sidekick: ${error.message}`);
    this.emit("gaveUp", error);
  }
}
