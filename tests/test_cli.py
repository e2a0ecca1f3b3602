"""The CLI surface: every command has help with an example; global options work."""

from __future__ import annotations

import click
import pytest

from segment_report.pipeline import __version__
from segment_report.pipeline.cli import cli
from tests.conftest import invoke


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))


ALL_COMMANDS = list(_commands(cli))


def test_top_level_lists_every_command(runner):
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for name in ("generate", "validate", "run", "demo", "render", "email", "sentiment"):
        assert f"  {name} " in result.output


@pytest.mark.parametrize("path, command", ALL_COMMANDS, ids=[" ".join(p) for p, _ in ALL_COMMANDS])
def test_every_command_has_help_and_example(runner, path, command):
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help text"
    result = invoke(runner, *path, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "segment-report " + path[0] in result.output


def test_version(runner):
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_quiet_run_prints_only_the_summary(runner, tmp_path, small_retail, vader_config):
    result = invoke(runner, "-q", "run", "--no-gates", "--config", vader_config, "--input", small_retail,
                    "--out", tmp_path / "o",
                    "--period", "2026-10")
    assert result.exit_code == 0, result.output
    assert "INFO" not in result.stderr  # -q keeps warnings only (here: too few customers to segment)
    assert "too few to segment" in result.stderr
    assert "run succeeded" in result.stdout
