"""The stage rule set: read and check ``config/stages.toml``, and turn its rules into SQL.

The config names signals (groups of events that count as intent, advocacy, ...) and an
ordered list of rules; the first rule that matches a customer gives the stage. A config
that cannot be right (an unknown stage, event, key or signal, a bad window) is refused
with a message naming the file and the line, found by scanning the file's text, since
TOML keeps no line numbers once parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from journey_analytics.config import ConfigError, parse_toml, read_utf8
from journey_analytics.contract import EVENT_NAMES, STAGES
from journey_analytics.wording import plural

ORDER_STAGES = ("purchase", "retention", "advocacy")
PRE_ORDER_STAGES = ("awareness", "consideration")

# Event names of the input contract, by channel.
KNOWN_EVENTS: dict[str, frozenset[str]] = {channel: frozenset(names) for channel, names in EVENT_NAMES.items()}

# The rule file shipped in the package if the build includes it, else the repository's.
_PACKAGE_RULES = Path(__file__).resolve().parents[1] / "config" / "stages.toml"
_REPO_RULES = Path(__file__).resolve().parents[3] / "config" / "stages.toml"
DEFAULT_RULES_PATH = _PACKAGE_RULES if _PACKAGE_RULES.is_file() else _REPO_RULES
REQUIRED_SIGNALS = ("passive",)
MAX_WINDOW_DAYS = 3650


class StageConfigError(ConfigError):
    """A stage rule file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class SignalEvent:
    """One event that counts as a signal, with an optional rating or sentiment condition."""

    signal: str
    channel: str
    event_name: str
    min_rating: int | None = None
    sentiment_above: float | None = None


@dataclass(frozen=True)
class Rule:
    """One stage rule: conditions that all must hold, and the stage they give."""

    id: str
    stage: str
    clear: bool
    min_orders: int | None = None
    max_orders: int | None = None
    signal: str | None = None
    min_signals: int | None = None
    max_signals: int | None = None
    window_days: int | None = None
    identified: bool | None = None
    any_touch: bool | None = None


@dataclass(frozen=True)
class StageSettings:
    """Settings of the stage step (the [settings] table)."""

    lookback_days: int = 90
    label_max_age_days: int = 7
    min_labels: int = 200
    min_labels_per_stage: int = 20
    retrain_after_days: int = 7
    test_share: float = 0.25


@dataclass(frozen=True)
class StageConfig:
    """A checked rule set."""

    path: Path
    settings: StageSettings
    signals: tuple[SignalEvent, ...]
    rules: tuple[Rule, ...]

    @property
    def signal_names(self) -> tuple[str, ...]:
        """Signal groups in the order they were defined."""
        return tuple(dict.fromkeys(s.signal for s in self.signals))

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id."""
        return next(r for r in self.rules if r.id == rule_id)

    def fingerprint(self) -> str:
        """A short hash of the rule set's content, stored with the model."""
        payload = json.dumps(
            {
                "settings": asdict(self.settings),
                "signals": [asdict(s) for s in self.signals],
                "rules": [asdict(r) for r in self.rules],
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def windows(self) -> tuple[tuple[str, int | None], ...]:
        """The (signal, window_days) pairs the rules count, without duplicates."""
        pairs = [(r.signal, r.window_days) for r in self.rules if r.signal]
        return tuple(dict.fromkeys(pairs))  # type: ignore[arg-type]


class _Lines:
    """Finds the line of a table, a key or a value in the config text (1-based)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def _headers(self) -> list[tuple[int, str]]:
        found = []
        for i, line in enumerate(self.lines):
            m = re.match(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?", line)
            if m:
                close = "]]" if m.group(1) == "[[" else "]"
                found.append((i, m.group(1) + m.group(2) + close))
        return found

    def block(self, header: str, occurrence: int = 0) -> tuple[int, int] | None:
        """The 0-based line span of a table ("[settings]") or the n-th array table ("[[rules]]")."""
        headers = self._headers()
        seen = 0
        for k, (i, h) in enumerate(headers):
            if h == header:
                if seen == occurrence:
                    end = headers[k + 1][0] if k + 1 < len(headers) else len(self.lines)
                    return i, end
                seen += 1
        return None

    def table(self, header: str, occurrence: int = 0) -> int | None:
        """The line of a table header."""
        span = self.block(header, occurrence)
        return span[0] + 1 if span else None

    def key(self, header: str, key: str, occurrence: int = 0) -> int | None:
        """The line where a key is set inside a table (or the table's line)."""
        span = self.block(header, occurrence)
        if span is None:
            return None
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(span[0], span[1]):
            if pattern.match(self.lines[i]):
                return i + 1
        return span[0] + 1

    def text(self, header: str, needle: str, start_key: str | None = None) -> int | None:
        """The first line inside a table that contains a piece of text (after a key's line)."""
        span = self.block(header)
        if span is None:
            return None
        begin = span[0]
        if start_key is not None:
            begin = (self.key(header, start_key) or span[0] + 1) - 1
        for i in range(begin, span[1]):
            if needle in self.lines[i]:
                return i + 1
        return begin + 1


def _fail(path: Path, line: int | None, message: str) -> StageConfigError:
    where = f"{path}, line {line}" if line else str(path)
    return StageConfigError(f"{where}: {message}")


def _check_int(path: Path, line: int | None, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, line, f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise _fail(path, line, f"{name} must be between {low} and {high}, got {value}")
    return value


def _parse_settings(path: Path, lines: _Lines, values: Any) -> StageSettings:
    if not isinstance(values, dict):
        raise _fail(path, lines.table("[settings]"), "[settings] must be a table")
    default = StageSettings()
    known = asdict(default)
    out: dict[str, Any] = {}
    for key, value in values.items():
        line = lines.key("[settings]", key)
        if key not in known:
            raise _fail(path, line, f"unknown setting [settings] {key}; known: {', '.join(sorted(known))}")
        if key == "test_share":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise _fail(path, line, f"test_share must be a number between 0 and 1, got {value!r}")
            out[key] = float(value)
        elif key in ("lookback_days", "label_max_age_days", "retrain_after_days"):
            out[key] = _check_int(path, line, key, value, 0 if key == "label_max_age_days" else 1, MAX_WINDOW_DAYS)
        else:
            out[key] = _check_int(path, line, key, value, 1, 10**9)
    return StageSettings(**{**known, **out})


def _parse_signals(path: Path, lines: _Lines, values: Any) -> tuple[SignalEvent, ...]:
    if not isinstance(values, dict):
        raise _fail(path, lines.table("[signals]"), "[signals] must be a table of signal lists")
    out: list[SignalEvent] = []
    for name, entries in values.items():
        line = lines.key("[signals]", name)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _fail(path, line, f"signal name {name!r} must be lower-case letters, digits and _")
        if not isinstance(entries, list) or not entries:
            raise _fail(path, line, f"signal {name} must be a non-empty list of {{ event = \"channel:name\" }}")
        for entry in entries:
            if not isinstance(entry, dict) or "event" not in entry:
                raise _fail(path, line, f"each entry of signal {name} must be {{ event = \"channel:name\", ... }}")
            event = entry["event"]
            eline = lines.text("[signals]", f'"{event}"', start_key=name) if isinstance(event, str) else line
            for key in entry:
                if key not in ("event", "min_rating", "sentiment_above"):
                    raise _fail(path, eline, f"unknown key {key} in signal {name}; known: event, min_rating, sentiment_above")
            if not isinstance(event, str) or ":" not in event:
                raise _fail(path, eline, f"event {event!r} in signal {name} must be written \"channel:event_name\"")
            channel, _, event_name = event.partition(":")
            if channel not in KNOWN_EVENTS:
                raise _fail(path, eline, f"unknown channel {channel!r} in event {event!r}; known: {', '.join(KNOWN_EVENTS)}")
            if event_name not in KNOWN_EVENTS[channel]:
                raise _fail(path, eline, f"unknown event {event!r}: {channel} events are {', '.join(sorted(KNOWN_EVENTS[channel]))}")
            min_rating = entry.get("min_rating")
            if min_rating is not None:
                _check_int(path, eline, f"min_rating of {event}", min_rating, 1, 5)
            sentiment = entry.get("sentiment_above")
            if sentiment is not None and (
                isinstance(sentiment, bool) or not isinstance(sentiment, int | float) or not -1 <= sentiment < 1
            ):
                raise _fail(path, eline, f"sentiment_above of {event} must be a number from -1 to below 1, got {sentiment!r}")
            out.append(SignalEvent(
                name, channel, event_name, min_rating,
                None if sentiment is None else float(sentiment),
            ))
    for name in REQUIRED_SIGNALS:
        if name not in values:
            raise _fail(path, lines.table("[signals]"), f"signal {name} is required (events that alone give no stage)")
    return tuple(out)


_RULE_KEYS = (
    "id", "stage", "clear", "min_orders", "max_orders", "signal", "min_signals", "max_signals", "window_days",
    "identified", "any_touch",
)


def _parse_rules(path: Path, lines: _Lines, values: Any, signals: set[str], lookback_days: int) -> tuple[Rule, ...]:
    """The [[rules]] tables; a rule that counts a signal without window_days counts it over the
    settings' lookback_days."""
    if not isinstance(values, list) or not values:
        raise _fail(path, None, "the file needs at least one [[rules]] table")
    rules: list[Rule] = []
    for i, raw in enumerate(values):
        def line(key: str, i: int = i) -> int | None:
            return lines.key("[[rules]]", key, occurrence=i)

        if not isinstance(raw, dict):
            raise _fail(path, lines.table("[[rules]]", i), "each rule must be a [[rules]] table")
        for key in raw:
            if key not in _RULE_KEYS:
                raise _fail(path, line(key), f"unknown key {key} in a rule; known: {', '.join(_RULE_KEYS)}")
        for key in ("id", "stage"):
            if key not in raw:
                raise _fail(path, lines.table("[[rules]]", i), f"every rule needs an {key}")
        rule_id = raw["id"]
        if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z][a-z0-9_.\-]*", rule_id):
            raise _fail(path, line("id"), f"rule id {rule_id!r} must be lower-case letters, digits, '.', '_' or '-'")
        if any(r.id == rule_id for r in rules):
            raise _fail(path, line("id"), f"rule id {rule_id} is used twice")
        stage = raw["stage"]
        if stage not in STAGES:
            raise _fail(path, line("stage"), f"unknown stage {stage!r} in rule {rule_id}; stages are {', '.join(STAGES)}")
        ints: dict[str, int | None] = {}
        for key, low, high in (("min_orders", 0, 10**6), ("max_orders", 0, 10**6),
                               ("min_signals", 1, 10**6), ("max_signals", 0, 10**6), ("window_days", 1, MAX_WINDOW_DAYS)):
            value = raw.get(key)
            ints[key] = None if value is None else _check_int(path, line(key), f"{key} of rule {rule_id}", value, low, high)
        bools: dict[str, bool | None] = {}
        for key in ("clear", "identified", "any_touch"):
            value = raw.get(key)
            if value is not None and not isinstance(value, bool):
                raise _fail(path, line(key), f"{key} of rule {rule_id} must be true or false, got {value!r}")
            bools[key] = value
        signal = raw.get("signal")
        if signal is not None and signal not in signals:
            raise _fail(path, line("signal"), f"unknown signal {signal!r} in rule {rule_id}; signals are {', '.join(sorted(signals))}")
        if signal is None and any(ints[k] is not None for k in ("min_signals", "max_signals", "window_days")):
            key = next(k for k in ("min_signals", "max_signals", "window_days") if ints[k] is not None)
            raise _fail(path, line(key), f"{key} in rule {rule_id} needs a signal")
        if signal is not None and ints["window_days"] is None:
            ints["window_days"] = lookback_days
        if (ints["min_signals"] is not None and ints["max_signals"] is not None
                and ints["min_signals"] > ints["max_signals"]):
            raise _fail(path, line("max_signals"), f"rule {rule_id}: max_signals is below min_signals")
        if (ints["min_orders"] is not None and ints["max_orders"] is not None
                and ints["min_orders"] > ints["max_orders"]):
            raise _fail(path, line("max_orders"), f"rule {rule_id}: max_orders is below min_orders")
        # An order is an order: a rule may not give a pre-order stage to someone who bought,
        # nor an order stage to someone who did not.
        if stage in ORDER_STAGES and not ints["min_orders"]:
            raise _fail(path, line("stage"), f"rule {rule_id} gives {stage} so it needs min_orders of at least 1")
        if stage in PRE_ORDER_STAGES and ints["max_orders"] != 0:
            raise _fail(path, line("stage"), f"rule {rule_id} gives {stage} so it needs max_orders = 0")
        rules.append(Rule(
            id=rule_id,
            stage=stage,
            clear=True if bools["clear"] is None else bools["clear"],
            min_orders=ints["min_orders"],
            max_orders=ints["max_orders"],
            signal=signal,
            min_signals=ints["min_signals"] if signal is None or ints["min_signals"] is not None
            or ints["max_signals"] is not None else 1,
            max_signals=ints["max_signals"],
            window_days=ints["window_days"],
            identified=bools["identified"],
            any_touch=bools["any_touch"],
        ))
    return tuple(rules)


def load_stage_config(path: Path | str | None = None) -> StageConfig:
    """Read and check a stage rule file (the default rule set when path is None)."""
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    if not path.is_file():
        raise StageConfigError(f"stage rule file not found: {path}")
    text = read_utf8(path, StageConfigError)
    data = parse_toml(text, path, StageConfigError)
    lines = _Lines(text)
    for key in data:
        if key not in ("settings", "signals", "rules"):
            header = lines.table(f"[{key}]") or lines.table(f"[[{key}]]")
            if header is None:
                header = next((i + 1 for i, t in enumerate(lines.lines) if re.match(rf"^\s*{re.escape(key)}\s*=", t)), None)
            raise _fail(path, header, f"unknown table or key {key!r}; known: settings, signals, rules")
    settings = _parse_settings(path, lines, data.get("settings", {}))
    if "signals" not in data:
        raise _fail(path, None, "the file needs a [signals] table")
    signals = _parse_signals(path, lines, data["signals"])
    rules = _parse_rules(path, lines, data.get("rules"), {s.signal for s in signals}, settings.lookback_days)
    return StageConfig(path=path, settings=settings, signals=signals, rules=rules)


def signal_column(signal: str, window_days: int | None) -> str:
    """The rule-input column counting a signal's events in a window."""
    return f"{signal}_{window_days}d" if window_days else f"{signal}_all"


def rule_condition(rule: Rule) -> str:
    """The rule's conditions as a SQL boolean over ``customer_rule_inputs`` columns.

    Every value in it has been checked to be a number, a boolean or a known name.
    """
    parts = []
    if rule.min_orders is not None:
        parts.append(f"n_orders >= {int(rule.min_orders)}")
    if rule.max_orders is not None:
        parts.append(f"n_orders <= {int(rule.max_orders)}")
    if rule.signal is not None and rule.min_signals is not None:
        parts.append(f"{signal_column(rule.signal, rule.window_days)} >= {int(rule.min_signals)}")
    if rule.signal is not None and rule.max_signals is not None:
        parts.append(f"{signal_column(rule.signal, rule.window_days)} <= {int(rule.max_signals)}")
    if rule.identified is not None:
        parts.append("is_identified" if rule.identified else "not is_identified")
    if rule.any_touch is not None:
        parts.append("has_touch" if rule.any_touch else "not has_touch")
    return " and ".join(parts) or "true"


def rule_inputs_sql(config: StageConfig) -> str:
    """SQL for ``customer_rule_inputs``: per customer, the facts the rules test.

    Reads ``main.customers`` and ``stage_signal_events``; for every (signal, window) a
    rule counts: the count, and the last such event's name and time (for the reason).
    """
    columns = []
    for signal, window in config.windows():
        col = signal_column(signal, window)
        cond = f"s.signal = '{signal}'"
        if window:
            cond += f" and s.event_ts >= p.as_of_end - interval {int(window)} day"
        columns.append(f"count(s.event_id) filter (where {cond}) as {col}")
        columns.append(f"arg_max(s.event_name, s.event_ts) filter (where {cond}) as {col}_last_event")
        columns.append(f"max(s.event_ts) filter (where {cond}) as {col}_last_at")
    select = ",\n    ".join(columns)
    return f"""
select
    c.customer_id,
    c.n_orders,
    c.last_order_at,
    c.revenue > 0 and c.net_revenue <= 0 as orders_refunded,
    c.is_identified,
    c.has_touch,
    c.last_touch_event,
    c.last_touch_at{',' if select else ''}
    {select}
from main.customers as c
cross join stage_parameters as p
left join stage_signal_events as s on s.customer_id = c.customer_id
group by all
"""


def rule_match_sql(config: StageConfig) -> str:
    """SQL giving each customer the id of the first rule that matches (null: no rule)."""
    whens = "\n        ".join(
        f"when {rule_condition(r)} then '{r.id}'" for r in config.rules
    )
    return f"""
select
    customer_rule_inputs.*,
    case
        {whens}
    end as rule_id
from customer_rule_inputs
"""


def _day(ts: Any) -> str:
    return ts.date().isoformat() if hasattr(ts, "date") else str(ts)[:10]


def order_phrase(n_orders: int, last_order_at: Any, refunded: bool = False) -> str:
    """'2 orders, last on 2026-11-02' or 'no order'; orders known only from their refunds have
    no purchase time. A single order its refunds took back in full (net of them, worth nothing)
    says so: '1 order, on 2026-10-31, refunded'."""
    if not n_orders:
        return "no order"
    if last_order_at is None:
        return "1 order, known from its refund" if n_orders == 1 else f"{n_orders} orders, known from their refunds"
    if n_orders == 1:
        return f"1 order, on {_day(last_order_at)}" + (", refunded" if refunded else "")
    return f"{n_orders} orders, last on {_day(last_order_at)}"


def rule_reason(rule: Rule, row: dict[str, Any]) -> str:
    """A sentence saying why a rule gave its stage, from the customer's rule inputs."""
    parts = [order_phrase(int(row["n_orders"] or 0), row["last_order_at"], bool(row.get("orders_refunded")))]
    if rule.signal is not None:
        col = signal_column(rule.signal, rule.window_days)
        n = int(row[col] or 0)
        window = f" in the last {plural(rule.window_days, 'day')}" if rule.window_days else ""
        signal_words = rule.signal.replace("_", " ")
        parts.append(
            f"{plural(n, signal_words + ' signal')}{window}, last {row[col + '_last_event']} on {_day(row[col + '_last_at'])}"
        )
    elif rule.any_touch and row.get("last_touch_at") is not None:
        parts.append(f"last touch {row['last_touch_event']} on {_day(row['last_touch_at'])}")
    if rule.identified is not None:
        parts.append("identified" if rule.identified else "not identified")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def apply_rules(con: duckdb.DuckDBPyConnection, config: StageConfig) -> int:
    """Match every customer of ``main.customers`` to its first rule: ``customer_rule_matches``.

    Needs ``stage_signal_events`` (see :func:`journey_analytics.stages.features.build_customers`).
    Returns the number of customers a rule matched.
    """
    con.execute(f"create or replace temp table customer_rule_inputs as {rule_inputs_sql(config)}").fetchall()
    con.execute(
        "create or replace temp table stage_rule_definitions (rule_id varchar, rule_stage varchar, rule_is_clear boolean)"
    ).fetchall()
    con.executemany(
        "insert into stage_rule_definitions values (?, ?, ?)",
        [(r.id, r.stage, r.clear) for r in config.rules],
    )
    con.execute(
        f"""
        create or replace temp table customer_rule_matches as
        select matched.*, d.rule_stage, d.rule_is_clear
        from ({rule_match_sql(config)}) as matched
        left join stage_rule_definitions as d on d.rule_id = matched.rule_id
        """
    ).fetchall()
    return int(con.execute("select count(rule_id) from customer_rule_matches").fetchall()[0][0])
