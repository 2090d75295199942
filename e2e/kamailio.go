package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// KamailioConfig is the front proxy configuration the harness runs,
// relative to the repository root.
const KamailioConfig = "deploy/kamailio/kamailio.cfg"

// Kamailio limits used by the harness.
const (
	// kamailioListenTimeout bounds the wait for Kamailio's UDP socket.
	kamailioListenTimeout = 20 * time.Second
	// kamailioStopGrace is how long Stop waits after SIGTERM before SIGKILL.
	kamailioStopGrace = 10 * time.Second
	// DefaultKamailioPingInterval is the dispatcher's OPTIONS interval in
	// tests, in seconds: short, so a dead node is found quickly.
	DefaultKamailioPingInterval = 1
	// DefaultKamailioFailureTimer is tm's fr_timer in tests, in
	// milliseconds.
	DefaultKamailioFailureTimer = 2000
)

// KamailioOptions describes one Kamailio run.
type KamailioOptions struct {
	// Nodes are the host:port addresses of the dispatcher set, in order.
	Nodes []string
	// PingInterval is the seconds between OPTIONS probes. Zero:
	// DefaultKamailioPingInterval.
	PingInterval int
	// FailureTimer is tm's fr_timer in milliseconds. Zero:
	// DefaultKamailioFailureTimer.
	FailureTimer int
}

// Kamailio is a running Kamailio front proxy, started by StartKamailio.
type Kamailio struct {
	// Port is the UDP port Kamailio listens on, on 127.0.0.1.
	Port int
	// DispatcherList is the dispatcher.list file written for this run.
	DispatcherList string

	proc   *process
	lines  *eventLog[string]
	output *lineWriter
}

// StartKamailio runs deploy/kamailio/kamailio.cfg in the foreground
// (kamailio -DD -E) on a free 127.0.0.1 port, with a dispatcher list of
// opts.Nodes, and waits until its UDP socket is bound. The configuration's
// settings are passed with -A, so the file runs unchanged. t.Cleanup stops
// it.
func StartKamailio(t testing.TB, opts KamailioOptions) *Kamailio {
	t.Helper()

	binary := RequireTool(t, "kamailio")
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultKamailioPingInterval
	}
	if opts.FailureTimer == 0 {
		opts.FailureTimer = DefaultKamailioFailureTimer
	}

	dir := t.TempDir()
	k := &Kamailio{
		Port:           FreePort(t),
		DispatcherList: filepath.Join(dir, "dispatcher.list"),
		lines:          newEventLog[string](),
	}
	k.writeDispatcherList(t, opts.Nodes)
	k.start(t, binary, dir, opts)

	ctx, cancel := context.WithTimeout(context.Background(), kamailioListenTimeout)
	defer cancel()
	if err := waitListeningOrExit(ctx, k.proc, "udp", k.Port); err != nil {
		t.Fatalf("waiting for kamailio to listen on UDP port %d: %v\n%s", k.Port, err, tail(k.lines.snapshot(), 40))
	}
	return k
}

func (k *Kamailio) writeDispatcherList(t testing.TB, nodes []string) {
	t.Helper()

	var lines []string
	for _, node := range nodes {
		lines = append(lines, fmt.Sprintf("1 sip:%s 0 0", node))
	}
	if err := os.WriteFile(k.DispatcherList, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("writing the dispatcher list: %v", err)
	}
}

func (k *Kamailio) start(t testing.TB, binary, dir string, opts KamailioOptions) {
	t.Helper()

	config := filepath.Join(RepoRoot(t), KamailioConfig)
	args := []string{
		"-DD", "-E", "-f", config,
		// Kamailio writes its runtime files (control sockets) here, not
		// to /run/kamailio, so parallel runs do not collide.
		"-Y", dir,
		"-A", "HL_ADDR=" + Loopback,
		"-A", "HL_PORT=" + strconv.Itoa(k.Port),
		"-A", `HL_DISPATCHER_LIST="` + k.DispatcherList + `"`,
		"-A", "HL_PING_INTERVAL=" + strconv.Itoa(opts.PingInterval),
		"-A", "HL_FR_TIMER=" + strconv.Itoa(opts.FailureTimer),
	}
	k.output = &lineWriter{emit: k.lines.add}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdout = k.output
	cmd.Stderr = k.output
	cmd.WaitDelay = waitDelay

	proc, err := startProcess("kamailio", cmd)
	if err != nil {
		t.Fatalf("starting kamailio: %v", err)
	}
	k.proc = proc

	logTailOnFailure(t, "kamailio output", k.lines.snapshot)
	t.Cleanup(k.Stop)
}

// Addr returns Kamailio's SIP address, 127.0.0.1:port.
func (k *Kamailio) Addr() string {
	return net.JoinHostPort(Loopback, strconv.Itoa(k.Port))
}

// WaitLog waits for an output line containing substring, looking at all
// output since the start, and returns it.
func (k *Kamailio) WaitLog(t testing.TB, substring string, timeout time.Duration) string {
	t.Helper()

	contains := func(line string) bool { return strings.Contains(line, substring) }
	line, _, err := k.lines.wait(0, contains, timeout, k.proc.exited)
	if err != nil {
		t.Fatalf("waiting for kamailio to print %q: %v", substring, err)
	}
	return line
}

// Lines returns Kamailio's output so far.
func (k *Kamailio) Lines() []string {
	return k.lines.snapshot()
}

// Stop ends Kamailio with SIGTERM (SIGKILL after 10 s) and kills any of its
// worker processes that outlived it. t.Cleanup calls it too.
func (k *Kamailio) Stop() {
	if k.proc == nil {
		return
	}
	workers := k.proc.children()
	k.proc.stop(syscall.SIGTERM, kamailioStopGrace)
	killOrphans(workers, "kamailio")
	k.output.Close()
}
