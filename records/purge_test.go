package records

import (
	"context"
	"testing"
	"time"
)

func TestPurgeAnonymizesOldCalls(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		cutoff := testTime(24 * time.Hour)

		// old: ended before the cutoff, wrap-up with a closed task, a
		// finished callback.
		startCall(t, store, "old", "01012345678", "1001", testTime(0))
		saved, err := store.SaveWrapUp(ctx, homeVisit("old"), false)
		if err != nil {
			t.Fatalf("SaveWrapUp old: %v", err)
		}
		if _, err := store.CloseFollowUp(ctx, saved.FollowUpID, "visited"); err != nil {
			t.Fatalf("CloseFollowUp: %v", err)
		}
		cb := Callback{TaskID: "cb-old", CallID: "old", Queue: "q", Reason: "requested", State: CallbackPending,
			Number: "01012345678", EnqueuedAt: testTime(0), CreatedAt: testTime(0)}
		if err := store.CreateCallback(ctx, cb); err != nil {
			t.Fatalf("CreateCallback: %v", err)
		}
		if err := store.SetCallbackState(ctx, "cb-old", CallbackCompleted, "", testTime(time.Minute)); err != nil {
			t.Fatalf("SetCallbackState: %v", err)
		}
		// busy: ended before the cutoff, but its task is still open.
		startCall(t, store, "busy", "01022223333", "1001", testTime(0))
		if _, err := store.SaveWrapUp(ctx, homeVisit("busy"), false); err != nil {
			t.Fatalf("SaveWrapUp busy: %v", err)
		}
		// recent: ended after the cutoff. open: never ended.
		startCall(t, store, "recent", "01012345678", "1001", testTime(48*time.Hour))
		startCall(t, store, "open", "01012345678", "1001", time.Time{})

		result, err := store.Purge(ctx, cutoff)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		want := PurgeResult{Calls: 1, WrapUps: 1, FollowUps: 1, Callbacks: 1}
		if result != want {
			t.Errorf("Purge = %+v, want %+v", result, want)
		}

		old, err := store.Get(ctx, "old")
		if err != nil {
			t.Fatalf("Get old: %v", err)
		}
		if old.CallerNumber != "" || old.CallerHash != "" || old.Outcome != OutcomeAnswered || old.StartedAt.IsZero() {
			t.Errorf("purged call = %+v, want no number or hash but outcome and times kept", old)
		}
		wrapUp, err := store.GetWrapUp(ctx, "old")
		if err != nil {
			t.Fatalf("GetWrapUp old: %v", err)
		}
		if wrapUp.Notes != "" || wrapUp.Risk != RiskHigh || wrapUp.IsolationScore != 3 {
			t.Errorf("purged wrap-up = %+v, want no notes but the vocabularies kept", wrapUp)
		}
		task, err := store.GetFollowUp(ctx, saved.FollowUpID)
		if err != nil {
			t.Fatalf("GetFollowUp: %v", err)
		}
		if task.Notes != "" || task.Number != "" || task.Outcome != "visited" {
			t.Errorf("purged task = %+v, want no notes or number but the outcome kept", task)
		}
		callbacks, err := store.ListCallbacks(ctx)
		if err != nil || len(callbacks) != 1 || callbacks[0].Number != "" || callbacks[0].State != CallbackCompleted {
			t.Errorf("purged callbacks = %+v, %v; want no number, state kept", callbacks, err)
		}

		for _, id := range []string{"busy", "recent", "open"} {
			rec, err := store.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get %s: %v", id, err)
			}
			if rec.CallerNumber == "" || rec.CallerHash == "" {
				t.Errorf("%s lost its number, want it kept", id)
			}
		}
		if busy, _ := store.GetWrapUp(ctx, "busy"); busy.Notes == "" {
			t.Error("the wrap-up of a call with an open task lost its notes")
		}

		again, err := store.Purge(ctx, cutoff)
		if err != nil || again != (PurgeResult{}) {
			t.Errorf("second Purge = %+v, %v; want nothing left to purge", again, err)
		}
	})
}
