-- The reason code of a refusal: quarantine.reason, a stable, value-free name for each kind of
-- refusal, so that analysts count refusals by kind without a regular expression over the
-- error's text (which quotes the refused value). The staging models code each refused row
-- from its error before it is masked; the quarantine ledger codes the rows of a warehouse
-- made before the column existed from the error as stored. Run before the ledgers (it
-- depends on nothing else).
--
-- (no table)

-- The code of a quarantine row, from its line number (null: the file as a whole was refused)
-- and its error, whose fixed wording comes from the staging models, the landing macros
-- (record_error, event_ts_error, integer_range_error) and ingest's reading of a file; 'unknown'
-- for a wording this version does not produce. A value quoted in an error can hold any text,
-- so each wording is matched by its fixed start and end, never by words in between. Call it
-- with columns: each argument is named in many branches. A new refusal in the staging models
-- needs its wording here, and its code in sql/ledgers/quarantine.sql's comment.
create or replace temp macro refusal_reason(line_no, error) as (
    case
        when line_no is null then 'unreadable_file'
        when regexp_matches(error, '^[a-z_]+ "')
            and ends_with(error, '" is a number in scientific notation, as Excel saves a long number: its digits are lost (save the column as text)')
            then 'bad_type'
        when error = 'line is not valid JSON' then 'unparseable_json'
        when error = 'line is JSON but not an object' or starts_with(error, 'line is a JSON list, not an object')
            then 'not_json_object'
        when error = 'line is not valid UTF-8 text' then 'not_utf8'
        when starts_with(error, 'line is longer than the limit of ') then 'line_too_long'
        when starts_with(error, 'line could not be read: ') then 'unreadable_line'
        when starts_with(error, 'CSV row ') then 'bad_csv_row'
        when starts_with(error, 'field "') and ends_with(error, '" appears more than once') then 'duplicate_field'
        when starts_with(error, 'missing required field ')
            or error in ('web event needs an anonymous_id or a user_id', 'a handle needs its platform')
            then 'missing_required_field'
        when regexp_full_match(error, '(purchase|refund) needs an? (order_id|value|currency)') then 'missing_order_field'
        -- (refused by versions before a CRM row with a user_id alone was loaded)
        when error = 'row links user_id to nothing (no email, no handle)' then 'no_identifier'
        when starts_with(error, 'event_ts "') then 'bad_timestamp'
        when regexp_matches(error, '^event_ts -?[0-9]{4,}-[0-9]{2}-[0-9]{2} is before ') then 'timestamp_too_early'
        when regexp_matches(error, '^event_ts [0-9]{4,}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} is after the arrival day ')
            then 'timestamp_in_future'
        when starts_with(error, 'stage "')
            and ends_with(error, '" is not one of awareness, consideration, purchase, retention, advocacy')
            then 'unknown_stage'
        when starts_with(error, 'as_of_date "') and ends_with(error, '" is not a date (YYYY-MM-DD)') then 'bad_date'
        when regexp_full_match(error, '[a-z_]+ must be text, not a JSON object or list') then 'bad_type'
        when regexp_matches(error, '^(value|sentiment|rating) "') and ends_with(error, '" is not a number') then 'bad_type'
        when starts_with(error, 'rating ') and regexp_matches(error, ' is not a whole number from -?[0-9]+ to -?[0-9]+$')
            then 'bad_type'
        when starts_with(error, 'value "') and ends_with(error, '" is out of range (at most 14 digits before the point)')
            then 'out_of_range'
        when regexp_matches(error, '^(sentiment|rating) ') and regexp_matches(error, ' is outside -?[0-9]+ to -?[0-9]+$')
            then 'out_of_range'
        else 'unknown'
    end
);
