-- DuckDB macros shared by the staging models: timestamp parsing and masking of personal
-- data. They are the DuckDB-only part of staging, kept in this one file. keyed_hash(x) is
-- defined by journey_analytics.privacy because it carries the secret key.
--
-- (no table)

-- An allowed timestamp as naive UTC: ISO-8601 with an offset (at most 18 hours) or Z (or UTC,
-- GMT, as database exports write it), or epoch milliseconds.
create or replace temp macro parse_event_ts(x) as (
    case
        when x is null then null
        when regexp_full_match(x, '-?[0-9]{1,15}(\.[0-9]+)?')
            then make_timestamp(cast(round(cast(x as double) * 1000) as bigint))
        when regexp_matches(x, '[0-9][Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? ?([zZ]|[+-](0[0-9]|1[0-8])(:?[0-5][0-9])?)$')
            then cast(timezone('UTC', coalesce(
                try_cast(upper(x) as timestamptz),
                -- the forms DuckDB's cast does not take: a decimal comma, a space before the offset
                try_cast(regexp_replace(replace(upper(x), ',', '.'), ' ([Z+-][0-9:]*)$', '\1') as timestamptz)
            )) as timestamp)
        -- UTC or GMT for Z (a branch of its own: in the pattern above it slows every row)
        when regexp_matches(x, '[0-9][Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? ?(?i:utc|gmt)$')
            then cast(timezone('UTC',
                try_cast(regexp_replace(replace(upper(x), ',', '.'), ' ?(UTC|GMT)$', 'Z') as timestamptz)
            ) as timestamp)
        -- epoch milliseconds in scientific notation, as R's write.csv and readr write a round
        -- number (1.79586e+12; as a JSON number it loads already)
        when regexp_full_match(x, '-?[0-9](\.[0-9]+)?[eE]\+?1[0-4]')
            then make_timestamp(cast(round(cast(x as double) * 1000) as bigint))
    end
);

-- Why a timestamp text cannot be used, or null when it can.
create or replace temp macro event_ts_error(x, parsed, arrived_on) as (
    case
        when x is null then 'missing required field event_ts'
        -- (the reasons about an offset or a zone only for an ISO-8601 date and time: "01/10/2026
        -- 10:00:00 +00:00" was said to have an offset out of range, a date in another order)
        when parsed is null
            and regexp_matches(x, '^\s*-?[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? ?[+-][0-9]{2}(:?[0-9]{2})?$')
            and (cast(regexp_extract(x, '[+-]([0-9]{2}):?([0-9]{2})?$', 1) as integer) * 60
                    + coalesce(try_cast(regexp_extract(x, '[+-]([0-9]{2}):?([0-9]{2})?$', 2) as integer), 0) > 18 * 60
                or coalesce(try_cast(regexp_extract(x, '[+-]([0-9]{2}):?([0-9]{2})?$', 2) as integer), 0) > 59)
            then 'event_ts "' || left(x, 40) || '" has an offset outside -18:00 to +18:00'
        when parsed is null
            and regexp_matches(x, '^\s*-?[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? ?([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$')
            then 'event_ts "' || left(x, 40) || '" is not a date and time of the calendar'
        when parsed is null and regexp_matches(x, '^\s*-?[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ].*[0-9]:[0-9]{2}([.,][0-9]+)? ?[+-][0-9]{2}:?[0-9]{2}:?[0-9]{2}$')
            then 'event_ts "' || left(x, 40) || '" has an offset with seconds; give it as +HH:MM'
        when parsed is null and regexp_matches(x, '^\s*-?[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ].*[0-9]:[0-9]{2}([.,][0-9]+)? ?[A-Za-z][A-Za-z/_]+$')
            and not regexp_matches(x, '(?i:utc|gmt)$')
            then 'event_ts "' || left(x, 40) || '" names its time zone; give an offset such as Z or +02:00 (or UTC)'
        -- (a digit in it: DuckDB's cast also takes the words infinity and epoch)
        when parsed is null and try_cast(x as timestamp) is not null and regexp_matches(x, '[0-9]')
            then 'event_ts "' || left(x, 40) || '" has no time zone; give an offset such as Z or +02:00'
        -- epoch microseconds (GA4's BigQuery export) and nanoseconds of this era: say so
        when parsed is null and regexp_full_match(x, '[0-9]{16}')
            then 'event_ts "' || x || '" looks like epoch microseconds (as GA4''s event_timestamp); give epoch milliseconds'
        when parsed is null and regexp_full_match(x, '[0-9]{19}')
            then 'event_ts "' || x || '" looks like epoch nanoseconds; give epoch milliseconds'
        when parsed is null
            then 'event_ts "' || left(x, 40) || '" is not a timestamp (ISO-8601 with offset, or epoch milliseconds)'
        when parsed < make_timestamp(getvariable('earliest_event_year'), 1, 1, 0, 0, 0)
            then 'event_ts ' || strftime(parsed, '%Y-%m-%d') || ' is before ' || getvariable('earliest_event_year') || '-01-01'
                -- epoch seconds read as milliseconds land in January 1970: say so
                || case when regexp_full_match(x, '[0-9]{9,10}(\.[0-9]+)?')
                    then ' (' || x || ' looks like epoch seconds; give epoch milliseconds)' else '' end
        when arrived_on is not null
            and parsed >= cast(arrived_on as timestamp) + to_days(1 + getvariable('max_future_days'))
            then 'event_ts ' || strftime(parsed, '%Y-%m-%d %H:%M') || ' is after the arrival day ' || cast(arrived_on as varchar)
                -- the tolerance said, or a reader wonders why an hour before this row was accepted
                || ' and the ' || getvariable('max_future_days') || ' day(s) after it that [ingest] max_future_days allows'
    end
);

-- Whitespace of any kind (tab, line end, the Unicode spaces).
create or replace temp macro identifier_spaces() as
    chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(32) || chr(133) || chr(160) ||
    chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) ||
    chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) ||
    chr(8239) || chr(8287) || chr(12288);

-- The invisible marks that text pasted from a right-to-left page or a word processor brings:
-- zero-width space, non-joiner and joiner, the left-to-right and right-to-left marks, the
-- embedding and isolate controls, the word joiner and the byte order mark.
create or replace temp macro identifier_marks() as
    chr(8203) || chr(8204) || chr(8205) || chr(8206) || chr(8207) || chr(8234) || chr(8235) ||
    chr(8236) || chr(8237) || chr(8238) || chr(8288) || chr(8294) || chr(8295) || chr(8296) ||
    chr(8297) || chr(65279);

-- An identifier that is hashed (e-mail address, handle, platform): whitespace and invisible
-- marks around it are not part of it, and text in decomposed Unicode (NFD: an e and a
-- combining accent, as macOS writes it) is the same as composed (NFC), or one person would
-- become two customers.
create or replace temp macro clean_identifier(x) as
    case
        when ascii(x) > 32 and ascii(right(x, 1)) > 32 and strlen(x) = length(x) then x  -- plain ASCII, unpadded
        else nullif(nfc_normalize(trim(x, identifier_spaces() || identifier_marks())), '')
    end;

-- An identifier as clean_identifier cleaned it before invisible marks were trimmed and text
-- composed: `journey forget` recorded its hash so (see address_as_given_hash, handle_as_given_hash).
create or replace temp macro identifier_as_before(x) as nullif(trim(x, identifier_spaces()), '');

-- Text with the full-width ＠ (U+FF20, as Japanese and Chinese text writes an address) and the
-- small ﹫ (U+FE6B) as a plain @, so that the masking below, which looks for an @ alone (each
-- check more in may_hold_address costs every staging model), finds an address written with them.
-- (x is named once, so it is computed once.)
create or replace temp macro plain_at_signs(x) as
    replace(replace(x, '＠', '@'), '﹫', '@');

-- plain_at_signs for text that is read as it is, not through trimmed_text (a social message, the
-- fields beyond the contract): plain ASCII text, the common case, is kept without a copy.
create or replace temp macro with_plain_at_signs(x) as
    case when strlen(x) = length(x) then x else plain_at_signs(x) end;

-- Text without the spaces around it (as trim() counts them: the space and the Unicode space
-- separators) and the invisible marks there (a right-to-left mark that an Arabic campaign name
-- pasted from a web page ends in would make a second segment), and blank text as null; a
-- full-width or small at-sign is a plain @ (plain_at_signs). Plain ASCII text with no space at
-- either end, the common case, is kept as it is without making a trimmed copy.
create or replace temp macro trimmed_text(x) as
    case
        when x <> '' and not starts_with(x, ' ') and not ends_with(x, ' ') and strlen(x) = length(x) then x
        else plain_at_signs(nullif(trim(trim(trim(x), identifier_marks())), ''))
    end;

-- An e-mail or handle field as given, for the hashes `journey forget` recorded before (the
-- *_as_given_hash columns) and for masking the row's text: trimmed of spaces only, as
-- trimmed_text trimmed them before it also trimmed invisible marks.
create or replace temp macro given_text(x) as nullif(trim(x), '');

-- How a field's text (trimmed) may be written for a missing value: 'null' for a null marker as
-- database exports, Python's str(None) and JavaScript spell one (NULL, \N, None, nan, undefined); 'na' for
-- how other tools write one: R's NA (write.csv, readr), Excel's #N/A, N/A as people type it (in a
-- CSV, which has no null, such a field is missing; in JSON or Parquet, which have one, the text
-- is meant: "NA" a campaign for North America); 'nan' for a float's NaN as C and Rust print it
-- (NAN, -nan); else null. (A CASE: as an IN list, which DuckDB makes a join, the test took 2 s a
-- million web rows, against 0.5 s)
create or replace temp macro missing_marker_kind(x) as
    case x
        when 'NULL' then 'null' when 'null' then 'null' when 'Null' then 'null' when '\N' then 'null'
        when 'None' then 'null' when 'none' then 'null' when 'nan' then 'null' when 'NaN' then 'null'
        when 'undefined' then 'null' when '(null)' then 'null' when '<null>' then 'null'
        when 'NA' then 'na' when 'N/A' then 'na' when 'n/a' then 'na' when '#N/A' then 'na'
        when 'NAN' then 'nan' when '-nan' then 'nan' when '-NaN' then 'nan'
    end;

-- A key or identifier that a database export wrote as a null marker (missing_marker_kind 'null':
-- NULL, \N, None, nan, undefined, as such tools spell them) is missing, not a value: else every
-- row of an export with "NULL" for user_id would be one customer, and every "NULL" event_id one
-- event. (x is named once: a macro argument named more often is evaluated more often)
create or replace temp macro without_null_marker(x) as
    list_filter([x], lambda v: missing_marker_kind(v) is distinct from 'null')[1];

-- Whether a landing file is a CSV, by its name (as the reader chose its format).
create or replace temp macro written_as_csv(source_file) as
    regexp_matches(source_file, '\.[cC][sS][vV](\.[gG][zZ])?$');

-- A field's text (trimmed_text) as loaded: missing when written for a missing value
-- (missing_marker_kind: a null marker; in a CSV, NA and the like), unless it is the text kept
-- ('NA' for a country: Namibia's code). So an export's campaign \N after one from google no
-- longer starts a new session nor shows as a campaign, and in a CSV an id that names no person
-- (event_id, session_id, message_id, post_id, thread_id) written NA is missing: every event of a
-- device whose rows said session_id NA was one session, whatever the days between. (The ids
-- that name a person: clean_key.) Every spelling is at most 9 characters long.
-- (x is named several times: give a column, not an expression)
create or replace temp macro unless_missing_marker(x, from_csv, kept) as
    case
        when strlen(x) > 9 or x = kept then x
        else case missing_marker_kind(x)
            when 'null' then null
            when 'na' then case when from_csv then null else x end
            else x
        end
    end;

-- The text of a field most rows do not give (value, rating, sentiment, currency): trimmed_text,
-- missing when written as a missing value in any format and spelling, as no number is one: a
-- null marker, an NA marker, a float's NaN (Polars, Python's json: NaN and nan; C's and Rust's
-- printf: NAN, -nan). Else every page_view of a MySQL export (\N for no value) or an R one (NA)
-- was refused as "value is not a number"; and a purchase with currency NULL needs one, as a
-- purchase without does.
create or replace temp macro sparse_field_text(x) as
    case when x is not null then list_filter([trimmed_text(x)], lambda v: missing_marker_kind(v) is null)[1] end;

-- A key as clean_key cleaned it before trimmed_text trimmed invisible marks: `journey forget`
-- recorded a user id or device id so (the *_id_as_given_hash columns). Null for a key in plain
-- ASCII, which has no such marks and which clean_key cleans the same (most keys: no copy made).
-- A null marker with a mark around it ('\u200bnull') was an id then and is missing now: the
-- staging models hash the form as given whenever it is not the cleaned key, null or not.
create or replace temp macro key_as_given(x) as
    case when strlen(x) <> length(x) then without_null_marker(given_text(x)) end;

-- trimmed_text for the keys that name a person (user_id, anonymous_id, order_id): null markers
-- are missing; N/A, NA and the like are kept as given (a user_id or anonymous_id so written names
-- no one when stitching: identifiers_naming_no_one).
-- (the marker is looked for after trimming, so ' NULL' after a comma is missing too)
create or replace temp macro clean_key(x) as without_null_marker(trimmed_text(x));

-- An event name as the contract spells it (names: contract_event_names(channel)) when it is one
-- of those written in another case or with spaces, hyphens or no separators ('Add To Cart',
-- 'add-to-cart', 'AddToCart', 'ADD_TO_CART' are add_to_cart); any other name is kept as given.
-- Config files get the same from journey_analytics.contract.canonical_event_name.
create or replace temp macro canonical_event_name(x, names) as
    case
        when x is null or list_contains(names, x) then x
        else coalesce(
            names[list_position(
                list_transform(names, lambda n: replace(n, '_', '')),
                lower(regexp_replace(x, '[\s_-]+', '', 'g'))
            )],
            x
        )
    end;

-- Whether text may hold an e-mail address: an '@', or one encoded in a URL once (%40) or twice
-- (%2540). Text that cannot is left as it is, without running the patterns below. (Each check
-- more is costly: the masking macros nest this one, so a fourth `contains` made every staging
-- model take a tenth of a second longer to plan; a full-width ＠ or small ﹫ is not looked for
-- here: the staging models make it a plain @ first, with trimmed_text or with_plain_at_signs.)
create or replace temp macro may_hold_address(x) as
    contains(x, '@') or contains(x, '%40') or contains(x, '%2540');

-- The pattern of an e-mail address, its @ also encoded in a URL once or twice (or full-width or
-- small, in text that may_hold_address lets through), its dots also encoded (%2E); letters and
-- digits of any script count (zoë@exämple.de).
create or replace temp macro address_pattern() as
    '[\p{L}\p{N}._%+-]+(@|＠|﹫|%40|%2540)[\p{L}\p{N}-]+((\.|%2[Ee])[\p{L}\p{N}-]+)*(\.|%2[Ee])\p{L}{2,}';

-- Text with the @ of an address decoded where a URL encoded it once (%40) or twice (%2540).
create or replace temp macro decoded_address(x) as
    replace(replace(x, '%2540', '@'), '%40', '@');

-- An e-mail field's address as address_key made it before internationalised domains were
-- given one form (below): trimmed, a null marker missing, in lower case, in Unicode's composed
-- form (NFC: 'josé' typed as e and a combining accent, as macOS and some CRMs write it, is the
-- same text), and its @ decoded when an export wrote it encoded in a URL once (%40) or twice
-- (%2540). (nfc_normalize returns ASCII text as it is, at no cost.)
create or replace temp macro address_key_before_idn(x) as
    decoded_address(nfc_normalize(lower(without_null_marker(clean_identifier(x)))));

-- Whether an e-mail field's text names no address nor digest of one: a missing marker of any kind
-- in any format (NA, #N/A, N/A, NULL, \N: missing_marker_kind), or text of no letter or digit
-- ('-', '?'). R's NA was hashed as an address and joined every customer whose rows said so.
-- (Any other text is hashed as given: an address written '(at)', an ESP's digest of one.)
create or replace temp macro is_no_address(x) as
    strlen(x) <= 12 and (missing_marker_kind(trim(x)) is not null or not regexp_matches(x, '[\p{L}\p{N}]'));

-- The address of a mail header's display form ('"Jane Doe" <jane@example.com>', 'Jane
-- <jane@example.com>'): the one between angle brackets; any other text as it is.
create or replace temp macro address_of_display_form(x) as
    coalesce(nullif(regexp_extract(x, '<\s*([^<>\s]+@[^<>\s]+)\s*>', 1), ''), x);

-- An e-mail field's address as it is hashed: missing when it names no address (is_no_address),
-- the address between angle brackets of a display form (address_of_display_form: the display
-- form was hashed whole, so that "Jane Doe" <jane@x.com> was another person than jane@x.com),
-- else address_key_before_idn, and an internationalised
-- domain in its Unicode form, lower case and composed, whether written so or as the ASCII form
-- (IDNA A-labels) that ESPs and SMTP logs export: 'josé@xn--bcher-kva.de' and 'JOSÉ@BÜCHER.DE'
-- are 'josé@bücher.de' (RFC 5890: one domain), so that one address is one person however it was
-- written (as an id holding one is, below). A domain that is not valid IDNA (a malformed
-- 'xn--zz!') is kept as given. A full-width or small at-sign (＠, ﹫) is an @, as the masking
-- reads it. The conversion is the Python function idn_address
-- (journey_analytics.privacy.canonical_address_domain, registered with keyed_hash); it runs only
-- for an address that is not plain ASCII, is padded or holds '--' (as 'xn--' does, in any case:
-- one check). The others, the common case, stay in SQL: a plain ASCII address with nothing
-- around it is what address_key_before_idn makes of it, without the cleaning it does not need,
-- so this path costs no more than before. (x, a field, is named several times; the costly
-- cleaning once, in the branch few rows take.)
create or replace temp macro address_key(x) as
    case
        when x is null then null  -- most web rows give none; the test below is null for it, so it took the costly branch
        when is_no_address(x) then null
        -- an address with a display name, as mail headers and SMTP logs write one
        when contains(x, '<') then idn_address(plain_at_signs(address_key_before_idn(address_of_display_form(x))))
        when ascii(x) > 32 and ascii(right(x, 1)) > 32 and strlen(x) = length(x) and not contains(x, '--')
            then decoded_address(lower(x))
        else idn_address(plain_at_signs(address_key_before_idn(x)))
    end;

-- For an address (as address_key made it) that is not plain ASCII, as an internationalised
-- domain is once address_key gave it its Unicode form: the identifier hash that `journey forget`
-- recorded for it when erased in the spelling ESPs and SMTP logs export (the domain's A-labels:
-- 'josé@xn--bcher-kva.de'), before domains were given one form and that spelling was another
-- person; null for any other address. (For an address whose domain is ASCII it is the hash of
-- its own key, which is harmless.)
create or replace temp macro address_a_label_hash(address) as
    case when strlen(address) <> length(address)
        then keyed_hash('email:' || keyed_hash(idn_a_label_address(address)))
    end;

-- For an address written with its @ encoded (%40, %2540), not plain ASCII or in a display form
-- (<>): the identifier hash that `journey forget` recorded for it before address_key decoded the
-- @, composed the text, trimmed invisible marks and took the address out of its display form
-- (the address was hashed as written, trimmed and in lower case);
-- null for any other address.
create or replace temp macro address_as_given_hash(x) as
    case when contains(x, '%40') or contains(x, '%2540') or strlen(x) <> length(x) or contains(x, '<')
        then keyed_hash('email:' || keyed_hash(lower(without_null_marker(identifier_as_before(x)))))
    end;

-- For a handle (as given) that is not plain ASCII: the identifier hash that `journey forget`
-- recorded for it before clean_identifier composed the text and trimmed invisible marks; null
-- for any other handle.
create or replace temp macro handle_as_given_hash(platform, x) as
    case when strlen(x) <> length(x)
        then keyed_hash('social_handle:' || keyed_hash(platform || ':' || lower(ltrim(without_null_marker(identifier_as_before(x)), '@'))))
    end;

-- E-mail addresses in free text replaced by a marker.
create or replace temp macro mask_emails(x) as
    case when may_hold_address(x) then
        regexp_replace(x, address_pattern(), '[email]', 'g')
    else x end;

-- An id holding an e-mail address (a store that keys its customers or devices by their address,
-- a thread, campaign or order named after one) is personal data: it becomes its kind ('user',
-- 'device', 'session', 'order', 'event', 'message', 'thread', 'post', 'campaign'), a colon and 24 characters of the keyed hash of the id in lower case (one person
-- whatever the case of the address, or its @ encoded in a URL), so ids stay apart and still
-- join. Any other id is kept.
create or replace temp macro pseudonymous_id(x, kind) as
    case when may_hold_address(x)
        and regexp_matches(x, address_pattern())
        then kind || ':' || substr(keyed_hash(
            kind || ' id with an address:' || decoded_address(lower(x))
        ), 1, 24)
        else x
    end;

-- A customer_id as it is once ids holding an address are pseudonymized: a person's user id, or
-- 'anon:' and a device id (the customer of a device never identified), as identities_stitched
-- names them (for a warehouse built before such ids were pseudonymized).
create or replace temp macro pseudonymous_customer_id(x) as
    case when starts_with(x, 'anon:') then 'anon:' || pseudonymous_id(substr(x, 6), 'device')
        else pseudonymous_id(x, 'user') end;

-- A refused row's text for quarantine, with its e-mail addresses masked more widely than in
-- loaded text: also an address cut short (a truncated line ends in "name@example.") or written
-- with a full-width ＠ or small ﹫ or with its at-sign escaped in JSON (\u0040, \uff20, \ufe6b:
-- a row's raw text is kept as it landed, not made plain), and the value of an "email" field
-- whatever it holds. Only refused rows pay for the patterns.
create or replace temp macro mask_refused_text(x) as
    regexp_replace(
        regexp_replace(mask_emails(x), '[\p{L}\p{N}._%+-]+(@|＠|﹫|%40|%2540|\\u0040|\\u[Ff][Ff]20|\\u[Ff][Ee]6[Bb])[\p{L}\p{N}.-]*', '[email]', 'g'),
        '("email"\s*:\s*")[^"]*', '\1[email]', 'g'
    );

-- A person's own handle (cleaned: lower case, no '@') replaced in text by a marker, in any
-- case and with or without its '@'. Only handles of 3 characters or more are searched for (a
-- shorter one would mark pieces of ordinary words), and the pattern only runs where the handle
-- can occur: in the lowered text, or in text that is not ASCII (case rules differ there).
create or replace temp macro mask_handle(x, handle) as
    case
        when x is null or handle is null or length(handle) < 3 then x
        when contains(lower(x), handle) or strlen(x) <> length(x) or strlen(handle) <> length(handle)
            then regexp_replace(x, '(?i)@?' || regexp_escape(handle), '@[handle]', 'g')
        else x
    end;

-- A refused row's own handle, as given, replaced in its text: wherever it is when it is 3
-- characters or more, a shorter one only where it stands alone (a CSV field, a JSON string), not
-- inside words (a handle "e" replaced in every word made the text unreadable). Not in its reason,
-- whose words are the staging model's: see the handle_to_replace columns.
create or replace temp macro replace_handle(x, handle) as
    case
        when handle is null then x
        when length(handle) >= 3 then replace(x, handle, '@[handle]')
        -- (twice: a match takes the character after the handle, which may stand before it again)
        else regexp_replace(regexp_replace(x,
            '(^|[^\p{L}\p{N}_])@?' || regexp_escape(handle) || '($|[^\p{L}\p{N}_])', '\1@[handle]\2', 'g'),
            '(^|[^\p{L}\p{N}_])@?' || regexp_escape(handle) || '($|[^\p{L}\p{N}_])', '\1@[handle]\2', 'g')
    end;

-- The handle that a line which could not be parsed as JSON names in its "handle" field, cleaned
-- as a parsed row's handle is (lower case, no '@'), so that mask_handle finds it wherever else the
-- line repeats it (its text, an extra field); null when the line names none.
create or replace temp macro handle_named_in(raw) as
    lower(ltrim(without_null_marker(clean_identifier(
        regexp_extract(raw, '"handle"\s*:\s*"([^"\\]*)"', 1)
    )), '@'));

-- E-mail addresses and @handles in free text replaced by markers.
create or replace temp macro mask_personal_text(x) as
    case when may_hold_address(x) then
        regexp_replace(mask_emails(x), '(^|[^\p{L}\p{N}_])@[\p{L}\p{N}_.]+', '\1@[handle]', 'g')
    else x end;

-- The error for an id written as a number in scientific notation with its exponent's sign
-- (6.54321E+12, 1E+15; 6,54321E+12 in a European locale), as Excel saves a long number (12 digits
-- or more) in a cell of the General format, else null. Its digits are lost, and distinct ids read alike: three orders became one
-- order, a customer's events another's, events "repeats" of one. Such an id is refused, naming
-- its field, not merged. (A hex id has no '+' nor '.'; '+' is looked for first, as ids seldom
-- hold one.)
create or replace temp macro rounded_id_error(field, x) as
    case when contains(x, '+') and regexp_full_match(x, '[0-9]([.,][0-9]+)?[eE]\+[0-9]+')
        then field || ' "' || x || '" is a number in scientific notation, as Excel saves a long number: '
            || 'its digits are lost (save the column as text)'
    end;

-- A number that must be a whole number from lo to hi; the error when it is not.
create or replace temp macro integer_range_error(name, x, lo, hi) as (
    case
        when x is null then null
        when try_cast(x as double) is null then name || ' "' || left(x, 40) || '" is not a number'
        when try_cast(x as double) <> round(try_cast(x as double))
            then name || ' ' || left(x, 40) || ' is not a whole number from ' || lo || ' to ' || hi
        when try_cast(x as double) < lo or try_cast(x as double) > hi
            then name || ' ' || left(x, 40) || ' is outside ' || lo || ' to ' || hi
    end
);

-- Whether a record's keys (record_keys, from json_keys) are all named fields, none given twice:
-- then it has no field beyond the contract and no duplicated key, and fields_beyond and
-- record_error skip their costlier checks (the common case). fields_given is how many of the
-- named fields hold a value: a record with no more keys than that is decided without looking at
-- its keys. A record that also gives named fields as null ("user_id": null, as exports that write
-- every column do) is decided by a bit for each named field it gives: as many bits as keys when
-- each key is a named field given once (a key not named adds none; one given twice, a carry).
-- At most 62 named fields. (list_distinct and a merge patch for every such record made web
-- staging 75% slower.) record_keys is a column: it is named several times.
create or replace temp macro keys_named_once(record_keys, fields_given, named) as (
    case
        when len(record_keys) = fields_given then true
        else coalesce(bit_count(list_sum(list_transform(record_keys,
            lambda k: cast(1 as bigint) << list_position(named, k)))) = len(record_keys), false)
    end
);

-- The fields of a record beyond the contract's (the named fields), as a JSON object, or null
-- when it has none. keys_named_once (the macro above) says the record has no other field
-- (the common case, decided without a merge patch).
create or replace temp macro fields_beyond(record, record_keys, keys_named_once, named) as (
    case
        when record_keys is null or keys_named_once then null
        else json_merge_patch(record,  -- a merge patch with null values removes those keys
            '{' || array_to_string(list_transform(named, lambda k: cast(to_json(k) as varchar) || ':null'), ',') || '}')
    end
);

-- Masked JSON text of a list or object as JSON, or, should masking have broken it (a handle
-- holding a backslash), as a JSON string of that text.
create or replace temp macro json_or_text(x) as
    case when json_valid(x) then json(x) else to_json(x) end;

-- The properties column: fields beyond the contract (from fields_beyond) as given (numbers,
-- booleans, lists and objects keep their JSON type), e-mail addresses, @handles and the row's
-- own handle (social; null elsewhere) masked in texts (a text itself, not its JSON escapes; in a
-- list or object, its JSON text, kept as a string should masking break it), null values left
-- out; null when none is left. (Field names are not masked: two masked alike would collide.)
-- The masking goes a step at a time, each step a list of its own: the masking macros name their
-- argument several times, so steps nested in one another were copied into each other as often
-- (a tenth of a second of planning for every staging model).
create or replace temp macro extra_properties(extra_fields, handle) as (
    case
        when extra_fields is null then null
        when may_hold_address(extra_fields) or contains(extra_fields, 'null')
            or contains(extra_fields, 'NaN') or contains(extra_fields, 'Infinity')
            or (length(handle) >= 3 and (contains(lower(extra_fields), handle) or strlen(extra_fields) <> length(extra_fields))) then
            nullif(cast(to_json(map_from_entries(list_transform(
                list_transform(
                    list_transform(
                        list_filter(map_entries(from_json(extra_fields, '"MAP(VARCHAR, JSON)"')), lambda e: e.value is not null),
                        -- a text's own handle masked (a list's or an object's in its JSON text)
                        lambda e: struct_pack(key := e.key, value := e.value, json_kind := json_type(e.value),
                            masked := mask_handle(case json_type(e.value)
                                when 'VARCHAR' then json_extract_string(e.value, '$')
                                when 'OBJECT' then cast(e.value as varchar)
                                when 'ARRAY' then cast(e.value as varchar)
                            end, handle))
                    ),
                    -- then addresses and @handles
                    lambda e: struct_pack(key := e.key, value := e.value, json_kind := e.json_kind,
                        masked := mask_personal_text(e.masked))
                ),
                lambda e: struct_pack(key := e.key, value := case e.json_kind
                    when 'VARCHAR' then to_json(e.masked)
                    when 'OBJECT' then json_or_text(e.masked)
                    when 'ARRAY' then json_or_text(e.masked)
                    -- NaN, Infinity (a Parquet float, Python's json): DuckDB reads them, strict
                    -- JSON readers refuse the whole object; kept as text ("NaN")
                    when 'DOUBLE' then case when cast(e.value as varchar) in ('NaN', 'Infinity', '-Infinity')
                        then to_json(cast(e.value as varchar)) else e.value end
                    else e.value
                end)
            ))) as varchar), '{}')
        else nullif(cast(to_json(from_json(extra_fields, '"MAP(VARCHAR, JSON)"')) as varchar), '{}')
    end
);

-- The first of the named fields whose value is a JSON object or array instead of text.
create or replace temp macro structured_field(record, names) as (
    list_extract(list_filter(
        list_zip(names, json_type(record, list_transform(names, lambda n: '$.' || n))),
        lambda pair: pair[2] in ('OBJECT', 'ARRAY')
    ), 1)[1]
);

-- In a list sorted by key then position ({'k': key, 'i': position}), the position at which a key
-- is first given again, or null: such a repeat sits right after an entry with the same key.
create or replace temp macro first_repeat_in_sorted(sorted_keys) as (
    list_min(list_transform(
        -- true: pairs stop at the shorter list. Padded with a null instead, the last pair's null
        -- was read by DuckDB 2.0 as a repeat of its first entry for some constant inputs.
        list_zip(sorted_keys, sorted_keys[2:], true),
        lambda pair: case when pair[1].k is not distinct from pair[2].k then pair[2].i end
    ))
);

-- The first field name that a JSON object gives twice, or null. Readers disagree on which
-- value counts ({"event_id": "a", "event_id": "b"}), so such a row is refused, not guessed at.
-- Whether a record gives a key twice: for up to 64 keys by each key's first position (a third
-- of the time list_distinct took for the benchmark's records of ten keys); for more keys by
-- list_distinct, whose time does not grow with the square of the keys. Which key it is (only
-- for a record that does give one twice) is found by sorting, for the same reason: searching
-- each key's first position made a run over a line of 160,000 keys take 53 s, sorting 4.7 s
-- (benchmarks/long_lines.py).
create or replace temp macro duplicated_key(keys) as (
    case
        when case when len(keys) <= 64
                then list_bool_or(list_transform(keys, lambda k, i: list_position(keys, k) < i))
                else len(keys) <> len(list_distinct(keys)) end
            then keys[first_repeat_in_sorted(list_sort(
                -- byte order, ascending, whatever the session's default_collation or default_order:
                -- under nocase 'A' and 'a' sorted as one key (and the reason named a key never
                -- given twice); under desc a key's repeat sorted before its first giving
                list_transform(keys, lambda k, i: {'k': k::varchar collate c, 'i': i}), 'ASC', 'NULLS FIRST'
            ))]
    end
);

-- Why a landed record is not a usable JSON object, or null: the checks every staging model
-- makes before it reads the contract's fields (is_unparsed: from_json gave nothing;
-- keys_named_once: the record's keys are contract fields given once (see keys_named_once), so
-- they are only compared for a duplicate when not).
create or replace temp macro record_error(landed_error, is_unparsed, record, record_keys, keys_named_once, fields) as (
    coalesce(
        landed_error,
        case
            when is_unparsed and not json_valid(record) then 'line is not valid JSON'
            when is_unparsed or not starts_with(ltrim(record, chr(32) || chr(9) || chr(10) || chr(13)), '{')  -- JSON's whitespace
                then case
                    -- a webhook's batch (a JSON array of events) landed as it was posted
                    when starts_with(ltrim(record, chr(32) || chr(9) || chr(10) || chr(13)), '[')
                        then 'line is a JSON list, not an object: land one event object per line (JSON Lines)'
                    else 'line is JSON but not an object'
                end
            when not keys_named_once and duplicated_key(record_keys) is not null
                then 'field "' || left(duplicated_key(record_keys), 40) || '" appears more than once'
            when regexp_matches(record, ':\s*[\[{]') and structured_field(record, fields) is not null
                then structured_field(record, fields) || ' must be text, not a JSON object or list'
        end
    )
);
