package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CallbackState is the stage a callback task has reached.
type CallbackState string

// Callback task states. Completed, failed and cancelled are final.
const (
	// CallbackPending is a task waiting for its turn or its next attempt.
	CallbackPending CallbackState = "pending"
	// CallbackDialling is a task whose counselor answered and whose caller
	// is being dialled.
	CallbackDialling CallbackState = "dialling"
	// CallbackCompleted is a task whose caller answered and was bridged.
	CallbackCompleted CallbackState = "completed"
	// CallbackFailed is a task that used every attempt, or that could not
	// be dialled at all, such as for a withheld number.
	CallbackFailed CallbackState = "failed"
	// CallbackCancelled is a task a supervisor cancelled.
	CallbackCancelled CallbackState = "cancelled"
)

// Final reports whether no attempt follows a task in state s.
func (s CallbackState) Final() bool {
	return s == CallbackCompleted || s == CallbackFailed || s == CallbackCancelled
}

// Valid reports whether s is one of the CallbackState constants.
func (s CallbackState) Valid() bool {
	return s == CallbackPending || s == CallbackDialling || s.Final()
}

var (
	// ErrCallbackNotFound is returned for a task id without a callback row.
	ErrCallbackNotFound = errors.New("callback task not found")
	// ErrCallbackExists is returned by CreateCallback for a task id that
	// already has a row.
	ErrCallbackExists = errors.New("callback task already exists")
)

// Callback is one callback task as stored.
type Callback struct {
	// TaskID identifies the task. It is also its entry's ID in the queue.
	TaskID string
	// CallID is the Call-ID of the call the caller made.
	CallID string
	Queue  string
	// Reason is the cause of the task: requested, abandoned, high_risk or
	// overflow.
	Reason string
	State  CallbackState
	// Number is the decrypted number to dial, empty when withheld or when
	// decryption failed (then NumberErr is set).
	Number         string
	NumberWithheld bool
	NumberErr      error
	// Priority and EnqueuedAt are the caller's place in the queue, which
	// the task keeps.
	Priority   int
	EnqueuedAt time.Time
	CreatedAt  time.Time
	// EndedAt is when the task reached a final state, else zero.
	EndedAt time.Time
	// EndReason is the cause of a failure or cancellation.
	EndReason string
	UpdatedAt time.Time
	// Attempts are the dialling attempts in order.
	Attempts []CallbackAttempt
}

// CallbackAttempt is one try at dialling a caller back.
type CallbackAttempt struct {
	TaskID string
	// Attempt numbers the attempts of one task from 1.
	Attempt   int
	Counselor string
	StartedAt time.Time
	// EndedAt is zero while the attempt runs.
	EndedAt time.Time
	// SIPStatus is the final status of the INVITE to the caller, or 0 when
	// none arrived (no route, timeout, counselor hung up first).
	SIPStatus int
	// Outcome is answered, busy, no_answer, declined, unavailable,
	// counselor_gone or no_route.
	Outcome string
}

// CreateCallback inserts a new task, and in the same transaction its
// follow-up task (kind callback, origin server_callback), which is closed
// at once when cb is already completed or cancelled. The number is sealed
// unless the caller withheld it. Creation is idempotent by task ID: for a
// task ID that already has a row, it changes nothing and returns an error
// wrapping ErrCallbackExists. The check and the insert are one statement,
// so when several nodes create a task with one ID at once, such as an ID
// derived from an interrupted call's ID, exactly one succeeds and the
// others get ErrCallbackExists.
func (s *Store) CreateCallback(ctx context.Context, cb Callback) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if cb.TaskID == "" || !cb.State.Valid() {
		return fmt.Errorf("create callback %q: %w: empty task id or unknown state %q", cb.TaskID, ErrInvalidInput, cb.State)
	}

	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.insertCallback(ctx, tx, cb); err != nil {
			return err
		}
		if _, err := s.insertFollowUp(ctx, tx, callbackTask(cb, localDate(s.now()))); err != nil {
			return err
		}
		return s.syncCallbackTask(ctx, tx, cb.TaskID, cb.State, cb.EndReason, s.now())
	})
	if err != nil {
		return fmt.Errorf("create callback %s: %w", cb.TaskID, err)
	}
	return nil
}

// insertCallback inserts the callbacks row of cb, or returns
// ErrCallbackExists.
func (s *Store) insertCallback(ctx context.Context, tx *sql.Tx, cb Callback) error {
	var sealed any
	var hash string
	if !cb.NumberWithheld && cb.Number != "" {
		sealed = s.numbers.seal(cb.TaskID, cb.Number)
		hash = s.numbers.hash(NormalizeNumber(cb.Number))
	}
	now := s.now()
	result, err := s.txExec(ctx, tx, `INSERT INTO callbacks
		(task_id, call_id, queue, reason, state, number_withheld, number_sealed, number_hash, priority,
		 enqueued_at, created_at, ended_at, end_reason, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (task_id) DO NOTHING`,
		cb.TaskID, cb.CallID, cb.Queue, cb.Reason, string(cb.State), cb.NumberWithheld, sealed, hash, cb.Priority,
		cb.EnqueuedAt.UnixNano(), cb.CreatedAt.UnixNano(), nullableTime(cb.EndedAt), cb.EndReason, now.UnixNano())
	if err != nil {
		return err
	}
	return requireOneRow(result, "insert callback", ErrCallbackExists)
}

// callbackHighRiskReason is the reason of a task for a high-risk caller.
const callbackHighRiskReason = "high_risk"

// callbackTask builds the follow-up task that mirrors cb, due today.
func callbackTask(cb Callback, today string) FollowUp {
	task := FollowUp{
		CallID: cb.CallID, CallbackID: cb.TaskID, Kind: FollowUpCallback, Origin: OriginServerCallback, DueDate: today,
	}
	if cb.Reason == callbackHighRiskReason {
		task.Risk = RiskHigh
	}
	return task
}

// SetCallbackState changes a task's state. A final state sets EndedAt to
// at and EndReason to reason. In the same transaction the task's open
// follow-up is closed for completed (outcome callback_completed) or
// cancelled (callback_cancelled). A failed task leaves it open, with a
// note giving the reason, for the team to reach the caller another way.
func (s *Store) SetCallbackState(ctx context.Context, taskID string, state CallbackState, reason string, at time.Time) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if !state.Valid() {
		return fmt.Errorf("set callback %s state: %w: unknown state %q", taskID, ErrInvalidInput, state)
	}
	var endedAt any
	if state.Final() {
		endedAt = at.UnixNano()
	}
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		result, err := s.txExec(ctx, tx, `UPDATE callbacks
			SET state = ?, ended_at = ?, end_reason = ?, updated_at = ? WHERE task_id = ?`,
			string(state), endedAt, reason, s.now().UnixNano(), taskID)
		if err != nil {
			return err
		}
		if err := requireOneRow(result, "update callback", ErrCallbackNotFound); err != nil {
			return err
		}
		return s.syncCallbackTask(ctx, tx, taskID, state, reason, at)
	})
	if err != nil {
		return fmt.Errorf("set callback %s state: %w", taskID, err)
	}
	return nil
}

// callbackNoteUser is the user name of the notes the server writes.
const callbackNoteUser = "server"

// syncCallbackTask brings the open follow-up of callback taskID in line
// with the callback's state: closed after completed or cancelled, a note
// after failed, unchanged otherwise.
func (s *Store) syncCallbackTask(ctx context.Context, tx *sql.Tx, taskID string, state CallbackState, reason string, at time.Time) error {
	var outcome string
	switch state {
	case CallbackCompleted:
		outcome = OutcomeCallbackCompleted
	case CallbackCancelled:
		outcome = OutcomeCallbackCancelled
	case CallbackFailed:
		return s.noteFailedCallback(ctx, tx, taskID, reason, at)
	default:
		return nil
	}
	now := s.now().UnixNano()
	_, err := s.txExec(ctx, tx, `UPDATE followups SET state = ?, outcome = ?, closed_at = ?, updated_at = ?
		WHERE callback_id = ? AND state = ?`,
		string(FollowUpClosed), outcome, now, now, taskID, string(FollowUpOpen))
	if err != nil {
		return fmt.Errorf("close the callback's follow-up: %w", err)
	}
	return nil
}

// noteFailedCallback appends the failure to the notes of the callback's
// open follow-up. Notes that do not decrypt are left as they are, with a
// warning, because the callback's state matters more.
func (s *Store) noteFailedCallback(ctx context.Context, tx *sql.Tx, taskID, reason string, at time.Time) error {
	var id string
	var sealed []byte
	err := s.txQueryRow(ctx, tx, `SELECT id, notes_sealed FROM followups WHERE callback_id = ? AND state = ?`+s.dialect.lockRow,
		taskID, string(FollowUpOpen)).Scan(&id, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the callback's follow-up: %w", err)
	}
	note := "callback failed"
	if reason != "" {
		note += ": " + reason
	}
	err = s.appendTaskNote(ctx, tx, id, sealed, callbackNoteUser, note, at.UnixNano())
	if errors.Is(err, ErrDecryptNotes) {
		s.log.Warn().Str("callback_id", taskID).Str("followup_id", id).Msg("follow-up notes do not decrypt, failed callback not noted")
		return nil
	}
	return err
}

// StartCallbackAttempt inserts an attempt that has started.
func (s *Store) StartCallbackAttempt(ctx context.Context, a CallbackAttempt) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO callback_attempts
		(task_id, attempt, counselor, started_at) VALUES (?, ?, ?, ?)`,
		a.TaskID, a.Attempt, a.Counselor, a.StartedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("start callback %s attempt %d: %w", a.TaskID, a.Attempt, err)
	}
	return nil
}

// FinishCallbackAttempt stores the end, SIP status and outcome of an
// attempt.
func (s *Store) FinishCallbackAttempt(ctx context.Context, a CallbackAttempt) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	result, err := s.exec(ctx, `UPDATE callback_attempts
		SET ended_at = ?, sip_status = ?, outcome = ? WHERE task_id = ? AND attempt = ?`,
		nullableTime(a.EndedAt), a.SIPStatus, a.Outcome, a.TaskID, a.Attempt)
	if err != nil {
		return fmt.Errorf("finish callback %s attempt %d: %w", a.TaskID, a.Attempt, err)
	}
	return requireOneRow(result, fmt.Sprintf("finish callback %s attempt %d", a.TaskID, a.Attempt), ErrCallbackNotFound)
}

// callbackColumns lists the columns scanCallback reads, in its order.
const callbackColumns = `task_id, call_id, queue, reason, state, number_withheld, number_sealed, priority,
	enqueued_at, created_at, ended_at, end_reason, updated_at`

// ListCallbacks returns every task with its attempts, oldest first.
func (s *Store) ListCallbacks(ctx context.Context) ([]Callback, error) {
	return s.listCallbacks(ctx, `SELECT `+callbackColumns+` FROM callbacks ORDER BY created_at, task_id`)
}

// ListOpenCallbacks returns the tasks that are pending or dialling, with
// their attempts, oldest first.
func (s *Store) ListOpenCallbacks(ctx context.Context) ([]Callback, error) {
	return s.listCallbacks(ctx, `SELECT `+callbackColumns+` FROM callbacks WHERE state IN (?, ?) ORDER BY created_at, task_id`,
		string(CallbackPending), string(CallbackDialling))
}

// listCallbacks runs a select of callbackColumns and adds the attempts.
func (s *Store) listCallbacks(ctx context.Context, query string, args ...any) ([]Callback, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.reader.QueryContext(ctx, s.dialect.bind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	defer rows.Close()

	var list []Callback
	index := map[string]int{}
	for rows.Next() {
		cb, err := s.scanCallback(rows)
		if err != nil {
			return nil, fmt.Errorf("list callbacks: %w", err)
		}
		index[cb.TaskID] = len(list)
		list = append(list, cb)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	if err := s.addAttempts(ctx, list, index); err != nil {
		return nil, err
	}
	return list, nil
}

// addAttempts reads every attempt and attaches each to its task.
func (s *Store) addAttempts(ctx context.Context, list []Callback, index map[string]int) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT task_id, attempt, counselor, started_at, ended_at, sip_status, outcome
		FROM callback_attempts ORDER BY task_id, attempt`)
	if err != nil {
		return fmt.Errorf("list callback attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a CallbackAttempt
		var startedAt int64
		var endedAt sql.NullInt64
		if err := rows.Scan(&a.TaskID, &a.Attempt, &a.Counselor, &startedAt, &endedAt, &a.SIPStatus, &a.Outcome); err != nil {
			return fmt.Errorf("list callback attempts: %w", err)
		}
		a.StartedAt = unixNanoUTC(startedAt)
		a.EndedAt = nullTime(endedAt)
		if i, ok := index[a.TaskID]; ok {
			list[i].Attempts = append(list[i].Attempts, a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list callback attempts: %w", err)
	}
	return nil
}

// scanCallback reads one row of callbackColumns and decrypts its number.
func (s *Store) scanCallback(row rowScanner) (Callback, error) {
	var cb Callback
	var sealed []byte
	var state string
	var enqueuedAt, createdAt, updatedAt int64
	var endedAt sql.NullInt64
	err := row.Scan(&cb.TaskID, &cb.CallID, &cb.Queue, &cb.Reason, &state, &cb.NumberWithheld, &sealed, &cb.Priority,
		&enqueuedAt, &createdAt, &endedAt, &cb.EndReason, &updatedAt)
	if err != nil {
		return Callback{}, err
	}
	cb.State = CallbackState(state)
	cb.EnqueuedAt = unixNanoUTC(enqueuedAt)
	cb.CreatedAt = unixNanoUTC(createdAt)
	cb.EndedAt = nullTime(endedAt)
	cb.UpdatedAt = unixNanoUTC(updatedAt)
	if sealed != nil {
		cb.Number, cb.NumberErr = s.numbers.open(cb.TaskID, sealed)
	}
	return cb, nil
}
