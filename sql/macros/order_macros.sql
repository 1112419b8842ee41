-- DuckDB macros about orders, shared by the customers and sessions marts and the dashboard's
-- headline figures, so that an order's value is one rule wherever it is shown.
--
-- (no table)

-- One row per order up to (not including) before_ts, from the web purchases in main.events,
-- with its value. An order is its order_id (else the purchase event's own id). The rows sent
-- together (one instant, one device or user) are its lines and add up; lines are told apart by
-- value and product (the extra fields item_id, sku, product_id, variant_id, stock_code, line_id,
-- line_item_id, line_number that the row has, all of them: a product listed twice at one value
-- is two lines when they are numbered), so a row sent twice is one line whatever else it
-- carries. When one sender sends the whole order again (another instant: a reloaded page), each
-- value counts as many times as in the sending with the most lines of that value, so the order
-- counts once. When two senders send it (the web tag from a device and
-- the store's export under a user_id), the order's value is the larger of their totals: the tag
-- often leaves out shipping and tax that the export's total holds, and two totals of one order
-- are not two of its lines.
--   ordered_at: its first sending; session_id: the session of its first sending that has one;
--   currency: its currency as given (the smallest, should its lines disagree).
create or replace temp macro order_values(before_ts) as table
    with purchase_lines as (
        select
            customer_id, coalesce(order_id, event_id) as order_key, event_ts as sent_at,
            coalesce(anonymous_id, user_id) as sender, value,
            -- every product field the row has, not the first alone: a stock code listed twice
            -- at one value is two lines when the export numbers them (none is null, as a row
            -- without extra fields has)
            nullif(list_filter(
                json_extract_string(properties, ['$.item_id', '$.sku', '$.product_id', '$.variant_id', '$.stock_code', '$.line_id', '$.line_item_id', '$.line_number']),
                lambda x: x is not null
            ), []) as line_item,
            min(session_id) as session_id, min(currency) as currency
        from main.events
        where channel = 'web' and event_name = 'purchase' and event_ts < before_ts
        group by all
    ),
    sendings as (
        select customer_id, order_key, sent_at, sender, value, count(*) as n_lines,
            min(session_id) as session_id, min(currency) as currency
        from purchase_lines
        group by customer_id, order_key, sent_at, sender, value
    ),
    value_counts as (
        select customer_id, order_key, sender, value, max(n_lines) as n_lines, min(sent_at) as first_sent_at,
            -- arg_min passes over a null session_id; of two sendings at one instant, the smaller id
            arg_min(session_id, struct_pack(sent_at, session_id)) as session_id,
            min(currency) as currency
        from sendings
        group by customer_id, order_key, sender, value
    ),
    sender_totals as (
        select customer_id, order_key, sender, sum(value * n_lines) as order_value,
            min(first_sent_at) as first_sent_at,
            arg_min(session_id, struct_pack(first_sent_at, session_id)) as session_id,
            min(currency) as currency
        from value_counts
        group by customer_id, order_key, sender
    )
    select
        customer_id, order_key,
        min(first_sent_at) as ordered_at,
        arg_min(session_id, struct_pack(first_sent_at, session_id)) as session_id,
        min(currency) as currency,
        max(order_value) as order_value
    from sender_totals
    group by customer_id, order_key;
