package records

import (
	"context"
	"fmt"
	"time"
)

// Kinds of talk that leave a call waiting for its counselor's wrap-up.
const (
	// PendingKindCall is an inbound call the counselor answered.
	PendingKindCall = "call"
	// PendingKindCallback is a call whose callback the counselor talked
	// on; its wrap-up is saved under the call that asked for the callback.
	PendingKindCallback = "callback"
)

// maxPendingWrapUps caps the list PendingWrapUps returns.
const maxPendingWrapUps = 20

// PendingWrapUp is a call a counselor talked on whose wrap-up is not
// saved yet.
type PendingWrapUp struct {
	CallID     string
	StartedAt  time.Time
	Queue      string
	Language   string
	CallerType string
	// Kind is PendingKindCall or PendingKindCallback.
	Kind string
	// TalkedAt is when the counselor answered the call, or when the
	// answered callback attempt started.
	TalkedAt time.Time
}

// PendingWrapUps returns the calls that counselor talked on since then
// and that have no saved wrap-up, newest talk first, each call once. These
// are the ended inbound calls they answered (calls started at or after
// since) and the calls whose callback they talked on (attempts started at
// or after since). A call still in progress is left out. limit caps the
// list at most at 20; zero or less means 20.
func (s *Store) PendingWrapUps(ctx context.Context, counselor string, since time.Time, limit int) ([]PendingWrapUp, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > maxPendingWrapUps {
		limit = maxPendingWrapUps
	}

	rows, err := s.reader.QueryContext(ctx, s.dialect.bind(`SELECT c.call_id, c.started_at, c.queue, c.language, c.caller_type,
		t.kind, t.talked_at
		FROM (
			SELECT call_id, '`+PendingKindCall+`' AS kind, counselor_answered_at AS talked_at FROM calls
			WHERE counselor = ? AND counselor <> '' AND counselor_answered_at IS NOT NULL
			AND ended_at IS NOT NULL AND started_at >= ?
			UNION ALL
			SELECT b.call_id, '`+PendingKindCallback+`' AS kind, a.started_at AS talked_at
			FROM callback_attempts a JOIN callbacks b ON b.task_id = a.task_id
			WHERE a.counselor = ? AND a.outcome = ? AND a.started_at >= ?
		) t
		JOIN calls c ON c.call_id = t.call_id
		LEFT JOIN wrapups w ON w.call_id = t.call_id
		WHERE w.call_id IS NULL
		ORDER BY t.talked_at DESC, c.call_id DESC`),
		counselor, since.UnixNano(), counselor, attemptAnswered, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("list the calls of counselor %s without a wrap-up: %w", counselor, err)
	}
	defer rows.Close()

	var list []PendingWrapUp
	seen := make(map[string]bool)
	for rows.Next() && len(list) < limit {
		var p PendingWrapUp
		var startedAt, talkedAt int64
		if err := rows.Scan(&p.CallID, &startedAt, &p.Queue, &p.Language, &p.CallerType, &p.Kind, &talkedAt); err != nil {
			return nil, fmt.Errorf("list the calls of counselor %s without a wrap-up: %w", counselor, err)
		}
		if seen[p.CallID] {
			continue
		}
		seen[p.CallID] = true
		p.StartedAt, p.TalkedAt = unixNanoUTC(startedAt), unixNanoUTC(talkedAt)
		list = append(list, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the calls of counselor %s without a wrap-up: %w", counselor, err)
	}
	return list, nil
}
