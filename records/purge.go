package records

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PurgeResult counts the rows one Purge anonymized.
type PurgeResult struct {
	// Calls lost their sealed number and lookup hash.
	Calls int
	// WrapUps and FollowUps lost their notes.
	WrapUps   int
	FollowUps int
	// Callbacks lost their sealed number and lookup hash.
	Callbacks int
}

// Total is the sum of the counts.
func (r PurgeResult) Total() int {
	return r.Calls + r.WrapUps + r.FollowUps + r.Callbacks
}

// purgeableCalls selects the ids of calls that ended before the cutoff
// (the one argument) and have no open follow-up task and no unfinished
// callback, because the team still works on those and needs the number.
const purgeableCalls = `SELECT p.call_id FROM calls p
	WHERE p.ended_at IS NOT NULL AND p.ended_at < ?
	AND NOT EXISTS (SELECT 1 FROM followups o WHERE o.call_id = p.call_id AND o.state = 'open')
	AND NOT EXISTS (SELECT 1 FROM callbacks u WHERE u.call_id = p.call_id AND u.ended_at IS NULL)`

// Purge anonymizes the personal data of calls that ended before
// olderThan, in one transaction: the calls' sealed numbers and lookup
// hashes, the notes of their wrap-ups and follow-up tasks, and the numbers
// of their callbacks. Counts, times, outcomes and vocabularies stay, so
// statistics still add up. A call with an open follow-up task or an
// unfinished callback is kept whole until those end. Purge is idempotent:
// a second run with the same cutoff changes and counts nothing.
func (s *Store) Purge(ctx context.Context, olderThan time.Time) (PurgeResult, error) {
	if err := s.checkOpen(); err != nil {
		return PurgeResult{}, err
	}
	cutoff := olderThan.UnixNano()
	now := s.now().UnixNano()

	var result PurgeResult
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		steps := []struct {
			count *int
			query string
			args  []any
		}{
			{&result.WrapUps, `UPDATE wrapups SET notes_sealed = NULL
				WHERE notes_sealed IS NOT NULL AND call_id IN (` + purgeableCalls + `)`, []any{cutoff}},
			{&result.FollowUps, `UPDATE followups SET notes_sealed = NULL, updated_at = ?
				WHERE notes_sealed IS NOT NULL AND call_id IN (` + purgeableCalls + `)`, []any{now, cutoff}},
			{&result.Callbacks, `UPDATE callbacks SET number_sealed = NULL, number_hash = '', updated_at = ?
				WHERE (number_sealed IS NOT NULL OR number_hash <> '') AND call_id IN (` + purgeableCalls + `)`, []any{now, cutoff}},
			{&result.Calls, `UPDATE calls SET caller_number_sealed = NULL, caller_hash = '', updated_at = ?
				WHERE (caller_number_sealed IS NOT NULL OR caller_hash <> '') AND call_id IN (` + purgeableCalls + `)`, []any{now, cutoff}},
		}
		for _, step := range steps {
			changed, err := s.txExec(ctx, tx, step.query, step.args...)
			if err != nil {
				return err
			}
			count, err := changed.RowsAffected()
			if err != nil {
				return err
			}
			*step.count = int(count)
		}
		return nil
	})
	if err != nil {
		return PurgeResult{}, fmt.Errorf("purge records older than %s: %w", olderThan.UTC().Format(time.RFC3339), err)
	}
	return result, nil
}
