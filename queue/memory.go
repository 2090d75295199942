package queue

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store for one process. Its state is lost when the process
// exits. Because the one process both holds the calls and makes the offers,
// Reserve sets a counselor's Node to the reserved caller's Node.
type MemoryStore struct {
	// mu guards callers and counselors. Every method holds it for its whole
	// step, which makes each method atomic.
	mu sync.Mutex
	// callers maps the call ID of each waiting caller to the caller.
	callers map[string]Caller
	// counselors maps each known counselor ID to the counselor.
	counselors map[string]Counselor
	// lastReserved maps a queue name to the counselor that its last
	// StrategyRoundRobin reservation picked.
	lastReserved map[string]string
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		callers:    make(map[string]Caller),
		counselors: make(map[string]Counselor),

		lastReserved: make(map[string]string),
	}
}

// Enqueue implements Store.
func (s *MemoryStore) Enqueue(ctx context.Context, caller Caller) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, err)
	}
	if caller.CallID == "" || caller.Queue == "" {
		return fmt.Errorf("enqueue caller %q to queue %q: call ID and queue are required: %w",
			caller.CallID, caller.Queue, ErrInvalidCaller)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.callers[caller.CallID]; ok {
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, ErrAlreadyQueued)
	}
	caller = caller.clone()
	caller.OfferedTo = ""
	caller.OfferedToAll = nil
	s.callers[caller.CallID] = caller
	return nil
}

// Leave implements Store.
func (s *MemoryStore) Leave(ctx context.Context, callID string) (Caller, error) {
	if err := ctx.Err(); err != nil {
		return Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	caller, ok := s.callers[callID]
	if !ok {
		return Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, ErrNotWaiting)
	}
	delete(s.callers, callID)
	return caller, nil
}

// Waiting implements Store.
func (s *MemoryStore) Waiting(ctx context.Context, queue string) ([]Caller, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list callers of queue %s: %w", queue, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	return s.waitingLocked(queue), nil
}

// Position implements Store.
func (s *MemoryStore) Position(ctx context.Context, callID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	caller, ok := s.callers[callID]
	if !ok {
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, ErrNotWaiting)
	}
	index := slices.IndexFunc(s.waitingLocked(caller.Queue), func(c Caller) bool {
		return c.CallID == callID
	})
	return index + 1, nil
}

// waitingLocked returns copies of the callers of queue in service order.
func (s *MemoryStore) waitingLocked(queue string) []Caller {
	waiting := []Caller{}
	for _, caller := range s.callers {
		if caller.Queue == queue {
			waiting = append(waiting, caller.clone())
		}
	}
	slices.SortFunc(waiting, compareServiceOrder)
	return waiting
}

// compareServiceOrder orders callers by priority descending, then arrival,
// then call ID.
func compareServiceOrder(a, b Caller) int {
	if byPriority := cmp.Compare(b.Priority, a.Priority); byPriority != 0 {
		return byPriority
	}
	if byArrival := a.EnqueuedAt.Compare(b.EnqueuedAt); byArrival != 0 {
		return byArrival
	}
	return cmp.Compare(a.CallID, b.CallID)
}

// AddCounselor implements Store.
func (s *MemoryStore) AddCounselor(ctx context.Context, id string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add counselor %s: %w", id, err)
	}
	if id == "" {
		return fmt.Errorf("add counselor: ID is empty: %w", ErrInvalidCounselor)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.counselors[id]; !ok {
		s.counselors[id] = Counselor{ID: id, State: StateLoggedOut, Since: now}
	}
	return nil
}

// Counselor implements Store.
func (s *MemoryStore) Counselor(ctx context.Context, id string) (Counselor, error) {
	if err := ctx.Err(); err != nil {
		return Counselor{}, fmt.Errorf("read counselor %s: %w", id, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	counselor, ok := s.counselors[id]
	if !ok {
		return Counselor{}, fmt.Errorf("read counselor %s: %w", id, ErrUnknownCounselor)
	}
	return counselor, nil
}

// Counselors implements Store.
func (s *MemoryStore) Counselors(ctx context.Context) ([]Counselor, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list counselors: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	counselors := make([]Counselor, 0, len(s.counselors))
	for _, counselor := range s.counselors {
		counselors = append(counselors, counselor)
	}
	slices.SortFunc(counselors, func(a, b Counselor) int { return cmp.Compare(a.ID, b.ID) })
	return counselors, nil
}
