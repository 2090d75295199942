package routing_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/queue"
	"helpline/routing"
)

// Settings shared by the distributor tests.
const (
	testQueue      = "loneliness"
	testRetryDelay = 5 * time.Second
	// eventTimeout bounds every wait for an event, generously, so that a
	// slow machine does not fail a test and a hung one still ends it.
	eventTimeout = 10 * time.Second
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when a test advances it.
type fakeClock struct {
	// mu guards now.
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// offerCall is one Offer call that the test answers.
type offerCall struct {
	ctx   context.Context
	req   routing.OfferRequest
	reply chan routing.OfferResult
	once  sync.Once
}

// respond makes Offer return result. Only the first response counts.
func (c *offerCall) respond(result routing.OfferResult) {
	c.once.Do(func() { c.reply <- result })
}

// fakeOfferer hands every Offer call to the test and returns what the test
// responds.
type fakeOfferer struct {
	calls chan *offerCall
	// closed is closed at cleanup, and makes every open or later Offer call
	// return CallerGone.
	closed    chan struct{}
	closeOnce sync.Once
}

// offererBuffer is larger than the number of offers any test makes, so
// that Offer never blocks on a test that does not read the call.
const offererBuffer = 64

func newFakeOfferer() *fakeOfferer {
	return &fakeOfferer{calls: make(chan *offerCall, offererBuffer), closed: make(chan struct{})}
}

func (f *fakeOfferer) Offer(ctx context.Context, req routing.OfferRequest) routing.OfferResult {
	call := &offerCall{ctx: ctx, req: req, reply: make(chan routing.OfferResult, 1)}
	f.calls <- call
	select {
	case result := <-call.reply:
		return result
	case <-f.closed:
		return routing.OfferResult{Outcome: routing.CallerGone}
	}
}

// close makes every open and later Offer call return CallerGone.
func (f *fakeOfferer) close() {
	f.closeOnce.Do(func() { close(f.closed) })
}

// harness is a Distributor on a memory store with a fake clock and a fake
// Offerer.
type harness struct {
	t       *testing.T
	store   queue.Store
	memory  *queue.MemoryStore
	clock   *fakeClock
	offerer *fakeOfferer
	dist    *routing.Distributor

	// mu guards reports.
	mu      sync.Mutex
	reports []routing.PassReport
	// reported receives a value after each new report; its buffer of one
	// merges signals.
	reported chan struct{}
}

// newHarness builds a harness. wrapStore, when not nil, wraps the memory
// store that the distributor uses.
func newHarness(t *testing.T, wrapStore func(queue.Store) queue.Store, opts ...routing.Option) *harness {
	t.Helper()
	memory := queue.NewMemoryStore()
	h := &harness{
		t:        t,
		store:    memory,
		memory:   memory,
		clock:    &fakeClock{now: t0},
		offerer:  newFakeOfferer(),
		reported: make(chan struct{}, 1),
	}
	if wrapStore != nil {
		h.store = wrapStore(memory)
	}

	base := []routing.Option{
		routing.WithQueue(testQueue),
		routing.WithRetryDelay(testRetryDelay),
		routing.WithClock(h.clock.Now),
		routing.WithLogger(zerolog.New(zerolog.NewTestWriter(t))),
		routing.WithPassHook(h.record),
	}
	h.dist = routing.NewDistributor(h.store, h.offerer, append(base, opts...)...)
	return h
}

// record stores a pass report. It runs on the Run goroutine.
func (h *harness) record(report routing.PassReport) {
	h.mu.Lock()
	h.reports = append(h.reports, report)
	h.mu.Unlock()
	select {
	case h.reported <- struct{}{}:
	default:
	}
}

// start runs the distributor until the test ends. Cleanup stops it, ends
// open offers, and checks that Run returned nil.
func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.dist.Run(ctx) }()

	h.t.Cleanup(func() {
		cancel()
		h.offerer.close()
		select {
		case err := <-done:
			if err != nil {
				h.t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(eventTimeout):
			h.t.Errorf("Run did not return within %v after its context ended", eventTimeout)
		}
	})
}

// waitPass waits for a walk whose report satisfies match and returns it.
func (h *harness) waitPass(match func(routing.PassReport) bool) routing.PassReport {
	h.t.Helper()
	deadline := time.After(eventTimeout)
	for {
		h.mu.Lock()
		for _, report := range h.reports {
			if match(report) {
				h.mu.Unlock()
				return report
			}
		}
		h.mu.Unlock()

		select {
		case <-h.reported:
		case <-deadline:
			h.t.Fatalf("no matching walk within %v", eventTimeout)
		}
	}
}

// settle advances the clock by a millisecond, wakes the distributor and
// waits for a walk at the new time that satisfies match. Every change the
// test made before is visible to that walk.
func (h *harness) settle(match func(routing.PassReport) bool) routing.PassReport {
	h.t.Helper()
	now := h.clock.Advance(time.Millisecond)
	h.dist.Notify()
	return h.waitPass(func(report routing.PassReport) bool {
		return !report.Now.Before(now) && match(report)
	})
}

// idle matches a walk with no offer in flight.
func idle(report routing.PassReport) bool { return report.InFlight == 0 }

// anyWalk matches every walk.
func anyWalk(routing.PassReport) bool { return true }

// nextOffer waits for the next Offer call.
func (h *harness) nextOffer() *offerCall {
	h.t.Helper()
	select {
	case call := <-h.offerer.calls:
		return call
	case <-time.After(eventTimeout):
		h.t.Fatalf("no offer within %v", eventTimeout)
		return nil
	}
}

// requireOffer waits for the next offer and checks its caller and counselor.
func (h *harness) requireOffer(callID, counselorID string) *offerCall {
	h.t.Helper()
	call := h.nextOffer()
	r := call.req.Reservation
	if r.CallID != callID || r.CounselorID != counselorID {
		h.t.Fatalf("offer of %s to %s, want %s to %s", r.CallID, r.CounselorID, callID, counselorID)
	}
	return call
}

// requireNoOfferWaiting fails when an Offer call is waiting to be read.
func (h *harness) requireNoOfferWaiting() {
	h.t.Helper()
	select {
	case call := <-h.offerer.calls:
		r := call.req.Reservation
		h.t.Fatalf("unexpected offer of %s to %s", r.CallID, r.CounselorID)
	default:
	}
}

// login adds an available counselor idle since idleSince.
func (h *harness) login(id string, idleSince time.Time) {
	h.t.Helper()
	ctx := h.t.Context()
	if err := h.memory.AddCounselor(ctx, id, idleSince); err != nil {
		h.t.Fatalf("AddCounselor(%s): %v", id, err)
	}
	if err := h.memory.SetState(ctx, id, queue.StateAvailable, "", idleSince); err != nil {
		h.t.Fatalf("SetState(%s, available): %v", id, err)
	}
}

// enqueue adds a caller to the test queue.
func (h *harness) enqueue(callID string, priority int, enqueuedAt time.Time) {
	h.t.Helper()
	caller := queue.Caller{CallID: callID, Queue: testQueue, Priority: priority, EnqueuedAt: enqueuedAt}
	if err := h.memory.Enqueue(h.t.Context(), caller); err != nil {
		h.t.Fatalf("Enqueue(%s): %v", callID, err)
	}
}

// counselor returns the store's view of counselor id.
func (h *harness) counselor(id string) queue.Counselor {
	h.t.Helper()
	c, err := h.memory.Counselor(h.t.Context(), id)
	if err != nil {
		h.t.Fatalf("Counselor(%s): %v", id, err)
	}
	return c
}

// requireState fails unless counselor id is in state.
func (h *harness) requireState(id string, state queue.CounselorState) queue.Counselor {
	h.t.Helper()
	c := h.counselor(id)
	if c.State != state {
		h.t.Fatalf("counselor %s state = %s, want %s (%+v)", id, c.State, state, c)
	}
	return c
}

// answer confirms the offer as the Offerer does when the phone answers,
// and reports Answered.
func (h *harness) answer(call *offerCall) {
	h.t.Helper()
	if err := call.req.Confirm(); err != nil {
		h.t.Fatalf("Confirm: %v", err)
	}
	call.respond(routing.OfferResult{Outcome: routing.Answered})
}

// waitDone waits for ctx to end and returns its cause.
func waitDone(t *testing.T, ctx context.Context) error {
	t.Helper()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(eventTimeout):
		t.Fatalf("offer context did not end within %v", eventTimeout)
		return nil
	}
}

// errStoreDown is the error of a failing store call in the tests.
var errStoreDown = errors.New("store unreachable")

// flakyStore fails chosen store calls a number of times before passing them
// to the wrapped store.
type flakyStore struct {
	queue.Store

	// mu guards the counters.
	mu sync.Mutex
	// waitingFails and cancelFails are how many calls still fail.
	waitingFails int
	cancelFails  int
	// cancelCalls counts CancelReservation calls.
	cancelCalls int
}

func (s *flakyStore) setCancelFails(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelFails = n
}

func (s *flakyStore) cancelAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelCalls
}

func (s *flakyStore) Waiting(ctx context.Context, queueName string) ([]queue.Caller, error) {
	s.mu.Lock()
	fail := s.waitingFails > 0
	if fail {
		s.waitingFails--
	}
	s.mu.Unlock()
	if fail {
		return nil, errStoreDown
	}
	return s.Store.Waiting(ctx, queueName)
}

func (s *flakyStore) CancelReservation(ctx context.Context, r queue.Reservation, now time.Time) error {
	s.mu.Lock()
	s.cancelCalls++
	fail := s.cancelFails > 0
	if fail {
		s.cancelFails--
	}
	s.mu.Unlock()
	if fail {
		return errStoreDown
	}
	return s.Store.CancelReservation(ctx, r, now)
}
