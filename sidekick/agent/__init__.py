"""The agent loop: a task in, model turns and tool calls that react to every result, an answer out."""
