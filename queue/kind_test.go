package queue

import (
	"context"
	"testing"
	"time"
)

func TestCallbackKeepsKindAndPlace(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	// The callback task joins after the call but keeps the earlier time at
	// which its caller first joined, so it is served first.
	if err := s.Enqueue(ctx, Caller{CallID: "call-1", Queue: "q", EnqueuedAt: start.Add(time.Minute)}); err != nil {
		t.Fatalf("enqueue call: %v", err)
	}
	if err := s.Enqueue(ctx, Caller{CallID: "cb-1", Queue: "q", EnqueuedAt: start, Kind: KindCallback}); err != nil {
		t.Fatalf("enqueue callback: %v", err)
	}

	waiting, err := s.Waiting(ctx, "q")
	if err != nil {
		t.Fatalf("waiting: %v", err)
	}
	if len(waiting) != 2 {
		t.Fatalf("waiting has %d entries, want 2", len(waiting))
	}
	if waiting[0].CallID != "cb-1" || !waiting[0].IsCallback() {
		t.Errorf("first entry = %s kind %q, want cb-1 kind callback", waiting[0].CallID, waiting[0].Kind)
	}
	if waiting[1].IsCallback() {
		t.Errorf("second entry kind = %q, want a call", waiting[1].Kind)
	}
	if !waiting[0].EnqueuedAt.Equal(start) {
		t.Errorf("callback EnqueuedAt = %s, want %s", waiting[0].EnqueuedAt, start)
	}
}
