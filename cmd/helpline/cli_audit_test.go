package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"helpline/records"
)

// auditActions reads the audit log of the database at dbPath.
func auditActions(t *testing.T, dbPath string) []records.AuditEntry {
	t.Helper()
	store, err := records.Open(context.Background(), dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()
	entries, err := store.ListAudit(context.Background(), 100)
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	return entries
}

func TestRevealedExportIsAudited(t *testing.T) {
	tests := []struct {
		command string
		args    []string
	}{
		{"records export", []string{"records", "export", "--reveal"}},
		{"records callbacks", []string{"records", "callbacks", "--reveal"}},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			configPath, dbPath := purgeConfig(t, "0")
			seedCalls(t, dbPath, map[string]time.Duration{"call-1": time.Hour})

			var stdout, stderr bytes.Buffer
			if code := run(append(tt.args, "--config", configPath), &stdout, &stderr); code != exitOK {
				t.Fatalf("%v = exit %d: %s", tt.args, code, stderr.String())
			}
			entries := auditActions(t, dbPath)
			if len(entries) != 1 {
				t.Fatalf("audit log has %d entries, want 1: %+v", len(entries), entries)
			}
			if entries[0].Action != "reveal_number" || entries[0].Target != tt.command {
				t.Errorf("audit entry = %+v, want reveal_number of %s", entries[0], tt.command)
			}
		})
	}
}

func TestMaskedExportIsNotAudited(t *testing.T) {
	configPath, dbPath := purgeConfig(t, "0")
	seedCalls(t, dbPath, map[string]time.Duration{"call-1": time.Hour})

	var stdout, stderr bytes.Buffer
	if code := run([]string{"records", "export", "--config", configPath}, &stdout, &stderr); code != exitOK {
		t.Fatalf("records export = exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "01012345678") {
		t.Errorf("masked export prints the full number: %s", stdout.String())
	}
	if entries := auditActions(t, dbPath); len(entries) != 0 {
		t.Errorf("masked export wrote %d audit entries, want none", len(entries))
	}
}
