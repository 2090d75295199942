package routing

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
)

// Defaults of a Distributor.
const (
	// DefaultQueue is the queue a Distributor serves without WithQueue.
	DefaultQueue = "default"
	// DefaultRetryDelay is the wait before a caller is offered again to
	// counselors who did not take it.
	DefaultRetryDelay = 5 * time.Second
	// MinRetryDelay is the shortest retry delay WithRetryDelay accepts, so
	// that a counselor whose phone fails at once is not called in a tight
	// loop.
	MinRetryDelay = 100 * time.Millisecond
	// storeTimeout bounds each store call, so that a stuck shared store
	// cannot stall the loop or its shutdown forever.
	storeTimeout = 5 * time.Second
)

// Distributor turns the state of one queue into offers. Create it with
// NewDistributor and start its loop with Run.
type Distributor struct {
	store      queue.Store
	offerer    Offerer
	log        zerolog.Logger
	queue      string
	events     events.Publisher
	retryDelay time.Duration
	now        func() time.Time

	// wake carries Notify's wake-ups. Its buffer of one merges wake-ups that
	// arrive while the loop is busy.
	wake chan struct{}
	// results carries each finished offer from its goroutine to the loop.
	results chan offerDone
	// running is set while Run runs.
	running atomic.Bool
	// offerGroup tracks the offer goroutines.
	offerGroup sync.WaitGroup

	// The fields below belong to the Run goroutine and need no lock.

	// offers maps the call ID of each caller with an offer out to the offer.
	offers map[string]*offer
	// callers maps a call ID to what the distributor remembers of the
	// caller between walks. It only has entries for callers with a tried
	// counselor.
	callers map[string]*callerState
	// pendingCancels are reservations whose CancelReservation failed and
	// is retried on each walk.
	pendingCancels []queue.Reservation
	// storeFailures counts store errors in a row, for the log.
	storeFailures int
	// offersStarted counts the offers started since Run began, for tests.
	offersStarted int

	// passHook, when set by tests, receives a report after each walk.
	passHook func(passReport)

	// misses counts missed and busy offers across distributors, or is nil.
	misses *MissPolicy
	// strategy is passed in every Reserve request.
	strategy queue.Strategy
	// skills limits the candidates, or is nil for every counselor.
	skills *skillRouting
	// node is this node's ID under WithNode, or "" to serve every caller.
	node string
	// heldBack is set by a walk that held back an own caller for a more
	// urgent caller of another node.
	heldBack bool
}

// passReport describes one walk of the queue, for tests.
type passReport struct {
	// now is the clock reading the walk used.
	now time.Time
	// next is when the loop wakes on its own next, or zero for never.
	next time.Time
	// inFlight is the number of offers out after the walk.
	inFlight int
	// started is the number of offers started since Run began.
	started int
}

// callerState is the distributor's memory of one waiting caller.
type callerState struct {
	// tried contains the counselors that failed this caller since the
	// last retry.
	tried map[string]bool
	// retryAt is when tried is cleared, or zero when no retry is due.
	retryAt time.Time
}

// Option configures a Distributor.
type Option func(*Distributor)

// WithLogger sets the logger. The default discards everything.
func WithLogger(log zerolog.Logger) Option {
	return func(d *Distributor) { d.log = log }
}

// WithRetryDelay sets how long a caller waits before counselors who did not
// take it are offered again. Delays below MinRetryDelay are raised to it.
// The default is DefaultRetryDelay.
func WithRetryDelay(delay time.Duration) Option {
	return func(d *Distributor) { d.retryDelay = max(delay, MinRetryDelay) }
}

// WithClock sets the clock that gives the time for store calls and timers.
// The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(d *Distributor) { d.now = now }
}

// WithEvents sets the publisher that receives offer events. The default
// drops them.
func WithEvents(p events.Publisher) Option {
	return func(d *Distributor) { d.events = p }
}

// WithQueue sets the name of the queue the Distributor serves. The default
// is DefaultQueue.
func WithQueue(name string) Option {
	return func(d *Distributor) { d.queue = name }
}

// NewDistributor returns a Distributor that reserves counselors in store and
// rings them through offerer.
func NewDistributor(store queue.Store, offerer Offerer, opts ...Option) *Distributor {
	d := &Distributor{
		store:      store,
		offerer:    offerer,
		log:        zerolog.Nop(),
		events:     events.Nop{},
		queue:      DefaultQueue,
		retryDelay: DefaultRetryDelay,
		now:        time.Now,
		wake:       make(chan struct{}, 1),
		results:    make(chan offerDone),
		offers:     make(map[string]*offer),
		callers:    make(map[string]*callerState),
	}
	for _, opt := range opts {
		opt(d)
	}
	d.log = d.log.With().Str("queue", d.queue).Logger()
	return d
}

// Notify wakes the loop to walk the queue again. Call it after a caller
// joined or left the queue, a counselor became available, or a call
// finished. It never blocks, and wake-ups that arrive while the loop is busy
// merge into one.
func (d *Distributor) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run walks the queue on every wake-up and on its own timers until ctx
// ends. Then it waits for the offers in flight to return, cancels the
// reservations of those that were not confirmed, and returns nil. It returns
// ErrAlreadyRunning when the loop already runs.
func (d *Distributor) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer d.running.Store(false)

	d.logStart()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for ctx.Err() == nil {
		d.armTimer(timer, d.walk(ctx))

		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer.C:
		case done := <-d.results:
			d.finishOffer(ctx, done)
		}
	}

	d.shutdown(ctx)
	d.log.Info().Msg("distributor stopped")
	return nil
}

// armTimer sets timer to fire at next, or stops it when next is zero.
func (d *Distributor) armTimer(timer *time.Timer, next time.Time) {
	if next.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(max(next.Sub(d.now()), 0))
}

// shutdown waits for every offer in flight, settles each in the store, and
// retries the cancellations that failed before.
func (d *Distributor) shutdown(ctx context.Context) {
	if len(d.offers) > 0 {
		d.log.Info().Int("offers", len(d.offers)).Msg("waiting for offers in flight")
	}
	for len(d.offers) > 0 {
		d.finishOffer(ctx, <-d.results)
	}
	d.offerGroup.Wait()
	d.retryCancels(ctx)
	for _, r := range d.pendingCancels {
		d.log.Error().Str("call_id", r.CallID).Str("counselor_id", r.CounselorID).
			Msg("reservation left uncancelled at shutdown: the counselor stays offered until cancelled")
	}
}

// boundedContext returns a context for one store call in a walk, which ends
// with ctx or after storeTimeout.
func boundedContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, storeTimeout)
}

// detachedContext returns a context for one store call that settles an
// offer. It ends after storeTimeout but not with ctx, so that offers in
// flight are settled in the store during shutdown too.
func detachedContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
}
