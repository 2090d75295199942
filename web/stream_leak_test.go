package web_test

import (
	"bufio"
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// leakDeadline is how long a test waits for the goroutines of closed
// streams to end.
const leakDeadline = 10 * time.Second

// openAndDrop opens an event stream, reads its first event and closes the
// connection, as a browser tab that goes away.
func (f *boardFixture) openAndDrop(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.server.URL+path, nil)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", path, res.StatusCode)
	}
	scanner := bufio.NewScanner(res.Body)
	scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for scanner.Scan() {
		if strings.HasPrefix(scanner.Text(), "data: ") {
			return
		}
	}
	t.Fatalf("stream %s ended before its first event: %v", path, scanner.Err())
}

func TestClosedStreamsLeaveNoGoroutines(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	f.openAndDrop(t, "/api/v1/board/stream")
	f.server.Client().CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	const streams = 50
	for i := range streams {
		path := "/api/v1/board/stream"
		if i%2 == 1 {
			path = "/api/v1/console/stream?counselor=1001"
		}
		f.openAndDrop(t, path)
	}
	f.server.Client().CloseIdleConnections()

	// Goroutines end asynchronously after the connections close, so the
	// test polls until the count is back near the baseline.
	const slack = 3
	deadline := time.Now().Add(leakDeadline)
	for runtime.NumGoroutine() > baseline+slack {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines %v after closing %d streams, baseline %d:\n%s",
				runtime.NumGoroutine(), leakDeadline, streams, baseline, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
