"""The dashboard renders every chart in a real browser, offline, with log strings escaped."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from journey_analytics import runs
from journey_analytics.config import Settings
from tests.conftest import Landing, query, run_day

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
HOSTILE = (
    "<script>document.body.setAttribute('data-pwned','script')</script>"
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">"
)

# A source name with double quotes: a chart label shows it as written (Plotly's label markup
# decodes numeric character references, not &quot;)
QUOTED = 'spring "vip"'


def section_after_run(landing: Landing, warehouse: Path, day: date, section: Callable[..., Any]) -> str:
    """Run the day, then one dashboard section's table, read from the published warehouse as
    `journey report` reads it (read-only)."""
    import duckdb

    run_day(landing, warehouse, day)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return section(con, day).table_html
    finally:
        con.close()


def page_after_run(landing: Landing, warehouse: Path, day: date) -> str:
    """Run the day, then the text of the dashboard page the run wrote."""
    run_day(landing, warehouse, day)
    return (warehouse.parent / "reports" / day.isoformat() / "index.html").read_text()


def funnel_note_after_run(landing: Landing, warehouse: Path, day: date) -> str:
    """Run the day with its funnels, then the checkout funnel section's note, read-only."""
    import duckdb

    from journey_analytics.dashboard.sections import checkout_funnel

    run_day(landing, warehouse, day, funnels=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return checkout_funnel(con, day).note
    finally:
        con.close()


def body_rows(table: str) -> list[list[str]]:
    """The text of each cell of each row of an HTML table's body."""
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", row, flags=re.S)]
            for row in re.findall(r"<tr>.*?</tr>", table.split("<tbody>")[1], flags=re.S)]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _write_landing(landing: Path) -> None:
    day = landing / "web" / "dt=2026-10-02"
    day.mkdir(parents=True)
    rows = []
    for i in range(40):
        device = "mobile" if i % 2 else "desktop"
        base = f"2026-10-01T1{i % 10}:00:00Z"
        rows.append({"event_id": f"pv{i}", "event_ts": base, "event_name": "page_view", "anonymous_id": f"a{i}",
                     "page_title": HOSTILE, "page_url": "/?q=" + HOSTILE, "utm_source": HOSTILE if i < 5 else QUOTED if i < 8 else "google",
                     "utm_medium": "cpc", "utm_campaign": HOSTILE, "device_category": device, "country": "DE"})
        rows.append({"event_id": f"vi{i}", "event_ts": base.replace(":00:00", ":01:00"), "event_name": "view_item", "anonymous_id": f"a{i}"})
        if i % 3 == 0:
            rows.append({"event_id": f"pu{i}", "event_ts": base.replace(":00:00", ":05:00"), "event_name": "purchase",
                         "anonymous_id": f"a{i}", "order_id": f"o{i}", "value": 20 + i})
    (day / "part-0.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    email = landing / "email" / "dt=2026-10-02"
    email.mkdir(parents=True)
    (email / "part-0.jsonl").write_text(
        "\n".join(json.dumps({"event_id": f"e{i}", "event_ts": "2026-10-01T08:00:00Z", "email": f"p{i}@example.com",
                              "event_name": "delivered", "campaign_id": HOSTILE, "message_id": f"m{i}"}) for i in range(5)) + "\n"
    )
    social = landing / "social" / "dt=2026-10-02"
    social.mkdir(parents=True)
    (social / "part-0.jsonl").write_text(
        json.dumps({"event_id": "s1", "event_ts": "2026-10-01T08:00:00Z", "platform": HOSTILE, "handle": "@x",
                    "event_name": "message", "thread_id": "t1", "text": HOSTILE}) + "\n"
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dashboard")
    os.environ.setdefault("JOURNEY_HASH_KEY", "test-key")
    _write_landing(work / "landing")
    ctx = runs.open_run(date(2026, 10, 2), work / "landing", work / "w.duckdb", work / "reports", Settings())
    try:
        runs.build_through_sessions(ctx)
        runs.funnels_step(ctx)  # the checkout funnel's chart, with its breakdown selector
        page = runs.finish_run(ctx, runs.report_step(ctx)).report
    except BaseException:
        runs.abort_run(ctx)
        raise
    return page


class TestDashboardFile:
    """The page is self-contained and every log string on it is escaped."""

    def test_no_network_resources(self, page: Path) -> None:
        text = page.read_text()
        assert not re.search(r"""(src|href)=["']https?://""", text)
        assert (page.parent.parent / "plotly.min.js").stat().st_size > 1_000_000

    def test_log_strings_escaped(self, page: Path) -> None:
        text = page.read_text()
        assert "<script>document.body" not in text
        assert "<img src=x" not in text

    def test_index_lists_the_run(self, page: Path) -> None:
        index = (page.parent.parent / "index.html").read_text()
        assert 'href="2026-10-02/index.html"' in index



class TestEscaping:
    """A log string on the page is escaped, cannot reorder the text beside it, and cannot push
    the figures off the page."""

    def test_markup_is_text(self) -> None:
        from journey_analytics.dashboard.sections import esc

        assert esc('<b>"x"</b> & \'y\'') == "&lt;b&gt;&#34;x&#34;&lt;/b&gt; &amp; &#x27;y&#x27;"

    def test_bidi_controls_are_shown_as_code_points(self) -> None:
        from journey_analytics.dashboard.sections import esc

        assert esc("spring\u202e: 12.0%") == "spring[U+202E]: 12.0%"
        assert esc("a\u2067b\u2069") == "a[U+2067]b[U+2069]"

    def test_long_values_are_cut(self) -> None:
        from journey_analytics.dashboard.sections import MAX_SHOWN_CHARS, esc

        assert esc("c" * 3000) == "c" * (MAX_SHOWN_CHARS - 1) + "\u2026"
        assert esc("c" * 100, 60) == "c" * 59 + "\u2026"


@pytest.mark.skipif(_chromium() is None, reason="chromium is installed by `make test`; not on this machine")
class TestDashboardInBrowser:
    """Headless Chromium renders every chart with no console error and runs no injected script."""

    def test_renders_every_chart(self, page: Path) -> None:
        chromium = _chromium()
        assert chromium
        flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 f"--user-data-dir={page.parent / 'chrome-profile'}", "--virtual-time-budget=8000",
                 "--enable-logging=stderr", "--v=0"]
        dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0, dom.stderr[-2000:]
        charts = re.findall(r'<section id="([^"]+)" class="[^"]*" data-kind="chart"', dom.stdout)
        assert len(charts) >= 2
        rendered = re.findall(r'id="chart-([^"]+)"[^>]*class="[^"]*js-plotly-plot', dom.stdout) + re.findall(
            r'class="[^"]*js-plotly-plot[^"]*"[^>]*id="chart-([^"]+)"', dom.stdout)
        assert sorted(set(rendered)) == sorted(charts)
        assert not re.search(r"<body[^>]*data-pwned", dom.stdout), "a log string ran as script"
        # chart labels show a quote as a quote, not as the text "&quot;"
        assert "&amp;quot;" not in dom.stdout and "spring \"vip\"" in dom.stdout
        console_errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and ("Error" in line or "Uncaught" in line)]
        assert console_errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        subprocess.run([*flags, "--window-size=1400,2600", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, text=True, timeout=120, check=True)
        assert shot.stat().st_size > 10_000

    def test_checkout_funnel_names_its_steps(self, page: Path) -> None:
        """The checkout funnel's steps are named beside its bars: with a breakdown selector the chart
        holds one funnel trace per segment, and Plotly hides the step axis of a chart of several
        funnels unless told to show it (the bars then stood unnamed)."""
        chromium = _chromium()
        assert chromium
        flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 f"--user-data-dir={page.parent / 'chrome-profile'}", "--virtual-time-budget=8000"]
        dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0, dom.stderr[-2000:]
        section = dom.stdout.split('<section id="checkout-funnel"')[1].split("</section>")[0]
        assert section.count('class="js-plotly-plot') + section.count("js-plotly-plot") > 0
        ticks = re.findall(r'class="ytick"><text [^>]*data-unformatted="([^"]*)"', section)
        assert ticks and set(ticks) == {"view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"}, ticks


class TestSocialCare:
    """The social care table counts a message as answered by the first brand reply after it,
    as the pain points do (an older reply in the same thread does not hide a new message)."""

    def test_reply_after_each_message(self, landing: Landing, warehouse: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import social_health

        def social(event_id: str, ts: str, name: str, thread: str) -> dict[str, str]:
            return {"event_id": event_id, "event_ts": ts, "event_name": name, "platform": "x",
                    "handle": f"h-{thread}", "thread_id": thread}

        landing.jsonl("social", date(2026, 10, 20), "social.jsonl", [
            social("t1-old", "2026-09-01T10:00:00Z", "message", "t1"),  # before the 28 days
            social("t1-old-reply", "2026-09-01T11:00:00Z", "brand_reply", "t1"),
            social("t1-new", "2026-10-19T10:00:00Z", "message", "t1"),
            social("t1-new-reply", "2026-10-19T11:00:00Z", "brand_reply", "t1"),
            social("t2", "2026-10-19T12:00:00Z", "message", "t2"),  # never answered
        ])
        run_day(landing, warehouse, date(2026, 10, 20))
        assert query(warehouse, "select count(*) from events") == [(5,)]
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            tables = {day: social_health(con, date(2026, 10, day)).table_html for day in (20, 22)}
        finally:
            con.close()

        def cells(table: str) -> list[str]:
            return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", table, flags=re.S)]

        # platform, messages, median hours to reply, unanswered, waiting: t2 waits 36 hours after
        # it on the 20th, and is unanswered once 72 hours have passed (the 22nd)
        assert cells(tables[20])[:5] == ["x", "2", "1.0", "0", "1"], tables[20]
        assert cells(tables[22])[:5] == ["x", "2", "1.0", "1", "0"], tables[22]
        # with the run's own thresholds: unanswered after 24 hours
        config = warehouse.parent / "pain.toml"
        config.write_text("[social]\nunanswered_after_hours = 24\n")
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            table = social_health(con, date(2026, 10, 20), config).table_html
        finally:
            con.close()
        assert cells(table)[:5] == ["x", "2", "1.0", "1", "0"], table


    def test_hours_to_reply_in_one_precision(self, landing: Landing, warehouse: Path) -> None:
        """Hours to reply read to one decimal on every platform, as the findings give them: 12.5
        hours showed as '12' beside '2.500' (a float of 10 or more lost its decimals)."""
        import re

        import duckdb

        from journey_analytics.dashboard.sections import social_health

        landing.jsonl("social", date(2026, 10, 20), "social.jsonl", [
            {"event_id": f"{p}-{name}", "event_ts": ts, "event_name": name, "platform": p, "handle": "h",
             "thread_id": f"t-{p}"}
            for p, times in (("x", ("2026-10-19T08:00:00Z", "2026-10-19T20:30:00Z")),
                             ("instagram", ("2026-10-19T08:00:00Z", "2026-10-19T10:30:00Z")))
            for name, ts in zip(("message", "brand_reply"), times, strict=True)
        ])
        run_day(landing, warehouse, date(2026, 10, 20))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            table = social_health(con, date(2026, 10, 20)).table_html
        finally:
            con.close()
        rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", row, flags=re.S)]
                for row in re.findall(r"<tr>.*?</tr>", table, flags=re.S)[1:]]
        assert sorted((row[0], row[2]) for row in rows) == [("instagram", "2.5"), ("x", "12.5")]

    def test_a_platform_with_sentiment_and_no_messages(self, landing: Landing, warehouse: Path) -> None:
        """A platform people only comment on has a row with its sentiment (a negative sentiment
        finding about it must have something to point at on the page)."""
        from journey_analytics.dashboard.sections import social_health

        landing.jsonl("social", date(2026, 10, 20), "social.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-19T10:00:00Z", "event_name": "message", "platform": "x",
             "handle": "h1", "thread_id": "t1"},
            *({"event_id": f"c{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "comment",
               "platform": "tiktok", "handle": f"h{i}", "sentiment": -0.5} for i in range(4)),
        ])
        table = section_after_run(landing, warehouse, date(2026, 10, 20), social_health)
        assert body_rows(table) == [["x", "1", "-", "0", "1", "-"], ["tiktok", "0", "-", "0", "0", "-0.500"]], table


class TestEmailHealth:
    """Rates are of the messages delivered: a campaign with opens but no delivery in the window
    reads n/a, not 0; opens without a message id are counted. Rates are percentages, as the pain
    points and their thresholds say them (a complaint rate of 0.003 is easily read as 0.003%)."""

    def test_rates_of_no_deliveries_are_not_zero(self, landing: Landing, warehouse: Path) -> None:
        from journey_analytics.dashboard.sections import email_health

        def email(event_id: str, name: str, campaign: str, message: str | None = None) -> dict[str, str]:
            row = {"event_id": event_id, "event_ts": "2026-10-19T10:00:00Z", "event_name": name,
                   "email": f"{event_id}@example.com", "campaign_id": campaign}
            return row | ({"message_id": message} if message else {})

        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", [
            email("d1", "delivered", "cmp_01", "m1"), email("d2", "delivered", "cmp_01", "m2"),
            email("o1", "open", "cmp_01"),  # no message id
            email("o2", "open", "cmp_03", "m9"), email("o3", "open", "cmp_03", "m8"),  # delivered before the window
            # every message dropped by the sender: on the page, not n/a alone
            *(email(f"x{i}", "dropped", "cmp_04", f"mx{i}") for i in range(3)),
        ])
        table = section_after_run(landing, warehouse, date(2026, 10, 20), email_health)
        assert body_rows(table) == [
            ["cmp_04", "0", "3", "n/a", "n/a", "n/a", "n/a", "n/a"],
            ["cmp_01", "2", "0", "50.00%", "0.00%", "0.00%", "0.00%", "0.00%"],
            ["cmp_03", "0", "0", "n/a", "n/a", "n/a", "n/a", "n/a"],
        ]

    def test_a_message_reported_twice_is_one(self, landing: Landing, warehouse: Path) -> None:
        """As the pain points count it: an ESP reporting a message's unsubscribe twice (two event
        ids, one message id) lost one recipient of four, not two; a recipient who clicks the
        unsubscribe link of a message without a message id twice, too."""
        from journey_analytics.dashboard.sections import email_health

        def email(event_id: str, name: str, to: str, message: str | None = None) -> dict[str, str]:
            row = {"event_id": event_id, "event_ts": "2026-10-19T10:00:00Z", "event_name": name,
                   "email": f"{to}@example.com", "campaign_id": "cmp_01"}
            return row | ({"message_id": message} if message else {})

        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", [
            *(email(f"d{i}", "delivered", f"p{i}", f"m{i}") for i in range(4)),
            email("u1", "unsubscribe", "p0", "m0"), email("u2", "unsubscribe", "p0", "m0"),
            email("s1", "spamreport", "p1"), email("s2", "spamreport", "p1"),
        ])
        table = section_after_run(landing, warehouse, date(2026, 10, 20), email_health)
        assert body_rows(table) == [["cmp_01", "4", "0", "0.00%", "0.00%", "0.00%", "25.00%", "25.00%"]]

    def test_a_message_id_given_to_a_whole_send(self, landing: Landing, warehouse: Path) -> None:
        """A message id that names the send, not one recipient's copy (Braze's dispatch_id, Klaviyo's
        $message), is one message per recipient: four delivered, two opened, one unsubscribed, not
        one message delivered, opened and lost."""
        from journey_analytics.dashboard.sections import email_health

        def email(event_id: str, name: str, to: str) -> dict[str, str]:
            return {"event_id": event_id, "event_ts": "2026-10-19T10:00:00Z", "event_name": name,
                    "email": f"{to}@example.com", "campaign_id": "cmp_01", "message_id": "dispatch_01"}

        landing.jsonl("email", date(2026, 10, 20), "currents.jsonl", [
            *(email(f"d{i}", "delivered", f"p{i}") for i in range(4)),
            email("o1", "open", "p0"), email("o2", "open", "p0"), email("o3", "open", "p1"),
            email("u1", "unsubscribe", "p2"),
        ])
        table = section_after_run(landing, warehouse, date(2026, 10, 20), email_health)
        assert body_rows(table) == [["cmp_01", "4", "0", "50.00%", "0.00%", "0.00%", "0.00%", "25.00%"]]


class TestCutTables:
    """A section that shows only the largest of many rows (30 of 500 campaigns, 15 sources) says so
    and of how many, so a reader does not take them for all; a store with no e-mail or social data
    reads as such, not as an empty table."""

    def test_many_campaigns_and_sources(self, landing: Landing, warehouse: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import acquisition, email_health

        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", [
            {"event_id": f"d{i}-{k}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "delivered",
             "email": f"p{k}@example.com", "campaign_id": f"cmp_{i:03d}", "message_id": f"m{i}-{k}"}
            for i in range(45) for k in range(1 + i % 3)
        ])
        landing.jsonl("web", date(2026, 10, 20), "web.jsonl", [
            {"event_id": f"w{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "page_view",
             "anonymous_id": f"a{i}", "utm_source": f"source_{i}"} for i in range(18)
        ])
        run_day(landing, warehouse, date(2026, 10, 20))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            email = email_health(con, date(2026, 10, 20))
            sources = acquisition(con, date(2026, 10, 20))
        finally:
            con.close()
        assert len(body_rows(email.table_html)) == 30
        assert "The 30 campaigns with the most messages of 45." in email.note
        assert len(sources.figure.data[0].x) == 15
        assert "The 15 sources with the most customers of 18." in sources.note

    def test_no_email_nor_social_data(self, landing: Landing, warehouse: Path) -> None:
        from journey_analytics.dashboard.sections import email_health, social_health

        landing.jsonl("web", date(2026, 10, 20), "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-19T10:00:00Z", "event_name": "page_view", "anonymous_id": "a"},
        ])
        email = section_after_run(landing, warehouse, date(2026, 10, 20), email_health)
        assert email == "<p>No e-mail events in the last 28 days.</p>"
        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            social = social_health(con, date(2026, 10, 20)).table_html
        finally:
            con.close()
        assert social == "<p>No social messages or sentiment in the last 28 days.</p>"


class TestConversionTrend:
    """A day without sessions (the tag was down, no file came) is a gap in the conversion trend, not
    a line drawn across it as if the day were between its neighbours; the axis starts at 0 and a
    first run's single day reads as that day (not as hours around midnight, with negative rates)."""

    def test_a_day_without_sessions_is_a_gap(self, landing: Landing, warehouse: Path) -> None:
        from journey_analytics.dashboard.sections import conversion_trend

        def visit(n: int, day: int, bought: bool) -> list[dict[str, object]]:
            rows = [{"event_id": f"v{n}", "event_ts": f"2026-10-{day:02d}T10:00:00Z", "event_name": "page_view",
                     "anonymous_id": f"a{n}"}]
            if bought:
                rows.append({"event_id": f"p{n}", "event_ts": f"2026-10-{day:02d}T10:05:00Z", "event_name": "purchase",
                             "anonymous_id": f"a{n}", "order_id": f"o{n}", "value": 10, "currency": "EUR"})
            return rows

        landing.jsonl("web", date(2026, 10, 20), "web.jsonl", [
            *visit(1, 17, True), *visit(2, 17, False), *visit(3, 19, True),  # nothing on the 18th
        ])
        run_day(landing, warehouse, date(2026, 10, 20))
        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            figure = conversion_trend(con, date(2026, 10, 20)).figure
            first_run = conversion_trend(con, date(2026, 10, 17)).figure
        finally:
            con.close()
        trend = figure.data[0]
        assert [str(x) for x in trend.x] == ["2026-10-17", "2026-10-18", "2026-10-19", "2026-10-20"]
        assert list(trend.y) == [0.5, None, 1.0, None]
        assert figure.layout.yaxis.rangemode == "tozero"
        assert [str(x) for x in first_run.data[0].x] == ["2026-10-17"]
        assert list(first_run.layout.xaxis.range) == ["2026-10-16 12:00", "2026-10-17 12:00"]


class TestHeadlinePeriod:
    """The headline figures say their period: orders, revenue and session conversion are of every
    day the data holds up to the run date, not of the run date alone (as the sections below, each
    of its own period: 28 days, 30 days, per day), and the customers are those with a stage."""

    def test_the_headline_names_its_period(self, landing: Landing, warehouse: Path) -> None:
        def page_view(event_id: str, day: str) -> dict[str, str]:
            return {"event_id": event_id, "event_ts": f"{day}T10:00:00Z", "event_name": "page_view", "anonymous_id": "a"}

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [page_view("d1", "2026-09-28")])
        landing.jsonl("web", date(2026, 10, 2), "w.jsonl", [page_view("d2", "2026-10-02")])
        run_day(landing, warehouse, date(2026, 10, 1))
        page = page_after_run(landing, warehouse, date(2026, 10, 2))
        assert ("Customers: those with a stage on 2026-10-02. Orders, revenue and session conversion: every day"
                " from 2026-09-28 to 2026-10-02, not that day alone.") in page


class TestCheckoutFunnelBreakdowns:
    """The breakdown selector keeps every breakdown: with many values of one (40 countries), the
    others (a source, named later in the alphabet) are not crowded out; each shows its largest
    segments, and the note says how many."""

    def test_many_values_of_one_breakdown(self, tmp_path: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import MAX_SEGMENTS_PER_BREAKDOWN, checkout_funnel

        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        con.execute("""create table funnel_steps (as_of_date date, funnel varchar, segment_key varchar,
            segment_value varchar, step_index int, step varchar, entered bigint, period_start date, period_end date,
            conversion_window bigint)""").fetchall()
        segments = [("all", "all", 500)] + [("country", f"C{i:02d}", 100 - i) for i in range(40)] + [
            ("device_category", "mobile", 300), ("utm_source", "google", 200), ("utm_source", "newsletter", 90)]
        con.executemany(
            "insert into funnel_steps values ('2026-10-20', 'checkout', ?, ?, ?, ?, ?, '2026-09-23', '2026-10-20', 604800)",
            [(key, value, k, step, n // (k + 1)) for key, value, n in segments
             for k, step in enumerate(["view_item", "add_to_cart", "purchase"])],
        ).fetchall()
        section = checkout_funnel(con, date(2026, 10, 20))
        names = [trace.name for trace in section.figure.data]
        assert names[0] == "everyone"
        assert [b["label"] for b in section.figure.layout.updatemenus[0].buttons][:2] == ["everyone", "country: C00"]
        assert {"device_category = mobile", "utm_source = google", "utm_source = newsletter"} <= set(names)
        countries = [name for name in names if name.startswith("country")]
        assert countries == [f"country = C{i:02d}" for i in range(MAX_SEGMENTS_PER_BREAKDOWN)]
        assert f"Each breakdown shows its {MAX_SEGMENTS_PER_BREAKDOWN} largest segments (country has 40)." in section.note


    def test_a_segment_no_one_entered_is_not_offered(self, tmp_path: Path) -> None:
        """A segment funnel_steps keeps for the previous period alone (0 entered now) would be an
        empty chart in the selector; the whole funnel is shown even when it is empty."""
        import duckdb

        from journey_analytics.dashboard.sections import checkout_funnel

        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        con.execute("""create table funnel_steps (as_of_date date, funnel varchar, segment_key varchar,
            segment_value varchar, step_index int, step varchar, entered bigint, period_start date, period_end date,
            conversion_window bigint)""").fetchall()
        segments = [("all", "all", 0), ("country", "DE", 0), ("country", "FR", 0)]
        con.executemany(
            "insert into funnel_steps values ('2026-10-20', 'checkout', ?, ?, ?, ?, ?, '2026-09-23', '2026-10-20', 604800)",
            [(key, value, k, step, n) for key, value, n in segments for k, step in enumerate(["view_item", "purchase"])],
        ).fetchall()
        assert [t.name for t in checkout_funnel(con, date(2026, 10, 20)).figure.data] == ["everyone"]
        con.execute("update funnel_steps set entered = 3 where segment_value in ('all', 'FR')").fetchall()
        assert [t.name for t in checkout_funnel(con, date(2026, 10, 20)).figure.data] == ["everyone", "country = FR"]


class TestCheckoutFunnelRepeatedStep:
    """A checkout funnel that repeats a step (page_view, view_item, page_view), or whose labels cut
    to the same text, draws one bar per step: on a category axis two steps of one name were one
    row, the later step's bar set beside the earlier one's."""

    def test_one_bar_per_step(self, tmp_path: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import LABEL_CHARS, checkout_funnel

        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        con.execute("""create table funnel_steps (as_of_date date, funnel varchar, segment_key varchar,
            segment_value varchar, step_index int, step varchar, entered bigint, period_start date, period_end date,
            conversion_window bigint)""").fetchall()
        long = "checkout_page_" + "x" * 80
        steps = ["page_view", "view_item", "page_view", long + "_a", long + "_b"]
        con.executemany(
            "insert into funnel_steps values ('2026-10-20', 'checkout', 'all', 'all', ?, ?, ?, '2026-09-23', '2026-10-20', 604800)",
            [(k, step, 50 - 10 * k) for k, step in enumerate(steps, 1)],
        ).fetchall()
        trace = checkout_funnel(con, date(2026, 10, 20)).figure.data[0]
        assert len(set(trace.y)) == 5, trace.y
        assert list(trace.y[:3]) == ["page_view", "view_item", "page_view 2"]
        assert all(len(label) <= LABEL_CHARS for label in trace.y)
        assert list(trace.x) == [40, 30, 20, 10, 0]


class TestAxisLabels:
    """A long source name on a chart's axis is cut short, so the labels do not squeeze the bars to
    a strip (a 60-character label set on end took most of the chart's height); the full name is in
    the hover. Two names cut to the same text stay two bars, not one bar with both counts."""

    def test_long_sources(self, landing: Landing, warehouse: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import AXIS_LABEL_CHARS, acquisition

        long_a, long_b = "partner-" + "x" * 80 + "-a", "partner-" + "x" * 80 + "-b"
        landing.jsonl("web", date(2026, 10, 20), "web.jsonl", [
            {"event_id": f"w{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "page_view",
             "anonymous_id": f"a{i}", "utm_source": source}
            for i, source in enumerate([long_a, long_a, long_b, "google"])
        ])
        run_day(landing, warehouse, date(2026, 10, 20))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            customers = acquisition(con, date(2026, 10, 20)).figure.data[0]
        finally:
            con.close()
        assert len(set(customers.x)) == 3
        assert all(len(label) <= AXIS_LABEL_CHARS for label in customers.x), customers.x
        assert list(customers.y) == [2, 1, 1]
        assert customers.hovertext[0].startswith("partner-xxx") and customers.hovertext[0].endswith("\u2026")


class TestPainPointUnits:
    """The pain points table shows each finding's observed value and baseline in their units: a rate
    as a percentage, as its sentence says it (0.004 beside "0.40%" reads as two numbers), hours as
    hours, and customers stuck in consideration as customers against a limit in days (450 beside 21
    read as 450 customers against a baseline of 21 customers); one-time buyers not back
    (stuck_in_purchase) are a cohort's share against the earlier cohorts'."""

    def test_units(self, tmp_path: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import pain_points

        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        con.execute("""create table pain_points (as_of_date date, kind varchar, segment_key varchar,
            segment_value varchar, metric varchar, observed double, baseline double, severity double,
            affected_customers bigint, description varchar)""").fetchall()
        con.execute("""insert into pain_points values
            ('2026-10-20', 'stuck_in_consideration', 'all', 'all', 'customers in consideration for too long', 450, 21, 450, 450, 'd1'),
            ('2026-10-20', 'email_spam_complaints', 'campaign_id', 'all', 'spam complaint rate', 0.004, 0.003, 2.2, 9, 'd2'),
            ('2026-10-20', 'social_slow_replies', 'platform', 'x', 'median hours to brand reply', 30.5, 24, 1.5, 12, 'd3'),
            ('2026-10-20', 'stuck_in_purchase', null, null, 'first-time buyers without a second order in time', 0.95, 0.85, 1.2, 190, 'd4')
        """).fetchall()
        rows = body_rows(pain_points(con, date(2026, 10, 20)).table_html)
        assert [row[4:6] for row in rows] == [
            ["450 customers", "21 days"], ["0.40%", "0.30%"], ["30.5 hours", "24.0 hours"], ["95.00%", "85.00%"],
        ]
        # the segment as a reader names it: a finding about everyone is not 'all = all'
        assert [row[2] for row in rows] == ["everyone", "campaign_id = all", "platform = x", ""]


class TestCheckoutFunnelUnit:
    """A checkout funnel counted per session (the GA4 closed funnel) says it counts sessions."""

    def test_sessions(self, tmp_path: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import checkout_funnel

        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        con.execute("""create table funnel_steps as select date '2026-10-20' as as_of_date, 'checkout' as funnel,
            'session' as unit, 'all' as segment_key, 'all' as segment_value, 1 as step_index, 'view_item' as step,
            10 as entered, date '2026-10-14' as period_start, date '2026-10-20' as period_end,
            86400 as conversion_window""").fetchall()
        note = checkout_funnel(con, date(2026, 10, 20)).note
        assert note.startswith("Sessions reaching each step in the report period, 2026-10-14 to 2026-10-20 (7 days),"
                               " each step within 1 day of their first"), note


class TestPlotlyScript:
    """The reports folder's plotly.min.js is the one the installed Plotly writes its charts for: a
    folder kept from before an upgrade of Plotly gets the new script (the charts of the new
    version's figures may not draw with an older one), not left as it was."""

    def test_an_older_script_is_replaced(self, landing: Landing, warehouse: Path) -> None:
        from plotly.offline import get_plotlyjs

        reports = warehouse.parent / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        (reports / "plotly.min.js").write_text("/**\n* plotly.js v2.0.0\n*/\n")
        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a"},
        ])
        run_day(landing, warehouse, date(2026, 10, 1))
        assert (reports / "plotly.min.js").read_text(encoding="utf-8") == get_plotlyjs()


class TestRunFigures:
    """A day's page shows that day's run (its own pipeline_runs row is written after the page)."""

    def test_this_run_not_the_previous(self, landing: Landing, warehouse: Path) -> None:
        def page_view(event_id: str, day: str) -> dict[str, str]:
            return {"event_id": event_id, "event_ts": f"{day}T10:00:00Z", "event_name": "page_view", "anonymous_id": "a"}

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [page_view("d1-1", "2026-10-01")])
        landing.jsonl("web", date(2026, 10, 2), "w.jsonl", [
            page_view("d2-1", "2026-10-02"), page_view("d2-2", "2026-10-02"), page_view("d1-1", "2026-10-01"),
            {"event_id": "d2-bad", "event_ts": "2026-10-02T10:00:00Z"},
        ])
        run_day(landing, warehouse, date(2026, 10, 1))
        page = page_after_run(landing, warehouse, date(2026, 10, 2))
        assert "<b>success: 4 rows read, 1 quarantined (25.00%), 1 repeated</b><span>This run</span>" in page
        assert "<b>missing_required_field 1</b><span>This run: still quarantined, by reason</span>" in page

    def test_quarantined_rows_by_reason(self, landing: Landing, warehouse: Path) -> None:
        bad = [
            {"event_id": f"t{i}", "event_ts": "yesterday", "event_name": "page_view", "anonymous_id": "a"} for i in range(3)
        ] + ["{not json"] * 2 + [{"event_id": "n1", "event_ts": "2026-10-01T10:00:00Z", "anonymous_id": "a"}]
        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", bad)
        page = page_after_run(landing, warehouse, date(2026, 10, 1))
        assert (
            "<b>bad_timestamp 3, unparseable_json 2, missing_required_field 1</b>"
            "<span>This run: still quarantined, by reason</span>"
        ) in page

    def test_report_on_a_warehouse_made_before_reasons(self, landing: Landing, warehouse: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.page import write_report

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", ["{not json"])
        run_day(landing, warehouse, date(2026, 10, 1))
        con = duckdb.connect(str(warehouse))
        con.execute("alter table main.quarantine drop column reason").fetchall()
        con.close()
        path, _ = write_report(warehouse, warehouse.parent / "again")
        page = path.read_text()
        assert "1 quarantined (100.00%)" in page and "by reason" not in page


class TestStageMix:
    """The stage mix shows every run date in order, a stage with no one on a day as 0."""

    def test_a_stage_missing_on_a_day(self, tmp_path: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import stage_mix

        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        con.execute("create table stage_history (customer_id varchar, as_of_date date, stage varchar)").fetchall()
        # no one in awareness (the first trace) on the first day
        con.execute("""insert into stage_history values
            ('c1', '2026-10-01', 'consideration'), ('c1', '2026-10-02', 'awareness'),
            ('c1', '2026-10-03', 'consideration'), ('c2', '2026-10-03', 'awareness')""").fetchall()
        figure = stage_mix(con, date(2026, 10, 3)).figure
        days = ["2026-10-01", "2026-10-02", "2026-10-03"]
        traces = {t.name: (list(t.x), list(t.y)) for t in figure.data}
        assert traces["awareness"] == (days, [0, 1, 1])
        assert traces["consideration"] == (days, [1, 0, 1])
        assert traces["advocacy"] == (days, [0, 0, 0])


class TestPageWrittenAfterLateFiles:
    """`journey report` for a past day reads events and sessions as they are now: when files for
    that day came late, the page says how many of its events arrived after it, as its funnels and
    pain points are as its run recorded them. A page with no such events says nothing."""

    def test_a_past_days_page_names_the_late_events(self, landing: Landing, warehouse: Path, tmp_path: Path) -> None:
        from journey_analytics.dashboard import write_report

        def purchase(event_id: str, ts: str) -> dict[str, str]:
            return {"event_id": event_id, "event_ts": ts, "event_name": "purchase", "anonymous_id": "a",
                    "order_id": event_id, "value": "10", "currency": "EUR"}

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [purchase("o1", "2026-10-01T10:00:00Z")])
        landing.jsonl("web", date(2026, 10, 2), "w.jsonl", [purchase("o2", "2026-10-02T10:00:00Z")])
        # day 1's second file, late: it arrives with day 3
        landing.jsonl("web", date(2026, 10, 3), "late.jsonl", [purchase("o3", "2026-10-01T11:00:00Z")])
        for day in (1, 2, 3):
            run_day(landing, warehouse, date(2026, 10, day))
        nightly = (warehouse.parent / "reports" / "2026-10-01" / "index.html").read_text()
        assert "arrived after" not in nightly
        page, _ = write_report(warehouse, tmp_path / "again", date(2026, 10, 1))
        text = page.read_text()
        assert "<b>2</b><span>Orders</span>" in text  # o1 and the late o3
        assert "1 event of 2026-10-01 or before arrived after it (late files) and is counted" in text
        # o3 was not known on night 2 either; on night 3 it was
        assert "1 event of 2026-10-02 or before arrived after it" in write_report(
            warehouse, tmp_path / "again", date(2026, 10, 2))[0].read_text()
        assert "arrived after" not in write_report(warehouse, tmp_path / "again", date(2026, 10, 3))[0].read_text()


class TestRevenueByCurrency:
    """Amounts in different currencies are never added: the headline shows revenue per currency,
    the largest first, and counts the orders of the currencies beyond the first three. The
    brand's own replies on social do not make it a customer."""

    @staticmethod
    def headline(landing: Landing, warehouse: Path) -> list[tuple[str, str]]:
        """Run the day, then read the page's headline figures from the published warehouse."""
        import duckdb

        from journey_analytics.dashboard.sections import header_figures

        run_day(landing, warehouse, date(2026, 10, 1))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return header_figures(con, date(2026, 10, 1))
        finally:
            con.close()

    def test_one_figure_per_currency(self, landing: Landing, warehouse: Path) -> None:
        def purchase(event_id: str, value: float, currency: str | None) -> dict[str, object]:
            row = {"event_id": event_id, "event_ts": "2026-10-01T10:00:00Z", "event_name": "purchase",
                   "anonymous_id": "a", "order_id": event_id, "value": value}
            return row | ({"currency": currency} if currency else {})

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            purchase("o1", 100, "EUR"), purchase("o2", 50, "eur"), purchase("o3", 20000, "JPY"),
            purchase("o4", 80, "USD"), purchase("o5", 10, "GBP"), purchase("o6", 5, "CHF"), purchase("o7", 1, "CHF"),
        ])
        landing.jsonl("social", date(2026, 10, 1), "s.jsonl", [  # the brand answering: not a customer
            {"event_id": "s1", "event_ts": "2026-10-01T11:00:00Z", "event_name": "brand_reply", "platform": "x",
             "handle": "our_brand", "thread_id": "t1"},
        ])
        figures = self.headline(landing, warehouse)
        assert figures[0] == ("Customers", "1")
        assert figures[1:6] == [
            ("Orders", "7"), ("Revenue JPY", "20,000"), ("Revenue EUR", "150"), ("Revenue USD", "80"),
            ("Orders in 2 other currencies", "3"),
        ]

    def test_one_other_currency_is_singular(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": f"o{i}", "event_ts": "2026-10-01T10:00:00Z", "event_name": "purchase", "anonymous_id": "a",
             "order_id": f"o{i}", "value": value, "currency": currency}
            for i, (value, currency) in enumerate([(100, "EUR"), (90, "USD"), (80, "GBP"), (5, "CHF"), (4, "CHF")])
        ])
        figures = self.headline(landing, warehouse)
        assert ("Orders in 1 other currency", "2") in figures

    def test_contacts_only_mailed_are_not_customers(self, landing: Landing, warehouse: Path) -> None:
        """A contact who only had e-mail delivered has no stage (the design), so the headline does
        not count them, also without a stage step (the day's stage history; with one, the headline
        is the stage funnel's total: tests/test_nightly_flow.py)."""
        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a"},
        ])
        landing.jsonl("email", date(2026, 10, 1), "e.jsonl", [
            {"event_id": f"e{i}", "event_ts": "2026-10-01T08:00:00Z", "event_name": name, "email": f"p{i}@example.com",
             "campaign_id": "c"}
            for i, name in enumerate(["delivered", "delivered", "bounce", "open"])
        ])
        figures = self.headline(landing, warehouse)
        assert figures[0] == ("Customers", "2")  # the visitor and the reader of the e-mail

    def test_two_customers_with_one_order_number_are_two_orders(self, landing: Landing, warehouse: Path) -> None:
        """Order numbers are not unique across customers (two shops both start at 1001): the
        headline counts an order per customer, as customers.n_orders does."""
        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": f"e{n}", "event_ts": "2026-10-01T10:00:00Z", "event_name": "purchase",
             "user_id": user, "order_id": "1001", "value": value, "currency": currency}
            for n, (user, value, currency) in enumerate([("u1", 10, "GBP"), ("u2", 99, "EUR"), ("u2", 99, "EUR")])
        ])
        figures = self.headline(landing, warehouse)
        assert figures[1:4] == [("Orders", "2"), ("Revenue EUR", "99"), ("Revenue GBP", "10")]


    def test_net_revenue_per_currency(self, landing: Landing, warehouse: Path) -> None:
        """Where refunds took money back, the headline shows the currency's net revenue beside its
        revenue, by the rule of customers.net_revenue (order_net_values): two partial refunds of
        one order both count, a refund given negative is the amount refunded, a refund over its
        order's value takes the whole order and no more, and a refund of an order bought before the
        data lowers nothing. A currency without refunds shows its revenue alone."""
        def row(n: int, name: str, at: str, order_id: str, value: float, currency: str) -> dict[str, object]:
            return {"event_id": f"w{n}", "event_ts": f"2026-10-01T{at}:00Z", "event_name": name, "user_id": "u1",
                    "order_id": order_id, "value": value, "currency": currency}

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            row(1, "purchase", "09:00", "o1", 100, "EUR"),
            row(2, "purchase", "09:00", "o2", 40, "EUR"),
            row(3, "purchase", "09:00", "o3", 80, "USD"),
            row(4, "refund", "10:00", "o1", 30, "EUR"),
            row(5, "refund", "11:00", "o1", -30, "EUR"),  # a second partial refund, given negative
            row(6, "refund", "10:00", "o2", 55, "EUR"),  # more than the order: takes it, no more
            row(7, "refund", "10:00", "o-old", 500, "EUR"),  # an order bought before the data
        ])
        figures = self.headline(landing, warehouse)
        assert figures[1:5] == [("Orders", "3"), ("Revenue EUR", "140"), ("Net revenue EUR", "40"), ("Revenue USD", "80")]


class TestCheckoutFunnelNote:
    """A store that does not log a checkout step gets a funnel of zeros from that step on; the
    section says which steps have no events, instead of leaving a reader to guess."""

    @staticmethod
    def page_text(landing: Landing, tmp_path: Path, names: list[str]) -> str:
        rows = []
        for i in range(6):
            for k, name in enumerate(names):
                row = {"event_id": f"e{i}-{k}", "event_ts": f"2026-10-01T1{i}:0{k}:00Z", "event_name": name,
                       "anonymous_id": f"a{i}"}
                if name == "purchase":
                    row |= {"order_id": f"o{i}", "value": 10, "currency": "EUR"}
                rows.append(row)
        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", rows)
        os.environ.setdefault("JOURNEY_HASH_KEY", "test-key")
        summary = runs.run_day_in_process(
            date(2026, 10, 1), landing.root, tmp_path / "w.duckdb", tmp_path / "reports", Settings()
        )
        return summary.report.read_text()

    def test_steps_with_no_events_are_named(self, landing: Landing, tmp_path: Path) -> None:
        text = self.page_text(landing, tmp_path, ["view_item", "purchase"])
        assert ("No add_to_cart, begin_checkout or add_payment_info events in the report period: the "
                "logs may not track these steps") in text

    def test_no_note_when_every_step_is_logged(self, landing: Landing, tmp_path: Path) -> None:
        text = self.page_text(
            landing, tmp_path, ["view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"]
        )
        assert "Customers reaching each step in the report period" in text
        assert "may not track" not in text

    def test_the_note_names_the_period_and_window(self, landing: Landing, tmp_path: Path) -> None:
        """"The report period" alone does not say which days: the note names them and the window."""
        text = self.page_text(landing, tmp_path, ["view_item", "purchase"])
        assert ("Customers reaching each step in the report period, 2026-09-04 to 2026-10-01 (28 days), each"
                " step within 7 days of their first; choose a breakdown.") in text


class TestOrdersOnlyNote:
    """A store's order export landed without its clickstream (purchases and refunds only): every
    session is an order's own, so a session conversion near 100% would read as a fact about
    visits; the page says what it is instead."""

    @staticmethod
    def page_text(landing: Landing, tmp_path: Path, browse: bool) -> str:
        rows = []
        for i in range(4):
            if browse:
                rows.append({"event_id": f"v{i}", "event_ts": f"2026-10-01T1{i}:00:00Z", "event_name": "page_view",
                             "user_id": f"u{i}"})
            rows.append({"event_id": f"p{i}", "event_ts": f"2026-10-01T1{i}:05:00Z", "event_name": "purchase",
                         "user_id": f"u{i}", "order_id": f"o{i}", "value": 10, "currency": "GBP"})
        rows.append({"event_id": "r0", "event_ts": "2026-10-01T18:00:00Z", "event_name": "refund",
                     "user_id": "u0", "order_id": "o0", "value": 10, "currency": "GBP"})
        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", rows)
        os.environ.setdefault("JOURNEY_HASH_KEY", "test-key")
        summary = runs.run_day_in_process(
            date(2026, 10, 1), landing.root, tmp_path / "w.duckdb", tmp_path / "reports", Settings()
        )
        return summary.report.read_text()

    def test_orders_alone_are_named(self, landing: Landing, tmp_path: Path) -> None:
        text = self.page_text(landing, tmp_path, browse=False)
        assert text.count("with no visits logged: every session is an order&#x27;s (or a refund&#x27;s) own") == 2

    def test_no_note_when_visits_are_logged(self, landing: Landing, tmp_path: Path) -> None:
        assert "with no visits logged" not in self.page_text(landing, tmp_path, browse=True)


def _render_in_browser(page: Path, width: int = 1400) -> str:
    """The DOM of a page after headless Chromium ran it (its own scripts included)."""
    chromium = _chromium()
    assert chromium
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--window-size={width},1000",
             f"--user-data-dir={page.parent / 'chrome-profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


# Marks, on the body, each table cell whose text the browser laid out on more than one line.
_MARK_WRAPPED_CELLS = """<script>
const wrapped = [];
for (const cell of document.querySelectorAll("td.num, th")) {
  const range = document.createRange(); range.selectNodeContents(cell);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  if (lines.size > 1 && !/\\s/.test(cell.textContent.trim())) wrapped.push(cell.textContent.trim());
}
document.body.setAttribute("data-wrapped", JSON.stringify(wrapped));
</script>"""


@pytest.mark.skipif(_chromium() is None, reason="chromium is installed by `make test`; not on this machine")
class TestTableLayout:
    """A long log string in a table (a campaign name of hundreds of characters) takes the width it
    can, but a figure or a one-word heading beside it is never broken across lines ("0.2" above
    "83" reads as two numbers)."""

    def test_numbers_and_headings_stay_whole(self, tmp_path: Path) -> None:
        from journey_analytics.dashboard.page import _CSS
        from journey_analytics.dashboard.sections import html_table

        table = html_table(
            ["campaign", "delivered", "dropped", "open rate", "click rate", "bounce rate", "complaint rate"],
            [("L" * 3000, 1318, 9, 0.2830188, 0.0817610, 0.0304878, 0.0094339),
             ("spring sale " * 30, 324, 7, 0.318, 0.12, 0.018, 0.006)],
            {1, 2, 3, 4, 5, 6},
        )
        page = tmp_path / "table.html"
        page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><style>{_CSS}</style></head><body>"
                        f"<main><section class='wide'>{table}</section></main>{_MARK_WRAPPED_CELLS}</body></html>")
        dom = _render_in_browser(page)
        marked = re.search(r'data-wrapped="([^"]*)"', dom)
        assert marked, dom[:2000]
        assert json.loads(marked.group(1).replace("&quot;", '"')) == []

    def test_a_phone_scrolls_no_section_off_the_page(self, tmp_path: Path) -> None:
        """On a phone (390 pixels), each section fits the screen's width (a wide table scrolls inside
        its section); the page's grid asked for columns of at least 34rem, so every section ran off
        the right edge."""
        from journey_analytics.dashboard.page import _CSS
        from journey_analytics.dashboard.sections import html_table

        table = html_table(["campaign", "delivered", "open rate"], [("spring", 1318, "28.30%")], {1, 2})
        page = tmp_path / "phone.html"
        page.write_text(
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<style>{_CSS}</style></head><body><main><section><h2>E-mail health</h2>{table}</section>"
            "<section class='wide'><p class='note'>Customers reaching each step.</p></section></main>"
            "<script>document.body.setAttribute('data-overflow', String("
            "document.documentElement.scrollWidth - document.documentElement.clientWidth))</script></body></html>"
        )
        dom = _render_in_browser(page, width=390)
        assert re.search(r'data-overflow="(-?\d+)"', dom).group(1) == "0"


@pytest.mark.skipif(_chromium() is None, reason="chromium is installed by `make test`; not on this machine")
class TestPageSentOnItsOwn:
    """A page needs the reports folder's plotly.min.js for its charts. Sent on its own (attached to
    an e-mail), its charts were blank with no word why: it now says what it needs."""

    def test_a_page_without_its_script_says_so(self, page: Path, tmp_path: Path) -> None:
        from journey_analytics.dashboard.page import NO_CHARTS_NOTE

        alone = tmp_path / "sent" / "index.html"
        alone.parent.mkdir()
        shutil.copy(page, alone)
        shown = re.search(r'<p class="note" id="no-charts"( hidden(="")?)?>', _render_in_browser(alone))
        assert shown and shown.group(1) is None
        assert NO_CHARTS_NOTE in alone.read_text()

    def test_beside_its_script_the_note_stays_hidden(self, page: Path) -> None:
        shown = re.search(r'<p class="note" id="no-charts"( hidden(="")?)?>', _render_in_browser(page))
        assert shown and shown.group(1) is not None


class TestNoWebSessions:
    """A warehouse of e-mail (or social) events alone has no web session: the headline says session
    conversion has nothing to be taken of (not 0.0%), and the acquisition and conversion trend
    sections say there are no sessions rather than show an empty chart."""

    def test_email_only(self, landing: Landing, warehouse: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import acquisition, conversion_trend, header_figures

        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", [
            {"event_id": f"c{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "click",
             "email": f"p{i}@example.com", "campaign_id": "spring", "message_id": f"m{i}"} for i in range(3)
        ])
        run_day(landing, warehouse, date(2026, 10, 20))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            figures = dict(header_figures(con, date(2026, 10, 20)))
            sources = acquisition(con, date(2026, 10, 20))
            trend = conversion_trend(con, date(2026, 10, 20))
        finally:
            con.close()
        assert figures["Session conversion"] == "n/a: no web sessions"
        assert sources.figure is None
        assert sources.table_html == "<p>No web sessions up to 2026-10-20: no first visit to take a source from.</p>"
        assert trend.note.endswith(" No web sessions in the 90 days to 2026-10-20.")

    def test_the_checkout_funnel_says_there_are_no_web_events(self, landing: Landing, warehouse: Path) -> None:
        """Not that the logs may not track its steps and to take them out of the config: the
        warehouse has no web logs at all."""
        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", [
            {"event_id": f"c{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "click",
             "email": f"p{i}@example.com", "campaign_id": "spring", "message_id": f"m{i}"} for i in range(3)
        ])
        note = funnel_note_after_run(landing, warehouse, date(2026, 10, 20))
        assert note.endswith(" No web events in the report period (its events are e-mail and social): the funnel reads 0 throughout.")
        assert "may not track" not in note


class TestTouchpointsLongAfterTheLastEvent:
    """A run long after the last event (a store that stopped sending logs) keeps the touchpoint
    section and says it has no events in its 30 days, rather than leaving it off the page."""

    def test_no_events_in_30_days(self, tmp_path: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import touchpoints

        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        con.execute("create table stage_history (customer_id varchar, as_of_date date, stage varchar)").fetchall()
        con.execute("create table events (customer_id varchar, channel varchar, event_name varchar, event_ts timestamp)").fetchall()
        con.execute("insert into stage_history values ('c1', '2026-10-01', 'awareness'), ('c1', '2026-11-30', 'awareness')").fetchall()
        con.execute("insert into events values ('c1', 'web', 'page_view', '2026-10-01 10:00:00')").fetchall()
        recent = touchpoints(con, date(2026, 10, 1))
        late = touchpoints(con, date(2026, 11, 30))
        assert recent is not None and recent.figure is not None
        assert late is not None and late.figure is None
        assert late.note.endswith(" No events of customers with a stage in the 30 days to 2026-11-30.")


class TestPageWrittenAfterAnErasure:
    """`journey report` for a day run before `journey forget` reads events, sessions and stages
    without the erased customer, while the day's funnels and pain points (aggregates, kept until a
    run rebuilds them) still count them: the page says so (the headline read 0 customers beside a
    stage funnel of 1). A day run after the erasure says nothing."""

    def test_a_page_written_after_forget_names_the_erasure(self, landing: Landing, warehouse: Path, tmp_path: Path) -> None:
        from journey_analytics.config import load_settings
        from journey_analytics.dashboard import write_report
        from journey_analytics.forget import forget_customer

        def page_view(event_id: str, day: str, user: str) -> dict[str, str]:
            return {"event_id": event_id, "event_ts": f"{day}T10:00:00Z", "event_name": "page_view",
                    "anonymous_id": f"a-{user}", "user_id": user}

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [page_view("p1", "2026-10-01", "u1")])
        landing.jsonl("web", date(2026, 10, 2), "w.jsonl", [page_view("p2", "2026-10-02", "u2")])
        run_day(landing, warehouse, date(2026, 10, 1))
        assert "erased (journey forget)" not in write_report(warehouse, tmp_path / "before", date(2026, 10, 1))[0].read_text()
        forget_customer("u1", warehouse, load_settings(None))
        run_day(landing, warehouse, date(2026, 10, 2))
        text = write_report(warehouse, tmp_path / "again", date(2026, 10, 1))[0].read_text()
        assert ("1 customer was erased (journey forget) after the run of 2026-10-01: the figures above and the "
                "stage mix") in text
        assert "erased (journey forget)" not in write_report(warehouse, tmp_path / "again", date(2026, 10, 2))[0].read_text()


class TestCheckoutFunnelAfterTheLogsStopped:
    """A run long after the last event (no events at all in the checkout funnel's 28 days) says
    so, rather than that the logs may not track the steps and to take them out of the config."""

    def test_no_events_in_the_period(self, landing: Landing, tmp_path: Path) -> None:
        import duckdb

        from journey_analytics.dashboard.sections import checkout_funnel

        landing.jsonl("web", date(2026, 9, 1), "w.jsonl", [
            {"event_id": f"{name}{i}", "event_ts": f"2026-09-01T10:0{k}:00Z", "event_name": name, "anonymous_id": f"a{i}",
             **({"order_id": f"o{i}", "value": 10, "currency": "EUR"} if name == "purchase" else {})}
            for i in range(3)
            for k, name in enumerate(["view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"])
        ])
        warehouse = tmp_path / "w.duckdb"
        run_day(landing, warehouse, date(2026, 9, 1), funnels=True)
        run_day(landing, warehouse, date(2026, 11, 1), funnels=True)
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            recent, late = checkout_funnel(con, date(2026, 9, 1)).note, checkout_funnel(con, date(2026, 11, 1)).note
        finally:
            con.close()
        assert "No events at all" not in recent and "the logs may not track" not in recent
        assert late.endswith(" No events at all in the report period (the latest is of 2026-09-01): the funnel reads 0 throughout.")
        assert "the logs may not track" not in late

    def test_not_said_of_a_funnel_that_counts_someone(self, landing: Landing, tmp_path: Path) -> None:
        """After `journey forget` erased everyone, the day's funnel still counts them (an aggregate,
        as its run recorded it): it must not read as a period without events."""
        import duckdb

        from journey_analytics.config import load_settings
        from journey_analytics.dashboard.sections import checkout_funnel
        from journey_analytics.forget import forget_customer

        landing.jsonl("web", date(2026, 9, 1), "w.jsonl", [
            {"event_id": f"{name}1", "event_ts": f"2026-09-01T10:0{k}:00Z", "event_name": name, "anonymous_id": "a1",
             "user_id": "u1"} for k, name in enumerate(["view_item", "add_to_cart"])
        ])
        warehouse = tmp_path / "w.duckdb"
        run_day(landing, warehouse, date(2026, 9, 1), funnels=True)
        forget_customer("u1", warehouse, load_settings(None))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            note = checkout_funnel(con, date(2026, 9, 1)).note
        finally:
            con.close()
        assert "No events at all" not in note


class TestCountsOfOne:
    """A count of one reads as one: "1 labelled customer", "1 row read", "1 customer" in the
    classifier's caption, "1 day" in the funnel's period (they read "1 labelled customers")."""

    def test_plural(self) -> None:
        from journey_analytics.wording import plural

        assert [plural(n, "customer") for n in (0, 1, 2, 1234)] == ["0 customers", "1 customer", "2 customers", "1,234 customers"]
        assert plural(1, "other currency", "other currencies") == "1 other currency"
        assert plural(72.0, "hour") == "72 hours" and plural(1.0, "hour") == "1 hour"

    def test_a_run_of_one_label(self, landing: Landing, tmp_path: Path) -> None:
        from journey_analytics.config import load_settings

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": "v1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "view_item", "anonymous_id": "a1", "user_id": "u1"},
        ])
        landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\nu1,consideration,2026-10-01\n")
        summary = runs.run_day_in_process(
            date(2026, 10, 1), landing.root, tmp_path / "w.duckdb", tmp_path / "reports", load_settings(None)
        )
        notices = " ".join(summary.notices)
        assert "1 labelled customer, of whom" in notices, notices
        page = summary.report.read_text()
        assert "1 customers" not in page and "1 rows" not in page and "(1 days)" not in page
        assert "rules plus model are the rules alone, 1 customer, 0 of them decided by the classifier" in page


class TestHeadlineIdentified:
    """The headline's customers are people identified by a user id and also anonymous devices and
    contacts known by an e-mail address or a social handle alone (`anon:`, `email:`, `social:`
    customer ids): the page says how many are identified, as customer_stages.is_identified counts
    them, rather than leave 4 to read as 4 known customers."""

    def test_identified_beside_customers(self, landing: Landing, tmp_path: Path) -> None:
        from journey_analytics.config import load_settings

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": "v1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "view_item", "anonymous_id": "a1", "user_id": "u1"},
            {"event_id": "v2", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a2"},
        ])
        landing.jsonl("email", date(2026, 10, 1), "e.jsonl", [
            {"event_id": "e1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "p@example.com",
             "campaign_id": "c", "message_id": "m1"},
        ])
        landing.jsonl("social", date(2026, 10, 1), "s.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "like", "platform": "x", "handle": "@h"},
        ])
        warehouse = tmp_path / "w.duckdb"
        summary = runs.run_day_in_process(date(2026, 10, 1), landing.root, warehouse, tmp_path / "reports", load_settings(None))
        assert query(warehouse, "select count(*), count(*) filter (where is_identified) from customer_stages") == [(4, 1)]
        page = summary.report.read_text()
        assert "<b>4</b><span>Customers</span><span>1 identified, 3 not</span>" in page
        assert ("Of the 4 customers, 1 is identified (a user id: they logged in or signed up, or the CRM knows them);"
                " the other 3 are known only by a device (anonymous visitors), an e-mail address or a social handle") in page


class TestNamesInReadingOrder:
    """Campaigns (and sources, platforms, segments) with as many messages are listed as a reader
    orders their names: campaign_2 before campaign_10, 9 before 10 (as text, campaign_10 came
    second, after campaign_1)."""

    def test_campaigns(self, landing: Landing, warehouse: Path) -> None:
        from journey_analytics.dashboard.sections import email_health

        names = [f"campaign_{i}" for i in (12, 1, 10, 2, 11, 3)] + ["9", "10"]
        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", [
            {"event_id": f"{name}-{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "delivered",
             "email": f"p{i}@example.com", "campaign_id": name, "message_id": f"{name}-m{i}"}
            for name in names for i in range(3)
        ])
        table = section_after_run(landing, warehouse, date(2026, 10, 20), email_health)
        assert [row[0] for row in body_rows(table)] == [
            "9", "10", "campaign_1", "campaign_2", "campaign_3", "campaign_10", "campaign_11", "campaign_12"]


class TestCheckoutFunnelBeforeTheData:
    """A report period that starts before the first day of the data (28 days, in a store's first
    weeks of logs) says where the data begins and how many of its days the funnel counts, rather
    than let 28 days read as 28 days of customers."""

    def test_the_data_begins_in_the_period(self, landing: Landing, tmp_path: Path) -> None:
        landing.jsonl("web", date(2026, 10, 10), "w.jsonl", [
            {"event_id": f"{name}{i}", "event_ts": f"2026-10-1{i}T10:0{k}:00Z", "event_name": name, "anonymous_id": f"a{i}"}
            for i in range(3) for k, name in enumerate(["view_item", "add_to_cart"])
        ])
        note = funnel_note_after_run(landing, tmp_path / "w.duckdb", date(2026, 10, 19))
        assert note.startswith("Customers reaching each step in the report period, 2026-09-22 to 2026-10-19 (28 days),")
        assert ("; choose a breakdown. The data begins on 2026-10-10, 18 days into the period: the funnel counts its"
                " last 10 days.") in note


class TestAbandonmentBesideTheFunnel:
    """The checkout-abandonment finding judges everyone who began checkout in its window and had 24
    hours to buy, whatever came before; the checkout funnel counts at begin_checkout those who got
    there by its steps in order: the pain points say why the two numbers differ where they meet."""

    def test_the_note_names_both_counts(self, landing: Landing, tmp_path: Path) -> None:
        from journey_analytics.config import load_settings

        def web(event_id: str, ts: str, name: str, who: str) -> dict[str, object]:
            row: dict[str, object] = {"event_id": event_id, "event_ts": ts, "event_name": name, "anonymous_id": who}
            return row | ({"order_id": event_id, "value": 10, "currency": "EUR"} if name == "purchase" else {})

        rows = [web(f"b{i}", "2026-10-18T10:00:00Z", "begin_checkout", f"a{i}") for i in range(40)]
        rows += [web(f"p{i}", "2026-10-18T11:00:00Z", "purchase", f"a{i}") for i in range(4)]
        rows += [web(f"{name}{i}", f"2026-10-20T10:0{k}:00Z", name, f"n{i}")
                 for i in range(10) for k, name in enumerate(["view_item", "add_to_cart", "begin_checkout"])]
        landing.jsonl("web", date(2026, 10, 20), "w.jsonl", rows)
        summary = runs.run_day_in_process(
            date(2026, 10, 20), landing.root, tmp_path / "w.duckdb", tmp_path / "reports", load_settings(None)
        )
        page = summary.report.read_text()
        assert "90% of the 40 customers who began checkout in the last 28 days did not buy within 24 hours" in page
        assert ("Checkout abandonment judges the 40 customers who began checkout in the last 28 days and had 24 hours"
                " to buy by the end of the day (later ones are not judged yet), whatever they did before; the checkout"
                " funnel&#x27;s 10 at begin_checkout are those who reached it by the steps before it, in its period,"
                " and it counts a purchase within its own window.") in page


class TestEmailOverAThresholdNotFlagged:
    """A campaign over an e-mail threshold is a pain point only when it is also significantly worse
    than the other campaigns (and has min_delivered messages): the e-mail section names the ones
    over a threshold that are not flagged, and why, where only the config said so."""

    def test_named_with_why(self, landing: Landing, tmp_path: Path) -> None:
        from journey_analytics.config import load_settings

        def mail(campaign: str, i: int, name: str) -> dict[str, object]:
            return {"event_id": f"{campaign}-{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": name,
                    "email": f"p{i}@example.com", "campaign_id": campaign, "message_id": f"{campaign}-m{i}"}

        # 6% and 3.3% of 150 bounce (threshold 5%): not significantly apart; a small send all bounced
        rows = [mail(c, i, "bounce" if i < bad else "delivered")
                for c, bad in (("campaign_5", 9), ("campaign_1", 5), ("campaign_2", 5)) for i in range(150)]
        rows += [mail("<b>tiny</b>", i, "bounce") for i in range(3)]
        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", rows)
        warehouse = tmp_path / "w.duckdb"
        summary = runs.run_day_in_process(date(2026, 10, 20), landing.root, warehouse, tmp_path / "reports", load_settings(None))
        assert query(warehouse, "select count(*) from pain_points where kind = 'email_bounce'") == [(0,)]
        page = summary.report.read_text()
        assert ("<p>Over a threshold, not a pain point:</p><ul><li>&lt;b&gt;tiny&lt;/b&gt;: bounce rate 100.00%, over"
                " the threshold of 5.00%, too few messages to judge (3; a campaign needs 100).</li><li>campaign_5: bounce"
                " rate 6.00%, over the threshold of 5.00%, but not significantly worse than the other campaigns' 4.29% on"
                " 150 messages, so not flagged as its own pain point.</li></ul>") in page

    def test_many_small_campaigns_are_counted_not_each_listed(self, landing: Landing, tmp_path: Path) -> None:
        """A store of many small sends (a back-in-stock mail per product) has dozens of campaigns
        over a threshold on a message or two: the table shows the 30 with the most messages, and
        the list under it as many, then counts the rest by why, rather than run to a line each."""
        from journey_analytics.config import load_settings
        from journey_analytics.dashboard.sections import MAX_CAMPAIGNS

        rows = [{"event_id": f"b{c}-{i}", "event_ts": "2026-10-19T10:00:00Z", "event_name": "bounce" if i == 0 else "delivered",
                 "email": f"p{i}@example.com", "campaign_id": f"back_in_stock_{c}", "message_id": f"b{c}-m{i}"}
                for c in range(MAX_CAMPAIGNS + 12) for i in range(3)]
        landing.jsonl("email", date(2026, 10, 20), "esp.jsonl", rows)
        warehouse = tmp_path / "w.duckdb"
        summary = runs.run_day_in_process(date(2026, 10, 20), landing.root, warehouse, tmp_path / "reports", load_settings(None))
        listed = summary.report.read_text().split("<p>Over a threshold, not a pain point:</p><ul>")[1].split("</ul>")[0]
        assert listed.count("<li>") == MAX_CAMPAIGNS + 1
        assert "<li>back_in_stock_0: bounce rate 33.33%, over the threshold of 5.00%, too few messages" in listed
        assert listed.endswith("<li>12 more over a threshold: 12 with too few messages to judge.</li>"), listed[-300:]



class TestClassifierInPlainWords:
    """The classifier's evaluation speaks to data people (precision, recall, F1): the section opens
    with a line a marketing reader can take away, how many labelled customers got the stage their
    label gives, and what the scores mean; the tables keep their figures."""

    def test_a_line_before_the_tables(self, landing: Landing, tmp_path: Path) -> None:
        from journey_analytics.config import load_settings

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": "v1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "view_item", "anonymous_id": "a1", "user_id": "u1"},
            {"event_id": "v2", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a2", "user_id": "u2"},
        ])
        landing.text("labels", None, "labels.csv",
                     "user_id,stage,as_of_date\nu1,consideration,2026-10-01\nu2,consideration,2026-10-01\n")
        summary = runs.run_day_in_process(
            date(2026, 10, 1), landing.root, tmp_path / "w.duckdb", tmp_path / "reports", load_settings(None)
        )
        page = summary.report.read_text()
        section = page.split('<section id="classifier"')[1]
        assert ("<p><b>In plain words:</b> the stages on this page are right for 1 of 2 customers (50%) whose stage"
                " your labels give. Precision: of the customers put in a stage, the share who belong there.") in section
        assert section.index("In plain words") < section.index("<table>")
        assert "<th>rules+model F1</th>" in section

    def test_a_classifier_trained_on_labels_is_scored_on_labels(self) -> None:
        """A classifier trained on labels is scored on the labelled customers held out of its
        training: the line said "customers whose stage the rules are sure of ... there are no labels
        to check it against", the opposite of what was done."""
        from journey_analytics.dashboard.sections import _in_plain_words
        from journey_analytics.stages.evaluate import compare

        truth = ["awareness", "consideration", "consideration", "purchase"]
        rules = ["awareness", "awareness", "consideration", "purchase"]
        final = ["awareness", "consideration", "consideration", "awareness"]
        held_out = compare(truth, rules, final, reference="held-out labels", decided_by_model=2)
        line = _in_plain_words({"held_out": held_out})
        assert line.startswith("<p><b>In plain words:</b> the stages on this page are right for 3 of 4 customers (75%)"
                               " whose stage your labels give, kept out of the classifier&#x27;s training; the classifier"
                               " decided 2 of them, the rules the rest. Precision"), line
        assert "rules are sure of" not in line and "no labels" not in line


class TestFilesNotRead:
    """A landing file that could not be read as a whole is named on the page, with why: its rows
    are in none of the figures (the page said "success: 1 row read, 0 quarantined" as if nothing
    were missing). Once it reads, the page says nothing of it."""

    def test_the_page_names_a_file_it_lacks_until_it_reads(self, landing: Landing, warehouse: Path) -> None:
        import gzip

        row = {"event_id": "e1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"}
        landing.jsonl("web", date(2026, 10, 1), "a.jsonl", [row])
        broken = landing.binary("web", date(2026, 10, 1), "b&c.jsonl.gz", b"this is not gzip\n")
        text = page_after_run(landing, warehouse, date(2026, 10, 1))
        assert (
            '<p class="note">1 landing file could not be read, and any rows in it are in none of the figures on this '
            "page: web/dt=2026-10-01/b&amp;c.jsonl.gz (Input is not a GZIP stream"
        ) in text
        assert "b&c" not in text

        broken.write_bytes(gzip.compress(json.dumps(dict(row, event_id="e2")).encode() + b"\n"))
        text = page_after_run(landing, warehouse, date(2026, 10, 2))
        assert "could not be read" not in text
        assert query(warehouse, "select count(*) from events") == [(2,)]


class TestHeadlineIdentifiedByTheStages:
    """The headline counts identified customers as customer_stages.is_identified does: a store
    export's orders under user_id 'guest' that no device claims make a customer 'guest' (a user
    id that names no one), who is not identified; read from its name it was."""

    def test_a_guest_is_not_counted_identified(self, landing: Landing, tmp_path: Path) -> None:
        from journey_analytics.config import load_settings

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": "v1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "login", "anonymous_id": "a1", "user_id": "u1"},
            {"event_id": "v2", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a2"},
            {"event_id": "x1", "event_ts": "2026-10-01T11:00:00Z", "event_name": "purchase", "user_id": "guest",
             "order_id": "O-1", "value": "20", "currency": "EUR"},
        ])
        warehouse = tmp_path / "w.duckdb"
        summary = runs.run_day_in_process(date(2026, 10, 1), landing.root, warehouse, tmp_path / "reports", load_settings(None))
        assert query(warehouse, "select customer_id, is_identified from customer_stages order by 1") == [
            ("anon:a2", False), ("guest", False), ("u1", True)]
        page = summary.report.read_text()
        assert "<b>3</b><span>Customers</span><span>1 identified, 2 not</span>" in page
