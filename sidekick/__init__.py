"""eliza-sidekick: a Python tool-calling sidekick spoken to over JSON-RPC 2.0 on stdio."""

__version__ = "0.1.0"
