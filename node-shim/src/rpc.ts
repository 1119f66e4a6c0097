/**
 * A JSON-RPC 2.0 client/server endpoint over newline-delimited JSON streams (the MCP stdio framing).
 * It takes its streams, so tests can drive it with PassThrough pairs and no subprocess.
 */
import type { Readable, Writable } from "node:stream";
import {
  RequestCancelledError,
  RequestTimeoutError,
  RpcError,
  SidekickError,
  SidekickUnavailableError,
} from "./errors.js";
import { readLines } from "./lines.js";
import { clip, silentLogger, type LoggerLike } from "./log.js";

export type JsonObject = Record<string, unknown>;
export type Id = string | number;

/** Handles a request the peer sends; its result is the answer, an RpcError becomes an error answer. */
export type RequestHandler = (params: any, ctx: { signal: AbortSignal; id: Id }) => Promise<unknown>;
export type NotificationHandler = (params: any) => void;

export interface RequestOptions {
  /** Time limit in ms; 0 or undefined = the connection's default. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the request's id just before it is sent, to match the peer's requests that name it (`_meta.relatedRequestId`). */
  onId?: (id: Id) => void;
}

interface Pending {
  method: string;
  resolve: (value: any) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
  cleanup: () => void;
}

export const METHOD_NOT_FOUND = -32601;
export const INTERNAL_ERROR = -32603;

/** Longest line read from the peer (a run result with its transcript fits many times over). */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Most bytes waiting for the peer to read them before new messages are refused. */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export interface ConnectionOptions {
  input: Readable;
  output: Writable;
  logger?: LoggerLike;
  defaultTimeoutMs?: number;
  maxLineBytes?: number;
  maxQueuedBytes?: number;
}

export class JsonRpcConnection {
  private nextId = 1;
  private readonly pending = new Map<Id, Pending>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly notificationHandlers = new Map<string, NotificationHandler>();
  private readonly incoming = new Map<Id, AbortController>();
  private closedWith: Error | null = null;
  private readonly output: Writable;
  private readonly logger: LoggerLike;
  private readonly defaultTimeoutMs: number;
  private readonly maxQueuedBytes: number;
  /** Lines waiting for the output's 'drain' (set while the peer does not keep up). */
  private queue: string[] | null = null;
  private queuedBytes = 0;

  constructor(opts: ConnectionOptions) {
    this.output = opts.output;
    this.logger = opts.logger ?? silentLogger;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    readLines(opts.input, maxLineBytes, {
      onLine: (line) => this.onLine(line),
      onOversize: (bytes) =>
        this.logger.error(`sidekick: dropped a ${bytes}-byte line on stdout (the limit is ${maxLineBytes}); a request it answered will time out`),
    });
    this.onNotification("notifications/cancelled", (params) => {
      this.incoming.get(params?.requestId)?.abort(params?.reason ?? "cancelled by the sidekick");
    });
  }

  /** Registers the handler of requests the peer sends for `method`. */
  onRequest(method: string, handler: RequestHandler): void {
    this.requestHandlers.set(method, handler);
  }

  /** Registers the handler of notifications the peer sends for `method`. */
  onNotification(method: string, handler: NotificationHandler): void {
    this.notificationHandlers.set(method, handler);
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Number of requests awaiting an answer. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Sends a request and resolves with its result. Rejects with RpcError (the peer's error answer),
   * RequestTimeoutError, RequestCancelledError (signal aborted) or the connection's close error.
   * On timeout or abort the peer is sent `notifications/cancelled`.
   */
  request<T = any>(method: string, params?: unknown, opts: RequestOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (opts.signal?.aborted) return Promise.reject(new RequestCancelledError(method, opts.signal.reason));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs || this.defaultTimeoutMs;
      const onAbort = () => this.abandon(id, new RequestCancelledError(method, opts.signal?.reason));
      const entry: Pending = {
        method,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(entry.timer);
          opts.signal?.removeEventListener("abort", onAbort);
        },
      };
      entry.timer = setTimeout(() => this.abandon(id, new RequestTimeoutError(method, timeoutMs)), timeoutMs);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, entry);
      opts.onId?.(id);
      if (!this.send(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params })) {
        this.pending.delete(id);
        entry.cleanup();
        reject(new SidekickUnavailableError(`sidekick is not reading its input (${this.queuedBytes} bytes wait to be written): '${method}' was not sent`));
      }
    });
  }

  /** Sends a notification (no answer expected). Dropped silently once closed. */
  notify(method: string, params?: unknown): void {
    if (this.closedWith) return;
    this.send(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });
  }

  /** Rejects every pending request with `error`, aborts incoming requests, and refuses new ones. */
  close(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      entry.cleanup();
      entry.reject(error);
    }
    for (const controller of this.incoming.values()) controller.abort(error);
    this.incoming.clear();
    this.queue = null;
    this.queuedBytes = 0;
  }

  private abandon(id: Id, error: Error): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    entry.cleanup();
    this.notify("notifications/cancelled", { requestId: id, reason: error.message });
    entry.reject(error);
  }

  /**
   * Writes one message, or queues it while the output wants a 'drain'. False when the queue is full:
   * the peer has stopped reading, and the message was not sent.
   */
  private send(message: JsonObject): boolean {
    const line = `${JSON.stringify(message)}\n`;
    if (this.queue) {
      const bytes = Buffer.byteLength(line);
      if (this.queuedBytes + bytes > this.maxQueuedBytes) {
        this.logger.warn(`sidekick: not sending ${String(message.method ?? "an answer")}: ${this.queuedBytes} bytes already wait for the sidekick to read them`);
        return false;
      }
      this.queue.push(line);
      this.queuedBytes += bytes;
      return true;
    }
    this.write(line);
    return true;
  }

  private write(line: string): void {
    try {
      if (this.output.write(line)) return;
      this.queue = [];
      this.output.once("drain", () => this.flush());
    } catch (error) {
      this.logger.warn({ error: String(error) }, "sidekick: write to stdin failed");
    }
  }

  private flush(): void {
    const queued = this.queue ?? [];
    this.queue = null;
    this.queuedBytes = 0;
    for (let i = 0; i < queued.length; i++) {
      this.write(queued[i]!);
      if (this.queue) {
        const rest = queued.slice(i + 1);
        this.queue = rest;
        this.queuedBytes = rest.reduce((n, l) => n + Buffer.byteLength(l), 0);
        return;
      }
    }
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.logger.warn(`sidekick: ignoring a non-JSON line on stdout: ${clip(line, 200)}`);
      return;
    }
    for (const item of Array.isArray(message) ? message : [message]) this.dispatch(item);
  }

  private dispatch(message: unknown): void {
    if (!message || typeof message !== "object") {
      this.logger.warn(`sidekick: ignoring a message that is not an object: ${clip(JSON.stringify(message), 200)}`);
      return;
    }
    const msg = message as JsonObject;
    if (typeof msg.method === "string") {
      if (msg.id === undefined || msg.id === null) this.handleNotification(msg.method, msg.params);
      else void this.handleRequest(msg.id as Id, msg.method, msg.params);
      return;
    }
    const id = msg.id as Id;
    const entry = this.pending.get(id);
    if (!entry) {
      this.logger.debug(`sidekick: answer for unknown or abandoned request id ${JSON.stringify(id)}`);
      return;
    }
    this.pending.delete(id);
    entry.cleanup();
    if (msg.error && typeof msg.error === "object") {
      const err = msg.error as JsonObject;
      entry.reject(new RpcError(Number(err.code ?? INTERNAL_ERROR), String(err.message ?? "error"), err.data));
    } else {
      entry.resolve(msg.result);
    }
  }

  private handleNotification(method: string, params: unknown): void {
    const handler = this.notificationHandlers.get(method);
    if (!handler) return;
    try {
      handler(params);
    } catch (error) {
      this.logger.warn({ error: String(error) }, `sidekick: notification handler for ${method} failed`);
    }
  }

  private async handleRequest(id: Id, method: string, params: unknown): Promise<void> {
    const handler = this.requestHandlers.get(method);
    if (!handler) {
      this.send({ jsonrpc: "2.0", id, error: { code: METHOD_NOT_FOUND, message: `Method not found: ${method}` } });
      return;
    }
    const controller = new AbortController();
    this.incoming.set(id, controller);
    try {
      const result = await handler(params, { signal: controller.signal, id });
      if (!controller.signal.aborted) this.send({ jsonrpc: "2.0", id, result: result ?? {} });
    } catch (error) {
      if (controller.signal.aborted) return;
      const rpc =
        error instanceof RpcError
          ? error
          : new RpcError(INTERNAL_ERROR, error instanceof SidekickError || error instanceof Error ? error.message : String(error));
      this.send({ jsonrpc: "2.0", id, error: rpc.toJSON() });
    } finally {
      this.incoming.delete(id);
    }
  }
}
