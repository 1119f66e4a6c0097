"""`sidekick eval`: tool-calling benchmarks scored the way tau-bench scores agents.

A suite (see `suite.py`) supplies tasks, host tools and a database per trial; the runner plays the host
over the real stdio protocol against a `sidekick --stdio` child, optionally runs the `upfront` baseline
beside it, and writes a JSON, Markdown and PNG report.
"""
