package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadConfigExitsWithStatus2(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "port out of range",
			yaml: "rtp:\n  port_min: 70000\n",
			want: []string{"rtp.port_min", "70000"},
		},
		{
			name: "branch to nowhere",
			yaml: "ivr:\n  nodes:\n    welcome:\n      play: [welcome]\n      next: nowhere\n",
			want: []string{"ivr.nodes.welcome.next", "nowhere"},
		},
		{
			name: "unknown key",
			yaml: "queue:\n  ring_timout: 10s\n",
			want: []string{"queue.ring_timout"},
		},
		{
			name: "missing prompt file",
			yaml: "ivr:\n  nodes:\n    welcome:\n      play: [no_such_prompt]\n      hangup: true\n",
			want: []string{"no_such_prompt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "helpline.yaml")
			yaml := tt.yaml + "records:\n  data_dir: " + filepath.Join(t.TempDir(), "data") + "\n  allow_demo_key: true\n" +
				"counselors:\n  - id: \"1001\"\n    password: secret-1001\n"
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}

			var stdout, stderr bytes.Buffer
			code := run([]string{"serve", "--config", path}, &stdout, &stderr)

			if code != exitUsage {
				t.Errorf("exit status = %d, want %d\n%s", code, exitUsage, stderr.String())
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("error output lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}

func TestUnknownCommandExitsWithStatus2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serv"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), `unknown command "serv"`) {
		t.Errorf("error output lacks the unknown command:\n%s", stderr.String())
	}
}

func TestExportRejectsBadFormat(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"records", "export", "--format", "xml"}, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), `--format "xml"`) {
		t.Errorf("error output lacks the bad format:\n%s", stderr.String())
	}
}

func TestMissingRecordsKeyExitsWithStatus2(t *testing.T) {
	t.Setenv("HELPLINE_RECORDS_KEY", "")
	dataDir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	yaml := "records:\n  data_dir: " + dataDir + "\n  allow_demo_key: false\n" +
		"counselors:\n  - id: \"1001\"\n    password: secret-1001\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--config", path}, &stdout, &stderr)

	if code != exitUsage {
		t.Errorf("exit status = %d, want %d\n%s", code, exitUsage, stderr.String())
	}
	if !strings.Contains(stderr.String(), "HELPLINE_RECORDS_KEY") {
		t.Errorf("error output does not say where the key goes:\n%s", stderr.String())
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Errorf("the server created %s although it did not start", dataDir)
	}
}

func TestUsageErrorIsLastLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"purge flag", []string{"records", "purge", "--older-than-days", "x"}, "records purge"},
		{"hash-password argument", []string{"web", "hash-password", "secret"}, "takes no arguments"},
		{"records without subcommand", []string{"records"}, "records needs a subcommand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit status = %d, want %d", code, exitUsage)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("stderr has %d lines, want the error and the help hint:\n%s", len(lines), stderr.String())
			}
			if !strings.HasPrefix(lines[0], "helpline: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("first line %q, want the error naming %q", lines[0], tt.want)
			}
			if lines[1] != usageHint {
				t.Errorf("last line %q, want %q", lines[1], usageHint)
			}
			if strings.Contains(stderr.String(), "Usage:") {
				t.Error("a usage error prints the whole usage text")
			}
		})
	}
}
