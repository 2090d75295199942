package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// ErrBufferFull is returned by Buffered.Enqueue when the inner store cannot
// be reached and the outage buffer already holds its maximum of callers.
// The caller is in no queue: apply the queue's overflow rule.
var ErrBufferFull = errors.New("outage buffer full")

// Defaults of a Buffered store.
const (
	// DefaultBufferSize is how many callers a Buffered store holds while
	// the inner store cannot be reached.
	DefaultBufferSize = 100
	// DefaultBufferMaxWait is how long a caller stays in the buffer before
	// Expired reports it.
	DefaultBufferMaxWait = 2 * time.Minute
	// defaultRetryInterval is how often Run tries the inner store again
	// while changes are pending.
	defaultRetryInterval = time.Second
	// defaultReplayTimeout bounds each call Run makes to the inner store.
	defaultReplayTimeout = 5 * time.Second
)

// Internal limits of a Buffered store.
const (
	// journalLimit bounds the journaled state changes, so that a store that
	// stays down cannot exhaust memory. A change beyond it returns the
	// inner store's error.
	journalLimit = 10000
	// knownLimit bounds the cache of callers enqueued through the store.
	knownLimit = 10000
)

// Buffered is a Store that keeps a call line working while its inner store,
// such as a Redis primary during a failover, cannot be reached.
//
//   - Enqueue holds the caller in a bounded local FIFO when the inner store
//     fails with an error that is neither a domain error (such as
//     ErrAlreadyQueued) nor the end of the caller's context, and returns
//     nil. A full FIFO returns ErrBufferFull. While anything is pending,
//     new callers go behind it, so the arrival order is kept. EnqueuedAt is
//     never changed.
//   - Leave, Position and SetPriority of a held caller work on the FIFO.
//     Position counts only the held callers of the queue, which is the
//     least place the caller gets once written.
//   - Waiting lists only the inner store's callers. Held callers cannot be
//     offered, so the distributor never lists them and never reserves them.
//   - Leave of a written caller, SetState, CancelReservation, FinishCall
//     and EndWrapUp are journaled when the inner store cannot be reached,
//     or while anything is pending, and return nil, so that a call in
//     progress goes on. Leave of a caller the store never saw returns
//     ErrNotWaiting instead.
//   - Reads (Waiting, Position of a written caller, Counselor, Counselors)
//     and Reserve, Connect, AddCounselor and SetPriority of a written caller
//     return the inner store's error.
//
// Run writes the pending callers and changes to the inner store in their
// order once it is reachable again. A journaled change that then fails with a
// domain error is logged and dropped. Ready reports whether anything is
// pending, and Expired reports callers held longer than the maximum wait.
//
// A Buffered store with nothing pending passes every call through, so it
// passes the Store contract like its inner store.
type Buffered struct {
	inner         Store
	size          int
	maxWait       time.Duration
	retryInterval time.Duration
	replayTimeout time.Duration
	log           zerolog.Logger
	now           func() time.Time
	notify        func()
	// wake wakes Run when something became pending.
	wake chan struct{}

	// mu guards pending, held, lastErr and known.
	mu sync.Mutex
	// pending lists held callers and journaled changes in arrival order.
	pending []*pendingChange
	// held counts the callers in pending.
	held int
	// lastErr is the error of the inner store's last failed call, nil
	// once a call succeeded again.
	lastErr error
	// known maps the call ID of each caller written to the inner store
	// through this store to the caller, so that a journaled Leave returns
	// the caller as it was.
	known map[string]Caller
}

var _ Store = (*Buffered)(nil)

// pendingChange is a held caller or a journaled state change.
type pendingChange struct {
	// held is set for a caller waiting to be enqueued.
	held *heldCaller
	// what is the description of a journaled change for logs, such as
	// "finish call of counselor c1".
	what string
	// apply replays a journaled change on the inner store.
	apply func(ctx context.Context, inner Store) error
}

// heldCaller is a caller in the outage buffer.
type heldCaller struct {
	caller Caller
	// since is when the caller entered the buffer.
	since time.Time
	// reported is set once Expired returned the caller.
	reported bool
	// sending is set while Run enqueues the caller in the inner store.
	sending bool
	// sentPriority is the priority Run is sending.
	sentPriority int
	// left is set when the caller left while Run was sending it.
	left bool
}

// BufferOption configures a Buffered store.
type BufferOption func(*Buffered)

// WithBufferSize sets how many callers the buffer holds. Zero holds none,
// so that Enqueue returns ErrBufferFull whenever the inner store cannot be
// reached. Negative values keep DefaultBufferSize.
func WithBufferSize(n int) BufferOption {
	return func(b *Buffered) {
		if n >= 0 {
			b.size = n
		}
	}
}

// WithBufferMaxWait sets how long a caller stays in the buffer before
// Expired reports it. Zero or less means never.
func WithBufferMaxWait(d time.Duration) BufferOption {
	return func(b *Buffered) { b.maxWait = d }
}

// WithRetryInterval sets how often Run tries the inner store again while
// changes are pending. Values of zero or less keep the default of 1s.
func WithRetryInterval(d time.Duration) BufferOption {
	return func(b *Buffered) {
		if d > 0 {
			b.retryInterval = d
		}
	}
}

// WithReplayTimeout bounds each call that Run makes to the inner store.
// Values of zero or less keep the default of 5s.
func WithReplayTimeout(d time.Duration) BufferOption {
	return func(b *Buffered) {
		if d > 0 {
			b.replayTimeout = d
		}
	}
}

// WithBufferLogger sets the logger for outages, recoveries and journaled
// changes that failed when replayed. The default discards.
func WithBufferLogger(log zerolog.Logger) BufferOption {
	return func(b *Buffered) { b.log = log }
}

// WithBufferClock sets the clock that times how long callers are held.
func WithBufferClock(now func() time.Time) BufferOption {
	return func(b *Buffered) { b.now = now }
}

// WithReplayNotify sets a function that Run calls after it wrote pending
// callers or changes to the inner store, such as a distributor wake-up.
func WithReplayNotify(notify func()) BufferOption {
	return func(b *Buffered) { b.notify = notify }
}

// NewBuffered returns a Buffered store around inner. Call Run to write
// pending callers and changes once inner is reachable again.
func NewBuffered(inner Store, opts ...BufferOption) *Buffered {
	b := &Buffered{
		inner:         inner,
		size:          DefaultBufferSize,
		maxWait:       DefaultBufferMaxWait,
		retryInterval: defaultRetryInterval,
		replayTimeout: defaultReplayTimeout,
		log:           zerolog.Nop(),
		now:           time.Now,
		notify:        func() {},
		wake:          make(chan struct{}, 1),
		known:         make(map[string]Caller),
	}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// Inner returns the wrapped store.
func (b *Buffered) Inner() Store { return b.inner }

// domainErrors are the sentinels that a Store returns when the store was
// reached but rejected the request.
var domainErrors = []error{
	ErrAlreadyQueued, ErrNotWaiting, ErrOfferPending, ErrNoCounselor,
	ErrUnknownCounselor, ErrInvalidTransition, ErrReservationLost,
	ErrInvalidCaller, ErrInvalidCounselor, ErrUnknownStrategy, ErrBufferFull,
}

// isDomainError reports whether err wraps one of domainErrors, which means
// the store was reached.
func isDomainError(err error) bool {
	for _, target := range domainErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// unreachable reports whether err from the inner store means that it could
// not be reached: an error that is not a domain error while ctx, the
// context of the request, is still alive. A timeout of the inner store's
// own counts as unreachable. It records the result for Ready.
func (b *Buffered) unreachable(ctx context.Context, err error) bool {
	if err != nil && ctx.Err() != nil {
		return false
	}
	down := err != nil && !isDomainError(err)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.setLastErrLocked(down, err)
	return down
}

// setLastErrLocked records whether the inner store was reached, and logs
// the start and the end of an outage.
func (b *Buffered) setLastErrLocked(down bool, err error) {
	if !down {
		if b.lastErr != nil {
			b.log.Info().Int("held_callers", b.held).Int("pending", len(b.pending)).
				Msg("queue store reachable again")
		}
		b.lastErr = nil
		return
	}
	if b.lastErr == nil {
		b.log.Warn().Err(err).Int("held_callers", b.held).
			Msg("queue store unreachable: holding new callers and state changes until it answers")
	}
	b.lastErr = err
}

// Ready returns nil when the inner store's last call succeeded and nothing
// is pending. Otherwise it returns an *OutageError that counts the callers
// and changes waiting to be written.
func (b *Buffered) Ready() error {
	b.mu.Lock()
	defer b.mu.Unlock()

	if b.lastErr == nil && len(b.pending) == 0 {
		return nil
	}
	return &OutageError{Held: b.held, Changes: len(b.pending) - b.held, Err: b.lastErr}
}

// OutageError is the state of a Buffered store that is not ready. Its
// message leaves out the inner store's error, which names internal
// addresses, so that it can be shown to anyone.
type OutageError struct {
	// Held is how many callers wait in the buffer.
	Held int
	// Changes is how many journaled state changes wait.
	Changes int
	// Err is the inner store's last error, nil once a call succeeded again.
	Err error
}

// Error states whether the store is still unreachable and what waits.
func (e *OutageError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("queue store unreachable: %d callers held, %d state changes waiting", e.Held, e.Changes)
	}
	return fmt.Sprintf("queue store reachable again: writing %d held callers and %d state changes", e.Held, e.Changes)
}

// Unwrap returns the inner store's last error.
func (e *OutageError) Unwrap() error { return e.Err }

// Held returns how many callers the buffer holds.
func (b *Buffered) Held() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// Expired returns the held callers that entered the buffer at least the
// maximum wait before now and were not returned before. They stay in the
// buffer: the caller of Expired applies the queue's overflow rule, which
// takes a caller out with Leave, or keeps the caller in line.
func (b *Buffered) Expired(now time.Time) []Caller {
	if b.maxWait <= 0 {
		return nil
	}

	b.mu.Lock()
	defer b.mu.Unlock()

	var expired []Caller
	for _, change := range b.pending {
		h := change.held
		if h == nil || h.reported || h.sending || h.left || now.Sub(h.since) < b.maxWait {
			continue
		}
		h.reported = true
		expired = append(expired, h.caller.clone())
	}
	return expired
}

// wakeRun wakes Run because something became pending.
func (b *Buffered) wakeRun() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}
