package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SIPp run limits.
const (
	// DefaultSippTimeout is SIPp's -timeout when SippOptions.Timeout is 0.
	DefaultSippTimeout = 60 * time.Second
	// sippKillGrace is how long past its own -timeout a SIPp process may
	// run before the harness kills its PID.
	sippKillGrace = 15 * time.Second
	// sippListenTimeout bounds StartSipp's wait for SIPp's socket.
	sippListenTimeout = 10 * time.Second
	// sippStopGrace is how long Stop waits after SIGTERM.
	sippStopGrace = 5 * time.Second
)

// SIPp's watchdog counts a "trip" whenever its main loop is late; after
// 120 minor trips it ends the test. A loaded 2-core machine trips the 500 ms
// default, so the harness raises both thresholds.
var sippWatchdogArgs = []string{"-watchdog_minor_threshold", "2000", "-watchdog_major_threshold", "10000"}

// sippExitMeanings are SIPp's documented exit codes.
var sippExitMeanings = map[int]string{
	0:   "all calls succeeded",
	1:   "at least one call failed",
	97:  "exit on an internal command",
	99:  "normal exit without any call processed",
	254: "fatal error binding a socket",
	255: "fatal error",
}

var callIDHeader = regexp.MustCompile(`(?mi)^(?:Call-ID|i):\s*(\S+)`)

// SippOptions describes one SIPp run.
type SippOptions struct {
	// Scenario is a file name in testdata/sipp or a path to a scenario.
	Scenario string
	// Target is host:port to send to; empty for UAS scenarios.
	Target string
	// Service is the -s value: the Request-URI user of UAC scenarios.
	Service string
	// LocalPort is -p; 0 picks FreePort.
	LocalPort int
	// MediaPort is -mp; 0 picks FreeMediaPort.
	MediaPort int
	// Transport is "udp" (default) or "tcp".
	Transport string
	// Vars are -set name value pairs (the scenario's <Global> variables).
	Vars map[string]string
	// Keys are -key name value pairs ([name] keywords).
	Keys map[string]string
	// Args are further SIPp arguments, e.g. "-nr" or "-au", "1001".
	Args []string
	// Timeout is SIPp's global -timeout, with -timeout_error so that
	// reaching it is a failure. Zero: 60 s.
	Timeout time.Duration
	// Calls is -m, the number of calls before SIPp exits. Zero: 1.
	Calls int
	// AllowFailure returns a non-zero exit code in the result instead of
	// failing the test.
	AllowFailure bool
	// LocalIP is the loopback address SIPp sends from (-i and -mi), such
	// as 127.0.0.2. Empty: 127.0.0.1.
	LocalIP string
}

// SippResult is what a finished SIPp run left behind.
type SippResult struct {
	// ExitCode is SIPp's exit code (see sippExitMeanings); negative when
	// the harness killed it.
	ExitCode int
	Stdout   string
	Stderr   string
	// Messages is the -trace_msg log: every SIP message sent and received.
	Messages string
	// Errors is the -trace_err log: unexpected messages, timeouts, warnings.
	Errors string
	// Log is the -trace_logs output of the scenario's <log> actions.
	Log string
	// CallID is the first Call-ID in Messages.
	CallID string
	// Duration is the time from start to exit.
	Duration time.Duration
	// LocalPort and MediaPort are the -p and -mp ports used.
	LocalPort int
	MediaPort int
}

// Report formats the run for a failure message.
func (r SippResult) Report() string {
	return fmt.Sprintf("exit code %d (%s) after %s\n--- errors ---\n%s\n--- log ---\n%s\n--- messages ---\n%s\n--- stderr ---\n%s\n--- stdout (tail) ---\n%s",
		r.ExitCode, sippExitMeaning(r.ExitCode), r.Duration.Round(time.Millisecond),
		r.Errors, r.Log, r.Messages, r.Stderr, tail(strings.Split(r.Stdout, "\n"), 40))
}

func sippExitMeaning(code int) string {
	if code < 0 {
		return "killed by signal " + strconv.Itoa(-code)
	}
	if meaning, ok := sippExitMeanings[code]; ok {
		return meaning
	}
	return "unknown exit code"
}

// SippProcess is a SIPp run in the background, started by StartSipp.
type SippProcess struct {
	// LocalPort and MediaPort are the -p and -mp ports in use.
	LocalPort int
	MediaPort int

	opts     SippOptions
	proc     *process
	started  time.Time
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	traceDir string
	scenario string

	collectOnce sync.Once
	result      SippResult
}

// RunSipp runs SIPp in the foreground until it exits. The test fails on a
// non-zero exit code unless AllowFailure is set; the failure message shows
// SIPp's error log, <log> output and every SIP message.
func RunSipp(t testing.TB, opts SippOptions) SippResult {
	t.Helper()

	p := startSipp(t, opts)
	return p.Wait(t)
}

// StartSipp starts SIPp in the background. For a UAS scenario (no Target)
// it returns once SIPp's SIP socket is bound, so that a peer can send to it
// at once. Wait collects the result.
func StartSipp(t testing.TB, opts SippOptions) *SippProcess {
	t.Helper()

	p := startSipp(t, opts)
	if opts.Target != "" {
		return p
	}

	network := "udp"
	if opts.Transport == "tcp" {
		network = "tcp"
	}
	ctx, cancel := context.WithTimeout(context.Background(), sippListenTimeout)
	defer cancel()
	if err := waitListeningOrExit(ctx, p.proc, network, p.LocalPort); err != nil {
		result := p.Wait(t)
		t.Fatalf("SIPp %s did not open port %d: %v\n%s", filepath.Base(p.scenario), p.LocalPort, err, result.Report())
	}
	return p
}

// waitListeningOrExit waits for the port or for the process to exit.
func waitListeningOrExit(ctx context.Context, proc *process, network string, port int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-proc.exited:
			cancel(ErrProcessExited)
		case <-ctx.Done():
		}
	}()
	return WaitListening(ctx, network, port)
}

func startSipp(t testing.TB, opts SippOptions) *SippProcess {
	t.Helper()

	sipp := RequireTool(t, "sipp")

	p := &SippProcess{
		opts:      opts,
		scenario:  Scenario(t, opts.Scenario),
		traceDir:  t.TempDir(),
		LocalPort: opts.LocalPort,
		MediaPort: opts.MediaPort,
	}
	if p.LocalPort == 0 {
		p.LocalPort = FreePort(t)
	}
	if p.MediaPort == 0 {
		p.MediaPort = FreeMediaPort(t)
	}
	if p.scenarioPlaysPcap(t) {
		RequireRoot(t, "SIPp plays pcap files through raw sockets")
	}

	cmd := exec.Command(sipp, p.args()...)
	cmd.Dir = p.traceDir
	cmd.Stdout = &p.stdout
	cmd.Stderr = &p.stderr
	cmd.WaitDelay = waitDelay

	proc, err := startProcess("sipp", cmd)
	if err != nil {
		t.Fatalf("starting SIPp: %v", err)
	}
	p.proc = proc
	p.started = time.Now()

	t.Cleanup(func() {
		if proc.running() {
			proc.stop(syscall.SIGTERM, sippStopGrace)
		}
	})
	return p
}

func (p *SippProcess) scenarioPlaysPcap(t testing.TB) bool {
	t.Helper()

	data, err := os.ReadFile(p.scenario)
	if err != nil {
		t.Fatalf("reading SIPp scenario: %v", err)
	}
	return bytes.Contains(data, []byte("play_pcap_"))
}

func (p *SippProcess) timeout() time.Duration {
	if p.opts.Timeout > 0 {
		return p.opts.Timeout
	}
	return DefaultSippTimeout
}

func (p *SippProcess) args() []string {
	calls := p.opts.Calls
	if calls == 0 {
		calls = 1
	}
	timeoutSeconds := int((p.timeout() + time.Second - 1) / time.Second)
	localIP := p.opts.LocalIP
	if localIP == "" {
		localIP = Loopback
	}

	args := []string{
		"-sf", p.scenario,
		"-m", strconv.Itoa(calls),
		"-nostdin",
		"-i", localIP,
		"-mi", localIP,
		"-p", strconv.Itoa(p.LocalPort),
		"-mp", strconv.Itoa(p.MediaPort),
		"-timeout", strconv.Itoa(timeoutSeconds) + "s",
		"-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(p.traceDir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(p.traceDir, "errors.log"),
		"-trace_logs", "-log_file", filepath.Join(p.traceDir, "actions.log"),
	}
	args = append(args, sippWatchdogArgs...)
	if p.opts.Transport == "tcp" {
		args = append(args, "-t", "t1")
	}
	if p.opts.Service != "" {
		args = append(args, "-s", p.opts.Service)
	}
	args = appendPairs(args, "-set", p.opts.Vars)
	args = appendPairs(args, "-key", p.opts.Keys)
	args = append(args, p.opts.Args...)
	if p.opts.Target != "" {
		args = append(args, p.opts.Target)
	}
	return args
}

// appendPairs appends flag name value for every entry, sorted by name so
// that the command line is the same on every run.
func appendPairs(args []string, flag string, pairs map[string]string) []string {
	names := make([]string, 0, len(pairs))
	for name := range pairs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		args = append(args, flag, name, pairs[name])
	}
	return args
}

// Addr returns LocalIP:LocalPort, where this SIPp receives SIP.
func (p *SippProcess) Addr() string {
	if p.opts.LocalIP != "" {
		return net.JoinHostPort(p.opts.LocalIP, strconv.Itoa(p.LocalPort))
	}
	return net.JoinHostPort(Loopback, strconv.Itoa(p.LocalPort))
}

// Wait waits for SIPp to exit (killing its PID 15 s after its own timeout)
// and returns the result. The test fails on a non-zero exit code unless
// AllowFailure is set. Calling Wait again returns the same result.
func (p *SippProcess) Wait(t testing.TB) SippResult {
	t.Helper()

	p.collectOnce.Do(func() { p.result = p.collect() })
	if p.result.ExitCode != 0 && !p.opts.AllowFailure {
		t.Fatalf("SIPp scenario %s failed: %s", filepath.Base(p.scenario), p.result.Report())
	}
	return p.result
}

func (p *SippProcess) collect() SippResult {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout()+sippKillGrace)
	defer cancel()
	if err := p.proc.waitExit(ctx); err != nil {
		p.proc.stop(syscall.SIGKILL, 0)
	}

	code, _ := p.proc.result()
	result := SippResult{
		ExitCode:  code,
		Stdout:    p.stdout.String(),
		Stderr:    p.stderr.String(),
		Messages:  readOptional(filepath.Join(p.traceDir, "messages.log")),
		Errors:    readOptional(filepath.Join(p.traceDir, "errors.log")),
		Log:       readOptional(filepath.Join(p.traceDir, "actions.log")),
		Duration:  time.Since(p.started),
		LocalPort: p.LocalPort,
		MediaPort: p.MediaPort,
	}
	if match := callIDHeader.FindStringSubmatch(result.Messages); match != nil {
		result.CallID = match[1]
	}
	return result
}

// readOptional returns a file's content, or "" when SIPp did not write it.
func readOptional(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(data)
}
