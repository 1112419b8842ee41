-- Known journey stages from a CRM or a survey (labels/ in the landing folder), used to
-- train and evaluate the stage classifier. One row per distinct user, stage and date (a
-- customer whose latest label day gives two stages is left unlabelled, not guessed at).
--
-- user_id: The business's customer id.
-- stage: awareness, consideration, purchase, retention or advocacy.
-- as_of_date: The day the stage was true.
-- source_file: Landing file the row came from.
-- line_no: Line number in that file, 1-based.
-- run_id: The pipeline run that loaded the row.
create table if not exists raw.labels (
    user_id varchar not null,
    stage varchar not null,
    as_of_date date not null,
    source_file varchar not null,
    line_no bigint not null,
    run_id varchar not null
);
