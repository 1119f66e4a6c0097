/**
 * One sidekick child process: spawned with an allow-listed environment, its stdout wired to a
 * JsonRpcConnection, its stderr read line by line into the logger, and a stop that escalates
 * (end stdin → wait → SIGTERM → wait → SIGKILL).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { SidekickExitedError } from "./errors.js";
import { readLines } from "./lines.js";
import { clip, type LoggerLike } from "./log.js";
import { JsonRpcConnection } from "./rpc.js";

/** What to run. */
export interface SpawnSpec {
  command: string;
  args: string[];
  /** The complete environment of the child (build it with `childEnv`). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process never started (e.g. ENOENT). */
  spawnError?: Error;
  error: SidekickExitedError;
}

/** Variables passed from the agent's environment to the child; everything else stays behind. */
export const ENV_ALLOW_LIST = [
  "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
  "TMPDIR", "TMP", "TEMP", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
  "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "APPDATA", "LOCALAPPDATA", "USERPROFILE",
  "HOMEDRIVE", "HOMEPATH", "PROGRAMDATA", "PROGRAMFILES",
  "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
  "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT", "PIPX_HOME", "PIPX_BIN_DIR",
];

/**
 * Builds the child's environment: the allow-list (plus LC_* and `extraNames`) from `source`, then
 * `overrides` (the sidekick's own settings; undefined values are left out).
 */
export function childEnv(
  overrides: Record<string, string | undefined>,
  extraNames: string[] = [],
  source: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const allowed = new Set([...ENV_ALLOW_LIST, ...extraNames]);
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && (allowed.has(name) || name.startsWith("LC_"))) env[name] = value;
  }
  env.PYTHONUNBUFFERED = "1";
  env.PYTHONIOENCODING = "utf-8";
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) env[name] = value;
  return env;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The child dies with the parent: stdin EOF covers crashes of the parent, this covers process.exit(). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

/** Logs at most `perSecond` lines each second and reports how many it dropped. */
class LineLimiter {
  private windowStart = 0;
  private count = 0;
  private dropped = 0;
  private reportTimer: NodeJS.Timeout | null = null;
  constructor(private readonly perSecond: number, private readonly logger: LoggerLike) {}

  take(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.report();
      this.windowStart = now;
      this.count = 0;
    }
    if (this.count < this.perSecond) {
      this.count++;
      return true;
    }
    this.dropped++;
    if (!this.reportTimer) {
      this.reportTimer = setTimeout(() => this.report(), Math.max(0, this.windowStart + 1000 - now));
      this.reportTimer.unref();
    }
    return false;
  }

  report(): void {
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.reportTimer = null;
    if (this.dropped > 0) this.logger.warn(`sidekick: ${this.dropped} stderr lines suppressed (more than ${this.perSecond} per second)`);
    this.dropped = 0;
  }
}

function logStderrLine(logger: LoggerLike, line: string): void {
  const text = `[sidekick] ${clip(line, 2000)}`;
  if (/\b(CRITICAL|ERROR|Traceback)\b/.test(line)) logger.error(text);
  else if (/\bWARN(ING)?\b/.test(line)) logger.warn(text);
  else if (/\bDEBUG\b/.test(line)) logger.debug(text);
  else logger.info(text);
}

/** Longer stderr lines are not logged (nor kept in memory). */
const STDERR_MAX_LINE_BYTES = 64 * 1024;

export interface SidekickProcessEvents {
  exit: [ExitInfo];
}

/** A running sidekick child and the JSON-RPC connection over its stdio. */
export class SidekickProcess extends EventEmitter<SidekickProcessEvents> {
  readonly child: ChildProcess;
  readonly connection: JsonRpcConnection;
  /** Resolves once the process has exited and its streams are closed. */
  readonly exited: Promise<ExitInfo>;
  /** Set once `stop()` was called: the exit was asked for. */
  stopping = false;
  readonly startedAt = Date.now();
  private exitInfo: ExitInfo | null = null;
  private readonly stderrTail: string[] = [];

  constructor(spec: SpawnSpec, private readonly logger: LoggerLike, opts: { defaultTimeoutMs?: number; stderrLinesPerSecond?: number } = {}) {
    super();
    installExitHook();
    this.child = spawn(spec.command, spec.args, {
      env: spec.env,
      cwd: spec.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    live.add(this.child);
    const { stdin, stdout, stderr } = this.child;
    if (!stdin || !stdout || !stderr) throw new Error("spawn gave no stdio pipes");
    // An idle sidekick must not keep the agent alive (pending requests hold their own timers);
    // when the agent exits, the exit hook and stdin EOF end the child.
    this.child.unref();
    for (const pipe of [stdin, stdout, stderr]) (pipe as unknown as { unref?: () => void }).unref?.();
    // EPIPE after the child died and similar: the exit handler reports the real cause.
    stdin.on("error", (error) => logger.debug(`sidekick: stdin error: ${error.message}`));
    stdout.on("error", (error) => logger.debug(`sidekick: stdout error: ${error.message}`));
    stderr.on("error", (error) => logger.debug(`sidekick: stderr error: ${error.message}`));

    this.connection = new JsonRpcConnection({ input: stdout, output: stdin, logger, defaultTimeoutMs: opts.defaultTimeoutMs });
    const limiter = new LineLimiter(opts.stderrLinesPerSecond ?? 200, logger);
    const onStderrLine = (line: string) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
      if (limiter.take()) logStderrLine(logger, line);
    };
    readLines(stderr, STDERR_MAX_LINE_BYTES, { onLine: onStderrLine, onOversize: (bytes) => onStderrLine(`(a ${bytes}-byte line, not shown)`) });
    stderr.on("close", () => limiter.report());

    this.exited = new Promise((resolve) => {
      let spawnError: Error | undefined;
      let settled = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        live.delete(this.child);
        const detail = spawnError ? `could not start '${spec.command}': ${spawnError.message}` : this.lastStderr();
        const error = new SidekickExitedError(code, signal, detail || undefined);
        this.exitInfo = { code, signal, spawnError, error };
        this.connection.close(error);
        this.emit("exit", this.exitInfo);
        resolve(this.exitInfo);
      };
      this.child.on("error", (error) => {
        if (this.child.pid === undefined) {
          spawnError = error;
          finish(null, null);
        } else {
          logger.warn(`sidekick: process error: ${error.message}`);
        }
      });
      // 'close' comes after the pipes drain, so answers written just before the exit still arrive;
      // a grandchild holding the pipes open must not delay the report forever.
      this.child.on("exit", (code, signal) => {
        const timer = setTimeout(() => finish(code, signal), 500);
        // A stop being awaited must see the report; otherwise an exited child holds nothing up.
        if (!this.stopping) timer.unref();
        this.child.once("close", () => {
          clearTimeout(timer);
          finish(code, signal);
        });
      });
    });
  }

  /** The OS process id (undefined when the spawn failed). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The exit report, once it has exited. */
  get exitStatus(): ExitInfo | null {
    return this.exitInfo;
  }

  /** The last stderr lines, joined; used in exit errors. */
  lastStderr(lines = 5): string {
    const tail = this.stderrTail.slice(-lines).join(" | ");
    return tail ? `last stderr: ${clip(tail, 600)}` : "";
  }

  /**
   * Stops the child: end stdin (the sidekick exits on EOF) → wait `graceMs` → SIGTERM → wait
   * `termMs` → SIGKILL. Resolves when it is gone.
   */
  async stop(opts: { graceMs?: number; termMs?: number } = {}): Promise<ExitInfo> {
    this.stopping = true;
    if (this.exitInfo) return this.exitInfo;
    // Until it is gone, the child (not the timers) keeps the agent process alive for the stop to finish.
    this.child.ref();
    const graceMs = opts.graceMs ?? 3000;
    const termMs = opts.termMs ?? 3000;
    this.child.stdin?.end();
    if (await this.exitsWithin(graceMs)) return this.exited;
    this.logger.warn(`sidekick: still running ${graceMs} ms after stdin closed, sending SIGTERM`);
    this.child.kill("SIGTERM");
    if (await this.exitsWithin(termMs)) return this.exited;
    this.logger.warn(`sidekick: still running ${termMs} ms after SIGTERM, sending SIGKILL`);
    this.child.kill("SIGKILL");
    return this.exited;
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      timer.unref();
    });
    try {
      return await Promise.race([this.exited.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
