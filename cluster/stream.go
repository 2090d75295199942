package cluster

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"helpline/events"
)

// Settings of the event stream.
const (
	// StreamKey is the Redis stream every node adds its events to.
	StreamKey = "{helpline}:events"
	// StreamMaxLen is the stream's length that XADD trims to. Trimming is
	// approximate (MAXLEN ~), so the stream may hold a few more entries.
	StreamMaxLen = 10000
	// StreamBuffer is how many events the stream's subscription holds
	// while Redis is slow.
	StreamBuffer = 4096
	// streamWriteTimeout bounds one XADD.
	streamWriteTimeout = 2 * time.Second
)

// streamEvent is the JSON form of one event in the stream, with the node
// that published it.
type streamEvent struct {
	Node        string            `json:"node"`
	Seq         uint64            `json:"seq"`
	At          time.Time         `json:"at"`
	Type        events.Type       `json:"type"`
	CallID      string            `json:"call_id,omitempty"`
	CounselorID string            `json:"counselor_id,omitempty"`
	Queue       string            `json:"queue,omitempty"`
	Data        map[string]string `json:"data,omitempty"`
}

// EventStream adds every event of a Bus to StreamKey, one entry per event
// with the field "event" holding the event as JSON. Seq numbers the events
// of one node's run. An event whose XADD fails is logged and dropped: the
// records keep every event, and the stream is only a live feed. Start it
// with StartEventStream and stop it with Close.
type EventStream struct {
	client redis.UniversalClient
	node   string
	sub    *events.Subscription
	log    zerolog.Logger
	// done is closed when the write loop has returned.
	done chan struct{}

	// written and lost count the events added and those dropped.
	written atomic.Uint64
	lost    atomic.Uint64
}

// StartEventStream subscribes to bus and starts adding its events to the
// stream, each marked with node.
func StartEventStream(client redis.UniversalClient, bus *events.Bus, node string, log zerolog.Logger) *EventStream {
	s := &EventStream{
		client: client,
		node:   node,
		sub:    bus.Subscribe(StreamBuffer),
		log:    log,
		done:   make(chan struct{}),
	}
	go s.run()
	return s
}

// run adds events until Close closes the subscription.
func (s *EventStream) run() {
	defer close(s.done)
	for e := range s.sub.C() {
		s.add(e)
	}
}

// add writes one event to the stream.
func (s *EventStream) add(e events.Event) {
	body, err := json.Marshal(streamEvent{
		Node: s.node, Seq: e.Seq, At: e.At.UTC(), Type: e.Type,
		CallID: e.CallID, CounselorID: e.CounselorID, Queue: e.Queue, Data: e.Data,
	})
	if err != nil {
		s.drop(e, err)
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), streamWriteTimeout)
	defer stop()
	err = s.client.XAdd(ctx, &redis.XAddArgs{
		Stream: StreamKey,
		MaxLen: StreamMaxLen,
		Approx: true,
		Values: []any{"event", body},
	}).Err()
	if err != nil {
		s.drop(e, err)
		return
	}
	s.written.Add(1)
}

// drop counts a lost event, and logs the first loss and every hundredth,
// so that a Redis outage does not flood the log.
func (s *EventStream) drop(e events.Event, err error) {
	n := s.lost.Add(1)
	if n == 1 || n%100 == 0 {
		s.log.Warn().Err(err).Str("type", string(e.Type)).Uint64("lost", n).
			Msg("adding an event to the Redis stream failed: the records still keep it")
	}
}

// Close stops taking events and waits until the buffered ones are written
// or ctx ends. It logs the counts of written, lost and never-buffered
// events.
func (s *EventStream) Close(ctx context.Context) error {
	s.sub.Close()
	select {
	case <-s.done:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	s.log.Info().Uint64("written", s.written.Load()).Uint64("lost", s.lost.Load()).
		Uint64("dropped", s.sub.Dropped()).Msg("event stream stopped")
	return nil
}
