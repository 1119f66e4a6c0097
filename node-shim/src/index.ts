/**
 * plugin-python-sidekick: a Python tool-calling sidekick for elizaOS agents, spawned as a child
 * process and spoken to with JSON-RPC 2.0 over stdio.
 */
import type { Plugin } from "@elizaos/core";
import { pythonAnalyzeAction } from "./action.js";
import { pythonSidekickStatusProvider } from "./provider.js";
import { PythonSidekickService } from "./service.js";

export const pythonSidekickPlugin: Plugin = {
  name: "python-sidekick",
  description: "Multi-step analysis, research and calculations by a Python tool-calling sidekick (PYTHON_ANALYZE)",
  services: [PythonSidekickService],
  actions: [pythonAnalyzeAction],
  providers: [pythonSidekickStatusProvider],
  init: async (_config, runtime) => {
    // The runtime registers its plugins one after another without waiting; once this microtask runs
    // runtime.plugins lists them all, so the agent's model plugin can be told.
    queueMicrotask(() => PythonSidekickService.prewarm(runtime));
  },
};

export default pythonSidekickPlugin;

export { pythonAnalyzeAction, ANALYZE_INTENT, buildContext } from "./action.js";
export { pythonSidekickStatusProvider } from "./provider.js";
export { PythonSidekickService, PROTOCOL_VERSION } from "./service.js";
export type { EndpointInfo, ExecuteTaskOptions, RunResult, TaskResult, RunError, RunStep, RunProgress, ToolCallResult, SidekickStatus, ServiceOptions } from "./service.js";
export { PROVIDERS, LOCAL_AI_HINT, resolveEndpoint, describeEndpoint, type ModelProvider, type ModelEndpoint } from "./providers.js";
export { hostActionTools, actionInputSchema, type HostTool, type HostToolResult } from "./host-tools.js";
export { JsonRpcConnection } from "./rpc.js";
export { SidekickProcess, childEnv, ENV_ALLOW_LIST, type SpawnSpec, type ExitInfo } from "./process.js";
export { Supervisor, backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy, type SupervisorStatus } from "./supervisor.js";
export { ChildLease, childKey, type LeaseOptions, type LeaseRequestOptions } from "./shared-child.js";
export { ensureVenv, findPython, defaultCacheDir, bundledWheel, PACKAGE_VERSION } from "./bootstrap.js";
export { readSettings, parseCommand, type SidekickSettings } from "./settings.js";
export {
  SidekickError,
  RpcError,
  SidekickExitedError,
  RequestTimeoutError,
  RequestCancelledError,
  SidekickUnavailableError,
  PythonNotFoundError,
} from "./errors.js";
