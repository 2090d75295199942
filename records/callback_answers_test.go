package records

import (
	"context"
	"errors"
	"testing"
	"time"
)

// talkOnCallback stores a callback of callID whose attempt started at
// started, was taken by counselor and ended with outcome.
func talkOnCallback(t *testing.T, store *Store, taskID, callID, counselor, outcome string, started time.Time) {
	t.Helper()
	ctx := context.Background()
	cb := Callback{TaskID: taskID, CallID: callID, Queue: "loneliness", Reason: "requested", State: CallbackDialling,
		Number: "01012345678", EnqueuedAt: started, CreatedAt: started}
	if err := store.CreateCallback(ctx, cb); err != nil {
		t.Fatalf("CreateCallback: %v", err)
	}
	attempt := CallbackAttempt{TaskID: taskID, Attempt: 1, Counselor: counselor, StartedAt: started}
	if err := store.StartCallbackAttempt(ctx, attempt); err != nil {
		t.Fatalf("StartCallbackAttempt: %v", err)
	}
	attempt.EndedAt, attempt.SIPStatus, attempt.Outcome = started.Add(time.Minute), 200, outcome
	if err := store.FinishCallbackAttempt(ctx, attempt); err != nil {
		t.Fatalf("FinishCallbackAttempt: %v", err)
	}
}

func TestLatestCallOfAfterCallback(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		startCall(t, store, "inbound", "01012345678", "1001", testTime(time.Hour))
		if err := store.Update(ctx, "inbound", Patch{CounselorAnsweredAt: new(testTime(time.Hour))}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		startCall(t, store, "asked", "01099998888", "", testTime(0))
		talkOnCallback(t, store, "cb-1", "asked", "1001", attemptAnswered, testTime(2*time.Hour))
		talkOnCallback(t, store, "cb-2", "inbound", "1002", "busy", testTime(3*time.Hour))

		latest, err := store.LatestCallOf(ctx, "1001")
		if err != nil || latest.CallID != "asked" {
			t.Errorf("LatestCallOf after a callback = %s, %v; want asked", latest.CallID, err)
		}
		answer, err := store.LastCallbackAnswer(ctx, "1001", testTime(0))
		if err != nil || answer.TaskID != "cb-1" || answer.CallID != "asked" || !answer.StartedAt.Equal(testTime(2*time.Hour)) {
			t.Errorf("LastCallbackAnswer = %+v, %v; want cb-1 of asked at %s", answer, err, testTime(2*time.Hour))
		}
		if _, err := store.LastCallbackAnswer(ctx, "1002", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("LastCallbackAnswer of an unanswered attempt error = %v, want ErrNotFound", err)
		}

		tests := []struct {
			callID, counselor string
			want              bool
		}{
			{"asked", "1001", true},
			{"asked", "1002", false},
			{"inbound", "1002", false},
		}
		for _, tt := range tests {
			got, err := store.TalkedOnCallback(ctx, tt.callID, tt.counselor)
			if err != nil || got != tt.want {
				t.Errorf("TalkedOnCallback(%s, %s) = %t, %v; want %t", tt.callID, tt.counselor, got, err, tt.want)
			}
		}
	})
}
