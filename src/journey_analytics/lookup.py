"""Finding one customer: ``journey find --customer ID --warehouse PATH``.

Analysts and support staff are asked about a person by their e-mail address (a support ticket,
a request to see one's data), but the warehouse holds only keyed hashes of addresses. The look-up
hashes the address as ingest does, with the warehouse's key, and names the customer it belongs
to, with what the warehouse holds of them and the query for their journey. It opens the
published warehouse read-only and writes nothing, so it is safe while a run builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from journey_analytics.config import Settings
from journey_analytics.forget import find_customer_id, install_lookup_macros, named_customer
from journey_analytics.privacy import verify_key_fingerprint
from journey_analytics.warehouse import connect, has_tables


@dataclass(frozen=True)
class CustomerFound:
    """One customer as the warehouse holds them."""

    customer_id: str
    identifiers: dict[str, int]
    events: dict[str, int]
    first_event_at: datetime | None
    last_event_at: datetime | None
    stage: str | None
    stage_as_of: str | None

    def journey_sql(self) -> str:
        """The query of the customer's journey, every event in time order."""
        quoted = self.customer_id.replace("'", "''")
        return f"select * from events where customer_id = '{quoted}' order by event_ts"

    def lines(self) -> list[str]:
        identifiers = ", ".join(f"{n} {kind}" for kind, n in self.identifiers.items()) or "none"
        events = ", ".join(f"{n:,} {channel}" for channel, n in self.events.items()) or "none"
        when = ""
        if self.first_event_at is not None and self.last_event_at is not None:
            when = f" (first {self.first_event_at:%Y-%m-%d %H:%M}, last {self.last_event_at:%Y-%m-%d %H:%M} UTC)"
        lines = [
            f"customer_id: {self.customer_id}",
            f"  identifiers: {identifiers}",
            f"  events: {events}{when}",
        ]
        if self.stage is not None:
            lines.append(f"  stage: {self.stage} as of {self.stage_as_of}")
        lines.append(f"  their journey: {self.journey_sql()}")
        return lines


def find_customer(customer: str, warehouse: Path, settings: Settings) -> CustomerFound:
    """The customer a customer_id, one of their user ids or their e-mail address names.

    Raises :class:`journey_analytics.forget.ForgetError` for an unknown customer, a missing
    warehouse or key, and :class:`journey_analytics.privacy.KeyMismatchError` for a key that is
    not the warehouse's own.
    """
    customer, warehouse, key = named_customer(customer, warehouse, settings)
    con = connect(warehouse, read_only=True)
    try:
        verify_key_fingerprint(con, key)
        install_lookup_macros(con, key)
        customer_id = find_customer_id(con, customer, erasing=False)
        identifiers = dict(con.execute(
            "select identifier_type, count(*) from main.identity_map where customer_id = ? group by 1 order by 1",
            [customer_id],
        ).fetchall())
        events: dict[str, int] = {}
        first = last = None
        if has_tables(con, "events"):
            rows = con.execute(
                "select channel, count(*), min(event_ts), max(event_ts) from main.events "
                "where customer_id = ? group by 1 order by 1",
                [customer_id],
            ).fetchall()
            events = {channel: n for channel, n, _, _ in rows}
            first = min((r[2] for r in rows), default=None)
            last = max((r[3] for r in rows), default=None)
        stage = as_of = None
        if has_tables(con, "customer_stages"):
            found = con.execute(
                "select stage, cast(as_of_date as varchar) from main.customer_stages where customer_id = ?",
                [customer_id],
            ).fetchall()
            if found:
                stage, as_of = found[0]
    finally:
        con.close()
    return CustomerFound(customer_id, identifiers, events, first, last, stage, as_of)
