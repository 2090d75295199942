-- One row per event of the server's event stream (events.Event), in the
-- order they were published, like Asterisk's queue_log. Rows are only ever
-- inserted. id orders the rows across restarts, because the stream's own
-- sequence numbers start again at 1 in every run. at is Unix nanoseconds in
-- UTC. data is a JSON object of strings and never holds a full phone number.
CREATE TABLE events (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    call_id      TEXT    NOT NULL DEFAULT '',
    counselor_id TEXT    NOT NULL DEFAULT '',
    queue        TEXT    NOT NULL DEFAULT '',
    data         TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX events_by_at ON events (at);

CREATE INDEX events_by_call_id ON events (call_id) WHERE call_id <> '';
