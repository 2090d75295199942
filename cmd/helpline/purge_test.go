package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/records"
)

// purgeConfig writes a configuration whose records live in a new folder,
// with retentionDays, and returns its path and the database path.
func purgeConfig(t *testing.T, retentionDays string) (string, string) {
	t.Helper()
	t.Setenv("HELPLINE_RECORDS_KEY", "")
	dataDir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	yaml := "records:\n  data_dir: " + dataDir + "\n  allow_demo_key: true\n  retention_days: " + retentionDays + "\n" +
		"counselors:\n  - id: \"1001\"\n    password: secret-1001\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dataDir, "records.db")
}

// seedCalls stores a call that ended endedAgo ago for each entry, from a
// number, in the database at dbPath.
func seedCalls(t *testing.T, dbPath string, endedAgo map[string]time.Duration) {
	t.Helper()
	ctx := context.Background()
	store, err := records.Open(ctx, dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()
	for callID, ago := range endedAgo {
		ended := time.Now().Add(-ago)
		if err := store.Start(ctx, records.StartInfo{CallID: callID, CallerNumber: "01012345678", StartedAt: ended.Add(-time.Minute)}); err != nil {
			t.Fatalf("Start %s: %v", callID, err)
		}
		if err := store.Update(ctx, callID, records.Patch{EndedAt: &ended, Outcome: new(records.OutcomeAnswered)}); err != nil {
			t.Fatalf("Update %s: %v", callID, err)
		}
	}
}

// callerHash reads a call's lookup hash from the database at dbPath.
func callerHash(t *testing.T, dbPath, callID string) string {
	t.Helper()
	store, err := records.Open(context.Background(), dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()
	rec, err := store.Get(context.Background(), callID)
	if err != nil {
		t.Fatalf("Get %s: %v", callID, err)
	}
	return rec.CallerHash
}

func TestRecordsPurgeCommand(t *testing.T) {
	tests := []struct {
		name      string
		retention string
		args      []string
	}{
		{"retention from config", "30", nil},
		{"days from flag", "0", []string{"--older-than-days", "30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configPath, dbPath := purgeConfig(t, tt.retention)
			seedCalls(t, dbPath, map[string]time.Duration{"old": 40 * 24 * time.Hour, "recent": 24 * time.Hour})

			var stdout, stderr bytes.Buffer
			args := append([]string{"records", "purge", "--config", configPath}, tt.args...)
			if code := run(args, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit status = %d, want 0\n%s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), ": 1 calls, 0 wrap-ups, 0 follow-ups, 0 callbacks") {
				t.Errorf("output = %q, want the counts", stdout.String())
			}
			if !strings.Contains(stderr.String(), `"message":"records purged"`) || !strings.Contains(stderr.String(), `"calls":1`) {
				t.Errorf("log = %q, want one line with the counts", stderr.String())
			}
			if callerHash(t, dbPath, "old") != "" {
				t.Error("the old call kept its number")
			}
			if callerHash(t, dbPath, "recent") == "" {
				t.Error("the recent call lost its number")
			}
			entries := auditActions(t, dbPath)
			if len(entries) != 1 || entries[0].Action != "records_purged" {
				t.Fatalf("audit log = %+v, want one records_purged entry", entries)
			}
			if entries[0].User != cliUser() || entries[0].Role != "cli" || entries[0].Source != "command line" {
				t.Errorf("audit entry = %+v, want user %s, role cli, source command line", entries[0], cliUser())
			}
		})
	}
}

func TestRecordsPurgeRejectsNoRetention(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"retention 0 and no flag", nil, "nothing to purge: records.retention_days is 0"},
		{"flag 0", []string{"--older-than-days", "0"}, "--older-than-days 0: use a number of days of at least 1"},
		{"negative flag", []string{"--older-than-days", "-3"}, "--older-than-days -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configPath, dbPath := purgeConfig(t, "0")
			seedCalls(t, dbPath, map[string]time.Duration{"old": 400 * 24 * time.Hour})

			var stdout, stderr bytes.Buffer
			args := append([]string{"records", "purge", "--config", configPath}, tt.args...)
			if code := run(args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit status = %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("error output lacks %q:\n%s", tt.want, stderr.String())
			}
			if callerHash(t, dbPath, "old") == "" {
				t.Error("the call lost its number although the command was rejected")
			}
		})
	}
}

func TestRecordsPurgeRejectsNegativeRetention(t *testing.T) {
	configPath, _ := purgeConfig(t, "-1")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"records", "purge", "--config", configPath}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "records.retention_days: -1 is negative") {
		t.Errorf("error output lacks the key and value:\n%s", stderr.String())
	}
}

func TestNextPurge(t *testing.T) {
	kst := time.FixedZone("KST", 9*60*60)
	tests := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"later today", time.Date(2026, 12, 5, 1, 0, 0, 0, kst), time.Date(2026, 12, 5, 3, 30, 0, 0, kst)},
		{"at the time", time.Date(2026, 12, 5, 3, 30, 0, 0, kst), time.Date(2026, 12, 6, 3, 30, 0, 0, kst)},
		{"after the time", time.Date(2026, 12, 31, 22, 0, 0, 0, kst), time.Date(2027, 1, 1, 3, 30, 0, 0, kst)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextPurge(tt.now, 3, 30); !got.Equal(tt.want) {
				t.Errorf("nextPurge(%s) = %s, want %s", tt.now, got, tt.want)
			}
		})
	}
}

// fakePurger counts purge runs and returns result or err.
type fakePurger struct {
	cutoffs []time.Time
	result  records.PurgeResult
	err     error
}

func (p *fakePurger) Purge(_ context.Context, olderThan time.Time) (records.PurgeResult, error) {
	p.cutoffs = append(p.cutoffs, olderThan)
	return p.result, p.err
}

func TestPurgeJobLogsAndCallsHook(t *testing.T) {
	now := time.Date(2026, 12, 5, 3, 30, 0, 0, time.UTC)
	store := &fakePurger{result: records.PurgeResult{Calls: 2, WrapUps: 1}}
	var log bytes.Buffer
	var hooked []records.PurgeResult
	job := purgeJob{store: store, days: 7, log: zerolog.New(&log), now: func() time.Time { return now },
		hook: func(_ context.Context, r records.PurgeResult, _ time.Time) { hooked = append(hooked, r) }}

	if _, _, err := job.runOnce(context.Background()); err != nil {
		t.Fatalf("runOnce: %v", err)
	}
	if len(store.cutoffs) != 1 || !store.cutoffs[0].Equal(now.AddDate(0, 0, -7)) {
		t.Errorf("cutoffs = %v, want one 7 days back", store.cutoffs)
	}
	if len(hooked) != 1 || hooked[0] != store.result {
		t.Errorf("hook calls = %+v, want one with the result", hooked)
	}
	if lines := strings.Count(log.String(), "\n"); lines != 1 || !strings.Contains(log.String(), `"calls":2`) {
		t.Errorf("log = %q, want one line with the counts", log.String())
	}

	store.err = errors.New("disk full")
	log.Reset()
	if _, _, err := job.runOnce(context.Background()); err == nil {
		t.Error("runOnce with a failing store returned no error")
	}
	if len(hooked) != 1 {
		t.Errorf("hook called after a failed run")
	}
	if !strings.Contains(log.String(), "records purge failed") {
		t.Errorf("log = %q, want the failure", log.String())
	}
}
