package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// selectColumns lists the columns scanRecord reads, in its order.
const selectColumns = `call_id, source, called_number, caller_withheld, caller_number_sealed, caller_hash,
	started_at, answered_at, queued_at, counselor_answered_at, ended_at,
	digits, language, caller_type, queue, counselor, transfer_target, queue_wait_ns,
	outcome, hangup_side, hangup_reason, updated_at, emergency_target, priority, node`

// ListOptions selects the records List returns.
type ListOptions struct {
	// Since keeps the calls that started at or after it; zero keeps all.
	Since time.Time
	// Limit caps the number of records; zero or less means no cap.
	Limit int
}

// Get returns the record of callID, or an error wrapping ErrNotFound. A
// number that does not decrypt sets Record.CallerNumberErr and leaves the
// error nil.
func (s *Store) Get(ctx context.Context, callID string) (Record, error) {
	if err := s.checkOpen(); err != nil {
		return Record{}, err
	}

	row := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT `+selectColumns+` FROM calls WHERE call_id = ?`), callID)
	rec, sealed, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("get call record %s: %w", callID, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("get call record %s: %w", callID, err)
	}

	s.decryptNumber(&rec, sealed)
	if rec.CallerNumberErr != nil {
		s.log.Warn().Str("call_id", callID).Msg("call record number does not decrypt with the records key")
	}
	return rec, nil
}

// List returns the records of calls that started at or after opts.Since,
// oldest first. Numbers that do not decrypt set Record.CallerNumberErr on
// their record and do not fail the list.
func (s *Store) List(ctx context.Context, opts ListOptions) ([]Record, error) {
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

	recs, err := s.queryRecords(ctx, s.reader, `SELECT `+selectColumns+` FROM calls
		WHERE started_at >= ? ORDER BY started_at, call_id LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list call records: %w", err)
	}
	return recs, nil
}

// FindByNumber returns the records of calls from number, oldest first. It
// matches the keyed hash of the normalised number, so "+82 10-1234-5678"
// finds calls stored as "01012345678", and no record is decrypted to
// search. A number without digits returns an error wrapping ErrNoDigits.
func (s *Store) FindByNumber(ctx context.Context, number string) ([]Record, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	hash := s.numbers.hash(NormalizeNumber(number))
	if hash == "" {
		return nil, fmt.Errorf("find call records by number: %w", ErrNoDigits)
	}

	recs, err := s.queryRecords(ctx, s.reader, `SELECT `+selectColumns+` FROM calls
		WHERE caller_hash = ? ORDER BY started_at, call_id`, hash)
	if err != nil {
		return nil, fmt.Errorf("find call records by number: %w", err)
	}
	return recs, nil
}

// queryRecords runs a statement on db that returns selectColumns, and
// decrypts the numbers, logging one warning with the count of those that
// fail.
func (s *Store) queryRecords(ctx context.Context, db querier, query string, args ...any) ([]Record, error) {
	rows, err := db.QueryContext(ctx, s.dialect.bind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var recs []Record
	undecryptable := 0
	for rows.Next() {
		rec, sealed, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		s.decryptNumber(&rec, sealed)
		if rec.CallerNumberErr != nil {
			undecryptable++
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	if undecryptable > 0 {
		s.log.Warn().Int("count", undecryptable).Int("records", len(recs)).
			Msg("call record numbers do not decrypt with the records key")
	}
	return recs, nil
}

// decryptNumber fills rec.CallerNumber from sealed, or rec.CallerNumberErr
// when it does not decrypt.
func (s *Store) decryptNumber(rec *Record, sealed []byte) {
	if sealed == nil {
		return
	}
	number, err := s.numbers.open(rec.CallID, sealed)
	if err != nil {
		rec.CallerNumberErr = err
		return
	}
	rec.CallerNumber = number
}

// rowScanner is the Scan method shared by sql.Row and sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanRecord reads one row of selectColumns. It returns the sealed number
// separately, because decrypting it needs the store's key.
func scanRecord(row rowScanner) (Record, []byte, error) {
	var rec Record
	var sealed []byte
	var startedAt, updatedAt, queueWait int64
	var answeredAt, queuedAt, counselorAnsweredAt, endedAt sql.NullInt64
	var outcome, hangupSide string

	err := row.Scan(&rec.CallID, &rec.Source, &rec.CalledNumber, &rec.CallerWithheld, &sealed, &rec.CallerHash,
		&startedAt, &answeredAt, &queuedAt, &counselorAnsweredAt, &endedAt,
		&rec.Digits, &rec.Language, &rec.CallerType, &rec.Queue, &rec.Counselor, &rec.TransferTarget, &queueWait,
		&outcome, &hangupSide, &rec.HangupReason, &updatedAt, &rec.EmergencyTarget, &rec.Priority, &rec.Node)
	if err != nil {
		return Record{}, nil, err
	}

	rec.StartedAt = unixNanoUTC(startedAt)
	rec.AnsweredAt = nullTime(answeredAt)
	rec.QueuedAt = nullTime(queuedAt)
	rec.CounselorAnsweredAt = nullTime(counselorAnsweredAt)
	rec.EndedAt = nullTime(endedAt)
	rec.QueueWait = time.Duration(queueWait)
	rec.Outcome = Outcome(outcome)
	rec.HangupSide = Side(hangupSide)
	rec.UpdatedAt = unixNanoUTC(updatedAt)
	return rec, sealed, nil
}

func unixNanoUTC(nanos int64) time.Time {
	return time.Unix(0, nanos).UTC()
}

// nullTime turns a NULL column into the zero time.
func nullTime(column sql.NullInt64) time.Time {
	if !column.Valid {
		return time.Time{}
	}
	return unixNanoUTC(column.Int64)
}
