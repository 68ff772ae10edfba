"""The evaluation config: loading, overrides, and errors that name what is wrong."""

from __future__ import annotations

import re

import pytest
import yaml

from doorstep.config import load_config
from doorstep.errors import ConfigError


def test_demo_configs_load_with_absolute_paths(demo_projects):
    for programme, path in demo_projects.items():
        config = load_config(path)
        assert config.programme == programme
        assert all(source.path.is_absolute() and source.path.exists()
                   for source in config.sources)
        assert set(config.headline.values()) <= set(config.outcomes)
        assert config.inputs()["config"] == path.resolve()


def test_resolved_config_round_trips(demo_projects, tmp_path):
    config = load_config(demo_projects["skills_workshops"], ["language=zh"])
    written = tmp_path / "config.yaml"
    written.write_text(yaml.safe_dump(config.as_dict(), allow_unicode=True))
    again = load_config(written)
    assert again.language == "zh"
    assert again.as_dict() == {**config.as_dict()} and again.sources == config.sources


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("colour=blue", "unknown key 'colour'"),
        ("language=fr", "language: expected one of ['en', 'zh'], found 'fr'"),
        ("min_cell_size=five", "min_cell_size: expected an integer, found 'five'"),
        ("headline.income=not_an_outcome", "headline names outcomes ['not_an_outcome']"),
        ("language", "expected key=value"),
    ],
)
def test_bad_overrides_are_errors_that_say_what_is_wrong(demo_projects, override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(demo_projects["caring_mothers"], [override])


def test_unknown_key_and_missing_file(tmp_path, demo_projects):
    path = demo_projects["caring_mothers"]
    raw = yaml.safe_load(path.read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**raw, "outcomez": {}}))
    with pytest.raises(ConfigError, match=r"unknown keys \['outcomez'\]"):
        load_config(bad)
    moved = tmp_path / "moved.yaml"
    moved.write_text(path.read_text())
    with pytest.raises(ConfigError, match=r"file '.*' not found \(looked for "):
        load_config(moved)
    with pytest.raises(ConfigError, match="evaluation config not found"):
        load_config(tmp_path / "nope.yaml")
