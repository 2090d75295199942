package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// eventPollInterval is how often WaitEvents lists the events again: the
// server writes them to the records database a moment after they happen.
const eventPollInterval = 250 * time.Millisecond

// Events runs `helpline records events --config PATH --format jsonl`
// against this server's configuration and returns one map per event,
// oldest first.
func (s *Server) Events(t testing.TB) []map[string]any {
	t.Helper()
	list, err := s.listEvents("jsonl")
	if err != nil {
		t.Fatalf("listing events: %v", err)
	}
	return list
}

// EventsText runs `helpline records events` in its text format and returns
// the output.
func (s *Server) EventsText(t testing.TB) string {
	t.Helper()
	out, err := s.runRecordsEvents("text")
	if err != nil {
		t.Fatalf("listing events as text: %v", err)
	}
	return string(out)
}

// WaitEvents lists the events until done returns true for the list and
// returns that list. It fails the test after timeout.
func (s *Server) WaitEvents(t testing.TB, done func(list []map[string]any) bool, timeout time.Duration) []map[string]any {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		list, err := s.listEvents("jsonl")
		if err == nil && done(list) {
			return list
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("waiting %s for events: last listing failed: %v", timeout, err)
			}
			t.Fatalf("waiting %s for events: the %d events do not match yet: %v", timeout, len(list), list)
		}
		time.Sleep(eventPollInterval)
	}
}

func (s *Server) listEvents(format string) ([]map[string]any, error) {
	out, err := s.runRecordsEvents(format)
	if err != nil {
		return nil, err
	}
	return parseJSONLines(out)
}

func (s *Server) runRecordsEvents(format string) ([]byte, error) {
	args := []string{"records", "events", "--config", s.ConfigPath, "--format", format}
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()

	cmd := s.recordsCommand(ctx, args)
	cmd.Env = s.env
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helpline %v: %w\nstderr:\n%s", args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}
