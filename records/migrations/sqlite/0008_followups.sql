-- One row per call whose counselor saved a wrap-up: who called (reporter),
-- the isolation checklist score (0 to 5 yes answers), the risk the
-- counselor judged, and the follow-up the call needs. notes_sealed holds
-- the counselor's notes sealed like calls.caller_number_sealed, with
-- 'wrapup:' and the call id as additional data; NULL when there are none
-- or after the retention purge. due_date is YYYY-MM-DD in local time, empty
-- when followup is 'none'. saved_at is Unix nanoseconds in UTC.
CREATE TABLE wrapups (
    call_id         TEXT    NOT NULL PRIMARY KEY,
    counselor       TEXT    NOT NULL,
    reporter        TEXT    NOT NULL,
    isolation_score INTEGER NOT NULL CHECK (isolation_score BETWEEN 0 AND 5),
    risk            TEXT    NOT NULL,
    notes_sealed    BLOB,
    followup        TEXT    NOT NULL,
    due_date        TEXT    NOT NULL DEFAULT '',
    district        TEXT    NOT NULL DEFAULT '',
    saved_at        INTEGER NOT NULL
) STRICT;

-- One row per follow-up task: a wrap-up's follow-up (origin 'wrap_up'), a
-- callback task (origin 'server_callback', callback_id names the task), or
-- a call the server cut off (origin 'interrupted'). state is 'open' or
-- 'closed'. notes_sealed holds the notes, one "time user: note" line each,
-- sealed with 'followup:' and the task id as additional data. Times are
-- Unix nanoseconds in UTC; closed_at is NULL while the task is open.
CREATE TABLE followups (
    id           TEXT    NOT NULL PRIMARY KEY,
    call_id      TEXT    NOT NULL,
    callback_id  TEXT    NOT NULL DEFAULT '',
    kind         TEXT    NOT NULL,
    origin       TEXT    NOT NULL,
    risk         TEXT    NOT NULL DEFAULT '',
    district     TEXT    NOT NULL DEFAULT '',
    due_date     TEXT    NOT NULL DEFAULT '',
    owner        TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL CHECK (state IN ('open', 'closed')),
    outcome      TEXT    NOT NULL DEFAULT '',
    notes_sealed BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    closed_at    INTEGER
) STRICT;

CREATE INDEX followups_by_call_id ON followups (call_id);

CREATE INDEX followups_open ON followups (due_date) WHERE state = 'open';

-- One task per callback, and one per interrupted call, even when several
-- nodes create it at once.
CREATE UNIQUE INDEX followups_by_callback_id ON followups (callback_id) WHERE callback_id <> '';

CREATE UNIQUE INDEX followups_interrupted_call ON followups (call_id) WHERE origin = 'interrupted';
