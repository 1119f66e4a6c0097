"""The tools the sidekick offers: the built-ins and those of installed plugins.

Importing this package stays cheap: numexpr, numpy, requests and beautifulsoup4 are imported inside
the tools' `run()`, on first use.
"""

from __future__ import annotations

from sidekick.tools.base import Tool, ToolArgs, ToolFailure, ToolOutput, ToolRegistry, as_output
from sidekick.tools.calculate import CalculateTool
from sidekick.tools.fetch import FetchUrlTool
from sidekick.tools.search import WebSearchTool

__all__ = [
    "CalculateTool",
    "FetchUrlTool",
    "Tool",
    "ToolArgs",
    "ToolFailure",
    "ToolOutput",
    "ToolRegistry",
    "WebSearchTool",
    "as_output",
    "build_registry",
]


def build_registry(load_plugins: bool = True) -> ToolRegistry:
    """A registry with the built-in tools, plus plugin tools (entry-point group `sidekick.tools`)."""
    registry = ToolRegistry()
    for tool in (CalculateTool(), FetchUrlTool(), WebSearchTool()):
        registry.add(tool)
    if load_plugins:
        from sidekick.tools.plugins import load_plugins as load

        load(registry)
    return registry
