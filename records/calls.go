package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

var (
	// ErrDuplicate is returned by Start for a call id that already has a
	// record.
	ErrDuplicate = errors.New("call record already exists")
	// ErrNotFound is returned for a call id without a record.
	ErrNotFound = errors.New("call record not found")
	// ErrNoDigits is returned by FindByNumber for a number without digits,
	// which cannot match any record.
	ErrNoDigits = errors.New("number has no digits")
)

const (
	// interruptedReason is the hangup reason MarkInterrupted writes.
	interruptedReason = "server restarted"
	// nodeStoppedReason is the hangup reason MarkNodeInterrupted writes.
	nodeStoppedReason = "node stopped"
)

// Start inserts the record of a new call. It encrypts the caller number and
// stores its lookup hash, unless the caller withheld the number. It returns
// an error wrapping ErrDuplicate when the call id already has a record. The
// check and the insert are one statement, so when several nodes start the
// same call id at once on PostgreSQL, exactly one succeeds.
func (s *Store) Start(ctx context.Context, info StartInfo) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if info.CallID == "" {
		return fmt.Errorf("start call record: %w: empty call id", ErrInvalidInput)
	}

	now := s.now()
	startedAt := info.StartedAt
	if startedAt.IsZero() {
		startedAt = now
	}

	// sealed stays an untyped nil, which the driver stores as NULL.
	var sealed any
	var hash string
	if !info.CallerWithheld && info.CallerNumber != "" {
		sealed = s.numbers.seal(info.CallID, info.CallerNumber)
		hash = s.numbers.hash(NormalizeNumber(info.CallerNumber))
	}

	result, err := s.exec(ctx, `INSERT INTO calls
		(call_id, source, called_number, caller_withheld, caller_number_sealed, caller_hash, started_at, updated_at, node)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (call_id) DO NOTHING`,
		info.CallID, info.Source, info.CalledNumber, info.CallerWithheld, sealed, hash,
		startedAt.UnixNano(), now.UnixNano(), info.Node)
	if err != nil {
		return fmt.Errorf("start call record %s: %w", info.CallID, err)
	}
	return requireOneRow(result, fmt.Sprintf("start call record %s", info.CallID), ErrDuplicate)
}

// Update writes the non-nil fields of p into the record of callID in one
// statement, so concurrent updates of different fields never overwrite each
// other. It also sets UpdatedAt. It returns an error wrapping ErrNotFound
// when the call has no record.
func (s *Store) Update(ctx context.Context, callID string, p Patch) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("update call record %s: %w", callID, err)
	}

	assignments := append(p.assignments(), assignment{column: "updated_at", value: s.now().UnixNano()})
	columns := make([]string, 0, len(assignments))
	args := make([]any, 0, len(assignments)+1)
	for _, a := range assignments {
		columns = append(columns, a.column+" = ?")
		args = append(args, a.value)
	}
	args = append(args, callID)

	// The column names come from assignments, never from the caller.
	query := "UPDATE calls SET " + strings.Join(columns, ", ") + " WHERE call_id = ?"
	result, err := s.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("update call record %s: %w", callID, err)
	}
	return requireOneRow(result, fmt.Sprintf("update call record %s", callID), ErrNotFound)
}

// assignment is one column a patch sets.
type assignment struct {
	column string
	value  any
}

// assignments lists the columns p sets, in a fixed order.
func (p Patch) assignments() []assignment {
	var list []assignment
	addTime := func(column string, t *time.Time) {
		if t != nil {
			list = append(list, assignment{column: column, value: nullableTime(*t)})
		}
	}
	addText := func(column string, text *string) {
		if text != nil {
			list = append(list, assignment{column: column, value: *text})
		}
	}

	addTime("answered_at", p.AnsweredAt)
	addTime("queued_at", p.QueuedAt)
	addTime("counselor_answered_at", p.CounselorAnsweredAt)
	addTime("ended_at", p.EndedAt)
	addText("digits", p.Digits)
	addText("language", p.Language)
	addText("caller_type", p.CallerType)
	addText("queue", p.Queue)
	addText("counselor", p.Counselor)
	addText("transfer_target", p.TransferTarget)
	addText("hangup_reason", p.HangupReason)
	addText("emergency_target", p.EmergencyTarget)
	addText("priority", p.Priority)
	if p.QueueWait != nil {
		list = append(list, assignment{column: "queue_wait_ns", value: int64(*p.QueueWait)})
	}
	if p.Outcome != nil {
		list = append(list, assignment{column: "outcome", value: string(*p.Outcome)})
	}
	if p.HangupSide != nil {
		list = append(list, assignment{column: "hangup_side", value: string(*p.HangupSide)})
	}
	return list
}

// MarkInterrupted closes every record still open, of any node, which at
// start-up means calls a crash or a kill cut off: their outcome becomes
// interrupted, ended at now, hung up by the server for the reason "server
// restarted". In the same transaction it creates an open follow-up task of
// kind interrupted for each closed call with a caller number. It returns
// how many records it closed. Call it before taking calls, because it also
// closes the records of calls in progress. It is for a database that one
// server writes alone (embedded mode). In shared mode, where other nodes'
// calls are in progress, a starting node calls MarkNodeInterrupted with its
// own node ID instead.
func (s *Store) MarkInterrupted(ctx context.Context, now time.Time) (int, error) {
	recs, err := s.MarkInterruptedCalls(ctx, now)
	return len(recs), err
}

// MarkInterruptedCalls does what MarkInterrupted does and returns the
// records it closed, oldest first, with their numbers decrypted, so that
// the caller can create callback tasks for them.
func (s *Store) MarkInterruptedCalls(ctx context.Context, now time.Time) ([]Record, error) {
	recs, err := s.closeInterrupted(ctx, now, interruptedReason, "")
	if err != nil {
		return nil, fmt.Errorf("mark interrupted call records: %w", err)
	}
	if len(recs) > 0 {
		s.log.Warn().Int("count", len(recs)).Msg("call records left open by the previous run marked interrupted")
	}
	return recs, nil
}

// closeInterrupted closes the open records, of node alone when node is not
// empty, with the hangup reason given, and creates their follow-up tasks,
// in one transaction. It returns the closed records, oldest first.
func (s *Store) closeInterrupted(ctx context.Context, now time.Time, reason, node string) ([]Record, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}

	query := `UPDATE calls
		SET outcome = ?, ended_at = ?, hangup_side = ?, hangup_reason = ?, updated_at = ?
		WHERE ended_at IS NULL`
	args := []any{string(OutcomeInterrupted), now.UnixNano(), string(SideServer), reason, s.now().UnixNano()}
	if node != "" {
		query += ` AND node = ?`
		args = append(args, node)
	}

	var recs []Record
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		recs, err = s.queryRecords(ctx, tx, query+` RETURNING `+selectColumns, args...)
		if err != nil {
			return err
		}
		closed := make([]interruptedCall, 0, len(recs))
		for _, rec := range recs {
			closed = append(closed, interruptedCall{callID: rec.CallID, priority: rec.Priority, hasNumber: rec.CallerHash != ""})
		}
		return s.createInterruptedTasks(ctx, tx, closed)
	})
	if err != nil {
		return nil, err
	}

	// RETURNING gives the rows in no defined order.
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].StartedAt.Equal(recs[j].StartedAt) {
			return recs[i].StartedAt.Before(recs[j].StartedAt)
		}
		return recs[i].CallID < recs[j].CallID
	})
	return recs, nil
}

// interruptedCall is a call record that closeInterrupted closed.
type interruptedCall struct {
	callID    string
	priority  string
	hasNumber bool
}

// createInterruptedTasks creates the follow-up task of every call in
// closed that has a caller number. A call marked high risk gives a task
// of risk high; the others are left unjudged.
func (s *Store) createInterruptedTasks(ctx context.Context, tx *sql.Tx, closed []interruptedCall) error {
	today := localDate(s.now())
	for _, call := range closed {
		if !call.hasNumber {
			continue
		}
		task := FollowUp{CallID: call.callID, Kind: FollowUpInterrupted, Origin: OriginInterrupted, DueDate: today}
		if call.priority == highRiskPriority {
			task.Risk = RiskHigh
		}
		if _, err := s.insertFollowUp(ctx, tx, task); err != nil {
			return err
		}
	}
	return nil
}

// highRiskPriority is the priority the IVR sets for a caller in danger.
const highRiskPriority = "high_risk"

// MarkNodeInterrupted closes the open records of node alone, as
// MarkInterrupted does, with the hangup reason "node stopped", creates
// their follow-up tasks as MarkInterrupted does, and returns the records
// it closed, oldest first, with their numbers decrypted. Call it for this
// node at start-up in shared mode, and for a stopped node when taking over
// its calls, such as to create callback tasks for them. When several nodes
// close one node's records at once, each record is returned to exactly one
// of them. An empty node returns ErrInvalidInput, because the records of a
// server running alone have no node; use MarkInterrupted there.
func (s *Store) MarkNodeInterrupted(ctx context.Context, node string, now time.Time) ([]Record, error) {
	if node == "" {
		return nil, fmt.Errorf("mark interrupted call records of a node: %w: empty node", ErrInvalidInput)
	}

	recs, err := s.closeInterrupted(ctx, now, nodeStoppedReason, node)
	if err != nil {
		return nil, fmt.Errorf("mark interrupted call records of node %s: %w", node, err)
	}
	if len(recs) > 0 {
		s.log.Warn().Str("node", node).Int("count", len(recs)).Msg("call records left open by a stopped node marked interrupted")
	}
	return recs, nil
}

// requireOneRow turns a statement that changed no row into notChanged.
func requireOneRow(result sql.Result, doing string, notChanged error) error {
	count, err := result.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	if count == 0 {
		return fmt.Errorf("%s: %w", doing, notChanged)
	}
	return nil
}

// nullableTime stores the zero time as NULL and any other time as Unix
// nanoseconds.
func nullableTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}
