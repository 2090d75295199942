package events_test

import (
	"testing"

	"helpline/events"
)

func TestBusNumbersAndStampsEvents(t *testing.T) {
	bus := events.NewBus()
	sub := bus.Subscribe(4)
	defer sub.Close()

	bus.Publish(events.Event{Type: events.CallerEntered, CallID: "a", Data: map[string]string{"k": "v"}})
	bus.Publish(events.Event{Type: events.Abandoned, CallID: "a"})

	first, second := <-sub.C(), <-sub.C()
	if first.Seq != 1 || second.Seq != 2 {
		t.Errorf("Seq = %d, %d, want 1, 2", first.Seq, second.Seq)
	}
	if first.At.IsZero() {
		t.Error("At was not set")
	}
	if first.Type != events.CallerEntered || first.Data["k"] != "v" {
		t.Errorf("first event = %+v", first)
	}
}

func TestSlowSubscriberLosesEventsWithoutBlocking(t *testing.T) {
	bus := events.NewBus()
	sub := bus.Subscribe(1)
	defer sub.Close()

	for range 3 {
		bus.Publish(events.Event{Type: events.Offered})
	}

	if got := sub.Dropped(); got != 2 {
		t.Errorf("Dropped() = %d, want 2", got)
	}
	if e := <-sub.C(); e.Seq != 1 {
		t.Errorf("kept event Seq = %d, want 1", e.Seq)
	}
}

func TestCloseEndsTheChannelOnce(t *testing.T) {
	bus := events.NewBus()
	sub := bus.Subscribe(0)
	sub.Close()
	sub.Close()

	if _, ok := <-sub.C(); ok {
		t.Error("channel still open after Close")
	}
	bus.Publish(events.Event{Type: events.Offered})
}
