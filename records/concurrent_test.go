package records

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

const concurrentCalls = 20

// TestConcurrentUpdates runs concurrentCalls goroutines that each write
// their own call through every step, while all of them also update one
// shared call, and checks that no write was lost. Run it with -race.
func TestConcurrentUpdates(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		if err := store.Start(ctx, StartInfo{CallID: "shared", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start shared: %v", err)
		}

		errs := make(chan error, concurrentCalls)
		var wg sync.WaitGroup
		for i := range concurrentCalls {
			wg.Go(func() {
				errs <- runCallSteps(ctx, store, i)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}

		for i := range concurrentCalls {
			checkCallSteps(t, store, i)
		}

		shared, err := store.Get(ctx, "shared")
		if err != nil {
			t.Fatalf("Get shared: %v", err)
		}
		digits, err := strconv.Atoi(shared.Digits)
		if err != nil || digits < 0 || digits >= concurrentCalls {
			t.Errorf("shared Digits = %q, want the index of one goroutine", shared.Digits)
		}
	})
}

// runCallSteps writes call i from start to end, and its index into the
// shared call.
func runCallSteps(ctx context.Context, store *Store, i int) error {
	id := fmt.Sprintf("call-%02d", i)
	info := StartInfo{CallID: id, CallerNumber: fmt.Sprintf("010%08d", i), StartedAt: testTime(time.Duration(i) * time.Second)}
	if err := store.Start(ctx, info); err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}

	steps := []Patch{
		{AnsweredAt: new(testTime(time.Minute))},
		{Digits: new(strconv.Itoa(i)), Language: new("en")},
		{QueuedAt: new(testTime(2 * time.Minute)), Queue: new("queue-" + strconv.Itoa(i))},
		{Counselor: new("counselor-" + strconv.Itoa(i)), QueueWait: new(time.Duration(i) * time.Second)},
		{EndedAt: new(testTime(time.Hour)), Outcome: new(OutcomeAnswered), HangupSide: new(SideCounselor)},
	}
	for n, step := range steps {
		if err := store.Update(ctx, id, step); err != nil {
			return fmt.Errorf("update %s step %d: %w", id, n, err)
		}
		if err := store.Update(ctx, "shared", Patch{Digits: new(strconv.Itoa(i))}); err != nil {
			return fmt.Errorf("update shared from %s: %w", id, err)
		}
	}
	return nil
}

// checkCallSteps checks that every step runCallSteps wrote for call i is
// in its record.
func checkCallSteps(t *testing.T, store *Store, i int) {
	t.Helper()
	id := fmt.Sprintf("call-%02d", i)
	got, err := store.Get(context.Background(), id)
	if err != nil {
		t.Errorf("Get %s: %v", id, err)
		return
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"CallerNumber", got.CallerNumber, fmt.Sprintf("010%08d", i)},
		{"Digits", got.Digits, strconv.Itoa(i)},
		{"Language", got.Language, "en"},
		{"Queue", got.Queue, "queue-" + strconv.Itoa(i)},
		{"Counselor", got.Counselor, "counselor-" + strconv.Itoa(i)},
		{"QueueWait", got.QueueWait, time.Duration(i) * time.Second},
		{"Outcome", got.Outcome, OutcomeAnswered},
		{"HangupSide", got.HangupSide, SideCounselor},
		{"AnsweredAt set", !got.AnsweredAt.IsZero(), true},
		{"QueuedAt set", !got.QueuedAt.IsZero(), true},
		{"EndedAt set", !got.EndedAt.IsZero(), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s %s = %v, want %v", id, c.name, c.got, c.want)
		}
	}
}

// TestConcurrentFieldUpdates updates different fields of one call from
// concurrentCalls goroutines and checks that every field kept its write.
func TestConcurrentFieldUpdates(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		if err := store.Start(ctx, StartInfo{CallID: "one", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start: %v", err)
		}

		patches := []Patch{
			{Digits: new("1")},
			{Language: new("ko")},
			{CallerType: new("family")},
			{Queue: new("general")},
			{Counselor: new("counselor-1")},
			{TransferTarget: new("sip:general@192.0.2.1")},
			{HangupReason: new("BYE")},
			{QueueWait: new(3 * time.Second)},
			{AnsweredAt: new(testTime(time.Second))},
			{QueuedAt: new(testTime(2 * time.Second))},
		}
		errs := make(chan error, concurrentCalls)
		var wg sync.WaitGroup
		for i := range concurrentCalls {
			wg.Go(func() {
				errs <- store.Update(ctx, "one", patches[i%len(patches)])
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Update: %v", err)
			}
		}

		got, err := store.Get(ctx, "one")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		checks := []struct {
			name      string
			got, want any
		}{
			{"Digits", got.Digits, "1"},
			{"Language", got.Language, "ko"},
			{"CallerType", got.CallerType, "family"},
			{"Queue", got.Queue, "general"},
			{"Counselor", got.Counselor, "counselor-1"},
			{"TransferTarget", got.TransferTarget, "sip:general@192.0.2.1"},
			{"HangupReason", got.HangupReason, "BYE"},
			{"QueueWait", got.QueueWait, 3 * time.Second},
			{"AnsweredAt", got.AnsweredAt.Equal(testTime(time.Second)), true},
			{"QueuedAt", got.QueuedAt.Equal(testTime(2 * time.Second)), true},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
	})
}
