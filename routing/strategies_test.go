package routing_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/queue"
	"helpline/routing"
)

func TestDistributorStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy queue.Strategy
		// prepare runs before the queue gets its caller.
		prepare func(h *harness)
		want    string
	}{
		{
			name:     "longest idle",
			strategy: queue.StrategyLongestIdle,
			want:     "c3",
		},
		{
			name:     "round robin starts after the last offered",
			strategy: queue.StrategyRoundRobin,
			prepare: func(h *harness) {
				serveOne(h, "earlier", queue.StrategyRoundRobin)
			},
			want: "c2",
		},
		{
			name:     "fewest calls today",
			strategy: queue.StrategyFewestCalls,
			prepare: func(h *harness) {
				serveOne(h, "earlier-1", queue.StrategyLongestIdle)
				serveOne(h, "earlier-2", queue.StrategyLongestIdle)
			},
			want: "c1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, routing.WithStrategy(tt.strategy))
			h.login("c1", t0.Add(-1*time.Minute))
			h.login("c2", t0.Add(-2*time.Minute))
			h.login("c3", t0.Add(-3*time.Minute))
			if tt.prepare != nil {
				tt.prepare(h)
			}
			h.enqueue("call-1", 0, t0)
			h.start()

			h.requireOffer("call-1", tt.want)
		})
	}
}

// serveOne connects and finishes one call in the store alone, before the
// distributor starts, and returns the counselor who took it.
func serveOne(h *harness, callID string, strategy queue.Strategy) string {
	h.t.Helper()
	ctx := h.t.Context()
	h.enqueue(callID, 0, t0.Add(-time.Hour))
	r, err := h.memory.Reserve(ctx, queue.ReserveRequest{CallID: callID, Now: t0, Strategy: strategy})
	if err != nil {
		h.t.Fatalf("Reserve(%s): %v", callID, err)
	}
	if err := h.memory.Connect(ctx, r, t0); err != nil {
		h.t.Fatalf("Connect(%s): %v", callID, err)
	}
	// Ending the call at its start keeps the counselor's idle time old.
	if err := h.memory.FinishCall(ctx, r.CounselorID, time.Time{}, t0); err != nil {
		h.t.Fatalf("FinishCall(%s): %v", r.CounselorID, err)
	}
	return r.CounselorID
}

func TestDistributorSkillFiltersCounselors(t *testing.T) {
	levels := map[string]int{"korean": 0, "english": 3}
	h := newHarness(t, nil, routing.WithSkill("en", levels, 0))
	h.login("korean", t0.Add(-5*time.Minute))
	h.login("english", t0.Add(-1*time.Minute))
	h.login("unlisted", t0.Add(-9*time.Minute))
	h.enqueue("call-1", 0, t0)
	h.start()

	call := h.requireOffer("call-1", "english")

	call.respond(routing.OfferResult{Outcome: routing.NoAnswer})
	report := h.waitPass(func(r routing.PassReport) bool { return r.InFlight == 0 && r.Started == 1 })
	if report.Next.IsZero() {
		t.Errorf("after the only skilled counselor failed, next wake-up = none, want the retry time")
	}
	h.requireNoOfferWaiting()
	h.requireState("korean", queue.StateAvailable)
}

func TestDistributorSkillsPreferHigherLevel(t *testing.T) {
	levels := map[string]int{"novice": 1, "expert": 5}
	h := newHarness(t, nil, routing.WithStrategy(queue.StrategySkills), routing.WithSkill("en", levels, 0))
	h.login("novice", t0.Add(-5*time.Minute))
	h.login("expert", t0.Add(-1*time.Minute))
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "expert")
}

func TestDistributorWidensAfterWait(t *testing.T) {
	const widenAfter = 30 * time.Second
	levels := map[string]int{"best": 5, "good": 3, "other": 0}
	h := newHarness(t, nil, routing.WithStrategy(queue.StrategySkills), routing.WithSkill("en", levels, widenAfter))
	h.login("good", t0.Add(-5*time.Minute))
	h.login("other", t0.Add(-9*time.Minute))
	if err := h.memory.AddCounselor(t.Context(), "best", t0); err != nil {
		t.Fatalf("AddCounselor: %v", err)
	}
	h.enqueue("call-1", 0, t0)
	h.start()

	report := h.settle(anyWalk)
	if want := t0.Add(widenAfter); !report.Next.Equal(want) {
		t.Errorf("next wake-up before widening = %v, want %v", report.Next, want)
	}
	h.requireNoOfferWaiting()

	h.clock.Advance(widenAfter)
	h.settle(anyWalk)
	h.requireOffer("call-1", "good")
}

func TestDistributorWideningServesLaterCaller(t *testing.T) {
	const widenAfter = 30 * time.Second
	levels := map[string]int{"best": 5, "other": 0}
	h := newHarness(t, nil, routing.WithSkill("en", levels, widenAfter))
	h.login("other", t0.Add(-time.Minute))
	if err := h.memory.AddCounselor(t.Context(), "best", t0); err != nil {
		t.Fatalf("AddCounselor: %v", err)
	}
	h.enqueue("waited-long", 0, t0.Add(-widenAfter))
	h.enqueue("urgent-new", 1, t0)
	h.start()

	h.requireOffer("waited-long", "other")
}

func TestDistributorRingAll(t *testing.T) {
	h := newHarness(t, nil, routing.WithStrategy(queue.StrategyRingAll))
	h.login("c1", t0.Add(-1*time.Minute))
	h.login("c2", t0.Add(-2*time.Minute))
	h.enqueue("call-1", 0, t0)
	h.start()

	call := h.requireOffer("call-1", "c2")
	if want := []string{"c2", "c1"}; !slices.Equal(call.req.Reservation.Ringing, want) {
		t.Fatalf("Ringing = %v, want %v", call.req.Reservation.Ringing, want)
	}
	h.requireState("c1", queue.StateOffered)

	if err := call.req.ConfirmCounselor("c1"); err != nil {
		t.Fatalf("ConfirmCounselor(c1): %v", err)
	}
	if err := call.req.ConfirmCounselor("c1"); err != nil {
		t.Errorf("repeated ConfirmCounselor(c1) = %v, want the first result", err)
	}
	if err := call.req.ConfirmCounselor("c2"); !errors.Is(err, routing.ErrAnsweredElsewhere) {
		t.Errorf("ConfirmCounselor(c2) after c1 = %v, want ErrAnsweredElsewhere", err)
	}
	call.respond(routing.OfferResult{Outcome: routing.Answered})
	h.settle(idle)

	if c := h.requireState("c1", queue.StateOnCall); c.CallID != "call-1" {
		t.Errorf("c1 CallID = %q, want call-1", c.CallID)
	}
	h.requireState("c2", queue.StateAvailable)
	h.requireNoOfferWaiting()
}

func TestDistributorRingAllNoAnswerRetries(t *testing.T) {
	h := newHarness(t, nil, routing.WithStrategy(queue.StrategyRingAll))
	h.login("c1", t0.Add(-1*time.Minute))
	h.login("c2", t0.Add(-2*time.Minute))
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "c2").respond(routing.OfferResult{Outcome: routing.NoAnswer})
	exhausted := h.waitPass(func(r routing.PassReport) bool { return r.InFlight == 0 && !r.Next.IsZero() })

	h.requireNoOfferWaiting()
	h.requireState("c1", queue.StateAvailable)
	h.requireState("c2", queue.StateAvailable)

	h.clock.Advance(exhausted.Next.Sub(h.clock.Now()))
	h.settle(anyWalk)
	again := h.requireOffer("call-1", "c2")
	if len(again.req.Reservation.Ringing) != 2 {
		t.Errorf("retry rings %v, want both counselors", again.req.Reservation.Ringing)
	}
}

func TestDistributorRingAllConfirmUnknownCounselor(t *testing.T) {
	h := newHarness(t, nil, routing.WithStrategy(queue.StrategyRingAll))
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	call := h.requireOffer("call-1", "c1")
	err := call.req.ConfirmCounselor("stranger")

	if !errors.Is(err, queue.ErrReservationLost) && !errors.Is(err, queue.ErrUnknownCounselor) {
		t.Errorf("ConfirmCounselor(stranger) = %v, want a lost reservation", err)
	}
	if c := h.counselor("c1"); c.State == queue.StateOnCall {
		t.Errorf("c1 connected by a confirmation naming another counselor")
	}
	call.respond(routing.OfferResult{Outcome: routing.CallerGone})
	h.requireOffer("call-1", "c1")
}

func TestDistributorsShareCounselorOneOfferAtATime(t *testing.T) {
	h := newHarness(t, nil)
	h.login("shared", t0)
	h.enqueue("call-1", 0, t0)
	if err := h.memory.Enqueue(t.Context(), queue.Caller{CallID: "call-other", Queue: "other", EnqueuedAt: t0}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	other := routing.NewDistributor(h.memory, h.offerer,
		routing.WithQueue("other"), routing.WithClock(h.clock.Now),
		routing.WithStrategy(queue.StrategyRingAll),
		routing.WithLogger(zerolog.New(zerolog.NewTestWriter(t))))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- other.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		h.offerer.close()
		<-done
	})
	h.start()

	first := h.nextOffer()
	h.settle(anyWalk)
	other.Notify()
	h.settle(anyWalk)
	h.requireNoOfferWaiting()
	if c := h.requireState("shared", queue.StateOffered); c.OfferCallID != first.req.Reservation.CallID {
		t.Errorf("shared offered for %s, want %s", c.OfferCallID, first.req.Reservation.CallID)
	}

	first.respond(routing.OfferResult{Outcome: routing.Busy})
	// The other queue's distributor may reserve the counselor again as soon
	// as the busy offer is released, so wait only for that release.
	waitReleased(t, h.memory, "shared", first.req.Reservation.CallID)
	h.dist.Notify()
	other.Notify()
	second := h.nextOffer()
	if second.req.Reservation.CallID == first.req.Reservation.CallID {
		t.Errorf("second offer went to the same caller %s, want the other queue's caller", second.req.Reservation.CallID)
	}
}

// waitReleased polls the store until counselor id is no longer offered
// for callID.
func waitReleased(t *testing.T, store queue.Store, id, callID string) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for time.Now().Before(deadline) {
		c, err := store.Counselor(t.Context(), id)
		if err != nil {
			t.Fatalf("Counselor(%s): %v", id, err)
		}
		if c.State != queue.StateOffered || c.OfferCallID != callID {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("counselor %s still offered for %s after %v", id, callID, eventTimeout)
}
