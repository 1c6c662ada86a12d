"""The README's promises: its test command is what CI runs, every command is documented."""

from __future__ import annotations

import pathlib
import re

import micropim

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, re.S)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _shell_blocks()[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_first_command_installs_and_serves_the_demo() -> None:
    first = _shell_blocks()[0].strip()
    assert "pip install" in first and "micropim serve --demo" in first
    # The package alone: the test tools (Playwright, mypy, hypothesis) are the test
    # command's, not a first try's.
    assert "[test]" not in first and "pip install ." in first


def test_the_test_command_installs_the_test_extra() -> None:
    test_command = _shell_blocks()[1].strip()
    assert "pip install -q -e '.[test]'" in test_command


def test_every_command_and_option_is_documented() -> None:
    parser = micropim.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for action in parser._actions:  # the program's own options (--version)
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`micropim {flag}" in README, flag
    for name, sub in subparsers.choices.items():
        assert f"`micropim {name}" in README, name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert f"`{flag}" in README, f"{name} {flag}"


def test_every_option_shows_its_default_and_variable_in_help() -> None:
    parser = micropim.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and "default: " in action.help, f"{name} {action.option_strings}"
                env = f"MICROPIM_{action.dest.upper()}"
                assert env in action.help, f"{name} {action.option_strings}"
        text = sub.format_help()
        assert "default: " in text
