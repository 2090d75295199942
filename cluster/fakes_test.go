package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"helpline/callback"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// t0 is the fake clock's time.
var t0 = time.Date(2026, time.May, 4, 10, 0, 0, 0, time.UTC)

// fakeNodeStore is a queue.NodeStore on a memory store. ReclaimNode
// removes the node's waiting callers of the known queues and returns the
// offers and calls that the test listed for the node.
type fakeNodeStore struct {
	*queue.MemoryStore
	queues []string

	// mu guards the fields below.
	mu sync.Mutex
	// stopped lists the results of StoppedNodes in turn. The last result
	// repeats.
	stopped [][]string
	// onStopped, when set, runs inside each StoppedNodes call.
	onStopped func()
	// claimAnswers lists the results of ClaimNode in turn. Once they run
	// out, ClaimNode returns true.
	claimAnswers []bool
	claims       []string
	// held lists, per node, the offers and calls ReclaimNode reports once.
	held      map[string]queue.Reclaimed
	reclaimed []string
	forgotten []string
	beats     int
	// calls records the node methods in order, such as "claim node-b".
	calls []string
}

func newFakeNodeStore(queues ...string) *fakeNodeStore {
	return &fakeNodeStore{MemoryStore: queue.NewMemoryStore(), queues: queues, held: make(map[string]queue.Reclaimed)}
}

func (s *fakeNodeStore) Heartbeat(_ context.Context, node string, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beats++
	s.calls = append(s.calls, "heartbeat "+node)
	return nil
}

func (s *fakeNodeStore) heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beats
}

func (s *fakeNodeStore) StoppedNodes(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.stopped) == 0 {
		return nil, nil
	}
	if s.onStopped != nil {
		s.onStopped()
	}
	answer := s.stopped[0]
	if len(s.stopped) > 1 {
		s.stopped = s.stopped[1:]
	}
	return slices.Clone(answer), nil
}

func (s *fakeNodeStore) ClaimNode(_ context.Context, node, claimant string, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = append(s.claims, node+" by "+claimant)
	s.calls = append(s.calls, "claim "+node)
	if len(s.claimAnswers) == 0 {
		return true, nil
	}
	answer := s.claimAnswers[0]
	s.claimAnswers = s.claimAnswers[1:]
	return answer, nil
}

func (s *fakeNodeStore) ReclaimNode(ctx context.Context, node string, _ time.Time) (queue.Reclaimed, error) {
	s.mu.Lock()
	taken := s.held[node]
	delete(s.held, node)
	s.reclaimed = append(s.reclaimed, node)
	s.calls = append(s.calls, "reclaim "+node)
	s.mu.Unlock()

	for _, name := range s.queues {
		waiting, err := s.Waiting(ctx, name)
		if err != nil {
			return queue.Reclaimed{}, err
		}
		for _, c := range waiting {
			if c.Node != node {
				continue
			}
			left, err := s.Leave(ctx, c.CallID)
			if err != nil {
				return queue.Reclaimed{}, err
			}
			taken.Callers = append(taken.Callers, left)
		}
	}
	return taken, nil
}

func (s *fakeNodeStore) ForgetNode(_ context.Context, node string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgotten = append(s.forgotten, node)
	s.calls = append(s.calls, "forget "+node)
	return nil
}

func (s *fakeNodeStore) Watch(ctx context.Context, _ func(string)) error {
	<-ctx.Done()
	return ctx.Err()
}

// snapshot returns copies of what the store recorded.
func (s *fakeNodeStore) snapshot() (reclaimed, forgotten, calls []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reclaimed), slices.Clone(s.forgotten), slices.Clone(s.calls)
}

// errRecordsDown is the error of a failing records store in the tests.
var errRecordsDown = errors.New("records database unreachable")

// fakeRecords keeps each node's open records until MarkNodeInterrupted
// closes them.
type fakeRecords struct {
	// mu guards the fields below.
	mu        sync.Mutex
	open      map[string][]InterruptedCall
	callbacks []records.Callback
	// failures is how many MarkNodeInterrupted calls fail before one
	// succeeds.
	failures int
}

func (r *fakeRecords) MarkNodeInterrupted(_ context.Context, node string, _ time.Time) ([]InterruptedCall, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return nil, errRecordsDown
	}
	closed := r.open[node]
	delete(r.open, node)
	return closed, nil
}

func (r *fakeRecords) ListOpenCallbacks(context.Context) ([]records.Callback, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.callbacks), nil
}

// fakeCallbacks keeps the requests and restored tasks it was given.
type fakeCallbacks struct {
	// mu guards the fields below.
	mu       sync.Mutex
	requests []callback.Request
	restored []records.Callback
}

func (c *fakeCallbacks) Create(_ context.Context, req callback.Request) (callback.Task, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, req)
	return callback.Task{ID: req.TaskID, CallID: req.CallID}, nil
}

func (c *fakeCallbacks) Restore(_ context.Context, stored []records.Callback) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restored = append(c.restored, stored...)
	return len(stored)
}

// eventLog keeps the published events.
type eventLog struct {
	// mu guards list.
	mu   sync.Mutex
	list []events.Event
}

func (l *eventLog) Publish(e events.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, e.Clone())
}

// ofType returns the events of type kind.
func (l *eventLog) ofType(kind events.Type) []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var found []events.Event
	for _, e := range l.list {
		if e.Type == kind {
			found = append(found, e)
		}
	}
	return found
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
