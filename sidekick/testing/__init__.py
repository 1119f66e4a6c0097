"""Test doubles shipped with the package: a scripted OpenAI-compatible server."""
