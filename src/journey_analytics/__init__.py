"""journey-analytics: customer journey stages, funnels and pain points from web, e-mail and
social event logs, in a DuckDB warehouse."""

__version__ = "0.1.0"
