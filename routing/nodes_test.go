package routing_test

import (
	"testing"
	"time"

	"helpline/queue"
	"helpline/routing"
)

// Node IDs of the tests with several nodes.
const (
	thisNode  = "node-a"
	otherNode = "node-b"
)

// enqueueOn adds a caller held by node to the test queue.
func (h *harness) enqueueOn(callID, node string, priority int, enqueuedAt time.Time) {
	h.t.Helper()
	caller := queue.Caller{CallID: callID, Queue: testQueue, Priority: priority, EnqueuedAt: enqueuedAt, Node: node}
	if err := h.memory.Enqueue(h.t.Context(), caller); err != nil {
		h.t.Fatalf("Enqueue(%s): %v", callID, err)
	}
}

func TestNodeSkipsOtherNodesCallers(t *testing.T) {
	h := newHarness(t, nil, routing.WithNode(thisNode))
	h.login("c1", t0)
	h.login("c2", t0.Add(time.Second))
	h.enqueueOn("theirs", otherNode, 0, t0)
	h.enqueueOn("ours", thisNode, 0, t0.Add(time.Second))
	h.enqueueOn("unowned", "", 0, t0.Add(2*time.Second))
	h.start()

	// The two offers run on their own goroutines, so they arrive in
	// either order.
	got := map[string]string{}
	for range 2 {
		r := h.nextOffer().req.Reservation
		got[r.CallID] = r.CounselorID
	}
	if got["ours"] != "c1" || got["unowned"] != "c2" || len(got) != 2 {
		t.Errorf("offers = %v, want ours to c1 and unowned to c2", got)
	}
	h.settle(anyWalk)
	h.requireNoOfferWaiting()
}

func TestNodeWithoutIDServesEveryCaller(t *testing.T) {
	h := newHarness(t, nil)
	h.login("c1", t0)
	h.enqueueOn("theirs", otherNode, 0, t0)
	h.start()

	h.requireOffer("theirs", "c1")
}

func TestNodeHoldsBackLessUrgentCaller(t *testing.T) {
	h := newHarness(t, nil, routing.WithNode(thisNode))
	h.login("c1", t0)
	h.login("c2", t0.Add(time.Second))
	h.enqueueOn("theirs-urgent", otherNode, 1, t0.Add(time.Second))
	h.enqueueOn("ours", thisNode, 0, t0)
	h.start()

	report := h.settle(anyWalk)
	if want := report.Now.Add(time.Second); !report.Next.Equal(want) {
		t.Errorf("next wake-up = %v, want the recheck at %v", report.Next, want)
	}
	h.requireNoOfferWaiting()
	h.requireState("c1", queue.StateAvailable)

	// The other node offers its caller to the longest idle counselor.
	_, err := h.memory.Reserve(t.Context(), queue.ReserveRequest{CallID: "theirs-urgent", Now: h.clock.Now()})
	if err != nil {
		t.Fatalf("Reserve for the other node's caller: %v", err)
	}
	h.settle(anyWalk)
	h.requireOffer("ours", "c2")
}

func TestNodeServesEqualPriorityCaller(t *testing.T) {
	h := newHarness(t, nil, routing.WithNode(thisNode))
	h.login("c1", t0)
	h.enqueueOn("theirs", otherNode, 1, t0)
	h.enqueueOn("ours", thisNode, 1, t0.Add(time.Second))
	h.start()

	h.requireOffer("ours", "c1")
}

func TestNodeOfferedCallerHoldsNothingBack(t *testing.T) {
	h := newHarness(t, nil, routing.WithNode(thisNode))
	h.login("c1", t0)
	h.login("c2", t0.Add(time.Second))
	h.enqueueOn("theirs-urgent", otherNode, 1, t0)
	h.enqueueOn("ours", thisNode, 0, t0)
	_, err := h.memory.Reserve(t.Context(), queue.ReserveRequest{CallID: "theirs-urgent", Now: t0})
	if err != nil {
		t.Fatalf("Reserve for the other node's caller: %v", err)
	}
	h.start()

	h.requireOffer("ours", "c2")
}

func TestNodeUrgentOwnCallerGoesFirst(t *testing.T) {
	h := newHarness(t, nil, routing.WithNode(thisNode))
	h.login("c1", t0)
	h.enqueueOn("theirs", otherNode, 0, t0)
	h.enqueueOn("ours-urgent", thisNode, 1, t0.Add(time.Second))
	h.start()

	report := h.requireOffer("ours-urgent", "c1")
	if report.req.Reservation.Queue != testQueue {
		t.Errorf("reservation queue = %q, want %q", report.req.Reservation.Queue, testQueue)
	}
}
