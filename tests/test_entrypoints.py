"""Entry-point names read without importlib.metadata agree with it, and follow its rules."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from sidekick.entrypoints import entry_point_names, instance, load_entry_point, load_reference


@pytest.mark.parametrize("group", ["console_scripts", "sidekick.frameworks", "sidekick.tools", "pytest11"])
def test_the_names_are_those_importlib_metadata_finds(group: str) -> None:
    assert sorted(entry_point_names(group)) == sorted({p.name for p in entry_points(group=group)})


def dist(where: Path, folder: str, text: str) -> None:
    (where / folder).mkdir()
    (where / folder / "entry_points.txt").write_text(text)


def test_the_first_distribution_of_a_name_on_the_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    dist(first, "my_pkg-2.0.dist-info", "# comment\n[other]\nx = m:x\n\n[demo.group]\nnew = pkg:New\n")
    dist(second, "my_pkg-1.0.dist-info", "[demo.group]\nold = pkg:Old\n")
    dist(second, "legacy.egg-info", "[demo.group]\n legacy = legacy_mod:Thing \n")
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), str(second)])
    assert entry_point_names("demo.group") == ["new", "legacy"]
    assert entry_point_names("other") == ["x"] and entry_point_names("nothing") == []


def test_loading_a_reference_or_an_entry() -> None:
    assert load_reference("sidekick.entrypoints:load_reference") is load_reference
    assert isinstance(instance(dict), dict) and instance(load_reference) is load_reference
    with pytest.raises(LookupError):
        load_entry_point("sidekick.frameworks", "no-such-framework")
