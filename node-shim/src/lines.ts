/** Newline framing with a bound: a peer that never ends its line must not grow our memory. */
import type { Readable } from "node:stream";

export interface LineHandlers {
  onLine(line: string): void;
  /** A line longer than the limit was dropped; `bytes` is its length. */
  onOversize(bytes: number): void;
}

/**
 * Splits `input` into UTF-8 lines (`\n`, a `\r` before it is removed) of at most `maxBytes`. A longer
 * line is dropped as it arrives, never buffered whole. The last line needs no newline.
 */
export function readLines(input: Readable, maxBytes: number, handlers: LineHandlers): void {
  let parts: Buffer[] = [];
  let size = 0;
  /** Bytes of the oversized line being dropped; 0 while not dropping. */
  let dropped = 0;

  const finish = (piece: Buffer) => {
    if (dropped) {
      handlers.onOversize(dropped + piece.length);
    } else if (size + piece.length > maxBytes) {
      handlers.onOversize(size + piece.length);
    } else {
      let line = (parts.length ? Buffer.concat([...parts, piece]) : piece).toString("utf8");
      if (line.endsWith("\r")) line = line.slice(0, -1);
      handlers.onLine(line);
    }
    parts = [];
    size = 0;
    dropped = 0;
  };

  input.on("data", (chunk: Buffer | string) => {
    const data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
      finish(data.subarray(start, nl));
      start = nl + 1;
    }
    const rest = data.subarray(start);
    if (!rest.length) return;
    if (dropped) dropped += rest.length;
    else if (size + rest.length > maxBytes) {
      dropped = size + rest.length;
      parts = [];
      size = 0;
    } else {
      parts.push(rest);
      size += rest.length;
    }
  });
  input.on("end", () => {
    if (dropped || size) finish(Buffer.alloc(0));
  });
}
