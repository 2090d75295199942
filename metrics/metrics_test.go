package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/metrics"
	"helpline/queue"
	"helpline/web"
)

// closeTimeout bounds the wait for the buffered events to be counted.
const closeTimeout = 10 * time.Second

func TestEventsAndStoreSeries(t *testing.T) {
	store := newStore(t)
	m := metrics.New(metrics.WithQueueStore(store, []string{"general", "youth"}))
	bus := events.NewBus()
	m.Start(bus)

	publishCall(bus, "a", "general", "3.5", "answered")
	publishCall(bus, "b", "general", "42", "answered")
	bus.Publish(events.Event{Type: events.Offered, CallID: "c", Queue: "youth"})
	bus.Publish(events.Event{Type: events.RingNoAnswer, CallID: "c", Queue: "youth", Data: map[string]string{"outcome": "no_answer"}})
	bus.Publish(events.Event{Type: events.OfferRejected, CallID: "c", Queue: "youth", Data: map[string]string{"outcome": "busy"}})
	bus.Publish(events.Event{Type: events.CallEnded, CallID: "c", Queue: "youth", Data: map[string]string{"outcome": "abandoned"}})
	bus.Publish(events.Event{Type: events.CallEnded, CallID: "d"})
	closeMetrics(t, m)

	body := scrape(t, m)

	for _, want := range []string{
		`helpline_calls_total{outcome="answered"} 2`,
		`helpline_calls_total{outcome="abandoned"} 1`,
		`helpline_calls_total{outcome="unknown"} 1`,
		`helpline_offers_total{result="offered"} 3`,
		`helpline_offers_total{result="answered"} 2`,
		`helpline_offers_total{result="ring_no_answer"} 1`,
		`helpline_offers_total{result="rejected"} 1`,
		`helpline_queue_wait_seconds_count{queue="general"} 2`,
		`helpline_queue_wait_seconds_sum{queue="general"} 45.5`,
		`helpline_queue_wait_seconds_bucket{queue="general",le="5"} 1`,
		`helpline_queue_wait_seconds_bucket{queue="general",le="60"} 2`,
		`helpline_callers_waiting{queue="general"} 2`,
		`helpline_callers_waiting{queue="youth"} 0`,
		`helpline_counselors{state="available"} 1`,
		`helpline_counselors{state="break"} 1`,
		`helpline_counselors{state="logged_out"} 1`,
		`helpline_counselors{state="on_call"} 0`,
		`helpline_errors_total{source="queue_store"} 0`,
		`helpline_errors_total{source="events"} 0`,
	} {
		if !hasLine(body, want) {
			t.Errorf("/metrics has no line %q", want)
		}
	}
	if !strings.Contains(body, "\ngo_goroutines ") || !strings.Contains(body, "\nprocess_") {
		t.Error("/metrics has no Go runtime or process series")
	}
	if strings.Contains(body, `call_id`) || strings.Contains(body, `"a"`) {
		t.Errorf("/metrics exposes a call ID:\n%s", body)
	}
}

func TestWaitWithoutValidSeconds(t *testing.T) {
	m := metrics.New()
	bus := events.NewBus()
	m.Start(bus)

	bus.Publish(events.Event{Type: events.Connected, CallID: "a", Queue: "general", Data: map[string]string{"wait_seconds": "soon"}})
	closeMetrics(t, m)
	body := scrape(t, m)

	if !hasLine(body, `helpline_offers_total{result="answered"} 1`) {
		t.Errorf("connected event without a valid wait was not counted as answered:\n%s", body)
	}
	if strings.Contains(body, "helpline_queue_wait_seconds_count") {
		t.Errorf("an invalid wait was observed:\n%s", body)
	}
}

func TestFailingStoreCountsError(t *testing.T) {
	m := metrics.New(metrics.WithQueueStore(failingStore{}, []string{"general"}), metrics.WithLogger(zerolog.Nop()))

	first := scrape(t, m)
	second := scrape(t, m)

	if !hasLine(first, `helpline_errors_total{source="queue_store"} 1`) {
		t.Errorf("first scrape has no queue_store error of 1:\n%s", first)
	}
	if !hasLine(second, `helpline_errors_total{source="queue_store"} 2`) {
		t.Errorf("second scrape has no queue_store error of 2:\n%s", second)
	}
	for _, gauge := range []string{"helpline_callers_waiting", "helpline_counselors"} {
		if strings.Contains(second, gauge+"{") {
			t.Errorf("/metrics has %s although the store failed", gauge)
		}
	}
}

func TestSlowStoreTimesOut(t *testing.T) {
	m := metrics.New(metrics.WithQueueStore(blockingStore{}, []string{"general"}), metrics.WithStoreTimeout(10*time.Millisecond))

	body := scrape(t, m)

	if !hasLine(body, `helpline_errors_total{source="queue_store"} 1`) {
		t.Errorf("a store that does not answer was not counted as an error:\n%s", body)
	}
}

func TestCloseWithoutStart(t *testing.T) {
	if err := metrics.New().Close(context.Background()); err != nil {
		t.Errorf("Close of a Metrics never started = %v, want nil", err)
	}
}

// newStore returns a store with two callers in queue general and three
// counselors: one available, one on break and one logged out.
func newStore(t *testing.T) *queue.MemoryStore {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	store := queue.NewMemoryStore()
	for _, id := range []string{"x1", "x2"} {
		if err := store.Enqueue(ctx, queue.Caller{CallID: id, Queue: "general", EnqueuedAt: now}); err != nil {
			t.Fatalf("Enqueue %s: %v", id, err)
		}
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if err := store.AddCounselor(ctx, id, now); err != nil {
			t.Fatalf("AddCounselor %s: %v", id, err)
		}
	}
	if err := store.SetState(ctx, "c1", queue.StateAvailable, "", now); err != nil {
		t.Fatalf("SetState c1: %v", err)
	}
	if err := store.SetState(ctx, "c2", queue.StateAvailable, "", now); err != nil {
		t.Fatalf("SetState c2: %v", err)
	}
	if err := store.SetState(ctx, "c2", queue.StateBreak, "lunch", now); err != nil {
		t.Fatalf("SetState c2: %v", err)
	}
	return store
}

// publishCall publishes the events of a caller offered, connected after
// wait seconds, and ended with outcome.
func publishCall(bus *events.Bus, callID, queueName, wait, outcome string) {
	bus.Publish(events.Event{Type: events.Offered, CallID: callID, Queue: queueName, CounselorID: "c1"})
	bus.Publish(events.Event{Type: events.Connected, CallID: callID, Queue: queueName, CounselorID: "c1",
		Data: map[string]string{"wait_seconds": wait}})
	bus.Publish(events.Event{Type: events.CallEnded, CallID: callID, Queue: queueName, CounselorID: "c1",
		Data: map[string]string{"outcome": outcome}})
}

func closeMetrics(t *testing.T, m *metrics.Metrics) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// scrape serves /metrics through the API handler, without a token.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	api := web.NewAPI([]string{"t0ken"}, zerolog.Nop())
	web.RegisterMetrics(api, m.Handler())
	rec := httptest.NewRecorder()

	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))

	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200: %s", rec.Code, body)
	}
	return string(body)
}

// hasLine reports whether body has the line want.
func hasLine(body, want string) bool {
	for line := range strings.Lines(body) {
		if strings.TrimSuffix(line, "\n") == want {
			return true
		}
	}
	return false
}

// errStoreDown is the error of failingStore.
var errStoreDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

// failingStore is a queue store that cannot be reached.
type failingStore struct{ queue.Store }

func (failingStore) Waiting(context.Context, string) ([]queue.Caller, error) {
	return nil, errStoreDown
}

func (failingStore) Counselors(context.Context) ([]queue.Counselor, error) {
	return nil, errStoreDown
}

// blockingStore is a queue store that answers only when the context ends.
type blockingStore struct{ queue.Store }

func (blockingStore) Waiting(ctx context.Context, _ string) ([]queue.Caller, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
