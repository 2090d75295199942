package records

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStartStoresNode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		if err := store.Start(ctx, StartInfo{CallID: "c", Node: "node-a", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start: %v", err)
		}

		got, err := store.Get(ctx, "c")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.Node != "node-a" {
			t.Errorf("Node = %q, want node-a", got.Node)
		}
	})
}

func TestMarkNodeInterruptedClosesOnlyThatNode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		updatedAt := testTime(time.Hour)
		store := db.openStore(t, testKey(t, 1), fixedClock(updatedAt))
		ctx := context.Background()
		calls := []StartInfo{
			{CallID: "a-late", Node: "node-a", CallerNumber: "01011112222", StartedAt: testTime(2 * time.Second)},
			{CallID: "a-early", Node: "node-a", CallerNumber: "01033334444", StartedAt: testTime(time.Second)},
			{CallID: "a-ended", Node: "node-a", StartedAt: testTime(0)},
			{CallID: "b-open", Node: "node-b", StartedAt: testTime(0)},
			{CallID: "alone-open", StartedAt: testTime(0)},
		}
		for _, info := range calls {
			if err := store.Start(ctx, info); err != nil {
				t.Fatalf("Start %s: %v", info.CallID, err)
			}
		}
		if err := store.Update(ctx, "a-ended", Patch{EndedAt: new(testTime(3 * time.Second)), Outcome: new(OutcomeAnswered)}); err != nil {
			t.Fatalf("Update a-ended: %v", err)
		}
		if err := store.Update(ctx, "a-late", Patch{Queue: new("general"), Priority: new("high_risk"), CallerType: new("self")}); err != nil {
			t.Fatalf("Update a-late: %v", err)
		}

		stoppedAt := testTime(time.Minute)
		closed, err := store.MarkNodeInterrupted(ctx, "node-a", stoppedAt)
		if err != nil {
			t.Fatalf("MarkNodeInterrupted: %v", err)
		}
		if len(closed) != 2 || closed[0].CallID != "a-early" || closed[1].CallID != "a-late" {
			t.Fatalf("closed records = %v, want a-early and a-late in start order", callIDs(closed))
		}
		late := closed[1]
		checks := []struct {
			name      string
			got, want any
		}{
			{"Outcome", late.Outcome, OutcomeInterrupted},
			{"HangupSide", late.HangupSide, SideServer},
			{"HangupReason", late.HangupReason, "node stopped"},
			{"CallerNumber", late.CallerNumber, "01011112222"},
			{"Queue", late.Queue, "general"},
			{"Priority", late.Priority, "high_risk"},
			{"CallerType", late.CallerType, "self"},
			{"Node", late.Node, "node-a"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("returned record %s = %v, want %v", c.name, c.got, c.want)
			}
		}
		if !late.EndedAt.Equal(stoppedAt) || !late.UpdatedAt.Equal(updatedAt) {
			t.Errorf("returned record EndedAt = %v, UpdatedAt = %v; want %v and %v", late.EndedAt, late.UpdatedAt, stoppedAt, updatedAt)
		}

		for _, id := range []string{"b-open", "alone-open"} {
			rec, err := store.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get %s: %v", id, err)
			}
			if !rec.EndedAt.IsZero() || rec.Outcome != "" {
				t.Errorf("%s: EndedAt = %v, Outcome = %q; want it still open", id, rec.EndedAt, rec.Outcome)
			}
		}
		ended, err := store.Get(ctx, "a-ended")
		if err != nil {
			t.Fatalf("Get a-ended: %v", err)
		}
		if ended.Outcome != OutcomeAnswered {
			t.Errorf("a-ended Outcome = %q, want answered kept", ended.Outcome)
		}

		again, err := store.MarkNodeInterrupted(ctx, "node-a", stoppedAt)
		if err != nil || len(again) != 0 {
			t.Errorf("second MarkNodeInterrupted = %v, %v; want none", callIDs(again), err)
		}
	})
}

func TestMarkNodeInterruptedRejectsEmptyNode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		if _, err := store.MarkNodeInterrupted(context.Background(), "", testTime(0)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("MarkNodeInterrupted with an empty node: error = %v, want ErrInvalidInput", err)
		}
	})
}

func TestMarkInterruptedClosesEveryNode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		for _, info := range []StartInfo{{CallID: "a", Node: "node-a"}, {CallID: "alone"}} {
			if err := store.Start(ctx, info); err != nil {
				t.Fatalf("Start %s: %v", info.CallID, err)
			}
		}

		count, err := store.MarkInterrupted(ctx, testTime(0))
		if err != nil || count != 2 {
			t.Fatalf("MarkInterrupted = %d, %v; want 2, nil", count, err)
		}
		rec, err := store.Get(ctx, "alone")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if rec.Outcome != OutcomeInterrupted || rec.HangupReason != "server restarted" {
			t.Errorf("Outcome = %q, HangupReason = %q; want interrupted, server restarted", rec.Outcome, rec.HangupReason)
		}
	})
}

func TestCreateCallbackDuplicateKeepsFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		first := Callback{
			TaskID: "interrupted-call-1", CallID: "call-1", Queue: "general", Reason: "interrupted",
			State: CallbackPending, Number: "01012345678", EnqueuedAt: testTime(0), CreatedAt: testTime(0),
		}
		if err := store.CreateCallback(ctx, first); err != nil {
			t.Fatalf("CreateCallback: %v", err)
		}

		second := first
		second.Reason, second.Number = "requested", "01099998888"
		if err := store.CreateCallback(ctx, second); !errors.Is(err, ErrCallbackExists) {
			t.Fatalf("CreateCallback of an existing task ID: error = %v, want ErrCallbackExists", err)
		}

		list, err := store.ListCallbacks(ctx)
		if err != nil {
			t.Fatalf("ListCallbacks: %v", err)
		}
		if len(list) != 1 || list[0].Reason != "interrupted" || list[0].Number != "01012345678" {
			t.Errorf("ListCallbacks = %+v, want the first task unchanged", list)
		}
	})
}

func callIDs(recs []Record) []string {
	ids := make([]string, 0, len(recs))
	for _, rec := range recs {
		ids = append(ids, rec.CallID)
	}
	return ids
}
