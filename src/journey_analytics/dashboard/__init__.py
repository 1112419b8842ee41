"""The dashboard: one HTML page per run (``reports/<date>/index.html``) and an index of runs.

The page opens from disk with no network: Plotly's JavaScript is written once beside the
pages (``reports/plotly.min.js``). Every string that came from a log is escaped before it
reaches the page, including chart labels. Sections whose tables do not exist yet (a
warehouse built before stages or funnels were added) are left out, not broken.
"""

from journey_analytics.dashboard.page import (
    ReportError,
    promote_dashboard,
    staging_folder,
    write_dashboard,
    write_report,
)

__all__ = ["ReportError", "promote_dashboard", "staging_folder", "write_dashboard", "write_report"]
