// A PythonSidekickService on the real Python sidekick and a scripted OpenAI-compatible server, without an agent.
import assert from "node:assert/strict";
import { PythonSidekickService } from "../../dist/index.js";
import { startFakeOpenAI } from "./fake-openai.js";
import { alive, PYTHON, recordingLogger, within } from "./util.js";

/** A settings source standing in for the runtime (no agent here). */
export function fakeRuntime(settings, logger) {
  return { getSetting: (k) => settings[k] ?? null, logger, actions: [], agentId: "00000000-0000-0000-0000-000000000001" };
}

/** Start the service with these settings on top of the test model's; returns {service, openai, logger}. */
export async function startTestService(settings = {}) {
  const openai = await startFakeOpenAI();
  const logger = recordingLogger();
  const service = new PythonSidekickService(
    fakeRuntime(
      {
        SIDEKICK_COMMAND: `"${PYTHON}" -m sidekick --stdio`,
        SIDEKICK_BASE_URL: openai.baseUrl,
        SIDEKICK_MODEL: "test-model",
        SIDEKICK_API_KEY: "sk-test",
        ...settings,
      },
      logger,
    ),
  );
  await within(service.processSupervisor.start(), 30_000, "sidekick start");
  return { service, openai, logger };
}

/** Stop what startTestService started, and check no process is left. */
export async function stopTestService({ service, openai }) {
  const pid = service.getStatus().pid;
  await service.stop();
  await openai.close();
  assert.equal(alive(pid), false);
}
