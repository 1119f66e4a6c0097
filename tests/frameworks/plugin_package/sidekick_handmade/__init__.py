"""A hand-made agent, added to the sidekick the way any package adds one: a plain class with `name` and
`async run(params, toolbox, model, hooks)`, registered in the entry-point group `sidekick.frameworks`.
It imports nothing from the sidekick and answers with a dict of the result's wire shape."""

import json
import time


class HandmadeAgent:
    name = "handmade"

    async def run(self, params, toolbox, model, hooks):
        started = time.perf_counter()
        specs = toolbox.specs()
        task = {"role": "user", "content": params.task}
        messages = [{"role": "system", "content": "Use the tools you need, then answer."}, task]
        steps, turns = [], 0
        usage = {"promptTokens": 0, "completionTokens": 0, "totalTokens": 0}

        def result(text, stop):
            return {"text": text, "stopReason": stop, "steps": steps,
                    "toolsUsed": list(dict.fromkeys(s["tool"] for s in steps)), "usage": usage,
                    "messages": messages[1:], "modelTurns": turns,
                    "durationMs": (time.perf_counter() - started) * 1000}

        for _ in range(params.max_steps):
            turn = await model.complete(messages, specs, None)
            turns += 1
            if turn.usage is not None:
                usage = {"promptTokens": usage["promptTokens"] + turn.usage.prompt_tokens,
                         "completionTokens": usage["completionTokens"] + turn.usage.completion_tokens,
                         "totalTokens": usage["totalTokens"] + turn.usage.total_tokens}
            if not turn.tool_calls:
                messages.append({"role": "assistant", "content": turn.content})
                return result(turn.content or "", "done")
            messages.append({"role": "assistant", "content": turn.content, "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(self._args(c))}}
                for c in turn.tool_calls]})
            for call in turn.tool_calls:
                output = await toolbox.call(call.name, self._args(call))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": output.text})
                steps.append({"tool": call.name, "arguments": self._args(call), "ok": not output.is_error,
                              "preview": output.text[:200], "durationMs": 0.0, "source": toolbox.source(call.name)})
        return result("The hand-made agent ran out of steps.", "max_steps")

    @staticmethod
    def _args(call):
        if isinstance(call.arguments, str):
            return json.loads(call.arguments or "{}")
        return call.arguments or {}
