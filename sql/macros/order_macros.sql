-- DuckDB macros about orders, shared by the customers and sessions marts and the dashboard's
-- headline figures, so that an order's value, and what its refunds take back, is one rule
-- wherever it is shown.
--
-- (no table)

-- The product fields of a purchase or refund row, all of them, that tell its lines apart (the
-- extra fields item_id, sku, product_id, variant_id, stock_code, line_id, line_item_id,
-- line_number; null when it has none): a stock code listed twice at one value is two lines when
-- the export numbers them.
create or replace temp macro order_line_item(properties) as
    nullif(list_filter(
        json_extract_string(properties, ['$.item_id', '$.sku', '$.product_id', '$.variant_id', '$.stock_code', '$.line_id', '$.line_item_id', '$.line_number']),
        lambda x: x is not null
    ), []);

-- The distinct lines of the web purchases or refunds (event) in main.events up to (not including)
-- before_ts: one row per order (its order_id, else the event's own id), sending (instant and
-- sender: the device, else the user), value and product fields (order_line_item, every product
-- field the row has, not the first alone; none is null, as a row without extra fields has), so a
-- row sent twice is one line; with its session and currency (the smallest, should they differ).
-- With negative_only true, only the orders (customer and number) that have a negative row, read
-- through a join with them (a condition naming a subquery would be tested on every row, even with
-- negative_only false).
create or replace temp macro order_lines_sent(event, before_ts, negative_only) as table
    with negative_orders as (
        select distinct customer_id, coalesce(order_id, event_id) as order_key
        from main.events
        where negative_only and channel = 'web' and event_name = event and event_ts < before_ts and value < 0
    ),
    sent as (
        select customer_id, order_id, event_id, event_ts, anonymous_id, user_id, value, properties, session_id, currency
        from main.events
        where not negative_only and channel = 'web' and event_name = event and event_ts < before_ts
        union all
        select e.customer_id, e.order_id, e.event_id, e.event_ts, e.anonymous_id, e.user_id, e.value, e.properties,
            e.session_id, e.currency
        from main.events as e
        semi join negative_orders as n
            on n.customer_id is not distinct from e.customer_id and n.order_key = coalesce(e.order_id, e.event_id)
        where negative_only and e.channel = 'web' and e.event_name = event and e.event_ts < before_ts
    )
    select
        customer_id, coalesce(order_id, event_id) as order_key, event_ts as sent_at,
        coalesce(anonymous_id, user_id) as sender, value,
        order_line_item(properties) as line_item,
        min(session_id) as session_id, min(currency) as currency
    from sent
    group by all;

-- One row per order number up to (not including) before_ts, from the web purchases in
-- main.events, with its total, of any sign: order_values keeps the orders, order_refunds reads
-- a negative total as a cancellation. An order is its order_id (else the purchase event's own id). The rows sent
-- together (one instant, one device or user) are its lines and add up; lines are told apart by
-- value and product (the extra fields item_id, sku, product_id, variant_id, stock_code, line_id,
-- line_item_id, line_number that the row has, all of them: a product listed twice at one value
-- is two lines when they are numbered), so a row sent twice is one line whatever else it
-- carries. When one sender sends the whole order again (another instant: a reloaded page), each
-- value counts as many times as in the sending with the most lines of that value, so the order
-- counts once; or as many times as the distinct products of that value over all its sendings,
-- when more (an export that gives each line its own instant: two products of one price are two
-- lines, and a line sent again is still one). When two senders send it (the web tag from a device and
-- the store's export under a user_id), the order's value is the larger of their totals: the tag
-- often leaves out shipping and tax that the export's total holds, and two totals of one order
-- are not two of its lines.
--   ordered_at: its first sending; session_id: the session of its first sending that has one;
--   currency: its currency as given (the smallest, should its lines disagree).
--   With cancellations true, only the order numbers with a negative purchase row (the others
--   cannot total below nothing), for order_refunds: a store's few, not every order again.
create or replace temp macro order_totals(before_ts, cancellations) as table
    with purchase_lines as (
        select * from order_lines_sent('purchase', before_ts, cancellations)
    ),
    sendings as (
        select customer_id, order_key, sent_at, sender, value, count(*) as n_lines,
            list(line_item) filter (where line_item is not null) as line_items,
            min(session_id) as session_id, min(currency) as currency
        from purchase_lines
        group by customer_id, order_key, sent_at, sender, value
    ),
    value_counts as (
        -- the most lines of the value in one sending, or its distinct products over every sending
        -- when more (lines sent one by one, each at its own instant, two products of one price)
        select customer_id, order_key, sender, value,
            greatest(max(n_lines), length(list_distinct(flatten(list(line_items))))) as n_lines,
            min(sent_at) as first_sent_at,
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

-- One row per order up to (not including) before_ts (order_totals): every order number whose
-- purchase rows total nothing or more. An order of no value (a free sample, a replacement, a
-- voucher paid in full) is an order. Purchase rows that total below nothing are no order but a
-- cancellation landed as a purchase (Online Retail's invoice C536379, its quantities negative):
-- order_refunds reads it as a refund of the amount. A negative row among an order's lines (a
-- discount line) lowers its value as given.
create or replace temp macro order_values(before_ts) as table
    select * from order_totals(before_ts, false) where order_value >= 0;

-- One row per refunded order and currency up to (not including) before_ts, from the web refunds
-- in main.events, with the value refunded. An order is its order_id (else the refund event's own
-- id), as in order_values, and the customer's: a refund of an order number another customer
-- bought (stores numbering their orders alike, each from #1001) is a refund of an order of its
-- own. Refunds of one number in two currencies are of two orders (one number in two stores) and
-- are two rows, so no amount of one currency is added to another's. A refund is the rows one sender (device, else user) sent at one
-- instant: they are its lines and add up, told apart by value and product as an order's lines
-- are (order_line_item), so a row sent twice, as a file landed again under new event ids with the
-- refund's own time, is one line. Refunds one sender sent at different instants are different
-- refunds of the order and all count: two partial refunds (an item returned one week, another
-- the next) both take money back, even of one value. A refund sent again at another instant
-- under a new event id (a refund page reloaded with the tag on it) cannot be told from a second
-- partial refund of the same value, and counts twice too: stores send refunds from their back
-- office with the refund's own time, so a second instant is far more often a second refund, and
-- what one order's refunds take off its value is at most that value (order_net_values), so a
-- refund counted twice never takes more than the order. (A re-export under the same event ids is
-- loaded once before this.) When two senders send the order's refunds (the web tag from a device
-- and the store's export under a user_id), the order's refunded value is the larger of their
-- totals, as an order's value is: two totals of one refund are not two refunds. A refund's value
-- is the amount refunded: given negative (a credit note, Online Retail's cancellations of
-- negative quantities) its total is read as the same amount (its lines add as given first, so a
-- fee kept back from a refund lowers it whatever sign the export writes refunds with).
-- Purchase rows of one number that total below nothing (order_totals) are a cancellation landed as
-- a purchase: a refund of their amount, at their time, in their currency, as a negative refund
-- is (added to the refunds of that number and currency, if any).
--   refunded_at: its first refund; currency: the refunds' currency as given.
create or replace temp macro order_refunds(before_ts) as table
    with refund_lines as (
        select * from order_lines_sent('refund', before_ts, false)
    ),
    refunds as (
        select customer_id, order_key, currency, sender, sent_at, abs(sum(value)) as refund_value
        from refund_lines
        group by customer_id, order_key, currency, sender, sent_at
    ),
    sender_totals as (
        select customer_id, order_key, currency, sender, sum(refund_value) as refunded_value,
            min(sent_at) as first_sent_at
        from refunds
        group by customer_id, order_key, currency, sender
    ),
    refunds_and_cancellations as (
        select customer_id, order_key, currency, min(first_sent_at) as refunded_at,
            max(refunded_value) as refunded_value
        from sender_totals
        group by customer_id, order_key, currency
        union all
        select customer_id, order_key, currency, ordered_at, -order_value
        from order_totals(before_ts, true)
        where order_value < 0
    )
    select
        customer_id, order_key,
        min(refunded_at) as refunded_at,
        currency,
        sum(refunded_value) as refunded_value
    from refunds_and_cancellations
    group by customer_id, order_key, currency;

-- One row per order up to (not including) before_ts, as order_values (the same rows and
-- columns), with what its refunds took back: refunded_value, the order's refunds by
-- order_refunds (the customer's refunds of the order: 0 without any), and net_value, the order's
-- value less its refunds, never below nothing: refunds over the order's value (a tag's order
-- value without the shipping the export's refund gives back, a refund counted twice) take the
-- whole order and no more, so an order is worth between 0 and its value (an order of a negative
-- value, added as given, keeps it). A refund lowers the customer's order of its number in its
-- currency (the order's: its smallest, should its lines disagree): a refund in another currency
-- is of another order (one number in two stores), and taking it off would subtract dollars from
-- euros. Refunds of orders bought before the data begins, and refunds no order of the customer's
-- in their currency carries, have no row here: there is no order value in the data for them to
-- lower.
create or replace temp macro order_net_values(before_ts) as table
    select
        o.customer_id, o.order_key, o.ordered_at, o.session_id, o.currency, o.order_value,
        coalesce(r.refunded_value, 0) as refunded_value,
        o.order_value - least(coalesce(r.refunded_value, 0), greatest(o.order_value, 0)) as net_value
    from order_values(before_ts) as o
    left join order_refunds(before_ts) as r
        on r.customer_id is not distinct from o.customer_id and r.order_key = o.order_key
        and r.currency is not distinct from o.currency;
