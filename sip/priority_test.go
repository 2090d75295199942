package sip

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
)

func TestRaisePriorityKeepsWaitAndAnnounces(t *testing.T) {
	ctx := context.Background()
	store := queue.NewMemoryStore()
	bus := events.NewBus()
	sub := bus.Subscribe(0)
	defer sub.Close()
	notified := 0
	s := &Server{queue: store, events: bus, calls: newCallTable(), log: zerolog.Nop(), notify: func() { notified++ }}
	s.calls.add(&call{srv: s, id: "call-2", log: zerolog.Nop()})

	enqueuedAt := time.Date(2026, time.March, 3, 9, 0, 0, 0, time.UTC)
	for i, id := range []string{"call-1", "call-2"} {
		caller := queue.Caller{CallID: id, Queue: "loneliness_ko", EnqueuedAt: enqueuedAt.Add(time.Duration(i) * time.Second)}
		if err := store.Enqueue(ctx, caller); err != nil {
			t.Fatalf("Enqueue(%s): %v", id, err)
		}
	}

	if err := s.RaisePriority(ctx, "call-2"); err != nil {
		t.Fatalf("RaisePriority: %v", err)
	}

	waiting, err := store.Waiting(ctx, "loneliness_ko")
	if err != nil {
		t.Fatalf("Waiting: %v", err)
	}
	if waiting[0].CallID != "call-2" || waiting[0].Priority != PriorityHighRisk {
		t.Errorf("first waiting = %s with priority %d, want call-2 with %d", waiting[0].CallID, waiting[0].Priority, PriorityHighRisk)
	}
	if want := enqueuedAt.Add(time.Second); !waiting[0].EnqueuedAt.Equal(want) {
		t.Errorf("EnqueuedAt = %v, want %v kept", waiting[0].EnqueuedAt, want)
	}
	if notified != 1 {
		t.Errorf("distributor woken %d times, want 1", notified)
	}
	select {
	case event := <-sub.C():
		if event.Type != events.HighRiskWaiting || event.CallID != "call-2" || event.Queue != "loneliness_ko" {
			t.Errorf("event = %+v, want high_risk_waiting for call-2 in loneliness_ko", event)
		}
	default:
		t.Errorf("no high_risk_waiting event published")
	}
}

func TestRaisePriorityOfCallerNotWaiting(t *testing.T) {
	s := &Server{queue: queue.NewMemoryStore(), events: events.Nop{}, calls: newCallTable(), log: zerolog.Nop()}

	err := s.RaisePriority(context.Background(), "gone")

	if !errors.Is(err, queue.ErrNotWaiting) {
		t.Errorf("RaisePriority = %v, want ErrNotWaiting", err)
	}
}
