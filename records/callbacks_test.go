package records

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

func TestCallbackRoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))

		cb := Callback{
			TaskID: "cb-1", CallID: "call-1", Queue: "loneliness", Reason: "requested",
			State: CallbackPending, Number: "01012345678", Priority: 1,
			EnqueuedAt: testTime(0), CreatedAt: testTime(0),
		}
		if err := store.CreateCallback(ctx, cb); err != nil {
			t.Fatalf("CreateCallback: %v", err)
		}
		if err := store.CreateCallback(ctx, cb); !errors.Is(err, ErrCallbackExists) {
			t.Errorf("second CreateCallback error = %v, want ErrCallbackExists", err)
		}
		attempt := CallbackAttempt{TaskID: "cb-1", Attempt: 1, Counselor: "1001", StartedAt: testTime(1e9)}
		if err := store.StartCallbackAttempt(ctx, attempt); err != nil {
			t.Fatalf("StartCallbackAttempt: %v", err)
		}
		attempt.EndedAt, attempt.SIPStatus, attempt.Outcome = testTime(2e9), 486, "busy"
		if err := store.FinishCallbackAttempt(ctx, attempt); err != nil {
			t.Fatalf("FinishCallbackAttempt: %v", err)
		}
		if open, err := store.ListOpenCallbacks(ctx); err != nil || len(open) != 1 || len(open[0].Attempts) != 1 {
			t.Errorf("ListOpenCallbacks = %+v (err %v), want the pending task with its attempt", open, err)
		}
		if err := store.SetCallbackState(ctx, "cb-1", CallbackFailed, "attempts used", testTime(3e9)); err != nil {
			t.Fatalf("SetCallbackState: %v", err)
		}
		if err := store.SetCallbackState(ctx, "cb-9", CallbackFailed, "", testTime(3e9)); !errors.Is(err, ErrCallbackNotFound) {
			t.Errorf("SetCallbackState of unknown task error = %v, want ErrCallbackNotFound", err)
		}

		list, err := store.ListCallbacks(ctx)
		if err != nil {
			t.Fatalf("ListCallbacks: %v", err)
		}
		if len(list) != 1 {
			t.Fatalf("ListCallbacks returned %d tasks, want 1", len(list))
		}
		got := list[0]
		if got.Number != "01012345678" || got.NumberErr != nil {
			t.Errorf("number = %q (err %v), want the decrypted number", got.Number, got.NumberErr)
		}
		if got.State != CallbackFailed || got.EndReason != "attempts used" || !got.EndedAt.Equal(testTime(3e9)) {
			t.Errorf("state = %s reason %q ended %s, want failed, attempts used, %s", got.State, got.EndReason, got.EndedAt, testTime(3e9))
		}
		if got.Priority != 1 || !got.EnqueuedAt.Equal(testTime(0)) {
			t.Errorf("place = priority %d at %s, want 1 at %s", got.Priority, got.EnqueuedAt, testTime(0))
		}
		if len(got.Attempts) != 1 || got.Attempts[0].SIPStatus != 486 || got.Attempts[0].Outcome != "busy" {
			t.Errorf("attempts = %+v, want one busy attempt with status 486", got.Attempts)
		}

		if db.path == "" {
			return
		}
		if err := store.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		data, err := os.ReadFile(db.path)
		if err != nil {
			t.Fatalf("reading the database file: %v", err)
		}
		if bytes.Contains(data, []byte("01012345678")) {
			t.Error("the database file contains the callback number in clear text")
		}
	})
}

func TestCallbackWithheldNumberStoresNone(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		cb := Callback{
			TaskID: "cb-2", CallID: "call-2", Queue: "q", Reason: "abandoned", State: CallbackFailed,
			Number: "01099998888", NumberWithheld: true, EnqueuedAt: testTime(0), CreatedAt: testTime(0),
			EndedAt: testTime(0), EndReason: "number_withheld",
		}
		if err := store.CreateCallback(ctx, cb); err != nil {
			t.Fatalf("CreateCallback: %v", err)
		}
		list, err := store.ListCallbacks(ctx)
		if err != nil {
			t.Fatalf("ListCallbacks: %v", err)
		}
		if len(list) != 1 || list[0].Number != "" || !list[0].NumberWithheld {
			t.Errorf("ListCallbacks = %+v, want one withheld task without a number", list)
		}
		open, err := store.ListOpenCallbacks(ctx)
		if err != nil {
			t.Fatalf("ListOpenCallbacks: %v", err)
		}
		if len(open) != 0 {
			t.Errorf("ListOpenCallbacks = %+v, want none: the only task failed", open)
		}
	})
}
