"""Identity stitching against an independent reference, on random landing folders.

Each seed makes a few hundred people with a ground truth of their own (devices, user ids,
e-mails, social handles), lands the evidence that ties them together as the contract names it
(a login, a sign-up, an e-mail given on a lead, a guest checkout whose order the store's export
names, the CRM's identities file, an e-mail or social event carrying a user id) and computes the
expected customers with a plain union-find over that evidence, not with the SQL's own steps.
The warehouse's identity_map and events.customer_id must hold exactly those groups.

The data stay in the part of the rules that is not open to doubt: every device is used by one
person only, so linking a device to its latest identity or to every identity shown on it gives
the same customers (both settings are checked), and each person's own identifiers are tied
together by links that do not go through a device.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from journey_analytics.config import IdentitySettings, Settings
from journey_analytics.privacy import keyed_hash
from tests.conftest import DAY1, DAY2, TEST_HASH_KEY, Landing, query, run_day

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
PLATFORMS = ["instagram", "x", "tiktok"]


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, x: str) -> None:
        self.parent.setdefault(x, x)

    def find(self, x: str) -> str:
        self.add(x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> set[frozenset[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for x in self.parent:
            out[self.find(x)].add(x)
        return {frozenset(g) for g in out.values()}


def email_node(address: str) -> str:
    return "email:" + keyed_hash(TEST_HASH_KEY.encode(), address.lower())


def handle_node(platform: str, handle: str) -> str:
    return "social_handle:" + keyed_hash(TEST_HASH_KEY.encode(), f"{platform.lower()}:{handle.lower().lstrip('@')}")


def shout(rng: random.Random, text: str) -> str:
    """The same identifier written in another case, as sources do."""
    return rng.choice([text, text.upper(), text.capitalize()])


@dataclass
class World:
    """A landing folder's rows, the evidence they carry and who each identifier truly is."""

    rng: random.Random
    web: list[dict[str, Any]] = field(default_factory=list)
    email: list[dict[str, Any]] = field(default_factory=list)
    social: list[dict[str, Any]] = field(default_factory=list)
    crm: list[dict[str, str]] = field(default_factory=list)
    uf: UnionFind = field(default_factory=UnionFind)
    person_of: dict[str, int] = field(default_factory=dict)  # node -> ground truth person
    event_node: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, event_id) -> a node of it
    n: int = 0

    def node(self, person: int, node: str) -> str:
        assert self.person_of.setdefault(node, person) == person, "generator: an identifier of two people"
        return node

    def link(self, a: str, b: str) -> None:
        """Evidence that two identifiers are one person's (both are then in the landing folder)."""
        self.uf.union(a, b)

    def ts(self) -> str:
        moment = START + timedelta(seconds=self.rng.randrange(0, 2 * 86400 - 3600))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def add_web(self, person: int, node: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        row = {"event_id": f"w{self.n:05d}", "event_ts": self.ts(), "event_name": "page_view", **fields}
        self.web.append(row)
        self.uf.add(node)
        self.event_node[("web", row["event_id"])] = node
        return row

    def add_email(self, person: int, node: str, address: str, **fields: Any) -> None:
        self.n += 1
        row = {"event_id": f"m{self.n:05d}", "event_ts": self.ts(), "email": address,
               "event_name": self.rng.choice(["delivered", "open", "click"]), **fields}
        self.email.append(row)
        self.uf.add(node)
        self.event_node[("email", row["event_id"])] = node

    def add_social(self, person: int, node: str, platform: str, handle: str, **fields: Any) -> None:
        self.n += 1
        row = {"event_id": f"s{self.n:05d}", "event_ts": self.ts(), "platform": shout(self.rng, platform),
               "handle": self.rng.choice(["", "@"]) + shout(self.rng, handle),
               "event_name": self.rng.choice(["impression", "like", "follow", "comment"]), **fields}
        self.social.append(row)
        self.uf.add(node)
        self.event_node[("social", row["event_id"])] = node


def make_world(seed: int) -> World:
    rng = random.Random(seed)
    w = World(rng)
    n_people = rng.randint(50, 300)
    order_no = 0
    for p in range(n_people):
        kind = rng.choices(["registered", "email_only", "social_only", "anonymous"], [60, 15, 10, 15])[0]
        users = [f"u{p:03d}-{k}" for k in range(rng.choices([1, 2, 3, 4], [80, 10, 6, 4])[0])]
        emails: list[str] = []
        handles: list[tuple[str, str]] = []
        if kind == "registered":
            for u in users:
                w.node(p, "user_id:" + u)
            # user ids of one person (duplicate accounts) chained by e-mails the CRM gives both
            order = users[:]
            rng.shuffle(order)
            for i in range(1, len(order)):
                other = rng.choice(order[:i])
                if emails and rng.random() < 0.3:
                    address = rng.choice(emails)
                else:
                    address = f"p{p:03d}.{len(emails)}@example.com"
                    emails.append(address)
                for u in (order[i], other):
                    w.crm.append({"user_id": u, "email": shout(rng, address)})
                    w.link("user_id:" + u, w.node(p, email_node(address)))
            # more e-mails, each tied to one of the user ids by the CRM, an e-mail event or a sign-up
            for _ in range(rng.choice([0, 1, 1, 2])):
                address = f"p{p:03d}.{len(emails)}@example.com"
                emails.append(address)
                u = rng.choice(users)
                enode = w.node(p, email_node(address))
                how = rng.choice(["crm", "esp", "signup"])
                if how == "crm":
                    w.crm.append({"user_id": u, "email": shout(rng, address)})
                elif how == "esp":
                    w.add_email(p, enode, shout(rng, address), user_id=u)
                else:
                    device = w.node(p, f"anonymous_id:d{p:03d}-s{len(emails)}")
                    w.add_web(p, enode, anonymous_id=device.split(":", 1)[1], event_name="sign_up",
                              user_id=u, email=shout(rng, address))
                    w.link(device, "user_id:" + u)
                w.link("user_id:" + u, enode)
            for k in range(rng.choice([0, 0, 1, 2])):
                platform, handle = rng.choice(PLATFORMS), f"h{p:03d}_{k}"
                handles.append((platform, handle))
                hnode = w.node(p, handle_node(platform, handle))
                u = rng.choice(users)
                if rng.random() < 0.5:
                    row = {"user_id": u, "platform": platform, "handle": handle}
                    if emails and rng.random() < 0.5:  # one CRM row with the e-mail and the handle
                        address = rng.choice(emails)
                        row["email"] = address
                        w.link("user_id:" + u, email_node(address))
                    w.crm.append(row)
                else:
                    w.add_social(p, hnode, platform, handle, user_id=u)
                w.link("user_id:" + u, hnode)
            # a user id known to the CRM only (no events) is still a customer's
            if rng.random() < 0.1:
                w.crm.append({"user_id": users[0]})
                w.uf.add("user_id:" + users[0])
        elif kind == "email_only":
            users = []
            emails = [f"lead{p:03d}@example.org"]
            w.node(p, email_node(emails[0]))
        elif kind == "social_only":
            users = []
            platform, handle = rng.choice(PLATFORMS), f"fan{p:03d}"
            handles = [(platform, handle)]
            w.node(p, handle_node(platform, handle))
        else:
            users = []

        # devices: each used by this person only
        for d in range(rng.choice([0, 1, 1, 2, 3]) if kind != "anonymous" else rng.choice([1, 2])):
            device_id = f"d{p:03d}-{d}"
            device = w.node(p, "anonymous_id:" + device_id)
            for _ in range(rng.randint(1, 6)):
                w.add_web(p, device, anonymous_id=device_id, page_url=f"/p/{rng.randrange(50)}")
            if kind in ("anonymous", "social_only") or rng.random() < 0.2:
                continue  # never says who it is: a customer of its own
            for _ in range(rng.choice([1, 1, 2, 3])):
                choices = []
                if users:
                    choices += ["login", "guest_checkout"]
                if emails:
                    choices += ["lead"]
                if users and emails:
                    choices += ["sign_up"]
                how = rng.choice(choices)
                if how == "login":
                    u = rng.choice(users)
                    w.add_web(p, device, anonymous_id=device_id, event_name="login", user_id=u)
                    w.link(device, "user_id:" + u)
                elif how == "lead":
                    address = rng.choice(emails)
                    w.add_web(p, device, anonymous_id=device_id, event_name="generate_lead", email=shout(rng, address))
                    w.link(device, email_node(address))
                elif how == "sign_up":
                    u, address = rng.choice(users), rng.choice(emails)
                    w.add_web(p, device, anonymous_id=device_id, event_name="sign_up", user_id=u,
                              email=shout(rng, address))
                    w.link(device, "user_id:" + u)
                    w.link("user_id:" + u, email_node(address))
                else:
                    # a guest checkout on the device; the store's export names the buyer's user id
                    # (always one user id per device: guest checkouts naming two user ids link the
                    # device to neither, even when the CRM knows both ids are one person's)
                    order_no += 1
                    order_id = f"o{order_no:05d}"
                    u = users[d % len(users)]
                    w.add_web(p, device, anonymous_id=device_id, event_name="purchase", order_id=order_id,
                              value=20, currency="EUR")
                    w.add_web(p, "user_id:" + u, event_name="purchase", user_id=u, order_id=order_id,
                              value=20, currency="EUR")
                    w.link(device, "user_id:" + u)
        # events on the person's other channels
        for address in emails:
            for _ in range(rng.randint(0, 3)):
                w.add_email(p, email_node(address), shout(rng, address))
        for platform, handle in handles:
            for _ in range(rng.randint(0, 3)):
                w.add_social(p, handle_node(platform, handle), platform, handle)
        if users and rng.random() < 0.3:  # an exported order of a customer with no device seen
            order_no += 1
            u = rng.choice(users)
            w.add_web(p, "user_id:" + u, event_name="purchase", user_id=u, order_id=f"o{order_no:05d}",
                      value=20, currency="EUR")
        if users and emails and rng.random() < 0.2:  # an e-mail event carrying the user id too
            address, u = rng.choice(emails), rng.choice(users)
            w.add_email(p, email_node(address), shout(rng, address), user_id=u)
            w.link("user_id:" + u, email_node(address))
    rng.shuffle(w.crm)
    rng.shuffle(w.web)
    return w


def land(w: World, root: Path) -> Landing:
    landing = Landing(root / "landing")
    for kind, rows in (("web", w.web), ("email", w.email), ("social", w.social)):
        for day in (DAY1, DAY2):
            part = [r for r in rows if r["event_ts"].startswith(day.isoformat())]
            landing.jsonl(kind, day, f"{kind}.jsonl", part)
    landing.csv("identities", None, "crm.csv", ["user_id", "email", "platform", "handle"], w.crm)
    return landing


def warehouse_groups(warehouse: Path) -> tuple[set[frozenset[str]], dict[str, str]]:
    rows = query(warehouse, "select identifier_type, identifier, customer_id from identity_map")
    by_customer: dict[str, set[str]] = defaultdict(set)
    customer_of: dict[str, str] = {}
    for kind, identifier, customer in rows:
        node = f"{kind}:{identifier}"
        assert node not in customer_of, f"identifier twice in identity_map: {node}"
        customer_of[node] = customer
        by_customer[customer].add(node)
    return {frozenset(g) for g in by_customer.values()}, customer_of


def check(w: World, warehouse: Path) -> None:
    expected = w.uf.groups()
    # the generator's evidence never joins two people
    for group in expected:
        assert len({w.person_of[n] for n in group}) == 1
    got, customer_of = warehouse_groups(warehouse)
    missing, extra = expected - got, got - expected
    assert not missing and not extra, (
        f"{len(missing)} expected customers not in identity_map, e.g. {sorted(map(sorted, missing))[:3]}; "
        f"{len(extra)} unexpected, e.g. {sorted(map(sorted, extra))[:3]}"
    )
    # the customer_id names the customer by its smallest user id, else an anon:/email:/social: key
    for group in expected:
        customer = {customer_of[n] for n in group}.pop()
        users = sorted(n.split(":", 1)[1] for n in group if n.startswith("user_id:"))
        if users:
            assert customer == users[0], (customer, users)
        else:
            assert customer.split(":", 1)[0] in {"anon", "email", "social"}, customer
    # every event is its identifiers' customer
    events = query(warehouse, "select channel, event_id, customer_id from events")
    assert len(events) == len(w.event_node)
    wrong = [(c, e, got_customer, customer_of[w.event_node[(c, e)]])
             for c, e, got_customer in events if got_customer != customer_of[w.event_node[(c, e)]]]
    assert not wrong, f"{len(wrong)} events on another customer than their identifiers', e.g. {wrong[:5]}"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_identity_map_and_events_match_a_union_find_of_the_evidence(tmp_path: Path, seed: int) -> None:
    w = make_world(seed)
    landing = land(w, tmp_path)
    run_day(landing, tmp_path / "journey.duckdb", DAY2)
    check(w, tmp_path / "journey.duckdb")


@pytest.mark.parametrize("seed", [5])
def test_the_same_when_a_device_links_to_every_identity_shown_on_it(tmp_path: Path, seed: int) -> None:
    w = make_world(seed)
    landing = land(w, tmp_path)
    settings = Settings(identity=IdentitySettings(link_device_to_latest_identity_only=False))
    run_day(landing, tmp_path / "journey.duckdb", DAY2, settings)
    check(w, tmp_path / "journey.duckdb")
