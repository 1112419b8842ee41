-- Label rows (known stages) of the files being loaded, typed and checked.
-- contract_error says why a row is refused; null means the row is good. contract_reason
-- codes it (see sql/macros/refusal_macros.sql).
--
-- (staging view; not published)
with landed as (
    select * from landed_labels_rows
),

parsed as (
    select
        source_file,
        written_as_csv(source_file) as from_csv,
        line_no,
        raw,
        parse_error as landed_error,
        coalesce(record, raw) as record,
        case when json_valid(coalesce(record, raw)) then from_json(coalesce(record, raw), '{"user_id":"VARCHAR","stage":"VARCHAR","as_of_date":"VARCHAR"}') end as f
    from landed
),

keyed as (
    select
        *,
        case when f is not null then json_keys(record) end as record_keys,
        list_count([f.user_id, f.stage, f.as_of_date]) as fields_given
    from parsed
),

-- whether the record's keys are contract fields given once (no field beyond, none twice),
-- as a column: the macros below name it several times
named_once as (
    select
        *,
        keys_named_once(record_keys, fields_given, ['user_id', 'stage', 'as_of_date']) as keys_named_once
    from keyed
),

objects as (
    select
        *,
        record_error(landed_error, f is null, record, record_keys, keys_named_once, ['user_id', 'stage', 'as_of_date']) as parse_error
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
        lower(clean_identifier(f.stage)) as stage,  -- whitespace of any kind around it (a tab) is not part of it
        unless_missing_marker(trimmed_text(f.as_of_date), from_csv, '') as as_of_date_text,
        -- YYYY-MM-DD only: DuckDB's cast also takes 'infinity', 'epoch', a time after the date, ' 1-1-1 '
        case when regexp_full_match(unless_missing_marker(trimmed_text(f.as_of_date), from_csv, ''), '[0-9]{4}-[0-9]{2}-[0-9]{2}')
            then try_cast(unless_missing_marker(trimmed_text(f.as_of_date), from_csv, '') as date) end as as_of_date
    from objects
),

checked as (
    select
        *,
        case
            when parse_error is not null then parse_error
            when user_id is null then 'missing required field user_id'
            when rounded_id_error('user_id', user_id) is not null then rounded_id_error('user_id', user_id)
            when stage is null then 'missing required field stage'
            when stage not in ('awareness', 'consideration', 'purchase', 'retention', 'advocacy')
                then 'stage "' || left(stage, 40) || '" is not one of awareness, consideration, purchase, retention, advocacy'
            when as_of_date_text is null then 'missing required field as_of_date'
            when as_of_date is null then 'as_of_date "' || left(as_of_date_text, 40) || '" is not a date (YYYY-MM-DD)'
        end as contract_error
    from cleaned
),

-- A refused row's reason and text, masked a step at a time, each step a column (see stg_social_events).
refused_personal_masked as (
    select
        *,
        case when contract_error is not null then mask_personal_text(contract_error) end as reason_personal_masked,
        case when contract_error is not null then mask_personal_text(raw) end as raw_personal_masked
    from checked
)

select
    pseudonymous_id(user_id, 'user') as user_id,
    -- the given id's own hash, as `journey forget` recorded a user id that was an address before
    -- ids were pseudonymized (the run withholds the rows it names)
    -- (or as it was given before invisible marks around it were trimmed)
    case when may_hold_address(user_id) or coalesce(user_id_as_given, user_id) is distinct from user_id
        then keyed_hash('user_id:' || coalesce(user_id_as_given, user_id)) end as user_id_as_given_hash,
    stage,
    as_of_date,
    source_file,
    line_no,
    -- a reason may quote a value, so it is masked as the text is
    -- the kind of refusal as a code (quarantine.reason), read from the reason before it is masked
    case when contract_error is not null then refusal_reason(line_no, contract_error) end as contract_reason,
    case when contract_error is not null then mask_refused_text(reason_personal_masked) end as contract_error,
    case when contract_error is not null then mask_refused_text(raw_personal_masked) end as raw_masked
from refused_personal_masked
