// The sidekick as an MCP server for the official TypeScript SDK's v2 client (@modelcontextprotocol/client),
// at each revision it speaks: its default (the 2025-11-25 initialize handshake), 2025-06-18 (the initialize
// request rewritten, as a host pinned to it sends it), and 2026-07-28 (`versionNegotiation`: pinned, and
// 'auto', which probes server/discover on a sibling process when the transport is the SDK's own). The same
// checks at each: connect, list, call each tool, run_task with progress and with cancellation, errors.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { Client, ProtocolError } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import * as z from "zod/v4";
import { startFakeOpenAI } from "./helpers/fake-openai.js";
import { PYTHON, SKIP_PYTHON, within } from "./helpers/util.js";

const PAGE_HTML = "<html><head><title>T</title></head><body><h1>Hello</h1><p>World of numbers</p></body></html>";
const DDG_HTML = `<div class="result"><a class="result__a" href="https://example.org/a">Result A</a>
<a class="result__snippet" href="https://example.org/a">Snippet A</a></div>`;
const TOOLS = ["calculate", "fetch_url", "web_search", "run_task"];
const ERAS = [
  { name: "2025-11-25 (the client's default)", version: "2025-11-25" },
  { name: "2025-06-18", version: "2025-06-18", askVersion: "2025-06-18" },
  { name: "2026-07-28 (pinned)", version: "2026-07-28", negotiation: { mode: { pin: "2026-07-28" } } },
];

let openai;
let web;

before(async () => {
  if (SKIP_PYTHON) return;
  openai = await startFakeOpenAI();
  web = createServer((req, res) => {
    const html = req.url === "/page" ? PAGE_HTML : req.url.startsWith("/ddg/html/") ? DDG_HTML : null;
    res.writeHead(html ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
    res.end(html ?? "not found");
  });
  await new Promise((resolve) => web.listen(0, "127.0.0.1", resolve));
});

after(async () => {
  if (SKIP_PYTHON) return;
  await openai.close();
  web.closeAllConnections();
  await new Promise((resolve) => web.close(resolve));
});

function environment() {
  const base = `http://127.0.0.1:${web.address().port}`;
  return {
    SIDEKICK_ALLOW_PRIVATE_URLS: "1",
    SIDEKICK_BASE_URL: openai.baseUrl,
    SIDEKICK_MODEL: "test-model",
    SIDEKICK_API_KEY: "sk-test",
    SIDEKICK_DDG_URL: `${base}/ddg/html/`,
    XDG_STATE_HOME: process.env.XDG_STATE_HOME, // the usage store: the scratch dir of helpers/util.js
  };
}

/** The SDK's stdio transport, recording every message both ways; `askVersion` rewrites initialize's version. */
class RecordingTransport extends StdioClientTransport {
  sent = [];
  received = [];
  askVersion = undefined;

  // Each message the transport reads, before anything dispatches it: the client re-wraps `onmessage` when the
  // version negotiation reconnects, so the read buffer (no public hook) is where every message passes.
  processReadBuffer() {
    const buffer = this._readBuffer;
    if (!buffer.recorded) {
      const read = buffer.readMessage.bind(buffer);
      buffer.readMessage = () => {
        const message = read();
        if (message !== null) this.received.push(message);
        return message;
      };
      buffer.recorded = true;
    }
    super.processReadBuffer();
  }

  send(message, options) {
    if (this.askVersion && message.method === "initialize") {
      message = { ...message, params: { ...message.params, protocolVersion: this.askVersion } };
    }
    this.sent.push(message);
    return super.send(message, options);
  }

  answersTo(id) {
    return this.received.filter((m) => m.id === id && !("method" in m));
  }
}

async function withClient({ askVersion, negotiation, Transport = RecordingTransport }, fn) {
  const transport = new Transport({ command: PYTHON, args: ["-m", "sidekick", "--stdio"], env: environment(),
                                    stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += chunk));
  transport.askVersion = askVersion;
  const options = negotiation ? { versionNegotiation: negotiation } : {};
  const client = new Client({ name: "mcp-eras-test", version: "1.0.0" }, options);
  try {
    await within(client.connect(transport), 30_000, "connect");
    // A fresh listTools: the client then validates every structuredContent against the tool's outputSchema.
    await within(client.listTools(), 10_000, "listTools");
    await fn(client, transport);
  } catch (error) {
    error.message += `\nsidekick stderr:\n${stderr}`;
    throw error;
  } finally {
    await within(client.close(), 10_000, "close");
  }
}

const textOf = (result) => result.content.filter((b) => b.type === "text").map((b) => b.text).join("");

for (const era of ERAS) {
  test(`${era.name}: connect, then the tools in a fixed order with titles and truthful annotations`, { skip: SKIP_PYTHON }, async () => {
    await withClient(era, async (client) => {
      assert.equal(client.getNegotiatedProtocolVersion(), era.version);
      assert.equal(client.getProtocolEra(), era.version === "2026-07-28" ? "modern" : "legacy");
      assert.equal(client.getServerVersion()?.name, "eliza-sidekick");
      assert.ok(client.getServerCapabilities().tools);
      assert.match(client.getInstructions(), /run_task/);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), TOOLS);
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      assert.deepEqual(tools.map((t) => t.title), ["Calculator", "Fetch a web page", "Web search", "Run a multi-step task"]);
      for (const tool of tools) {
        assert.equal(tool.annotations.readOnlyHint, true, tool.name);
        assert.equal(tool.outputSchema.type, "object", tool.name);
      }
      assert.equal(byName.calculate.annotations.openWorldHint, false);
      assert.equal(byName.web_search.annotations.openWorldHint, true);
      assert.deepEqual(byName.calculate.inputSchema.required, ["expression"]);
    });
  });

  test(`${era.name}: each tool answers with structuredContent (checked against its outputSchema by the client)`, { skip: SKIP_PYTHON }, async () => {
    const base = `http://127.0.0.1:${web.address().port}`;
    await withClient(era, async (client) => {
      const calc = await client.callTool({ name: "calculate", arguments: { expression: "1234567 * 0.175" } });
      const page = await client.callTool({ name: "fetch_url", arguments: { url: `${base}/page` } });
      const search = await client.callTool({ name: "web_search", arguments: { query: "numbers" } });
      for (const result of [calc, page, search]) {
        assert.equal(result.isError, false, textOf(result));
        if (era.version === "2026-07-28") assert.deepEqual(JSON.parse(textOf(result)), result.structuredContent);
      }
      assert.deepEqual(calc.structuredContent, { expression: "1234567 * 0.175", result: "216049.225", value: 216049.225 });
      if (era.version !== "2026-07-28") assert.equal(textOf(calc), "216049.225");
      assert.equal(page.structuredContent.title, "T");
      assert.equal(search.structuredContent.results[0].url, "https://example.org/a");
    });
  });

  test(`${era.name}: errors say how to fix the call; protocol faults reject`, { skip: SKIP_PYTHON }, async () => {
    await withClient(era, async (client) => {
      const missing = await client.callTool({ name: "calculate", arguments: {} });
      assert.equal(missing.isError, true);
      assert.match(textOf(missing), /'expression' is required\. Call calculate with \{"expression": string\}/);
      const wrong = await client.callTool({ name: "web_search", arguments: { query: "x", maxResults: "many" } });
      assert.equal(wrong.isError, true);
      assert.match(textOf(wrong), /'maxResults'.*\(got "many"\)/);
      const badRun = await client.callTool({ name: "run_task", arguments: { task: "" } });
      assert.equal(badRun.isError, true);
      assert.match(textOf(badRun), /Call run_task with/);
      if (era.version === "2026-07-28") {
        await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }),
          (e) => e instanceof ProtocolError && e.code === -32602 && /Unknown tool/.test(e.message));
      } else {
        const unknown = await client.callTool({ name: "no_such_tool", arguments: {} });
        assert.equal(unknown.isError, true);
        assert.match(textOf(unknown), /Unknown tool/);
      }
      await assert.rejects(client.request({ method: "sidekick/no_such_method", params: {} }, z.object({})),
        (e) => e instanceof ProtocolError && e.code === -32601);
      const still = await client.callTool({ name: "calculate", arguments: { expression: "2 + 2" } });
      assert.equal(still.structuredContent.result, "4");
    });
  });

  test(`${era.name}: run_task reports progress and answers with the run`, { skip: SKIP_PYTHON }, async () => {
    openai.setScript([
      { toolCalls: [{ name: "calculate", arguments: { expression: "6 * 7" } }] },
      { text: "The answer is 42." },
    ]);
    await withClient(era, async (client, transport) => {
      const progress = [];
      const result = await within(client.callTool({ name: "run_task", arguments: { task: "What is 6 times 7?" } },
        { onprogress: (p) => progress.push(p.progress) }), 30_000, "run_task");
      assert.equal(result.isError, false);
      assert.equal(result.structuredContent.stopReason, "done");
      assert.deepEqual(result.structuredContent.toolsUsed, ["calculate"]);
      assert.equal(result.structuredContent.text, "The answer is 42.");
      const sent = transport.received.filter((m) => m.method === "notifications/progress").map((m) => m.params.progress);
      assert.deepEqual(sent, [1, 2, 3]);
      assert.deepEqual(progress, sent.slice(0, progress.length)); // one may race the answer (typescript-sdk#2580)
    });
  });

  test(`${era.name}: cancelling run_task rejects it, gets no answer, and the server goes on`, { skip: SKIP_PYTHON }, async () => {
    openai.setScript([{ delayMs: 60_000, text: "too late" }, { text: "after the cancel" }]);
    await withClient(era, async (client, transport) => {
      const controller = new AbortController();
      const asked = openai.requests.length;
      const run = client.callTool({ name: "run_task", arguments: { task: "a slow one" } }, { signal: controller.signal });
      await openai.waitForRequests(asked + 1);
      controller.abort(new Error("user left"));
      await assert.rejects(within(run, 5_000, "the aborted callTool"));
      const next = await within(client.callTool({ name: "run_task", arguments: { task: "a quick one" } }), 20_000, "next");
      assert.equal(next.structuredContent.text, "after the cancel");
      const calls = transport.sent.filter((m) => m.method === "tools/call");
      const cancels = transport.sent.filter((m) => m.method === "notifications/cancelled");
      assert.deepEqual(cancels.map((m) => m.params.requestId), [calls[0].id]);
      assert.deepEqual(transport.answersTo(calls[0].id), [], "no answer for the cancelled request");
      assert.equal(transport.answersTo(calls[1].id).length, 1);
    });
  });
}

test("2026-07-28 by 'auto' on the SDK's own stdio transport: the probe finds server/discover", { skip: SKIP_PYTHON }, async () => {
  await withClient({ negotiation: { mode: "auto" }, Transport: StdioClientTransport }, async (client) => {
    assert.equal(client.getProtocolEra(), "modern");
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    const discover = client.getDiscoverResult();
    assert.ok(discover.supportedVersions.includes("2026-07-28"));
    assert.deepEqual(discover.capabilities.extensions["io.modelcontextprotocol/tasks"], {});
    const calc = await client.callTool({ name: "calculate", arguments: { expression: "6 * 7" } });
    assert.equal(calc.structuredContent.result, "42");
  });
});
