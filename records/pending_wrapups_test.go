package records

import (
	"context"
	"testing"
	"time"
)

// answerCall stores an ended call from number that counselor answered at
// answered, queued in the Korean queue.
func answerCall(t *testing.T, store *Store, callID, number, counselor string, answered time.Time) {
	t.Helper()
	startCall(t, store, callID, number, counselor, answered.Add(5*time.Minute))
	patch := Patch{CounselorAnsweredAt: new(answered), Queue: new("loneliness_ko"), Language: new("ko"), CallerType: new("self")}
	if err := store.Update(context.Background(), callID, patch); err != nil {
		t.Fatalf("Update %s: %v", callID, err)
	}
}

func TestPendingWrapUps(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		since := testTime(0)

		answerCall(t, store, "too-old", "01011110000", "1001", since.Add(-time.Hour))
		answerCall(t, store, "first", "01011110001", "1001", since.Add(time.Hour))
		answerCall(t, store, "saved", "01011110002", "1001", since.Add(2*time.Hour))
		answerCall(t, store, "other-counselor", "01011110003", "1002", since.Add(3*time.Hour))
		startCall(t, store, "asked", "01011110004", "", since.Add(30*time.Minute))
		talkOnCallback(t, store, "cb-1", "asked", "1001", attemptAnswered, since.Add(4*time.Hour))
		talkOnCallback(t, store, "cb-2", "first", "1001", "busy", since.Add(5*time.Hour))
		// A call in progress has no end yet.
		if err := store.Start(ctx, StartInfo{CallID: "in-progress", CallerNumber: "01011110005", StartedAt: since.Add(6 * time.Hour)}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := store.Update(ctx, "in-progress", Patch{Counselor: new("1001"), CounselorAnsweredAt: new(since.Add(6 * time.Hour))}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		saved := WrapUp{CallID: "saved", Reporter: ReporterSelf, Risk: RiskLow, FollowUp: FollowUpNone}
		if _, err := store.SaveWrapUp(ctx, saved, false); err != nil {
			t.Fatalf("SaveWrapUp: %v", err)
		}

		list, err := store.PendingWrapUps(ctx, "1001", since, 0)
		if err != nil {
			t.Fatalf("PendingWrapUps: %v", err)
		}
		var ids []string
		for _, p := range list {
			ids = append(ids, p.CallID)
		}
		if len(ids) != 2 || ids[0] != "asked" || ids[1] != "first" {
			t.Fatalf("pending calls = %v, want [asked first]", ids)
		}
		if list[0].Kind != PendingKindCallback || !list[0].TalkedAt.Equal(since.Add(4*time.Hour)) {
			t.Errorf("asked = %+v, want kind callback talked at %s", list[0], since.Add(4*time.Hour))
		}
		first := list[1]
		if first.Kind != PendingKindCall || first.Queue != "loneliness_ko" || first.Language != "ko" || first.CallerType != "self" {
			t.Errorf("first = %+v, want an inbound call of loneliness_ko, ko, self", first)
		}
		if !first.StartedAt.Equal(since.Add(time.Hour + 4*time.Minute)) {
			t.Errorf("first started at %s, want %s", first.StartedAt, since.Add(time.Hour+4*time.Minute))
		}

		limited, err := store.PendingWrapUps(ctx, "1001", since, 1)
		if err != nil || len(limited) != 1 || limited[0].CallID != "asked" {
			t.Errorf("PendingWrapUps with limit 1 = %+v, %v; want asked only", limited, err)
		}
	})
}

func TestPendingWrapUpsListsCallOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		since := testTime(0)
		answerCall(t, store, "both", "01011110001", "1001", since.Add(time.Hour))
		talkOnCallback(t, store, "cb-1", "both", "1001", attemptAnswered, since.Add(2*time.Hour))

		list, err := store.PendingWrapUps(ctx, "1001", since, 0)
		if err != nil {
			t.Fatalf("PendingWrapUps: %v", err)
		}
		if len(list) != 1 || list[0].CallID != "both" || list[0].Kind != PendingKindCallback {
			t.Errorf("pending = %+v, want call both once, as its later callback", list)
		}
	})
}
