"""The README documents the CLI that exists: its command table lists every command (and no other)
and every option it names exists (help texts and examples: tests/test_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from segment_report.pipeline.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _command_table() -> dict[str, str]:
    """``{"generate": "--out DIR [--transactions N] ...", ...}`` from the README's Commands table."""
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `segment-report ([a-z]+)([^`]*)` \|", section, flags=re.M)
    return {name: rest for name, rest in rows}


def test_readme_command_table_lists_exactly_the_cli_commands():
    assert set(_command_table()) == set(cli.commands)


@pytest.mark.parametrize("name", sorted(_command_table()))
def test_every_option_in_the_readme_table_exists(name):
    command = cli.commands[name]
    documented = set(re.findall(r"(--[a-z][a-z-]*)", _command_table()[name]))
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    assert documented <= known, f"README names options that '{name}' does not have: {documented - known}"
