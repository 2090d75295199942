package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"helpline/events"
)

// followUpEventDeadline is how long a test waits for a follow-up stream
// event that should come at once or right after a bus event.
const followUpEventDeadline = 5 * time.Second

// openFollowUpStream opens GET path on a test server of f and returns the
// data of its "followups" events as they arrive.
func openFollowUpStream(t *testing.T, f *followUpFixture, path string) <-chan followUpSnapshot {
	t.Helper()
	server := httptest.NewServer(f.api)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		server.Close()
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server.URL+path, nil)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := server.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		t.Fatalf("GET %s status = %d, want 200", path, res.StatusCode)
	}

	snapshots := make(chan followUpSnapshot, 16)
	go func() {
		defer close(snapshots)
		defer res.Body.Close()
		scanner := bufio.NewScanner(res.Body)
		scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
		name := ""
		for scanner.Scan() {
			line := scanner.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "followups":
				var s followUpSnapshot
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &s) == nil {
					snapshots <- s
				}
			case line == "":
				name = ""
			}
		}
	}()
	return snapshots
}

// nextSnapshot returns the next follow-up snapshot within the deadline.
func nextSnapshot(t *testing.T, snapshots <-chan followUpSnapshot) followUpSnapshot {
	t.Helper()
	select {
	case s, ok := <-snapshots:
		if !ok {
			t.Fatal("follow-up stream ended")
		}
		return s
	case <-time.After(followUpEventDeadline):
		t.Fatalf("no followups event within %s", followUpEventDeadline)
	}
	return followUpSnapshot{}
}

// busRecorder is a FollowUpEvents that records what is published.
type busRecorder struct {
	*events.Bus
	published chan events.Event
}

func (b busRecorder) Publish(e events.Event) {
	b.published <- e
	b.Bus.Publish(e)
}

func TestFollowUpStreamFollowsChanges(t *testing.T) {
	bus := busRecorder{Bus: events.NewBus(), published: make(chan events.Event, 16)}
	f := newFollowUpFixture(t, func(deps *FollowUpDeps) { deps.Events = bus })
	snapshots := openFollowUpStream(t, f, "/api/v1/followups/stream?state=open&kind=home_visit")

	first := nextSnapshot(t, snapshots)
	if len(first.FollowUps) != 0 {
		t.Fatalf("first snapshot = %+v, want no task", first.FollowUps)
	}

	id := f.saveHomeVisit(t, "call-1", homeVisitBody)
	created := <-bus.published
	if created.Type != events.FollowUpChanged || created.Data["followup_id"] != id || created.Data["change"] != FollowUpCreated {
		t.Errorf("event after the wrap-up = %+v, want followup_changed created of %s", created, id)
	}
	after := nextSnapshot(t, snapshots)
	if len(after.FollowUps) != 1 || after.FollowUps[0].ID != id {
		t.Fatalf("snapshot after the wrap-up = %+v, want task %s", after.FollowUps, id)
	}

	if rec := f.do(t, http.MethodPost, "/api/v1/followups/"+id+"/close", `{"outcome":"visited on 010-1234-5678"}`); rec.Code != http.StatusOK {
		t.Fatalf("close = %d %s", rec.Code, rec.Body)
	}
	closed := <-bus.published
	if closed.Data["change"] != FollowUpClosed || closed.Data["kind"] != "home_visit" {
		t.Errorf("event after closing = %+v, want change closed and kind home_visit", closed)
	}
	for key, value := range closed.Data {
		if strings.Contains(value, "010") {
			t.Errorf("event data %s = %q holds the outcome text", key, value)
		}
	}
	if got := nextSnapshot(t, snapshots); len(got.FollowUps) != 0 {
		t.Errorf("snapshot after closing = %+v, want the open filter to drop the task", got.FollowUps)
	}
}

func TestFollowUpStreamRejectsBadFilter(t *testing.T) {
	f := newFollowUpFixture(t)
	rec := f.do(t, http.MethodGet, "/api/v1/followups/stream?risk=severe", "")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `risk`) {
		t.Errorf("stream with a bad filter = %d %s, want 400 naming risk", rec.Code, rec.Body)
	}
}
