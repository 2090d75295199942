package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AnsweredByCounselor returns how many calls each counselor answered in
// [from, to), keyed by counselor ID. Counselors without an answered call
// are missing from the map. Like Figures, it looks for the start of a
// call at most StatsLookback before from.
func (s *Store) AnsweredByCounselor(ctx context.Context, from, to time.Time) (map[string]int, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.reader.QueryContext(ctx, s.dialect.bind(`SELECT counselor, COUNT(*) FROM calls
		WHERE started_at >= ? AND started_at < ? AND counselor_answered_at >= ? AND counselor_answered_at < ?
		AND counselor <> ''
		GROUP BY counselor`),
		from.Add(-StatsLookback).UnixNano(), to.UnixNano(), from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("count answered calls by counselor: %w", err)
	}
	defer rows.Close()

	counts := make(map[string]int)
	for rows.Next() {
		var id string
		var count int
		if err := rows.Scan(&id, &count); err != nil {
			return nil, fmt.Errorf("count answered calls by counselor: %w", err)
		}
		counts[id] = count
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count answered calls by counselor: %w", err)
	}
	return counts, nil
}

// LastAnsweredCall returns the record of the latest call that counselor
// answered among the calls started at or after since, or an error wrapping
// ErrNotFound when there is none. A number that does not decrypt sets
// Record.CallerNumberErr, as in Get.
func (s *Store) LastAnsweredCall(ctx context.Context, counselor string, since time.Time) (Record, error) {
	if err := s.checkOpen(); err != nil {
		return Record{}, err
	}
	row := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT `+selectColumns+` FROM calls
		WHERE started_at >= ? AND counselor = ? AND counselor_answered_at IS NOT NULL
		ORDER BY counselor_answered_at DESC, call_id DESC LIMIT 1`),
		since.UnixNano(), counselor)
	rec, sealed, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("last call of counselor %s: %w", counselor, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("last call of counselor %s: %w", counselor, err)
	}
	s.decryptNumber(&rec, sealed)
	return rec, nil
}
