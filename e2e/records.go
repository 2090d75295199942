package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// Records export limits.
const (
	exportTimeout = 30 * time.Second
	// recordPollInterval is how often WaitRecord runs the export again:
	// the records database offers no event to wait on.
	recordPollInterval = 250 * time.Millisecond
)

// ExportOptions selects what `helpline records export` prints.
type ExportOptions struct {
	// Since adds --since in RFC 3339 form when not zero.
	Since time.Time
	// Reveal adds --reveal, which prints caller numbers unmasked.
	Reveal bool
}

// Records runs `helpline records export --config PATH --format jsonl`
// against this server's configuration and returns one map per call record.
func (s *Server) Records(t testing.TB) []map[string]any {
	t.Helper()
	return s.ExportRecords(t, ExportOptions{})
}

// ExportRecords runs the records export with opts and returns the records.
func (s *Server) ExportRecords(t testing.TB, opts ExportOptions) []map[string]any {
	t.Helper()

	records, err := s.exportRecords(opts)
	if err != nil {
		t.Fatalf("exporting call records: %v", err)
	}
	return records
}

func (s *Server) exportRecords(opts ExportOptions) ([]map[string]any, error) {
	args := []string{"records", "export", "--config", s.ConfigPath, "--format", "jsonl"}
	if !opts.Since.IsZero() {
		args = append(args, "--since", opts.Since.Format(time.RFC3339))
	}
	if opts.Reveal {
		args = append(args, "--reveal")
	}

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

	return parseJSONLines(stdout.Bytes())
}

// parseJSONLines decodes one JSON object per non-empty line.
func parseJSONLines(data []byte) ([]map[string]any, error) {
	var records []map[string]any
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for line := 1; scanner.Scan(); line++ {
		text := bytes.TrimSpace(scanner.Bytes())
		if len(text) == 0 {
			continue
		}
		var record map[string]any
		if err := json.Unmarshal(text, &record); err != nil {
			return nil, fmt.Errorf("decoding export line %d %q: %w", line, text, err)
		}
		records = append(records, record)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("reading the export output: %w", err)
	}
	return records, nil
}

// WaitRecord runs the export until a record matches and returns it; it
// fails the test after timeout. Use RecordWithCallID for the common case.
func (s *Server) WaitRecord(t testing.TB, match func(record map[string]any) bool, timeout time.Duration) map[string]any {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		records, err := s.exportRecords(ExportOptions{})
		if err == nil {
			for _, record := range records {
				if match(record) {
					return record
				}
			}
		}

		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("waiting %s for a call record: last export failed: %v", timeout, err)
			}
			t.Fatalf("waiting %s for a call record: none of the %d records matched: %v", timeout, len(records), records)
		}
		time.Sleep(recordPollInterval)
	}
}

// RecordWithCallID matches the record of the call with this Call-ID.
func RecordWithCallID(callID string) func(map[string]any) bool {
	return func(record map[string]any) bool {
		return record["call_id"] == callID
	}
}
