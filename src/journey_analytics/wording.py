"""Wording shared by the dashboard, the reports and the command line's messages."""

from __future__ import annotations

import re


def plural(n: int | float, noun: str, nouns: str | None = None) -> str:
    """A count and its noun, singular for one: '1 customer', '2,000 customers', '1 other currency'
    (``nouns``: the plural when it is not the noun and an s). A count is shown with thousands
    separators; the noun is the last word's (`plural(1, "labelled customer")`)."""
    shown = f"{n:,}" if isinstance(n, int) else f"{n:,g}"
    return f"{shown} {noun if n == 1 else nouns or noun + 's'}"


_DIGITS = re.compile(r"([0-9]+)")


def natural_key(value: object) -> tuple[tuple[int, int, str], ...]:
    """A sort key that orders names as a reader does: the numbers in them by their value
    ('campaign_2' before 'campaign_10', '9' before '10'), the rest without regard to case; no
    value (None) last."""
    if value is None:
        return ((2, 0, ""),)
    return tuple(
        (1, int(part), part) if i % 2 else (0, 0, part.casefold())
        for i, part in enumerate(_DIGITS.split(str(value)))
    )
