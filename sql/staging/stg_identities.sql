-- Identity rows (CRM exports) of the files being loaded, pseudonymized and checked. Only user_id
-- is required: a row may link it to nothing (email_hash and handle_hash null).
-- contract_error says why a row is refused; null means the row is good. contract_reason
-- codes it (see sql/macros/refusal_macros.sql).
--
-- (staging view; not published)
with landed as (
    select * from landed_identities_rows
),

parsed as (
    select
        source_file,
        written_as_csv(source_file) as from_csv,
        line_no,
        raw,
        parse_error as landed_error,
        coalesce(record, raw) as record,
        case when json_valid(coalesce(record, raw)) then from_json(coalesce(record, raw), '{"user_id":"VARCHAR","email":"VARCHAR","platform":"VARCHAR","handle":"VARCHAR"}') end as f
    from landed
),

keyed as (
    select
        *,
        case when f is not null then json_keys(record) end as record_keys,
        list_count([f.user_id, f.email, f.platform, f.handle]) as fields_given
    from parsed
),

-- whether the record's keys are contract fields given once (no field beyond, none twice),
-- as a column: the macros below name it several times
named_once as (
    select
        *,
        keys_named_once(record_keys, fields_given, ['user_id', 'email', 'platform', 'handle']) as keys_named_once
    from keyed
),

objects as (
    select
        *,
        record_error(landed_error, f is null, record, record_keys, keys_named_once, ['user_id', 'email', 'platform', 'handle']) as parse_error
    from named_once
),

cleaned as (
    select
        source_file,
        line_no,
        raw,
        parse_error,
        clean_key(f.user_id) as user_id,
        key_as_given(f.user_id) as user_id_as_given,
        address_key(f.email) as email,
        given_text(f.email) as email_as_given,
        lower(unless_missing_marker(clean_identifier(f.platform), from_csv, '')) as platform,
        given_text(f.handle) as handle_as_given,
        lower(ltrim(unless_missing_marker(clean_identifier(f.handle), from_csv, ''), '@')) as handle
    from objects
),

checked as (
    select
        *,
        case
            when parse_error is not null then parse_error
            when user_id is null then 'missing required field user_id'
            -- a handle is read as platform and handle (the social channel's key): alone, it names no one
            when handle is not null and platform is null then 'a handle needs its platform'
            when rounded_id_error('user_id', user_id) is not null then rounded_id_error('user_id', user_id)
            -- a row with a user id alone (or a platform without a handle) is good: the CRM knows
            -- the customer (is_identified), linked to no e-mail or handle
        end as contract_error,
        -- the platform as shown (masked, as the social channel's), its full-width ＠ an @; as
        -- hashed, it is kept as cleaned
        with_plain_at_signs(platform) as platform_shown
    from cleaned
),

-- A refused line's handle, to mask wherever the line repeats it: its own, or, for a line that is
-- not JSON, the one its "handle" field names (a column, computed once: as a macro argument it
-- was expanded at each of mask_handle's mentions, and doubled the time this model takes).
with_line_handle as (
    select
        *,
        case when contract_error is not null then coalesce(handle, handle_named_in(raw)) end as line_handle,
        -- the handle as given, replaced wherever the reason repeats it; not one shorter than 3
        -- characters (a handle "h" made the reason "a @[handle]andle needs its platform"); in the
        -- row's text, see replace_handle
        case when length(handle_as_given) >= 3 then handle_as_given end as handle_to_replace
    from checked
),

-- A refused row's reason and text, masked a step at a time, each step a column: the masking
-- macros name their argument several times, so a step nested in the next one would be copied
-- into it as often, with the patterns it compiles (a tenth of a second of planning per model).
refused_handles_masked as (
    select
        *,
        case when contract_error is not null then mask_handle(replace(replace(contract_error,
            coalesce(case when email is not null then email_as_given end, chr(0)), '[email]'), coalesce(handle_to_replace, chr(0)), '@[handle]'), handle)
        end as reason_handle_masked,
        case when contract_error is not null and (parse_error is null or starts_with(ltrim(raw), '{')) then
            regexp_replace(mask_handle(replace_handle(
                case when email is null then raw else replace(raw, email_as_given, '[email]') end,
                handle_as_given
            -- a line that is not JSON: the handle its "handle" field names
            ), line_handle), '("handle"\s*:\s*")[^"]*"', '\1@[handle]"', 'g')
        end as raw_handle_masked
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
    pseudonymous_id(user_id, 'user') as user_id,
    -- the given id's own hash, as `journey forget` recorded a user id that was an address before
    -- ids were pseudonymized (the run withholds the rows it names)
    -- (or as it was given before invisible marks around it were trimmed)
    case when may_hold_address(user_id) or coalesce(user_id_as_given, user_id) is distinct from user_id
        then keyed_hash('user_id:' || coalesce(user_id_as_given, user_id)) end as user_id_as_given_hash,
    keyed_hash(email) as email_hash,
    -- the address hashed as it was before an encoded @ (%40) was decoded, as `journey forget`
    -- recorded it then (the run withholds the rows it names)
    address_as_given_hash(email_as_given) as email_as_given_hash,
    -- and as it was hashed in its A-label spelling ('xn--') before internationalised domains
    -- were given one form, as `journey forget` recorded it then (the run withholds the rows it names)
    address_a_label_hash(email) as email_a_label_hash,
    case when handle is not null then mask_emails(platform_shown) end as platform,
    keyed_hash(platform || ':' || handle) as handle_hash,
    -- the handle hashed as it was before it was composed (NFC) and invisible marks around it
    -- trimmed, as `journey forget` recorded it then (the run withholds the rows it names)
    handle_as_given_hash(platform, handle_as_given) as handle_as_given_hash,
    source_file,
    line_no,
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
