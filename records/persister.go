package records

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
)

// Settings of the EventPersister.
const (
	// PersisterBuffer is how many events the persister's subscription
	// holds while a write is in progress. At one event every millisecond
	// it lasts over a minute of a stalled disk.
	PersisterBuffer = 65536
	// maxEventBatch caps the events written in one transaction.
	maxEventBatch = 256
	// eventWriteAttempts is how often a failed batch is tried before its
	// events are logged as lost.
	eventWriteAttempts = 3
	// eventRetryDelay is the pause between two attempts of one batch.
	eventRetryDelay = 200 * time.Millisecond
	// eventWriteTimeout bounds one attempt.
	eventWriteTimeout = 10 * time.Second
)

// EventAppender stores batches of events. *Store and *Spool implement it.
type EventAppender interface {
	AppendEvents(ctx context.Context, evs []events.Event) error
}

// EventPersister writes every event published on a Bus into the store's
// events table, in publishing order. Start it with StartEventPersister and
// stop it with Close before the store closes.
type EventPersister struct {
	store EventAppender
	sub   *events.Subscription
	log   zerolog.Logger
	// done is closed when the write loop has returned.
	done chan struct{}

	// written and lost count the events stored and those given up on
	// after failed writes.
	written atomic.Uint64
	lost    atomic.Uint64
	// droppedLogged is the subscription's drop count last logged. Only
	// the write loop touches it.
	droppedLogged uint64
}

// StartEventPersister subscribes to bus with a buffer of PersisterBuffer
// and starts writing its events to store: a Store, or a Spool that holds
// them while the store fails.
func StartEventPersister(store EventAppender, bus *events.Bus, log zerolog.Logger) *EventPersister {
	p := &EventPersister{
		store: store,
		sub:   bus.Subscribe(PersisterBuffer),
		log:   log,
		done:  make(chan struct{}),
	}
	go p.run()
	return p
}

// run writes batches until Close closes the subscription and its buffer is
// drained.
func (p *EventPersister) run() {
	defer close(p.done)
	in := p.sub.C()
	batch := make([]events.Event, 0, maxEventBatch)
	for e := range in {
		batch = append(batch[:0], e)
		batch = fillBatch(batch, in)
		p.write(batch)
		p.logDrops()
	}
}

// fillBatch appends the events already waiting in in, up to maxEventBatch,
// without blocking.
func fillBatch(batch []events.Event, in <-chan events.Event) []events.Event {
	for len(batch) < maxEventBatch {
		select {
		case e, ok := <-in:
			if !ok {
				return batch
			}
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// write stores one batch, retrying a failed write. Events still unwritten
// after the last attempt are logged one by one, with their ids, and counted.
func (p *EventPersister) write(batch []events.Event) {
	var err error
	for attempt := 1; attempt <= eventWriteAttempts; attempt++ {
		ctx, stop := context.WithTimeout(context.Background(), eventWriteTimeout)
		err = p.store.AppendEvents(ctx, batch)
		stop()
		if err == nil {
			p.written.Add(uint64(len(batch)))
			return
		}
		p.log.Warn().Err(err).Int("events", len(batch)).Int("attempt", attempt).Msg("writing events failed")
		if attempt < eventWriteAttempts {
			time.Sleep(eventRetryDelay)
		}
	}

	p.lost.Add(uint64(len(batch)))
	for _, e := range batch {
		p.log.Error().Err(err).Uint64("seq", e.Seq).Str("type", string(e.Type)).Str("call_id", e.CallID).
			Str("counselor_id", e.CounselorID).Time("at", e.At).Msg("event not stored")
	}
}

// logDrops logs a warning when the subscription lost events to a full
// buffer since the last check.
func (p *EventPersister) logDrops() {
	dropped := p.sub.Dropped()
	if dropped == p.droppedLogged {
		return
	}
	p.log.Warn().Uint64("dropped", dropped-p.droppedLogged).Uint64("dropped_total", dropped).
		Int("buffer", PersisterBuffer).Msg("events lost: the event buffer was full while the records store was slow")
	p.droppedLogged = dropped
}

// Written returns how many events the persister has stored.
func (p *EventPersister) Written() uint64 { return p.written.Load() }

// Lost returns how many events the persister has not stored: those the
// full buffer dropped and those whose writes failed.
func (p *EventPersister) Lost() uint64 { return p.lost.Load() + p.sub.Dropped() }

// Close stops the subscription, writes the events still buffered, and
// returns once they are stored or given up on, or when ctx ends. Events
// published after Close are not stored. Call it before the store's Close.
func (p *EventPersister) Close(ctx context.Context) error {
	p.sub.Close()
	select {
	case <-p.done:
	case <-ctx.Done():
		p.log.Error().Err(ctx.Err()).Msg("stopped waiting for buffered events to be stored")
		return ctx.Err()
	}
	p.logDrops()
	// The store may be a Spool, which holds the events handed to it while
	// the records store is unavailable, so handed_to_records is not a count
	// of stored events.
	p.log.Info().Uint64("handed_to_records", p.Written()).Uint64("lost", p.Lost()).Msg("event persister stopped")
	return nil
}
