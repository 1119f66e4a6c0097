"""The peer MCP server: the MCP Python SDK over stdio, serving the same `calculate` (run by bench/protocol.py
with bench/.venv-peers' Python, never installed with the sidekick)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp.server import MCPServer  # noqa: E402

from sidekick.tools.calculate import evaluate, format_value  # noqa: E402

app = MCPServer("bench-peer")


@app.tool()
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return format_value(evaluate(expression))


if __name__ == "__main__":
    app.run("stdio")
