package web_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"helpline/events"
	"helpline/queue"
)

const (
	// eventDeadline is how long a test waits for a stream event that the
	// stream should send at once.
	eventDeadline = 5 * time.Second
	// afterEventDeadline is how soon a stream must send a snapshot after
	// a bus event, well under the 5-second refresh.
	afterEventDeadline = time.Second
	// refreshDeadline is how long a test waits for the refresh snapshot
	// that comes every 5 seconds.
	refreshDeadline = 10 * time.Second
)

// sseEvent is one block of a Server-Sent Events stream.
type sseEvent struct {
	name    string
	data    string
	retry   string
	comment string
}

// openStream opens an event stream and returns its blocks as they arrive.
// The channel closes when the stream ends.
func (f *boardFixture) openStream(t *testing.T, path string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.server.URL+path, nil)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		t.Fatalf("GET %s status = %d, want 200", path, res.StatusCode)
	}
	if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/event-stream") {
		t.Errorf("Content-Type = %q, want text/event-stream", got)
	}

	blocks := make(chan sseEvent, 64)
	go func() {
		defer close(blocks)
		defer res.Body.Close()
		scanner := bufio.NewScanner(res.Body)
		scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var block sseEvent
		for scanner.Scan() {
			line := scanner.Text()
			switch {
			case line == "":
				blocks <- block
				block = sseEvent{}
			case strings.HasPrefix(line, ":"):
				block.comment = line
			case strings.HasPrefix(line, "event: "):
				block.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				block.data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "retry: "):
				block.retry = strings.TrimPrefix(line, "retry: ")
			}
		}
	}()
	return blocks
}

// nextEvent returns the next block named name within deadline.
func nextEvent(t *testing.T, blocks <-chan sseEvent, name string, deadline time.Duration) sseEvent {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case block, ok := <-blocks:
			if !ok {
				t.Fatalf("stream ended while waiting for a %s event", name)
			}
			if block.name == name {
				return block
			}
		case <-timeout:
			t.Fatalf("no %s event within %s", name, deadline)
		}
	}
}

func TestBoardStreamSendsSnapshotAndFollowsBus(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	blocks := f.openStream(t, "/api/v1/board/stream")

	first := <-blocks
	if first.retry != "2000" {
		t.Errorf("first block = %+v, want retry: 2000", first)
	}
	snapshot := nextEvent(t, blocks, "board", eventDeadline)
	if strings.Contains(snapshot.data, "call-1") || !strings.Contains(snapshot.data, `"queues"`) {
		t.Fatalf("first snapshot = %s, want a board without call-1", snapshot.data)
	}

	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now()})
	f.bus.Publish(events.Event{Type: events.CallerEntered, CallID: "call-1", Queue: boardQueue})

	after := nextEvent(t, blocks, "board", afterEventDeadline)
	if !strings.Contains(after.data, `"call_id":"call-1"`) {
		t.Errorf("snapshot after the event = %s, want call-1 waiting", after.data)
	}
}

func TestBoardStreamRefreshesWithoutEvents(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	blocks := f.openStream(t, "/api/v1/board/stream")
	nextEvent(t, blocks, "board", eventDeadline)

	f.enqueue(t, queue.Caller{CallID: "quiet", EnqueuedAt: time.Now()})

	refreshed := nextEvent(t, blocks, "board", refreshDeadline)
	if !strings.Contains(refreshed.data, `"call_id":"quiet"`) {
		t.Errorf("refreshed snapshot = %s, want the caller queued without an event", refreshed.data)
	}
}

func TestConsoleStreamFollowsCounselor(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	blocks := f.openStream(t, "/api/v1/console/stream?counselor=1001")

	first := nextEvent(t, blocks, "console", eventDeadline)
	if !strings.Contains(first.data, `"state":"logged_out"`) {
		t.Fatalf("first snapshot = %s, want counselor 1001 logged out", first.data)
	}

	f.setState(t, "1001", queue.StateAvailable, "")
	f.bus.Publish(events.Event{Type: events.CounselorState, CounselorID: "1001",
		Data: map[string]string{"from": "logged_out", "to": "available"}})

	after := nextEvent(t, blocks, "console", afterEventDeadline)
	if !strings.Contains(after.data, `"state":"available"`) {
		t.Errorf("snapshot after the event = %s, want counselor 1001 available", after.data)
	}
}

func TestBoardStreamReportsStoreFailure(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now()})
	blocks := f.openStream(t, "/api/v1/board/stream")
	nextEvent(t, blocks, "board", eventDeadline)

	if err := f.records.Close(); err != nil {
		t.Fatalf("closing the records: %v", err)
	}
	f.bus.Publish(events.Event{Type: events.CallerEntered, CallID: "call-2", Queue: boardQueue})

	failed := nextEvent(t, blocks, "unavailable", eventDeadline)
	if !strings.Contains(failed.data, "did not answer") {
		t.Errorf("unavailable event data = %s, want the error message", failed.data)
	}
}

func TestStreamsEndOnShutdown(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	board := f.openStream(t, "/api/v1/board/stream")
	nextEvent(t, board, "board", eventDeadline)
	consoleStream := f.openStream(t, "/api/v1/console/stream?counselor=1001")
	nextEvent(t, consoleStream, "console", eventDeadline)

	ctx, cancel := context.WithTimeout(context.Background(), eventDeadline)
	defer cancel()
	if err := f.server.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with open streams: %v", err)
	}

	for name, blocks := range map[string]<-chan sseEvent{"board": board, "console": consoleStream} {
		waitClosed(t, name, blocks)
	}
}

// waitClosed waits until a stream's blocks end.
func waitClosed(t *testing.T, name string, blocks <-chan sseEvent) {
	t.Helper()
	timeout := time.After(eventDeadline)
	for {
		select {
		case _, ok := <-blocks:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("%s stream still open %s after shutdown", name, eventDeadline)
		}
	}
}
