"""Entry points of installed packages: their names found cheaply, an entry's object loaded when it is used.

Importing `importlib.metadata` costs ~70 ms here (it pulls in email, zipfile, csv…): too much for the
initialize answer, which lists the installed frameworks. So the names are read straight from the
`entry_points.txt` of each distribution on sys.path, the file importlib.metadata reads too, with its rule
that the first distribution of a name on sys.path wins. Loading an entry goes through importlib.metadata.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _section(text: str, group: str) -> list[str]:
    names, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line == f"[{group}]"
            continue
        if inside and "=" in line:
            names.append(line.split("=", 1)[0].strip())
    return names


def _distribution(folder: str) -> str:
    stem = folder.rsplit(".", 1)[0]  # name-version.dist-info, name.egg-info, name-version-py3.11.egg-info
    return stem.split("-", 1)[0].lower().replace("-", "_").replace(".", "_")


def entry_point_names(group: str) -> list[str]:
    """The names of every installed entry point of `group`, in sys.path order, without importing anything."""
    names: list[str] = []
    seen: set[str] = set()
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as items:
                folders = sorted(i.name for i in items if i.name.endswith((".dist-info", ".egg-info")))
        except OSError:  # not a directory (a zip), or gone
            continue
        for folder in folders:
            distribution = _distribution(folder)
            if distribution in seen:
                continue
            seen.add(distribution)
            try:
                with open(os.path.join(entry or ".", folder, "entry_points.txt"), encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):
                continue
            if f"[{group}]" in text:
                names += [name for name in _section(text, group) if name not in names]
    return names


def load_entry_point(group: str, name: str) -> Any:
    """The object the entry point `name` of `group` names (its module imported). LookupError when none does."""
    from importlib.metadata import entry_points

    for point in entry_points(group=group):
        if point.name == name:
            return point.load()
    raise LookupError(f"no entry point {name!r} in the group {group!r}")


def load_reference(reference: str) -> Any:
    """The object a `module:attribute` reference names (the form entry points use)."""
    import importlib

    module, _, attribute = reference.partition(":")
    value: Any = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        value = getattr(value, part)
    return value


def instance(value: Any) -> Any:
    """An entry may name a class (made with no arguments) or an object: the object either way."""
    return value() if isinstance(value, type) else value
