// Package queuetest holds the contract tests that every queue.Store
// implementation must pass. An implementation's own test file calls
// RunStoreContract with a constructor for an empty store:
//
//	func TestMemoryStore(t *testing.T) {
//		queuetest.RunStoreContract(t, func(t *testing.T) queue.Store {
//			return queue.NewMemoryStore()
//		})
//	}
//
// The tests pass every time explicitly, so they need no clock, and they use
// only the Store methods, so they apply to a store shared between processes
// as well as to one in memory. The package follows no RFC.
package queuetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"helpline/queue"
)

// base is the time every contract test starts from.
var base = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// at returns base plus the given number of seconds.
func at(seconds int) time.Time {
	return base.Add(time.Duration(seconds) * time.Second)
}

// RunStoreContract runs every contract test as a subtest. newStore must
// return an empty store for each call; it may register cleanup with t.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Helper()

	t.Run("Enqueue", func(t *testing.T) { testEnqueue(t, newStore) })
	t.Run("Waiting", func(t *testing.T) { testWaiting(t, newStore) })
	t.Run("Position", func(t *testing.T) { testPosition(t, newStore) })
	t.Run("Leave", func(t *testing.T) { testLeave(t, newStore) })
	t.Run("AddCounselor", func(t *testing.T) { testAddCounselor(t, newStore) })
	t.Run("Counselors", func(t *testing.T) { testCounselors(t, newStore) })
	t.Run("SetState", func(t *testing.T) { testSetState(t, newStore) })
	t.Run("Reserve", func(t *testing.T) { testReserve(t, newStore) })
	t.Run("CancelReservation", func(t *testing.T) { testCancelReservation(t, newStore) })
	t.Run("Connect", func(t *testing.T) { testConnect(t, newStore) })
	t.Run("FinishCall", func(t *testing.T) { testFinishCall(t, newStore) })
	t.Run("EndWrapUp", func(t *testing.T) { testEndWrapUp(t, newStore) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelledContext(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("Strategies", func(t *testing.T) { testStrategies(t, newStore) })
	t.Run("RingAll", func(t *testing.T) { testRingAll(t, newStore) })
	t.Run("OneOfferAcrossQueues", func(t *testing.T) { testOneOfferAcrossQueues(t, newStore) })
	t.Run("SetPriority", func(t *testing.T) { testSetPriority(t, newStore) })
	t.Run("NodeOwnership", func(t *testing.T) { testNodeOwnership(t, newStore) })
}

// fixture is a store under test with helpers that fail the test on any
// unexpected error.
type fixture struct {
	t     *testing.T
	store queue.Store
}

// newFixture returns a fixture around a fresh store.
func newFixture(t *testing.T, newStore func(t *testing.T) queue.Store) fixture {
	t.Helper()
	return fixture{t: t, store: newStore(t)}
}

// enqueue adds caller callID to queue with the given priority and arrival.
func (f fixture) enqueue(queueName, callID string, priority int, enqueuedAt time.Time) {
	f.t.Helper()
	caller := queue.Caller{CallID: callID, Queue: queueName, Priority: priority, EnqueuedAt: enqueuedAt}
	if err := f.store.Enqueue(f.t.Context(), caller); err != nil {
		f.t.Fatalf("Enqueue(%s): %v", callID, err)
	}
}

// login adds counselor id and makes it available, idle since idleSince.
func (f fixture) login(id string, idleSince time.Time) {
	f.t.Helper()
	if err := f.store.AddCounselor(f.t.Context(), id, idleSince); err != nil {
		f.t.Fatalf("AddCounselor(%s): %v", id, err)
	}
	if err := f.store.SetState(f.t.Context(), id, queue.StateAvailable, "", idleSince); err != nil {
		f.t.Fatalf("SetState(%s, available): %v", id, err)
	}
}

// setState applies a manual state change that must succeed.
func (f fixture) setState(id string, state queue.CounselorState, reason string, now time.Time) {
	f.t.Helper()
	if err := f.store.SetState(f.t.Context(), id, state, reason, now); err != nil {
		f.t.Fatalf("SetState(%s, %s): %v", id, state, err)
	}
}

// reserve reserves a counselor for callID and fails the test on error.
func (f fixture) reserve(callID string, now time.Time, exclude ...string) queue.Reservation {
	f.t.Helper()
	r, err := f.store.Reserve(f.t.Context(), queue.ReserveRequest{CallID: callID, Exclude: exclude, Now: now})
	if err != nil {
		f.t.Fatalf("Reserve(%s): %v", callID, err)
	}
	return r
}

// reserveErr returns the error of a Reserve that must fail.
func (f fixture) reserveErr(callID string, now time.Time, exclude ...string) error {
	f.t.Helper()
	r, err := f.store.Reserve(f.t.Context(), queue.ReserveRequest{CallID: callID, Exclude: exclude, Now: now})
	if err == nil {
		f.t.Fatalf("Reserve(%s) = %+v, want an error", callID, r)
	}
	return err
}

// connect connects a reservation and fails the test on error.
func (f fixture) connect(r queue.Reservation, now time.Time) {
	f.t.Helper()
	if err := f.store.Connect(f.t.Context(), r, now); err != nil {
		f.t.Fatalf("Connect(%+v): %v", r, err)
	}
}

// cancel cancels a reservation and fails the test on error.
func (f fixture) cancel(r queue.Reservation, now time.Time) {
	f.t.Helper()
	if err := f.store.CancelReservation(f.t.Context(), r, now); err != nil {
		f.t.Fatalf("CancelReservation(%+v): %v", r, err)
	}
}

// leave removes a waiting caller and fails the test on error.
func (f fixture) leave(callID string) queue.Caller {
	f.t.Helper()
	caller, err := f.store.Leave(f.t.Context(), callID)
	if err != nil {
		f.t.Fatalf("Leave(%s): %v", callID, err)
	}
	return caller
}

// finishCall ends a counselor's call and fails the test on error.
func (f fixture) finishCall(id string, wrapUpUntil, now time.Time) {
	f.t.Helper()
	if err := f.store.FinishCall(f.t.Context(), id, wrapUpUntil, now); err != nil {
		f.t.Fatalf("FinishCall(%s): %v", id, err)
	}
}

// counselor returns counselor id and fails the test on error.
func (f fixture) counselor(id string) queue.Counselor {
	f.t.Helper()
	c, err := f.store.Counselor(f.t.Context(), id)
	if err != nil {
		f.t.Fatalf("Counselor(%s): %v", id, err)
	}
	return c
}

// waiting returns the callers of queueName and fails the test on error.
func (f fixture) waiting(queueName string) []queue.Caller {
	f.t.Helper()
	callers, err := f.store.Waiting(f.t.Context(), queueName)
	if err != nil {
		f.t.Fatalf("Waiting(%s): %v", queueName, err)
	}
	return callers
}

// waitingCaller returns the waiting caller callID of queueName, failing the
// test when it is not there.
func (f fixture) waitingCaller(queueName, callID string) queue.Caller {
	f.t.Helper()
	for _, caller := range f.waiting(queueName) {
		if caller.CallID == callID {
			return caller
		}
	}
	f.t.Fatalf("caller %s not waiting in queue %s", callID, queueName)
	return queue.Caller{}
}

// callIDs returns the call IDs of callers in order.
func callIDs(callers []queue.Caller) []string {
	ids := make([]string, 0, len(callers))
	for _, caller := range callers {
		ids = append(ids, caller.CallID)
	}
	return ids
}

// requireState fails the test unless counselor id is in state.
func (f fixture) requireState(id string, state queue.CounselorState) queue.Counselor {
	f.t.Helper()
	c := f.counselor(id)
	if c.State != state {
		f.t.Fatalf("counselor %s state = %s, want %s (%+v)", id, c.State, state, c)
	}
	return c
}

// requireErrorIs fails the test unless errors.Is(err, target).
func requireErrorIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// requireTransitionError fails the test unless err is a TransitionError
// from one state to another.
func requireTransitionError(t *testing.T, err error, from, to queue.CounselorState) {
	t.Helper()
	requireErrorIs(t, err, queue.ErrInvalidTransition)
	var transition *queue.TransitionError
	if !errors.As(err, &transition) {
		t.Fatalf("error %v is not a *queue.TransitionError", err)
	}
	if transition.From != from {
		t.Errorf("TransitionError.From = %s, want %s", transition.From, from)
	}
	if transition.To != to {
		t.Errorf("TransitionError.To = %s, want %s", transition.To, to)
	}
}

// cancelledContext returns a context that has already ended.
func cancelledContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
