"""`sidekick eval`: tool-calling benchmarks scored the way tau-bench scores agents.

A suite (see `suite.py`) supplies tasks, host tools and a database per trial; the runner plays the host
over the real stdio protocol against a `sidekick --stdio` child, runs each task through one framework
(default `native`) and optionally a baseline framework beside it (`upfront`), and writes a JSON, Markdown
and PNG report.
"""
