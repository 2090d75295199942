package routing_test

import (
	"testing"
	"time"

	"helpline/events"
	"helpline/routing"
)

// waitEvent returns the next event of sub, failing the test after
// eventTimeout.
func waitEvent(t *testing.T, sub *events.Subscription) events.Event {
	t.Helper()
	select {
	case e := <-sub.C():
		return e
	case <-time.After(eventTimeout):
		t.Fatalf("no event within %v", eventTimeout)
		return events.Event{}
	}
}

func TestDistributorPublishesOfferEvents(t *testing.T) {
	tests := []struct {
		name        string
		result      routing.OfferResult
		wantType    events.Type
		wantOutcome string
		wantStatus  string
	}{
		{"no answer", routing.OfferResult{Outcome: routing.NoAnswer, Status: 487}, events.RingNoAnswer, "no_answer", "487"},
		{"busy", routing.OfferResult{Outcome: routing.Busy, Status: 486}, events.OfferRejected, "busy", "486"},
		{"declined", routing.OfferResult{Outcome: routing.Declined, Status: 603}, events.OfferRejected, "declined", "603"},
		{"unreachable", routing.OfferResult{Outcome: routing.Unavailable}, events.OfferRejected, "unavailable", "0"},
		{"zero outcome", routing.OfferResult{}, events.OfferRejected, "unavailable", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := events.NewBus()
			sub := bus.Subscribe(16)
			t.Cleanup(sub.Close)
			h := newHarness(t, nil, routing.WithEvents(bus))
			h.login("c1", t0.Add(-2*time.Minute))
			h.login("c2", t0.Add(-time.Minute))
			h.enqueue("call-1", 0, t0)
			h.start()

			h.requireOffer("call-1", "c1").respond(tt.result)
			h.requireOffer("call-1", "c2")

			offered := waitEvent(t, sub)
			if offered.Type != events.Offered || offered.CallID != "call-1" || offered.CounselorID != "c1" || offered.Queue != testQueue {
				t.Errorf("first event = %+v, want offered of call-1 to c1 in %s", offered, testQueue)
			}
			failed := waitEvent(t, sub)
			if failed.Type != tt.wantType || failed.CallID != "call-1" || failed.CounselorID != "c1" {
				t.Errorf("second event = %+v, want %s of call-1 to c1", failed, tt.wantType)
			}
			if failed.Data["outcome"] != tt.wantOutcome || failed.Data["status"] != tt.wantStatus {
				t.Errorf("second event data = %v, want outcome %s and status %s", failed.Data, tt.wantOutcome, tt.wantStatus)
			}
			next := waitEvent(t, sub)
			if next.Type != events.Offered || next.CounselorID != "c2" {
				t.Errorf("third event = %+v, want offered to c2", next)
			}
		})
	}
}

func TestDistributorLeavesConnectedToCallLayer(t *testing.T) {
	bus := events.NewBus()
	sub := bus.Subscribe(16)
	t.Cleanup(sub.Close)
	h := newHarness(t, nil, routing.WithEvents(bus))
	h.login("c1", t0.Add(-time.Minute))
	h.enqueue("call-1", 0, t0)
	h.start()

	call := h.requireOffer("call-1", "c1")
	if err := call.req.Confirm(); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	call.respond(routing.OfferResult{Outcome: routing.Answered, Status: 200})
	h.requireState("c1", "on_call")

	if e := waitEvent(t, sub); e.Type != events.Offered {
		t.Errorf("first event = %+v, want offered", e)
	}
	select {
	case e := <-sub.C():
		t.Errorf("unexpected event after an answered offer: %+v", e)
	default:
	}
}
