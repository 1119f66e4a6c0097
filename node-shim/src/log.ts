/** The subset of elizaOS's pino-style logger the shim uses; console-compatible loggers fit too. */
export interface LoggerLike {
  debug(obj: Record<string, unknown> | string, msg?: string): void;
  info(obj: Record<string, unknown> | string, msg?: string): void;
  warn(obj: Record<string, unknown> | string, msg?: string): void;
  error(obj: Record<string, unknown> | string, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: LoggerLike = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Shortens a string for a log line. */
export function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}
