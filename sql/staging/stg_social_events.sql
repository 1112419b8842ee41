-- Social rows of the files being loaded, parsed, typed and checked against the landing
-- contract. contract_error says why a row is refused; null means the row is good. contract_reason
-- codes it (see sql/macros/refusal_macros.sql).
-- A contract field holding a JSON object or list (not a single value) is a bad type.
--
-- (staging view; not published)
with landed as (
    select * from landed_social_rows
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
        case when json_valid(coalesce(record, raw)) then from_json(coalesce(record, raw), '{"event_id":"VARCHAR","event_ts":"VARCHAR","event_name":"VARCHAR","platform":"VARCHAR","handle":"VARCHAR","user_id":"VARCHAR","post_id":"VARCHAR","thread_id":"VARCHAR","sentiment":"VARCHAR","rating":"VARCHAR","text":"VARCHAR"}') end as f
    from landed
),

keyed as (
    select
        *,
        case when f is not null then json_keys(record) end as record_keys,
        list_count([f.event_id, f.event_ts, f.event_name, f.platform, f.handle, f.user_id, f.post_id, f.thread_id, f.sentiment, f.rating, f.text]) as fields_given
    from parsed
),

-- whether the record's keys are contract fields given once (no field beyond, none twice),
-- as a column: the macros below name it several times
named_once as (
    select
        *,
        keys_named_once(record_keys, fields_given, ['event_id', 'event_ts', 'event_name', 'platform', 'handle', 'user_id', 'post_id', 'thread_id', 'sentiment', 'rating', 'text']) as keys_named_once
    from keyed
),

objects as (
    select
        *,
        record_error(landed_error, f is null, record, record_keys, keys_named_once, ['event_id', 'event_ts', 'event_name', 'platform', 'handle', 'user_id', 'post_id', 'thread_id', 'sentiment', 'rating', 'text']) as parse_error,
        fields_beyond(record, record_keys, keys_named_once, ['event_id', 'event_ts', 'event_name', 'platform', 'handle', 'user_id', 'post_id', 'thread_id', 'sentiment', 'rating', 'text']) as extra_fields
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
        clean_identifier(f.platform) as platform,
        given_text(f.handle) as handle_as_given,
        clean_identifier(f.handle) as handle,
        clean_key(f.user_id) as user_id,
        key_as_given(f.user_id) as user_id_as_given,
        trimmed_text(f.post_id) as post_id,
        trimmed_text(f.thread_id) as thread_id,
        sparse_field_text(f.sentiment) as sentiment_text,
        sparse_field_text(f.rating) as rating_text,
        with_plain_at_signs(f.text) as text
    from objects
),

-- A field written for a missing value (a null marker, and in a CSV NA and the like: see
-- unless_missing_marker) is missing; event_ts so written is refused as not a timestamp.
-- (Each field is a column here, as the macro names its argument several times.)
unmarked as (
    select * replace (
        unless_missing_marker(event_id, from_csv, '') as event_id,
        unless_missing_marker(post_id, from_csv, '') as post_id,
        unless_missing_marker(thread_id, from_csv, '') as thread_id,
        canonical_event_name(unless_missing_marker(event_name, from_csv, ''), contract_event_names('social')) as event_name,
        lower(unless_missing_marker(platform, from_csv, '')) as platform,
        lower(ltrim(unless_missing_marker(handle, from_csv, ''), '@')) as handle
    )
    from cleaned
),

typed as (
    select
        *,
        parse_event_ts(event_ts_text) as event_ts,
        try_cast(sentiment_text as double) as sentiment,
        -- the platform as shown (masked), its full-width ＠ an @; as hashed, it is kept as cleaned
        -- (identities hash it so too)
        with_plain_at_signs(platform) as platform_shown,
        coalesce(
            rounded_id_error('event_id', event_id), rounded_id_error('user_id', user_id),
            rounded_id_error('post_id', post_id), rounded_id_error('thread_id', thread_id)
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
            when platform is null then 'missing required field platform'
            when handle is null then 'missing required field handle'
            when rounded_id_error is not null then rounded_id_error
            when sentiment_text is not null and sentiment is null
                then 'sentiment "' || left(sentiment_text, 40) || '" is not a number'
            when sentiment < -1 or sentiment > 1
                then 'sentiment ' || left(sentiment_text, 40) || ' is outside -1 to 1'
            when integer_range_error('rating', rating_text, 1, 5) is not null
                then integer_range_error('rating', rating_text, 1, 5)
        end as contract_error
    from typed
),

-- A refused line's handle, to mask wherever the line repeats it: its own, or, for a line that is
-- not JSON, the one its "handle" field names (a column, computed once: as a macro argument it
-- was expanded at each of mask_handle's mentions, and doubled the time this model takes).
with_line_handle as (
    select
        *,
        case when contract_error is not null then coalesce(handle, handle_named_in(raw)) end as line_handle,
        -- the handle as given, replaced wherever the reason repeats it; not one shorter than 3
        -- characters (a handle "e" made the reason "missing r@[handle]quir@[handle]d fi@[handle]ld");
        -- in the row's text, see replace_handle
        case when length(handle_as_given) >= 3 then handle_as_given end as handle_to_replace
    from checked
),

-- A refused row's reason and text, masked a step at a time, each step a column: the masking
-- macros name their argument several times, so a step nested in the next one would be copied
-- into it as often, with the patterns it compiles (a tenth of a second of planning per model).
refused_handles_masked as (
    select
        *,
        case when contract_error is not null then mask_handle(
            replace(contract_error, coalesce(handle_to_replace, chr(0)), '@[handle]'), handle) end as reason_handle_masked,
        case when contract_error is not null and (parse_error is null or starts_with(ltrim(raw), '{')) then regexp_replace(
            mask_handle(replace_handle(raw, handle_as_given),
                -- a line that is not JSON: the handle its "handle" field names
                line_handle),
            '("handle"\s*:\s*")[^"]*"', '\1@[handle]"', 'g') end as raw_handle_masked
    from with_line_handle
),

refused_personal_masked as (
    select
        *,
        mask_personal_text(reason_handle_masked) as reason_personal_masked,
        mask_personal_text(raw_handle_masked) as raw_personal_masked
    from refused_handles_masked
)

select
    -- an id holding an e-mail address becomes its kind and a keyed digest (pseudonymous_id)
    pseudonymous_id(event_id, 'event') as event_id,
    event_ts,
    mask_emails(event_name) as event_name,
    mask_emails(platform_shown) as platform,
    keyed_hash(platform || ':' || handle) as handle_hash,
    -- the handle hashed as it was before it was composed (NFC) and invisible marks around it
    -- trimmed, as `journey forget` recorded it then (the run withholds the rows it names)
    handle_as_given_hash(platform, handle_as_given) as handle_as_given_hash,
    pseudonymous_id(user_id, 'user') as user_id,
    -- the given id's own hash, as `journey forget` recorded a user id that was an address before
    -- ids were pseudonymized (the run withholds the rows it names)
    -- (or as it was given before invisible marks around it were trimmed)
    case when may_hold_address(user_id) or coalesce(user_id_as_given, user_id) is distinct from user_id
        then keyed_hash('user_id:' || coalesce(user_id_as_given, user_id)) end as user_id_as_given_hash,
    -- post and thread ids tie a reply to a message: one holding an address is pseudonymized as a
    -- whole, so ids stay apart and still join (a handle in one is kept: the reply's row does not
    -- know the handle of the message it answers)
    pseudonymous_id(post_id, 'post') as post_id,
    pseudonymous_id(thread_id, 'thread') as thread_id,
    sentiment,
    -- (try_cast: a refused row's rating, out of the integers' range or not a number, is cast too)
    try_cast(try_cast(rating_text as double) as integer) as rating,
    mask_personal_text(mask_handle(text, handle)) as text,
    extra_properties(extra_fields, handle) as properties,
    source_file,
    line_no,
    arrived_on,
    -- a reason may quote a value, so it is masked as the text is
    -- the kind of refusal as a code (quarantine.reason), read from the reason before it is masked
    case when contract_error is not null then refusal_reason(line_no, contract_error) end as contract_reason,
    case when contract_error is not null then mask_refused_text(reason_personal_masked) end as contract_error,
    case when contract_error is not null then  -- masking costs; only refused rows keep their text
        case
            when parse_error is not null and not starts_with(ltrim(raw), '{')
                then '[row withheld: it could not be parsed and may hold a handle; ' || length(raw) || ' characters]'
            else mask_refused_text(raw_personal_masked)
        end
    end as raw_masked
from refused_personal_masked
