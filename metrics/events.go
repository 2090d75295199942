package metrics

import (
	"context"
	"strconv"

	"helpline/events"
)

// Values of the result label of helpline_offers_total.
const (
	resultOffered      = "offered"
	resultAnswered     = "answered"
	resultRingNoAnswer = "ring_no_answer"
	resultRejected     = "rejected"
)

// unknownOutcome labels a call_ended event without an outcome.
const unknownOutcome = "unknown"

// Start subscribes to bus and updates the event counters until Close.
// Publishing never waits for the metrics: when the subscription's buffer
// is full the bus drops the event, and helpline_errors_total{source="events"}
// counts it. Calls after the first do nothing.
func (m *Metrics) Start(bus *events.Bus) {
	if m.sub != nil {
		return
	}
	m.sub = bus.Subscribe(SubscriptionBuffer)
	m.done = make(chan struct{})
	go m.run()
}

// Close ends the subscription and returns once the events already
// buffered are counted, or when ctx ends. A Metrics never started closes
// at once.
func (m *Metrics) Close(ctx context.Context) error {
	if m.sub == nil {
		return nil
	}
	m.sub.Close()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run counts each event until the subscription is closed and drained.
func (m *Metrics) run() {
	defer close(m.done)
	var droppedSeen uint64
	for e := range m.sub.C() {
		m.count(e)

		if dropped := m.sub.Dropped(); dropped > droppedSeen {
			m.errors.WithLabelValues(SourceEvents).Add(float64(dropped - droppedSeen))
			droppedSeen = dropped
		}
	}
}

// count updates the counters one event feeds. Other event types are
// ignored.
func (m *Metrics) count(e events.Event) {
	switch e.Type {
	case events.CallEnded:
		outcome := e.Data["outcome"]
		if outcome == "" {
			outcome = unknownOutcome
		}
		m.calls.WithLabelValues(outcome).Inc()
	case events.Offered:
		m.offers.WithLabelValues(resultOffered).Inc()
	case events.RingNoAnswer:
		m.offers.WithLabelValues(resultRingNoAnswer).Inc()
	case events.OfferRejected:
		m.offers.WithLabelValues(resultRejected).Inc()
	case events.Connected:
		m.offers.WithLabelValues(resultAnswered).Inc()
		m.observeWait(e)
	}
}

// observeWait adds a connected event's wait_seconds to the queue's
// histogram. An event without a valid wait is counted as answered only.
func (m *Metrics) observeWait(e events.Event) {
	wait, err := strconv.ParseFloat(e.Data["wait_seconds"], 64)
	if err != nil || wait < 0 {
		m.log.Debug().Str("call_id", e.CallID).Str("wait_seconds", e.Data["wait_seconds"]).
			Msg("connected event without a valid wait_seconds: not added to helpline_queue_wait_seconds")
		return
	}
	m.wait.WithLabelValues(e.Queue).Observe(wait)
}
