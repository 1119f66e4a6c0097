"""Settings checks that run before anything else: base URLs and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidekick.config import apply_file_settings, base_url_problem, check_file_settings, url_problem


@pytest.mark.parametrize("url", ["http://localhost:11434/v1", "https://api.openai.com/v1", "HTTP://X/v1",
                                 "http://[::1]:8080/v1", " http://127.0.0.1:9/v1 "])
def test_http_urls_pass(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(("url", "said"), [
    ("not a url", "is not a URL: 'not a url' (expected e.g. http://localhost:11434/v1)"),
    ("localhost:11434/v1", "has no scheme: 'localhost:11434/v1' (did you mean http://localhost:11434/v1?)"),
    ("api.openai.com/v1", "has no scheme: 'api.openai.com/v1' (did you mean http://api.openai.com/v1?)"),
    ("ftp://x/v1", "must start with http:// or https://, got 'ftp://x/v1'"),
    ("http://", "has no host: 'http://'"),
    ("http:/localhost/v1", "is not a URL: 'http:/localhost/v1' (expected e.g. http://localhost:11434/v1)"),
    ("http://x:port/v1", "is not a URL: 'http://x:port/v1' (Port could not be cast to integer value as 'port')"),
    ("", "is not a URL: '' (expected e.g. http://localhost:11434/v1)"),
])
def test_what_is_wrong_with_a_url(url: str, said: str) -> None:
    assert url_problem(url) == said


def test_the_environment_is_checked_sidekick_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIDEKICK_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert base_url_problem() is None
    monkeypatch.setenv("OPENAI_BASE_URL", "nope")
    assert base_url_problem() == "OPENAI_BASE_URL is not a URL: 'nope' (expected e.g. http://localhost:11434/v1)"
    monkeypatch.setenv("SIDEKICK_BASE_URL", "ftp://x")
    assert base_url_problem().startswith("SIDEKICK_BASE_URL must start with http://")  # type: ignore[union-attr]


def test_file_problems_are_returned_and_good_values_still_apply(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "from-file"\nmodle = "typo"\nstream = true\nbase_url = [1]\n')
    monkeypatch.delenv("SIDEKICK_MODEL", raising=False)
    monkeypatch.delenv("SIDEKICK_STREAM", raising=False)
    values, problems = check_file_settings(config)
    assert values == {"SIDEKICK_MODEL": "from-file", "SIDEKICK_STREAM": "1"}
    assert [p.split(" in ")[0] for p in problems] == ["ignoring unknown setting 'modle'", "ignoring base_url"]
    applied, again = apply_file_settings(config)
    assert applied == values and again == problems


def test_a_missing_file_is_a_problem_only_when_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIDEKICK_CONFIG", raising=False)
    assert check_file_settings(tmp_path / "none.toml") == ({}, [])
    monkeypatch.setenv("SIDEKICK_CONFIG", str(tmp_path / "none.toml"))
    assert check_file_settings() == ({}, [f"the config file {tmp_path / 'none.toml'} named by SIDEKICK_CONFIG "
                                          "does not exist"])
    (tmp_path / "none.toml").write_text("= broken")
    values, problems = check_file_settings()
    assert values == {} and problems[0].startswith(f"ignoring the config file {tmp_path / 'none.toml'}: ")
