-- One row per event from every channel (web, email, social): de-duplicated on event_id within its channel,
-- timestamps in UTC, stitched to a customer, web events grouped into sessions.
-- Personal data is pseudonymized: e-mail addresses and handles appear only as keyed hashes, and an id
-- holding an address (a device, user, session, order, event or message id) as its kind and a keyed digest (device:51c0...).
--
-- event_id: Id of the event as given by the source, unique within its channel (each tool issues its own: channel and event_id are the key); the de-duplication key.
-- customer_id: The stitched customer (see identity_map): a user_id, or anon:/email:/social: for people never identified. A guest checkout's order, and the events of its visit that name no one, are the customer's its order_id names, which can differ from identity_map's customer of the device (a shared computer, a shop's kiosk).
-- anonymous_id: Cookie or device id (web only).
-- user_id: The business's customer id on the event itself, if any.
-- channel: web, email or social.
-- event_name: Event name: the contract's names (GA4 names on web; ESP names on email; platform events on social), also when sent in another case or with spaces or hyphens (Add To Cart is add_to_cart); other names as given.
-- event_ts: When the event happened, UTC.
-- event_date: The UTC day of event_ts.
-- session_id: Session of a web event (given by the source, or computed); null for email and social. A given id shared by several customers gets '~' and 8 hex digits of the customer (of the customer and device when several devices share it, as a per-device visit counter does).
-- device_category: desktop, mobile or tablet (web), lower-cased; another category as given, lower-cased.
-- utm_source: Campaign source (web) as given on this event: tags usually send it on a visit's landing page view only, so other events (a purchase) have none; the visit's campaign is sessions.utm_source (join on session_id).
-- utm_medium: Campaign medium (web) as given on this event (the landing page view only; the visit's is sessions.utm_medium).
-- utm_campaign: Campaign name (web) as given on this event (the landing page view only; the visit's is sessions.utm_campaign).
-- country: ISO 3166 alpha-2 country (web), upper-cased; a value that is not two characters long as given.
-- page_url: Page URL (web), e-mail addresses masked.
-- page_title: Page title (web), e-mail addresses masked.
-- referrer: Referring URL (web).
-- order_id: Order id on purchase and refund.
-- value: Monetary value on purchase and refund as given (a refund's as sent, not netted against its order), exact to 4 decimal places (DECIMAL, so sums carry no rounding noise). One row per event: an order sent again (a reloaded confirmation page, the tag and the store's export) has its rows again, so summing purchase values counts it twice; each order once is in sessions.revenue and customers.revenue.
-- currency: Currency of value.
-- rating: Review rating 1 to 5 (write_review on web, review on social).
-- email_hash: Keyed hash of the e-mail address on the event (web sign-up/login/lead, every email event).
-- campaign_id: E-mail campaign.
-- message_id: E-mail message id.
-- url: Clicked URL on an e-mail click.
-- reason: Bounce or drop reason on email.
-- platform: Social platform.
-- social_handle_hash: Keyed hash of platform and handle (social).
-- post_id: Social post.
-- thread_id: Social conversation thread; ties a message to its brand_reply.
-- sentiment: Social sentiment, -1 to 1.
-- text: Social text with e-mail addresses and @handles masked.
-- properties: Fields beyond the contract, as a JSON object (values keep their JSON types: numbers, booleans, lists, objects; from CSV, text).
-- arrived_on: The dt= day the event's file arrived (its earliest delivery); later than event_date for a late event.
-- is_late: True when the event arrived on a later day than it happened.
with events as (
    select * from events_sessionized
)

select
    event_id,
    customer_id,
    anonymous_id,
    user_id,
    channel,
    event_name,
    event_ts,
    cast(event_ts as date) as event_date,
    session_id,
    device_category,
    utm_source,
    utm_medium,
    utm_campaign,
    country,
    page_url,
    page_title,
    referrer,
    order_id,
    try_cast(value as decimal(18, 4)) as value,
    currency,
    rating,
    email_hash,
    campaign_id,
    message_id,
    url,
    reason,
    platform,
    handle_hash as social_handle_hash,
    post_id,
    thread_id,
    sentiment,
    text,
    properties,
    arrived_on,
    cast(event_ts as date) < arrived_on as is_late
from events
