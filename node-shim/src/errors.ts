/**
 * Error types of the shim. Errors that come from the sidekick (the peer answered with a JSON-RPC error)
 * are `RpcError`; everything else is a local failure of the connection or the child process.
 */

/** Base class of every error this package throws. */
export class SidekickError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A JSON-RPC error answer sent by the peer. */
export class RpcError extends SidekickError {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }

  /** The error object to put on the wire. */
  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** The sidekick process ended (or could not be started) while requests were pending. */
export class SidekickExitedError extends SidekickError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;

  constructor(exitCode: number | null, signal: NodeJS.Signals | null, detail?: string) {
    // Neither code nor signal: the process never started (ENOENT, EACCES).
    const how = signal ? `was killed by ${signal}` : exitCode === null ? "failed to start" : `exited with code ${exitCode}`;
    super(`Python sidekick ${how}${detail ? `: ${detail}` : ""}`);
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

/** A request got no answer within its time limit. */
export class RequestTimeoutError extends SidekickError {
  readonly method: string;
  readonly timeoutMs: number;

  constructor(method: string, timeoutMs: number) {
    super(`sidekick request '${method}' timed out after ${timeoutMs} ms`);
    this.method = method;
    this.timeoutMs = timeoutMs;
  }
}

/** The caller aborted a request (its AbortSignal fired); the sidekick was told to cancel it. */
export class RequestCancelledError extends SidekickError {
  readonly method: string;

  constructor(method: string, reason?: unknown) {
    const why = reason instanceof Error ? reason.message : reason === undefined ? "" : String(reason);
    super(`sidekick request '${method}' was cancelled${why ? `: ${why}` : ""}`, { cause: reason });
    this.method = method;
  }
}

/** The sidekick cannot be used: bootstrap failed, it was stopped, or it crashed too often. */
export class SidekickUnavailableError extends SidekickError {}

/** No usable Python interpreter was found for the zero-config bootstrap. */
export class PythonNotFoundError extends SidekickUnavailableError {}
