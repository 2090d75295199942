-- One row per callback task: a caller to be called back, created when a
-- waiting caller asked for it, hung up after a long wait, was at high risk,
-- or met a queue's overflow rule. Times are Unix nanoseconds in UTC. The
-- number is sealed like calls.caller_number_sealed, with the task id as
-- additional data; NULL when the caller withheld it.
CREATE TABLE callbacks (
    task_id         TEXT    NOT NULL PRIMARY KEY,
    call_id         TEXT    NOT NULL,
    queue           TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    number_withheld INTEGER NOT NULL CHECK (number_withheld IN (0, 1)),
    number_sealed   BLOB,
    number_hash     TEXT    NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    enqueued_at     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    end_reason      TEXT    NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX callbacks_by_call_id ON callbacks (call_id);

-- One row per dialling attempt of a task, numbered from 1.
CREATE TABLE callback_attempts (
    task_id    TEXT    NOT NULL REFERENCES callbacks (task_id),
    attempt    INTEGER NOT NULL,
    counselor  TEXT    NOT NULL DEFAULT '',
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    sip_status INTEGER NOT NULL DEFAULT 0,
    outcome    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (task_id, attempt)
) STRICT;
