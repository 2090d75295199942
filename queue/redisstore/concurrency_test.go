package redisstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"helpline/internal/redistest"
	"helpline/queue"
	"helpline/queue/redisstore"
)

// Sizes of the two-node concurrency test.
const (
	twoNodeCallers    = 60
	twoNodeCounselors = 4
	twoNodeWorkers    = 12
	sameCallerRounds  = 30
)

// twoNodes returns stores of nodes node-a and node-b on one server, each
// with its own client, as two processes would have.
func twoNodes(t *testing.T) (*redisstore.Store, *redisstore.Store) {
	t.Helper()
	srv := redistest.Start(t)
	prefix := newPrefix()
	a := redisstore.New(srv.Client(t), nodeA, redisstore.WithPrefix(prefix))
	b := redisstore.New(srv.Client(t), nodeB, redisstore.WithPrefix(prefix))
	return a, b
}

// holders records which caller holds each counselor, and fails when two
// callers hold one counselor at once.
type holders struct {
	// mu guards byCounselor.
	mu          sync.Mutex
	byCounselor map[string]string
}

// hold records that every counselor of r belongs to r's caller.
func (h *holders) hold(r queue.Reservation) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range r.Counselors() {
		if holder, ok := h.byCounselor[id]; ok {
			return fmt.Errorf("counselor %s offered to %s while held by %s", id, r.CallID, holder)
		}
		h.byCounselor[id] = r.CallID
	}
	return nil
}

// release removes the holders of the given counselors. A worker calls it
// before the store step that frees them.
func (h *holders) release(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		delete(h.byCounselor, id)
	}
}

func TestTwoNodesNeverDoubleOffer(t *testing.T) {
	a, b := twoNodes(t)
	for i := range twoNodeCounselors {
		login(t, a, fmt.Sprintf("c%d", i), at(i))
	}
	h := &holders{byCounselor: make(map[string]string)}

	var wg sync.WaitGroup
	errs := make([]error, twoNodeWorkers)
	for worker := range twoNodeWorkers {
		store := a
		if worker%2 == 1 {
			store = b
		}
		wg.Go(func() {
			for i := worker; i < twoNodeCallers; i += twoNodeWorkers {
				if err := serveOnce(t, store, h, i); err != nil {
					errs[worker] = err
					return
				}
			}
		})
	}
	wg.Wait()

	for worker, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", worker, err)
		}
	}
	counselors, err := a.Counselors(t.Context())
	must(t, "Counselors", err)
	for _, c := range counselors {
		if c.State != queue.StateAvailable || c.Node != "" {
			t.Errorf("counselor %s ended %s on %q, want available with no node", c.ID, c.State, c.Node)
		}
	}
}

// serveOnce enqueues caller i, reserves with a strategy picked by i until a
// counselor is free, connects the first reserved counselor and finishes
// the call.
func serveOnce(t *testing.T, store *redisstore.Store, h *holders, i int) error {
	ctx := t.Context()
	callID := fmt.Sprintf("call-%02d", i)
	caller := queue.Caller{CallID: callID, Queue: fmt.Sprintf("queue-%d", i%3), EnqueuedAt: at(i)}
	if err := store.Enqueue(ctx, caller); err != nil {
		return fmt.Errorf("enqueue %s: %w", callID, err)
	}

	strategy := queue.Strategies[i%len(queue.Strategies)]
	var r queue.Reservation
	for {
		var err error
		r, err = store.Reserve(ctx, queue.ReserveRequest{CallID: callID, Now: at(100), Strategy: strategy})
		if err == nil {
			break
		}
		if !errors.Is(err, queue.ErrNoCounselor) {
			return fmt.Errorf("reserve for %s: %w", callID, err)
		}
	}
	if err := h.hold(r); err != nil {
		return err
	}

	h.release(r.Counselors()[1:]...)
	if err := store.Connect(ctx, r, at(101)); err != nil {
		return fmt.Errorf("connect %s: %w", callID, err)
	}
	h.release(r.CounselorID)
	if err := store.FinishCall(ctx, r.CounselorID, at(102), at(102)); err != nil {
		return fmt.Errorf("finish call %s: %w", callID, err)
	}
	return nil
}

func TestTwoNodesReserveOneCallerOnce(t *testing.T) {
	a, b := twoNodes(t)
	for i := range twoNodeCounselors {
		login(t, a, fmt.Sprintf("c%d", i), at(i))
	}

	for round := range sameCallerRounds {
		callID := fmt.Sprintf("call-%02d", round)
		enqueue(t, a, callID, at(round))

		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		reservations := make([]queue.Reservation, 2)
		for i, store := range []*redisstore.Store{a, b} {
			wg.Go(func() {
				<-start
				reservations[i], errs[i] = store.Reserve(t.Context(), queue.ReserveRequest{CallID: callID, Now: at(100)})
			})
		}
		close(start)
		wg.Wait()

		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: both nodes reserved %s", round, callID)
			case err == nil:
				won = i
			case !errors.Is(err, queue.ErrOfferPending):
				t.Fatalf("round %d: Reserve: %v, want nil or ErrOfferPending", round, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no node reserved %s: %v", round, callID, errs)
		}
		must(t, "CancelReservation", a.CancelReservation(t.Context(), reservations[won], at(101)))
		if _, err := a.Leave(t.Context(), callID); err != nil {
			t.Fatalf("round %d: Leave: %v", round, err)
		}
	}
}
