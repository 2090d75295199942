package queuetest

import (
	"testing"
	"time"

	"helpline/queue"
)

// nodeA is the node named in callers of the node ownership tests.
const nodeA = "node-a"

func testNodeOwnership(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("enqueue keeps caller node", func(t *testing.T) {
		f := newFixture(t, newStore)
		caller := queue.Caller{CallID: "call-1", Queue: mainQueue, EnqueuedAt: at(1), Node: nodeA}
		if err := f.store.Enqueue(t.Context(), caller); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}

		if got := f.waitingCaller(mainQueue, "call-1").Node; got != nodeA {
			t.Errorf("Waiting Node = %q, want %s", got, nodeA)
		}
		if got := f.leave("call-1").Node; got != nodeA {
			t.Errorf("Leave Node = %q, want %s", got, nodeA)
		}
	})

	t.Run("enqueue clears ring-all marks", func(t *testing.T) {
		f := newFixture(t, newStore)
		caller := queue.Caller{CallID: "call-1", Queue: mainQueue, EnqueuedAt: at(1), OfferedToAll: []string{"c1"}}
		if err := f.store.Enqueue(t.Context(), caller); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}

		if got := f.waitingCaller(mainQueue, "call-1").OfferedToAll; got != nil {
			t.Errorf("OfferedToAll = %v, want nil", got)
		}
	})

	t.Run("reserve sets and connect keeps counselor node", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(0))
		f.enqueueOnNode("call-1", at(1))
		r := f.reserve("call-1", at(2))

		offered := f.requireState("c1", queue.StateOffered)
		if offered.Node == "" {
			t.Fatal("offered counselor has no Node")
		}
		f.connect(r, at(3))
		if got := f.requireState("c1", queue.StateOnCall).Node; got != offered.Node {
			t.Errorf("on_call Node = %q, want %q kept from the offer", got, offered.Node)
		}

		f.finishCall("c1", at(10), at(4))
		if got := f.requireState("c1", queue.StateWrapUp).Node; got != "" {
			t.Errorf("wrap_up Node = %q, want empty", got)
		}
	})

	t.Run("cancel clears counselor node", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(0))
		f.enqueueOnNode("call-1", at(1))
		r := f.reserve("call-1", at(2))

		f.cancel(r, at(3))

		if got := f.requireState("c1", queue.StateAvailable).Node; got != "" {
			t.Errorf("Node after cancel = %q, want empty", got)
		}
	})

	t.Run("logout while offered keeps counselor node", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(0))
		f.enqueueOnNode("call-1", at(1))
		r := f.reserve("call-1", at(2))
		offered := f.counselor("c1")

		f.setState("c1", queue.StateLoggedOut, "", at(3))
		if got := f.requireState("c1", queue.StateOffered).Node; got != offered.Node {
			t.Errorf("Node after logout request = %q, want %q", got, offered.Node)
		}

		f.cancel(r, at(4))
		if got := f.requireState("c1", queue.StateLoggedOut).Node; got != "" {
			t.Errorf("Node after logout = %q, want empty", got)
		}
	})

	t.Run("lost reservation clears counselor node", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(0))
		f.enqueueOnNode("call-1", at(1))
		r := f.reserve("call-1", at(2))
		f.leave("call-1")

		err := f.store.Connect(t.Context(), r, at(3))

		requireErrorIs(t, err, queue.ErrReservationLost)
		if got := f.requireState("c1", queue.StateAvailable).Node; got != "" {
			t.Errorf("Node after lost reservation = %q, want empty", got)
		}
	})
}

// enqueueOnNode adds caller callID to the main queue, held by nodeA.
func (f fixture) enqueueOnNode(callID string, enqueuedAt time.Time) {
	f.t.Helper()
	caller := queue.Caller{CallID: callID, Queue: mainQueue, EnqueuedAt: enqueuedAt, Node: nodeA}
	if err := f.store.Enqueue(f.t.Context(), caller); err != nil {
		f.t.Fatalf("Enqueue(%s): %v", callID, err)
	}
}
