-- Web, e-mail and social events from the raw tables in one shape, with the channel they
-- came from. Columns that a channel does not have are null. A brand reply landed with the
-- brand's own handle is the person's it answers (social_answered, from social_thread_askers).
--
-- (intermediate; not published)
with web_events as (
    select * from raw.web_events
),

email_events as (
    select * from raw.email_events
),

social_answered as (
    -- A brand_reply is the customer's it answers. Its handle is the person answered (the
    -- contract); an inbox tool's export names the brand itself there, which would make the
    -- brand a customer holding every reply: such a reply takes the thread's asker's handle
    -- and user id. A reply naming the asker, or in a thread without one asker, is as given.
    -- (Only the replies meet the join, and each part reads the raw table itself: a CTE read
    -- twice is kept whole in memory.)
    select
        event_id, event_name, event_ts, platform, rating, post_id, thread_id,
        sentiment, text, properties, arrived_on, user_id, handle_hash
    from raw.social_events
    where event_name <> 'brand_reply'
    union all
    select
        s.event_id, s.event_name, s.event_ts, s.platform, s.rating, s.post_id, s.thread_id,
        s.sentiment, s.text, s.properties, s.arrived_on,
        case when a.handle_hash is null or a.handle_hash = s.handle_hash then s.user_id else a.user_id end as user_id,
        coalesce(a.handle_hash, s.handle_hash) as handle_hash
    from raw.social_events as s
    left join social_thread_askers as a
        on a.platform = s.platform and a.thread_id = s.thread_id
    where s.event_name = 'brand_reply'
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
    from social_answered
)

select * from web_unified
union all
select * from email_unified
union all
select * from social_unified
