"""The test framework plugin (`plugin_package/`, the entry point `handmade`), installed in this venv.

.ci/run installs it with the package; a developer's venv that lacks it gets it installed here, once, the way
a user installs a plugin (pip). In CI a missing plugin is a failure, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidekick import frameworks
from sidekick.entrypoints import entry_point_names

PACKAGE = Path(__file__).resolve().parent / "plugin_package"


def require_plugin() -> None:
    """Make sure `handmade` is an installed framework of this Python."""
    if "handmade" in entry_point_names(frameworks.GROUP):
        return
    if os.environ.get("CI"):
        pytest.fail("the test framework plugin is not installed: .ci/run installs tests/frameworks/plugin_package")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", str(PACKAGE)], check=True, timeout=600)
    frameworks._plugin_names = None  # read again: it was just installed


def require_langgraph() -> None:
    """The langgraph extra is installed (CI installs it); a developer's venv without it skips those tests."""
    if frameworks.installed("langgraph"):
        return
    if os.environ.get("CI"):
        pytest.fail("the langgraph extra is not installed: .ci/run installs eliza-sidekick[langgraph]")
    pytest.skip("the langgraph extra is not installed (pip install -e '.[langgraph]')")
