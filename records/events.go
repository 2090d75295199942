package records

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"helpline/events"
)

// EventListOptions selects the events ListEvents returns.
type EventListOptions struct {
	// Since keeps the events at or after it. The zero time keeps all.
	Since time.Time
	// Limit caps the number of events. Zero or less means no cap.
	Limit int
}

// AppendEvents stores evs in one transaction, in the order given. The
// stored rows get their own increasing ids, which ListEvents returns as
// Seq, so the Seq of each event in evs is not stored. An event without a Type
// fails the whole batch with ErrInvalidInput and stores nothing.
func (s *Store) AppendEvents(ctx context.Context, evs []events.Event) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}

	const insertEvent = `INSERT INTO events (at, type, call_id, counselor_id, queue, data)
		VALUES (?, ?, ?, ?, ?, ?)`
	rows := make([][]any, 0, len(evs))
	for _, e := range evs {
		row, err := s.eventRow(e)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}

	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, row := range rows {
			// txExec binds the placeholders and, on SQLite, reuses
			// the prepared statement for every event.
			if _, err := s.txExec(ctx, tx, insertEvent, row...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d events: %w", len(evs), err)
	}
	return nil
}

// eventRow returns the column values of e. An event without a time gets
// the store's clock.
func (s *Store) eventRow(e events.Event) ([]any, error) {
	if e.Type == "" {
		return nil, fmt.Errorf("append event: %w: empty type (call %q)", ErrInvalidInput, e.CallID)
	}
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	data := []byte("{}")
	if len(e.Data) > 0 {
		var err error
		if data, err = json.Marshal(e.Data); err != nil {
			return nil, fmt.Errorf("append event %s: encode data: %w", e.Type, err)
		}
	}
	return []any{at.UnixNano(), string(e.Type), e.CallID, e.CounselorID, e.Queue, string(data)}, nil
}

// ListEvents returns the stored events at or after opts.Since in the order
// they were appended. Each event's Seq is its row id, which keeps growing
// across restarts, and At is in UTC.
func (s *Store) ListEvents(ctx context.Context, opts EventListOptions) ([]events.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}

	var limit any = opts.Limit
	if opts.Limit <= 0 {
		limit = s.dialect.noLimit
	}
	since := int64(math.MinInt64)
	if !opts.Since.IsZero() {
		since = opts.Since.UnixNano()
	}

	rows, err := s.reader.QueryContext(ctx, s.dialect.bind(`SELECT id, at, type, call_id, counselor_id, queue, data
		FROM events WHERE at >= ? ORDER BY id LIMIT ?`), since, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()

	var list []events.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return list, nil
}

// scanEvent reads one row of the events table.
func scanEvent(row rowScanner) (events.Event, error) {
	var (
		e         events.Event
		at        int64
		eventType string
		data      string
	)
	if err := row.Scan(&e.Seq, &at, &eventType, &e.CallID, &e.CounselorID, &e.Queue, &data); err != nil {
		return events.Event{}, err
	}
	e.At = unixNanoUTC(at)
	e.Type = events.Type(eventType)
	if data != "" && data != "{}" {
		if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
			return events.Event{}, fmt.Errorf("event %d: decode data: %w", e.Seq, err)
		}
	}
	return e, nil
}

// CountEventRows returns how many stored events have the time, type, call,
// counselor and queue of e. It ignores the data and the row id, so it
// finds an event that an earlier write stored. An event without a time
// matches none, because AppendEvents gives it the store's clock.
func (s *Store) CountEventRows(ctx context.Context, e events.Event) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	if e.At.IsZero() {
		return 0, nil
	}
	var count int
	err := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT COUNT(*) FROM events
		WHERE at = ? AND type = ? AND call_id = ? AND counselor_id = ? AND queue = ?`),
		e.At.UnixNano(), string(e.Type), e.CallID, e.CounselorID, e.Queue).Scan(&count)
	if err != nil {
		return 0, fmt.Errorf("count stored %s events of call %q: %w", e.Type, e.CallID, err)
	}
	return count, nil
}
