package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBuffer is the number of events a subscriber may fall behind by
// before it loses events.
const DefaultBuffer = 1024

// Bus hands each published event to every subscriber. The zero value is
// not usable: create one with NewBus.
type Bus struct {
	now func() time.Time

	mu   sync.Mutex
	seq  uint64
	subs map[*Subscription]struct{}
}

// Subscription receives the events published after Subscribe returned.
type Subscription struct {
	bus *Bus
	ch  chan Event
	// dropped counts events lost because the buffer was full.
	dropped atomic.Uint64
	closed  bool
}

// NewBus returns a Bus without subscribers.
func NewBus() *Bus {
	return &Bus{now: time.Now, subs: make(map[*Subscription]struct{})}
}

// Publish numbers e, stamps it with the time when At is zero, and passes
// a copy to every subscriber without waiting for any of them.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()

	b.seq++
	e.Seq = b.seq
	if e.At.IsZero() {
		e.At = b.now()
	}
	for sub := range b.subs {
		select {
		case sub.ch <- e.Clone():
		default:
			sub.dropped.Add(1)
		}
	}
}

// Subscribe returns a subscription whose channel holds up to buffer events
// (DefaultBuffer when buffer is not positive). Close it when done.
func (b *Bus) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	sub := &Subscription{bus: b, ch: make(chan Event, buffer)}
	b.mu.Lock()
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
	return sub
}

// C returns the channel of events. It is closed by Close.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped returns how many events this subscription lost to a full buffer.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops the subscription and closes its channel. Closing twice is
// safe.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	delete(s.bus.subs, s)
	close(s.ch)
}
