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

	"helpline/config"
	"helpline/events"
	"helpline/records"
)

func TestHeldRecordsDirs(t *testing.T) {
	cfg := &config.Config{}
	cfg.Records.DataDir = "/srv/helpline/data"
	dirs := heldRecordsDirs(cfg)
	if len(dirs) != 2 || dirs[0] != "/srv/helpline/helpline-held-records" {
		t.Fatalf("default fallback folders = %v, want helpline-held-records beside the data folder first", dirs)
	}
	if !strings.HasPrefix(dirs[1], filepath.Join(os.TempDir(), heldRecordsFolder)+string(filepath.Separator)) {
		t.Errorf("second fallback folder = %s, want one under the temporary folder", dirs[1])
	}

	other := &config.Config{}
	other.Records.DataDir = "/srv/other/data"
	if heldRecordsDirs(other)[1] == dirs[1] {
		t.Errorf("two records stores share the temporary fallback folder %s", dirs[1])
	}

	cfg.Records.Spool.FallbackDir = "/var/lib/helpline-held"
	if got := heldRecordsDirs(cfg)[0]; got != "/var/lib/helpline-held" {
		t.Errorf("fallback folder with records.spool.fallback_dir = %s, want it", got)
	}
}

func TestRecordsReplayCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"records", "replay"}, "records replay needs one file"},
		{"missing file", []string{"records", "replay", filepath.Join(t.TempDir(), "none.jsonl")}, "held records file"},
		{"loaded file", []string{"records", "replay", filepath.Join(t.TempDir(), "held.jsonl"+records.ReplayedSuffix)}, "was already loaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HELPLINE_RECORDS_DATA_DIR", t.TempDir())
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code == exitOK {
				t.Fatalf("exit code 0, want an error")
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.want)
			}
		})
	}
}

// unavailableStore is a records store whose writes all fail, as a full
// disk makes them.
type unavailableStore struct {
	*records.Store
}

var errStoreDown = errors.New("database or disk is full (13)")

func (unavailableStore) Start(context.Context, records.StartInfo) error      { return errStoreDown }
func (unavailableStore) Update(context.Context, string, records.Patch) error { return errStoreDown }
func (unavailableStore) AppendEvents(context.Context, []events.Event) error  { return errStoreDown }

// saveHeldCall holds one call's start in a spool whose store fails, and
// returns the fallback file its Close saves in dir.
func saveHeldCall(t *testing.T, dbPath, dir string) string {
	t.Helper()
	store, err := records.Open(context.Background(), dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()
	spool := records.NewSpool(unavailableStore{store}, records.SpoolConfig{RetryInterval: time.Millisecond, FallbackDirs: []string{dir}})
	if err := spool.Start(context.Background(), records.StartInfo{CallID: "held-1", CallerNumber: "01012345678"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = spool.Close(ctx)
	files, err := records.FindHeldFiles([]string{dir})
	if err != nil || len(files) != 1 {
		t.Fatalf("FindHeldFiles = %v, %v; want one file", files, err)
	}
	return files[0]
}

func TestRecordsReplayCommandLoadsFile(t *testing.T) {
	configPath, dbPath := writeRecordsConfig(t)
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		t.Fatal(err)
	}
	file := saveHeldCall(t, dbPath, t.TempDir())

	var stdout, stderr bytes.Buffer
	if code := run([]string{"records", "replay", "--config", configPath, file}, &stdout, &stderr); code != exitOK {
		t.Fatalf("records replay: exit %d, stderr %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "loaded 1 held writes") {
		t.Errorf("stdout = %q, want the count of loaded writes", stdout.String())
	}

	store, err := records.Open(context.Background(), dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()
	rec, err := store.Get(context.Background(), "held-1")
	if err != nil || rec.CallerNumber != "01012345678" {
		t.Errorf("replayed record = %+v, %v; want held-1 with its number", rec, err)
	}
	if _, err := os.Stat(file + records.ReplayedSuffix); err != nil {
		t.Errorf("replayed file not renamed: %v", err)
	}
}

func TestStartupReplaysBeforeMarkingInterrupted(t *testing.T) {
	dataDir := t.TempDir()
	dbPath := filepath.Join(dataDir, "records.db")
	heldDir := filepath.Join(t.TempDir(), "held")
	saveHeldCall(t, dbPath, heldDir)

	cfg := &config.Config{}
	cfg.Records.DataDir = dataDir
	cfg.Records.Spool.FallbackDir = heldDir
	store, err := records.Open(context.Background(), dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()

	replayHeldRecords(context.Background(), cfg, store, zerolog.Nop())
	interrupted := markRecordsInterrupted(context.Background(), store, zerolog.Nop())
	if len(interrupted) != 1 || interrupted[0].CallID != "held-1" {
		t.Fatalf("interrupted = %+v, want the held call", interrupted)
	}
	if interrupted[0].Outcome != records.OutcomeInterrupted {
		t.Errorf("held call outcome = %q, want interrupted", interrupted[0].Outcome)
	}
	if files, _ := records.FindHeldFiles(heldRecordsDirs(cfg)); len(files) != 0 {
		t.Errorf("fallback files left after the start-up: %v", files)
	}
}

// saveHeldEvents holds a batch of two events in a spool whose store
// fails, and returns the fallback file its Close saves in dir.
func saveHeldEvents(t *testing.T, dbPath, dir string) string {
	t.Helper()
	store, err := records.Open(context.Background(), dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()
	spool := records.NewSpool(unavailableStore{store}, records.SpoolConfig{RetryInterval: time.Millisecond, FallbackDirs: []string{dir}})
	now := time.Now()
	batch := []events.Event{{Type: events.CallEnded, CallID: "held-1", At: now}, {Type: events.CallEnded, CallID: "held-2", At: now}}
	if err := spool.AppendEvents(context.Background(), batch); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = spool.Close(ctx)
	files, err := records.FindHeldFiles([]string{dir})
	if err != nil || len(files) != 1 {
		t.Fatalf("FindHeldFiles = %v, %v; want one file", files, err)
	}
	return files[0]
}

func TestRecordsReplayCommandCopyAddsNoEvents(t *testing.T) {
	configPath, dbPath := writeRecordsConfig(t)
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		t.Fatal(err)
	}
	file := saveHeldEvents(t, dbPath, t.TempDir())
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{file, copyPath} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"records", "replay", "--config", configPath, path}, &stdout, &stderr); code != exitOK {
			t.Fatalf("records replay %s: exit %d, stderr %s", path, code, stderr.String())
		}
		if path == copyPath && !strings.Contains(stdout.String(), "2 events skipped") {
			t.Errorf("stdout of the copy's replay = %q, want 2 events skipped", stdout.String())
		}
	}

	store, err := records.Open(context.Background(), dbPath, records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	defer store.Close()
	evs, err := store.ListEvents(context.Background(), records.EventListOptions{})
	if err != nil || len(evs) != 2 {
		t.Errorf("stored events after replaying a file and its copy = %d, %v; want 2", len(evs), err)
	}
}
