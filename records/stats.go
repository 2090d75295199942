package records

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// StatsLookback is how long before a window the figure queries look for
// the start of a call. Queries select calls by started_at, which has an
// index, and then by queued_at or counselor_answered_at. So a call that
// started more than StatsLookback before it reached the queue, or before
// its counselor answered, is left out of the window.
const StatsLookback = 4 * time.Hour

// FiguresQuery selects the calls that Figures counts.
type FiguresQuery struct {
	// From and To bound the window, [From, To). A call counts when it
	// reached a queue (queued_at) in the window.
	From, To time.Time
	// Now is the current time, which decides whether a call still
	// waiting already missed the service level. Zero means To.
	Now time.Time
	// ServiceLevel is the wait within which an answer counts for the
	// service level.
	ServiceLevel time.Duration
}

// Figures are the queue figures of the calls that reached a queue in one
// window. Counts reflect the records as they are when read, so a call
// queued in the window and answered after To counts as answered.
type Figures struct {
	// Offered counts the calls that reached a queue.
	Offered int
	// Answered counts the offered calls that a counselor answered.
	Answered int
	// Abandoned counts the offered calls that hung up while waiting
	// (outcome abandoned_in_queue).
	Abandoned int
	// AnsweredInTime counts the answered calls whose counselor answered
	// within ServiceLevel of queueing.
	AnsweredInTime int
	// ServiceLevelBase counts the offered calls whose service level is
	// decided: answered, ended, or still waiting for longer than
	// ServiceLevel. A caller who has waited less is left out until then,
	// and a caller who left the queue with a callback request (outcome
	// callback_requested) is left out for good, because the callback
	// serves that caller. Abandon rate and Offered still count them.
	ServiceLevelBase int
	// Handled counts the answered calls that have ended, the base of
	// AvgHandleTime.
	Handled int
	// AvgSpeedOfAnswer is the mean time from queueing to the counselor's
	// answer over the answered calls; zero when none was answered.
	AvgSpeedOfAnswer time.Duration
	// AvgHandleTime is the mean time from the counselor's answer to the
	// end of the call over the Handled calls; zero when none ended.
	AvgHandleTime time.Duration
	// CallbacksPending counts the callback tasks that are pending or
	// dialling now, whatever the window.
	CallbacksPending int
}

// AbandonRate returns Abandoned / Offered, and false when nothing was
// offered.
func (f Figures) AbandonRate() (float64, bool) {
	if f.Offered == 0 {
		return 0, false
	}
	return float64(f.Abandoned) / float64(f.Offered), true
}

// ServiceLevelShare returns AnsweredInTime / ServiceLevelBase, and false
// when no call's service level is decided yet.
func (f Figures) ServiceLevelShare() (float64, bool) {
	if f.ServiceLevelBase == 0 {
		return 0, false
	}
	return float64(f.AnsweredInTime) / float64(f.ServiceLevelBase), true
}

// figuresQuery computes Figures in one pass over the calls of the window.
// It sums durations in milliseconds (the nanosecond columns divided by
// 1000000), so that the sums stay far below the int64 limit, and casts the
// sums to BIGINT because PostgreSQL sums BIGINT as NUMERIC. The ? are, in
// order: abandoned outcome, service level (ns), the latest
// queued_at that has missed the service level (ns), callback request
// outcome, earliest started_at, To, From, To.
const figuresQuery = `SELECT
	COUNT(*),
	COALESCE(SUM(CASE WHEN counselor_answered_at IS NOT NULL THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN counselor_answered_at IS NOT NULL AND counselor_answered_at - queued_at <= ? THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN (counselor_answered_at IS NOT NULL OR ended_at IS NOT NULL OR queued_at <= ?)
		AND outcome <> ? THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN counselor_answered_at IS NOT NULL AND ended_at IS NOT NULL THEN 1 ELSE 0 END), 0),
	CAST(COALESCE(SUM(CASE WHEN counselor_answered_at IS NOT NULL
		THEN (counselor_answered_at - queued_at) / 1000000 ELSE 0 END), 0) AS BIGINT),
	CAST(COALESCE(SUM(CASE WHEN counselor_answered_at IS NOT NULL AND ended_at IS NOT NULL
		THEN (ended_at - counselor_answered_at) / 1000000 ELSE 0 END), 0) AS BIGINT)
FROM calls
WHERE started_at >= ? AND started_at < ? AND queued_at >= ? AND queued_at < ?`

// Figures returns the queue figures of the calls that reached a queue in
// [q.From, q.To), and the callback tasks open now.
func (s *Store) Figures(ctx context.Context, q FiguresQuery) (Figures, error) {
	if err := s.checkOpen(); err != nil {
		return Figures{}, err
	}
	now := q.Now
	if now.IsZero() {
		now = q.To
	}

	var f Figures
	var answerMillis, handleMillis int64
	row := s.reader.QueryRowContext(ctx, s.dialect.bind(figuresQuery),
		string(OutcomeAbandonedInQueue), int64(q.ServiceLevel), now.Add(-q.ServiceLevel).UnixNano(), string(OutcomeCallbackRequested),
		q.From.Add(-StatsLookback).UnixNano(), q.To.UnixNano(), q.From.UnixNano(), q.To.UnixNano())
	err := row.Scan(&f.Offered, &f.Answered, &f.Abandoned, &f.AnsweredInTime, &f.ServiceLevelBase,
		&f.Handled, &answerMillis, &handleMillis)
	if err != nil {
		return Figures{}, fmt.Errorf("read queue figures: %w", err)
	}
	if f.Answered > 0 {
		f.AvgSpeedOfAnswer = time.Duration(answerMillis/int64(f.Answered)) * time.Millisecond
	}
	if f.Handled > 0 {
		f.AvgHandleTime = time.Duration(handleMillis/int64(f.Handled)) * time.Millisecond
	}

	f.CallbacksPending, err = s.countOpenCallbacks(ctx)
	if err != nil {
		return Figures{}, err
	}
	return f, nil
}

// countOpenCallbacks counts the callback tasks that are pending or
// dialling.
func (s *Store) countOpenCallbacks(ctx context.Context) (int, error) {
	var count int
	err := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT COUNT(*) FROM callbacks WHERE state IN (?, ?)`),
		string(CallbackPending), string(CallbackDialling)).Scan(&count)
	if err != nil {
		return 0, fmt.Errorf("count open callbacks: %w", err)
	}
	return count, nil
}

// SeriesQuery selects the buckets that Series returns.
type SeriesQuery struct {
	// From is the start of the first bucket, such as local midnight.
	From time.Time
	// Now ends the last bucket, which may be shorter than Bucket.
	Now time.Time
	// Bucket is the length of each bucket, such as 15 minutes.
	Bucket time.Duration
	// ServiceLevel is the wait within which an answer counts for the
	// service level.
	ServiceLevel time.Duration
}

// SeriesPoint is one bucket of a Series.
type SeriesPoint struct {
	// At is the end of the bucket, or Now for the last one.
	At time.Time
	// Waiting counts the callers in a queue at At.
	Waiting int
	// Queued counts the calls that reached a queue in the bucket.
	Queued int
	// AnsweredInTime and ServiceLevelBase are the service level of the
	// calls queued in the bucket, as in Figures: callers who left with a
	// callback request are left out.
	AnsweredInTime   int
	ServiceLevelBase int
}

// ServiceLevelShare returns AnsweredInTime / ServiceLevelBase, and false
// when no call of the bucket has a decided service level.
func (p SeriesPoint) ServiceLevelShare() (float64, bool) {
	if p.ServiceLevelBase == 0 {
		return 0, false
	}
	return float64(p.AnsweredInTime) / float64(p.ServiceLevelBase), true
}

// maxSeriesBuckets bounds the buckets of one Series, so that a wrong
// bucket length cannot make a huge answer. A day has 96 buckets of 15
// minutes.
const maxSeriesBuckets = 1000

// queueSpan is the time one call spent in a queue, in Unix nanoseconds.
type queueSpan struct {
	queuedAt int64
	// leftAt is when the call left the queue, or 0 while it waits.
	leftAt int64
	// decided and inTime are the call's service level at Now.
	decided, inTime bool
}

// Series returns the buckets of [q.From, q.Now) with the callers waiting
// at the end of each and the service level of the calls queued in each.
// It reads the queue times of the window's calls in one query and counts
// in memory.
func (s *Store) Series(ctx context.Context, q SeriesQuery) ([]SeriesPoint, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if q.Bucket <= 0 || !q.From.Before(q.Now) {
		return nil, nil
	}
	count := int((q.Now.Sub(q.From) + q.Bucket - 1) / q.Bucket)
	if count > maxSeriesBuckets {
		return nil, fmt.Errorf("read queue series: %w: %d buckets of %s, at most %d", ErrInvalidInput, count, q.Bucket, maxSeriesBuckets)
	}

	spans, err := s.queueSpans(ctx, q)
	if err != nil {
		return nil, err
	}

	points := make([]SeriesPoint, count)
	for i := range points {
		end := q.From.Add(time.Duration(i+1) * q.Bucket)
		points[i].At = minTime(end, q.Now)
	}
	for _, span := range spans {
		addSpan(points, span, q)
	}
	return points, nil
}

// queueSpans reads the queue times of the calls that were in a queue at
// some time in [q.From, q.Now).
func (s *Store) queueSpans(ctx context.Context, q SeriesQuery) ([]queueSpan, error) {
	rows, err := s.reader.QueryContext(ctx, s.dialect.bind(`SELECT queued_at, counselor_answered_at, ended_at, queue_wait_ns, outcome
		FROM calls
		WHERE started_at >= ? AND started_at < ? AND queued_at IS NOT NULL AND queued_at < ?
		AND (ended_at IS NULL OR ended_at >= ?)`),
		q.From.Add(-StatsLookback).UnixNano(), q.Now.UnixNano(), q.Now.UnixNano(), q.From.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("read queue series: %w", err)
	}
	defer rows.Close()

	var spans []queueSpan
	missedBy := q.Now.Add(-q.ServiceLevel).UnixNano()
	for rows.Next() {
		var queuedAt, queueWait int64
		var answeredAt, endedAt sql.NullInt64
		var outcome string
		if err := rows.Scan(&queuedAt, &answeredAt, &endedAt, &queueWait, &outcome); err != nil {
			return nil, fmt.Errorf("read queue series: %w", err)
		}
		span := queueSpan{queuedAt: queuedAt, leftAt: leftQueueAt(queuedAt, queueWait, answeredAt, endedAt)}
		span.inTime = answeredAt.Valid && answeredAt.Int64-queuedAt <= int64(q.ServiceLevel)
		span.decided = (answeredAt.Valid || endedAt.Valid || queuedAt <= missedBy) &&
			Outcome(outcome) != OutcomeCallbackRequested
		spans = append(spans, span)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queue series: %w", err)
	}
	return spans, nil
}

// leftQueueAt returns when a call left its queue, or 0 while it waits. The
// queue wait is set when the caller is answered or hangs up while
// waiting. Without it, the counselor's answer or the end of the call is
// the best bound the record holds.
func leftQueueAt(queuedAt, queueWait int64, answeredAt, endedAt sql.NullInt64) int64 {
	switch {
	case queueWait > 0:
		return queuedAt + queueWait
	case answeredAt.Valid:
		return answeredAt.Int64
	case endedAt.Valid:
		return endedAt.Int64
	default:
		return 0
	}
}

// addSpan counts one call into the buckets it waited through and into the
// service level of the bucket it was queued in.
func addSpan(points []SeriesPoint, span queueSpan, q SeriesQuery) {
	from := q.From.UnixNano()
	if span.queuedAt >= from {
		i := int((span.queuedAt - from) / int64(q.Bucket))
		if i < len(points) {
			points[i].Queued++
			if span.decided {
				points[i].ServiceLevelBase++
			}
			if span.inTime {
				points[i].AnsweredInTime++
			}
		}
	}

	for i := range points {
		at := points[i].At.UnixNano()
		if at < span.queuedAt {
			continue
		}
		if span.leftAt != 0 && span.leftAt <= at {
			break
		}
		points[i].Waiting++
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
