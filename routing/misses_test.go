package routing_test

import (
	"testing"
	"time"

	"helpline/events"
	"helpline/queue"
	"helpline/routing"
)

// missHarness is a harness with a miss policy and an event bus.
func missHarness(t *testing.T, maxMissed int, busySkip time.Duration) (*harness, *events.Subscription) {
	t.Helper()
	bus := events.NewBus()
	sub := bus.Subscribe(0)
	t.Cleanup(sub.Close)
	h := newHarness(t, nil, routing.WithMissPolicy(routing.NewMissPolicy(maxMissed, busySkip)), routing.WithEvents(bus))
	return h, sub
}

// counselorEvent returns the next counselor_state event, or fails.
func counselorEvent(t *testing.T, sub *events.Subscription) events.Event {
	t.Helper()
	deadline := time.After(eventTimeout)
	for {
		select {
		case e := <-sub.C():
			if e.Type == events.CounselorState {
				return e
			}
		case <-deadline:
			t.Fatalf("no counselor_state event within %v", eventTimeout)
			return events.Event{}
		}
	}
}

func TestMissesInRowPauseCounselor(t *testing.T) {
	h, sub := missHarness(t, 2, 0)
	h.login("slow", t0.Add(-time.Hour))
	h.login("quick", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "slow").respond(routing.OfferResult{Outcome: routing.NoAnswer})
	h.answer(h.requireOffer("call-1", "quick"))
	h.settle(idle)
	h.requireState("slow", queue.StateAvailable)

	h.enqueue("call-2", 0, h.clock.Now())
	h.dist.Notify()
	h.requireOffer("call-2", "slow").respond(routing.OfferResult{Outcome: routing.Unavailable})
	h.settle(idle)

	paused := h.requireState("slow", queue.StateBreak)
	if paused.Reason != routing.MissedCallsReason {
		t.Errorf("break reason = %q, want %q", paused.Reason, routing.MissedCallsReason)
	}
	event := counselorEvent(t, sub)
	want := map[string]string{"from": "available", "to": "break", "reason": "missed calls", "source": "missed_calls"}
	for key, value := range want {
		if event.Data[key] != value {
			t.Errorf("event Data[%s] = %q, want %q", key, event.Data[key], value)
		}
	}
	if event.CounselorID != "slow" {
		t.Errorf("event counselor = %q, want slow", event.CounselorID)
	}
}

func TestAnsweredOfferResetsMisses(t *testing.T) {
	h, _ := missHarness(t, 2, 0)
	h.login("c1", t0)
	h.start()

	outcomes := []routing.OfferOutcome{routing.NoAnswer, routing.Answered, routing.NoAnswer}
	for i, outcome := range outcomes {
		callID := "call-" + string(rune('1'+i))
		h.enqueue(callID, 0, h.clock.Now())
		h.dist.Notify()
		call := h.requireOffer(callID, "c1")
		if outcome == routing.Answered {
			h.answer(call)
			h.settle(idle)
			if err := h.memory.FinishCall(t.Context(), "c1", h.clock.Now(), h.clock.Now()); err != nil {
				t.Fatalf("FinishCall: %v", err)
			}
			continue
		}
		call.respond(routing.OfferResult{Outcome: outcome})
		h.settle(idle)
		if _, err := h.memory.Leave(t.Context(), callID); err != nil {
			t.Fatalf("Leave(%s): %v", callID, err)
		}
		h.settle(idle)
	}

	h.requireState("c1", queue.StateAvailable)
}

func TestBusyCounselorSkippedForEveryCaller(t *testing.T) {
	const busySkip = 30 * time.Second
	h, _ := missHarness(t, 1, busySkip)
	h.login("busy", t0.Add(-time.Hour))
	h.login("free", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "busy").respond(routing.OfferResult{Outcome: routing.Busy})
	h.answer(h.requireOffer("call-1", "free"))
	h.settle(idle)
	h.requireState("busy", queue.StateAvailable)

	h.enqueue("call-2", 0, h.clock.Now())
	report := h.settle(anyWalk)
	h.requireNoOfferWaiting()
	if report.Next.IsZero() || report.Next.After(t0.Add(busySkip+time.Second)) {
		t.Errorf("next wake-up = %v, want the end of the busy skip near %v", report.Next, t0.Add(busySkip))
	}

	h.clock.Advance(busySkip)
	h.dist.Notify()
	h.requireOffer("call-2", "busy")
}

func TestCallerLeavingIsNoMiss(t *testing.T) {
	h, _ := missHarness(t, 1, 0)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	call := h.requireOffer("call-1", "c1")
	if _, err := h.memory.Leave(t.Context(), "call-1"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	h.dist.Notify()
	waitDone(t, call.ctx)
	call.respond(routing.OfferResult{Outcome: routing.CallerGone})
	h.settle(idle)

	h.requireState("c1", queue.StateAvailable)
}

// An offer the server could not make (no RTP port) is no miss: the
// counselor stays available, no offer event blames the phone, and the
// caller stays queued and is offered again after the retry delay.
func TestServerErrorIsNoMiss(t *testing.T) {
	h, sub := missHarness(t, 1, 0)
	h.login("c1", t0)
	h.enqueue("call-1", 0, t0)
	h.start()

	h.requireOffer("call-1", "c1").respond(routing.OfferResult{Outcome: routing.ServerError})
	report := h.settle(idle)
	h.requireNoOfferWaiting()

	h.requireState("c1", queue.StateAvailable)
	waiting, err := h.memory.Waiting(t.Context(), testQueue)
	if err != nil {
		t.Fatalf("Waiting: %v", err)
	}
	if len(waiting) != 1 || waiting[0].CallID != "call-1" {
		t.Errorf("waiting callers = %v, want call-1 still queued", waiting)
	}
	if report.Next.IsZero() || report.Next.After(t0.Add(testRetryDelay+time.Second)) {
		t.Errorf("next wake-up = %v, want the retry near %v", report.Next, t0.Add(testRetryDelay))
	}
	for len(sub.C()) > 0 {
		if e := <-sub.C(); e.Type == events.OfferRejected || e.Type == events.RingNoAnswer || e.Type == events.CounselorState {
			t.Errorf("event %s for a server error, want none that blames the counselor", e.Type)
		}
	}

	h.clock.Advance(testRetryDelay)
	h.dist.Notify()
	h.answer(h.requireOffer("call-1", "c1"))
	h.settle(idle)
}
