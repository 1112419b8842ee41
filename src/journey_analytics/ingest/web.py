"""Web clickstream events (GA4-style names): ``<landing>/web/dt=YYYY-MM-DD/*``."""

from journey_analytics.ingest._landing import LandingKind

KIND = LandingKind(
    name="web",
    staging_model="stg_web_events",
    raw_table="raw.web_events",
    dated=True,
    has_event_id=True,
    output_columns=(
        "event_id", "event_ts", "event_name", "anonymous_id", "user_id", "session_id",
        "email_hash", "page_url", "page_title", "referrer", "utm_source", "utm_medium",
        "utm_campaign", "device_category", "country", "order_id", "value", "currency",
        "rating", "properties", "source_file", "line_no", "arrived_on",
    ),
)
