/** PYTHON_SIDEKICK_STATUS: tells the agent whether its Python specialist is up. */
import type { IAgentRuntime, Provider, ProviderResult } from "@elizaos/core";
import { PythonSidekickService } from "./service.js";

export const pythonSidekickStatusProvider: Provider = {
  name: "PYTHON_SIDEKICK_STATUS",
  description: "Whether the Python specialist (PYTHON_ANALYZE) is ready, its restarts and its last error",
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
    const ready = status.state === "ready";
    const parts = [`Python specialist: ${status.state}`];
    if (status.restarts) parts.push(`${status.restarts} restart(s)`);
    if (status.lastError && !ready) parts.push(`last error: ${status.lastError}`);
    return {
      text: `${parts.join(", ")}.${ready ? " Use PYTHON_ANALYZE for multi-step analysis, research, calculations and benchmarks." : ""}`,
      values: { pythonSidekickReady: ready, pythonSidekickRestarts: status.restarts, pythonSidekickLastError: status.lastError ?? "" },
      data: { pythonSidekick: status },
    };
  },
};
