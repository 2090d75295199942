-- One row per call, inserted when the call arrives and updated at each step.
-- Times are Unix nanoseconds in UTC; NULL means the call never reached that
-- step. The caller's number exists only sealed: a 12-byte nonce, then the
-- AES-256-GCM ciphertext and tag, with the call id as additional data.
-- Each version makes the same change as the SQLite migration of that
-- version, with PostgreSQL types.
CREATE TABLE calls (
    call_id               TEXT    NOT NULL PRIMARY KEY,
    source                TEXT    NOT NULL,
    called_number         TEXT    NOT NULL,
    caller_withheld       BOOLEAN NOT NULL,
    caller_number_sealed  BYTEA,
    caller_hash           TEXT    NOT NULL,
    started_at            BIGINT  NOT NULL,
    answered_at           BIGINT,
    queued_at             BIGINT,
    counselor_answered_at BIGINT,
    ended_at              BIGINT,
    digits                TEXT    NOT NULL DEFAULT '',
    language              TEXT    NOT NULL DEFAULT '',
    caller_type           TEXT    NOT NULL DEFAULT '',
    queue                 TEXT    NOT NULL DEFAULT '',
    counselor             TEXT    NOT NULL DEFAULT '',
    transfer_target       TEXT    NOT NULL DEFAULT '',
    queue_wait_ns         BIGINT  NOT NULL DEFAULT 0,
    outcome               TEXT    NOT NULL DEFAULT '',
    hangup_side           TEXT    NOT NULL DEFAULT '',
    hangup_reason         TEXT    NOT NULL DEFAULT '',
    updated_at            BIGINT  NOT NULL
);

CREATE INDEX calls_by_started_at ON calls (started_at);

-- Lookup of the calls from one number without decrypting.
CREATE INDEX calls_by_caller_hash ON calls (caller_hash) WHERE caller_hash <> '';

-- The calls MarkInterrupted closes after a crash.
CREATE INDEX calls_open ON calls (call_id) WHERE ended_at IS NULL;
