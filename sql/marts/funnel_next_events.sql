-- One row per run date, funnel, step and next event: what the customers (or sessions) who
-- dropped out of a funnel after a step did next. A unit drops out after step k when it
-- reached step k but not step k+1 in the report period; its next event is its customer's
-- first event of any channel strictly after the chain's step-k event and no later than the
-- end of the chain's conversion window (or of the period). Units with no such event count
-- under next_event = (none). Built by journey_analytics.funnels.build_funnels.
--
-- as_of_date: The run date; the report period ends on it.
-- funnel: Funnel name from the funnel config.
-- unit: What is counted: customer or session.
-- step_index: The last step the dropped-out units reached.
-- step: Label of that step.
-- period_start: First day of the report period (UTC, inclusive).
-- period_end: Last day of the report period (UTC, inclusive).
-- next_channel: Channel of the next event (web, email, social), or (none).
-- next_event: Event name of the next event, or (none) when nothing followed within the window.
-- dropped: Units that dropped out after this step and did this next.
-- share_of_dropped: dropped / all units that dropped out after this step.
select
    as_of_date,
    funnel,
    unit,
    step_index,
    step,
    period_start,
    period_end,
    next_channel,
    next_event,
    dropped,
    share_of_dropped,
from funnel_next_events_build
