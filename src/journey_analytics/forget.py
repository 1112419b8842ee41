"""Erasing one customer: ``journey forget --customer ID --warehouse PATH``.

An erasure works like a run: it takes the warehouse lock, works on a private build copy and
publishes atomically, so a reader sees the warehouse before or after the erasure, never half
of it, and a failed erasure leaves the warehouse as it was. On the copy it

1. finds every identifier of the customer in ``identity_map`` (user ids, devices, e-mail and
   handle hashes); given an e-mail address, also those of the customers that its earlier
   spellings are (rows loaded before its internationalised domain was given one form keep the
   hash of its A-label spelling, ``xn--``);
2. deletes every row, in every table of the warehouse, that holds one of them in a column
   named ``user_id``, ``anonymous_id``, ``email_hash``, ``handle_hash`` or
   ``social_handle_hash``, or that holds one of the customer's ids (current or earlier:
   ``anon:``/``email:``/``social:`` ids included) in ``customer_id``. The rule goes by column
   name, so tables added later are covered too; aggregates (funnels, stage counts, pain
   points) have none of these columns and stay as they are until the next run rebuilds them;
3. deletes the quarantine rows that mention one of its user ids or devices, or that sit on a
   file line whose loaded row was removed;
4. records the identifiers in ``raw.forgotten_identifiers`` as keyed hashes of
   ``<identifier_type>:<identifier>``, so ingest never loads their rows again (see
   :func:`journey_analytics.ingest._stage_withholding_forgotten`);
5. records the erasure in ``main.erasures``, without any identifier;
6. writes the result into a fresh database file (``COPY FROM DATABASE``) before publishing,
   so the deleted rows do not linger in the file's free blocks.

A row removed because it carries the forgotten customer's user id, e-mail or handle goes
whole, even when it also names someone else. A row that carries only one of the customer's
devices goes too, unless it names someone else (another person's user id or e-mail; in a
table with neither column, such as sessions, another customer): on a shared device (a family computer, a shop's kiosk) the other people's own rows
stay, and so do their later ones. Ingest withholds rows by the same rule, so the warehouse and
later runs agree. A guest checkout's visit that the warehouse gave the customer on someone else's
device (its rows name no one) goes from the raw tables too, found by the events mart's customer;
should its file be delivered again, its rows load as the device's, with no one's identifiers. So
does a brand reply to the customer landed with the brand's own handle (a delivered-again reply
loads as the brand's).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from journey_analytics import __version__
from journey_analytics.config import Settings
from journey_analytics.privacy import (
    ID_EDGE,
    HashKey,
    check_key_fingerprint,
    install_hash_macro,
    key_file_for,
    resolve_key,
)
from journey_analytics.warehouse import (
    check_published,
    connect,
    discard_build,
    files_no_wider_than,
    has_tables,
    publish_fresh_copy,
    run_script,
    start_build,
    warehouse_lock,
)

# Columns that hold an identifier, by the identity_map identifier_type they hold.
IDENTIFIER_COLUMNS: dict[str, str] = {
    "user_id": "user_id",
    "anonymous_id": "anonymous_id",
    "email_hash": "email",
    "handle_hash": "social_handle",
    "social_handle_hash": "social_handle",
}
# Tables the column rule must not touch: the suppression list, the audit, and quarantine
# (handled on its own, by the text of its rows).
_SPECIAL_TABLES = frozenset({"raw.forgotten_identifiers", "main.erasures", "main.quarantine"})


class ForgetError(RuntimeError):
    """An erasure that cannot be done as asked (unknown customer, no warehouse, no key)."""


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure did (as recorded in ``main.erasures``)."""

    erasure_id: str
    erased_at: datetime
    rows_removed: dict[str, int]
    identifiers_suppressed: int

    @property
    def total_rows_removed(self) -> int:
        """Rows removed over all tables."""
        return sum(self.rows_removed.values())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "erasure_id": self.erasure_id,
            "erased_at": self.erased_at.isoformat(),
            "rows_removed": dict(self.rows_removed),
            "identifiers_suppressed": self.identifiers_suppressed,
        }


def forget_customer(customer: str, warehouse: Path, settings: Settings) -> ErasureResult:
    """Remove one customer (a customer_id, one of its user ids, or its e-mail address) from the warehouse and from later runs.

    Raises :class:`ForgetError` for an unknown customer or a missing warehouse or key, and
    :class:`journey_analytics.privacy.KeyMismatchError` for a key that is not the warehouse's
    own, and :class:`journey_analytics.config.ConfigError` for an empty JOURNEY_HASH_KEY; in every failure the published warehouse is untouched.
    """
    customer, warehouse, key = named_customer(customer, warehouse, settings)
    erasure_id = uuid.uuid4().hex
    # (its build, WAL and fresh copy no more open than the warehouse: they hold the same ids)
    with warehouse_lock(warehouse), files_no_wider_than(warehouse):
        check_published(warehouse)  # (a writer's log folded in, a writer refused; see there)
        work = start_build(warehouse, f"forget-{erasure_id[:12]}")
        con: duckdb.DuckDBPyConnection | None = None
        try:
            from journey_analytics.runs import prepare_schema

            con = connect(work)
            prepare_schema(con)
            check_key_fingerprint(con, key)
            install_lookup_macros(con, key)
            result = _erase(con, customer, erasure_id)
            publish_fresh_copy(con, work, warehouse)  # not the blocks the erased rows were in
            con = None
            discard_build(None, work)  # its leftovers (a spill folder)
        except BaseException:
            discard_build(con, work)
            raise
    return result


# The e-mail hashes an address argument had in the spellings it was hashed with before, where
# they are not its hash now (rows loaded then keep them: the raw tables hold no address to hash
# again): as address_key made it before internationalised domains were given one form, and in
# its A-label spelling ('josé@xn--bcher-kva.de'), which was another person then. None for a plain
# ASCII address without an A-label. (Two parameters: the argument twice.)
_EARLIER_SPELLINGS = """
    select identifier from (
        select keyed_hash(address_key_before_idn(a)) as identifier, keyed_hash(address_key(a)) as now
        from (select ? as a) where may_hold_address(a)
        union all
        select keyed_hash(idn_a_label_address(address_key(a))), keyed_hash(address_key(a))
        from (select ? as a) where may_hold_address(a)
    ) where identifier <> now
"""


def _erase(con: duckdb.DuckDBPyConnection, customer: str, erasure_id: str) -> ErasureResult:
    """Do steps 1 to 5 of the module docstring on an open build connection. An e-mail address
    erases, with its customer, the customers its earlier spellings were (the same mailbox, its
    rows loaded before its domain was given one form)."""
    customer_id = find_customer_id(con, customer)
    customer_ids = [customer_id] + [
        row[0]
        for row in con.execute(
            f"""
            select distinct customer_id from main.identity_map
            where identifier_type = 'email' and customer_id <> ? and identifier in ({_EARLIER_SPELLINGS})
            order by 1
            """,
            [customer_id, customer, customer],
        ).fetchall()
    ]
    con.execute(
        """
        create or replace temp table forget_ids as
        select distinct identifier_type, identifier from main.identity_map where list_contains(?, customer_id)
        """,
        [customer_ids],
    ).fetchall()
    # Every customer_id the person may have had on some run date: stage_history keeps old days.
    con.execute(
        """
        create or replace temp table forget_keys as
        select unnest(?) as customer_id
        union
        select identifier_customer_id(identifier_type, identifier)
        from forget_ids
        """,
        [customer_ids],
    ).fetchall()
    con.execute("create or replace temp table forget_lines (source_file varchar, line_no bigint)").fetchall()

    tables = _tables_with_columns(con)
    predicates = {name: _predicate(columns) for name, columns in tables.items() if name not in _SPECIAL_TABLES}
    predicates = {name: p for name, p in predicates.items() if p}
    if "main.events" in tables and "raw.web_events" in predicates:
        # A guest checkout's visit that the warehouse gave the customer on someone else's device
        # (a family computer) names no one on its rows: they are found by the events mart's
        # customer, or the next run would give them back to the device's person.
        con.execute(
            """
            create or replace temp table forget_guest_visits as
            select event_id from main.events
            where channel = 'web' and user_id is null and email_hash is null
              and customer_id in (select customer_id from forget_keys)
            """
        ).fetchall()
        predicates["raw.web_events"] += " or coalesce(event_id in (select event_id from forget_guest_visits), false)"
    if "main.events" in tables and "raw.social_events" in predicates:
        # So are the brand's replies to the customer that were landed with the brand's own handle
        # (the warehouse gives a reply to the thread's asker): they answer, and may name, the person.
        con.execute(
            """
            create or replace temp table forget_replies as
            select event_id from main.events
            where channel = 'social' and event_name = 'brand_reply'
              and customer_id in (select customer_id from forget_keys)
            """
        ).fetchall()
        predicates["raw.social_events"] += " or coalesce(event_id in (select event_id from forget_replies), false)"
    for name, predicate in predicates.items():
        if {"source_file", "line_no"} <= set(tables[name]):
            con.execute(
                f"insert into forget_lines select source_file, line_no from {name} where {predicate}"
            ).fetchall()
    removed: dict[str, int] = {}
    for name, predicate in sorted(predicates.items()):
        removed[name] = int(con.execute(f"delete from {name} where {predicate}").fetchall()[0][0])
    removed["main.quarantine"] = _erase_quarantine(con)

    erased_at = datetime.now(UTC).replace(tzinfo=None)
    (suppressed,) = con.execute("select count(*) from forget_ids").fetchall()[0]
    con.execute(
        """
        insert into raw.forgotten_identifiers
        select distinct f.identifier_type, keyed_hash(f.identifier_type || ':' || f.identifier), ?, ?
        from forget_ids f
        where not exists (
            select 1 from raw.forgotten_identifiers o
            where o.identifier_hash = keyed_hash(f.identifier_type || ':' || f.identifier)
        )
        """,
        [erasure_id, erased_at],
    ).fetchall()
    con.execute(
        "insert into main.erasures values (?, ?, ?, ?, ?)",
        [erasure_id, erased_at, json.dumps(removed, sort_keys=True), int(suppressed), __version__],
    ).fetchall()
    for temp in ("forget_ids", "forget_keys", "forget_lines", "forget_guest_visits", "forget_replies"):
        con.execute(f"drop table if exists {temp}").fetchall()
    return ErasureResult(erasure_id, erased_at, removed, int(suppressed))


def named_customer(customer: str, warehouse: Path, settings: Settings) -> tuple[str, Path, HashKey]:
    """The customer argument trimmed, the warehouse, and the key its addresses were hashed with;
    ForgetError for an empty argument, a missing warehouse or no key."""
    warehouse = Path(warehouse)
    customer = customer.strip()
    if not customer:
        raise ForgetError("--customer is empty")
    if not warehouse.is_file():
        raise ForgetError(f"warehouse not found: {warehouse}")
    return customer, warehouse, warehouse_key(warehouse, settings)


def warehouse_key(warehouse: Path, settings: Settings) -> HashKey:
    """The key the warehouse's addresses were hashed with: the configured one, else the key file
    beside it; never a new one (that would find no one)."""
    configured = settings.hash_key_from_environment()
    if not configured and not key_file_for(warehouse).exists():
        raise ForgetError(
            f"no hashing key: set JOURNEY_HASH_KEY or [privacy] hash_key to the key {warehouse} "
            f"was built with, or restore {key_file_for(warehouse)}"
        )
    key, _ = resolve_key(configured, warehouse)
    return key


def install_lookup_macros(con: duckdb.DuckDBPyConnection, key: HashKey) -> None:
    """The temporary macros that give an identifier the form ingest keeps it in (the keyed hash of
    an address, a user id that is an address pseudonymized): erasures and look-ups find by them."""
    install_hash_macro(con, key)
    run_script(con, "macros", "identity_macros")
    run_script(con, "macros", "landing_macros")


def find_customer_id(con: duckdb.DuckDBPyConnection, customer: str, erasing: bool = True) -> str:
    """The customer_id the argument names: a customer_id, else the customer of that user id (a
    user id that is an e-mail address is looked up as ingest keeps it, pseudonymized), else the
    customer of that e-mail address (hashed as ingest hashes it: erasure requests come by e-mail),
    else the customer of one of its earlier spellings (see _EARLIER_SPELLINGS). An unknown one is
    refused, saying that nothing was changed when ``erasing`` (journey find changes nothing)."""
    rows = []
    # (an address written with a full-width or small at-sign is read with a plain @, as ingest reads it)
    ((kept,),) = con.execute("select pseudonymous_id(plain_at_signs(?), 'user')", [customer]).fetchall()
    if has_tables(con, "identity_map"):
        rows = con.execute(
            f"""
            select customer_id, 0 as preference from main.identity_map where customer_id in (?, ?)
            union
            select customer_id, 1 from main.identity_map where identifier_type = 'user_id' and identifier in (?, ?)
            union
            select customer_id, 2 from main.identity_map
            where identifier_type = 'email' and identifier = keyed_hash(address_key(?))
            union
            select customer_id, 3 from main.identity_map
            where identifier_type = 'email' and identifier in ({_EARLIER_SPELLINGS})
            order by preference, customer_id
            limit 1
            """,
            [kept, customer, kept, customer, customer, customer, customer],
        ).fetchall()
    if not rows:
        raise ForgetError(
            f"no customer {customer!r} in the warehouse (not a customer_id, user_id or e-mail address of "
            "identity_map; never seen, or already forgotten)" + ("; nothing was changed" if erasing else "")
        )
    return str(rows[0][0])


def _tables_with_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every base table of the warehouse (not temporary), as ``schema.table``, with its columns."""
    tables: dict[str, list[str]] = {}
    for schema, table, column in con.execute(
        """
        select c.schema_name, c.table_name, c.column_name
        from duckdb_columns() c
        inner join duckdb_tables() t
            on t.database_name = c.database_name and t.schema_name = c.schema_name and t.table_name = c.table_name
        where c.database_name = current_database() and not t.temporary
        order by c.schema_name, c.table_name, c.column_index
        """
    ).fetchall():
        tables.setdefault(f"{schema}.{table}", []).append(column)
    return tables


def _predicate(columns: list[str]) -> str:
    """The SQL condition matching a row that holds one of the customer's identifiers or ids.

    A row holding one of the customer's devices but naming someone else (another person's user
    id or e-mail, or another customer) is that person's, on a shared device (a family computer,
    a shop's kiosk): it stays."""
    parts = []
    for column, id_type in IDENTIFIER_COLUMNS.items():
        if column not in columns:
            continue
        match = f"{column} in (select identifier from forget_ids where identifier_type = '{id_type}')"
        if column == "anonymous_id":
            match = f"({match} and not {_names_someone_else(columns)})"
        parts.append(match)
    if "customer_id" in columns:
        parts.append("customer_id in (select customer_id from forget_keys)")
    if {"identifier_type", "identifier"} <= set(columns):
        parts.append(
            "identifier_type || ':' || identifier in (select identifier_type || ':' || identifier from forget_ids)"
        )
    return " or ".join(f"coalesce({p}, false)" for p in parts)


def _names_someone_else(columns: list[str]) -> str:
    """SQL true when a row names a person other than the one forgotten."""
    # (is not null first: null not in an empty list is true)
    others = []
    if "user_id" in columns:
        others.append("user_id is not null and user_id not in (select identifier from forget_ids where identifier_type = 'user_id')")
    if "email_hash" in columns:
        others.append("email_hash is not null and email_hash not in (select identifier from forget_ids where identifier_type = 'email')")
    if "customer_id" in columns and not {"user_id", "email_hash"} & set(columns):
        # only where the row has no identifiers of its own (sessions): a row's customer can be
        # someone else through a link that raw rows and ingest cannot see (a guest checkout's
        # order_id), and raw.web_events and ingest judge by user id and e-mail alone
        others.append("customer_id is not null and customer_id not in (select customer_id from forget_keys)")
    return "(" + " or ".join(f"coalesce({o}, false)" for o in others) + ")" if others else "false"


def _erase_quarantine(con: duckdb.DuckDBPyConnection) -> int:
    """Delete quarantined rows that mention a user id or device of the customer, or sit on a removed row's line."""
    ids = [
        row[0]
        for row in con.execute(
            "select identifier from forget_ids where identifier_type in ('user_id', 'anonymous_id') order by 1"
        ).fetchall()
    ]
    mentions = "false"
    params: list[Any] = []
    if ids:
        variants = sorted({v for i in ids for v in (i, json.dumps(i)[1:-1])})
        pattern = f"(?:^|{ID_EDGE})(?:{'|'.join(_re2_literal(v) for v in variants)})(?:$|{ID_EDGE})"
        mentions = "coalesce(regexp_matches(q.raw, ?), false)"
        params.append(pattern)
    return int(
        con.execute(
            f"""
            delete from main.quarantine q
            where {mentions}
               or exists (
                   select 1 from forget_lines l
                   where l.source_file = q.source_file and l.line_no = q.line_no
               )
            """,
            params,
        ).fetchall()[0][0]
    )


def _re2_literal(text: str) -> str:
    """A regular expression (RE2 syntax) matching exactly ``text``."""
    out = []
    for char in text:
        if char.isascii() and (char.isalnum() or char == "_"):
            out.append(char)
        elif char.isascii() and char.isprintable() and char != " ":
            out.append("\\" + char)
        else:
            out.append(f"\\x{{{ord(char):x}}}")
    return "".join(out)
