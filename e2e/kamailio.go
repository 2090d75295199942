package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DeployKamailioConfig is the Kamailio configuration that deploy/kamailio
// ships for a proxy in front of helpline nodes, relative to the
// repository root.
const DeployKamailioConfig = "deploy/kamailio/kamailio.cfg"

// Defines that the harness passes to every Kamailio configuration with
// -A, the settings of deploy/kamailio/kamailio.cfg. The configuration
// listens on udp:HL_ADDR:HL_PORT.
const (
	// KamailioAddrDefine holds the proxy's IP address, unquoted.
	KamailioAddrDefine = "HL_ADDR"
	// KamailioPortDefine holds the proxy's port, unquoted.
	KamailioPortDefine = "HL_PORT"
	// KamailioDispatcherListDefine holds the path of the dispatcher list
	// file, as a quoted string.
	KamailioDispatcherListDefine = "HL_DISPATCHER_LIST"
)

// KamailioDispatcherSet is the dispatcher set that holds the helpline
// nodes in the list the harness writes.
const KamailioDispatcherSet = 1

// Kamailio limits for tests.
const (
	kamailioReadyTimeout = 30 * time.Second
	kamailioStopGrace    = 10 * time.Second
	// kamailioSharedMemoryMB and kamailioPrivateMemoryMB keep Kamailio's
	// memory small: the defaults (64 MB shared, 8 MB per process) are for
	// production loads.
	kamailioSharedMemoryMB  = 32
	kamailioPrivateMemoryMB = 4
	// kamailioChildren is the number of worker processes per listener.
	kamailioChildren = 2
)

// KamailioOptions describes one Kamailio proxy started by StartKamailio.
type KamailioOptions struct {
	// Config is the configuration file. Empty: DeployKamailioConfig.
	Config string
	// Nodes are the SIP URIs of the helpline nodes behind the proxy,
	// such as sip:127.0.0.2:5060, written in this order into dispatcher
	// set 1.
	Nodes []string
	// Defines are further -A defines, NAME to VALUE (a value that is a
	// string must carry its double quotes). An empty value defines NAME
	// alone.
	Defines map[string]string
}

// Kamailio is a running Kamailio proxy.
type Kamailio struct {
	// Host and Port are where the proxy listens for UDP.
	Host string
	Port int
	// DispatcherList is the dispatcher list file it reads.
	DispatcherList string
	// Dir is the working and runtime folder.
	Dir string

	proc  *process
	lines *eventLog[string]
	out   *lineWriter
}

// StartKamailio writes a dispatcher list with opts.Nodes in set 1, starts
// kamailio in the foreground (-DD -E, logs on stderr) with a free port of
// 127.0.0.1 and waits until its UDP socket is bound. The configuration
// gets the defines HL_ADDR, HL_PORT and HL_DISPATCHER_LIST besides
// opts.Defines.
// t.Cleanup stops its PID (and its worker processes if it must be killed).
func StartKamailio(t testing.TB, opts KamailioOptions) *Kamailio {
	t.Helper()

	binary := RequireTool(t, "kamailio")
	config := opts.Config
	if config == "" {
		config = filepath.Join(RepoRoot(t), DeployKamailioConfig)
	}
	if _, err := os.Stat(config); err != nil {
		t.Fatalf("Kamailio configuration: %v", err)
	}

	k := &Kamailio{Host: Loopback, Port: FreePort(t), Dir: t.TempDir(), lines: newEventLog[string]()}
	k.DispatcherList = filepath.Join(k.Dir, "dispatcher.list")
	if err := os.WriteFile(k.DispatcherList, []byte(DispatcherList(opts.Nodes)), 0o600); err != nil {
		t.Fatalf("writing the dispatcher list: %v", err)
	}

	k.start(t, binary, k.args(config, opts.Defines))
	k.waitListening(t)
	return k
}

// DispatcherList returns a dispatcher list file with nodes in set 1, in
// order: "setid destination flags priority" a line.
func DispatcherList(nodes []string) string {
	var b strings.Builder
	b.WriteString("# helpline nodes behind the proxy, written by the test harness\n")
	for _, node := range nodes {
		fmt.Fprintf(&b, "%d %s 0 0\n", KamailioDispatcherSet, node)
	}
	return b.String()
}

// NodeURI returns sip:host:port of a helpline server, for KamailioOptions.Nodes.
func NodeURI(host string, port int) string {
	return "sip:" + net.JoinHostPort(host, strconv.Itoa(port))
}

func (k *Kamailio) args(config string, extra map[string]string) []string {
	defines := map[string]string{
		KamailioAddrDefine:           k.Host,
		KamailioPortDefine:           strconv.Itoa(k.Port),
		KamailioDispatcherListDefine: strconv.Quote(k.DispatcherList),
		// Probe every second and give up on a node after 2 s, so that a
		// dead node is found quickly.
		"HL_PING_INTERVAL": "1",
		"HL_FR_TIMER":      "2000",
	}
	for name, value := range extra {
		defines[name] = value
	}

	args := []string{
		"-f", config,
		"-DD", "-E",
		"-Y", k.Dir,
		"-w", k.Dir,
		"-m", strconv.Itoa(kamailioSharedMemoryMB),
		"-M", strconv.Itoa(kamailioPrivateMemoryMB),
		"-n", strconv.Itoa(kamailioChildren),
	}
	names := make([]string, 0, len(defines))
	for name := range defines {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		define := name
		if value := defines[name]; value != "" {
			define += "=" + value
		}
		args = append(args, "-A", define)
	}
	return args
}

func (k *Kamailio) start(t testing.TB, binary string, args []string) {
	t.Helper()

	k.out = &lineWriter{emit: k.lines.add}
	cmd := exec.Command(binary, args...)
	cmd.Dir = k.Dir
	cmd.Stdout = k.out
	cmd.Stderr = k.out
	cmd.WaitDelay = waitDelay

	proc, err := startProcess("kamailio", cmd)
	if err != nil {
		t.Fatalf("starting kamailio: %v", err)
	}
	k.proc = proc

	logTailOnFailure(t, "kamailio output", k.lines.snapshot)
	t.Cleanup(k.Stop)
}

func (k *Kamailio) waitListening(t testing.TB) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), kamailioReadyTimeout)
	defer cancel()
	if err := waitListeningOrExit(ctx, k.proc, "udp", k.Port); err != nil {
		code, _ := k.proc.result()
		t.Fatalf("waiting for kamailio on UDP port %d: %v (running %t, exit code %d)", k.Port, err, k.proc.running(), code)
	}
}

// Addr returns host:port, the proxy's SIP address.
func (k *Kamailio) Addr() string {
	return net.JoinHostPort(k.Host, strconv.Itoa(k.Port))
}

// Lines returns Kamailio's output so far.
func (k *Kamailio) Lines() []string {
	return k.lines.snapshot()
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

// LineCount returns how many output lines Kamailio wrote so far, for
// WaitLogAfter.
func (k *Kamailio) LineCount() int {
	return len(k.lines.snapshot())
}

// WaitLogAfter waits for an output line containing substring among the
// lines after the first from, and returns it.
func (k *Kamailio) WaitLogAfter(t testing.TB, from int, substring string, timeout time.Duration) string {
	t.Helper()

	contains := func(line string) bool { return strings.Contains(line, substring) }
	line, _, err := k.lines.wait(from, contains, timeout, k.proc.exited)
	if err != nil {
		t.Fatalf("waiting for kamailio to print %q: %v", substring, err)
	}
	return line
}

// Stop sends SIGTERM to the main process, which ends its workers. After
// 10 s it sends SIGKILL to the main process and to every worker still
// running. t.Cleanup calls it too.
func (k *Kamailio) Stop() {
	children := k.proc.children()
	if _, killed := k.proc.stop(syscall.SIGTERM, kamailioStopGrace); killed {
		killOrphans(children, "kamailio")
	}
	k.out.Close()
}
