"""One settings object for the whole pipeline, loaded once from an optional TOML file.

Every tunable setting has a default here and is documented in ``docs/configuration.md``.
Loading does no I/O beyond reading the file it is given.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

HASH_KEY_ENV = "JOURNEY_HASH_KEY"


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the setting."""


@dataclass(frozen=True)
class SessionSettings:
    """How web events are grouped into sessions when the log gives no session_id."""

    timeout_minutes: int = 30
    split_on_new_campaign: bool = True


@dataclass(frozen=True)
class WarehouseSettings:
    """How DuckDB may use the machine while a run builds the warehouse."""

    # DuckDB spills to disk beyond this, so large inputs run in bounded memory.
    memory_limit: str = "4GB"
    # Worker threads; 0 lets DuckDB use every core.
    threads: int = 0


@dataclass(frozen=True)
class IdentitySettings:
    """How identifiers are stitched into customers."""

    # An anonymous_id (a device) links only to the person who last identified on it,
    # so that a shared computer does not merge everyone who ever used it.
    link_device_to_latest_identity_only: bool = True
    # A user id or e-mail shown on more devices than this within 30 days names no one (a 'guest'
    # a tag sends for every visitor, a bot's account): it links to none of them
    # (identifiers_naming_no_one.sql). Within 30 days: a browser keeping cookies a week gives a
    # loyal customer a new device id every week.
    max_devices_per_person: int = 20
    # An e-mail or handle of more user ids than this (info@ a company's accounts share), a user id
    # of more e-mails or handles, and a device on which more people identified (a shop's kiosk)
    # name no one; fewer (duplicate accounts, a family's) still join.
    max_people_per_identifier: int = 10


@dataclass(frozen=True)
class IngestSettings:
    """Limits applied while reading landing files."""

    max_line_bytes: int = 16 * 1024 * 1024
    # Events stamped more than this many days after their arrival day are refused as "in the future".
    max_future_days: int = 1
    earliest_event_year: int = 2000


@dataclass(frozen=True)
class PrivacySettings:
    """Where the key for pseudonymizing e-mail addresses and handles comes from."""

    # The key itself; prefer the JOURNEY_HASH_KEY environment variable over writing it here.
    hash_key: str | None = None


@dataclass(frozen=True)
class RuleFiles:
    """The files holding the business rules; None means the defaults shipped in config/."""

    stages: str | None = None
    funnels: str | None = None
    pain_points: str | None = None


@dataclass(frozen=True)
class Settings:
    """All settings of a run. Build with :func:`load_settings`."""

    sessions: SessionSettings = field(default_factory=SessionSettings)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    rules: RuleFiles = field(default_factory=RuleFiles)
    source: Path | None = None

    def rule_file(self, name: str) -> Path | None:
        """A rule file's path (relative paths are relative to the settings file), or None for the default."""
        value = getattr(self.rules, name)
        if value is None:
            return None
        path = Path(value)
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path

    def hash_key_from_environment(self) -> str | None:
        """The pseudonymization key from the environment, else from the config, else None.

        A variable set to nothing (a secret that did not reach the job) is refused: the run would
        otherwise generate a key of its own, and another machine another one."""
        given = os.environ.get(HASH_KEY_ENV)
        if given is not None and not given.strip():
            raise ConfigError(
                f"{HASH_KEY_ENV} is set but empty: give the key, or unset it to use [privacy] hash_key "
                "or the key file beside the warehouse"
            )
        return given or self.privacy.hash_key


_SECTIONS: dict[str, type] = {
    "sessions": SessionSettings,
    "warehouse": WarehouseSettings,
    "identity": IdentitySettings,
    "ingest": IngestSettings,
    "privacy": PrivacySettings,
    "rules": RuleFiles,
}


def _build_section(cls: type, values: dict[str, Any], path: Path, section: str) -> Any:
    """Build one settings section, refusing unknown keys and wrong types."""
    known = {f.name: f for f in fields(cls)}
    default = cls()
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"{path}: unknown setting [{section}] {key}; known: {', '.join(sorted(known))}"
            )
        expected = type(getattr(default, key))
        if getattr(default, key) is None:
            expected = str
        if expected is int and isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(
                f"{path}: [{section}] {key} must be {expected.__name__}, got {value!r}"
            )
        kwargs[key] = value
    return replace(default, **kwargs)


def read_utf8(path: Path, error: type[Exception]) -> str:
    """A settings or rule file's text; one that is not UTF-8 raises ``error`` naming the file. A
    byte-order mark (Windows Notepad saves one) is not part of the text."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def parse_toml(text: str, path: Path, error: type[Exception]) -> dict[str, Any]:
    """A settings or rule file's tables; text that is not TOML raises ``error`` naming the file
    (tomllib puts "(at line N, column M)" in its message)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def read_toml(path: Path, error: type[Exception]) -> dict[str, Any]:
    """A settings or rule file read as TOML, its faults raised as ``error``, naming the file."""
    return parse_toml(read_utf8(path, error), path, error)


def load_settings(path: Path | str | None = None) -> Settings:
    """Read settings from a TOML file (or defaults when path is None)."""
    if path is None:
        return Settings()
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config path is a folder, not a file: {path}")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    data = read_toml(path, ConfigError)
    sections: dict[str, Any] = {}
    for name, values in data.items():
        if name not in _SECTIONS:
            # The rule files (stages, funnels, pain points) are files of their own, see [rules]
            what = f"section [{name}]" if isinstance(values, dict) else f"setting {name} outside a section"
            raise ConfigError(f"{path}: unknown {what}; known sections: {', '.join(f'[{n}]' for n in _SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{name}] must be a table of settings")
        sections[name] = _build_section(_SECTIONS[name], values, path, name)
    settings = Settings(**sections, source=path)
    for (section, key), (low, high, unit) in _RANGES.items():
        value = getattr(getattr(settings, section), key)
        if not low <= value <= high:
            raise ConfigError(f"{path}: [{section}] {key} must be between {low} and {high}{unit}, got {value}")
    if settings.privacy.hash_key is not None and not settings.privacy.hash_key.strip():
        raise ConfigError(
            f"{path}: [privacy] hash_key is empty: give the key, or remove the setting to use "
            f"{HASH_KEY_ENV} or the key file beside the warehouse"
        )
    _check_memory_limit(settings, path)
    for name in ("stages", "funnels", "pain_points"):
        rule_file = settings.rule_file(name)
        if rule_file is not None and not rule_file.is_file():
            raise ConfigError(f"{path}: [rules] {name} file not found: {rule_file}")
    return settings


# The sensible range of each number setting: a value outside it is a mistake that would fail
# the run half-way (an overflow, a thread count the machine cannot start) or quietly refuse
# every row (a line limit of a few bytes, events "from the future" before they arrive).
_RANGES: dict[tuple[str, str], tuple[int, int, str]] = {
    ("sessions", "timeout_minutes"): (1, 7 * 24 * 60, " minutes"),
    ("identity", "max_devices_per_person"): (1, 1_000_000_000, " devices"),
    ("identity", "max_people_per_identifier"): (1, 1_000_000_000, " people"),
    ("warehouse", "threads"): (0, 1024, " (0: every core)"),
    ("ingest", "max_line_bytes"): (1024, 1 << 30, " bytes"),
    ("ingest", "max_future_days"): (0, 3650, " days"),
    ("ingest", "earliest_event_year"): (1970, 2100, ""),
}


def _check_memory_limit(settings: Settings, path: Path) -> None:
    """Refuse a memory limit DuckDB would refuse (when the run opens the warehouse), or one too
    small for the run to read its files (it would fail half-way), now."""
    import duckdb

    from journey_analytics.ingest._read import line_buffer_bytes
    from journey_analytics.warehouse import memory_limit_bytes

    value = settings.warehouse.memory_limit
    # the line reader holds two of its buffers at a time, and a little more
    need = 2 * line_buffer_bytes(settings.ingest.max_line_bytes) + (4 << 20)
    try:
        con = duckdb.connect(":memory:", config={"memory_limit": value})
    except duckdb.Error:
        raise ConfigError(
            f"{path}: [warehouse] memory_limit {value!r} is not a size DuckDB understands (such as \"4GB\")"
        ) from None
    try:
        have = memory_limit_bytes(con)
    except duckdb.OutOfMemoryException:  # too small to run even that query
        have = 0
    finally:
        con.close()
    if have < need:
        raise ConfigError(
            f"{path}: [warehouse] memory_limit {value!r} is too small: reading lines of up to [ingest] "
            f"max_line_bytes ({settings.ingest.max_line_bytes}) needs at least {-(-need >> 20)} MiB"
        )
