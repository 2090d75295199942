package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpline/events"
	"helpline/records"
)

// writeRecordsConfig writes a configuration whose records live in a new
// folder with the demo key, and returns its path and the database path.
func writeRecordsConfig(t *testing.T) (configPath, dbPath string) {
	t.Helper()
	t.Setenv("HELPLINE_RECORDS_KEY", "")
	dataDir := filepath.Join(t.TempDir(), "data")
	configPath = filepath.Join(t.TempDir(), "helpline.yaml")
	yaml := "records:\n  data_dir: " + dataDir + "\n  allow_demo_key: true\n" +
		"counselors:\n  - id: \"1001\"\n    password: secret-1001\n"
	if err := os.WriteFile(configPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return configPath, filepath.Join(dataDir, "records.db")
}

// storeEvents appends evs to the database at path.
func storeEvents(t *testing.T, path string, evs []events.Event) {
	t.Helper()
	store, err := records.Open(context.Background(), path, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	if err := store.AppendEvents(context.Background(), evs); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// sampleEvents returns one call's events an hour ago and one event now.
func sampleEvents() []events.Event {
	old := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	return []events.Event{
		{At: old, Type: events.CallerEntered, CallID: "call-1", Queue: "general", Data: map[string]string{"language": "ko"}},
		{At: old.Add(time.Second), Type: events.Offered, CallID: "call-1", CounselorID: "1001", Queue: "general"},
		{At: old.Add(2 * time.Second), Type: events.RingNoAnswer, CallID: "call-1", CounselorID: "1001", Queue: "general",
			Data: map[string]string{"outcome": "no_answer", "status": "487"}},
		{At: time.Now().UTC(), Type: events.CounselorState, CounselorID: "1002",
			Data: map[string]string{"from": "logged_out", "to": "available"}},
	}
}

func TestRecordsEventsText(t *testing.T) {
	configPath, dbPath := writeRecordsConfig(t)
	storeEvents(t, dbPath, sampleEvents())

	var stdout, stderr bytes.Buffer
	code := run([]string{"records", "events", "--config", configPath}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit status = %d, want 0\n%s", code, stderr.String())
	}

	t.Logf("text listing:\n%s", stdout.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), stdout.String())
	}
	wants := [][]string{
		{"1 ", "caller_entered", "call=call-1", "queue=general", "language=ko"},
		{"2 ", "offered", "call=call-1", "counselor=1001"},
		{"3 ", "ring_no_answer", "outcome=no_answer", "status=487"},
		{"4 ", "counselor_state", "counselor=1002", "from=logged_out", "to=available"},
	}
	for i, want := range wants {
		for _, part := range want {
			if !strings.Contains(lines[i], part) {
				t.Errorf("line %d %q lacks %q", i+1, lines[i], part)
			}
		}
	}
	if strings.Contains(lines[3], "call=") {
		t.Errorf("line 4 %q shows an empty call id", lines[3])
	}
}

func TestRecordsEventsJSONLSince(t *testing.T) {
	configPath, dbPath := writeRecordsConfig(t)
	storeEvents(t, dbPath, sampleEvents())

	var stdout, stderr bytes.Buffer
	code := run([]string{"records", "events", "--config", configPath, "--format", "jsonl", "--since", "10m"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit status = %d, want 0\n%s", code, stderr.String())
	}

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("--since 10m printed %d lines, want the 1 recent event:\n%s", len(lines), stdout.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, lines[0])
	}
	if got["type"] != "counselor_state" || got["counselor_id"] != "1002" || got["seq"] != float64(4) {
		t.Errorf("event = %v, want the counselor_state of 1002 with seq 4", got)
	}
	data, _ := got["data"].(map[string]any)
	if data["to"] != "available" {
		t.Errorf("data = %v, want to=available", got["data"])
	}
	if _, err := time.Parse(time.RFC3339Nano, got["at"].(string)); err != nil {
		t.Errorf("at %v is not RFC 3339: %v", got["at"], err)
	}
}

func TestRecordsEventsEmptyDatabase(t *testing.T) {
	configPath, dbPath := writeRecordsConfig(t)
	storeEvents(t, dbPath, nil)

	var stdout, stderr bytes.Buffer
	if code := run([]string{"records", "events", "--config", configPath}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit status = %d, want 0\n%s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("output = %q, want nothing", stdout.String())
	}
}

func TestRecordsEventsBadUsage(t *testing.T) {
	configPath, _ := writeRecordsConfig(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad format", []string{"--format", "csv"}, `--format "csv" is not supported: use text or jsonl`},
		{"bad since", []string{"--since", "yesterday"}, `--since "yesterday" is neither`},
		{"negative since", []string{"--since", "-1h"}, `--since "-1h"`},
		{"unknown flag", []string{"--reveal"}, "flag provided but not defined: -reveal"},
		{"extra argument", []string{"call-1"}, `unexpected argument "call-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"records", "events", "--config", configPath}, tt.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit status = %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("error output lacks %q:\n%s", tt.want, stderr.String())
			}
		})
	}
}

func TestRecordsEventsMissingDatabase(t *testing.T) {
	configPath, dbPath := writeRecordsConfig(t)

	var stdout, stderr bytes.Buffer
	if code := run([]string{"records", "events", "--config", configPath}, &stdout, &stderr); code != exitFailure {
		t.Errorf("exit status = %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr.String(), "no records database at "+dbPath) {
		t.Errorf("error output does not name the missing database:\n%s", stderr.String())
	}
	if _, err := os.Stat(dbPath); err == nil {
		t.Errorf("the command created %s", dbPath)
	}
}
