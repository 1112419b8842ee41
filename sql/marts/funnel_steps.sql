-- One row per run date, funnel, step and segment: how many customers (or sessions) reached
-- each step of each configured funnel in the report period, the conversion and drop-off
-- between steps, and the same figures for the period before, side by side.
-- Built by journey_analytics.funnels.build_funnels from config/funnels.toml (see docs/funnels.md);
-- a run replaces its own as_of_date and keeps the rows of other dates.
--
-- as_of_date: The run date; the report period ends on it.
-- funnel: Funnel name from the funnel config.
-- unit: What is counted: customer (default) or session (a GA4 closed funnel within one session).
-- step_order: ordered (windowFunnel strict_increase), strict (no other in-scope event between steps) or any (steps in any order).
-- is_open: True when units may enter at a later step than the first.
-- step_index: Step number, from 1.
-- step: Step label from the config (the event name unless labelled).
-- segment_key: Breakdown column the segment is defined by, or all for the whole funnel.
-- segment_value: Breakdown value read from the event that starts the unit's chain ((none) when empty), or all.
-- period_start: First day of the report period (UTC, inclusive).
-- period_end: Last day of the report period (UTC, inclusive); equals as_of_date.
-- conversion_window: Longest time in seconds from a chain's first step to its last.
-- step_window: Longest time in seconds from the previous step to this one; null when only conversion_window applies.
-- entered: Customers (sessions when unit = session) who reached this step in the period.
-- conversion_from_previous: entered / entered at the previous step; null at step 1 or when the previous step has none.
-- conversion_from_start: entered / entered at step 1; null when step 1 has none.
-- drop_off: entered at the previous step minus entered here; null at step 1 (can be negative in an open funnel).
-- median_time_from_previous: Median seconds from the previous step to this one, over the units that reached this step, measured on the chain that counted them; null at step 1, at a unit's entry step and in any-order funnels.
-- previous_period_start: First day of the previous period of the same length; null when compare_previous_period is off.
-- previous_period_end: Last day of the previous period (the day before period_start).
-- previous_entered: entered in the previous period for the same step and segment (0 when the segment had nobody then); null when compare_previous_period is off.
-- previous_conversion_from_previous: conversion_from_previous in the previous period.
-- previous_conversion_from_start: conversion_from_start in the previous period.
select
    as_of_date,
    funnel,
    unit,
    step_order,
    is_open,
    step_index,
    step,
    segment_key,
    segment_value,
    period_start,
    period_end,
    conversion_window,
    step_window,
    entered,
    conversion_from_previous,
    conversion_from_start,
    drop_off,
    median_time_from_previous,
    previous_period_start,
    previous_period_end,
    previous_entered,
    previous_conversion_from_previous,
    previous_conversion_from_start,
from funnel_steps_build
