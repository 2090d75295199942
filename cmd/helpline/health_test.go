package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/web"
)

// reportingStore is a queue store whose Ready fails while down is set.
type reportingStore struct {
	*queue.MemoryStore
	down atomic.Bool
}

func (s *reportingStore) Ready() error {
	if s.down.Load() {
		return errors.New("queue store unreachable: 1 callers held, 0 state changes waiting")
	}
	return nil
}

func TestHealthRoutesWithoutToken(t *testing.T) {
	cfg := &config.Config{API: config.API{
		Listen:  "127.0.0.1:0",
		Token:   "t0ken",
		Address: netip.MustParseAddrPort("127.0.0.1:0"),
	}}
	store := &reportingStore{MemoryStore: queue.NewMemoryStore()}
	var draining atomic.Bool
	api := newAPI(cfg, counselor.New(counselor.Config{Store: store}), zerolog.Nop())
	web.RegisterHealth(api, readyChecks(store, draining.Load)...)
	server, err := startAPI(cfg, api, zerolog.Nop())
	if err != nil {
		t.Fatalf("startAPI: %v", err)
	}
	t.Cleanup(server.stop)
	base := "http://" + server.listener.Addr().String()

	tests := []struct {
		name      string
		path      string
		storeDown bool
		draining  bool
		want      int
	}{
		{name: "healthz", path: "/healthz", want: http.StatusOK},
		{name: "healthz while draining", path: "/healthz", draining: true, want: http.StatusOK},
		{name: "ready", path: "/readyz", want: http.StatusOK},
		{name: "store not ready", path: "/readyz", storeDown: true, want: http.StatusServiceUnavailable},
		{name: "draining", path: "/readyz", draining: true, want: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.down.Store(tt.storeDown)
			draining.Store(tt.draining)

			status := getStatus(t, base+tt.path)

			if status != tt.want {
				t.Errorf("GET %s = %d, want %d", tt.path, status, tt.want)
			}
		})
	}
}

func TestMetricsWithoutToken(t *testing.T) {
	cfg := &config.Config{
		API: config.API{
			Listen:  "127.0.0.1:0",
			Token:   "t0ken",
			Address: netip.MustParseAddrPort("127.0.0.1:0"),
		},
		Queues: []config.QueueDef{{Name: "general"}},
	}
	store := queue.NewMemoryStore()
	bus := events.NewBus()
	api := newAPI(cfg, counselor.New(counselor.Config{Store: store}), zerolog.Nop())
	m := newMetrics(cfg, store, nil, zerolog.Nop())
	serveMetrics(m, api, bus)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	server, err := startAPI(cfg, api, zerolog.Nop())
	if err != nil {
		t.Fatalf("startAPI: %v", err)
	}
	t.Cleanup(server.stop)
	base := "http://" + server.listener.Addr().String()

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()

	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics without a token = %d, want 200", res.StatusCode)
	}
	if !strings.Contains(string(body), `helpline_callers_waiting{queue="general"} 0`) {
		t.Errorf("/metrics has no gauge of queue general:\n%s", body)
	}
	if !strings.Contains(string(body), `helpline_rtp_packets_lost_total{leg="caller"} 0`) {
		t.Errorf("/metrics has no RTP loss counter of the caller leg:\n%s", body)
	}
	if status := getStatus(t, base+"/api/v1/counselors"); status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/counselors without a token = %d, want 401", status)
	}
}

func TestReceptionObserverWithoutAPI(t *testing.T) {
	m := newMetrics(&config.Config{}, queue.NewMemoryStore(), nil, zerolog.Nop())

	if m != nil {
		t.Fatalf("newMetrics without an API = %v, want nil", m)
	}
	if observer := receptionObserver(m); observer != nil {
		t.Errorf("receptionObserver(nil) = %#v, want a nil interface", observer)
	}
}

func TestReadyChecksOfPlainStore(t *testing.T) {
	checks := readyChecks(queue.NewMemoryStore(), func() bool { return false })

	if len(checks) != 1 || checks[0].Name != "draining" {
		t.Errorf("checks = %+v, want only draining for a store without Ready", checks)
	}
}

func TestNewOutageBufferSize(t *testing.T) {
	inner := &reportingStore{MemoryStore: queue.NewMemoryStore()}
	buffered := newOutageBuffer(config.Cluster{BufferSize: 1, BufferMaxWait: time.Minute}, downStore{inner}, func() {}, zerolog.Nop())
	ctx := context.Background()

	if err := buffered.Enqueue(ctx, queue.Caller{CallID: "a", Queue: "general"}); err != nil {
		t.Fatalf("first Enqueue while down = %v, want nil", err)
	}
	err := buffered.Enqueue(ctx, queue.Caller{CallID: "b", Queue: "general"})
	if !errors.Is(err, queue.ErrBufferFull) {
		t.Errorf("second Enqueue with buffer_size 1 = %v, want ErrBufferFull", err)
	}
}

// downStore is a queue store whose Enqueue cannot reach it.
type downStore struct{ queue.Store }

func (downStore) Enqueue(context.Context, queue.Caller) error {
	return errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestRecordsCheckReportsClosedDatabase(t *testing.T) {
	store, err := records.Open(context.Background(), filepath.Join(t.TempDir(), "records.db"), records.DemoKey())
	if err != nil {
		t.Fatalf("open records: %v", err)
	}
	check := recordsCheck(store, nil)
	if err := check.Check(); err != nil {
		t.Errorf("check of an open database = %v, want nil", err)
	}

	_ = store.Close()
	if err := check.Check(); !errors.Is(err, errRecordsUnreachable) {
		t.Errorf("check of a closed database = %v, want errRecordsUnreachable", err)
	}
}

// failingRecords is a records store whose every write fails as a full
// disk's would.
type failingRecords struct{}

var errNoSpace = errors.New("database or disk is full (13)")

func (failingRecords) Start(context.Context, records.StartInfo) error      { return errNoSpace }
func (failingRecords) Update(context.Context, string, records.Patch) error { return errNoSpace }
func (failingRecords) AppendEvents(context.Context, []events.Event) error  { return errNoSpace }
func (failingRecords) Get(context.Context, string) (records.Record, error) {
	return records.Record{}, errNoSpace
}

func TestRecordsCheckReportsHeldRecords(t *testing.T) {
	store, err := records.Open(context.Background(), filepath.Join(t.TempDir(), "records.db"), records.DemoKey())
	if err != nil {
		t.Fatalf("open records: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	spool := records.NewSpool(failingRecords{}, records.SpoolConfig{MaxRecords: 10})
	check := recordsCheck(store, spool)
	if err := check.Check(); err != nil {
		t.Errorf("check before any failed write = %v, want nil", err)
	}

	if err := spool.Start(context.Background(), records.StartInfo{CallID: "a"}); err != nil {
		t.Fatalf("Start on a failing store = %v, want nil (held)", err)
	}
	err = check.Check()
	var held spooledError
	if !errors.As(err, &held) {
		t.Fatalf("check while records are held = %v, want spooledError", err)
	}
	if held.stats.Depth != 1 || !strings.Contains(err.Error(), "1 of 10") {
		t.Errorf("reason = %q, want it to say 1 of 10 writes are held", err)
	}
}
