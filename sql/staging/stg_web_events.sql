-- Web rows of the files being loaded, parsed, typed and checked against the landing
-- contract. contract_error says why a row is refused; null means the row is good. contract_reason
-- codes it (see sql/macros/refusal_macros.sql).
-- A contract field holding a JSON object or list (not a single value) is a bad type.
--
-- (staging view; not published)
with landed as (
    select * from landed_web_rows
),

parsed as (
    select
        source_file,
        written_as_csv(source_file) as from_csv,
        arrived_on,
        line_no,
        raw,
        parse_error as landed_error,
        coalesce(record, raw) as record,
        case when json_valid(coalesce(record, raw)) then from_json(coalesce(record, raw), '{"event_id":"VARCHAR","event_ts":"VARCHAR","event_name":"VARCHAR","anonymous_id":"VARCHAR","user_id":"VARCHAR","session_id":"VARCHAR","email":"VARCHAR","page_url":"VARCHAR","page_title":"VARCHAR","referrer":"VARCHAR","utm_source":"VARCHAR","utm_medium":"VARCHAR","utm_campaign":"VARCHAR","device_category":"VARCHAR","country":"VARCHAR","order_id":"VARCHAR","value":"VARCHAR","currency":"VARCHAR","rating":"VARCHAR"}') end as f
    from landed
),

keyed as (
    select
        *,
        case when f is not null then json_keys(record) end as record_keys,
        list_count([f.event_id, f.event_ts, f.event_name, f.anonymous_id, f.user_id, f.session_id, f.email, f.page_url, f.page_title, f.referrer, f.utm_source, f.utm_medium, f.utm_campaign, f.device_category, f.country, f.order_id, f.value, f.currency, f.rating]) as fields_given
    from parsed
),

-- whether the record's keys are contract fields given once (no field beyond, none twice),
-- as a column: the macros below name it several times
named_once as (
    select
        *,
        keys_named_once(record_keys, fields_given, ['event_id', 'event_ts', 'event_name', 'anonymous_id', 'user_id', 'session_id', 'email', 'page_url', 'page_title', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'device_category', 'country', 'order_id', 'value', 'currency', 'rating']) as keys_named_once
    from keyed
),

objects as (
    select
        *,
        record_error(landed_error, f is null, record, record_keys, keys_named_once, ['event_id', 'event_ts', 'event_name', 'anonymous_id', 'user_id', 'session_id', 'email', 'page_url', 'page_title', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'device_category', 'country', 'order_id', 'value', 'currency', 'rating']) as parse_error,
        fields_beyond(record, record_keys, keys_named_once, ['event_id', 'event_ts', 'event_name', 'anonymous_id', 'user_id', 'session_id', 'email', 'page_url', 'page_title', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'device_category', 'country', 'order_id', 'value', 'currency', 'rating']) as extra_fields
    from named_once
),

cleaned as (
    select
        source_file,
        from_csv,
        arrived_on,
        line_no,
        raw,
        parse_error,
        with_plain_at_signs(extra_fields) as extra_fields,  -- (a full-width ＠ is an @ to mask)
        trimmed_text(f.event_id) as event_id,
        trimmed_text(f.event_ts) as event_ts_text,
        trimmed_text(f.event_name) as event_name,
        clean_key(f.anonymous_id) as anonymous_id,
        key_as_given(f.anonymous_id) as anonymous_id_as_given,
        clean_key(f.user_id) as user_id,
        key_as_given(f.user_id) as user_id_as_given,
        trimmed_text(f.session_id) as session_id,
        address_key(f.email) as email,
        trimmed_text(f.page_url) as page_url,
        trimmed_text(f.page_title) as page_title,
        trimmed_text(f.referrer) as referrer,
        trimmed_text(f.utm_source) as utm_source,
        trimmed_text(f.utm_medium) as utm_medium,
        trimmed_text(f.utm_campaign) as utm_campaign,
        trimmed_text(f.device_category) as device_category,
        trimmed_text(f.country) as country,
        clean_key(f.order_id) as order_id,
        sparse_field_text(f.value) as value_text,
        upper(sparse_field_text(f.currency)) as currency,
        sparse_field_text(f.rating) as rating_text,
        given_text(f.email) as email_as_given
    from objects
),

-- A field written for a missing value (a null marker, and in a CSV NA and the like: see
-- unless_missing_marker) is missing; event_ts so written is refused as not a timestamp.
-- (Each field is a column here, as the macro names its argument several times.)
unmarked as (
    select * replace (
        unless_missing_marker(event_id, from_csv, '') as event_id,
        unless_missing_marker(session_id, from_csv, '') as session_id,
        unless_missing_marker(page_url, from_csv, '') as page_url,
        unless_missing_marker(page_title, from_csv, '') as page_title,
        unless_missing_marker(referrer, from_csv, '') as referrer,
        unless_missing_marker(utm_source, from_csv, '') as utm_source,
        unless_missing_marker(utm_medium, from_csv, '') as utm_medium,
        unless_missing_marker(utm_campaign, from_csv, '') as utm_campaign,
        canonical_event_name(unless_missing_marker(event_name, from_csv, ''), contract_event_names('web')) as event_name,
        lower(unless_missing_marker(device_category, from_csv, '')) as device_category,
        unless_missing_marker(country, from_csv, 'NA') as country  -- (NA is Namibia's code)
    )
    from cleaned
),

typed as (
    select
        *,
        parse_event_ts(event_ts_text) as event_ts,
        try_cast(value_text as double) as value,
        coalesce(
            rounded_id_error('event_id', event_id), rounded_id_error('anonymous_id', anonymous_id),
            rounded_id_error('user_id', user_id), rounded_id_error('order_id', order_id),
            rounded_id_error('session_id', session_id)
        ) as rounded_id_error
    from unmarked
),

checked as (
    select
        *,
        case
            when parse_error is not null then parse_error
            when event_id is null then 'missing required field event_id'
            when event_ts_error(event_ts_text, event_ts, arrived_on) is not null
                then event_ts_error(event_ts_text, event_ts, arrived_on)
            when event_name is null then 'missing required field event_name'
            when anonymous_id is null and user_id is null
                then 'web event needs an anonymous_id or a user_id'
            when rounded_id_error is not null then rounded_id_error
            when value_text is not null and (value is null or not isfinite(value))
                then 'value "' || left(value_text, 40) || '" is not a number'
            when abs(value) >= 1e14  -- the warehouse keeps money as DECIMAL(18, 4)
                then 'value "' || left(value_text, 40) || '" is out of range (at most 14 digits before the point)'
            when event_name in ('purchase', 'refund') and order_id is null
                then event_name || ' needs an order_id'
            when event_name in ('purchase', 'refund') and value is null
                then event_name || ' needs a value'
            when event_name in ('purchase', 'refund') and currency is null
                then event_name || ' needs a currency'
            when integer_range_error('rating', rating_text, 1, 5) is not null
                then integer_range_error('rating', rating_text, 1, 5)
        end as contract_error
    from typed
),

-- A refused row's reason and text with addresses and @handles masked (as a refused social,
-- identities or label row's are), as columns: masking costs, so only refused rows are masked,
-- and as nested macro arguments each mention would be expanded again.
refusals_masked as (
    select
        *,
        mask_personal_text(case when contract_error is not null then
            replace(contract_error, coalesce(case when email is not null then email_as_given end, chr(0)), '[email]') end) as reason_personal_masked,
        mask_personal_text(case when contract_error is not null then
            case when email is null then raw else replace(raw, email_as_given, '[email]') end end)
            as raw_personal_masked
    from checked
)

select
    -- an id holding an e-mail address becomes its kind and a keyed digest (pseudonymous_id)
    pseudonymous_id(event_id, 'event') as event_id,
    event_ts,
    mask_emails(event_name) as event_name,
    pseudonymous_id(anonymous_id, 'device') as anonymous_id,
    -- the given device id's own hash, as `journey forget` recorded a device id that was an address
    -- before such ids were pseudonymized, or as it was given before invisible marks around it
    -- were trimmed (the run withholds the rows it names)
    case when may_hold_address(anonymous_id) or coalesce(anonymous_id_as_given, anonymous_id) is distinct from anonymous_id
        then keyed_hash('anonymous_id:' || coalesce(anonymous_id_as_given, anonymous_id)) end as anonymous_id_as_given_hash,
    pseudonymous_id(user_id, 'user') as user_id,
    -- the given id's own hash, as `journey forget` recorded a user id that was an address before
    -- ids were pseudonymized (the run withholds the rows it names)
    -- (or as it was given before invisible marks around it were trimmed)
    case when may_hold_address(user_id) or coalesce(user_id_as_given, user_id) is distinct from user_id
        then keyed_hash('user_id:' || coalesce(user_id_as_given, user_id)) end as user_id_as_given_hash,
    pseudonymous_id(session_id, 'session') as session_id,
    keyed_hash(email) as email_hash,
    -- the address hashed as it was before an encoded @ (%40) was decoded, as `journey forget`
    -- recorded it then (the run withholds the rows it names)
    address_as_given_hash(email_as_given) as email_as_given_hash,
    -- and as it was hashed in its A-label spelling ('xn--') before internationalised domains
    -- were given one form, as `journey forget` recorded it then (the run withholds the rows it names)
    address_a_label_hash(email) as email_a_label_hash,
    mask_emails(page_url) as page_url,
    mask_emails(page_title) as page_title,
    mask_emails(referrer) as referrer,
    mask_emails(utm_source) as utm_source,
    mask_emails(utm_medium) as utm_medium,
    mask_emails(utm_campaign) as utm_campaign,
    mask_emails(device_category) as device_category,
    -- a two-character code upper-cased (de: DE); any other spelling (Germany) kept as given
    mask_emails(case when length(country) = 2 then upper(country) else country end) as country,
    pseudonymous_id(order_id, 'order') as order_id,
    value,
    mask_emails(currency) as currency,
    -- (try_cast: a refused row's rating, out of the integers' range or not a number, is cast too)
    try_cast(try_cast(rating_text as double) as integer) as rating,
    extra_properties(extra_fields, null) as properties,
    source_file,
    line_no,
    arrived_on,
    -- a reason may quote a value, so it is masked as the text is
    -- the kind of refusal as a code (quarantine.reason), read from the reason before it is masked
    case when contract_error is not null then refusal_reason(line_no, contract_error) end as contract_reason,
    case when contract_error is not null then mask_refused_text(reason_personal_masked) end as contract_error,
    case when contract_error is not null then mask_refused_text(raw_personal_masked) end as raw_masked
from refusals_masked
