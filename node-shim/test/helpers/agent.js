// Builds a real AgentRuntime from @elizaos/core with the plugin, an in-memory adapter and a test
// plugin whose GET_SECRET_NUMBER action the sidekick may call as a host tool.
import { randomUUID } from "node:crypto";
import { AgentRuntime } from "@elizaos/core";
import { createMemoryAdapter } from "./memory-adapter.js";

/** An agent action that the loop calls back: it talks through the callback and returns an ActionResult. */
export function secretNumberPlugin(calls = []) {
  return {
    name: "test-secret",
    description: "test actions",
    actions: [
      {
        name: "GET_SECRET_NUMBER",
        description: "Tells the agent's secret number for a topic",
        parameters: { type: "object", properties: { topic: { type: "string" } }, required: ["topic"] },
        validate: async () => true,
        handler: async (_runtime, message, _state, options, callback) => {
          calls.push({ content: message.content, options });
          await callback?.({ text: `Looking up the secret for ${message.content.actionParams?.topic}` });
          return { success: true, text: `The secret number for ${message.content.actionParams?.topic} is 42` };
        },
      },
    ],
  };
}

/**
 * Creates and initializes a runtime; `plugin` is the plugin-python-sidekick export under test.
 * `opts.before` plugins load before it; `opts.logger` (a recordingLogger) also gets the runtime's log.
 */
export async function createAgent(plugin, settings, extraPlugins = [], secrets = {}, opts = {}) {
  const runtime = new AgentRuntime({
    character: { name: "Sage", bio: ["A careful analyst."], topics: ["finance"], settings, secrets, plugins: [] },
    plugins: [...(opts.before ?? []), plugin, ...extraPlugins],
    adapter: createMemoryAdapter(),
  });
  if (opts.logger) {
    for (const level of ["debug", "info", "warn", "error"]) {
      const original = runtime.logger[level].bind(runtime.logger);
      runtime.logger[level] = (...args) => (opts.logger[level](...args), original(...args));
    }
  }
  await runtime.initialize();
  return runtime;
}

/** A stand-in for an elizaOS model plugin: only its name matters to the sidekick (see src/providers.ts). */
export function modelPlugin(name) {
  return { name, description: `stand-in for the ${name} model plugin` };
}

/** A user message in a fresh room. */
export function userMessage(runtime, text, roomId = randomUUID()) {
  return { id: randomUUID(), entityId: randomUUID(), agentId: runtime.agentId, roomId, content: { text, source: "test" }, createdAt: Date.now() };
}

/** The agent's response that picks PYTHON_ANALYZE (what the message pipeline would produce). */
export function analyzeResponse(runtime, message) {
  return { id: randomUUID(), entityId: runtime.agentId, agentId: runtime.agentId, roomId: message.roomId, content: { text: "", actions: ["PYTHON_ANALYZE"], thought: "needs Python" } };
}
