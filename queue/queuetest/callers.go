package queuetest

import (
	"slices"
	"testing"

	"helpline/queue"
)

// Queue names used by the contract tests.
const (
	mainQueue  = "loneliness"
	otherQueue = "general"
)

func testEnqueue(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("adds caller without offer", func(t *testing.T) {
		f := newFixture(t, newStore)
		caller := queue.Caller{CallID: "call-1", Queue: mainQueue, Priority: 2, EnqueuedAt: at(1), OfferedTo: "c1"}
		if err := f.store.Enqueue(t.Context(), caller); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}

		got := f.waitingCaller(mainQueue, "call-1")
		if got.OfferedTo != "" {
			t.Errorf("OfferedTo = %q, want empty", got.OfferedTo)
		}
		if got.Priority != 2 {
			t.Errorf("Priority = %d, want 2", got.Priority)
		}
		if !got.EnqueuedAt.Equal(at(1)) {
			t.Errorf("EnqueuedAt = %v, want %v", got.EnqueuedAt, at(1))
		}
	})

	t.Run("rejects duplicate call ID", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "call-1", 0, at(1))

		for _, queueName := range []string{mainQueue, otherQueue} {
			err := f.store.Enqueue(t.Context(), queue.Caller{CallID: "call-1", Queue: queueName, EnqueuedAt: at(2)})
			requireErrorIs(t, err, queue.ErrAlreadyQueued)
		}
		if got := len(f.waiting(otherQueue)); got != 0 {
			t.Errorf("other queue has %d callers, want 0", got)
		}
	})

	t.Run("rejects missing fields", func(t *testing.T) {
		tests := []struct {
			name   string
			caller queue.Caller
		}{
			{name: "empty call ID", caller: queue.Caller{Queue: mainQueue, EnqueuedAt: at(1)}},
			{name: "empty queue", caller: queue.Caller{CallID: "call-1", EnqueuedAt: at(1)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := newFixture(t, newStore)
				err := f.store.Enqueue(t.Context(), tt.caller)
				requireErrorIs(t, err, queue.ErrInvalidCaller)
			})
		}
	})

	t.Run("copies attributes", func(t *testing.T) {
		f := newFixture(t, newStore)
		attributes := map[string]string{"language": "ko"}
		caller := queue.Caller{CallID: "call-1", Queue: mainQueue, EnqueuedAt: at(1), Attributes: attributes}
		if err := f.store.Enqueue(t.Context(), caller); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		attributes["language"] = "en"

		returned := f.waitingCaller(mainQueue, "call-1")
		if got := returned.Attributes["language"]; got != "ko" {
			t.Fatalf("language after changing the input map = %q, want ko", got)
		}
		returned.Attributes["caller_type"] = "self"

		again := f.waitingCaller(mainQueue, "call-1")
		if _, ok := again.Attributes["caller_type"]; ok {
			t.Errorf("changing a returned map changed the store: %v", again.Attributes)
		}
	})
}

func testWaiting(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("orders by priority then arrival", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "late-low", 0, at(5))
		f.enqueue(mainQueue, "early-low", 0, at(1))
		f.enqueue(mainQueue, "late-high", 1, at(9))
		f.enqueue(mainQueue, "early-high", 1, at(2))
		f.enqueue(mainQueue, "b-tie", 0, at(3))
		f.enqueue(mainQueue, "a-tie", 0, at(3))

		want := []string{"early-high", "late-high", "early-low", "a-tie", "b-tie", "late-low"}
		if got := callIDs(f.waiting(mainQueue)); !slices.Equal(got, want) {
			t.Errorf("Waiting = %v, want %v", got, want)
		}
	})

	t.Run("separates queues", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "main-1", 0, at(1))
		f.enqueue(otherQueue, "other-1", 0, at(2))
		f.enqueue(mainQueue, "main-2", 0, at(3))

		if got, want := callIDs(f.waiting(mainQueue)), []string{"main-1", "main-2"}; !slices.Equal(got, want) {
			t.Errorf("Waiting(%s) = %v, want %v", mainQueue, got, want)
		}
		if got, want := callIDs(f.waiting(otherQueue)), []string{"other-1"}; !slices.Equal(got, want) {
			t.Errorf("Waiting(%s) = %v, want %v", otherQueue, got, want)
		}
	})

	t.Run("empty queue", func(t *testing.T) {
		f := newFixture(t, newStore)
		if got := f.waiting(mainQueue); len(got) != 0 {
			t.Errorf("Waiting = %v, want none", callIDs(got))
		}
	})
}

func testPosition(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("counts from one in service order", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "normal", 0, at(1))
		f.enqueue(otherQueue, "elsewhere", 5, at(0))
		f.enqueue(mainQueue, "urgent", 1, at(2))
		f.enqueue(mainQueue, "later", 0, at(3))

		tests := []struct {
			callID string
			want   int
		}{
			{callID: "urgent", want: 1},
			{callID: "normal", want: 2},
			{callID: "later", want: 3},
			{callID: "elsewhere", want: 1},
		}
		for _, tt := range tests {
			got, err := f.store.Position(t.Context(), tt.callID)
			if err != nil {
				t.Fatalf("Position(%s): %v", tt.callID, err)
			}
			if got != tt.want {
				t.Errorf("Position(%s) = %d, want %d", tt.callID, got, tt.want)
			}
		}
	})

	t.Run("moves up when caller ahead leaves", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "first", 0, at(1))
		f.enqueue(mainQueue, "second", 0, at(2))
		f.leave("first")

		got, err := f.store.Position(t.Context(), "second")
		if err != nil {
			t.Fatalf("Position: %v", err)
		}
		if got != 1 {
			t.Errorf("Position = %d, want 1", got)
		}
	})

	t.Run("unknown caller", func(t *testing.T) {
		f := newFixture(t, newStore)
		_, err := f.store.Position(t.Context(), "nobody")
		requireErrorIs(t, err, queue.ErrNotWaiting)
	})
}

func testLeave(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("removes and returns caller", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "call-1", 3, at(1))

		left := f.leave("call-1")
		if left.CallID != "call-1" || left.Queue != mainQueue || left.Priority != 3 {
			t.Errorf("Leave returned %+v, want call-1 of %s with priority 3", left, mainQueue)
		}
		if got := f.waiting(mainQueue); len(got) != 0 {
			t.Errorf("Waiting after Leave = %v, want none", callIDs(got))
		}
	})

	t.Run("unknown or repeated", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "call-1", 0, at(1))
		f.leave("call-1")

		for _, callID := range []string{"call-1", "nobody"} {
			_, err := f.store.Leave(t.Context(), callID)
			requireErrorIs(t, err, queue.ErrNotWaiting)
		}
	})

	t.Run("keeps counselor offered until cancel", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(0))
		f.enqueue(mainQueue, "call-1", 0, at(1))
		r := f.reserve("call-1", at(2))

		left := f.leave("call-1")
		if left.OfferedTo != "c1" {
			t.Errorf("Leave returned OfferedTo = %q, want c1", left.OfferedTo)
		}
		offered := f.requireState("c1", queue.StateOffered)
		if offered.OfferCallID != "call-1" {
			t.Errorf("OfferCallID after Leave = %q, want call-1", offered.OfferCallID)
		}

		f.cancel(r, at(3))
		f.requireState("c1", queue.StateAvailable)
		if got := f.waiting(mainQueue); len(got) != 0 {
			t.Errorf("cancel brought the caller back: %v", callIDs(got))
		}
	})
}
