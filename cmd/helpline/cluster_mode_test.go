package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"helpline/cluster"
	"helpline/config"
	"helpline/events"
	"helpline/internal/redistest"
	"helpline/queue"
	"helpline/records"
)

// fakeNodeStore is a queue.NodeStore on a memory store that counts
// heartbeats and watches and has no other node.
type fakeNodeStore struct {
	*queue.MemoryStore

	// mu guards the counters.
	mu       sync.Mutex
	beats    int
	watching int
}

func (s *fakeNodeStore) Heartbeat(context.Context, string, time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beats++
	return nil
}

func (s *fakeNodeStore) StoppedNodes(context.Context) ([]string, error) { return nil, nil }

func (s *fakeNodeStore) ClaimNode(context.Context, string, string, time.Duration) (bool, error) {
	return true, nil
}

func (s *fakeNodeStore) ReclaimNode(context.Context, string, time.Time) (queue.Reclaimed, error) {
	return queue.Reclaimed{}, nil
}

func (s *fakeNodeStore) ForgetNode(context.Context, string) error { return nil }

func (s *fakeNodeStore) Watch(ctx context.Context, _ func(string)) error {
	s.mu.Lock()
	s.watching++
	s.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (s *fakeNodeStore) counts() (beats, watching int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beats, s.watching
}

// withSharedHooks sets the shared-mode constructors for one test.
func withSharedHooks(t *testing.T, store queue.NodeStore) {
	t.Helper()
	oldStore, oldMark := openSharedStore, markNodeInterrupted
	openSharedStore = func(redis.UniversalClient, string) queue.NodeStore { return store }
	markNodeInterrupted = func(context.Context, *records.Store, string, time.Time) ([]cluster.InterruptedCall, error) {
		return nil, nil
	}
	t.Cleanup(func() { openSharedStore, markNodeInterrupted = oldStore, oldMark })
}

// sharedConfig returns a shared-mode configuration on the Redis at addr.
func sharedConfig(addr string) *config.Config {
	return &config.Config{
		Cluster: config.Cluster{
			Mode:        config.ClusterShared,
			NodeID:      "node-a",
			LivenessTTL: 30 * time.Millisecond,
			Redis:       config.Redis{Addrs: []string{addr}},
		},
		Queues: []config.QueueDef{{Name: "youth"}},
	}
}

func TestOpenQueueEmbeddedUsesMemory(t *testing.T) {
	q, node, err := openQueue(&config.Config{Cluster: config.Cluster{Mode: config.ClusterEmbedded}}, zerolog.Nop())
	if err != nil {
		t.Fatalf("openQueue: %v", err)
	}
	if _, ok := q.(*queue.MemoryStore); !ok {
		t.Errorf("queue store is %T, want *queue.MemoryStore", q)
	}
	if node != nil || node.nodeID() != "" {
		t.Errorf("shared node = %+v, want nil in embedded mode", node)
	}
}

func TestOpenQueueSharedNeedsStore(t *testing.T) {
	oldStore := openSharedStore
	openSharedStore = nil
	t.Cleanup(func() { openSharedStore = oldStore })

	_, _, err := openQueue(sharedConfig("127.0.0.1:6379"), zerolog.Nop())
	if !errors.Is(err, errConfig) {
		t.Errorf("openQueue error = %v, want a configuration error", err)
	}
	if err == nil || !strings.Contains(err.Error(), "Redis queue store") {
		t.Errorf("openQueue error = %v, want it to name the missing Redis queue store", err)
	}
}

func TestWakeByQueue(t *testing.T) {
	tests := []struct {
		name  string
		queue string
		want  []string
	}{
		{name: "one queue", queue: "adult", want: []string{"adult"}},
		{name: "every queue", queue: "", want: []string{"youth", "adult"}},
		{name: "queue not served", queue: "elderly", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var woken []string
			notify := []func(){
				func() { woken = append(woken, "youth") },
				func() { woken = append(woken, "adult") },
			}
			wakeByQueue([]string{"youth", "adult"}, notify)(tt.queue)
			if !slices.Equal(woken, tt.want) {
				t.Errorf("woken = %v, want %v", woken, tt.want)
			}
		})
	}
}

func TestWrapUpOfPrefersCounselorsOwn(t *testing.T) {
	cfg := &config.Config{
		Queue:      config.Queue{WrapUp: 30 * time.Second},
		Counselors: []config.Counselor{{ID: "1001", WrapUp: 2 * time.Minute}, {ID: "1002"}},
	}
	wrapUp := wrapUpOf(cfg)
	if got := wrapUp("1001"); got != 2*time.Minute {
		t.Errorf("wrap-up of 1001 = %v, want its own 2m", got)
	}
	if got := wrapUp("1002"); got != 30*time.Second {
		t.Errorf("wrap-up of 1002 = %v, want queue.wrap_up 30s", got)
	}
}

func TestSharedNodeStartsAndStops(t *testing.T) {
	srv := redistest.Start(t)
	store := &fakeNodeStore{MemoryStore: queue.NewMemoryStore()}
	withSharedHooks(t, store)
	cfg := sharedConfig(srv.Addr)

	q, node, err := openQueue(cfg, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatalf("openQueue: %v", err)
	}
	if q != queue.Store(store) || node.nodeID() != "node-a" {
		t.Fatalf("openQueue = %T for node %q, want the shared store for node-a", q, node.nodeID())
	}
	bus := events.NewBus()
	node.wire(nil, nil, bus, func() {})
	if err := node.start(nil); err != nil {
		t.Fatalf("start: %v", err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for beats, watching := store.counts(); beats < 2 || watching < 1; beats, watching = store.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %d heartbeats and %d watches, want 2 and 1", beats, watching)
		}
		time.Sleep(5 * time.Millisecond)
	}
	bus.Publish(events.Event{Type: events.CallerEntered, CallID: "call-1", Queue: "youth"})
	node.stop()
	ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	node.closeStream(ctx)

	n, err := node.client.XLen(t.Context(), cluster.StreamKey).Result()
	if err != nil || n != 1 {
		t.Errorf("stream length = %d, %v; want 1", n, err)
	}
	node.closeClient()
}
