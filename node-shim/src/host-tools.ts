/**
 * Host tools: functions of the agent that the sidekick's loop may call back through `host/callTool`.
 * `hostActionTools` turns the agent's own actions (named in SIDEKICK_HOST_ACTIONS) into such tools.
 */
import { randomUUID } from "node:crypto";
import type { Action, ActionResult, Content, IAgentRuntime, Memory, State, UUID } from "@elizaos/core";
import { RpcError } from "./errors.js";
import { clip, type LoggerLike } from "./log.js";
import type { Id } from "./rpc.js";

export type JsonObject = Record<string, unknown>;

/** What a host tool answers (the MCP tools/call result shape). */
export interface HostToolResult {
  content: { type: "text"; text: string }[];
  isError: boolean;
}

/** A tool the loop can call on the host. */
export interface HostTool {
  name: string;
  description: string;
  inputSchema: JsonObject;
  /** Runs the tool; a string answer is wrapped as text, a throw becomes an isError answer. */
  call(args: JsonObject, ctx: { signal: AbortSignal }): Promise<string | HostToolResult>;
}

/** The descriptor sent in `sidekick/run` params.hostTools. */
export function describeHostTool(tool: HostTool): { name: string; description: string; inputSchema: JsonObject } {
  return { name: tool.name, description: tool.description, inputSchema: tool.inputSchema };
}

/**
 * The tool a `host/callTool` asks for, among the runs in flight on one process (each run's tools by
 * its request id). A call names its run in `_meta.relatedRequestId`; an untagged one can be told apart
 * only while a single run is in flight, and is refused rather than guessed otherwise.
 */
export function hostToolFor(runs: Map<Id, HostTool[]>, name: string, related: Id | null | undefined): HostTool {
  const tagged = related !== undefined && related !== null;
  const offered = tagged ? runs.get(related) : runs.size === 1 ? [...runs.values()][0] : undefined;
  if (!offered) {
    const why = tagged ? `no run ${JSON.stringify(related)} in flight` : `${runs.size} runs in flight and the call names none (_meta.relatedRequestId)`;
    throw new RpcError(-32602, `host/callTool ${name}: cannot tell which run this call belongs to (${why})`);
  }
  const tool = offered.find((t) => t.name === name);
  if (!tool) throw new RpcError(-32602, `Unknown host tool: ${name}${tagged ? ` (run ${JSON.stringify(related)})` : ""}`);
  return tool;
}

/** Runs a host tool and always returns a result (errors become isError: true). */
export async function callHostTool(tool: HostTool, args: JsonObject, signal: AbortSignal): Promise<HostToolResult> {
  try {
    const answer = await tool.call(args, { signal });
    return typeof answer === "string" ? { content: [{ type: "text", text: answer }], isError: false } : answer;
  } catch (error) {
    return { content: [{ type: "text", text: `${tool.name} failed: ${error instanceof Error ? error.message : String(error)}` }], isError: true };
  }
}

const TEXT_SCHEMA: JsonObject = {
  type: "object",
  properties: { text: { type: "string", description: "What to ask of this action, in plain words" } },
  required: ["text"],
};

/**
 * The action's input schema: its `parameters` when that is a JSON Schema object, or an elizaOS 2.x
 * style list of `{name, description, required, schema}`; else `{text: string}`.
 */
export function actionInputSchema(action: Action): JsonObject {
  const params = action.parameters as unknown;
  if (Array.isArray(params) && params.length > 0) {
    const properties: JsonObject = {};
    const required: string[] = [];
    for (const p of params as { name?: string; description?: string; required?: boolean; schema?: JsonObject }[]) {
      if (!p?.name) continue;
      properties[p.name] = { ...(p.schema ?? { type: "string" }), ...(p.description ? { description: p.description } : {}) };
      if (p.required) required.push(p.name);
    }
    return { type: "object", properties, ...(required.length ? { required } : {}) };
  }
  if (params && typeof params === "object" && !Array.isArray(params)) {
    const schema = params as JsonObject;
    if (schema.type === "object" || "properties" in schema) return { type: "object", ...schema };
  }
  return TEXT_SCHEMA;
}

/** Where a host action's synthetic message lives: the conversation that started the run. */
export interface HostActionContext {
  message?: Memory;
  state?: State;
}

/**
 * Builds host tools from the runtime's actions named in `names` (case-insensitive). Names that
 * match no action are logged and skipped. PYTHON_ANALYZE itself is never offered (no recursion).
 */
export function hostActionTools(runtime: IAgentRuntime, names: string[], ctx: HostActionContext, logger: LoggerLike): HostTool[] {
  const tools: HostTool[] = [];
  for (const name of names) {
    const action = runtime.actions.find((a) => a.name.toUpperCase() === name.toUpperCase());
    if (!action) {
      logger.warn(`sidekick: SIDEKICK_HOST_ACTIONS names '${name}', but the agent has no such action`);
      continue;
    }
    if (action.name === "PYTHON_ANALYZE") continue;
    tools.push({
      name: action.name,
      description: action.description || `The agent's ${action.name} action`,
      inputSchema: actionInputSchema(action),
      call: (args) => runAction(runtime, action, args, ctx, logger),
    });
  }
  return tools;
}

async function runAction(runtime: IAgentRuntime, action: Action, args: JsonObject, ctx: HostActionContext, logger: LoggerLike): Promise<HostToolResult> {
  const text = typeof args.text === "string" ? args.text : JSON.stringify(args);
  const base = ctx.message;
  const message: Memory = {
    id: randomUUID() as UUID,
    entityId: base?.entityId ?? runtime.agentId,
    agentId: runtime.agentId,
    roomId: base?.roomId ?? runtime.agentId,
    worldId: base?.worldId,
    createdAt: Date.now(),
    content: { text, actionParams: args, source: "python-sidekick", actions: [action.name] },
  };
  const state: State = ctx.state ?? { values: {}, data: {}, text: "" };
  const said: string[] = [];
  const callback = async (content: Content): Promise<Memory[]> => {
    if (typeof content?.text === "string" && content.text) said.push(content.text);
    return [];
  };
  logger.info(`sidekick: running host action ${action.name} ${clip(JSON.stringify(args), 200)}`);
  const result = (await action.handler(runtime, message, state, { parameters: args, actionParams: args }, callback, [])) as ActionResult | void | undefined;
  const answer = result?.text || said.join("\n") || (result?.data ? JSON.stringify(result.data) : "") || "(the action returned no text)";
  const failed = result?.success === false;
  const error = failed && result?.error ? ` (${result.error instanceof Error ? result.error.message : String(result.error)})` : "";
  return { content: [{ type: "text", text: failed ? `${answer}${error}` : answer }], isError: failed };
}
