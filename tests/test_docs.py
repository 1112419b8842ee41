"""What the README and docs/ promise about the command line and the settings is what the code does.

A new user learns the commands from the README's table and the settings from
docs/configuration.md: every option the parser takes, every setting the loader accepts, and each
default, must be written there as the code has it.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from journey_analytics import config
from journey_analytics.cli import build_parser
from journey_analytics.stages.rules import StageSettings

ROOT = Path(__file__).resolve().parents[1]


def _readme_section(title: str) -> str:
    return (ROOT / "README.md").read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _command_row(section: str, command: str) -> str:
    rows = [line for line in section.splitlines() if line.startswith(f"| `journey {command} ")]
    assert len(rows) == 1, f"the README's command table has one row for journey {command}"
    return rows[0]


class TestReadmeCommands:
    """The README's table of `journey` commands lists every option, and the defaults are stated."""

    @pytest.mark.parametrize("command", sorted(_subcommands()))
    def test_every_option_is_in_its_row(self, command: str) -> None:
        row = _command_row(_readme_section("The `journey` command"), command)
        missing = [a.option_strings[-1] for a in _options(_subcommands()[command]) if a.option_strings[-1] not in row]
        assert not missing, f"journey {command} takes {missing}, which its README row does not show"

    @pytest.mark.parametrize("command", sorted(_subcommands()))
    def test_optional_options_are_shown_optional(self, command: str) -> None:
        usage = _command_row(_readme_section("The `journey` command"), command).split("|")[1]
        shown_required = [
            a.option_strings[-1] for a in _options(_subcommands()[command])
            if not a.required and re.search(rf"(?<!\[){re.escape(a.option_strings[-1])}\b", usage)
        ]
        assert not shown_required, f"journey {command}: {shown_required} have defaults but the README shows them required"

    @pytest.mark.parametrize("command", sorted(_subcommands()))
    def test_every_default_is_stated(self, command: str) -> None:
        section = _readme_section("The `journey` command")
        for action in _options(_subcommands()[command]):
            if action.default is None or action.required:
                continue
            assert str(action.default) in section, (
                f"journey {command} {action.option_strings[-1]} defaults to {action.default}; the README does not say so"
            )

    def test_every_journey_environment_variable_is_documented(self) -> None:
        docs = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
        read = set()
        for source in [*(ROOT / "src").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py")]:
            read |= set(re.findall(r"""environ(?:\.get\(|\[)\s*["'](JOURNEY_[A-Z_]+)""", source.read_text()))
        read.add(config.HASH_KEY_ENV)
        assert read >= {"JOURNEY_DEBUG", "JOURNEY_HASH_KEY"}
        assert not sorted(v for v in read if v not in docs), "environment variables the code reads but no doc names"


def _toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(), re.S)


class TestConfigurationDoc:
    """docs/configuration.md shows every setting the loader accepts, with the code's default."""

    def test_every_setting_with_its_default(self) -> None:
        block = _toml_blocks(ROOT / "docs" / "configuration.md")[0]
        documented = tomllib.loads(block)
        for section, cls in config._SECTIONS.items():
            if section == "rules":
                continue
            for f in fields(cls):
                default = getattr(cls(), f.name)
                if default is None:  # shown commented out: there is no default value to write
                    assert re.search(rf"^# {f.name} = ", block, re.M), f"[{section}] {f.name} is not documented"
                else:
                    assert documented.get(section, {}).get(f.name, "missing") == default, (
                        f"[{section}] {f.name}: docs say {documented.get(section, {}).get(f.name, 'nothing')}, code has {default!r}"
                    )
        accepted = {(s, f.name) for s, cls in config._SECTIONS.items() for f in fields(cls)}
        shown = {(s, k) for s, values in documented.items() for k in values}
        assert shown <= accepted, f"documented settings the loader refuses: {sorted(shown - accepted)}"

    def test_every_rule_file_setting(self) -> None:
        (rules,) = [tomllib.loads(b) for b in _toml_blocks(ROOT / "docs" / "configuration.md") if "[rules]" in b]
        assert set(rules["rules"]) == {f.name for f in fields(config.RuleFiles)}

    def test_stage_settings_in_the_bundled_file_and_the_docs(self) -> None:
        bundled = tomllib.loads((ROOT / "config" / "stages.toml").read_text())["settings"]
        doc = (ROOT / "docs" / "stages.md").read_text()
        for f in fields(StageSettings):
            assert bundled.get(f.name) == getattr(StageSettings(), f.name), f"config/stages.toml [settings] {f.name}"
            assert f"`{f.name}`" in doc, f"docs/stages.md does not explain [settings] {f.name}"


class TestReadmeLayout:
    """The README's layout names every module of the package and every SQL model a reader may look for."""

    def test_every_module_and_model_is_named(self) -> None:
        layout = _readme_section("Layout")
        package = ROOT / "src" / "journey_analytics"
        names = [p.name + ("/" if p.is_dir() else "") for p in package.iterdir()
                 if not p.name.startswith("_") and (p.is_dir() or p.suffix == ".py")]
        names += [p.name for p in (ROOT / "pipelines").glob("*.py") if not p.name.startswith("_")]
        for folder in ("intermediate", "ledgers", "marts"):
            names += [p.stem for p in (ROOT / "sql" / folder).glob("*.sql")]
        missing = sorted(n for n in names if not re.search(rf"\b{re.escape(n)}(?![\w.])", layout))
        assert not missing, f"the README's layout does not name {missing}"


class TestTableCommentsNameTheirSettings:
    """A table's comment that describes a configurable rule names its setting and default: the
    warehouse was built with the run's settings, so sessions ended by 45 minutes of inactivity
    read 'ended by 30 minutes of inactivity' to an analyst reading the comments."""

    def test_sessions(self) -> None:
        header = (ROOT / "sql" / "marts" / "sessions.sql").read_text().split("\n--\n", 1)[0]
        settings = config._SECTIONS["sessions"]
        for f in fields(settings):
            assert f.name in header, f"the sessions table's comment does not name [sessions] {f.name}"
        assert f"{settings().timeout_minutes} by default" in header
