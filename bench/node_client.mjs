// The Node side of bench/protocol.py: runs the same plan as pyclient.py (read as JSON from stdin) and
// prints its figures as JSON. Each stdio target is read through one buffered splitter, as the plugin does.
import { spawn } from "node:child_process";
import http from "node:http";

const EXPRESSION = "1234567 * 0.175";
const INITIALIZE = { jsonrpc: "2.0", id: 0, method: "initialize", params: {
  protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "0" } } };

class StdioTarget {
  constructor(spec) {
    this.name = spec.name;
    this.proc = spawn(spec.stdio[0], spec.stdio.slice(1), { cwd: spec.cwd, env: spec.env, stdio: ["pipe", "pipe", "ignore"] });
    this.pending = new Map();
    this.onLine = null; // set while a pipelined block counts answers
    this.nextId = 1;
    let buffer = "";
    this.proc.stdout.setEncoding("utf8");
    this.proc.stdout.on("data", (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (this.onLine) { this.onLine(line); continue; }
        const message = JSON.parse(line);
        const waiter = this.pending.get(message.id);
        if (waiter) { this.pending.delete(message.id); waiter(message); }
      }
    });
  }
  async start(spec) {
    if (spec.mcp) {
      await this.call(JSON.stringify(INITIALIZE) + "\n", 0);
      this.proc.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    }
  }
  call(line, id) {
    return new Promise((resolve) => { this.pending.set(id, resolve); this.proc.stdin.write(line); });
  }
  ping() {
    const id = ++this.nextId;
    return this.call(`{"jsonrpc":"2.0","id":${id},"method":"ping"}\n`, id);
  }
  calculate() {
    const id = ++this.nextId;
    return this.call(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call",
      params: { name: "calculate", arguments: { expression: EXPRESSION } } }) + "\n", id);
  }
  pipelined(count) {
    const first = this.nextId + 1;
    this.nextId += count;
    let payload = "";
    for (let i = 0; i < count; i++) payload += `{"jsonrpc":"2.0","id":${first + i},"method":"ping"}\n`;
    return new Promise((resolve) => {
      let got = 0;
      const start = process.hrtime.bigint();
      this.onLine = (line) => {
        if (line.includes('"id"') && ++got === count) {
          this.onLine = null;
          resolve(count / (Number(process.hrtime.bigint() - start) / 1e9));
        }
      };
      this.proc.stdin.write(payload);
    });
  }
  close() {
    this.proc.stdin.end();
    return new Promise((resolve) => this.proc.exitCode !== null ? resolve() : this.proc.on("exit", resolve));
  }
}

class HttpTarget {
  constructor(spec) {
    this.name = spec.name;
    this.url = new URL(spec.http);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }
  async start() {}
  post(path, body) {
    return new Promise((resolve, reject) => {
      const request = http.request({ host: this.url.hostname, port: this.url.port, path, method: "POST",
        agent: this.agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (response) => {
        let data = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => { data += chunk; });
        response.on("end", () => resolve(JSON.parse(data)));
      });
      request.on("error", reject);
      request.end(body);
    });
  }
  ping() { return this.post("/ping", "{}"); }
  calculate() { return this.post("/calculate", JSON.stringify({ expression: EXPRESSION })); }
  close() { this.agent.destroy(); return Promise.resolve(); }
}

async function block(call, count) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  samples.sort((a, b) => a - b);
  return [samples[Math.floor(samples.length / 2)], samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]];
}

function push(results, metric, name, value) {
  (results[metric][name] ??= []).push(value);
}

async function main() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  const plan = JSON.parse(text);
  const specs = new Map(plan.targets.map((spec) => [spec.name, spec]));
  const targets = plan.targets.map((spec) => ("stdio" in spec ? new StdioTarget(spec) : new HttpTarget(spec)));
  const results = { ping: {}, "ping p99": {}, calculate: {}, pipelined: {} };
  for (const target of targets) await target.start(specs.get(target.name));
  for (const target of targets) {
    await block(() => target.ping(), plan.warmup);
    if (specs.get(target.name).calculate) await block(() => target.calculate(), Math.floor(plan.warmup / 4));
  }
  for (let round = 0; round < plan.rounds; round++) {
    const shift = round % targets.length;
    const order = [...targets.slice(shift), ...targets.slice(0, shift)];
    for (const target of order) {
      const [p50, p99] = await block(() => target.ping(), plan.pings);
      push(results, "ping", target.name, p50);
      push(results, "ping p99", target.name, p99);
    }
    for (const target of order.filter((t) => specs.get(t.name).calculate)) {
      push(results, "calculate", target.name, (await block(() => target.calculate(), plan.calls))[0]);
    }
    for (const target of order.filter((t) => specs.get(t.name).pipelined)) {
      push(results, "pipelined", target.name, await target.pipelined(plan.pipelined));
    }
  }
  await Promise.all(targets.map((t) => t.close()));
  process.stdout.write(JSON.stringify(results) + "\n");
}

await main();
