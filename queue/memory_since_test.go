package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"helpline/queue"
)

var t0 = time.Date(2026, time.January, 5, 9, 0, 0, 0, time.UTC)

func TestSinceFollowsStateChanges(t *testing.T) {
	ctx := context.Background()
	s := queue.NewMemoryStore()
	_ = s.AddCounselor(ctx, "c1", t0)
	since := func() time.Time {
		c, _ := s.Counselor(ctx, "c1")
		return c.Since
	}
	if !since().Equal(t0) {
		t.Errorf("Since after AddCounselor = %v, want %v", since(), t0)
	}

	_ = s.SetState(ctx, "c1", queue.StateAvailable, "", t0.Add(time.Minute))
	_ = s.SetState(ctx, "c1", queue.StateAvailable, "", t0.Add(2*time.Minute))
	if !since().Equal(t0.Add(time.Minute)) {
		t.Errorf("Since after login twice = %v, want the first login", since())
	}

	_ = s.SetState(ctx, "c1", queue.StateBreak, "lunch", t0.Add(3*time.Minute))
	if !since().Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("Since after break = %v, want the break's start", since())
	}
}

// A counselor in wrap-up gets no offer from any queue until the wrap-up
// ends.
func TestWrapUpHoldsOffersInEveryQueue(t *testing.T) {
	ctx := context.Background()
	s := queue.NewMemoryStore()
	_ = s.AddCounselor(ctx, "c1", t0)
	_ = s.SetState(ctx, "c1", queue.StateAvailable, "", t0)
	_ = s.Enqueue(ctx, queue.Caller{CallID: "first", Queue: "korean", EnqueuedAt: t0})
	r, err := s.Reserve(ctx, queue.ReserveRequest{CallID: "first", Now: t0})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	_ = s.Connect(ctx, r, t0)
	wrapUpEnd := t0.Add(2 * time.Minute)
	if err := s.FinishCall(ctx, "c1", wrapUpEnd, t0.Add(time.Minute)); err != nil {
		t.Fatalf("FinishCall: %v", err)
	}
	_ = s.Enqueue(ctx, queue.Caller{CallID: "korean-2", Queue: "korean", EnqueuedAt: t0})
	_ = s.Enqueue(ctx, queue.Caller{CallID: "someone-else", Queue: "someone_else", EnqueuedAt: t0})

	for _, callID := range []string{"korean-2", "someone-else"} {
		_, err := s.Reserve(ctx, queue.ReserveRequest{CallID: callID, Now: wrapUpEnd.Add(-time.Second)})
		if !errors.Is(err, queue.ErrNoCounselor) {
			t.Errorf("Reserve(%s) during wrap-up = %v, want ErrNoCounselor", callID, err)
		}
	}

	r, err = s.Reserve(ctx, queue.ReserveRequest{CallID: "someone-else", Now: wrapUpEnd})
	if err != nil || r.CounselorID != "c1" {
		t.Errorf("Reserve(someone-else) after wrap-up = %+v, %v, want c1", r, err)
	}
}
