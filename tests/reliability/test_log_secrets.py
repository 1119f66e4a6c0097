"""No logger prints a secret, ours or the HTTP library's, even at debug and when an endpoint echoes the key
back in a response header (test_security.py covers keys echoed in bodies and error messages)."""

from __future__ import annotations

import json
import logging
from typing import Any

from sidekick.redact import RedactingFilter, redact, remember_secret
from sidekick.testing.scripted_server import ScriptedOpenAIServer, completion
from tests.reliability.support import drain_messages, ping_barrier, strict_process

# Not shaped like any known key: only remembering the keys we were given can catch these.
ENV_KEY = "opaque-env-CANARY-51f0c2a9d8e7"
PARAM_KEY = "opaque-param-CANARY-7d3b9e1f0a42"


def echoing(key: str) -> dict[str, Any]:
    """A 200 completion whose headers carry the key, the way a misconfigured proxy or a debug endpoint does."""
    return {"status": 200, "body": completion({"content": "fine"}, "m", 0),
            "headers": {"X-Echo-Key": key, "X-Echo-Auth": f"Bearer {key}", "X-Debug": f"api_key={key}"}}


def test_keys_echoed_in_response_headers_never_reach_a_log_line() -> None:
    out: list[Any] = []
    plan: list[dict[str, Any]] = []
    with ScriptedOpenAIServer(lambda body: plan.pop(0)) as server:
        process = strict_process("--log-level", "debug",
                                 env={"SIDEKICK_API_KEY": ENV_KEY, "SIDEKICK_BASE_URL": server.base_url})
        try:
            process.initialize()
            process.request("lvl", "logging/setLevel", {"level": "debug"})  # our loggers also go to stdout
            for n, key in enumerate((ENV_KEY, PARAM_KEY), start=1):
                plan.append(echoing(key))
                model: dict[str, Any] = {"maxRetries": 0}
                if key == PARAM_KEY:
                    model.update(baseUrl=server.base_url, apiKey=key)
                process.send({"jsonrpc": "2.0", "id": n, "method": "sidekick/run",
                              "params": {"task": "go", "tools": [], "model": model}})
                out += drain_messages(process, lambda m, n=n: m.get("id") == n)
                assert out[-1]["result"]["text"] == "fine", out[-1]
            out += ping_barrier(process, "end")
        finally:
            assert process.close() == 0
    stdout = json.dumps(out)
    stderr = b"".join(process.stderr_lines).decode(errors="replace")
    assert "x-echo-key" in stderr.lower(), "the HTTP library's header lines were not logged: nothing was tested"
    for secret in (ENV_KEY, PARAM_KEY):
        assert secret not in stderr, [line for line in stderr.splitlines() if secret in line][:3]
        assert secret not in stdout


def test_the_filter_redacts_message_arguments_and_tracebacks() -> None:
    remember_secret("hunter2-but-longer")
    try:
        raise RuntimeError("rejected key hunter2-but-longer")
    except RuntimeError as exc:
        record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, "headers %r", ([(b"authorization", b"Bearer "
                                   b"tok-0123456789")],), (type(exc), exc, exc.__traceback__))
    assert RedactingFilter().filter(record)
    line = logging.Formatter("%(message)s").format(record)
    assert "hunter2-but-longer" not in line and "tok-0123456789" not in line
    assert "RuntimeError: rejected key [redacted]" in line and "Bearer [redacted]" in line


def test_credential_shapes_are_redacted_even_when_unknown() -> None:
    assert redact("Authorization: Bearer abc.def-ghi_jkl") == "Authorization: Bearer [redacted]"
    assert redact("{'x-api-key': 'zzzzzzzz', 'other': 'kept'}") == "{'x-api-key': '[redacted]', 'other': 'kept'}"
    assert redact("key sk-proj-0123456789abcdef in a message") == "key [redacted] in a message"
    assert redact("Authorization failed; bearer tokens expire") == "Authorization failed; bearer tokens expire"
