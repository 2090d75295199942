package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// storeTimeout bounds one call to the store, the records or the callbacks.
const storeTimeout = 5 * time.Second

// Records is the part of the records store that a reclaim uses.
type Records interface {
	// MarkNodeInterrupted closes node's open call records as interrupted
	// at now and returns them. A second call returns only the records
	// opened since.
	MarkNodeInterrupted(ctx context.Context, node string, now time.Time) ([]InterruptedCall, error)
	// ListOpenCallbacks returns the callback tasks that are not completed,
	// failed or cancelled, with their numbers.
	ListOpenCallbacks(ctx context.Context) ([]records.Callback, error)
}

// InterruptedCall is one call record that MarkNodeInterrupted closed.
type InterruptedCall struct {
	// CallID is the record's call ID, the caller's Call-ID.
	CallID string
	// Queue is the queue the caller joined, or "" when the call never
	// reached one.
	Queue string
	// Number is the caller's number, or "" when withheld or unreadable.
	Number   string
	Withheld bool
	// Waiting reports that the record shows the caller in a queue and not
	// yet answered by a counselor.
	Waiting bool
	// QueuedAt is when the caller joined the queue, or zero.
	QueuedAt time.Time
}

// Callbacks creates and takes over callback tasks. *callback.Manager
// implements it.
type Callbacks interface {
	Create(ctx context.Context, req callback.Request) (callback.Task, error)
	Restore(ctx context.Context, stored []records.Callback) int
}

// Watchdog keeps this node's liveness key alive and reclaims what stopped
// nodes left in the shared store. Create it with NewWatchdog, call Start
// before the node takes calls, then Run.
type Watchdog struct {
	store     queue.NodeStore
	node      string
	ttl       time.Duration
	records   Records
	callbacks Callbacks
	wrapUp    func(counselorID string) time.Duration
	events    events.Publisher
	notify    func()
	log       zerolog.Logger
	now       func() time.Time
	// defaultQueue takes the callback tasks of callers cut off before
	// they reached a queue.
	defaultQueue string

	// heartbeatFailures counts failed heartbeats in a row. Only the
	// heartbeat loop of Run touches it.
	heartbeatFailures int
	// beatErr is the error of the last heartbeat, or nil. Ready reads it
	// from other goroutines.
	beatErr atomic.Pointer[error]
	// healthySince holds the Unix nanoseconds of the first heartbeat of
	// the current run of successful heartbeats, or 0 after a failure.
	healthySince atomic.Int64
	// lastBeat holds the Unix nanoseconds of the last successful
	// heartbeat, or 0 before the first.
	lastBeat atomic.Int64
}

// WatchdogOption configures a Watchdog.
type WatchdogOption func(*Watchdog)

// WithRecords sets the records store whose open records of a stopped node
// are closed. Without it no record is closed and no callback is created,
// because the numbers to call are in the records.
func WithRecords(r Records) WatchdogOption { return func(w *Watchdog) { w.records = r } }

// WithCallbacks sets where callback tasks for interrupted callers are
// created. Without it no task is created, as when callbacks are off.
func WithCallbacks(c Callbacks) WatchdogOption { return func(w *Watchdog) { w.callbacks = c } }

// WithWrapUp sets each counselor's wrap-up time after a call that a stopped
// node held. The default is no wrap-up.
func WithWrapUp(wrapUp func(counselorID string) time.Duration) WatchdogOption {
	return func(w *Watchdog) { w.wrapUp = wrapUp }
}

// WithEvents sets the publisher of node_stopped and counselor_state events.
// The default drops them.
func WithEvents(p events.Publisher) WatchdogOption { return func(w *Watchdog) { w.events = p } }

// WithNotify sets the function that wakes this node's distributors after a
// reclaim freed counselors.
func WithNotify(notify func()) WatchdogOption { return func(w *Watchdog) { w.notify = notify } }

// WithDefaultQueue sets the queue of the callback tasks of callers cut
// off in the IVR, before they chose a queue. Without it such a task has no
// queue.
func WithDefaultQueue(name string) WatchdogOption {
	return func(w *Watchdog) { w.defaultQueue = name }
}

// WithLogger sets the logger. The default discards everything.
func WithLogger(log zerolog.Logger) WatchdogOption { return func(w *Watchdog) { w.log = log } }

// WithClock sets the clock. The default is time.Now.
func WithClock(now func() time.Time) WatchdogOption { return func(w *Watchdog) { w.now = now } }

// NewWatchdog returns a Watchdog for node on store, whose liveness key
// lives for ttl.
func NewWatchdog(store queue.NodeStore, node string, ttl time.Duration, opts ...WatchdogOption) *Watchdog {
	w := &Watchdog{
		store:  store,
		node:   node,
		ttl:    ttl,
		wrapUp: func(string) time.Duration { return 0 },
		events: events.Nop{},
		notify: func() {},
		log:    zerolog.Nop(),
		now:    time.Now,
	}
	for _, opt := range opts {
		opt(w)
	}
	return w
}

// Ready returns nil while heartbeats reach the store, else an error for
// /readyz that names no address. A heartbeat that failed, or none for two
// intervals (a call that hangs while Sentinel elects a new primary), makes
// the node not ready.
func (w *Watchdog) Ready() error {
	if p := w.beatErr.Load(); p != nil && *p != nil {
		return errStoreUnreachable
	}
	if last := w.lastBeat.Load(); last != 0 && w.now().Sub(time.Unix(0, last)) > w.maxBeatGap() {
		return errStoreUnreachable
	}
	return nil
}

// maxBeatGap is the longest time between two successful heartbeats that
// still counts as an unbroken run.
func (w *Watchdog) maxBeatGap() time.Duration { return 2 * w.interval() }

// errStoreUnreachable is Ready's error. It leaves out the cause, which may
// name Redis addresses, because /readyz needs no token.
var errStoreUnreachable = errors.New("shared store not responding: this node's liveness key is not refreshed")

// healthyLongEnough reports whether this node's heartbeats have reached the
// store for at least one TTL in a row. A node that just got its connection
// back, as after a Sentinel failover, sees the other nodes' liveness keys
// expired because they could not refresh them either; it must give them
// one TTL to refresh them before it takes any of them for stopped.
func (w *Watchdog) healthyLongEnough() bool {
	since, last := w.healthySince.Load(), w.lastBeat.Load()
	now := w.now()
	return since != 0 && now.Sub(time.Unix(0, since)) >= w.ttl && now.Sub(time.Unix(0, last)) <= w.maxBeatGap()
}

// steady reports whether the store call that began at start answered at
// once and this node's heartbeats are still an unbroken run. A call that
// hung, as while Sentinel elects a new primary, may return a list in which
// live nodes look stopped because the outage stopped their heartbeats too.
func (w *Watchdog) steady(start time.Time) bool {
	return w.now().Sub(start) <= w.interval()/2 && w.healthyLongEnough()
}

// noteBeat records the outcome of a heartbeat for Ready and for
// healthyLongEnough.
func (w *Watchdog) noteBeat(err error) {
	w.beatErr.Store(&err)
	if err != nil {
		w.healthySince.Store(0)
		return
	}
	now := w.now()
	last := w.lastBeat.Swap(now.UnixNano())
	if last != 0 && now.Sub(time.Unix(0, last)) > w.maxBeatGap() {
		// The heartbeat hung, as while Sentinel elects a new primary:
		// the other nodes' heartbeats hung too.
		w.healthySince.Store(0)
	}
	w.healthySince.CompareAndSwap(0, now.UnixNano())
}

// interval is the time between two heartbeats and between two looks for
// stopped nodes: a third of the liveness TTL, so that two lost heartbeats
// in a row still keep the key.
func (w *Watchdog) interval() time.Duration { return w.ttl / 3 }

// lockTTL is how long the lock for reclaiming one node lasts. A reclaim
// that takes longer lets another node start the same reclaim, which is
// harmless because every step is idempotent.
func (w *Watchdog) lockTTL() time.Duration { return 2 * w.ttl }

// Start reclaims what an earlier run of this node left in the store, such as
// callers of calls that a crash cut off, and then sets the liveness key.
// Call it before the node takes calls. When another node is reclaiming this
// node already, Start waits for that node's lock to expire.
func (w *Watchdog) Start(ctx context.Context) error {
	if err := w.claimSelf(ctx); err != nil {
		return err
	}
	if _, err := w.reclaim(ctx, w.node); err != nil {
		return fmt.Errorf("reclaiming this node's state of an earlier run: %w", err)
	}
	if err := w.heartbeat(ctx); err != nil {
		return fmt.Errorf("setting this node's liveness key: %w", err)
	}
	w.noteBeat(nil)
	return nil
}

// claimSelf takes the reclaim lock on this node, so that no other node
// reclaims it between Start's reclaim and its first heartbeat.
func (w *Watchdog) claimSelf(ctx context.Context) error {
	ticker := time.NewTicker(w.interval())
	defer ticker.Stop()
	for {
		callCtx, stop := context.WithTimeout(ctx, storeTimeout)
		claimed, err := w.store.ClaimNode(callCtx, w.node, w.node, w.lockTTL())
		stop()
		switch {
		case err != nil:
			return fmt.Errorf("taking the reclaim lock on this node: %w", err)
		case claimed:
			return nil
		}
		w.log.Info().Msg("another node is reclaiming this node's earlier run, waiting for it")
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for another node to finish reclaiming this node: %w", context.Cause(ctx))
		case <-ticker.C:
		}
	}
}

// Run refreshes the liveness key and reclaims stopped nodes every third of
// the TTL until ctx ends, then returns nil. The heartbeat runs on its own
// goroutine, so that a long reclaim never delays it.
func (w *Watchdog) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { w.every(ctx, w.beat) })
	wg.Go(func() { w.every(ctx, w.ReclaimStopped) })
	wg.Wait()
	return nil
}

// every calls step at once and then every interval until ctx ends.
func (w *Watchdog) every(ctx context.Context, step func(context.Context)) {
	ticker := time.NewTicker(w.interval())
	defer ticker.Stop()
	for {
		step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// beat refreshes the liveness key and logs failures and the recovery.
func (w *Watchdog) beat(ctx context.Context) {
	err := w.heartbeat(ctx)
	if ctx.Err() == nil {
		w.noteBeat(err)
	}
	switch {
	case err != nil && ctx.Err() == nil:
		w.heartbeatFailures++
		w.log.Error().Err(err).Int("failures_in_row", w.heartbeatFailures).Dur("ttl", w.ttl).
			Msg("refreshing the liveness key failed: other nodes reclaim this node once it expires")
	case err == nil && w.heartbeatFailures > 0:
		w.log.Info().Int("failures", w.heartbeatFailures).Msg("liveness key refreshed again")
		w.heartbeatFailures = 0
	}
}

func (w *Watchdog) heartbeat(ctx context.Context) error {
	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	defer stop()
	return w.store.Heartbeat(callCtx, w.node, w.ttl)
}

// ReclaimStopped reclaims every stopped node that no other node is
// reclaiming. Run calls it every third of the TTL.
//
// It waits until this node's own heartbeats have reached the store for one
// TTL in a row, so that an outage of the store, which stops every node's
// heartbeats at once, never makes live nodes look stopped.
//
// NOTE: a node cut off from Redis alone for longer than the TTL, while the
// other nodes still reach Redis, looks stopped although its calls go on:
// they are closed as interrupted in the records and get callback tasks.
func (w *Watchdog) ReclaimStopped(ctx context.Context) {
	if !w.healthyLongEnough() {
		return
	}
	start := w.now()
	stopped, err := w.stoppedNodes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error().Err(err).Msg("listing stopped nodes failed, trying again later")
		}
		return
	}
	if !w.steady(start) {
		return
	}
	for _, node := range stopped {
		if ctx.Err() != nil {
			return
		}
		if err := w.reclaimStopped(ctx, node); err != nil && ctx.Err() == nil {
			w.log.Error().Err(err).Str("stopped_node", node).Msg("reclaiming a stopped node failed, trying again later")
		}
	}
}

func (w *Watchdog) stoppedNodes(ctx context.Context) ([]string, error) {
	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	defer stop()
	nodes, err := w.store.StoppedNodes(callCtx)
	if err != nil {
		return nil, err
	}
	// This node is alive while it runs: a liveness key that expired
	// during a store outage comes back with the next heartbeat.
	return slices.DeleteFunc(nodes, func(node string) bool { return node == w.node }), nil
}

// reclaimStopped takes the lock on node, checks that node is still stopped
// and reclaims it. A lock held by another node skips it.
func (w *Watchdog) reclaimStopped(ctx context.Context, node string) error {
	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	claimed, err := w.store.ClaimNode(callCtx, node, w.node, w.lockTTL())
	stop()
	if err != nil {
		return fmt.Errorf("taking the reclaim lock: %w", err)
	}
	if !claimed {
		w.log.Debug().Str("stopped_node", node).Msg("another node is reclaiming the stopped node")
		return nil
	}

	// The list may be older than the lock: a node that restarted since
	// holds its own lock and then heartbeats, so it is alive here.
	start := w.now()
	still, err := w.stoppedNodes(ctx)
	if err != nil {
		return err
	}
	if !w.steady(start) {
		w.log.Info().Str("stopped_node", node).Msg("shared store responded slowly, checking the node again later")
		return nil
	}
	if !slices.Contains(still, node) {
		w.log.Info().Str("stopped_node", node).Msg("the node is alive again, nothing to reclaim")
		return nil
	}

	if _, err := w.reclaim(ctx, node); err != nil {
		return err
	}
	callCtx, stop = context.WithTimeout(ctx, storeTimeout)
	defer stop()
	if err := w.store.ForgetNode(callCtx, node); err != nil {
		return fmt.Errorf("forgetting the reclaimed node: %w", err)
	}
	return nil
}
