-- Web, e-mail and social events from the raw tables in one shape, with the channel they
-- came from. Columns that a channel does not have are null.
--
-- (intermediate; not published)
with web_events as (
    select * from raw.web_events
),

email_events as (
    select * from raw.email_events
),

social_events as (
    select * from raw.social_events
),

web_unified as (
    select
        event_id,
        'web' as channel,
        event_name,
        event_ts,
        anonymous_id,
        user_id,
        email_hash,
        cast(null as varchar) as platform,
        cast(null as varchar) as handle_hash,
        session_id as given_session_id,
        page_url,
        page_title,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        device_category,
        country,
        order_id,
        value,
        currency,
        rating,
        cast(null as varchar) as campaign_id,
        cast(null as varchar) as message_id,
        cast(null as varchar) as url,
        cast(null as varchar) as reason,
        cast(null as varchar) as post_id,
        cast(null as varchar) as thread_id,
        cast(null as double) as sentiment,
        cast(null as varchar) as text,
        properties,
        arrived_on
    from web_events
),

email_unified as (
    select
        event_id,
        'email' as channel,
        event_name,
        event_ts,
        cast(null as varchar) as anonymous_id,
        user_id,
        email_hash,
        cast(null as varchar) as platform,
        cast(null as varchar) as handle_hash,
        cast(null as varchar) as given_session_id,
        cast(null as varchar) as page_url,
        cast(null as varchar) as page_title,
        cast(null as varchar) as referrer,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        cast(null as varchar) as device_category,
        cast(null as varchar) as country,
        cast(null as varchar) as order_id,
        cast(null as double) as value,
        cast(null as varchar) as currency,
        cast(null as integer) as rating,
        campaign_id,
        message_id,
        url,
        reason,
        cast(null as varchar) as post_id,
        cast(null as varchar) as thread_id,
        cast(null as double) as sentiment,
        cast(null as varchar) as text,
        properties,
        arrived_on
    from email_events
),

social_unified as (
    select
        event_id,
        'social' as channel,
        event_name,
        event_ts,
        cast(null as varchar) as anonymous_id,
        user_id,
        cast(null as varchar) as email_hash,
        platform,
        handle_hash,
        cast(null as varchar) as given_session_id,
        cast(null as varchar) as page_url,
        cast(null as varchar) as page_title,
        cast(null as varchar) as referrer,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        cast(null as varchar) as device_category,
        cast(null as varchar) as country,
        cast(null as varchar) as order_id,
        cast(null as double) as value,
        cast(null as varchar) as currency,
        rating,
        cast(null as varchar) as campaign_id,
        cast(null as varchar) as message_id,
        cast(null as varchar) as url,
        cast(null as varchar) as reason,
        post_id,
        thread_id,
        sentiment,
        text,
        properties,
        arrived_on
    from social_events
)

select * from web_unified
union all
select * from email_unified
union all
select * from social_unified
