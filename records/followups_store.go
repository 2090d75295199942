package records

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// followUpIDPrefix starts every follow-up task id.
const followUpIDPrefix = "fu-"

// followUpColumns lists the columns scanFollowUp reads, in its order: the
// task, then the sealed numbers of its call and of its callback.
const followUpColumns = `f.id, f.call_id, f.callback_id, f.kind, f.origin, f.risk, f.district, f.due_date, f.owner,
	f.state, f.outcome, f.notes_sealed, f.created_at, f.updated_at, f.closed_at,
	c.caller_withheld, c.caller_number_sealed, cb.number_withheld, cb.number_sealed`

// followUpJoins joins a task to its call and its callback.
const followUpJoins = ` FROM followups f
	LEFT JOIN calls c ON c.call_id = f.call_id
	LEFT JOIN callbacks cb ON cb.task_id = f.callback_id`

// followUpOrder sorts by risk, imminent first and unjudged tasks between
// medium and low, then by due date.
const followUpOrder = ` ORDER BY CASE f.risk
	WHEN 'imminent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN '' THEN 3 WHEN 'low' THEN 4 ELSE 5 END,
	f.due_date, f.created_at, f.id`

// newFollowUpID returns a random task id.
func newFollowUpID() string {
	return followUpIDPrefix + strings.ToLower(rand.Text())
}

// insertFollowUp inserts task as open with a new id, unless a unique index
// (one task per callback, one per interrupted call) already has it. It
// returns the new id, or "" when the task existed.
func (s *Store) insertFollowUp(ctx context.Context, tx *sql.Tx, task FollowUp) (string, error) {
	id := newFollowUpID()
	now := s.now().UnixNano()
	result, err := s.txExec(ctx, tx, `INSERT INTO followups
		(id, call_id, callback_id, kind, origin, risk, district, due_date, owner, state, outcome, notes_sealed,
		 created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		id, task.CallID, task.CallbackID, string(task.Kind), string(task.Origin), string(task.Risk), task.District,
		task.DueDate, task.Owner, string(FollowUpOpen), "", s.sealNotes(followUpNotesPrefix+id, task.Notes), now, now)
	if err != nil {
		return "", fmt.Errorf("create %s follow-up of call %s: %w", task.Kind, task.CallID, err)
	}
	count, err := result.RowsAffected()
	if err != nil {
		return "", fmt.Errorf("create %s follow-up of call %s: %w", task.Kind, task.CallID, err)
	}
	if count == 0 {
		return "", nil
	}
	return id, nil
}

// ListFollowUps returns the tasks filter selects, by risk (imminent first,
// tasks no counselor judged between medium and low), then due date. An
// unknown filter value returns a *FieldError. Numbers and notes that do
// not decrypt set NumberErr and NotesErr and do not fail the list.
func (s *Store) ListFollowUps(ctx context.Context, filter FollowUpFilter) ([]FollowUp, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := filter.validate(); err != nil {
		return nil, fmt.Errorf("list follow-ups: %w", err)
	}

	where, args := filter.conditions()
	list, err := s.queryFollowUps(ctx, s.reader, `SELECT `+followUpColumns+followUpJoins+where+followUpOrder, args...)
	if err != nil {
		return nil, fmt.Errorf("list follow-ups: %w", err)
	}
	return list, nil
}

// conditions returns the WHERE clause of the filter and its arguments.
func (f FollowUpFilter) conditions() (string, []any) {
	var clauses []string
	var args []any
	add := func(clause string, value any) {
		clauses = append(clauses, clause)
		args = append(args, value)
	}
	if f.State != "" {
		add("f.state = ?", string(f.State))
	}
	if f.Kind != "" {
		add("f.kind = ?", string(f.Kind))
	}
	if f.District != "" {
		add("f.district = ?", f.District)
	}
	if f.Risk != "" {
		add("f.risk = ?", string(f.Risk))
	}
	if f.DueBefore != "" {
		add("f.due_date < ?", f.DueBefore)
	}
	if f.CallerHash != "" {
		add("c.caller_hash = ?", f.CallerHash)
	}
	if len(clauses) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(clauses, " AND "), args
}

// GetFollowUp returns one task, or an error wrapping ErrFollowUpNotFound.
func (s *Store) GetFollowUp(ctx context.Context, id string) (FollowUp, error) {
	if err := s.checkOpen(); err != nil {
		return FollowUp{}, err
	}
	list, err := s.queryFollowUps(ctx, s.reader, `SELECT `+followUpColumns+followUpJoins+` WHERE f.id = ?`, id)
	if err != nil {
		return FollowUp{}, fmt.Errorf("get follow-up %s: %w", id, err)
	}
	if len(list) == 0 {
		return FollowUp{}, fmt.Errorf("get follow-up %s: %w", id, ErrFollowUpNotFound)
	}
	return list[0], nil
}

// queryFollowUps runs a select of followUpColumns and decrypts each task's
// notes and number.
func (s *Store) queryFollowUps(ctx context.Context, db querier, query string, args ...any) ([]FollowUp, error) {
	rows, err := db.QueryContext(ctx, s.dialect.bind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var list []FollowUp
	for rows.Next() {
		task, err := s.scanFollowUp(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, task)
	}
	return list, rows.Err()
}

// scanFollowUp reads one row of followUpColumns.
func (s *Store) scanFollowUp(row rowScanner) (FollowUp, error) {
	var f FollowUp
	var kind, origin, risk, state string
	var notes, callSealed, callbackSealed []byte
	var createdAt, updatedAt int64
	var closedAt sql.NullInt64
	var callWithheld, callbackWithheld sql.NullBool
	err := row.Scan(&f.ID, &f.CallID, &f.CallbackID, &kind, &origin, &risk, &f.District, &f.DueDate, &f.Owner,
		&state, &f.Outcome, &notes, &createdAt, &updatedAt, &closedAt,
		&callWithheld, &callSealed, &callbackWithheld, &callbackSealed)
	if err != nil {
		return FollowUp{}, err
	}
	f.Kind, f.Origin, f.Risk, f.State = FollowUpKind(kind), FollowUpOrigin(origin), Risk(risk), FollowUpState(state)
	f.CreatedAt, f.UpdatedAt, f.ClosedAt = unixNanoUTC(createdAt), unixNanoUTC(updatedAt), nullTime(closedAt)
	f.Notes, f.NotesErr = s.openNotes(followUpNotesPrefix+f.ID, notes)

	// A callback's own number is the one dialled, so it comes first.
	switch {
	case f.CallbackID != "" && callbackWithheld.Valid:
		f.NumberWithheld = callbackWithheld.Bool
		if callbackSealed != nil {
			f.Number, f.NumberErr = s.numbers.open(f.CallbackID, callbackSealed)
		}
	case callWithheld.Valid:
		f.NumberWithheld = callWithheld.Bool
		if callSealed != nil {
			f.Number, f.NumberErr = s.numbers.open(f.CallID, callSealed)
		}
	}
	return f, nil
}

// AssignFollowUp sets the owner of an open task and returns the task. An
// empty or too long owner returns a *FieldError.
func (s *Store) AssignFollowUp(ctx context.Context, id, owner string) (FollowUp, error) {
	if err := checkLine("owner", owner, MaxOwnerLength, true); err != nil {
		return FollowUp{}, fmt.Errorf("assign follow-up %s: %w", id, err)
	}
	return s.changeFollowUp(ctx, id, "assign", func(tx *sql.Tx, _ []byte, now int64) error {
		_, err := s.txExec(ctx, tx, `UPDATE followups SET owner = ?, updated_at = ? WHERE id = ?`, owner, now, id)
		return err
	})
}

// AddFollowUpNote appends a "time user: note" line to the notes of an
// open task and returns the task. An empty or too long note returns a
// *FieldError. Notes that do not decrypt are not overwritten: the change
// fails with an error wrapping ErrDecryptNotes.
func (s *Store) AddFollowUpNote(ctx context.Context, id, user, note string) (FollowUp, error) {
	if err := checkText("note", note, MaxNotesLength, true); err != nil {
		return FollowUp{}, fmt.Errorf("add note to follow-up %s: %w", id, err)
	}
	return s.changeFollowUp(ctx, id, "add note to", func(tx *sql.Tx, sealed []byte, now int64) error {
		return s.appendTaskNote(ctx, tx, id, sealed, user, note, now)
	})
}

// appendTaskNote decrypts a task's notes, appends one line and stores
// them again.
func (s *Store) appendTaskNote(ctx context.Context, tx *sql.Tx, id string, sealed []byte, user, note string, now int64) error {
	notes, err := s.openNotes(followUpNotesPrefix+id, sealed)
	if err != nil {
		return err
	}
	notes = appendNote(notes, time.Unix(0, now), user, note)
	_, err = s.txExec(ctx, tx, `UPDATE followups SET notes_sealed = ?, updated_at = ? WHERE id = ?`,
		s.sealNotes(followUpNotesPrefix+id, notes), now, id)
	return err
}

// CloseFollowUp closes an open task with outcome and returns the task. An
// empty outcome, or one over 200 characters, returns a *FieldError.
func (s *Store) CloseFollowUp(ctx context.Context, id, outcome string) (FollowUp, error) {
	if err := checkLine("outcome", outcome, MaxOutcomeLength, true); err != nil {
		return FollowUp{}, fmt.Errorf("close follow-up %s: %w", id, err)
	}
	return s.changeFollowUp(ctx, id, "close", func(tx *sql.Tx, _ []byte, now int64) error {
		_, err := s.txExec(ctx, tx, `UPDATE followups SET state = ?, outcome = ?, closed_at = ?, updated_at = ? WHERE id = ?`,
			string(FollowUpClosed), outcome, now, now, id)
		return err
	})
}

// changeFollowUp locks task id, checks that it is open, applies change
// with its sealed notes and the time now, and returns the changed task.
// It returns an error wrapping ErrFollowUpNotFound or ErrFollowUpClosed
// without changing anything.
func (s *Store) changeFollowUp(ctx context.Context, id, doing string, change func(tx *sql.Tx, sealed []byte, now int64) error) (FollowUp, error) {
	if err := s.checkOpen(); err != nil {
		return FollowUp{}, err
	}
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var state string
		var sealed []byte
		err := s.txQueryRow(ctx, tx, `SELECT state, notes_sealed FROM followups WHERE id = ?`+s.dialect.lockRow, id).
			Scan(&state, &sealed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrFollowUpNotFound
		case err != nil:
			return err
		case FollowUpState(state) != FollowUpOpen:
			return ErrFollowUpClosed
		}
		return change(tx, sealed, s.now().UnixNano())
	})
	if err != nil {
		return FollowUp{}, fmt.Errorf("%s follow-up %s: %w", doing, id, err)
	}
	return s.GetFollowUp(ctx, id)
}

// RevealFollowUpNumber returns the full caller number of a task: its
// callback's number, or its call's. It returns an error wrapping
// ErrFollowUpNotFound, ErrNoNumber (withheld or purged) or ErrDecrypt.
func (s *Store) RevealFollowUpNumber(ctx context.Context, id string) (string, error) {
	task, err := s.GetFollowUp(ctx, id)
	if err != nil {
		return "", err
	}
	if task.NumberErr != nil {
		return "", fmt.Errorf("reveal number of follow-up %s: %w", id, task.NumberErr)
	}
	if task.Number == "" {
		return "", fmt.Errorf("reveal number of follow-up %s: %w", id, ErrNoNumber)
	}
	return task.Number, nil
}
