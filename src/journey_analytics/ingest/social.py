"""Social media events: ``<landing>/social/dt=YYYY-MM-DD/*``."""

from journey_analytics.ingest._landing import LandingKind

KIND = LandingKind(
    name="social",
    staging_model="stg_social_events",
    raw_table="raw.social_events",
    dated=True,
    has_event_id=True,
    output_columns=(
        "event_id", "event_ts", "event_name", "platform", "handle_hash", "user_id", "post_id",
        "thread_id", "sentiment", "rating", "text", "properties", "source_file", "line_no",
        "arrived_on",
    ),
)
