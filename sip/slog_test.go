package sip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A peer-triggered sipgo message passes once per interval. Other messages
// all pass, and no line keeps the attributes that carry SIP messages.
func TestSlogBridgeLimitsPeerTriggeredMessages(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(newSlogBridge(zerolog.New(&out)))

	for range 5 {
		logger.Error("failed to parse", "error", "bad header", "data", "INVITE sip:01012345678@example.org")
	}
	logger.Warn("connection pool not clean cleanup", "error", "closed")
	logger.Warn("connection pool not clean cleanup", "error", "closed")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if got := strings.Count(out.String(), `"failed to parse"`); got != 1 {
		t.Errorf("failed to parse logged %d times within the interval, want 1:\n%s", got, out.String())
	}
	if got := strings.Count(out.String(), "connection pool not clean cleanup"); got != 2 {
		t.Errorf("another warning logged %d times, want 2", got)
	}
	if strings.Contains(out.String(), "01012345678") {
		t.Errorf("the data attribute reached the log:\n%s", out.String())
	}
	if len(lines) != 3 {
		t.Errorf("got %d lines, want 3:\n%s", len(lines), out.String())
	}
}

// After the interval the next line reports how many were held back.
func TestSlogBridgeCountsSuppressed(t *testing.T) {
	var out bytes.Buffer
	bridge := newSlogBridge(zerolog.New(&out)).(*slogBridge)
	start := time.Unix(1000, 0)
	for i := range 4 {
		record := slog.NewRecord(start.Add(time.Duration(i)*100*time.Millisecond), slog.LevelError, "failed to parse", 0)
		if err := bridge.Handle(t.Context(), record); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	record := slog.NewRecord(start.Add(peerLogInterval), slog.LevelError, "failed to parse", 0)
	if err := bridge.WithAttrs(nil).Handle(t.Context(), record); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if !strings.Contains(out.String(), `"suppressed":3`) {
		t.Errorf("the line after the interval does not count 3 held back:\n%s", out.String())
	}
}
