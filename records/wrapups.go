package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

const (
	// maxHistory caps the calls History returns.
	maxHistory = 20
	// summaryLength is the length in characters of a history entry's
	// summary, the start of the wrap-up notes.
	summaryLength = 200
)

// SaveWrapUp validates w and stores it as the wrap-up of its call. When
// w.FollowUp is not FollowUpNone it also creates the follow-up task, in
// the same transaction, seeded with the notes. A call has one wrap-up: a
// second one returns an error wrapping ErrWrapUpExists unless replace is
// set, which overwrites it and closes the replaced wrap-up's open task
// with outcome OutcomeWrapUpReplaced. A bad value returns a *FieldError,
// an unknown call an error wrapping ErrNotFound, and either way nothing is
// written. It returns the wrap-up as stored.
func (s *Store) SaveWrapUp(ctx context.Context, w WrapUp, replace bool) (WrapUp, error) {
	if err := s.checkOpen(); err != nil {
		return WrapUp{}, err
	}
	now := s.now()
	if err := w.validate(localDate(now)); err != nil {
		return WrapUp{}, fmt.Errorf("save wrap-up of call %s: %w", w.CallID, err)
	}
	w.SavedAt = now.UTC()
	w.NotesErr = nil
	w.FollowUpID = ""

	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.fillCounselor(ctx, tx, &w); err != nil {
			return err
		}
		if err := s.writeWrapUp(ctx, tx, w, replace); err != nil {
			return err
		}
		if replace {
			if err := s.closeWrapUpTasks(ctx, tx, w.CallID, now); err != nil {
				return err
			}
		}
		if w.FollowUp == FollowUpNone {
			return nil
		}
		id, err := s.insertFollowUp(ctx, tx, newWrapUpTask(w, now))
		w.FollowUpID = id
		return err
	})
	if err != nil {
		return WrapUp{}, fmt.Errorf("save wrap-up of call %s: %w", w.CallID, err)
	}
	return w, nil
}

// fillCounselor checks that the call has a record and takes the counselor
// from it when w names none.
func (s *Store) fillCounselor(ctx context.Context, tx *sql.Tx, w *WrapUp) error {
	var counselor string
	err := s.txQueryRow(ctx, tx, `SELECT counselor FROM calls WHERE call_id = ?`, w.CallID).Scan(&counselor)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read call record: %w", err)
	}
	if w.Counselor == "" {
		w.Counselor = counselor
	}
	return nil
}

// writeWrapUp inserts w, or overwrites the call's wrap-up when replace is
// set.
func (s *Store) writeWrapUp(ctx context.Context, tx *sql.Tx, w WrapUp, replace bool) error {
	conflict := `DO NOTHING`
	if replace {
		conflict = `DO UPDATE SET counselor = excluded.counselor, reporter = excluded.reporter,
			isolation_score = excluded.isolation_score, risk = excluded.risk, notes_sealed = excluded.notes_sealed,
			followup = excluded.followup, due_date = excluded.due_date, district = excluded.district,
			saved_at = excluded.saved_at`
	}
	result, err := s.txExec(ctx, tx, `INSERT INTO wrapups
		(call_id, counselor, reporter, isolation_score, risk, notes_sealed, followup, due_date, district, saved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (call_id) `+conflict,
		w.CallID, w.Counselor, string(w.Reporter), w.IsolationScore, string(w.Risk),
		s.sealNotes(wrapUpNotesPrefix+w.CallID, w.Notes), string(w.FollowUp), w.DueDate, w.District, w.SavedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("write wrap-up: %w", err)
	}
	return requireOneRow(result, "write wrap-up", ErrWrapUpExists)
}

// closeWrapUpTasks closes the open tasks that earlier wrap-ups of callID
// created.
func (s *Store) closeWrapUpTasks(ctx context.Context, tx *sql.Tx, callID string, now time.Time) error {
	_, err := s.txExec(ctx, tx, `UPDATE followups SET state = ?, outcome = ?, closed_at = ?, updated_at = ?
		WHERE call_id = ? AND origin = ? AND state = ?`,
		string(FollowUpClosed), OutcomeWrapUpReplaced, now.UnixNano(), now.UnixNano(),
		callID, string(OriginWrapUp), string(FollowUpOpen))
	if err != nil {
		return fmt.Errorf("close the replaced wrap-up's follow-up: %w", err)
	}
	return nil
}

// newWrapUpTask builds the follow-up task of a wrap-up, its notes starting
// with the wrap-up's notes.
func newWrapUpTask(w WrapUp, now time.Time) FollowUp {
	task := FollowUp{
		CallID: w.CallID, Kind: w.FollowUp, Origin: OriginWrapUp, Risk: w.Risk,
		District: w.District, DueDate: w.DueDate, State: FollowUpOpen,
	}
	if w.Notes != "" {
		task.Notes = appendNote("", now, w.Counselor, w.Notes)
	}
	return task
}

// GetWrapUp returns the wrap-up of callID, or an error wrapping
// ErrWrapUpNotFound. Notes that do not decrypt set WrapUp.NotesErr.
func (s *Store) GetWrapUp(ctx context.Context, callID string) (WrapUp, error) {
	if err := s.checkOpen(); err != nil {
		return WrapUp{}, err
	}

	var w WrapUp
	var reporter, risk, followUp string
	var sealed []byte
	var savedAt int64
	err := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT call_id, counselor, reporter, isolation_score, risk,
		notes_sealed, followup, due_date, district, saved_at FROM wrapups WHERE call_id = ?`), callID).
		Scan(&w.CallID, &w.Counselor, &reporter, &w.IsolationScore, &risk, &sealed, &followUp, &w.DueDate, &w.District, &savedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return WrapUp{}, fmt.Errorf("get wrap-up of call %s: %w", callID, ErrWrapUpNotFound)
	}
	if err != nil {
		return WrapUp{}, fmt.Errorf("get wrap-up of call %s: %w", callID, err)
	}
	w.Reporter, w.Risk, w.FollowUp = Reporter(reporter), Risk(risk), FollowUpKind(followUp)
	w.SavedAt = unixNanoUTC(savedAt)
	w.Notes, w.NotesErr = s.openNotes(wrapUpNotesPrefix+callID, sealed)

	w.FollowUpID, err = s.latestWrapUpTask(ctx, callID)
	if err != nil {
		return WrapUp{}, fmt.Errorf("get wrap-up of call %s: %w", callID, err)
	}
	return w, nil
}

// latestWrapUpTask returns the id of the newest task a wrap-up of callID
// created, or "".
func (s *Store) latestWrapUpTask(ctx context.Context, callID string) (string, error) {
	var id string
	err := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT id FROM followups
		WHERE call_id = ? AND origin = ? ORDER BY created_at DESC, id DESC LIMIT 1`), callID, string(OriginWrapUp)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the wrap-up's follow-up: %w", err)
	}
	return id, nil
}

// HistoryEntry is one earlier call of a caller, with its wrap-up when one
// was saved.
type HistoryEntry struct {
	CallID    string
	StartedAt time.Time
	Outcome   Outcome
	QueueWait time.Duration
	// HasWrapUp is false for a call without a wrap-up; Risk, FollowUp and
	// Summary are then empty.
	HasWrapUp bool
	Risk      Risk
	FollowUp  FollowUpKind
	// Summary is the first 200 characters of the wrap-up notes.
	Summary string
	// SummaryErr is set when the notes do not decrypt.
	SummaryErr error
}

// History returns the calls whose caller hash is callerHash, except
// excludeCallID, newest first, with their wrap-ups. limit caps the list at
// most at 20; zero or less means 20. An empty hash, as for a withheld
// number, matches no call.
func (s *Store) History(ctx context.Context, callerHash, excludeCallID string, limit int) ([]HistoryEntry, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if callerHash == "" {
		return nil, nil
	}
	if limit <= 0 || limit > maxHistory {
		limit = maxHistory
	}

	rows, err := s.reader.QueryContext(ctx, s.dialect.bind(`SELECT c.call_id, c.started_at, c.outcome, c.queue_wait_ns,
		w.call_id, w.risk, w.followup, w.notes_sealed
		FROM calls c LEFT JOIN wrapups w ON w.call_id = c.call_id
		WHERE c.caller_hash = ? AND c.call_id <> ?
		ORDER BY c.started_at DESC, c.call_id DESC LIMIT ?`), callerHash, excludeCallID, limit)
	if err != nil {
		return nil, fmt.Errorf("read caller history: %w", err)
	}
	defer rows.Close()

	var list []HistoryEntry
	for rows.Next() {
		entry, err := s.scanHistory(rows)
		if err != nil {
			return nil, fmt.Errorf("read caller history: %w", err)
		}
		list = append(list, entry)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read caller history: %w", err)
	}
	return list, nil
}

// scanHistory reads one row of the History query.
func (s *Store) scanHistory(row rowScanner) (HistoryEntry, error) {
	var e HistoryEntry
	var startedAt, queueWait int64
	var outcome string
	var wrapUpCallID, risk, followUp sql.NullString
	var sealed []byte
	if err := row.Scan(&e.CallID, &startedAt, &outcome, &queueWait, &wrapUpCallID, &risk, &followUp, &sealed); err != nil {
		return HistoryEntry{}, err
	}
	e.StartedAt = unixNanoUTC(startedAt)
	e.Outcome = Outcome(outcome)
	e.QueueWait = time.Duration(queueWait)
	if !wrapUpCallID.Valid {
		return e, nil
	}

	e.HasWrapUp = true
	e.Risk, e.FollowUp = Risk(risk.String), FollowUpKind(followUp.String)
	notes, err := s.openNotes(wrapUpNotesPrefix+e.CallID, sealed)
	e.Summary, e.SummaryErr = truncateRunes(notes, summaryLength), err
	return e, nil
}

// truncateRunes returns the first n characters of text.
func truncateRunes(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	runes := []rune(text)
	return string(runes[:n])
}

// localDate returns the date of t in local time as YYYY-MM-DD.
func localDate(t time.Time) string {
	return t.Local().Format(DateLayout)
}

// LatestCallOf returns the call that counselor talked on last: the call
// they answered last, by the time of answering, or the call that asked
// for the callback they talked on after it. It returns an error wrapping
// ErrNotFound for a counselor without such calls.
func (s *Store) LatestCallOf(ctx context.Context, counselor string) (Record, error) {
	if err := s.checkOpen(); err != nil {
		return Record{}, err
	}
	recs, err := s.queryRecords(ctx, s.reader, `SELECT `+selectColumns+` FROM calls
		WHERE counselor = ? AND counselor <> '' AND counselor_answered_at IS NOT NULL
		ORDER BY counselor_answered_at DESC, call_id DESC LIMIT 1`, counselor)
	if err != nil {
		return Record{}, fmt.Errorf("find the latest call of counselor %s: %w", counselor, err)
	}

	var since time.Time
	if len(recs) > 0 {
		since = recs[0].CounselorAnsweredAt
	}
	answer, err := s.LastCallbackAnswer(ctx, counselor, since)
	switch {
	case err == nil && (len(recs) == 0 || answer.StartedAt.After(since)):
		return s.Get(ctx, answer.CallID)
	case err != nil && !errors.Is(err, ErrNotFound):
		return Record{}, fmt.Errorf("find the latest call of counselor %s: %w", counselor, err)
	case len(recs) == 0:
		return Record{}, fmt.Errorf("find the latest call of counselor %s: %w", counselor, ErrNotFound)
	}
	return recs[0], nil
}
