"""E-mail service provider events: ``<landing>/email/dt=YYYY-MM-DD/*``."""

from journey_analytics.ingest._landing import LandingKind

KIND = LandingKind(
    name="email",
    staging_model="stg_email_events",
    raw_table="raw.email_events",
    dated=True,
    has_event_id=True,
    output_columns=(
        "event_id", "event_ts", "event_name", "email_hash", "user_id", "campaign_id",
        "message_id", "url", "reason", "properties", "source_file", "line_no", "arrived_on",
    ),
)
