"""Funnels: which steps customers (or sessions) reach, where they drop out and what they do next.

:func:`build_funnels` is the nightly entry point; :mod:`.config` reads ``config/funnels.toml``,
:mod:`.engine` computes the steps reached set-wise in DuckDB, :mod:`.build` writes the tables.
"""

from journey_analytics.funnels.build import build_funnels
from journey_analytics.funnels.config import (
    FunnelConfigError,
    load_funnel_config,
    parse_funnel_config,
)

__all__ = ["FunnelConfigError", "build_funnels", "load_funnel_config", "parse_funnel_config"]
