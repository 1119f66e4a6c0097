"""`native`, the default framework: the sidekick's own tool-calling loop (`sidekick.agent.loop.AgentLoop`),
where the model sees every tool result before it picks its next step."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel
    from sidekick.agent.toolbox import Toolbox
    from sidekick.run_protocol import RunParams, RunResult
    from sidekick.hooks import HookSet


class NativeFramework:
    name = "native"
    narrates = True  # the loop says what each step did, corrections included: progress uses its words

    async def run(self, params: RunParams, toolbox: Toolbox, model: ChatModel, hooks: HookSet) -> RunResult:
        from sidekick.agent.loop import AgentLoop

        if not hooks.listens("on_progress"):
            return await AgentLoop(model, toolbox).run(params)
        report = hooks.progress
        return await AgentLoop(model, toolbox, progress=lambda step, message: report(message)).run(params)
