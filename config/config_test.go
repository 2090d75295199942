package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExampleLoadsWithoutProblems(t *testing.T) {
	cfg := mustLoad(t, "", nil)

	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", cfg.Warnings)
	}
	if cfg.Path != "" {
		t.Errorf("Path = %q, want empty for the embedded example", cfg.Path)
	}
	if !cfg.UsesDemoKey {
		t.Error("UsesDemoKey = false, want true: the example allows the demo key and sets none")
	}
	if got, want := cfg.DemoPasswordsInUse(), []string{"1001", "1002", "1003"}; !slices.Equal(got, want) {
		t.Errorf("DemoPasswordsInUse() = %v, want %v", got, want)
	}
}

func TestExampleValues(t *testing.T) {
	cfg := mustLoad(t, "", nil)
	loopback := netip.MustParseAddr("127.0.0.1")

	checks := []struct {
		name string
		got  any
		want any
	}{
		{"listeners", len(cfg.SIP.Listen), 2},
		{"first listener network", cfg.SIP.Listen[0].Network, "udp"},
		{"first listener address", cfg.SIP.Listen[0].Address, netip.AddrPortFrom(loopback, 5060)},
		{"second listener network", cfg.SIP.Listen[1].Network, "tcp"},
		{"public host from first listener", cfg.SIP.PublicHost, "127.0.0.1"},
		{"realm", cfg.SIP.Realm, "helpline"},
		{"min expires", cfg.SIP.MinExpires, time.Minute},
		{"max expires", cfg.SIP.MaxExpires, time.Hour},
		{"default expires", cfg.SIP.DefaultExpires, 10 * time.Minute},
		{"rtp address from public host", cfg.RTP.Address, loopback},
		{"rtp port min", cfg.RTP.PortMin, 20000},
		{"rtp port max", cfg.RTP.PortMax, 20999},
		{"media timeout", cfg.RTP.MediaTimeout, time.Minute},
		{"trusted sources", fmt.Sprint(cfg.Trunk.TrustedSources), "[127.0.0.0/8]"},
		{"numbers", fmt.Sprint(cfg.Trunk.Numbers), "[120]"},
		{"general service", cfg.Trunk.GeneralServiceURI, ""},
		{"counselors", len(cfg.Counselors), 3},
		{"first counselor password", cfg.Counselors[0].Password, "demo-1001"},
		{"queue name", cfg.Queues[0].Name, "loneliness_ko"},
		{"ring timeout", cfg.Queue.RingTimeout, 15 * time.Second},
		{"wrap up", cfg.Queue.WrapUp, 30 * time.Second},
		{"retry delay", cfg.Queue.RetryDelay, 5 * time.Second},
		{"announce interval", cfg.Queue.AnnounceInterval, 60 * time.Second},
		{"ivr start", cfg.IVR.Start, "welcome"},
		{"ivr language", cfg.IVR.DefaultLanguage, "ko"},
		{"ivr nodes", len(cfg.IVR.Nodes), 10},
		{"english queue", cfg.Queues[1].Name, "loneliness_en"},
		{"english queue strategy", cfg.Queues[1].Strategy, "skills"},
		{"english queue widening", cfg.Queues[1].WidenAfter, time.Minute},
		{"first counselor korean level", cfg.Counselors[0].Skills["ko"], 5},
		{"branch 0 priority", cfg.IVR.Nodes["who_for"].Branches["0"].Set["priority"], "high_risk"},
		{"welcome max digits", cfg.IVR.Nodes["welcome"].Collect.MaxDigits, 1},
		{"welcome first digit timeout", cfg.IVR.Nodes["welcome"].Collect.FirstDigitTimeout, 5 * time.Second},
		{"branch 9 language", cfg.IVR.Nodes["welcome"].Branches["9"].Set["language"], "en"},
		{"who_for timeout caller type", cfg.IVR.Nodes["who_for"].OnTimeout.Set["caller_type"], "self"},
		{"goodbye hangs up", cfg.IVR.Nodes["goodbye"].Hangup, true},
		{"records folder", cfg.Records.DataDir, "./data"},
		{"records file", cfg.Records.File, "records.db"},
		{"records key env", cfg.Records.KeyEnv, "HELPLINE_RECORDS_KEY"},
		{"allow demo key", cfg.Records.AllowDemoKey, true},
		{"retention days", cfg.Records.RetentionDays, 0},
		{"purge at", cfg.Records.PurgeAt, "03:30"},
		{"log level", cfg.Log.Level, "info"},
		{"log format", cfg.Log.Format, "auto"},
		{"drain timeout", cfg.Shutdown.DrainTimeout, 30 * time.Second},
		{"retry after", cfg.Shutdown.RetryAfter, time.Minute},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestExampleReturnsCopy(t *testing.T) {
	first := Example()
	first[0] = 'X'
	if second := Example(); bytes.Equal(first, second) {
		t.Error("changing the result of Example() changed the embedded file")
	}
}

// customConfig is a production-like file that leaves several sections
// out, so that their keys take the example's values.
const customConfig = `
sip:
  listen:
    - network: udp
      address: 0.0.0.0:5080
  public_host: sip.helpline.example
  realm: seoul-helpline
rtp:
  address: 192.0.2.10
  port_min: 30000
  port_max: 30999
trunk:
  trusted_sources: [192.0.2.0/24, 2001:db8::/32, 198.51.100.7]
  numbers: ["120", "+8220"]
  general_service_uri: sip:120@192.0.2.20
counselors:
  - id: kim
    name: Kim
    password_env: HELPLINE_TEST_PASSWORD_KIM
  - id: "2001"
    password: correct-horse-battery
queue:
  ring_timeout: 20s
ivr:
  start: main
  nodes:
    main:
      play: [welcome]
      collect:
        max_digits: 1
        first_digit_timeout: 5s
        inter_digit_timeout: 3s
        max_tries: 2
      branches:
        "1": { next: to_queue }
      on_fail: { next: to_queue }
    to_queue:
      queue: loneliness_ko
records:
  data_dir: /var/lib/helpline
  key_file: /etc/helpline/records.key
`

func TestLoadTempFile(t *testing.T) {
	path := writeConfig(t, customConfig)
	environ := []string{"HELPLINE_TEST_PASSWORD_KIM=from-env", "HOME=/root", "HELPLINE_API_TOKEN=api-secret"}
	cfg := mustLoad(t, path, environ)

	checks := []struct {
		name string
		got  any
		want any
	}{
		{"path", cfg.Path, path},
		{"listener", cfg.SIP.Listen[0].Address, netip.MustParseAddrPort("0.0.0.0:5080")},
		{"public host", cfg.SIP.PublicHost, "sip.helpline.example"},
		{"realm", cfg.SIP.Realm, "seoul-helpline"},
		{"user agent from example", cfg.SIP.UserAgent, "helpline"},
		{"min expires from example", cfg.SIP.MinExpires, time.Minute},
		{"rtp address", cfg.RTP.Address, netip.MustParseAddr("192.0.2.10")},
		{"media timeout from example", cfg.RTP.MediaTimeout, time.Minute},
		{"trusted sources", fmt.Sprint(cfg.Trunk.TrustedSources), "[192.0.2.0/24 2001:db8::/32 198.51.100.7/32]"},
		{"numbers", fmt.Sprint(cfg.Trunk.Numbers), "[120 +8220]"},
		{"general service", cfg.Trunk.GeneralServiceURI, "sip:120@192.0.2.20"},
		{"password from environment", cfg.Counselors[0].Password, "from-env"},
		{"password env kept", cfg.Counselors[0].PasswordEnv, "HELPLINE_TEST_PASSWORD_KIM"},
		{"second password", cfg.Counselors[1].Password, "correct-horse-battery"},
		{"ring timeout", cfg.Queue.RingTimeout, 20 * time.Second},
		{"wrap up from example", cfg.Queue.WrapUp, 30 * time.Second},
		{"queues from example", cfg.Queues[0].Name, "loneliness_ko"},
		{"ivr start", cfg.IVR.Start, "main"},
		{"menu replaced, not merged", len(cfg.IVR.Nodes), 2},
		{"language from example", cfg.IVR.DefaultLanguage, "ko"},
		{"hold music from example", cfg.IVR.HoldMusic, "hold_music"},
		{"records folder", cfg.Records.DataDir, "/var/lib/helpline"},
		{"records file from example", cfg.Records.File, "records.db"},
		{"demo key off when left out", cfg.Records.AllowDemoKey, false},
		{"no demo key", cfg.UsesDemoKey, false},
		{"log level from example", cfg.Log.Level, "info"},
		{"retry after from example", cfg.Shutdown.RetryAfter, time.Minute},
		{"api token from environment", cfg.API.Token, "api-secret"},
		{"api address from example", cfg.API.Address.String(), "127.0.0.1:8080"},
		{"demo token off when left out", cfg.API.UsesDemoToken, false},
		{"max missed from example", cfg.Queue.MaxMissed, 2},
		{"busy skip from example", cfg.Queue.BusySkip, 30 * time.Second},
		{"max wrap-up from example", cfg.Queue.MaxWrapUp, 5 * time.Minute},
		{"login code from example", cfg.Features.Login, "*21"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := cfg.DemoPasswordsInUse(); len(got) != 0 {
		t.Errorf("DemoPasswordsInUse() = %v, want none", got)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", cfg.Warnings)
	}
}

func TestLoadMinimalTestdata(t *testing.T) {
	cfg := mustLoad(t, filepath.Join("testdata", "minimal.yaml"), []string{"HELPLINE_RECORDS_KEY=set"})

	if got := len(cfg.IVR.Nodes); got != 10 {
		t.Errorf("nodes = %d, want the 10 nodes of the example menu", got)
	}
	if got, want := cfg.Counselors[0].ID, "7"; got != want {
		t.Errorf("counselor id = %q, want %q", got, want)
	}
	if cfg.UsesDemoKey {
		t.Error("UsesDemoKey = true, want false: the records key is set")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), nil)

	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("error %v wraps ErrInvalid, want only the file error", err)
	}
}

func TestLoadSyntaxError(t *testing.T) {
	path := writeConfig(t, "sip:\n  realm: [unclosed\n")

	_, err := Load(path, nil)

	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestDemoPasswordsInUse(t *testing.T) {
	cases := []struct {
		name       string
		counselors []Counselor
		want       []string
	}{
		{"none", nil, nil},
		{"demo password", []Counselor{{ID: "1001", Password: "demo-1001"}}, []string{"1001"}},
		{"other id's demo password", []Counselor{{ID: "1001", Password: "demo-1002"}}, nil},
		{"real password", []Counselor{{ID: "1001", Password: "s3cret"}}, nil},
		{"mixed", []Counselor{{ID: "a", Password: "demo-a"}, {ID: "b", Password: "x"}, {ID: "c", Password: "demo-c"}}, []string{"a", "c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := &Config{Counselors: c.counselors}
			if got := cfg.DemoPasswordsInUse(); !slices.Equal(got, c.want) {
				t.Errorf("DemoPasswordsInUse() = %v, want %v", got, c.want)
			}
		})
	}
}

func TestUsesDemoKey(t *testing.T) {
	cases := []struct {
		name    string
		edits   map[string]any
		environ []string
		want    bool
	}{
		{"example without key", nil, nil, true},
		{"key in environment", nil, []string{"HELPLINE_RECORDS_KEY=abc"}, false},
		{"empty key variable", nil, []string{"HELPLINE_RECORDS_KEY="}, true},
		{"key file", map[string]any{"records.key_file": "/run/key"}, nil, false},
		{"other key variable", map[string]any{"records.key_env": "MY_KEY"}, []string{"MY_KEY=abc"}, false},
		{"demo key not allowed", map[string]any{"records.allow_demo_key": false}, []string{"HELPLINE_RECORDS_KEY=abc"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := exampleTree(t)
			for path, value := range c.edits {
				setPath(t, tree, path, value)
			}
			cfg, err := loadTree(t, tree, c.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.UsesDemoKey != c.want {
				t.Errorf("UsesDemoKey = %v, want %v", cfg.UsesDemoKey, c.want)
			}
		})
	}
}

func TestPasswordsStayOutOfOutput(t *testing.T) {
	cfg := mustLoad(t, "", nil)

	if text := fmt.Sprintf("%+v", cfg); strings.Contains(text, "demo-1001") {
		t.Errorf("%%+v of Config shows a password: %s", text)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if strings.Contains(string(data), "demo-1001") {
		t.Errorf("JSON of Config shows a password: %s", data)
	}
}

func TestPasswordNeverInProblems(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "counselors.0.password_env", "HELPLINE_TEST_PW")

	_, err := loadTree(t, tree, []string{"HELPLINE_TEST_PW=value"})

	problem := findProblem(t, validationProblems(t, err), "counselors.0.password_env")
	if strings.Contains(err.Error(), "demo-1001") || strings.Contains(err.Error(), "=value") {
		t.Errorf("error shows a password: %v", err)
	}
	if problem.Value != `"HELPLINE_TEST_PW"` {
		t.Errorf("problem value = %s, want the variable name", problem.Value)
	}
}

func TestValidationErrorText(t *testing.T) {
	err := &ValidationError{Source: "a.yaml", Problems: []Problem{
		{Key: "rtp.port_min", Value: "70000", Message: "is out of range: use a port from 1024 to 65535"},
		{Key: "counselors", Message: "must list at least one counselor"},
		{Key: "queue.ring_timeout", Value: `"abc"`, Message: "is not a duration", EnvVar: "HELPLINE_QUEUE_RING_TIMEOUT"},
	}}

	want := `invalid configuration in a.yaml: 3 problem(s)
  rtp.port_min: 70000 is out of range: use a port from 1024 to 65535
  counselors: must list at least one counselor
  queue.ring_timeout (set by HELPLINE_QUEUE_RING_TIMEOUT): "abc" is not a duration`
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) = false")
	}
}

func TestProblemsInSectionOrder(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "shutdown.drain_timeout", "0s")
	setPath(t, tree, "log.level", "loud")
	setPath(t, tree, "sip.realm", "")
	setPath(t, tree, "rtp.port_min", "abc")

	_, err := loadTree(t, tree, nil)

	var keys []string
	for _, p := range validationProblems(t, err) {
		keys = append(keys, p.Key)
	}
	want := []string{"sip.realm", "rtp.port_min", "log.level", "shutdown.drain_timeout"}
	if !slices.Equal(keys, want) {
		t.Errorf("problem keys = %v, want %v", keys, want)
	}
}
