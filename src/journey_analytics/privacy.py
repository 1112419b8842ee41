"""Pseudonymization of personal data (e-mail addresses, social handles) with a keyed hash.

The hash is HMAC-SHA256 computed inside DuckDB, so rows never travel through Python.
The key comes from the environment (``JOURNEY_HASH_KEY``) or the config; failing both,
the first run writes a random key beside the warehouse, readable by its owner alone.
The key's fingerprint is stored in the warehouse so that a changed key is refused:
it would split every customer in two.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

_BLOCK = 64  # SHA-256 block size in bytes


class KeyMismatchError(RuntimeError):
    """The hashing key differs from the one the warehouse was built with."""


@dataclass(frozen=True)
class HashKey:
    """A pseudonymization key and where it came from (never the key in messages)."""

    secret: bytes
    origin: str

    @property
    def fingerprint(self) -> str:
        """A public, non-reversible identifier of the key, stored in the warehouse."""
        return hmac.new(self.secret, b"journey-analytics key fingerprint", hashlib.sha256).hexdigest()[:16]


def key_file_for(warehouse: Path) -> Path:
    """The file beside a warehouse that holds its generated key."""
    return warehouse.with_name(warehouse.name + ".key")


def resolve_key(configured: str | None, warehouse: Path) -> tuple[HashKey, str | None]:
    """Return the key to use and, when one was just generated, a message to show once."""
    if configured:
        return HashKey(configured.encode("utf-8"), "environment or config"), None
    key_file = key_file_for(warehouse)
    if key_file.exists():
        return HashKey(key_file.read_text(encoding="ascii").strip().encode("ascii"), str(key_file)), None
    if recorded_key_fingerprint(warehouse) is not None:
        # (a key generated now could only be refused, and would then stand beside the warehouse
        # as if it were its key, named by the refusal as the file to restore)
        raise _no_key_given(warehouse)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    message = (
        f"no hashing key given (JOURNEY_HASH_KEY or [privacy] hash_key); generated one in {key_file} "
        "(owner-only). Keep it: a different key would split every customer in two."
    )
    return HashKey(key_file.read_text(encoding="ascii").strip().encode("ascii"), str(key_file)), message


def keyed_hash(secret: bytes, value: str) -> str:
    """HMAC-SHA256 of a normalized value, as hex: the same function the SQL macro computes."""
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


# Characters around an id in a row's raw text (RE2 class): JSON quotes and CSV/TSV separators.
# `journey forget` finds a customer's quarantined rows by it, and ingest withholds their
# refused rows by it (see journey_analytics.ingest._stage_withholding_forgotten).
ID_EDGE = "[\"',;|\\t]"

def install_hash_macro(con: duckdb.DuckDBPyConnection, key: HashKey) -> None:
    """Define the temporary SQL macro ``keyed_hash(text)`` (HMAC-SHA256, hex) on a connection,
    and the functions that give an address's internationalised domain one form
    (:func:`install_address_functions`), so every connection that hashes addresses has them.

    The macro is temporary, so the key is never written into the warehouse file.
    """
    secret = key.secret
    if len(secret) > _BLOCK:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(_BLOCK, b"\0")
    inner_pad = bytes(b ^ 0x36 for b in secret).hex()
    outer_pad = bytes(b ^ 0x5C for b in secret).hex()
    con.execute(
        f"""
        create or replace temp macro keyed_hash(x) as
            case when x is null then null else
                sha256(unhex('{outer_pad}') || unhex(sha256(unhex('{inner_pad}') || encode(x))))
            end
        """
    ).fetchall()
    install_address_functions(con)


# The dots that IDNA (RFC 3490, UTS #46) reads as a label separator besides the full stop:
# ideographic, full-width and half-width ideographic full stops.
_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


@functools.lru_cache(maxsize=4096)  # a run's addresses share few domains
def _u_label(label: str) -> str | None:
    """A domain label in the form its address is hashed with: an A-label ('xn--bcher-kva')
    decoded, text in lower case and composed (NFKC, then NFC: full-width letters are the ASCII ones); an ASCII
    label as it is. None for a label that is not one (a malformed A-label such as 'xn--zz!' or
    one longer than a label can be, or one whose text is not letters, digits, combining marks
    and hyphens)."""
    if label.isascii() and not label.startswith("xn--"):
        return label
    if label.isascii():
        tail = label[4:]
        # a label is at most 63 characters (RFC 1035); decoding a longer one could take long
        if not tail or len(label) > 63 or not all(c.isalnum() or c == "-" for c in tail):
            return None
        try:
            text = tail.encode("ascii").decode("punycode")
            if text.isascii() or text.encode("punycode").decode("ascii") != tail:
                return None  # an A-label of plain ASCII text, or one that does not round-trip
        except (UnicodeError, ValueError, OverflowError):
            return None
    elif len(label) > 63:
        # not a label (its A-label would be longer still): a long text with an @ in an e-mail
        # field, whose A-label (_a_label) would take time growing with the square of its length
        return None
    else:
        text = label
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).lower())
    if not text or not all(c.isalnum() or c == "-" or unicodedata.category(c).startswith("M") for c in text):
        return None
    return text


def _domain_labels(address: str) -> tuple[str, list[str]] | None:
    """The local part of an address and the labels of its domain (lower case, split also at
    the ideographic full stops IDNA reads as dots), or None when it has no '@'."""
    if "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    return local, domain.translate(_IDNA_DOTS).lower().split(".")


def _with_domain_labels(address: str | None, form: Callable[[str], str | None]) -> str | None:
    """The address with each label of its domain in ``form``; as given when it has no '@' or
    a label has no such form (``form`` gives None: not a valid IDNA label)."""
    parts = None if address is None else _domain_labels(address)
    if parts is None:
        return address
    local, labels = parts
    formed = [form(label) for label in labels]
    if any(label is None for label in formed):
        return address
    return local + "@" + ".".join(formed)  # type: ignore[arg-type]


def canonical_address_domain(address: str | None) -> str | None:
    """An address (as address_key has cleaned it: trimmed, lower case, NFC) with its domain in
    one form, the Unicode one (U-labels, RFC 5890): 'josé@xn--bcher-kva.de', as ESPs and SMTP
    logs export it, and 'josé@BÜCHER.DE' are both 'josé@bücher.de'. The local part is kept as
    it is. A domain with a label that is not a valid IDNA label is kept as given (a malformed
    A-label must not stop a run: the address is still one person's, hashed as written).

    The Unicode form, not the ASCII one (the A-label), because addresses typed into web forms
    and CRMs, hashed so before domains were given one form, keep their hash (and so their
    customer and any erasure recorded for them), and because decoding an A-label is mechanical
    whereas encoding a U-label depends on the IDNA version (IDNA 2003 maps 'ß' to 'ss', so
    'fußball.de' would become 'fussball.de', another registered domain)."""
    return _with_domain_labels(address, _u_label)


def address_with_a_labels(address: str | None) -> str | None:
    """An address (as address_key made it) as an ESP or SMTP log exports it: each
    internationalised label of its domain as its A-label ('josé@bücher.de' is
    'josé@xn--bcher-kva.de'), an A-label as given. Before domains were given one form, an address
    erased in that spelling was recorded so (the staging models hash it, and `journey forget`
    looks it up, for such earlier erasures). A domain that is not valid IDNA is kept as given."""
    return _with_domain_labels(address, _a_label)


@functools.lru_cache(maxsize=4096)
def _a_label(label: str) -> str | None:
    """A domain label as its A-label: an ASCII label or an A-label as given, a Unicode one encoded
    ('bücher' is 'xn--bcher-kva'); None for a label that is not one (see _u_label)."""
    u_label = _u_label(label)
    if u_label is None or u_label.isascii():
        return u_label
    if label.isascii():
        return label
    return "xn--" + u_label.encode("punycode").decode("ascii")


# The SQL functions (name, Python function) that give an address's internationalised domain one
# form; the macros address_key and address_a_label_hash in sql/macros/landing_macros.sql call them.
ADDRESS_FUNCTIONS = (("idn_address", canonical_address_domain), ("idn_a_label_address", address_with_a_labels))


def install_address_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register :data:`ADDRESS_FUNCTIONS` on a connection (install_hash_macro does: every
    connection that hashes addresses has them). The macros call them only for the rare address
    that is not plain ASCII or holds 'xn--'; the others stay in SQL."""
    for name, function in ADDRESS_FUNCTIONS:
        try:
            con.remove_function(name)
        except duckdb.Error:
            pass  # not registered yet
        con.create_function(name, function, ["VARCHAR"], "VARCHAR", side_effects=False)


def _no_key_given(warehouse: Path) -> KeyMismatchError:
    return KeyMismatchError(
        f"no hashing key given (JOURNEY_HASH_KEY or [privacy] hash_key) and no {key_file_for(warehouse).name} "
        "beside the warehouse, which was built with one: give the key it was built with (a new one "
        "would split every customer in two)"
    )


def recorded_key_fingerprint(warehouse: Path) -> str | None:
    """The fingerprint of the key a published warehouse was built with, or None (no warehouse,
    one from before fingerprints were kept, or one that cannot be opened now)."""
    if not warehouse.is_file() or warehouse.stat().st_size == 0:
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = con.execute(
            "select value from raw.warehouse_settings where setting = 'hash_key_fingerprint'"
        ).fetchall()
    except duckdb.Error:
        rows = []
    finally:
        con.close()
    return rows[0][0] if rows else None


def check_key_before_run(configured: str | None, warehouse: Path) -> None:
    """Refuse a key that is not the warehouse's before a run starts (reading only; nothing is
    generated or written). Says nothing when it cannot tell: no warehouse yet, one that recorded
    no key, or the file busy; the run checks again (check_key_fingerprint). No key given and
    none beside a warehouse built with one is refused (see resolve_key)."""
    if not warehouse.is_file():
        return
    if not (configured or key_file_for(warehouse).exists()):
        if recorded_key_fingerprint(warehouse) is not None:
            raise _no_key_given(warehouse)
        return
    key, _ = resolve_key(configured, warehouse)
    recorded = recorded_key_fingerprint(warehouse)
    if recorded is not None and recorded != key.fingerprint:
        raise KeyMismatchError(_mismatch_message(key))


def _mismatch_message(key: HashKey) -> str:
    return (
        f"the hashing key ({key.origin}) is not the one this warehouse was built with; "
        "using it would split every customer in two. Restore the original key "
        "(JOURNEY_HASH_KEY, [privacy] hash_key or the .key file beside the warehouse)."
    )


def verify_key_fingerprint(con: duckdb.DuckDBPyConnection, key: HashKey) -> None:
    """Refuse a key other than the one the warehouse recorded, writing nothing (a read-only look-up)."""
    if not con.execute(
        "select 1 from duckdb_tables() where schema_name = 'raw' and table_name = 'warehouse_settings'"
    ).fetchall():
        return
    rows = con.execute(
        "select value from raw.warehouse_settings where setting = 'hash_key_fingerprint'"
    ).fetchall()
    if rows and rows[0][0] != key.fingerprint:
        raise KeyMismatchError(_mismatch_message(key))


def check_key_fingerprint(con: duckdb.DuckDBPyConnection, key: HashKey) -> None:
    """Record the key's fingerprint on first use; refuse a warehouse built with another key."""
    con.execute(
        """
        create table if not exists raw.warehouse_settings (
            setting varchar primary key,
            value varchar
        )
        """
    ).fetchall()
    con.execute(
        "comment on table raw.warehouse_settings is 'Settings fixed when the warehouse was first built (for example the fingerprint of the pseudonymization key).'"
    ).fetchall()
    con.execute("comment on column raw.warehouse_settings.setting is 'Name of the setting.'").fetchall()
    con.execute("comment on column raw.warehouse_settings.value is 'Its value; never a secret.'").fetchall()
    rows = con.execute(
        "select value from raw.warehouse_settings where setting = 'hash_key_fingerprint'"
    ).fetchall()
    if not rows:
        con.execute(
            "insert into raw.warehouse_settings values ('hash_key_fingerprint', ?)", [key.fingerprint]
        ).fetchall()
    elif rows[0][0] != key.fingerprint:
        raise KeyMismatchError(_mismatch_message(key))


# Columns that can hold an e-mail address from a warehouse built before ids were pseudonymized
# (the macro pseudonymous_id in sql/macros/landing_macros.sql), with the SQL that brings a value
# in line: the raw tables, and the tables a run keeps from one day to the next (the others are
# rebuilt from the raw tables). A findings' sentence names a campaign id: its address is masked.
# A full-width or small at-sign is an @ (plain_at_signs), as the staging models now read it: a
# warehouse built before kept such an id as given, its address and another customer.
ADDRESS_ID_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("raw.web_events", "event_id", "pseudonymous_id(plain_at_signs(event_id), 'event')"),
    ("raw.web_events", "anonymous_id", "pseudonymous_id(plain_at_signs(anonymous_id), 'device')"),
    ("raw.web_events", "user_id", "pseudonymous_id(plain_at_signs(user_id), 'user')"),
    ("raw.web_events", "session_id", "pseudonymous_id(plain_at_signs(session_id), 'session')"),
    ("raw.web_events", "order_id", "pseudonymous_id(plain_at_signs(order_id), 'order')"),
    ("raw.email_events", "event_id", "pseudonymous_id(plain_at_signs(event_id), 'event')"),
    ("raw.email_events", "user_id", "pseudonymous_id(plain_at_signs(user_id), 'user')"),
    ("raw.email_events", "campaign_id", "pseudonymous_id(plain_at_signs(campaign_id), 'campaign')"),
    ("raw.email_events", "message_id", "pseudonymous_id(plain_at_signs(message_id), 'message')"),
    ("raw.social_events", "event_id", "pseudonymous_id(plain_at_signs(event_id), 'event')"),
    ("raw.social_events", "user_id", "pseudonymous_id(plain_at_signs(user_id), 'user')"),
    ("raw.social_events", "post_id", "pseudonymous_id(plain_at_signs(post_id), 'post')"),
    ("raw.social_events", "thread_id", "pseudonymous_id(plain_at_signs(thread_id), 'thread')"),
    ("raw.identities", "user_id", "pseudonymous_id(plain_at_signs(user_id), 'user')"),
    ("raw.labels", "user_id", "pseudonymous_id(plain_at_signs(user_id), 'user')"),
    ("main.customers", "customer_id", "pseudonymous_customer_id(plain_at_signs(customer_id))"),
    ("main.customer_stages", "customer_id", "pseudonymous_customer_id(plain_at_signs(customer_id))"),
    ("main.stage_history", "customer_id", "pseudonymous_customer_id(plain_at_signs(customer_id))"),
    ("main.funnel_steps", "segment_value", "pseudonymous_id(plain_at_signs(segment_value), 'campaign')"),
    ("main.pain_points", "segment_value", "pseudonymous_id(plain_at_signs(segment_value), 'campaign')"),
    ("main.pain_points", "description", "mask_emails(plain_at_signs(description))"),
)


# The warehouse setting that records which columns pseudonymize_address_ids brought in line
# (a digest of ADDRESS_ID_COLUMNS): a warehouse in line is not scanned again on every run.
ADDRESS_IDS_SETTING = "address_ids_in_line"


def pseudonymize_address_ids(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the values of :data:`ADDRESS_ID_COLUMNS` that still hold an e-mail address in line
    (a warehouse built before ids were pseudonymized); returns how many changed. Once done, the
    warehouse records it (``raw.warehouse_settings``), and later runs skip the scans (one per
    column, 17 statements a run) until the list of columns changes. Needs the landing macros
    (and so the keyed hash) and ``raw.warehouse_settings`` on the connection."""
    done = hashlib.sha256(repr(ADDRESS_ID_COLUMNS).encode()).hexdigest()[:16]
    if con.execute(
        "select value from raw.warehouse_settings where setting = ?", [ADDRESS_IDS_SETTING]
    ).fetchall() == [(done,)]:
        return 0
    existing = {
        (f"{schema}.{table}", column)
        for schema, table, column in con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() where database_name = current_database()"
        ).fetchall()
    }
    changed = 0
    for table, column, in_line in ADDRESS_ID_COLUMNS:
        if (table, column) in existing:
            ((n,),) = con.execute(
                f"update {table} set {column} = {in_line} "
                f"where may_hold_address(plain_at_signs({column})) and {in_line} <> {column}"
            ).fetchall()
            changed += int(n)
    con.execute("insert or replace into raw.warehouse_settings values (?, ?)", [ADDRESS_IDS_SETTING, done]).fetchall()
    return changed
