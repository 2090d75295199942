-- One row per web login session. token_hash is the hex SHA-256 of the
-- session cookie's token: the token itself is never stored, so a copy of
-- the database does not let anyone log in. Times are Unix nanoseconds in
-- UTC.
CREATE TABLE web_sessions (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    user_name  TEXT   NOT NULL,
    role       TEXT   NOT NULL,
    counselor  TEXT   NOT NULL DEFAULT '',
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

-- One row per audited action of a web user or the API token: logins,
-- logouts, looking at a call, revealing a number, exports. Times are Unix
-- nanoseconds in UTC. It never holds a password or a full phone number.
CREATE TABLE audit_log (
    id        BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    user_name TEXT   NOT NULL,
    role      TEXT   NOT NULL,
    source    TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL DEFAULT '',
    detail    TEXT   NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_by_at ON audit_log (at);
