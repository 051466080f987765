"""The docs are tested: the README's commands are the ones CI runs, every problem
code has its catalogue entry, the shipped config is the one `jxc init` writes."""
from __future__ import annotations

import re
from pathlib import Path

from jxc_sheets.config import Config, default_config_text, load_settings
from jxc_sheets.problems import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _first_screen_commands() -> list[str]:
    first_screen = README.split("---")[0]
    return re.findall(r"```sh\n(.+?)\n```", first_screen)


def test_the_first_screen_gives_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _first_screen_commands()
    assert len(commands) == 2
    run, test = commands
    assert "jxc watch" in run and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_problem_code_is_in_the_readme_catalogue():
    catalogue = README.split("## Problem codes")[1]
    missing = [code for code in CATALOGUE if f"`{code}`" not in catalogue]
    assert missing == []


def test_every_message_is_chinese_first_then_english():
    for code, (zh, en) in CATALOGUE.items():
        assert re.search(r"[\u4e00-\u9fff]", zh), code
        assert not re.search(r"[\u4e00-\u9fff]", en), code


def test_the_repo_config_is_the_default_one_and_equals_no_config(tmp_path):
    assert (ROOT / "config.yaml").read_text(encoding="utf-8") == default_config_text()
    assert load_settings(ROOT / "config.yaml").config == Config()
