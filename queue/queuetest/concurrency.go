package queuetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"helpline/queue"
)

func testCancelledContext(t *testing.T, newStore func(t *testing.T) queue.Store) {
	r := queue.Reservation{CallID: "call-1", CounselorID: "c1", Queue: mainQueue}
	tests := []struct {
		name string
		call func(ctx context.Context, s queue.Store) error
	}{
		{name: "Enqueue", call: func(ctx context.Context, s queue.Store) error {
			return s.Enqueue(ctx, queue.Caller{CallID: "call-2", Queue: mainQueue, EnqueuedAt: at(1)})
		}},
		{name: "Leave", call: func(ctx context.Context, s queue.Store) error {
			_, err := s.Leave(ctx, "call-1")
			return err
		}},
		{name: "Waiting", call: func(ctx context.Context, s queue.Store) error {
			_, err := s.Waiting(ctx, mainQueue)
			return err
		}},
		{name: "Position", call: func(ctx context.Context, s queue.Store) error {
			_, err := s.Position(ctx, "call-1")
			return err
		}},
		{name: "AddCounselor", call: func(ctx context.Context, s queue.Store) error {
			return s.AddCounselor(ctx, "c2", at(1))
		}},
		{name: "SetState", call: func(ctx context.Context, s queue.Store) error {
			return s.SetState(ctx, "c1", queue.StateBreak, "meal", at(1))
		}},
		{name: "Counselor", call: func(ctx context.Context, s queue.Store) error {
			_, err := s.Counselor(ctx, "c1")
			return err
		}},
		{name: "Counselors", call: func(ctx context.Context, s queue.Store) error {
			_, err := s.Counselors(ctx)
			return err
		}},
		{name: "Reserve", call: func(ctx context.Context, s queue.Store) error {
			_, err := s.Reserve(ctx, queue.ReserveRequest{CallID: "call-1", Now: at(1)})
			return err
		}},
		{name: "CancelReservation", call: func(ctx context.Context, s queue.Store) error {
			return s.CancelReservation(ctx, r, at(1))
		}},
		{name: "Connect", call: func(ctx context.Context, s queue.Store) error {
			return s.Connect(ctx, r, at(1))
		}},
		{name: "FinishCall", call: func(ctx context.Context, s queue.Store) error {
			return s.FinishCall(ctx, "c1", at(2), at(1))
		}},
		{name: "EndWrapUp", call: func(ctx context.Context, s queue.Store) error {
			return s.EndWrapUp(ctx, "c1", at(1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newStore)
			f.login("c1", at(0))
			f.enqueue(mainQueue, "call-1", 0, at(0))

			err := tt.call(cancelledContext(t), f.store)

			requireErrorIs(t, err, context.Canceled)
			f.requireState("c1", queue.StateAvailable)
			if got, want := callIDs(f.waiting(mainQueue)), "[call-1]"; fmt.Sprint(got) != want {
				t.Errorf("Waiting = %v, want %s", got, want)
			}
		})
	}
}

// Sizes of the concurrency tests.
const (
	// raceRounds repeats the same-instant test so that the goroutines
	// interleave differently.
	raceRounds = 20
	// sameInstantCallers is how many callers compete for one counselor.
	sameInstantCallers = 3
	// mixedWorkers and mixedSteps size the mixed-operations test.
	mixedWorkers    = 50
	mixedSteps      = 20
	mixedCounselors = 5
)

func testConcurrency(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("same instant one counselor", func(t *testing.T) {
		for round := range raceRounds {
			f := newFixture(t, newStore)
			f.login("c1", at(0))
			callIDs := make([]string, sameInstantCallers)
			for i := range callIDs {
				callIDs[i] = fmt.Sprintf("call-%d", i)
				f.enqueue(mainQueue, callIDs[i], 0, at(1))
			}

			errs := runTogether(len(callIDs), func(i int) error {
				_, err := f.store.Reserve(t.Context(), queue.ReserveRequest{CallID: callIDs[i], Now: at(2)})
				return err
			})

			reserved := 0
			for i, err := range errs {
				switch {
				case err == nil:
					reserved++
				case !errors.Is(err, queue.ErrNoCounselor):
					t.Fatalf("round %d: Reserve(%s): %v, want nil or ErrNoCounselor", round, callIDs[i], err)
				}
			}
			if reserved != 1 {
				t.Fatalf("round %d: %d reservations for one counselor, want 1", round, reserved)
			}
			offered := 0
			for _, caller := range f.waiting(mainQueue) {
				if caller.OfferedTo != "" {
					offered++
				}
			}
			if offered != 1 {
				t.Fatalf("round %d: %d callers marked offered, want 1", round, offered)
			}
		}
	})

	t.Run("same instant one caller", func(t *testing.T) {
		const attempts = 10
		f := newFixture(t, newStore)
		for i := range attempts {
			f.login(fmt.Sprintf("c%02d", i), at(i))
		}
		f.enqueue(mainQueue, "call-1", 0, at(1))

		errs := runTogether(attempts, func(int) error {
			_, err := f.store.Reserve(t.Context(), queue.ReserveRequest{CallID: "call-1", Now: at(20)})
			return err
		})

		reserved := 0
		for _, err := range errs {
			switch {
			case err == nil:
				reserved++
			case !errors.Is(err, queue.ErrOfferPending):
				t.Fatalf("Reserve: %v, want nil or ErrOfferPending", err)
			}
		}
		if reserved != 1 {
			t.Fatalf("%d reservations for one caller, want 1", reserved)
		}
	})

	t.Run("mixed operations", func(t *testing.T) {
		f := newFixture(t, newStore)
		for i := range mixedCounselors {
			f.login(fmt.Sprintf("c%d", i), at(i))
		}
		w := &mixedWorkload{store: f.store, holders: make(map[string]string)}

		errs := runTogether(mixedWorkers, func(worker int) error {
			return w.run(t.Context(), worker)
		})
		for worker, err := range errs {
			if err != nil {
				t.Errorf("worker %d: %v", worker, err)
			}
		}

		for _, queueName := range []string{mainQueue, otherQueue} {
			if got := f.waiting(queueName); len(got) != 0 {
				t.Errorf("callers left in %s: %v", queueName, callIDs(got))
			}
		}
		for i := range mixedCounselors {
			c := f.requireState(fmt.Sprintf("c%d", i), queue.StateAvailable)
			if c.OfferCallID != "" || c.CallID != "" {
				t.Errorf("counselor %s still holds a call: %+v", c.ID, c)
			}
		}
		if w.connects != w.finishes {
			t.Errorf("%d calls connected but %d finished", w.connects, w.finishes)
		}
	})
}

// runTogether runs work(0) … work(n-1) in n goroutines released at the same
// moment, and returns their errors by index.
func runTogether(n int, work func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = work(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// mixedWorkload drives callers through every path of the state machine from
// many goroutines, and checks that no counselor is ever offered to two
// callers at once.
type mixedWorkload struct {
	store queue.Store

	// mu guards holders, connects and finishes.
	mu sync.Mutex
	// holders maps a counselor ID to the call ID it is reserved for or
	// connected to. A worker removes its entry before the store step that
	// can free the counselor.
	holders map[string]string
	// connects and finishes count successful Connect and FinishCall steps.
	connects int
	finishes int
}

// run is one worker: mixedSteps callers, each enqueued, reserved, then
// connected, cancelled or abandoned, with reads and breaks in between.
func (w *mixedWorkload) run(ctx context.Context, worker int) error {
	random := rand.New(rand.NewPCG(uint64(worker), 0))
	queueName := mainQueue
	if worker%2 == 1 {
		queueName = otherQueue
	}

	for step := range mixedSteps {
		callID := fmt.Sprintf("w%d-s%d", worker, step)
		caller := queue.Caller{CallID: callID, Queue: queueName, Priority: random.IntN(3), EnqueuedAt: at(step)}
		if err := w.store.Enqueue(ctx, caller); err != nil {
			return fmt.Errorf("enqueue %s: %w", callID, err)
		}
		if err := w.serve(ctx, random, callID); err != nil {
			return err
		}
		if err := w.readAndBreak(ctx, random, callID); err != nil {
			return err
		}
	}
	return nil
}

// serve reserves a counselor for callID until one is found, then ends the
// reservation on a random path. It returns once callID no longer waits.
func (w *mixedWorkload) serve(ctx context.Context, random *rand.Rand, callID string) error {
	for {
		r, err := w.store.Reserve(ctx, queue.ReserveRequest{CallID: callID, Now: at(100)})
		if errors.Is(err, queue.ErrNoCounselor) {
			if random.IntN(4) == 0 {
				return w.leave(ctx, callID)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("reserve for %s: %w", callID, err)
		}
		if err := w.hold(r); err != nil {
			return err
		}

		switch random.IntN(3) {
		case 0:
			return w.connectAndFinish(ctx, r)
		case 1:
			if err := w.cancel(ctx, r); err != nil {
				return err
			}
		default:
			return w.leaveDuringOffer(ctx, random, r)
		}
	}
}

// hold records that r's counselor belongs to r's caller, failing when the
// counselor already belongs to another caller.
func (w *mixedWorkload) hold(r queue.Reservation) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if holder, ok := w.holders[r.CounselorID]; ok {
		return fmt.Errorf("counselor %s reserved for %s while held by %s", r.CounselorID, r.CallID, holder)
	}
	w.holders[r.CounselorID] = r.CallID
	return nil
}

// release removes the holder of r's counselor.
func (w *mixedWorkload) release(r queue.Reservation) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.holders, r.CounselorID)
}

func (w *mixedWorkload) connectAndFinish(ctx context.Context, r queue.Reservation) error {
	if err := w.store.Connect(ctx, r, at(101)); err != nil {
		return fmt.Errorf("connect %s: %w", r.CallID, err)
	}
	w.mu.Lock()
	w.connects++
	w.mu.Unlock()

	w.release(r)
	if err := w.store.FinishCall(ctx, r.CounselorID, at(150), at(102)); err != nil {
		return fmt.Errorf("finish call %s: %w", r.CallID, err)
	}
	w.mu.Lock()
	w.finishes++
	w.mu.Unlock()

	err := w.store.EndWrapUp(ctx, r.CounselorID, at(103))
	if err != nil && !errors.Is(err, queue.ErrInvalidTransition) {
		return fmt.Errorf("end wrap-up after %s: %w", r.CallID, err)
	}
	return nil
}

func (w *mixedWorkload) cancel(ctx context.Context, r queue.Reservation) error {
	w.release(r)
	if err := w.store.CancelReservation(ctx, r, at(101)); err != nil {
		return fmt.Errorf("cancel %s: %w", r.CallID, err)
	}
	return nil
}

// leaveDuringOffer removes the caller while its offer is out, then either
// cancels the offer or tries to connect it, which must fail.
func (w *mixedWorkload) leaveDuringOffer(ctx context.Context, random *rand.Rand, r queue.Reservation) error {
	if err := w.leave(ctx, r.CallID); err != nil {
		return err
	}
	if random.IntN(2) == 0 {
		return w.cancel(ctx, r)
	}

	w.release(r)
	err := w.store.Connect(ctx, r, at(101))
	if !errors.Is(err, queue.ErrReservationLost) {
		return fmt.Errorf("connect %s after it left: %v, want ErrReservationLost", r.CallID, err)
	}
	return nil
}

func (w *mixedWorkload) leave(ctx context.Context, callID string) error {
	if _, err := w.store.Leave(ctx, callID); err != nil {
		return fmt.Errorf("leave %s: %w", callID, err)
	}
	return nil
}

// readAndBreak reads the queue state and sends one counselor on a short
// break, accepting the rejections that concurrent calls cause.
func (w *mixedWorkload) readAndBreak(ctx context.Context, random *rand.Rand, callID string) error {
	if _, err := w.store.Waiting(ctx, mainQueue); err != nil {
		return fmt.Errorf("list waiting: %w", err)
	}
	if _, err := w.store.Position(ctx, callID); !errors.Is(err, queue.ErrNotWaiting) {
		return fmt.Errorf("position of %s after it was served: %v, want ErrNotWaiting", callID, err)
	}
	if _, err := w.store.Counselors(ctx); err != nil {
		return fmt.Errorf("list counselors: %w", err)
	}

	id := fmt.Sprintf("c%d", random.IntN(mixedCounselors))
	err := w.store.SetState(ctx, id, queue.StateBreak, "short", at(104))
	if errors.Is(err, queue.ErrInvalidTransition) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("break for %s: %w", id, err)
	}
	// Another worker may have ended this break already and the counselor
	// may have an offer by now, which rejects the change.
	err = w.store.SetState(ctx, id, queue.StateAvailable, "", at(105))
	if err != nil && !errors.Is(err, queue.ErrInvalidTransition) {
		return fmt.Errorf("end break of %s: %w", id, err)
	}
	return nil
}
