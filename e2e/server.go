package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server start and stop limits.
const (
	DefaultReadyTimeout = 30 * time.Second
	// DefaultDrainTimeout replaces the example's 30 s shutdown.drain_timeout
	// so that a test's Stop does not wait for calls for long.
	DefaultDrainTimeout = "5s"
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL; it
	// must exceed shutdown.drain_timeout. A server whose configuration sets
	// a longer drain_timeout gets that timeout plus stopGraceMargin.
	stopGrace       = 40 * time.Second
	stopGraceMargin = 10 * time.Second
	// waitDelay bounds how long exec waits for output pipes after a child
	// exits.
	waitDelay = 5 * time.Second
)

// ReadyMessage is the log message the server writes once it listens.
const ReadyMessage = "helpline ready"

// RecordsKeyEnv is the environment variable that carries the records key.
const RecordsKeyEnv = "HELPLINE_RECORDS_KEY"

// envPrefix starts every environment variable that configures the server;
// the harness drops inherited ones so a developer's shell cannot change a test.
const envPrefix = "HELPLINE_"

// recordsKeyBytes is the length of the records key (AES-256).
const recordsKeyBytes = 32

// Output lines of the server that fail the test wherever they appear.
var fatalOutputMarkers = []string{"panic:", "fatal error:", "WARNING: DATA RACE"}

// ServerOptions adjusts one server started by StartServer.
type ServerOptions struct {
	// Mutate edits the configuration tree after the harness filled in
	// ports, folders and log settings (see SetConfig).
	Mutate func(cfg map[string]any)
	// Env holds extra KEY=VALUE environment entries; they override the
	// harness's own.
	Env []string
	// Binary is a prebuilt helpline binary. Empty: BuildServer.
	Binary string
	// ReadyTimeout bounds the wait for "helpline ready". Zero: 30 s.
	ReadyTimeout time.Duration
	// Host is the loopback address of the SIP listeners and of RTP, such
	// as 127.0.0.2 for the second node of a shared set. Empty: 127.0.0.1.
	// The API always listens on 127.0.0.1.
	Host string
	// RecordsKey is the base64 records key. Empty: a random key. Nodes
	// that share one records database must share the key too.
	RecordsKey string
	// SIPPort is the port of the SIP listeners. Zero: FreePort. A test
	// sets it when another process (a proxy's dispatcher list) must know
	// the port before the server starts.
	SIPPort int
	// Wrapper is a command line that starts the server, such as unshare
	// with a script: the binary and its arguments are appended to it. It
	// must exec the binary, so that the process's PID is the server's.
	// Empty runs the binary directly.
	Wrapper []string
}

// Server is a helpline process started by StartServer.
type Server struct {
	// ConfigPath is the configuration file the server runs with.
	ConfigPath string
	// Config is the configuration tree written to ConfigPath.
	Config map[string]any
	// DataDir is records.data_dir.
	DataDir string
	// Host is the loopback address of the SIP listeners and of RTP.
	Host string
	// SIPPort is the UDP and TCP port of the SIP listeners on Host.
	SIPPort int
	// RTP is the server's RTP port range.
	RTP PortRange
	// RecordsKey is the base64 records key passed in HELPLINE_RECORDS_KEY.
	RecordsKey string
	// APIPort is the port of the HTTP API on 127.0.0.1.
	APIPort int
	// APIToken is the API's bearer token, passed in HELPLINE_API_TOKEN.
	APIToken string

	binary  string
	wrapper []string
	env     []string
	proc    *process
	// recordsWrapper runs the records commands (see RunRecordsCommandsIn).
	recordsWrapper []string
	lines          *eventLog[string]
	logs           *eventLog[map[string]any]
	stdout         *lineWriter
	stderr         *lineWriter

	// stopGrace is how long Stop waits after SIGTERM: the package's
	// stopGrace, or longer for a long shutdown.drain_timeout.
	stopGrace time.Duration
	stopOnce  sync.Once
	stopCode  int
}

// StartServer writes a configuration derived from
// config/helpline.example.yaml (free SIP port for UDP and TCP, its own RTP
// range, data_dir in t.TempDir(), JSON logs at debug level, a random records
// key in HELPLINE_RECORDS_KEY), starts `helpline serve --config PATH` and
// waits for the "helpline ready" log line. t.Cleanup stops it.
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()

	binary := opts.Binary
	if binary == "" {
		binary = BuildServer(t)
	}

	s := &Server{binary: binary, wrapper: opts.Wrapper}
	s.configure(t, opts)
	s.start(t)

	readyTimeout := opts.ReadyTimeout
	if readyTimeout == 0 {
		readyTimeout = DefaultReadyTimeout
	}
	s.WaitLog(t, LogMessage(ReadyMessage), readyTimeout)
	return s
}

func (s *Server) configure(t testing.TB, opts ServerOptions) {
	t.Helper()

	dir := t.TempDir()
	s.Host = opts.Host
	if s.Host == "" {
		s.Host = Loopback
	}
	s.SIPPort = opts.SIPPort
	if s.SIPPort == 0 {
		s.SIPPort = FreePort(t)
	}
	s.RTP = FreePortRange(t, DefaultRTPPorts)
	s.DataDir = filepath.Join(dir, "data")
	s.ConfigPath = filepath.Join(dir, "helpline.yaml")
	s.RecordsKey = opts.RecordsKey
	if s.RecordsKey == "" {
		s.RecordsKey = newRecordsKey(t)
	}
	s.APIPort = FreePort(t)
	s.APIToken = newRecordsKey(t)

	cfg := LoadExampleConfig(t)
	address := net.JoinHostPort(s.Host, strconv.Itoa(s.SIPPort))
	settings := []struct {
		path  string
		value any
	}{
		{"sip.listen", []any{
			map[string]any{"network": "udp", "address": address},
			map[string]any{"network": "tcp", "address": address},
		}},
		{"sip.public_host", s.Host},
		{"rtp.address", s.Host},
		{"rtp.port_min", s.RTP.Min},
		{"rtp.port_max", s.RTP.Max},
		{"records.data_dir", s.DataDir},
		{"records.key_env", RecordsKeyEnv},
		{"records.key_file", ""},
		{"records.allow_demo_key", false},
		{"log.format", "json"},
		{"log.level", "debug"},
		{"shutdown.drain_timeout", DefaultDrainTimeout},
		{"api.listen", net.JoinHostPort(Loopback, strconv.Itoa(s.APIPort))},
		{"api.token_env", APITokenEnv},
		{"api.token", ""},
		{"api.allow_demo_token", false},
	}
	for _, setting := range settings {
		MustSetConfig(t, cfg, setting.path, setting.value)
	}
	if opts.Mutate != nil {
		opts.Mutate(cfg)
	}

	writeConfig(t, cfg, s.ConfigPath)
	s.Config = cfg
	s.stopGrace = stopGraceFor(cfg)
	s.env = serverEnv(RecordsKeyEnv+"="+s.RecordsKey, append([]string{APITokenEnv + "=" + s.APIToken}, opts.Env...))
}

// stopGraceFor returns how long Stop waits after SIGTERM for a server
// with configuration cfg: stopGrace, or shutdown.drain_timeout plus
// stopGraceMargin when that is longer.
func stopGraceFor(cfg map[string]any) time.Duration {
	value, _ := ConfigValue(cfg, "shutdown.drain_timeout").(string)
	drain, err := time.ParseDuration(value)
	if err != nil || drain+stopGraceMargin <= stopGrace {
		return stopGrace
	}
	return drain + stopGraceMargin
}

func newRecordsKey(t testing.TB) string {
	t.Helper()

	key := make([]byte, recordsKeyBytes)
	if _, err := rand.Read(key); err != nil {
		t.Fatalf("generating a records key: %v", err)
	}
	return base64.StdEncoding.EncodeToString(key)
}

// raceExitOptions turns off the race detector's 1 s pause at exit
// (atexit_sleep_ms), which a -race server binary would add to every Stop
// and every records export. Races still print "WARNING: DATA RACE".
const raceExitOptions = "GORACE=atexit_sleep_ms=0"

// serverEnv returns the inherited environment without HELPLINE_ variables,
// plus the given entries (later entries win).
func serverEnv(keyEntry string, extra []string) []string {
	var env []string
	for _, entry := range os.Environ() {
		if !strings.HasPrefix(entry, envPrefix) {
			env = append(env, entry)
		}
	}
	if raceEnabled && os.Getenv("GORACE") == "" {
		env = append(env, raceExitOptions)
	}
	env = append(env, keyEntry)
	return append(env, extra...)
}

func (s *Server) start(t testing.TB) {
	t.Helper()

	s.launch(t, "helpline output")
	t.Cleanup(func() {
		s.Stop(t)
		s.checkFatalOutput(t)
	})
}

// launch starts the server process with empty output logs. name labels
// its output in the tail printed when the test fails.
func (s *Server) launch(t testing.TB, name string) {
	t.Helper()

	s.lines = newEventLog[string]()
	s.logs = newEventLog[map[string]any]()
	s.stdout = &lineWriter{emit: s.addLine}
	s.stderr = &lineWriter{emit: s.addLine}

	args := []string{s.binary, "serve", "--config", s.ConfigPath}
	if len(s.wrapper) > 0 {
		args = append(append([]string(nil), s.wrapper...), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = s.env
	cmd.Stdout = s.stdout
	cmd.Stderr = s.stderr
	cmd.WaitDelay = waitDelay

	proc, err := startProcess("helpline", cmd)
	if err != nil {
		t.Fatalf("starting the server: %v", err)
	}
	s.proc = proc

	logTailOnFailure(t, name, s.lines.snapshot)
}

// Restart stops the server as Stop does, then starts it again with the
// same configuration, environment, ports and data folder, and waits for
// the "helpline ready" log line. It fails the test when the stop exits
// with a code other than 0 or the old output shows a panic or a race.
// Afterwards Logs, WaitLog and LogCount see only the new run's output.
func (s *Server) Restart(t testing.TB, readyTimeout time.Duration) {
	t.Helper()

	if code := s.Stop(t); code != 0 {
		t.Fatalf("server (pid %d) exited with code %d when stopped for a restart", s.proc.pid(), code)
	}
	s.checkFatalOutput(t)

	s.stopOnce = sync.Once{}
	s.stopCode = 0
	s.launch(t, "helpline output after the restart")
	s.WaitLog(t, LogMessage(ReadyMessage), readyTimeout)
}

// addLine records one output line, and its JSON object when it is one.
func (s *Server) addLine(line string) {
	s.lines.add(line)

	var entry map[string]any
	if json.Unmarshal([]byte(line), &entry) == nil && entry != nil {
		s.logs.add(entry)
	}
}

func (s *Server) checkFatalOutput(t testing.TB) {
	t.Helper()

	for _, line := range s.lines.snapshot() {
		for _, marker := range fatalOutputMarkers {
			if strings.Contains(line, marker) {
				t.Errorf("server output contains %q: %s", marker, line)
			}
		}
	}
}

// Addr returns the SIP address, Host:port, for UDP and TCP.
func (s *Server) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.SIPPort))
}

// Logs returns the JSON log entries written so far.
func (s *Server) Logs() []map[string]any {
	return s.logs.snapshot()
}

// OutputLines returns every output line so far, JSON or not.
func (s *Server) OutputLines() []string {
	return s.lines.snapshot()
}

// WaitLog waits for a JSON log entry that matches, looking at the entries
// written since the start, and returns it. It fails the test on timeout or
// when the server exits first.
func (s *Server) WaitLog(t testing.TB, match func(entry map[string]any) bool, timeout time.Duration) map[string]any {
	t.Helper()

	entry, _, err := s.logs.wait(0, match, timeout, s.proc.exited)
	if err != nil {
		code, _ := s.proc.result()
		if s.proc.running() {
			t.Fatalf("waiting for a server log entry: %v", err)
		}
		t.Fatalf("waiting for a server log entry: %v (exit code %d)", err, code)
	}
	return entry
}

// Stop sends SIGTERM, waits for the drain (SIGKILL after 40 s, or after
// shutdown.drain_timeout plus 10 s when that is longer, which fails the
// test) and returns the exit code. Later calls return the same code.
func (s *Server) Stop(t testing.TB) int {
	t.Helper()

	s.stopOnce.Do(func() {
		code, killed := s.proc.stop(syscall.SIGTERM, s.stopGrace)
		s.stdout.Close()
		s.stderr.Close()
		if killed {
			t.Errorf("server (pid %d) ignored SIGTERM for %s and was killed", s.proc.pid(), s.stopGrace)
		}
		s.stopCode = code
	})
	return s.stopCode
}

// Terminate sends SIGTERM and returns at once, so that a test can watch
// the drain. WaitExit collects the exit code.
func (s *Server) Terminate() {
	s.proc.signal(syscall.SIGTERM)
}

// WaitExit waits until the server exits on its own and returns the exit
// code. It fails the test when the server still runs after timeout. Stop
// afterwards returns the same code.
func (s *Server) WaitExit(t testing.TB, timeout time.Duration) int {
	t.Helper()

	if !s.proc.exitsWithin(timeout) {
		t.Fatalf("server (pid %d) did not exit within %s", s.proc.pid(), timeout)
	}
	s.stopOnce.Do(func() {
		s.stdout.Close()
		s.stderr.Close()
		s.stopCode, _ = s.proc.result()
	})
	return s.stopCode
}

// Kill ends the server at once with SIGKILL to its PID, as a crash or a
// power cut would, and waits for the exit. The server gets no chance to
// drain or to close its records. Stop afterwards returns the same code.
func (s *Server) Kill(t testing.TB) {
	t.Helper()

	s.stopOnce.Do(func() {
		code, _ := s.proc.stop(syscall.SIGKILL, stopGrace)
		s.stdout.Close()
		s.stderr.Close()
		s.stopCode = code
	})
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	return !s.proc.running()
}

// LogCount returns how many JSON log entries the server wrote so far, for
// WaitLogAfter.
func (s *Server) LogCount() int {
	return len(s.logs.snapshot())
}

// WaitLogAfter waits for a JSON log entry that matches among the entries
// after the first from, and returns it. It fails the test on timeout or
// when the server exits first.
func (s *Server) WaitLogAfter(t testing.TB, from int, match func(entry map[string]any) bool, timeout time.Duration) map[string]any {
	t.Helper()

	entry, _, err := s.logs.wait(from, match, timeout, s.proc.exited)
	if err != nil {
		t.Fatalf("waiting for a server log entry after entry %d: %v", from, err)
	}
	return entry
}

// LogMessage matches log entries whose message field equals message.
func LogMessage(message string) func(map[string]any) bool {
	return func(entry map[string]any) bool {
		return entry["message"] == message
	}
}

// LogFields matches log entries that contain every given field with the
// given value. Values compare in their fmt %v form, so a number may be
// given as a string.
func LogFields(fields map[string]any) func(map[string]any) bool {
	return func(entry map[string]any) bool {
		for key, want := range fields {
			got, ok := entry[key]
			if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
				return false
			}
		}
		return true
	}
}

// RunRecordsCommandsIn makes Records, WaitRecord and Events run the
// records commands behind wrapper, such as nsenter into the server's
// namespaces, so that they see the data folder the server sees.
func (s *Server) RunRecordsCommandsIn(wrapper []string) {
	s.recordsWrapper = append([]string(nil), wrapper...)
}

// recordsCommand builds a records command with args, behind the wrapper
// that RunRecordsCommandsIn set.
func (s *Server) recordsCommand(ctx context.Context, args []string) *exec.Cmd {
	line := append(append(append([]string(nil), s.recordsWrapper...), s.binary), args...)
	return exec.CommandContext(ctx, line[0], line[1:]...)
}

// PID returns the server's process ID.
func (s *Server) PID() int {
	return s.proc.pid()
}
