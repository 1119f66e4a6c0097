/**
 * PYTHON_ANALYZE: hands analysis, research, calculation and benchmark requests to the sidekick's
 * tool-calling loop and answers with its result. Never throws: failures become success: false.
 */
import { EventType, ModelType, type Action, type ActionResult, type HandlerCallback, type IAgentRuntime, type Memory, type State } from "@elizaos/core";
import { hostActionTools } from "./host-tools.js";
import { clip, type LoggerLike } from "./log.js";
import { PythonSidekickService, type TaskResult } from "./service.js";

/** Words that mark a request for the Python specialist. */
export const ANALYZE_INTENT =
  /\b(analy[sz]e[sd]?|analy[sz]ing|analysis|analytics|research(ing)?|investigate|calculat(e|ed|es|ing|ion|ions)|comput(e|ing)|benchmark(s|ing)?|statistic(s|al)?|crunch)\b/i;

const MAX_HISTORY = 20;

/** The runtime.log type of each PYTHON_ANALYZE run (its body: `RunLogBody`). */
export const RUN_LOG_TYPE = "python_sidekick:run";

/** What each run's log row says: the summary, never the task or answer text. */
export interface RunLogBody {
  success: boolean;
  /** The run's stopReason, or "failed" when it never answered (the sidekick died, timed out, refused). */
  stopReason: string;
  errorKind?: string;
  error?: string;
  durationMs: number;
  steps: number;
  toolErrors: number;
  toolsUsed: string[];
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  modelTurns?: number;
  provider?: string;
  model?: string | null;
  messageId?: string;
}

/** Today's PYTHON_ANALYZE runs of one agent, as the status provider shows them. */
export interface RunTally {
  day: string;
  runs: number;
  succeeded: number;
}

const tallies = new Map<string, { tally: RunTally; seeded: Promise<void> }>();

function today(now = new Date()): string {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

/** This agent's tally, seeded once per process from today's runtime.log rows (so a restart keeps the count). */
function tallyEntry(runtime: IAgentRuntime): { tally: RunTally; seeded: Promise<void> } {
  let entry = tallies.get(runtime.agentId);
  if (!entry) {
    const tally: RunTally = { day: today(), runs: 0, succeeded: 0 };
    const seeded = (async () => {
      try {
        const rows = (await runtime.getLogs({ entityId: runtime.agentId, type: RUN_LOG_TYPE, count: 1000 })) ?? [];
        for (const row of rows) {
          if (!row?.createdAt || today(new Date(row.createdAt)) !== tally.day) continue;
          tally.runs += 1;
          if ((row.body as Partial<RunLogBody> | undefined)?.success) tally.succeeded += 1;
        }
      } catch {
        // No log store (or a broken one): today's count starts from this process's runs.
      }
    })();
    entry = { tally, seeded };
    tallies.set(runtime.agentId, entry);
  }
  return entry;
}

/** Today's runs and how many succeeded, for `runtime`'s agent. */
export async function runsToday(runtime: IAgentRuntime): Promise<RunTally> {
  const entry = tallyEntry(runtime);
  await entry.seeded;
  if (entry.tally.day !== today()) Object.assign(entry.tally, { day: today(), runs: 0, succeeded: 0 });
  return { ...entry.tally };
}

/**
 * Records one run where Eliza users look: a runtime.log row of type `python_sidekick:run`, the token usage
 * as the MODEL_USED event (what model plugins emit for each call), and today's tally. Never throws.
 */
async function recordRun(runtime: IAgentRuntime, message: Memory, body: RunLogBody, log: LoggerLike): Promise<void> {
  const entry = tallyEntry(runtime);
  await entry.seeded;
  await runsToday(runtime); // a new day starts from zero
  entry.tally.runs += 1;
  if (body.success) entry.tally.succeeded += 1;
  try {
    await runtime.log({ entityId: runtime.agentId, roomId: message.roomId, type: RUN_LOG_TYPE, body: { ...body } });
  } catch (error) {
    log.warn(`sidekick: runtime.log failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (body.usage.totalTokens > 0) {
    try {
      await runtime.emitEvent(EventType.MODEL_USED, {
        runtime,
        source: "python_sidekick",
        provider: body.provider ?? "python_sidekick",
        type: ModelType.TEXT_LARGE,
        prompt: clip(message.content?.text ?? "", 200),
        tokens: { prompt: body.usage.promptTokens, completion: body.usage.completionTokens, total: body.usage.totalTokens },
      });
    } catch (error) {
      log.warn(`sidekick: the MODEL_USED event failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function serviceOf(runtime: IAgentRuntime): PythonSidekickService | null {
  return runtime.getService<PythonSidekickService>(PythonSidekickService.serviceType);
}

function textOf(value: unknown, max: number): string | undefined {
  if (typeof value === "string") return clip(value, max);
  if (Array.isArray(value)) return clip(value.filter((v) => typeof v === "string").join(" "), max);
  return undefined;
}

/** The context sent with the task: the message, the conversation so far, and who the agent is. */
export function buildContext(runtime: IAgentRuntime, message: Memory, state?: State): Record<string, unknown> {
  const character = runtime.character ?? { name: "agent" };
  const conversation = textOf(state?.values?.recentMessages, 4000) ?? (state?.text ? clip(state.text, 4000) : undefined);
  return {
    message: {
      text: message.content?.text ?? "",
      source: message.content?.source,
      entityId: message.entityId,
      roomId: message.roomId,
      createdAt: message.createdAt,
    },
    character: {
      name: character.name,
      bio: textOf(character.bio, 1500),
      topics: Array.isArray(character.topics) ? character.topics.slice(0, 20) : undefined,
    },
    ...(conversation ? { conversation } : {}),
  };
}

type ChatMessage = { role?: string; content?: unknown; tool_calls?: unknown };

/** Only plain user/assistant turns survive between runs: a cut-off tool exchange would be invalid. */
function plainTurns(messages: unknown[]): ChatMessage[] {
  return (messages as ChatMessage[])
    .filter((m) => (m?.role === "user" || m?.role === "assistant") && typeof m.content === "string" && m.content && !m.tool_calls)
    .slice(-MAX_HISTORY);
}

async function loadHistory(runtime: IAgentRuntime, roomId: string): Promise<ChatMessage[]> {
  try {
    return (await runtime.getCache<ChatMessage[]>(`python-sidekick:history:${roomId}`)) ?? [];
  } catch {
    return [];
  }
}

/** Keeps the room's plain turns: the earlier ones plus this run's new messages (which start with the task). */
async function saveHistory(runtime: IAgentRuntime, roomId: string, earlier: ChatMessage[], result: TaskResult): Promise<void> {
  try {
    await runtime.setCache(`python-sidekick:history:${roomId}`, plainTurns([...earlier, ...(result.messages ?? [])]));
  } catch {
    // History is a convenience; a cache without room for it must not fail the answer.
  }
}

export const pythonAnalyzeAction: Action = {
  name: "PYTHON_ANALYZE",
  similes: ["ANALYZE_WITH_PYTHON", "RESEARCH", "CALCULATE", "BENCHMARK", "PYTHON_SPECIALIST"],
  description:
    "Hand a multi-step analysis, research, calculation or benchmark request to the Python specialist, " +
    "which plans, calls tools (calculator, web fetch, search, and allowed agent actions) and reports back.",
  examples: [
    [
      { name: "{{user}}", content: { text: "Can you analyze how a 7% yearly return compounds over 30 years on $10,000?" } },
      { name: "{{agent}}", content: { text: "Engaging Python specialist…", actions: ["PYTHON_ANALYZE"] } },
    ],
    [
      { name: "{{user}}", content: { text: "Research the latest release notes of numpy and summarize them" } },
      { name: "{{agent}}", content: { text: "Engaging Python specialist…", actions: ["PYTHON_ANALYZE"] } },
    ],
  ],

  validate: async (runtime: IAgentRuntime, message: Memory): Promise<boolean> => {
    const service = serviceOf(runtime);
    if (!service?.available || !service.modelConfigured) return false;
    return ANALYZE_INTENT.test(message.content?.text ?? "");
  },

  handler: async (runtime, message, state, _options, callback?: HandlerCallback): Promise<ActionResult> => {
    const log = (runtime.logger as LoggerLike | undefined) ?? console;
    const service = serviceOf(runtime);
    const say = async (text: string) => {
      try {
        await callback?.({ text, actions: ["PYTHON_ANALYZE"], source: message.content?.source });
      } catch (error) {
        log.warn(`sidekick: the callback failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    if (!service) {
      const text = "The Python specialist is not available (the python_sidekick service is not running).";
      await say(text);
      return { success: false, text, error: text, data: { pythonUsed: false } };
    }
    if (service.available && !service.modelConfigured) {
      const text = `The Python specialist has no model to work with. ${service.settings.endpointProblem}`;
      await say(text);
      return { success: false, text, error: text, data: { pythonUsed: false } };
    }
    await say("Engaging Python specialist…");
    const started = Date.now();
    try {
      const history = await loadHistory(runtime, message.roomId);
      const result = await service.executeTask({
        task: message.content?.text ?? "",
        context: buildContext(runtime, message, state),
        hostTools: hostActionTools(runtime, service.settings.hostActions, { message, state }, log),
        messages: history.length ? history : undefined,
        onProgress: (p) => log.info(`sidekick: step ${p.progress}${p.total ? `/${p.total}` : ""}: ${p.message ?? ""}`),
      });
      await saveHistory(runtime, message.roomId, history, result);
      // The run's error is an object {code, message, kind}; ActionResult.error wants a string.
      const reason = result.error?.message ?? `stopped: ${result.stopReason}`;
      const text = result.text || (result.error ? `The Python specialist stopped: ${reason}` : "The Python specialist returned no answer.");
      await say(text);
      const success = result.stopReason === "done" || (result.stopReason !== "error" && Boolean(result.text));
      await recordRun(runtime, message, {
        success,
        stopReason: result.stopReason,
        ...(result.error?.kind ? { errorKind: result.error.kind } : {}),
        ...(success ? {} : { error: clip(reason, 500) }),
        durationMs: result.durationMs,
        steps: result.steps.length,
        toolErrors: result.steps.filter((step) => !step.ok).length,
        toolsUsed: result.toolsUsed,
        usage: result.usage,
        modelTurns: result.modelTurns,
        provider: result.endpoint?.provider,
        model: result.endpoint?.model,
        messageId: message.id,
      }, log);
      return {
        success,
        text,
        ...(success ? {} : { error: reason }),
        data: {
          pythonUsed: true,
          toolsUsed: result.toolsUsed,
          steps: result.steps,
          usage: result.usage,
          stopReason: result.stopReason,
          durationMs: result.durationMs,
          endpoint: result.endpoint,
        },
      };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log.error(`sidekick: PYTHON_ANALYZE failed: ${reason}`);
      const text = `The Python specialist could not finish this request: ${reason}`;
      await say(text);
      await recordRun(runtime, message, {
        success: false,
        stopReason: "failed",
        errorKind: error instanceof Error ? error.name : "Error",
        error: clip(reason, 500),
        durationMs: Date.now() - started,
        steps: 0,
        toolErrors: 0,
        toolsUsed: [],
        usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
        provider: service.settings.endpoint ? service.getStatus().endpoint?.provider : undefined,
        messageId: message.id,
      }, log);
      return { success: false, text, error: reason, data: { pythonUsed: true, durationMs: Date.now() - started } };
    }
  },
};
