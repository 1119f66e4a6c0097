"""Runs: a task, its framework, model, toolbox and hooks, assembled in one place (`build_run`)."""

from sidekick.runs.build import Run, build_run

__all__ = ["Run", "build_run"]
