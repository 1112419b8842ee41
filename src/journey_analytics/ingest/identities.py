"""CRM identity exports linking user ids to e-mails and handles: ``<landing>/identities/*``."""

from journey_analytics.ingest._landing import LandingKind

KIND = LandingKind(
    name="identities",
    staging_model="stg_identities",
    raw_table="raw.identities",
    dated=False,
    has_event_id=False,
    output_columns=("user_id", "email_hash", "platform", "handle_hash", "source_file", "line_no"),
)
