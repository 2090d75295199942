package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helpline/config"
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
