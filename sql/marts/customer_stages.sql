-- One row per customer with a journey stage as of the run date: the stage, whether a rule
-- or the classifier decided it, how sure it is and why. Customers who never did anything
-- themselves (for example only had e-mail delivered) have no stage and no row.
--
-- customer_id: The stitched customer (see customers, identity_map).
-- as_of_date: The run date the stage holds for (events up to the end of this day, UTC).
-- stage: awareness, consideration, purchase, retention or advocacy.
-- stage_source: rule when a rule decided (with clear evidence, confidence 1; or an unclear rule used without a classifier, confidence 0.5), model when the classifier did.
-- confidence: How sure the decision is, 0 to 1: 1 for a clear rule, the classifier's calibrated probability for the model, 0.5 for an unclear rule used without a classifier.
-- rule_id: The rule of config/stages.toml that matched (for a model decision: the unclear rule it replaced).
-- rule_stage: The stage the rules alone give (differs from stage only where the classifier decided).
-- reason: Why, as a sentence (for example "2 orders, last on 2026-11-02."); an unclear rule used without a classifier ends "not clear, and no classifier is available" with why in brackets (too few customers to learn from, one stage only to learn from, too few clear examples of a stage).
-- is_identified: As customers.is_identified: true when the customer had a user_id by the run date or is known to the CRM (a user_id that names no one, such as 'guest', identifies no one).
with assigned as (
    select * from customer_stages_assigned
)

select
    customer_id,
    as_of_date,
    stage,
    stage_source,
    confidence,
    rule_id,
    rule_stage,
    reason,
    is_identified
from assigned
order by customer_id
