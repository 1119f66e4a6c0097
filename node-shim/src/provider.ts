/** PYTHON_SIDEKICK_STATUS: tells the agent whether its Python specialist is up, on which model, and how
 * today's PYTHON_ANALYZE runs went. */
import type { IAgentRuntime, Provider, ProviderResult } from "@elizaos/core";
import { runsToday } from "./action.js";
import { PythonSidekickService } from "./service.js";

export const pythonSidekickStatusProvider: Provider = {
  name: "PYTHON_SIDEKICK_STATUS",
  description: "Whether the Python specialist (PYTHON_ANALYZE) is ready, its model, its restarts, its last error, and today's runs and success rate",
  get: async (runtime: IAgentRuntime): Promise<ProviderResult> => {
    const service = runtime.getService<PythonSidekickService>(PythonSidekickService.serviceType);
    if (!service) {
      return {
        text: "Python specialist: not running (PYTHON_ANALYZE is unavailable).",
        values: { pythonSidekickReady: false },
        data: { pythonSidekick: { state: "absent" } },
      };
    }
    const status = service.getStatus();
    const configured = status.endpoint !== null;
    const ready = status.state === "ready" && configured;
    const parts = [`Python specialist: ${configured || status.state !== "ready" ? status.state : "not configured"}`];
    if (status.restarts) parts.push(`${status.restarts} restart(s)`);
    if (status.endpoint) parts.push(`model ${status.endpoint.model ?? "(default)"} via ${status.endpoint.provider} at ${status.endpoint.baseUrl}`);
    else if (status.state === "ready") parts.push(`${status.endpointProblem} PYTHON_ANALYZE is not offered; the sidekick's own tools still work`);
    if (status.lastError && status.state !== "ready") parts.push(`last error: ${status.lastError}`);
    const tally = await runsToday(runtime);
    const successRate = tally.runs ? tally.succeeded / tally.runs : null;
    if (tally.runs) parts.push(`today ${tally.runs} run(s), ${Math.round((successRate ?? 0) * 100)}% succeeded`);
    return {
      text: `${parts.join(", ")}.${ready ? " Use PYTHON_ANALYZE for multi-step analysis, research, calculations and benchmarks." : ""}`,
      values: {
        pythonSidekickReady: ready,
        pythonSidekickConfigured: configured,
        pythonSidekickProvider: status.endpoint?.provider ?? "",
        pythonSidekickModel: status.endpoint?.model ?? "",
        pythonSidekickRestarts: status.restarts,
        pythonSidekickLastError: status.lastError ?? "",
        pythonSidekickRunsToday: tally.runs,
        pythonSidekickSuccessRateToday: successRate ?? "",
      },
      data: { pythonSidekick: { ...status, today: { ...tally, successRate } } },
    };
  },
};
