"""The stage rule file: the default loads, and a wrong file is refused naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from journey_analytics.stages.rules import StageConfigError, load_stage_config


def line_of(path: Path, text: str, occurrence: int = 0) -> int:
    """1-based line number of the n-th line containing text."""
    hits = [i + 1 for i, line in enumerate(path.read_text().splitlines()) if text in line]
    return hits[occurrence]


def edit(path: Path, old: str, new: str, occurrence: int = 0) -> None:
    """Replace the n-th occurrence of old."""
    text = path.read_text()
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(old, start + 1)
    path.write_text(text[:start] + new + text[start + len(old):])


class TestDefaultRules:
    """The shipped config/stages.toml is valid and follows the design."""

    def test_default_rule_set(self) -> None:
        """Every rule has an id, the order stages come first, and the signals match the design."""
        config = load_stage_config()
        assert [r.id for r in config.rules] == [
            "advocacy.bought_and_advocated", "retention.repeat_orders", "purchase.one_order",
            "consideration.identified_intent", "consideration.repeated_intent",
            "consideration.deliberate_intent", "consideration.single_intent", "consideration.email_click",
            "awareness.recent_browsing", "awareness.touch",
        ]
        intent = {(s.channel, s.event_name) for s in config.signals if s.signal == "intent"}
        assert intent == {("web", e) for e in (
            "view_item", "search", "add_to_cart", "begin_checkout", "add_payment_info",
            "generate_lead", "sign_up")}
        review = next(s for s in config.signals if s.event_name == "write_review")
        assert (review.signal, review.min_rating) == ("advocacy", 4)

    def test_lookback_days_is_the_window_of_rules_without_their_own(self, rules_copy: Path) -> None:
        """The setting is the rules' window (it was checked and then read by nothing): the default
        rules give none of their own, so a longer sales cycle is one line; a rule's own wins."""
        assert {r.window_days for r in load_stage_config().rules if r.signal} == {90}
        edit(rules_copy, "lookback_days = 90", "lookback_days = 180")
        edit(rules_copy, 'id = "consideration.email_click"', 'id = "consideration.email_click"\nwindow_days = 30')
        windows = {r.id: r.window_days for r in load_stage_config(rules_copy).rules if r.signal}
        assert windows.pop("consideration.email_click") == 30
        assert set(windows.values()) == {180}


class TestSavedOnWindows:
    """A rule file saved with a byte-order mark (as Windows Notepad saves UTF-8) loads; it was
    refused as "not valid TOML" at line 1, column 1."""

    def test_a_byte_order_mark(self, rules_copy: Path, tmp_path: Path) -> None:
        from journey_analytics.funnels.config import load_funnel_config

        rules_copy.write_bytes(b"\xef\xbb\xbf" + rules_copy.read_bytes())
        assert load_stage_config(rules_copy).rules == load_stage_config().rules
        funnels = tmp_path / "funnels.toml"
        funnels.write_bytes(b"\xef\xbb\xbf" + (Path(__file__).parents[2] / "config" / "funnels.toml").read_bytes())
        assert [f.name for f in load_funnel_config(funnels).funnels] == [
            f.name for f in load_funnel_config(None).funnels]


class TestConfigErrors:
    """A wrong rule file is refused with the file and the line of the mistake."""

    def test_unknown_stage(self, rules_copy: Path) -> None:
        """A misspelt stage names the line of that stage."""
        edit(rules_copy, 'stage = "retention"', 'stage = "loyalty"')
        line = line_of(rules_copy, 'stage = "loyalty"')
        with pytest.raises(StageConfigError, match=rf"stages.toml, line {line}: unknown stage 'loyalty'"):
            load_stage_config(rules_copy)

    def test_unknown_event(self, rules_copy: Path) -> None:
        """An event the contract does not know names its line."""
        edit(rules_copy, '{ event = "web:search" }', '{ event = "web:serch" }')
        line = line_of(rules_copy, "web:serch")
        with pytest.raises(StageConfigError, match=rf"line {line}: unknown event 'web:serch'"):
            load_stage_config(rules_copy)

    def test_unknown_channel(self, rules_copy: Path) -> None:
        """A channel other than web, email, social names its line."""
        edit(rules_copy, '{ event = "email:click" }', '{ event = "sms:click" }')
        line = line_of(rules_copy, "sms:click")
        with pytest.raises(StageConfigError, match=rf"line {line}: unknown channel 'sms'"):
            load_stage_config(rules_copy)

    @pytest.mark.parametrize("bad", ["0", "-7", "\"ninety\"", "9999"])
    def test_bad_window(self, rules_copy: Path, bad: str) -> None:
        """A window that is not 1 to 3650 days names the line of the second rule's window."""
        edit(rules_copy, 'id = "consideration.identified_intent"', f'id = "consideration.identified_intent"\nwindow_days = {bad}')
        line = line_of(rules_copy, f"window_days = {bad}")
        with pytest.raises(StageConfigError, match=rf"line {line}: window_days of rule consideration.identified_intent"):
            load_stage_config(rules_copy)

    def test_unknown_key_in_a_rule(self, rules_copy: Path) -> None:
        """A key no rule knows names its own line, not the rule's first line."""
        edit(rules_copy, "min_orders = 2", "min_orders = 2\nmin_order = 3")
        line = line_of(rules_copy, "min_order = 3")
        with pytest.raises(StageConfigError, match=rf"line {line}: unknown key min_order in a rule"):
            load_stage_config(rules_copy)

    def test_unknown_setting_and_table(self, rules_copy: Path) -> None:
        """An unknown setting, or a table the file does not have, names its line."""
        edit(rules_copy, "lookback_days = 90", "lookback_dayz = 90")
        line = line_of(rules_copy, "lookback_dayz")
        with pytest.raises(StageConfigError, match=rf"line {line}: unknown setting \[settings\] lookback_dayz"):
            load_stage_config(rules_copy)
        edit(rules_copy, "lookback_dayz = 90", "lookback_days = 90")
        rules_copy.write_text(rules_copy.read_text() + "\n[funnels]\nsteps = 3\n")
        line = line_of(rules_copy, "[funnels]")
        with pytest.raises(StageConfigError, match=rf"line {line}: unknown table or key 'funnels'"):
            load_stage_config(rules_copy)

    def test_unknown_signal_in_a_rule(self, rules_copy: Path) -> None:
        """A rule that counts a signal the file does not define names the line."""
        edit(rules_copy, 'signal = "advocacy"', 'signal = "advocate"')
        line = line_of(rules_copy, 'signal = "advocate"')
        with pytest.raises(StageConfigError, match=rf"line {line}: unknown signal 'advocate'"):
            load_stage_config(rules_copy)

    def test_an_order_stage_needs_an_order(self, rules_copy: Path) -> None:
        """A rule giving purchase without min_orders is refused: an order is an order."""
        edit(rules_copy, "min_orders = 1\nmax_orders = 1", "max_orders = 1")
        line = line_of(rules_copy, 'stage = "purchase"')
        with pytest.raises(StageConfigError, match=rf"line {line}: rule purchase.one_order gives purchase"):
            load_stage_config(rules_copy)

    def test_bad_rating_and_duplicate_id(self, rules_copy: Path) -> None:
        """A rating outside 1 to 5 and a rule id used twice name their lines."""
        edit(rules_copy, "min_rating = 4", "min_rating = 6")
        line = line_of(rules_copy, "min_rating = 6")
        with pytest.raises(StageConfigError, match=rf"line {line}: min_rating of web:write_review"):
            load_stage_config(rules_copy)
        edit(rules_copy, "min_rating = 6", "min_rating = 4")
        edit(rules_copy, 'id = "purchase.one_order"', 'id = "retention.repeat_orders"')
        line = line_of(rules_copy, 'id = "retention.repeat_orders"', occurrence=1)
        with pytest.raises(StageConfigError, match=rf"line {line}: rule id retention.repeat_orders is used twice"):
            load_stage_config(rules_copy)

    def test_invalid_toml(self, rules_copy: Path) -> None:
        """A syntax error reports tomllib's own line."""
        rules_copy.write_text(rules_copy.read_text().replace('id = "purchase.one_order"', 'id = purchase'))
        with pytest.raises(StageConfigError, match=r"not valid TOML: .*line \d+"):
            load_stage_config(rules_copy)
