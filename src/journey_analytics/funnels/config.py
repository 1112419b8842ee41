"""Funnel definitions: read ``config/funnels.toml`` into typed, validated objects.

Every value that ends up in SQL is checked here (columns against a fixed list, windows
parsed to seconds), so the engine can render conditions without trusting the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journey_analytics.config import read_toml
from journey_analytics.contract import EVENT_NAMES, canonical_event_name

# An installed wheel carries config/ inside the package; a checkout has it at the repository root.
_PACKAGE_CONFIG = Path(__file__).resolve().parents[1] / "config" / "funnels.toml"
_REPO_CONFIG = Path(__file__).resolve().parents[3] / "config" / "funnels.toml"
DEFAULT_FUNNELS_PATH = _PACKAGE_CONFIG if _PACKAGE_CONFIG.is_file() else _REPO_CONFIG

# Columns of main.events a step condition may test with `equals`.
CONDITION_COLUMNS = frozenset({
    "channel", "device_category", "utm_source", "utm_medium", "utm_campaign", "country",
    "page_url", "page_title", "referrer", "campaign_id", "platform", "currency", "url",
})
# Columns a funnel may be broken down by; read from the event that starts the chain.
BREAKDOWN_COLUMNS = frozenset({
    "device_category", "utm_source", "utm_medium", "utm_campaign", "country", "channel",
    "campaign_id", "platform",
})
CHANNELS = tuple(EVENT_NAMES)
# Columns whose values ingest writes in one case: a condition on them is compared the same way.
_VALUE_CASE = {"device_category": str.lower, "country": str.upper, "currency": str.upper}
UNITS = frozenset({"customer", "session"})
ORDERS = frozenset({"ordered", "strict", "any"})

_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# The longest report period: a longer one (a typo) would fail the run half-way, its previous
# period reaching before year 1.
MAX_PERIOD_DAYS = 3650


class FunnelConfigError(ValueError):
    """A funnel configuration that cannot be used; the message names the file and the funnel."""


@dataclass(frozen=True)
class Step:
    """One funnel step: an event name, optionally narrowed by channel, URL pattern or column values."""

    event: str
    label: str
    channel: str | None = None
    page_url_like: str | None = None
    equals: tuple[tuple[str, str], ...] = ()
    # Longest time from the previous step, in seconds (None: only the funnel's window applies).
    window_seconds: int | None = None


@dataclass(frozen=True)
class Exclusion:
    """An event that, done between two consecutive steps, breaks the chain between them."""

    event: str
    after_step: int
    channel: str | None = None
    page_url_like: str | None = None
    equals: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Funnel:
    """A funnel: ordered steps, a conversion window, the unit counted, options and breakdowns."""

    name: str
    steps: tuple[Step, ...]
    window_seconds: int
    unit: str = "customer"
    order: str = "ordered"
    is_open: bool = False
    channels: tuple[str, ...] = ()
    breakdowns: tuple[str, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    period_days: int = 28


@dataclass(frozen=True)
class FunnelConfig:
    """All funnels of a run, with the settings they share."""

    funnels: tuple[Funnel, ...]
    period_days: int = 28
    compare_previous_period: bool = True
    source: Path | None = None


def parse_window(value: Any, where: str) -> int:
    """A window as seconds: an integer of seconds, or a string like "30m", "24h", "7d"."""
    if isinstance(value, bool):
        raise FunnelConfigError(f"{where}: a window must be seconds or like '7d', got {value!r}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (match := _WINDOW.match(value)):
        seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    else:
        raise FunnelConfigError(f"{where}: a window must be seconds or like '7d', got {value!r}")
    if seconds <= 0:
        raise FunnelConfigError(f"{where}: a window must be positive, got {value!r}")
    return seconds


def _check_keys(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise FunnelConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise FunnelConfigError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def _channel(value: Any, where: str) -> str:
    """A channel name (in any case, as events hold it in lower case), or refused."""
    channel = _string(value, where).strip().lower()
    if channel not in CHANNELS:
        raise FunnelConfigError(f"{where}: unknown channel {value!r}; channels are {', '.join(CHANNELS)}")
    return channel


def _equals(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise FunnelConfigError(f"{where}: equals must be a table of column = value")
    pairs = []
    for column, wanted in value.items():
        if column not in CONDITION_COLUMNS:
            raise FunnelConfigError(
                f"{where}: cannot test column {column!r}; known: {', '.join(sorted(CONDITION_COLUMNS))}"
            )
        if column == "channel":
            text = _channel(wanted, f"{where} equals.{column}")
        else:
            text = _string(wanted, f"{where} equals.{column}")
            if column in _VALUE_CASE:
                text = _VALUE_CASE[column](text.strip())
        pairs.append((column, text))
    return tuple(pairs)


def _step(raw: Any, where: str) -> Step:
    if isinstance(raw, str):
        raw = {"event": raw}
    if not isinstance(raw, dict):
        raise FunnelConfigError(f"{where}: a step is an event name or a table with event = ...")
    _check_keys(raw, {"event", "label", "channel", "page_url_like", "equals", "window"}, where)
    channel = _channel(raw["channel"], f"{where} channel") if "channel" in raw else None
    # as ingest writes it: 'Add To Cart' is add_to_cart
    event = canonical_event_name(_string(raw.get("event"), f"{where} event"), channel)
    return Step(
        event=event,
        label=_string(raw.get("label", event), f"{where} label"),
        channel=channel,
        page_url_like=_string(raw["page_url_like"], f"{where} page_url_like") if "page_url_like" in raw else None,
        equals=_equals(raw.get("equals", {}), where),
        window_seconds=parse_window(raw["window"], f"{where} window") if "window" in raw else None,
    )


def _exclusion(raw: Any, where: str, n_steps: int) -> Exclusion:
    if not isinstance(raw, dict):
        raise FunnelConfigError(f"{where}: an exclusion is a table with event and after_step")
    _check_keys(raw, {"event", "after_step", "channel", "page_url_like", "equals"}, where)
    after = raw.get("after_step")
    if isinstance(after, bool) or not isinstance(after, int) or not 1 <= after < n_steps:
        raise FunnelConfigError(f"{where}: after_step must be a step number from 1 to {n_steps - 1}, got {after!r}")
    channel = _channel(raw["channel"], f"{where} channel") if "channel" in raw else None
    return Exclusion(
        event=canonical_event_name(_string(raw.get("event"), f"{where} event"), channel),
        after_step=after,
        channel=channel,
        page_url_like=_string(raw["page_url_like"], f"{where} page_url_like") if "page_url_like" in raw else None,
        equals=_equals(raw.get("equals", {}), where),
    )


def _refuse_steps_that_cannot_match(
    steps: tuple[Step, ...], exclusions: tuple[Exclusion, ...], in_scope: tuple[str, ...], unit: str, where: str,
) -> None:
    """Refuse a step no event can ever match, which would leave the funnel zero from it on, silently.

    A step (or exclusion) on a channel the funnel's ``channels`` leave out matches nothing, and
    only web events lie inside a session, so a session funnel cannot hold an e-mail or social step.
    """
    if unit == "session" and in_scope and "web" not in in_scope:
        raise FunnelConfigError(
            f"{where}: a session funnel counts web visits, so its channels must include web "
            "(e-mail and social events belong to no session)"
        )
    named = [(f"step {i}", s.channel, s.equals) for i, s in enumerate(steps, 1)]
    named += [(f"exclusion {i}", x.channel, x.equals) for i, x in enumerate(exclusions, 1)]
    for label, channel, equals in named:
        wanted = {channel} | {value for column, value in equals if column == "channel"}
        wanted.discard(None)
        if len(wanted) > 1:
            raise FunnelConfigError(f"{where} {label}: asks for channels {' and '.join(sorted(wanted))} at once")
        for one in wanted:
            if in_scope and one not in in_scope:
                raise FunnelConfigError(
                    f"{where} {label}: channel {one} is not among the funnel's channels ({', '.join(in_scope)})"
                )
            if unit == "session" and one != "web":
                raise FunnelConfigError(
                    f"{where} {label}: a session funnel counts events inside one web visit, "
                    f"and {one} events belong to no session"
                )


def _covers(earlier: Step, later: Step) -> bool:
    """Whether every event that matches ``later`` also matches ``earlier`` (read from the conditions alone)."""
    return (
        earlier.event == later.event
        and earlier.channel in (None, later.channel)
        and earlier.page_url_like in (None, later.page_url_like)
        and set(earlier.equals) <= set(later.equals)
    )


def _refuse_steps_no_chain_reaches(steps: tuple[Step, ...], order: str, where: str) -> None:
    """Refuse an ordered funnel's step whose every event also matches the step before it.

    windowFunnel (strict_increase), which ordered funnels follow, reads an event for its lower step
    first: the event restarts the previous step at its own instant, and is then not later than it,
    so no chain reaches the step (delivered, open, open counted nobody at the second open, with
    opens minutes apart). Strict and any-order funnels count such a step.
    """
    if order != "ordered":
        return
    for k in range(1, len(steps)):
        if _covers(steps[k - 1], steps[k]):
            raise FunnelConfigError(
                f"{where}: step {k + 1} asks for all that step {k} asks for ({steps[k].event}), so each of its events "
                f"is a step-{k} event too: in an ordered funnel (windowFunnel's strict_increase) such an event restarts "
                f"step {k} at its own instant, and no chain could reach step {k + 1}; narrow step {k} so that step {k + 1}'s "
                "events do not match it, put a step between them, or use order = 'strict' (the next in-scope event) "
                "or order = 'any'"
            )


def _funnel(raw: Any, where: str, period_days: int) -> Funnel:
    if not isinstance(raw, dict):
        raise FunnelConfigError(f"{where}: a funnel is a table")
    _check_keys(raw, {
        "name", "steps", "window", "unit", "order", "open", "channels", "breakdowns",
        "exclusions", "period_days",
    }, where)
    name = _string(raw.get("name"), f"{where} name")
    if not _NAME.match(name):
        raise FunnelConfigError(f"{where}: name must be lowercase letters, digits and _, got {name!r}")
    where = f"{where} ({name})"
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not 1 <= len(steps_raw) <= 32:
        raise FunnelConfigError(f"{where}: steps must be a list of 1 to 32 steps")
    steps = tuple(_step(s, f"{where} step {i}") for i, s in enumerate(steps_raw, 1))
    if steps[0].window_seconds is not None:
        raise FunnelConfigError(
            f"{where} step 1: a step window is the longest time from the previous step, and step 1 has none "
            "(the funnel's window counts from step 1)"
        )
    if "window" not in raw:
        raise FunnelConfigError(f"{where}: window is required (e.g. window = '7d')")
    unit = raw.get("unit", "customer")
    if unit not in UNITS:
        raise FunnelConfigError(f"{where}: unit must be one of {', '.join(sorted(UNITS))}, got {unit!r}")
    order = raw.get("order", "ordered")
    if order not in ORDERS:
        raise FunnelConfigError(f"{where}: order must be one of {', '.join(sorted(ORDERS))}, got {order!r}")
    is_open = raw.get("open", False)
    if not isinstance(is_open, bool):
        raise FunnelConfigError(f"{where}: open must be true or false")
    channels = raw.get("channels", [])
    if not isinstance(channels, list):
        raise FunnelConfigError(f"{where}: channels must be a list")
    breakdowns = raw.get("breakdowns", [])
    if not isinstance(breakdowns, list) or any(b not in BREAKDOWN_COLUMNS for b in breakdowns):
        raise FunnelConfigError(
            f"{where}: breakdowns must be a list of {', '.join(sorted(BREAKDOWN_COLUMNS))}, got {breakdowns!r}"
        )
    repeated = sorted({b for b in breakdowns if breakdowns.count(b) > 1})
    if repeated:
        # each listed breakdown adds its rows once more: a repeated one would count every unit twice
        raise FunnelConfigError(f"{where}: breakdowns lists {', '.join(repeated)} more than once")
    exclusions_raw = raw.get("exclusions", [])
    if not isinstance(exclusions_raw, list):
        raise FunnelConfigError(f"{where}: exclusions must be a list")
    exclusions = tuple(_exclusion(x, f"{where} exclusion {i}", len(steps)) for i, x in enumerate(exclusions_raw, 1))
    funnel_period = raw.get("period_days", period_days)
    if isinstance(funnel_period, bool) or not isinstance(funnel_period, int) or not 1 <= funnel_period <= MAX_PERIOD_DAYS:
        raise FunnelConfigError(f"{where}: period_days must be an integer from 1 to {MAX_PERIOD_DAYS}")
    if order == "any" and (is_open or exclusions or any(s.window_seconds for s in steps)):
        raise FunnelConfigError(f"{where}: order = 'any' takes no open, exclusions or step windows")
    in_scope = tuple(_channel(c, f"{where} channels") for c in channels)
    _refuse_steps_that_cannot_match(steps, exclusions, in_scope, unit, where)
    _refuse_steps_no_chain_reaches(steps, order, where)
    return Funnel(
        name=name,
        steps=steps,
        window_seconds=parse_window(raw["window"], f"{where} window"),
        unit=unit,
        order=order,
        is_open=is_open,
        channels=in_scope,
        breakdowns=tuple(breakdowns),
        exclusions=exclusions,
        period_days=funnel_period,
    )


def parse_funnel_config(data: dict[str, Any], source: Path | None = None) -> FunnelConfig:
    """Validate a parsed TOML document of funnels."""
    where = str(source or "funnel config")
    _check_keys(data, {"settings", "funnels"}, where)
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise FunnelConfigError(f"{where}: settings must be a [settings] table")
    if not isinstance(data.get("funnels", []), list):
        raise FunnelConfigError(f"{where}: funnels must be a list of [[funnels]] tables")
    _check_keys(settings, {"period_days", "compare_previous_period"}, f"{where} [settings]")
    period_days = settings.get("period_days", 28)
    if isinstance(period_days, bool) or not isinstance(period_days, int) or not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise FunnelConfigError(f"{where}: [settings] period_days must be an integer from 1 to {MAX_PERIOD_DAYS}")
    compare = settings.get("compare_previous_period", True)
    if not isinstance(compare, bool):
        raise FunnelConfigError(f"{where}: [settings] compare_previous_period must be true or false")
    funnels = tuple(
        _funnel(raw, f"{where} funnel {i}", period_days) for i, raw in enumerate(data.get("funnels", []), 1)
    )
    names = [f.name for f in funnels]
    if len(set(names)) != len(names):
        raise FunnelConfigError(f"{where}: funnel names must be unique, got {names}")
    return FunnelConfig(funnels, period_days, compare, source)


def load_funnel_config(path: Path | str | None = None) -> FunnelConfig:
    """Read the funnels from a TOML file (the bundled ``config/funnels.toml`` by default)."""
    path = Path(path) if path is not None else DEFAULT_FUNNELS_PATH
    if not path.is_file():
        raise FunnelConfigError(f"funnel config not found: {path}")
    return parse_funnel_config(read_toml(path, FunnelConfigError), path)
