-- E-mail rows of the files being loaded, parsed, typed and checked against the landing
-- contract. contract_error says why a row is refused; null means the row is good. contract_reason
-- codes it (see sql/macros/refusal_macros.sql).
-- A contract field holding a JSON object or list (not a single value) is a bad type.
--
-- (staging view; not published)
with landed as (
    select * from landed_email_rows
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
        case when json_valid(coalesce(record, raw)) then from_json(coalesce(record, raw), '{"event_id":"VARCHAR","event_ts":"VARCHAR","event_name":"VARCHAR","email":"VARCHAR","user_id":"VARCHAR","campaign_id":"VARCHAR","message_id":"VARCHAR","url":"VARCHAR","reason":"VARCHAR"}') end as f
    from landed
),

keyed as (
    select
        *,
        case when f is not null then json_keys(record) end as record_keys,
        list_count([f.event_id, f.event_ts, f.event_name, f.email, f.user_id, f.campaign_id, f.message_id, f.url, f.reason]) as fields_given
    from parsed
),

-- whether the record's keys are contract fields given once (no field beyond, none twice),
-- as a column: the macros below name it several times
named_once as (
    select
        *,
        keys_named_once(record_keys, fields_given, ['event_id', 'event_ts', 'event_name', 'email', 'user_id', 'campaign_id', 'message_id', 'url', 'reason']) as keys_named_once
    from keyed
),

objects as (
    select
        *,
        record_error(landed_error, f is null, record, record_keys, keys_named_once, ['event_id', 'event_ts', 'event_name', 'email', 'user_id', 'campaign_id', 'message_id', 'url', 'reason']) as parse_error,
        fields_beyond(record, record_keys, keys_named_once, ['event_id', 'event_ts', 'event_name', 'email', 'user_id', 'campaign_id', 'message_id', 'url', 'reason']) as extra_fields
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
        address_key(f.email) as email,
        given_text(f.email) as email_as_given,
        clean_key(f.user_id) as user_id,
        key_as_given(f.user_id) as user_id_as_given,
        trimmed_text(f.campaign_id) as campaign_id,
        trimmed_text(f.message_id) as message_id,
        trimmed_text(f.url) as url,
        trimmed_text(f.reason) as reason
    from objects
),

-- A field written for a missing value (a null marker, and in a CSV NA and the like: see
-- unless_missing_marker) is missing; event_ts so written is refused as not a timestamp.
-- (Each field is a column here, as the macro names its argument several times.)
unmarked as (
    select * replace (
        unless_missing_marker(event_id, from_csv, '') as event_id,
        unless_missing_marker(message_id, from_csv, '') as message_id,
        unless_missing_marker(campaign_id, from_csv, '') as campaign_id,
        unless_missing_marker(url, from_csv, '') as url,
        unless_missing_marker(reason, from_csv, '') as reason,
        canonical_event_name(unless_missing_marker(event_name, from_csv, ''), contract_event_names('email')) as event_name
    )
    from cleaned
),

typed as (
    select
        *,
        parse_event_ts(event_ts_text) as event_ts,
        coalesce(
            rounded_id_error('event_id', event_id), rounded_id_error('user_id', user_id),
            rounded_id_error('message_id', message_id), rounded_id_error('campaign_id', campaign_id)
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
            when email is null then 'missing required field email'
            when rounded_id_error is not null then rounded_id_error
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
    keyed_hash(email) as email_hash,
    -- the address hashed as it was before an encoded @ (%40) was decoded, as `journey forget`
    -- recorded it then (the run withholds the rows it names)
    address_as_given_hash(email_as_given) as email_as_given_hash,
    -- and as it was hashed in its A-label spelling ('xn--') before internationalised domains
    -- were given one form, as `journey forget` recorded it then (the run withholds the rows it names)
    address_a_label_hash(email) as email_a_label_hash,
    pseudonymous_id(user_id, 'user') as user_id,
    -- the given id's own hash, as `journey forget` recorded a user id that was an address before
    -- ids were pseudonymized (the run withholds the rows it names)
    -- (or as it was given before invisible marks around it were trimmed)
    case when may_hold_address(user_id) or coalesce(user_id_as_given, user_id) is distinct from user_id
        then keyed_hash('user_id:' || coalesce(user_id_as_given, user_id)) end as user_id_as_given_hash,
    pseudonymous_id(campaign_id, 'campaign') as campaign_id,
    pseudonymous_id(message_id, 'message') as message_id,
    mask_emails(url) as url,
    mask_emails(reason) as reason,
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
