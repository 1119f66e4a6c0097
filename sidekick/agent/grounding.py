"""Ids the model has read versus ids it made up, and the JSON schema of a call.

Small models open a task about "my delivered order" with `get_order("o_12345")`: an id that appears nowhere
the model could have read it. The loop spots such calls here. When the run has shown no id at all, every id
in a call is made up, and an endpoint that can constrain its output to a schema is asked the turn again held
to the tools that need no id (the lookups). Holding id arguments to the ids shown, tried before, made it
worse on the 1.5B: it put ids of one kind into arguments of another (`get_product("o_1012")`).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Sequence

ID_NAME = re.compile(r"(?:^|[_-])(?:[Uu]?[Uu])?[Ii][Dd][Ss]?$|[a-z0-9](?:I[Dd]|Uuid)s?$")  # id, user_id, orderId, uuid
# A token that may be an id: a word with a letter and a digit or an underscore in it (o_1003, 7f3a-9c,
# SUMMER20), or a number of four digits or more (an order number, a zip code); not a hyphenated word
# ("outdoor-gear") nor a small number or an amount ("within 30 days", "62.25").
_ID_TOKEN = re.compile(r"(?<![\w.-])(?:(?=[\w.-]*[A-Za-z])(?=[\w.-]*[\d_])[A-Za-z0-9][\w.-]{0,62}[A-Za-z0-9]|\d{4,})"
                       r"(?![\w-]|\.\d)")


def id_arguments(arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) pairs of arguments named like ids (`id`, `user_id`, `orderId`, `item_ids`)."""
    pairs = []
    for name, value in arguments.items():
        if not ID_NAME.search(name):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (str, int)) and not isinstance(item, bool) and str(item).strip():
                pairs.append((name, str(item).strip()))
    return pairs


def unseen_ids(arguments: dict[str, Any] | None, seen: Callable[[], str]) -> list[tuple[str, str]]:
    """Id arguments whose value appears nowhere in `seen()` (what the model had read): it made them up."""
    pairs = id_arguments(arguments or {})
    if not pairs:
        return []
    text = seen()
    return [(name, value) for name, value in pairs if value not in text]


def id_tokens(text: str) -> list[str]:
    """The id-like tokens of `text`, first seen first."""
    return list(dict.fromkeys(_ID_TOKEN.findall(text)))


def shows_an_id(texts: Iterable[str], besides: Iterable[str] = ()) -> bool:
    """Whether `texts` (the task, the host's context, tool results that worked) hold an id-like token other
    than those in `besides` (tool names, which prompts mention)."""
    others = set(besides)
    return any(token not in others for text in texts for token in _ID_TOKEN.findall(text))


def call_schema(tools: Sequence[dict[str, Any]], needing_no_id: bool = False) -> dict[str, Any] | None:
    """The JSON schema of one call, `{"name": …, "arguments": …}`, of any of `tools` (specs with `inputSchema`).

    `needing_no_id`: only of the tools none of whose required arguments is named like an id (an array of
    objects with one counts); None when no tool is left.
    """
    options = [{"type": "object", "properties": {"name": {"const": spec["name"]},
                                                 "arguments": spec.get("inputSchema") or {"type": "object"}},
                "required": ["name", "arguments"]}
               for spec in tools if not (needing_no_id and _needs_an_id(spec.get("inputSchema") or {}))]
    if not options:
        return None
    return options[0] if len(options) == 1 else {"anyOf": options}


ANSWER_KEY = "answer"


def decision_schema(call: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON schema of a reply that is either calls (one or a list, each held to `call`, a `call_schema`) or a
    final answer, `{"answer": "…"}`: what a turn is held to where prose about a call, or a tool result the model
    wrote itself, would not do."""
    answer = {"type": "object", "properties": {ANSWER_KEY: {"type": "string"}}, "required": [ANSWER_KEY],
              "additionalProperties": False}
    if call is None:
        return answer
    return {"anyOf": [answer, call, {"type": "array", "items": call, "minItems": 1}]}


def _needs_an_id(schema: dict[str, Any]) -> bool:
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        prop = properties.get(name)
        if ID_NAME.search(str(name)):
            return True
        inner = prop.get("items") if isinstance(prop, dict) and prop.get("type") == "array" else prop
        if isinstance(inner, dict) and inner.get("type") == "object" and _needs_an_id(inner):
            return True
    return False
