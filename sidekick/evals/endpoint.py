"""What the eval saw at the model endpoint, for the report: the server, the model ids it lists, and what
llama.cpp says of itself. Asked once, before the runs; a failure is recorded, never fatal."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from sidekick.agent.context import api_root

TIMEOUT_S = 10.0


def _get(url: str, headers: dict[str, str]) -> tuple[Any, str | None]:
    """The JSON body and the Server header of a GET."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S) as response:
        return json.loads(response.read()), response.headers.get("Server")


def describe_endpoint(base_url: str, api_key: str, model: str) -> dict[str, Any]:
    """`{server, models, model: {...the listed entry}, llamaCpp?: {build, nCtx, modelFile}}` or `{error}`."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key and api_key != "not-needed" else {}
    seen: dict[str, Any] = {}
    try:
        listed, seen["server"] = _get(base_url.rstrip("/") + "/models", headers)
        entries = [e for e in listed.get("data") or [] if isinstance(e, dict)]
        seen["models"] = [e.get("id") for e in entries][:20]
        entry = next((e for e in entries if e.get("id") == model), None)
        if entry is not None:
            seen["model"] = {k: v for k, v in entry.items() if k in ("id", "owned_by", "created", "meta")}
        if (entry or {}).get("owned_by") == "llamacpp":
            props, _ = _get(api_root(base_url) + "/props", headers)
            seen["llamaCpp"] = {"build": props.get("build_info"),
                                "nCtx": (props.get("default_generation_settings") or {}).get("n_ctx"),
                                "slots": props.get("total_slots"),
                                "modelFile": str(props.get("model_path") or "").rsplit("/", 1)[-1]}
    except (OSError, ValueError, AttributeError) as exc:
        seen["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return seen
