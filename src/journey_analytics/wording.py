"""Wording shared by the dashboard, the reports and the command line's messages."""

from __future__ import annotations


def plural(n: int | float, noun: str, nouns: str | None = None) -> str:
    """A count and its noun, singular for one: '1 customer', '2,000 customers', '1 other currency'
    (``nouns``: the plural when it is not the noun and an s). A count is shown with thousands
    separators; the noun is the last word's (`plural(1, "labelled customer")`)."""
    shown = f"{n:,}" if isinstance(n, int) else f"{n:,g}"
    return f"{shown} {noun if n == 1 else nouns or noun + 's'}"
