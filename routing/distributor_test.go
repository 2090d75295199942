package routing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"helpline/queue"
	"helpline/routing"
)

func TestDistributorLongestIdleGetsCaller(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0.Add(-3*time.Minute))
	h.login("c2", t0.Add(-5*time.Minute))
	h.login("c3", t0.Add(-4*time.Minute))
	h.enqueue("call-1", 0, t0)
	h.start()

	call := h.requireOffer("call-1", "c2")

	if got := call.req.Reservation.Queue; got != testQueue {
		t.Errorf("reservation queue = %q, want %q", got, testQueue)
	}
	if err := call.ctx.Err(); err != nil {
		t.Errorf("offer context ended early: %v", err)
	}
	h.requireState("c2", queue.StateOffered)
	h.requireState("c1", queue.StateAvailable)
	h.requireState("c3", queue.StateAvailable)
}

func TestDistributorOneOfferPerCounselor(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.enqueue("call-2", 0, t0.Add(time.Second))
	h.start()

	h.requireOffer("call-1", "c1")
	report := h.settle(anyWalk)

	if report.Started != 1 {
		t.Errorf("offers started = %d, want 1", report.Started)
	}
	h.requireNoOfferWaiting()
	waiting, err := h.memory.Waiting(t.Context(), testQueue)
	if err != nil {
		t.Fatalf("Waiting: %v", err)
	}
	if len(waiting) != 2 || waiting[1].OfferedTo != "" {
		t.Errorf("Waiting = %+v, want call-2 waiting without offer", waiting)
	}
}

func TestDistributorOneOfferPerCaller(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.login("c2", t0.Add(time.Second))
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "c1")
	h.settle(anyWalk)
	report := h.settle(anyWalk)

	if report.Started != 1 {
		t.Errorf("offers started = %d, want 1", report.Started)
	}
	h.requireNoOfferWaiting()
	h.requireState("c2", queue.StateAvailable)
}

func TestDistributorServesCallersInOrder(t *testing.T) {
	const wrapUp = 30 * time.Second
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("first-normal", 0, t0.Add(1*time.Second))
	h.enqueue("second-normal", 0, t0.Add(2*time.Second))
	h.enqueue("urgent", 1, t0.Add(3*time.Second))
	h.start()

	for _, callID := range []string{"urgent", "first-normal", "second-normal"} {
		call := h.requireOffer(callID, "c1")
		report := h.settle(anyWalk)
		if report.InFlight != 1 {
			t.Fatalf("%d offers in flight while %s is offered, want 1", report.InFlight, callID)
		}
		h.requireNoOfferWaiting()
		h.answer(call)
		h.settle(idle)

		now := h.clock.Now()
		wrapUpUntil := now.Add(wrapUp)
		if err := h.memory.FinishCall(t.Context(), "c1", wrapUpUntil, now); err != nil {
			t.Fatalf("FinishCall: %v", err)
		}
		report = h.settle(anyWalk)
		if callID != "second-normal" && !report.Next.Equal(wrapUpUntil) {
			t.Errorf("next wake-up = %v, want the wrap-up end %v", report.Next, wrapUpUntil)
		}
		h.requireNoOfferWaiting()

		// The call layer wakes the distributor when a wrap-up ends early;
		// here the wrap-up runs its full length.
		h.clock.Advance(wrapUp)
		h.dist.Notify()
	}
	h.settle(idle)
	h.requireNoOfferWaiting()
}

func TestDistributorFailedOfferTriesNextCounselor(t *testing.T) {
	tests := []struct {
		name    string
		outcome routing.OfferOutcome
	}{
		{name: "no answer", outcome: routing.NoAnswer},
		{name: "busy", outcome: routing.Busy},
		{name: "declined", outcome: routing.Declined},
		{name: "unavailable", outcome: routing.Unavailable},
		{name: "zero outcome", outcome: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.login("c1", t0.Add(-2*time.Minute))
			h.login("c2", t0.Add(-1*time.Minute))
			h.enqueue("call-1", 0, t0)
			h.start()

			h.requireOffer("call-1", "c1").respond(routing.OfferResult{Outcome: tt.outcome, Err: errors.New("test")})
			h.requireOffer("call-1", "c2")

			c1 := h.requireState("c1", queue.StateAvailable)
			if want := t0.Add(-2 * time.Minute); !c1.IdleSince.Equal(want) {
				t.Errorf("c1 IdleSince = %v, want %v kept", c1.IdleSince, want)
			}
		})
	}
}

func TestDistributorRetriesAfterDelay(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0.Add(-2*time.Minute))
	h.login("c2", t0.Add(-1*time.Minute))
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "c1").respond(routing.OfferResult{Outcome: routing.NoAnswer})
	h.requireOffer("call-1", "c2").respond(routing.OfferResult{Outcome: routing.NoAnswer})
	exhausted := h.waitPass(func(r routing.PassReport) bool { return r.Started == 2 && r.InFlight == 0 })

	retryAt := exhausted.Now.Add(testRetryDelay)
	if !exhausted.Next.Equal(retryAt) {
		t.Errorf("next wake-up = %v, want the retry time %v", exhausted.Next, retryAt)
	}

	h.clock.Advance(retryAt.Sub(h.clock.Now()) - 2*time.Millisecond)
	report := h.settle(anyWalk)
	if !report.Now.Before(retryAt) {
		t.Fatalf("walk at %v, want one before the retry time %v", report.Now, retryAt)
	}
	if report.Started != 2 {
		t.Errorf("offers started before the retry time = %d, want 2", report.Started)
	}
	h.requireNoOfferWaiting()

	h.settle(anyWalk)
	h.requireOffer("call-1", "c1")
}

func TestDistributorSkipsCallerAwaitingRetry(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.enqueue("call-2", 0, t0.Add(time.Second))
	h.start()

	h.requireOffer("call-1", "c1").respond(routing.OfferResult{Outcome: routing.NoAnswer})

	h.requireOffer("call-2", "c1")
}

func TestDistributorForgetsCallerWhoLeft(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()
	h.requireOffer("call-1", "c1").respond(routing.OfferResult{Outcome: routing.NoAnswer})
	exhausted := h.waitPass(func(r routing.PassReport) bool { return r.InFlight == 0 && !r.Next.IsZero() })

	if _, err := h.memory.Leave(t.Context(), "call-1"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	forgotten := h.settle(anyWalk)
	if !forgotten.Next.IsZero() {
		t.Errorf("next wake-up after the caller left = %v, want none", forgotten.Next)
	}

	h.enqueue("call-1", 0, h.clock.Now())
	report := h.settle(anyWalk)
	if !report.Now.Before(exhausted.Next) {
		t.Fatalf("walk at %v, want one before the old retry time %v", report.Now, exhausted.Next)
	}
	h.requireOffer("call-1", "c1")
}

func TestDistributorCallerLeavesDuringOffer(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.login("c2", t0.Add(time.Second))
	h.enqueue("call-1", 0, t0)
	h.start()
	call := h.requireOffer("call-1", "c1")

	if _, err := h.memory.Leave(t.Context(), "call-1"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	h.dist.Notify()

	if cause := waitDone(t, call.ctx); !errors.Is(cause, routing.ErrCallerLeft) {
		t.Errorf("offer context cause = %v, want ErrCallerLeft", cause)
	}
	h.requireState("c1", queue.StateOffered)

	call.respond(routing.OfferResult{Outcome: routing.CallerGone})
	report := h.settle(idle)

	h.requireState("c1", queue.StateAvailable)
	if report.Started != 1 {
		t.Errorf("offers started = %d, want 1", report.Started)
	}
	h.requireNoOfferWaiting()
}

func TestDistributorConfirmFailsWhenCallerLeft(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()
	call := h.requireOffer("call-1", "c1")

	if _, err := h.memory.Leave(t.Context(), "call-1"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	err := call.req.Confirm()

	if !errors.Is(err, queue.ErrReservationLost) {
		t.Fatalf("Confirm = %v, want ErrReservationLost", err)
	}
	if again := call.req.Confirm(); !errors.Is(again, queue.ErrReservationLost) {
		t.Errorf("second Confirm = %v, want the first result", again)
	}
	c1 := h.requireState("c1", queue.StateAvailable)
	if c1.CallID != "" {
		t.Errorf("c1 CallID = %q, want no call", c1.CallID)
	}

	call.respond(routing.OfferResult{Outcome: routing.CallerGone})
	h.settle(idle)
	h.requireState("c1", queue.StateAvailable)
	h.requireNoOfferWaiting()
}

func TestDistributorConfirmConnectsCaller(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()
	call := h.requireOffer("call-1", "c1")

	if err := call.req.Confirm(); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	c1 := h.requireState("c1", queue.StateOnCall)
	if c1.CallID != "call-1" {
		t.Errorf("c1 CallID = %q, want call-1", c1.CallID)
	}

	// The caller has left the queue now, but an offer that is confirmed
	// must not be cancelled as if the caller had hung up.
	h.settle(anyWalk)
	if err := call.ctx.Err(); err != nil {
		t.Errorf("offer context ended after Confirm: %v", context.Cause(call.ctx))
	}

	call.respond(routing.OfferResult{Outcome: routing.Answered})
	h.settle(idle)
	h.requireState("c1", queue.StateOnCall)
	if err := call.req.Confirm(); !errors.Is(err, routing.ErrOfferEnded) {
		t.Errorf("Confirm after the offer ended = %v, want ErrOfferEnded", err)
	}
}

func TestDistributorAnsweredWithoutConfirm(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "c1").respond(routing.OfferResult{Outcome: routing.Answered})
	h.settle(idle)

	c1 := h.requireState("c1", queue.StateOnCall)
	if c1.CallID != "call-1" {
		t.Errorf("c1 CallID = %q, want call-1", c1.CallID)
	}
}

func TestDistributorWrapUpTimerWakesLoop(t *testing.T) {
	const wrapUp = 150 * time.Millisecond
	store := queue.NewMemoryStore()
	offerer := newFakeOfferer()
	t.Cleanup(offerer.close)
	ctx := t.Context()

	now := time.Now()
	mustStore(t, store.AddCounselor(ctx, "c1", now))
	mustStore(t, store.SetState(ctx, "c1", queue.StateAvailable, "", now))
	mustStore(t, store.Enqueue(ctx, queue.Caller{CallID: "earlier", Queue: testQueue, EnqueuedAt: now}))
	r, err := store.Reserve(ctx, queue.ReserveRequest{CallID: "earlier", Now: now})
	mustStore(t, err)
	mustStore(t, store.Connect(ctx, r, now))
	wrapUpUntil := time.Now().Add(wrapUp)
	mustStore(t, store.FinishCall(ctx, "c1", wrapUpUntil, time.Now()))
	mustStore(t, store.Enqueue(ctx, queue.Caller{CallID: "call-1", Queue: testQueue, EnqueuedAt: time.Now()}))

	dist := routing.NewDistributor(store, offerer, routing.WithQueue(testQueue))
	runUntilCleanup(t, dist, offerer)

	select {
	case call := <-offerer.calls:
		if got := call.req.Reservation.CallID; got != "call-1" {
			t.Fatalf("offer of %s, want call-1", got)
		}
		if at := call.req.Reservation.At; at.Before(wrapUpUntil) {
			t.Errorf("offer made at %v, before the wrap-up end %v", at, wrapUpUntil)
		}
	case <-time.After(eventTimeout):
		t.Fatalf("no offer within %v after the wrap-up ended", eventTimeout)
	}
}

func TestDistributorRetryTimerWakesLoop(t *testing.T) {
	store := queue.NewMemoryStore()
	offerer := newFakeOfferer()
	t.Cleanup(offerer.close)
	ctx := t.Context()
	now := time.Now()
	mustStore(t, store.AddCounselor(ctx, "c1", now))
	mustStore(t, store.SetState(ctx, "c1", queue.StateAvailable, "", now))
	mustStore(t, store.Enqueue(ctx, queue.Caller{CallID: "call-1", Queue: testQueue, EnqueuedAt: now}))

	dist := routing.NewDistributor(store, offerer, routing.WithQueue(testQueue), routing.WithRetryDelay(routing.MinRetryDelay))
	runUntilCleanup(t, dist, offerer)

	first := receiveOffer(t, offerer)
	failedAt := time.Now()
	first.respond(routing.OfferResult{Outcome: routing.NoAnswer})

	second := receiveOffer(t, offerer)
	if got := second.req.Reservation.CounselorID; got != "c1" {
		t.Fatalf("retry offered %s, want c1", got)
	}
	if waited := second.req.Reservation.At.Sub(failedAt); waited < routing.MinRetryDelay {
		t.Errorf("retry after %v, want at least %v", waited, routing.MinRetryDelay)
	}
}

func TestDistributorRunWaitsForOffers(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	t.Cleanup(h.offerer.close)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.dist.Run(ctx) }()
	call := h.requireOffer("call-1", "c1")

	cancel()
	if cause := waitDone(t, call.ctx); !errors.Is(cause, context.Canceled) {
		t.Errorf("offer context cause = %v, want context.Canceled", cause)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while an offer was in flight", err)
	default:
	}

	call.respond(routing.OfferResult{Outcome: routing.NoAnswer})
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(eventTimeout):
		t.Fatalf("Run did not return within %v after the last offer ended", eventTimeout)
	}
	h.requireState("c1", queue.StateAvailable)
	if caller, err := h.memory.Waiting(t.Context(), testQueue); err != nil || len(caller) != 1 || caller[0].OfferedTo != "" {
		t.Errorf("Waiting = %+v, %v, want call-1 waiting without offer", caller, err)
	}
}

func TestDistributorRunTwice(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.waitPass(anyWalk)

	err := h.dist.Run(t.Context())

	if !errors.Is(err, routing.ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
}

func TestDistributorNotifyNeverBlocks(t *testing.T) {
	h := newHarness(t, nil)
	for range 100 {
		h.dist.Notify()
	}
}

func TestDistributorRetriesFailedCancel(t *testing.T) {
	const storeOutage = 1000
	var flaky *flakyStore
	h := newHarness(t, func(s queue.Store) queue.Store {
		flaky = &flakyStore{Store: s, cancelFails: storeOutage}
		return flaky
	})
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "c1").respond(routing.OfferResult{Outcome: routing.NoAnswer})
	report := h.settle(idle)

	h.requireState("c1", queue.StateOffered)
	if want := report.Now.Add(testRetryDelay); !report.Next.Equal(want) {
		t.Errorf("next wake-up = %v, want %v to retry the cancel", report.Next, want)
	}

	flaky.setCancelFails(0)
	h.clock.Advance(testRetryDelay)
	h.settle(anyWalk)
	h.requireState("c1", queue.StateAvailable)
	if attempts := flaky.cancelAttempts(); attempts < 3 {
		t.Errorf("CancelReservation attempts = %d, want at least 3", attempts)
	}
}

func TestDistributorRetriesFailedWalk(t *testing.T) {
	h := newHarness(t, func(s queue.Store) queue.Store {
		return &flakyStore{Store: s, waitingFails: 1}
	})
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	failed := h.waitPass(anyWalk)
	if want := failed.Now.Add(testRetryDelay); !failed.Next.Equal(want) {
		t.Errorf("next wake-up after a store failure = %v, want %v", failed.Next, want)
	}

	h.clock.Advance(testRetryDelay)
	h.dist.Notify()
	h.requireOffer("call-1", "c1")
}

func TestOutcomeForStatus(t *testing.T) {
	tests := []struct {
		status int
		want   routing.OfferOutcome
	}{
		{status: 200, want: routing.Answered},
		{status: 180, want: routing.Unavailable},
		{status: 404, want: routing.Unavailable},
		{status: 408, want: routing.Unavailable},
		{status: 480, want: routing.Unavailable},
		{status: 486, want: routing.Busy},
		{status: 487, want: routing.NoAnswer},
		{status: 500, want: routing.Unavailable},
		{status: 600, want: routing.Busy},
		{status: 603, want: routing.Declined},
	}
	for _, tt := range tests {
		if got := routing.OutcomeForStatus(tt.status); got != tt.want {
			t.Errorf("OutcomeForStatus(%d) = %s, want %s", tt.status, got, tt.want)
		}
	}
}

// mustStore fails the test on a store error during setup.
func mustStore(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("store setup: %v", err)
	}
}

// runUntilCleanup runs dist on the real clock until the test ends.
func runUntilCleanup(t *testing.T, dist *routing.Distributor, offerer *fakeOfferer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dist.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		offerer.close()
		select {
		case <-done:
		case <-time.After(eventTimeout):
			t.Errorf("Run did not return within %v", eventTimeout)
		}
	})
}

// receiveOffer waits for the next Offer call of offerer.
func receiveOffer(t *testing.T, offerer *fakeOfferer) *offerCall {
	t.Helper()
	select {
	case call := <-offerer.calls:
		return call
	case <-time.After(eventTimeout):
		t.Fatalf("no offer within %v", eventTimeout)
		return nil
	}
}
