package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// attemptAnswered is the outcome of a callback attempt whose caller
// answered and was bridged to the counselor.
const attemptAnswered = "answered"

// CallbackAnswer is a callback that a counselor talked on: an attempt
// whose caller answered.
type CallbackAnswer struct {
	// TaskID is the callback task.
	TaskID string
	// CallID is the call that asked for the callback. Its record holds
	// the IVR choices, and the wrap-up of the callback is saved under it.
	CallID string
	// StartedAt is when the answered attempt started.
	StartedAt time.Time
}

// LastCallbackAnswer returns the latest callback that counselor talked on
// among the attempts started at or after since (any time when since is
// zero), or an error wrapping ErrNotFound when there is none.
func (s *Store) LastCallbackAnswer(ctx context.Context, counselor string, since time.Time) (CallbackAnswer, error) {
	if err := s.checkOpen(); err != nil {
		return CallbackAnswer{}, err
	}
	var from int64 // a zero since, whose UnixNano is undefined, means any time
	if !since.IsZero() {
		from = since.UnixNano()
	}
	var answer CallbackAnswer
	var started int64
	err := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT a.task_id, c.call_id, a.started_at
		FROM callback_attempts a JOIN callbacks c ON c.task_id = a.task_id
		WHERE a.counselor = ? AND a.outcome = ? AND a.started_at >= ?
		ORDER BY a.started_at DESC, a.task_id DESC LIMIT 1`),
		counselor, attemptAnswered, from).Scan(&answer.TaskID, &answer.CallID, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return CallbackAnswer{}, fmt.Errorf("last callback of counselor %s: %w", counselor, ErrNotFound)
	}
	if err != nil {
		return CallbackAnswer{}, fmt.Errorf("last callback of counselor %s: %w", counselor, err)
	}
	answer.StartedAt = time.Unix(0, started)
	return answer, nil
}

// TalkedOnCallback reports whether counselor talked to the caller of
// callID on one of its callbacks, so that they may save its wrap-up.
func (s *Store) TalkedOnCallback(ctx context.Context, callID, counselor string) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	var count int
	err := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT COUNT(*)
		FROM callback_attempts a JOIN callbacks c ON c.task_id = a.task_id
		WHERE c.call_id = ? AND a.counselor = ? AND a.outcome = ?`),
		callID, counselor, attemptAnswered).Scan(&count)
	if err != nil {
		return false, fmt.Errorf("check the callbacks of call %s for counselor %s: %w", callID, counselor, err)
	}
	return count > 0, nil
}

// CallOfCallback returns the call that asked for the callback task taskID,
// or an error wrapping ErrNotFound when there is no such task.
func (s *Store) CallOfCallback(ctx context.Context, taskID string) (string, error) {
	if err := s.checkOpen(); err != nil {
		return "", err
	}
	var callID string
	err := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT call_id FROM callbacks WHERE task_id = ?`), taskID).Scan(&callID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("callback task %s: %w", taskID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("callback task %s: %w", taskID, err)
	}
	return callID, nil
}
