-- One row per customer and run date: the stage the customer had on that run date. Each run
-- replaces its own day's rows and keeps every other day, so analysts can follow a customer
-- over time (see stage_transitions).
--
-- customer_id: The customer as stitched on that run date: a visitor who later signed up has their anon: id on the dates before (identity_map maps it to today's customer; stage_transitions follows it).
-- as_of_date: The run date.
-- stage: awareness, consideration, purchase, retention or advocacy on that date.
-- stage_source: rule or model (see customer_stages).
-- confidence: How sure the decision was, 0 to 1 (see customer_stages).
select
    customer_id,
    as_of_date,
    stage,
    stage_source,
    confidence
from main.customer_stages
