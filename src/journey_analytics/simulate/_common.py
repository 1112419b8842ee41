"""Shared constants and vectorised helpers of the clickstream simulator.

Everything here is pure numpy / polars: no Python loop runs over events or
customers. Identifiers are made from sequence numbers through a bijection, so
they are unique by construction and look unordered.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

DAY_MS = 86_400_000
NEVER = np.int32(1 << 29)  # a day index that never comes

STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")
AWARENESS, CONSIDERATION, PURCHASE, RETENTION, ADVOCACY = range(5)
LOOKBACK_DAYS = 90

# population segments
VISITOR, PASSIVE_CONTACT, READER_CONTACT, SOCIAL_ONLY = range(4)
SEGMENT_NAMES = ("visitor", "passive_contact", "reader_contact", "social_only")

# identification kinds
ID_NONE, ID_LOGIN, ID_SIGNUP = range(3)

# hard cases for stage rules
HARD_NONE, HARD_EMAIL_CLICK_ONLY, HARD_THIN_EVIDENCE = range(3)
HARD_NAMES = ("", "email_click_only", "thin_evidence")

# timestamp styles
TS_Z, TS_OFFSET, TS_EPOCH = range(3)

DEVICE_CATEGORIES = ("desktop", "mobile", "tablet")
DESKTOP, MOBILE, TABLET = range(3)
MAX_DEVICES = 3

COUNTRIES = ("DE", "FR", "GB", "US", "NL", "ES", "IT", "SE")
COUNTRY_P = (0.25, 0.14, 0.15, 0.2, 0.08, 0.07, 0.07, 0.04)
COUNTRY_OFFSET_MIN = (120, 120, 60, -240, 120, 120, 120, 120)  # used for "+02:00" style stamps
CURRENCIES = ("EUR", "USD")
COUNTRY_CURRENCY = (0, 0, 0, 1, 0, 0, 0, 0)

PLATFORMS = ("instagram", "facebook", "x", "tiktok", "linkedin", "youtube")
PLATFORM_P = (0.38, 0.22, 0.16, 0.14, 0.06, 0.04)
SLOW_REPLY_PLATFORM = 1  # facebook: planted slow / missing brand replies
NEGATIVE_PLATFORM = 2  # x: planted rise in negative sentiment

FIRST_NAMES = (
    "anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ida", "jonas",
    "karla", "leon", "mia", "noah", "olivia", "paul", "quinn", "rosa", "sam", "tara",
    "uwe", "vera", "will", "xenia", "yusuf", "zoe", "lucas", "nora", "elias", "lena",
    "marco", "sofia", "omar", "julia", "tom", "lisa", "ali", "maria", "finn", "hanna",
)
LAST_NAMES = (
    "schmidt", "martin", "smith", "garcia", "rossi", "jansen", "muller", "dubois",
    "jones", "lopez", "bianchi", "devries", "berg", "weber", "moreau", "brown",
    "fernandez", "ricci", "bakker", "nilsson", "wagner", "laurent", "taylor", "sanchez",
    "romano", "visser", "larsson", "becker", "lefebvre", "wilson",
)

# Bijections (a*x + b) mod m with gcd(a, m) == 1 (asserted below); a*x stays < 2**63.
_A_SMALL = 7_777_777


def scramble(x: np.ndarray, modulus: int, salt: int) -> np.ndarray:
    """Map sequence numbers 0..modulus-1 one-to-one onto 0..modulus-1."""
    a = _A_SMALL % modulus or 1
    while math.gcd(a, modulus) != 1:
        a += 1
    x = np.asarray(x, dtype=np.uint64) % np.uint64(modulus)
    return ((x * np.uint64(a) + np.uint64(salt % modulus)) % np.uint64(modulus)).astype(np.int64)


def padded(numbers: np.ndarray, width: int, prefix: str = "") -> pl.Series:
    """Decimal strings with a prefix, zero padded to width."""
    s = pl.Series(np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return (prefix + s) if prefix else s


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_strings(values: np.ndarray, n_chars: int) -> pl.Series:
    """Lower-case hexadecimal strings of the low n_chars nibbles of uint64 values."""
    v = np.asarray(values, dtype=np.uint64)
    shifts = np.arange(n_chars - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = ((v[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.uint8)
    chars = np.ascontiguousarray(_HEX[nibbles])
    return pl.Series(chars.view(f"S{n_chars}").ravel()).cast(pl.String)


def gap(rng: np.random.Generator, mean: float, size: int, minimum: int = 0) -> np.ndarray:
    """Whole days until the next milestone: geometric, at least `minimum`."""
    p = 1.0 / (max(mean, 0.0) + 1.0)
    return (rng.geometric(p, size) - 1 + minimum).astype(np.int32)


def lut(values: list[str] | tuple[str, ...], codes: np.ndarray | pl.Series) -> pl.Series:
    """Strings for integer codes; a negative code gives null."""
    c = pl.Series(np.asarray(codes)).cast(pl.Int64)
    c = pl.select(pl.when(c >= 0).then(c)).to_series()
    return pl.Series(list(values), dtype=pl.String).gather(c)
