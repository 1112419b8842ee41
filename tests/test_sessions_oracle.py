"""Sessions against an independent reference, on random streams of web events.

Each seed makes a few dozen people with one or two devices each and a stream of web events per
device over four days: gaps just under, at and just over the 30-minute timeout (to the
millisecond), events at one instant (with and without a campaign, two campaigns at once),
campaign changes, visits across midnight, events that arrive in a later day's folder, events
sent twice, and devices whose tag gives its own session_id (unique ids, or a per-device visit
counter that several devices share). One run per day; after each, the warehouse's sessions and
events.session_id must group the events that have arrived exactly as the documented rule does:

- a device's events without a session_id, in time order (at one instant, campaign first, then
  by campaign and event_id), start a new session after more than 30 minutes of inactivity, or
  when an event carries a campaign (utm_source, utm_medium, utm_campaign) other than the
  session's (a session that began without one has none);
- a session_id given by the source is kept; given to several devices, each device's share is a
  session of its own, named '<id>~<8 hex digits>';
- a web event with a user id and no device (the store's exported order) joins its customer's visit
  open at its time (a computed one first, unless an event of its device with a given id came
  since, else a given one; of visits whose last events are at
  one instant, the one taken last), else the customer's exported orders make sessions of their own;
  a joined order never moves a visit's bounds: the device's events alone split its visits (an order
  does not keep a visit open past the timeout, nor start a new one with its campaign);
- a device's events without a session_id also start a new visit after each of its events with
  one (later than the previous event without one); a computed visit of a device (with the orders
  that joined it) that starts while a session the source gave is open on the device, its first
  event no more than the timeout after the device's last event with a session_id at or before it
  (of those at one instant, the one taken last), and without a campaign (when a new campaign
  splits), is part of that session (a purchase the shop's server sends without GA4's
  ga_session_id);
- the landing event is the session's first with a page_url (at one instant, one with a campaign
  first), else its first; it gives the landing page and the campaign.

One seed runs with a 10-minute timeout and no split on a new campaign.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from journey_analytics.config import SessionSettings, Settings
from tests.conftest import Landing, query, run_day

DAYS = [date(2026, 10, 1) + timedelta(days=i) for i in range(4)]
EPOCH0 = int(datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp() * 1000)
DAY_MS = 86_400_000
MINUTE = 60_000
TIMEOUT = 30 * MINUTE

CAMPAIGNS = [
    ("news", "email", "autumn"),
    ("ads", "cpc", "winter"),
    ("ads", "cpc", None),
    (None, None, "spring"),
    ("news", "email", "winter"),
]


@dataclass
class Event:
    event_id: str
    ms: int  # epoch milliseconds
    device: str | None  # None: a purchase from the store's export, with the user id only
    customer: str
    name: str
    page_url: str | None
    campaign: tuple[str | None, str | None, str | None] | None
    device_category: str | None
    given: str | None
    user_id: str | None = None

    def row(self, rng: random.Random) -> dict[str, Any]:
        if rng.random() < 0.3:
            ts: Any = self.ms
        else:
            # in UTC or at another offset (a local midnight is not the UTC one)
            offset = rng.choice([timedelta(0), timedelta(0), timedelta(hours=2), timedelta(hours=-5),
                                 timedelta(hours=5, minutes=30)])
            moment = datetime.fromtimestamp(self.ms // 1000, tz=timezone(offset))
            text = moment.strftime("%Y-%m-%dT%H:%M:%S")
            if self.ms % 1000 or rng.random() < 0.3:
                text += f".{self.ms % 1000:03d}"
            ts = text + (rng.choice(["Z", "+00:00"]) if not offset else moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:])
        row: dict[str, Any] = {"event_id": self.event_id, "event_ts": ts, "event_name": self.name}
        if self.device:
            row.update(anonymous_id=self.device, device_category=self.device_category)
        if self.page_url:
            row["page_url"] = self.page_url
        if self.campaign:
            for key, value in zip(("utm_source", "utm_medium", "utm_campaign"), self.campaign):
                if value is not None:
                    row[key] = value
        if self.given:
            row["session_id"] = self.given
        if self.user_id:
            row["user_id"] = self.user_id
        if self.name == "purchase":
            row.update(order_id=f"o-{self.event_id}", value=10, currency="EUR")
        return row


@dataclass
class Stream:
    events: list[Event] = field(default_factory=list)
    arrives: dict[str, list[date]] = field(default_factory=dict)  # event_id -> the dt= days it is landed in


def gap(rng: random.Random, timeout: int) -> int:
    kind = rng.choices(
        ["instant", "short", "29:59", "30:00", "30:01", "+1ms", "-1ms", "medium", "long"],
        [10, 40, 7, 7, 7, 4, 4, 12, 9],
    )[0]
    return {
        "instant": 0,
        "short": rng.randrange(1, timeout * 5 // 6000) * 1000,
        "29:59": timeout - 1000,
        "30:00": timeout,
        "30:01": timeout + 1000,
        "+1ms": timeout + 1,
        "-1ms": timeout - 1,
        "medium": rng.randrange(31 * 60, 3 * 3600) * 1000,
        "long": rng.randrange(3 * 3600, 20 * 3600) * 1000 + rng.randrange(1000),
    }[kind]


def make_stream(seed: int, timeout: int = TIMEOUT) -> Stream:
    rng = random.Random(seed)
    s = Stream()
    n = 0
    end = EPOCH0 + len(DAYS) * DAY_MS - 1
    for p in range(rng.randint(25, 45)):
        user = f"u{p:02d}" if rng.random() < 0.6 else None
        for d in range(rng.choice([1, 1, 2])):
            device = f"d{p:02d}-{d}"
            customer = user if user else f"anon:{device}"
            category = rng.choice(["desktop", "mobile", "tablet"])
            # the tag gives a session_id: a unique one, or a visit counter (1, 2, 3, ...) of the device
            tagging = rng.choices(["none", "unique", "counter"], [70, 15, 15])[0]
            visit = 1
            t = EPOCH0 + rng.randrange(0, DAY_MS)
            # a device that starts near midnight
            if rng.random() < 0.3:
                t = EPOCH0 + rng.randrange(0, len(DAYS) - 1) * DAY_MS + DAY_MS - rng.randrange(1, 40) * MINUTE
            logged_in = False
            for _ in range(rng.randint(15, 60)):
                if t > end:
                    break
                n += 1
                name = rng.choices(["page_view", "view_item", "add_to_cart", "purchase", "session_start", "scroll"],
                                   [55, 15, 10, 4, 8, 8])[0]
                page_url = f"/p/{rng.randrange(30)}" if name in ("page_view", "view_item") or rng.random() < 0.2 else None
                campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.25 else None
                given = None
                if tagging != "none" and rng.random() < 0.85:
                    if rng.random() < 0.15:
                        visit += 1
                    given = f"{visit}" if tagging == "counter" else f"g-{device}-{visit}"
                event = Event(f"e{n:05d}", t, device, customer, name, page_url, campaign, category, given)
                if user and (not logged_in or rng.random() < 0.05):
                    event.user_id = user  # the device's owner logs in: all its events are theirs
                    logged_in = True
                s.events.append(event)
                day = (t - EPOCH0) // DAY_MS
                arrival = min(day + (rng.choice([1, 2]) if rng.random() < 0.12 else 0), len(DAYS) - 1)
                s.arrives[event.event_id] = [DAYS[arrival]]
                if rng.random() < 0.04:  # sent twice, the same day or later
                    s.arrives[event.event_id].append(DAYS[rng.randrange(arrival, len(DAYS))])
                t += gap(rng, timeout)
            # the store's export of some of a one-device customer's orders: a user id, no device,
            # at, or just within or beyond the timeout after, one of the device's events
            own = [e for e in s.events if e.device == device]
            for k in range(rng.choice([0, 1, 2, 3]) if user and d == 0 else 0):
                anchor = rng.choice(own)
                offset = rng.choice([0, rng.randrange(1, timeout * 5 // 6000) * 1000, timeout - 1000, timeout,
                                     timeout + 1000, timeout + 1, 2 * 3600 * 1000])
                ms = min(anchor.ms + offset, end)
                # (also where the order alone would bridge two of the device's visits; some exports
                # carry the order's campaign)
                n += 1
                campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.3 else None
                export = Event(f"x{n:05d}", ms, None, user, "purchase", None, campaign, None, None, user_id=user)
                s.events.append(export)
                day = (ms - EPOCH0) // DAY_MS
                s.arrives[export.event_id] = [DAYS[min(day + rng.choice([0, 0, 0, 1]), len(DAYS) - 1)]]
    return s


def land(s: Stream, landing: Landing, seed: int) -> None:
    rng = random.Random(seed * 7919)
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for e in s.events:
        for day in s.arrives[e.event_id]:
            by_day[day].append(e.row(rng))
    for day, rows in by_day.items():
        rng.shuffle(rows)
        half = len(rows) // 2
        landing.jsonl("web", day, "a.jsonl", rows[:half])
        landing.jsonl("web", day, "b.jsonl", rows[half:])


def campaign_key(e: Event) -> tuple[str, str, str] | None:
    if e.campaign is None:
        return None
    return tuple(v or "" for v in e.campaign)  # type: ignore[return-value]


def order_key(e: Event) -> tuple[Any, ...]:
    """Time order; at one instant, campaign first, then by campaign and event_id."""
    key = campaign_key(e)
    return (e.ms, key is None, key or ("", "", ""), e.event_id)


def split(stream: list[Event], timeout: int = TIMEOUT, on_campaign: bool = True,
          given_at: tuple[int, ...] = ()) -> list[list[Event]]:
    """A device's events without a given session_id, split by inactivity and new campaigns, and
    after each of the device's events with a given session_id (at the times ``given_at``)."""
    sessions: list[list[Event]] = []
    stream = sorted(stream, key=order_key)
    if True:
        current: list[Event] = []
        session_campaign = None
        previous = None
        for e in stream:
            key = campaign_key(e)
            if (previous is None or e.ms - previous.ms > timeout
                    or any(previous.ms < g <= e.ms for g in given_at)):
                current = [e]
                sessions.append(current)
                session_campaign = key
            elif on_campaign and key is not None and key != session_campaign:
                current = [e]
                sessions.append(current)
                session_campaign = key
            else:
                current.append(e)
            previous = e
    return sessions


def reference(events: list[Event], timeout: int = TIMEOUT, on_campaign: bool = True) -> list[list[Event]]:
    """The sessions of the documented rule, each a list of events."""
    sessions: list[list[Event]] = []
    by_device: dict[str, list[Event]] = defaultdict(list)
    given: dict[tuple[str, str], list[Event]] = defaultdict(list)
    computed_of: dict[str, list[Event]] = defaultdict(list)  # customer -> device events, no given id
    given_of: dict[str, list[Event]] = defaultdict(list)  # customer -> device events with a given id
    for e in events:
        if e.device is None:
            continue
        if e.given is None:
            by_device[e.device].append(e)
            computed_of[e.customer].append(e)
        else:
            given[(e.given, e.device)].append(e)  # one device's share of a given id is one session
            given_of[e.customer].append(e)
    # an exported order joins its customer's visit open at its time (no more than the timeout after
    # the visit's last event so far): a computed one first (unless an event of its device with a
    # given id came since), else one whose session_id was given;
    # of visits whose last events are at one instant, the one taken last; with none open, the
    # customer's exported orders are sessionized on their own
    by_user: dict[str, list[Event]] = defaultdict(list)
    joined: list[tuple[Event, Event]] = []  # an order and the device event whose visit it joins
    given_on: dict[str, list[Event]] = defaultdict(list)  # device -> its events with a given id
    for e in events:
        if e.device is not None and e.given is not None:
            given_on[e.device].append(e)
    for x in (e for e in events if e.device is None):
        before = [c for c in computed_of[x.customer] if c.ms <= x.ms]
        last = max(before, key=order_key) if before else None
        # (a computed visit that an event of its device with a given id closed since is not open)
        if last and x.ms - last.ms <= timeout and not any(
            last.ms < g.ms <= x.ms for g in given_on[last.device or ""]
        ):
            joined.append((x, last))
            continue
        before = [c for c in given_of[x.customer] if c.ms <= x.ms]
        last = max(before, key=order_key) if before else None
        if last and x.ms - last.ms <= timeout:
            assert last.device is not None and last.given is not None
            given[(last.given, last.device)].append(x)
            continue
        by_user[x.customer].append(x)
    # the device's events alone split its visits; a joined order goes into the visit of the event
    # it joined, and moves none of its bounds
    session_with: dict[str, list[Event]] = {}
    for device, stream in by_device.items():
        for ses in split(stream, timeout, on_campaign, tuple(g.ms for g in given_on[device])):
            sessions.append(ses)
            session_with.update((e.event_id, ses) for e in ses)
    for x, last in joined:
        session_with[last.event_id].append(x)
    # a computed visit that starts while a given session is open on its device is part of it,
    # unless it starts with a campaign (when a new campaign splits)
    computed = sessions
    sessions = []
    for ses in computed:
        start = ses[0]  # (split() keeps each visit in the order it takes events in)
        before = [g for g in given_on[start.device or ""] if g.ms <= start.ms]
        last = max(before, key=order_key) if before else None
        if last and start.ms - last.ms <= timeout and not (on_campaign and start.campaign):
            assert last.given is not None and last.device is not None
            given[(last.given, last.device)] += ses
        else:
            sessions.append(ses)
    for stream in by_user.values():
        sessions += split(stream, timeout, on_campaign)
    for share in given.values():
        sessions.append(sorted(share, key=order_key))
    return sessions


def expected_row(session: list[Event]) -> tuple[Any, ...]:
    first = min(session, key=lambda e: (e.ms, e.event_id))
    with_page = [e for e in session if e.page_url]
    landing = min(with_page or session, key=lambda e: (e.ms, e.campaign is None, e.event_id))
    campaign = landing.campaign or (None, None, None)
    return (
        first.customer, first.device, min(e.ms for e in session), max(e.ms for e in session), len(session),
        sum(e.name == "page_view" for e in session), landing.page_url, *campaign, first.device_category,
        any(e.name == "purchase" for e in session),
    )


def check(s: Stream, warehouse: Path, day: date, timeout: int = TIMEOUT, on_campaign: bool = True) -> None:
    arrived = [e for e in s.events if min(s.arrives[e.event_id]) <= day]
    # a device is its owner's once an event with the owner's user id has arrived, else its own
    known = {e.device for e in arrived if e.user_id}
    arrived = [e if e.device is None or e.device in known else replace(e, customer=f"anon:{e.device}")
               for e in arrived]
    sessions = reference(arrived, timeout, on_campaign)
    expected = {frozenset(e.event_id for e in ses) for ses in sessions}

    rows = query(warehouse, "select event_id, session_id, customer_id from events where channel = 'web'")
    assert len(rows) == len(arrived)
    by_session: dict[str, set[str]] = defaultdict(set)
    for event_id, session_id, _ in rows:
        by_session[session_id].add(event_id)
    got = {frozenset(g) for g in by_session.values()}
    missing, extra = expected - got, got - expected
    assert not missing and not extra, (
        f"on {day}: {len(missing)} sessions of the reference not found, e.g. {sorted(map(sorted, missing))[:3]}; "
        f"{len(extra)} others, e.g. {sorted(map(sorted, extra))[:3]}"
    )
    customer_of = {event_id: customer for event_id, _, customer in rows}
    for e in arrived:
        assert customer_of[e.event_id] == e.customer, (e, customer_of[e.event_id])

    session_of = {event_id: session_id for event_id, session_id, _ in rows}
    # a given id is kept as given, or '<id>~<8 hex>' when several devices carry it
    devices_of_given: dict[str, set[str]] = defaultdict(set)
    for e in arrived:
        if e.given and e.device:
            devices_of_given[e.given].add(e.device)
    for e in arrived:
        if e.given and len(devices_of_given[e.given]) == 1:
            assert session_of[e.event_id] == e.given
        elif e.given:
            assert session_of[e.event_id].startswith(e.given + "~") and len(session_of[e.event_id]) == len(e.given) + 9

    table = {
        row[0]: row[1:]
        for row in query(
            warehouse,
            "select session_id, customer_id, anonymous_id, epoch_ms(started_at), epoch_ms(ended_at), n_events, "
            "n_page_views, landing_page, utm_source, utm_medium, utm_campaign, device_category, converted from sessions",
        )
    }
    assert len(table) == len(sessions)
    wrong = []
    for ses in sessions:
        got_row = table[session_of[ses[0].event_id]]
        if got_row != expected_row(ses):
            wrong.append((sorted(e.event_id for e in ses), got_row, expected_row(ses)))
    assert not wrong, f"on {day}: {len(wrong)} sessions differ, e.g. {wrong[:3]}"


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_sessions_match_the_documented_rule_day_by_day(tmp_path: Path, seed: int) -> None:
    s = make_stream(seed)
    landing = Landing(tmp_path / "landing")
    land(s, landing, seed)
    warehouse = tmp_path / "journey.duckdb"
    for day in DAYS:
        run_day(landing, warehouse, day)
        check(s, warehouse, day)


def test_with_a_ten_minute_timeout_and_no_split_on_a_new_campaign(tmp_path: Path) -> None:
    s = make_stream(14, timeout=10 * MINUTE)
    landing = Landing(tmp_path / "landing")
    land(s, landing, 14)
    warehouse = tmp_path / "journey.duckdb"
    settings = Settings(sessions=SessionSettings(timeout_minutes=10, split_on_new_campaign=False))
    for day in DAYS:
        run_day(landing, warehouse, day, settings)
        check(s, warehouse, day, timeout=10 * MINUTE, on_campaign=False)
