package records

import (
	"context"
	"errors"
	"testing"
	"time"
)

// statsDay is the local midnight that the figure tests count from, and
// statsNow the time they read at.
var (
	statsDay = time.Date(2026, time.March, 1, 0, 0, 0, 0, kst)
	statsNow = statsDay.Add(2 * time.Hour)
)

// statsCall is one call of the figure tests, with times as offsets from
// statsDay. A zero queued, answered or ended means the call never got there.
type statsCall struct {
	id                                 string
	started, queued, answered, ended   time.Duration
	reachedQueue, wasAnswered, isEnded bool
	outcome                            Outcome
	counselor                          string
}

// statsCalls are the calls behind the expected figures: a to e reached the
// queue today, f ended in the IVR, g and h were queued before midnight.
var statsCalls = []statsCall{
	{id: "a", started: 10 * time.Minute, queued: 10*time.Minute + 30*time.Second, answered: 10*time.Minute + 40*time.Second,
		ended: 15*time.Minute + 40*time.Second, reachedQueue: true, wasAnswered: true, isEnded: true, outcome: OutcomeAnswered, counselor: "1001"},
	{id: "b", started: 19 * time.Minute, queued: 20 * time.Minute, answered: 20*time.Minute + 40*time.Second,
		ended: 23*time.Minute + 40*time.Second, reachedQueue: true, wasAnswered: true, isEnded: true, outcome: OutcomeAnswered, counselor: "1002"},
	{id: "c", started: 30 * time.Minute, queued: 31 * time.Minute, ended: 32 * time.Minute,
		reachedQueue: true, isEnded: true, outcome: OutcomeAbandonedInQueue},
	{id: "d", started: 119 * time.Minute, queued: 119*time.Minute + 50*time.Second, reachedQueue: true},
	{id: "e", started: 114 * time.Minute, queued: 115 * time.Minute, reachedQueue: true},
	{id: "f", started: 40 * time.Minute, ended: 41 * time.Minute, isEnded: true, outcome: OutcomeEndedInIVR},
	{id: "g", started: -30 * time.Minute, queued: -20 * time.Minute, answered: -19*time.Minute - 50*time.Second,
		ended: 5 * time.Minute, reachedQueue: true, wasAnswered: true, isEnded: true, outcome: OutcomeAnswered, counselor: "1001"},
	{id: "h", started: -10 * time.Minute, queued: -5 * time.Minute, answered: 20 * time.Minute,
		ended: 30 * time.Minute, reachedQueue: true, wasAnswered: true, isEnded: true, outcome: OutcomeAnswered, counselor: "1002"},
}

// addStatsCalls stores statsCalls as the call flow would: start, queue,
// answer with the queue wait, end.
func addStatsCalls(t *testing.T, store *Store) {
	t.Helper()
	ctx := context.Background()
	for _, c := range statsCalls {
		if err := store.Start(ctx, StartInfo{CallID: c.id, CallerNumber: "01012345678", StartedAt: statsDay.Add(c.started)}); err != nil {
			t.Fatalf("Start(%s): %v", c.id, err)
		}
		var p Patch
		queued := statsDay.Add(c.queued)
		if c.reachedQueue {
			p.QueuedAt = &queued
		}
		if c.wasAnswered {
			answered := statsDay.Add(c.answered)
			wait := answered.Sub(queued)
			p.CounselorAnsweredAt, p.QueueWait, p.Counselor = &answered, &wait, &c.counselor
		}
		if c.isEnded {
			ended := statsDay.Add(c.ended)
			outcome := c.outcome
			p.EndedAt, p.Outcome = &ended, &outcome
			if c.outcome == OutcomeAbandonedInQueue {
				wait := ended.Sub(queued)
				p.QueueWait = &wait
			}
		}
		if err := store.Update(ctx, c.id, p); err != nil {
			t.Fatalf("Update(%s): %v", c.id, err)
		}
	}
}

// addStatsCallbacks stores two open callback tasks and a completed one.
func addStatsCallbacks(t *testing.T, store *Store) {
	t.Helper()
	states := map[string]CallbackState{"cb-1": CallbackPending, "cb-2": CallbackDialling, "cb-3": CallbackCompleted}
	for id, state := range states {
		cb := Callback{TaskID: id, CallID: "call-" + id, Queue: "q", Reason: "requested", State: state,
			Number: "01012345678", EnqueuedAt: statsDay, CreatedAt: statsDay}
		if err := store.CreateCallback(context.Background(), cb); err != nil {
			t.Fatalf("CreateCallback(%s): %v", id, err)
		}
	}
}

func TestFiguresOfKnownCalls(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		addStatsCalls(t, store)
		addStatsCallbacks(t, store)

		tests := []struct {
			name string
			from time.Time
			want Figures
		}{
			{name: "today", from: statsDay, want: Figures{
				Offered: 5, Answered: 2, Abandoned: 1, AnsweredInTime: 1, ServiceLevelBase: 4, Handled: 2,
				AvgSpeedOfAnswer: 25 * time.Second, AvgHandleTime: 240 * time.Second, CallbacksPending: 2,
			}},
			{name: "last hour", from: statsNow.Add(-time.Hour), want: Figures{
				Offered: 2, ServiceLevelBase: 1, CallbacksPending: 2,
			}},
			{name: "empty window", from: statsNow.Add(time.Hour), want: Figures{CallbacksPending: 2}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				to := statsNow
				if !tt.from.Before(to) {
					to = tt.from.Add(time.Minute)
				}
				got, err := store.Figures(context.Background(), FiguresQuery{From: tt.from, To: to, Now: statsNow, ServiceLevel: 20 * time.Second})
				if err != nil {
					t.Fatalf("Figures: %v", err)
				}
				if got != tt.want {
					t.Errorf("Figures = %+v, want %+v", got, tt.want)
				}
			})
		}
	})
}

func TestServiceLevelLeavesOutCallbackRequests(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		calls := []struct {
			id       string
			answered bool
			outcome  Outcome
		}{
			{"in-time", true, OutcomeAnswered},
			{"asked-callback", false, OutcomeCallbackRequested},
			{"overflow", false, OutcomeOverflowCallback},
		}
		for i, c := range calls {
			started := statsDay.Add(time.Duration(i+1) * time.Minute)
			if err := store.Start(ctx, StartInfo{CallID: c.id, CallerNumber: "01012345678", StartedAt: started}); err != nil {
				t.Fatalf("Start(%s): %v", c.id, err)
			}
			queued, ended := started.Add(5*time.Second), started.Add(time.Minute)
			outcome := c.outcome
			p := Patch{QueuedAt: &queued, EndedAt: &ended, Outcome: &outcome}
			if c.answered {
				answered := queued.Add(10 * time.Second)
				wait := answered.Sub(queued)
				counselor := "1001"
				p.CounselorAnsweredAt, p.QueueWait, p.Counselor = &answered, &wait, &counselor
			}
			if err := store.Update(ctx, c.id, p); err != nil {
				t.Fatalf("Update(%s): %v", c.id, err)
			}
		}

		figures, err := store.Figures(ctx, FiguresQuery{From: statsDay, To: statsNow, ServiceLevel: 20 * time.Second})
		if err != nil {
			t.Fatalf("Figures: %v", err)
		}
		if figures.Offered != 3 {
			t.Errorf("Offered = %d, want 3 with the callback request", figures.Offered)
		}
		if figures.ServiceLevelBase != 2 || figures.AnsweredInTime != 1 {
			t.Errorf("service level = %d of %d, want 1 of 2 without the callback request", figures.AnsweredInTime, figures.ServiceLevelBase)
		}

		points, err := store.Series(ctx, SeriesQuery{From: statsDay, Now: statsNow, Bucket: 15 * time.Minute, ServiceLevel: 20 * time.Second})
		if err != nil {
			t.Fatalf("Series: %v", err)
		}
		if len(points) == 0 || points[0].ServiceLevelBase != 2 || points[0].AnsweredInTime != 1 {
			t.Errorf("first bucket = %+v, want service level 1 of 2", points[0])
		}
	})
}

func TestFiguresRates(t *testing.T) {
	f := Figures{Offered: 5, Abandoned: 1, AnsweredInTime: 1, ServiceLevelBase: 4}
	if rate, ok := f.AbandonRate(); !ok || rate != 0.2 {
		t.Errorf("AbandonRate = %v, %v, want 0.2, true", rate, ok)
	}
	if share, ok := f.ServiceLevelShare(); !ok || share != 0.25 {
		t.Errorf("ServiceLevelShare = %v, %v, want 0.25, true", share, ok)
	}
	if _, ok := (Figures{}).AbandonRate(); ok {
		t.Error("AbandonRate of no calls reports a value")
	}
	if _, ok := (Figures{}).ServiceLevelShare(); ok {
		t.Error("ServiceLevelShare of no calls reports a value")
	}
}

func TestSeriesOfKnownCalls(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		addStatsCalls(t, store)

		points, err := store.Series(context.Background(), SeriesQuery{
			From: statsDay, Now: statsNow, Bucket: 15 * time.Minute, ServiceLevel: 20 * time.Second,
		})
		if err != nil {
			t.Fatalf("Series: %v", err)
		}

		want := []SeriesPoint{
			{Waiting: 1, Queued: 1, AnsweredInTime: 1, ServiceLevelBase: 1},
			{Queued: 1, ServiceLevelBase: 1},
			{Queued: 1, ServiceLevelBase: 1},
			{}, {}, {}, {},
			{Waiting: 2, Queued: 2, ServiceLevelBase: 1},
		}
		if len(points) != len(want) {
			t.Fatalf("Series returned %d points, want %d: %+v", len(points), len(want), points)
		}
		for i, p := range points {
			wantAt := statsDay.Add(time.Duration(i+1) * 15 * time.Minute)
			if !p.At.Equal(wantAt) {
				t.Errorf("point %d at %s, want %s", i, p.At, wantAt)
			}
			p.At = time.Time{}
			if p != want[i] {
				t.Errorf("point %d = %+v, want %+v", i, p, want[i])
			}
		}
	})
}

func TestSeriesLastBucketEndsNow(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	now := statsDay.Add(20 * time.Minute)

	points, err := store.Series(context.Background(), SeriesQuery{From: statsDay, Now: now, Bucket: 15 * time.Minute})
	if err != nil {
		t.Fatalf("Series: %v", err)
	}

	if len(points) != 2 || !points[1].At.Equal(now) {
		t.Errorf("points = %+v, want 2 with the last at %s", points, now)
	}
}

func TestSeriesRejectsTooManyBuckets(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))

	_, err := store.Series(context.Background(), SeriesQuery{From: statsDay, Now: statsNow, Bucket: time.Second})

	if !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Series with 7200 buckets error = %v, want ErrInvalidInput", err)
	}
}

func TestAnsweredByCounselorToday(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		addStatsCalls(t, store)

		counts, err := store.AnsweredByCounselor(context.Background(), statsDay, statsNow)
		if err != nil {
			t.Fatalf("AnsweredByCounselor: %v", err)
		}

		if len(counts) != 2 || counts["1001"] != 1 || counts["1002"] != 2 {
			t.Errorf("counts = %v, want 1001:1 (g was answered yesterday) and 1002:2", counts)
		}
	})
}

func TestLastAnsweredCall(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		addStatsCalls(t, store)
		ctx := context.Background()

		rec, err := store.LastAnsweredCall(ctx, "1002", statsDay.Add(-time.Hour))
		if err != nil {
			t.Fatalf("LastAnsweredCall: %v", err)
		}
		if rec.CallID != "b" || rec.CallerNumber != "01012345678" {
			t.Errorf("last call = %s with number %q, want b with its number decrypted", rec.CallID, rec.CallerNumber)
		}

		if _, err := store.LastAnsweredCall(ctx, "9999", statsDay.Add(-time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Errorf("LastAnsweredCall of a counselor without calls error = %v, want ErrNotFound", err)
		}
	})
}

func TestStatsAfterClose(t *testing.T) {
	store, err := Open(context.Background(), tempDBPath(t), testKey(t, 1))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()

	if _, err := store.Figures(ctx, FiguresQuery{From: statsDay, To: statsNow}); !errors.Is(err, ErrClosed) {
		t.Errorf("Figures error = %v, want ErrClosed", err)
	}
	if _, err := store.Series(ctx, SeriesQuery{From: statsDay, Now: statsNow, Bucket: time.Hour}); !errors.Is(err, ErrClosed) {
		t.Errorf("Series error = %v, want ErrClosed", err)
	}
	if _, err := store.AnsweredByCounselor(ctx, statsDay, statsNow); !errors.Is(err, ErrClosed) {
		t.Errorf("AnsweredByCounselor error = %v, want ErrClosed", err)
	}
	if _, err := store.LastAnsweredCall(ctx, "1001", statsDay); !errors.Is(err, ErrClosed) {
		t.Errorf("LastAnsweredCall error = %v, want ErrClosed", err)
	}
}
