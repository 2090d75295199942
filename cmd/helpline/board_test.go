package main

import (
	"bufio"
	"context"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/config"
	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/web"
)

// stopDeadline bounds the API's stop with a stream open. It is above the
// 5-second shutdown timeout, which a stream that kept Shutdown waiting
// would use up.
const stopDeadline = 10 * time.Second

func TestAPIStopsWithBoardStreamOpen(t *testing.T) {
	cfg := &config.Config{
		API:    config.API{Listen: "127.0.0.1:0", Token: "t0ken", Address: netip.MustParseAddrPort("127.0.0.1:0")},
		Queues: []config.QueueDef{{Name: "loneliness_ko"}},
	}
	q := queue.NewMemoryStore()
	bus := events.NewBus()
	states := counselor.New(counselor.Config{Store: q, Events: bus})
	store, err := records.Open(context.Background(), filepath.Join(t.TempDir(), "records.db"), records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	callbacks := callback.NewManager(callback.Config{Attempts: 1, Interval: time.Minute}, q, store)
	api := newAPI(cfg, states, zerolog.Nop())
	streams := web.NewStreams()
	registerBoard(cfg, api, streams, q, states, store, callbacks, bus, nil, zerolog.Nop())

	server, err := startAPI(cfg, api, zerolog.Nop(), streams.Close)
	if err != nil {
		t.Fatalf("startAPI: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+server.listener.Addr().String()+"/api/v1/board/stream", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	// The client's timeout ends the read of a stream that sends nothing.
	client := &http.Client{Timeout: 2 * stopDeadline}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET the board stream: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("board stream status = %d, want 200", res.StatusCode)
	}
	waitForLine(t, bufio.NewReader(res.Body), "event: board")

	stopped := make(chan struct{})
	started := time.Now()
	go func() {
		server.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(stopDeadline):
		t.Fatalf("the API did not stop within %s with a stream open", stopDeadline)
	}
	if elapsed := time.Since(started); elapsed >= apiShutdownTimeout {
		t.Errorf("stop took %s, want the streams closed before the %s shutdown timeout", elapsed, apiShutdownTimeout)
	}
}

// waitForLine reads until a line equal to want arrives.
func waitForLine(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before %q: %v", want, err)
		}
		if strings.TrimSpace(line) == want {
			return
		}
	}
}
