"""Known stages from a CRM or a survey, for training the classifier: ``<landing>/labels/*``."""

from journey_analytics.ingest._landing import LandingKind

KIND = LandingKind(
    name="labels",
    staging_model="stg_labels",
    raw_table="raw.labels",
    dated=False,
    has_event_id=False,
    output_columns=("user_id", "stage", "as_of_date", "source_file", "line_no"),
)
