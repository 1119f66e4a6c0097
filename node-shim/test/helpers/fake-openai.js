// A scripted OpenAI-compatible server on 127.0.0.1: POST /v1/chat/completions answers from a script
// of responses, GET /v1/models lists one model. Each request body is recorded for assertions, and in
// `calls` with its path and headers.
import { createServer } from "node:http";

/**
 * A script step is one of:
 *  { toolCalls: [{ name, arguments }] }   → an assistant message with tool_calls
 *  { text: "…" }                           → a final assistant message
 *  { delayMs, ...step }                    → the same, answered after a delay
 *  (body) => step                           → computed from the request body
 */
export async function startFakeOpenAI(script = [], { model = "test-model" } = {}) {
  const requests = [];
  const calls = [];
  const waiters = [];
  let callCounter = 0;
  let index = 0;
  const sockets = new Set();

  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      if (req.method === "GET" && req.url?.endsWith("/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: model, object: "model", created: 0, owned_by: "test" }] }));
        return;
      }
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
        return;
      }
      const body = JSON.parse(raw || "{}");
      requests.push(body);
      calls.push({ path: req.url, headers: req.headers, body });
      for (const w of waiters.splice(0)) w();
      let step = script[index++];
      if (typeof step === "function") step = step(body);
      if (!step) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `fake-openai: script exhausted at request ${index}` } }));
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        const message = step.toolCalls
          ? {
              role: "assistant",
              content: step.text ?? null,
              tool_calls: step.toolCalls.map((c) => ({
                id: `call_${++callCounter}`,
                type: "function",
                function: { name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments ?? {}) },
              })),
            }
          : { role: "assistant", content: step.text ?? "" };
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${index}`,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model: body.model ?? model,
            choices: [{ index: 0, message, finish_reason: step.toolCalls ? "tool_calls" : "stop" }],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          }),
        );
      };
      if (step.delayMs) {
        const t = setTimeout(answer, step.delayMs);
        res.on("close", () => clearTimeout(t));
      } else answer();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    /** The server without a path, for settings that take a host (the provider adds its own path). */
    origin: `http://127.0.0.1:${port}`,
    requests,
    calls,
    /** Replaces the script (and restarts it from its first step). */
    setScript(next) {
      script = next;
      index = 0;
    },
    get remaining() {
      return script.length - index;
    },
    /** Resolves once `n` chat requests have arrived in total. */
    waitForRequests(n, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length >= n) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        const timer = setTimeout(() => reject(new Error(`fake-openai: only ${requests.length} of ${n} requests`)), timeoutMs);
        check();
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
