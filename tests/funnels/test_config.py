"""The funnel config: the bundled defaults, and refusals that name the problem."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from journey_analytics.funnels.config import (
    FunnelConfigError,
    load_funnel_config,
    parse_funnel_config,
)


def _one(**funnel: Any) -> dict[str, Any]:
    return {"funnels": [{"name": "f", "window": "1d", "steps": ["a", "b"], **funnel}]}


class TestDefaults:
    """config/funnels.toml holds the checkout and e-mail funnels."""

    def test_checkout_funnel(self) -> None:
        """Five GA4 checkout steps, per customer, broken down by device, source, medium and country."""
        config = load_funnel_config()
        checkout = next(f for f in config.funnels if f.name == "checkout")
        assert [s.event for s in checkout.steps] == [
            "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase",
        ]
        assert checkout.unit == "customer"
        assert checkout.breakdowns == ("device_category", "utm_source", "utm_medium", "country")
        assert config.period_days == 28 and checkout.period_days == 28

    def test_email_funnel(self) -> None:
        """Delivered, open, click on e-mail, then a site visit and a purchase on the web."""
        email = next(f for f in load_funnel_config().funnels if f.name == "email")
        assert [(s.channel, s.event) for s in email.steps] == [
            ("email", "delivered"), ("email", "open"), ("email", "click"),
            ("web", "page_view"), ("web", "purchase"),
        ]


class TestRefusals:
    """A config that cannot be used is refused with the setting named."""

    @pytest.mark.parametrize(("funnel", "message"), [
        (_one(colour="red"), "unknown key"),
        (_one(window="7 weeks"), "window"),
        (_one(window=0), "positive"),
        (_one(breakdowns=["email_hash"]), "breakdowns"),
        (_one(unit="household"), "unit"),
        (_one(order="random"), "order"),
        (_one(steps=[{"event": "a", "equals": {"event_id": "1"}}]), "cannot test column"),
        (_one(exclusions=[{"event": "x", "after_step": 2}]), "after_step"),
        (_one(order="any", exclusions=[{"event": "x", "after_step": 1}]), "any"),
        ({"funnels": [{"name": "f", "steps": ["a"]}]}, "window is required"),
        ({"funnels": [_one()["funnels"][0], _one()["funnels"][0]]}, "unique"),
        (_one(channels=["webb"]), r"channels: unknown channel 'webb'; channels are web, email, social"),
        (_one(steps=["a", {"event": "b", "channel": "sms"}]), r"step 2 channel: unknown channel 'sms'"),
        (_one(steps=["a", {"event": "b", "equals": {"channel": "sms"}}]), r"equals.channel: unknown channel 'sms'"),
        (_one(exclusions=[{"event": "x", "after_step": 1, "channel": "fax"}]), r"exclusion 1 channel: unknown channel"),
        (_one(steps=[{"event": "a", "window": "1h"}, "b"]), r"step 1: a step window is the longest time from the previous step"),
        # a repeated breakdown counted every unit twice in its rows
        (_one(breakdowns=["country", "utm_source", "country"]), r"funnel 1 \(f\): breakdowns lists country more than once"),
        # these failed with "TypeError: 'int' object is not iterable", naming no file or setting
        ({"settings": 5}, r"settings must be a \[settings\] table"),
        ({"funnels": 5}, r"funnels must be a list of \[\[funnels\]\] tables"),
        # a period reaching before year 1 failed the run after ingest (OverflowError)
        ({"settings": {"period_days": 1_000_000}}, r"\[settings\] period_days must be an integer from 1 to 3650"),
        (_one(period_days=1_000_000), r"funnel 1 \(f\): period_days must be an integer from 1 to 3650"),
        # steps no event can match were accepted, and the funnel read zero from them on
        (_one(channels=["web"], steps=["a", {"event": "open", "channel": "email"}]),
         r"funnel 1 \(f\) step 2: channel email is not among the funnel's channels \(web\)"),
        (_one(channels=["web"], exclusions=[{"event": "x", "after_step": 1, "equals": {"channel": "social"}}]),
         r"exclusion 1: channel social is not among the funnel's channels \(web\)"),
        (_one(steps=["a", {"event": "b", "channel": "web", "equals": {"channel": "email"}}]),
         r"step 2: asks for channels email and web at once"),
        (_one(unit="session", steps=["a", {"event": "open", "channel": "email"}]),
         r"step 2: a session funnel counts events inside one web visit, and email events belong to no session"),
        (_one(unit="session", channels=["email", "social"]),
         r"a session funnel counts web visits, so its channels must include web"),
    ])
    def test_bad_config(self, funnel: dict[str, Any], message: str) -> None:
        """Each bad value is refused with a message naming it."""
        with pytest.raises(FunnelConfigError, match=message):
            parse_funnel_config(funnel)

    def test_windows(self) -> None:
        """Windows are seconds or a count of s, m, h or d."""
        windows = [parse_funnel_config(_one(window=w)).funnels[0].window_seconds for w in (90, "90s", "2m", "3h", "7d")]
        assert windows == [90, 90, 120, 3 * 3600, 7 * 86400]


class TestStepThatRepeatsThePreviousOne:
    """An ordered funnel whose step asks for everything the step before it asks for (opened twice:
    delivered, open, open) could never count anyone at that step: in windowFunnel's strict_increase
    mode, which ordered funnels follow, the event first restarts the previous step at its own instant
    and then is not later than it. It published zeros from that step on, read as customers lost,
    also with events seconds apart; it is refused, naming the steps and what to write instead."""

    @pytest.mark.parametrize("steps", [
        [{"event": "delivered", "channel": "email"}, {"event": "open", "channel": "email"},
         {"event": "open", "channel": "email"}],
        ["a", "a", "b"],
        ["page_view", {"event": "page_view", "page_url_like": "%/checkout%"}],
        [{"event": "purchase"}, {"event": "purchase", "channel": "web", "equals": {"currency": "EUR"}}],
        ["page_view", {"event": "page_view", "channel": "web"}],
    ])
    @pytest.mark.parametrize("is_open", [False, True])
    def test_refused(self, steps: list[Any], is_open: bool) -> None:
        """The message names the two steps and the orders that count such a step."""
        with pytest.raises(FunnelConfigError, match=r"step \d+ asks for all that step \d+ asks for.*order = 'strict'"):
            parse_funnel_config(_one(steps=steps, open=is_open))

    @pytest.mark.parametrize(("steps", "order"), [
        (["a", "b", "a"], "ordered"),  # another step between them
        ([{"event": "page_view", "page_url_like": "%/checkout%"}, "page_view"], "ordered"),  # narrower first
        ([{"event": "page_view", "page_url_like": "%/product/%"},  # the earlier step narrowed: the advice
          {"event": "page_view", "page_url_like": "%/checkout%"}], "ordered"),
        ([{"event": "page_view", "channel": "web"}, "page_view"], "ordered"),  # web only, then any channel
        (["a", "a", "b"], "strict"),
        (["a", "a", "b"], "any"),
    ])
    def test_accepted(self, steps: list[Any], order: str) -> None:
        """A step the one before does not cover, or a strict or any-order funnel, is kept."""
        assert len(parse_funnel_config(_one(steps=steps, order=order)).funnels[0].steps) == len(steps)


class TestValuesAsIngestWritesThem:
    """A name or value that ingest writes in one spelling is compared in that spelling, so a
    condition written another way still matches (it matched nothing before)."""

    def test_channels_device_country_currency_and_event_names(self) -> None:
        funnel = parse_funnel_config(_one(
            channels=["Web", " EMAIL"],
            steps=[
                {"event": "View Item", "channel": "WEB", "equals": {"device_category": "Mobile", "country": "de"}},
                {"event": "AddToCart", "equals": {"channel": "Web", "currency": "eur", "utm_source": "Google"}},
                {"event": "Click", "channel": "email"},
                {"event": "session_start"},
            ],
            exclusions=[{"event": "remove-from-cart", "after_step": 1}],
        )).funnels[0]
        assert funnel.channels == ("web", "email")
        assert [(s.event, s.label, s.channel, s.equals) for s in funnel.steps] == [
            ("view_item", "view_item", "web", (("device_category", "mobile"), ("country", "DE"))),
            ("add_to_cart", "add_to_cart", None, (("channel", "web"), ("currency", "EUR"), ("utm_source", "Google"))),
            ("click", "click", "email", ()),
            ("session_start", "session_start", None, ()),  # not a contract name: as given
        ]
        assert funnel.exclusions[0].event == "remove_from_cart"


class TestDocumentation:
    """The example config in docs/funnels.md is valid."""

    def test_docs_example_parses(self) -> None:
        """The first TOML block of the funnel docs loads with every option it shows."""
        docs = Path(__file__).resolve().parents[2] / "docs" / "funnels.md"
        block = re.search(r"```toml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S).group(1)
        funnel = parse_funnel_config(tomllib.loads(block)).funnels[0]
        assert funnel.steps[1].window_seconds == 3600
        assert funnel.exclusions[0].after_step == 2
        assert funnel.steps[3].equals == (("currency", "EUR"),)
