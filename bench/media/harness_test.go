package mediabench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"helpline/e2e"
)

// Flags of the media benchmarks; bench/media/run passes them.
var (
	quickFlag    = flag.Bool("quick", false, "fewer steps and shorter windows, so both benchmarks finish in under 3 minutes")
	stepsFlag    = flag.String("steps", "", "comma-separated numbers of calls or pairs to measure; empty: the default steps")
	windowFlag   = flag.Duration("window", 0, "length of each measurement window; 0: 10s, or 3s with -quick")
	serverFlag   = flag.String("server-binary", "", "prebuilt helpline binary; empty: build ./cmd/helpline")
	mediarefFlag = flag.String("mediaref-binary", "", "prebuilt mediaref binary; empty: build ./bench/media/cmd/mediaref")
	pinFlag      = flag.Bool("pin", true, "run the server and the references on core 1 with taskset (needs 2 or more cores)")
)

// Timing of each measured step.
const (
	// warmup passes between the moment every stream flows and the start
	// of the window.
	warmup = time.Second
	// setupTimeout bounds placing the calls of one step and waiting for
	// their media.
	setupTimeout = 3 * time.Minute
	// setupConcurrency is how many calls or registrations are in flight
	// at once.
	setupConcurrency = 20
	// drainTime lets the packets sent at the end of the window arrive.
	drainTime = 200 * time.Millisecond
	// referenceStopTimeout bounds the wait for a reference to exit after
	// SIGTERM.
	referenceStopTimeout = 10 * time.Second
	// serverCore and loadCore are the cores of the measured process and
	// of the load generator.
	serverCore = 1
	loadCore   = 0
)

func TestMain(m *testing.M) {
	os.Exit(e2e.RunTests(m))
}

// sweep runs measureStep in one sub-benchmark per step, named unit=N,
// until it returns false: the step could not be set up, or it overloaded
// the machine.
func sweep(b *testing.B, unit string, list []int, measureStep func(b *testing.B, n int) bool) {
	for _, n := range list {
		keepGoing := false
		b.Run(fmt.Sprintf("%s=%d", unit, n), func(b *testing.B) {
			keepGoing = measureStep(b, n)
		})
		if !keepGoing {
			return
		}
	}
}

// report writes the run's results as JSON and prints its table, unless
// the sweep measured nothing and has no reason to give.
func report(b *testing.B, name string, run any, measured bool, table string) {
	if !measured {
		return
	}
	path := writeResults(b, name, run)
	fmt.Print(table)
	fmt.Printf("results: %s\n", path)
}

// measureWindow returns the window length from the flags.
func measureWindow() time.Duration {
	switch {
	case *windowFlag > 0:
		return *windowFlag
	case *quickFlag:
		return 3 * time.Second
	default:
		return 10 * time.Second
	}
}

// steps returns the numbers of calls to measure: -steps, else quick or
// full.
func steps(tb testing.TB, full, quick []int) []int {
	tb.Helper()
	if *stepsFlag == "" {
		if *quickFlag {
			return quick
		}
		return full
	}
	var list []int
	for _, field := range strings.Split(*stepsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 1 {
			tb.Fatalf("-steps %q: %q is not a positive number", *stepsFlag, field)
		}
		list = append(list, n)
	}
	return list
}

// pinning reports whether processes get pinned to cores: -pin and at
// least two cores online.
func pinning() bool {
	return *pinFlag && onlineCores() >= 2
}

// onlineCores counts the processors in /proc/cpuinfo, which, unlike
// runtime.NumCPU, ignores this process's own affinity.
func onlineCores() int {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	count := 0
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "processor") {
			count++
		}
	}
	return max(1, count)
}

// serverBinary returns the helpline binary to start, wrapped in a script
// that runs it on serverCore when pinning.
func serverBinary(tb testing.TB) string {
	tb.Helper()
	binary := *serverFlag
	if binary == "" {
		binary = e2e.BuildServer(tb)
	}
	if !pinning() {
		return binary
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		tb.Fatalf("pinning the server needs taskset (util-linux): %v; or pass -pin=false", err)
	}
	wrapper := filepath.Join(tb.TempDir(), "helpline-pinned")
	script := fmt.Sprintf("#!/bin/sh\nexec %s -c %d %s \"$@\"\n", taskset, serverCore, binary)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		tb.Fatalf("writing the server wrapper: %v", err)
	}
	return wrapper
}

// startHelpline starts the server with the benchmark's settings plus
// mutate, with an RTP range for legs call legs.
func startHelpline(tb testing.TB, legs int, mutate func(cfg map[string]any)) *e2e.Server {
	tb.Helper()
	// Each leg takes one even port. The range is twice that, because
	// other processes may bind ports of the range after it was checked,
	// and an exhausted range makes offers fail.
	ports := e2e.FreePortRange(tb, 4*legs+64)
	srv := e2e.StartServer(tb, e2e.ServerOptions{
		Binary: serverBinary(tb),
		Mutate: func(cfg map[string]any) {
			e2e.MustSetConfig(tb, cfg, "rtp.port_min", ports.Min)
			e2e.MustSetConfig(tb, cfg, "rtp.port_max", ports.Max)
			// Debug logs would fill the harness's log buffer at 800 calls.
			e2e.MustSetConfig(tb, cfg, "log.level", "info")
			mutate(cfg)
		},
	})
	tb.Cleanup(func() { keepServerLog(tb, srv) })
	return srv
}

// keepServerLog saves the server log when the benchmark failed, because
// the failure message shows only its tail.
func keepServerLog(tb testing.TB, srv *e2e.Server) {
	if tb.Failed() {
		saveServerLog(tb, srv)
	}
}

// saveServerLog writes the whole server log so far into bench/results/.
func saveServerLog(tb testing.TB, srv *e2e.Server) {
	lines := strings.Join(srv.OutputLines(), "\n") + "\n"
	name := strings.NewReplacer("/", "-", "=", "-").Replace(tb.Name())
	path := filepath.Join(e2e.RepoRoot(tb), "bench", "results", name+"-server.log")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		if err := os.WriteFile(path, []byte(lines), 0o644); err == nil {
			tb.Logf("server log: %s", path)
		}
	}
}

// reference is a running mediaref process.
type reference struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	done   chan struct{}
}

// startReference starts mediaref with args, on serverCore when pinning,
// and returns once it printed its first line, which it returns too.
func startReference(tb testing.TB, args ...string) (*reference, string) {
	tb.Helper()
	binary := *mediarefFlag
	if binary == "" {
		binary = e2e.BuildBinary(tb, "./bench/media/cmd/mediaref")
	}
	name, argv := binary, args
	if pinning() {
		name, argv = "taskset", append([]string{"-c", strconv.Itoa(serverCore), binary}, args...)
	}

	cmd := exec.Command(name, argv...)
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("connecting to mediaref's output: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting mediaref %v: %v", args, err)
	}
	r := &reference{cmd: cmd, stdout: bufio.NewReader(pipe), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	tb.Cleanup(r.stop)

	line, err := r.stdout.ReadString('\n')
	if err != nil {
		tb.Fatalf("reading mediaref's first line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, r.stdout) }()
	return r, line
}

// pid returns the reference's process id; taskset execs the program, so
// the id stays the same.
func (r *reference) pid() int {
	return r.cmd.Process.Pid
}

// stop sends SIGTERM to the reference's PID and waits for it, with SIGKILL
// after referenceStopTimeout.
func (r *reference) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(referenceStopTimeout):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// forEach runs do(i) for i in [0, n) with at most setupConcurrency at
// once and returns the first error.
func forEach(n int, do func(i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	slots := make(chan struct{}, setupConcurrency)
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := do(i); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

// cpuSample is the CPU time of the measured process and of this process
// at one moment.
type cpuSample struct {
	at     time.Time
	target time.Duration
	self   time.Duration
}

func sampleCPU(tb testing.TB, pid int) cpuSample {
	tb.Helper()
	target, err := ProcessCPU(pid)
	if err != nil {
		tb.Fatalf("sampling CPU time: %v", err)
	}
	return cpuSample{at: time.Now(), target: target, self: SelfCPU()}
}

// runtimeCounters are Go runtime counters that helpline exposes on
// /metrics through the Prometheus Go collector.
type runtimeCounters struct {
	mallocs    float64
	allocBytes float64
	gcCycles   float64
}

// runtimeMetricNames maps the /metrics series to the counters they fill.
var runtimeMetricNames = map[string]func(*runtimeCounters) *float64{
	"go_memstats_mallocs_total":     func(c *runtimeCounters) *float64 { return &c.mallocs },
	"go_memstats_alloc_bytes_total": func(c *runtimeCounters) *float64 { return &c.allocBytes },
	"go_gc_duration_seconds_count":  func(c *runtimeCounters) *float64 { return &c.gcCycles },
}

// scrapeRuntime reads the runtime counters from the server's /metrics.
func scrapeRuntime(tb testing.TB, srv *e2e.Server) runtimeCounters {
	tb.Helper()
	res, err := http.Get(srv.APIURL() + "/metrics")
	if err != nil {
		tb.Fatalf("reading the server's /metrics: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("reading the server's /metrics: status %d", res.StatusCode)
	}
	counters, err := parseRuntimeCounters(res.Body)
	if err != nil {
		tb.Fatalf("reading the server's /metrics: %v", err)
	}
	return counters
}

// parseRuntimeCounters reads the series of runtimeMetricNames from the
// Prometheus text format. Every series must be present.
func parseRuntimeCounters(r io.Reader) (runtimeCounters, error) {
	var counters runtimeCounters
	found := 0
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), " ")
		field, known := runtimeMetricNames[name]
		if !ok || !known {
			continue
		}
		number, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return counters, fmt.Errorf("series %s has the value %q: %w", name, value, err)
		}
		*field(&counters) = number
		found++
	}
	if err := scanner.Err(); err != nil {
		return counters, err
	}
	if found != len(runtimeMetricNames) {
		return counters, fmt.Errorf("found %d of the %d Go runtime series", found, len(runtimeMetricNames))
	}
	return counters, nil
}

// cpuUse is the CPU time of the measured process and of the load
// generator over a window.
type cpuUse struct {
	// Seconds is the window's length.
	Seconds float64 `json:"seconds"`
	// Target is the measured process's CPU time in seconds.
	Target float64 `json:"target_cpu_seconds"`
	// LoadShare is the load generator's CPU time over the window, as a
	// share of one core.
	LoadShare float64 `json:"load_generator_core_share"`
	// Mallocs, AllocBytes and GCCycles are helpline's heap allocations,
	// allocated bytes and garbage collections from the start of the
	// warm-up to the end of the drain, a span that contains the window.
	// The references report none.
	Mallocs    float64 `json:"mallocs,omitempty"`
	AllocBytes float64 `json:"alloc_bytes,omitempty"`
	GCCycles   float64 `json:"gc_cycles,omitempty"`
}

// measure opens window warmup from now for length, samples the CPU time of
// pid at both ends, and returns after the packets of the window arrived.
// Unless srv is nil, it reads the server's runtime counters before the
// warm-up and after the drain: a /metrics request costs the server CPU
// time, which would show as a pacing gap inside the window.
func measure(tb testing.TB, window *Window, pid int, srv *e2e.Server, length time.Duration) cpuUse {
	tb.Helper()
	var before, after runtimeCounters
	if srv != nil {
		before = scrapeRuntime(tb, srv)
	}
	start := time.Now().Add(warmup)
	end := start.Add(length)
	window.Set(start, end)

	time.Sleep(time.Until(start))
	first := sampleCPU(tb, pid)
	time.Sleep(time.Until(end))
	last := sampleCPU(tb, pid)
	time.Sleep(drainTime)
	if srv != nil {
		after = scrapeRuntime(tb, srv)
	}

	seconds := last.at.Sub(first.at).Seconds()
	return cpuUse{
		Seconds:    seconds,
		Target:     (last.target - first.target).Seconds(),
		LoadShare:  (last.self - first.self).Seconds() / seconds,
		Mallocs:    after.mallocs - before.mallocs,
		AllocBytes: after.allocBytes - before.allocBytes,
		GCCycles:   after.gcCycles - before.gcCycles,
	}
}

// waitStreams waits until every endpoint passes ready, failing the
// benchmark after setupTimeout.
func waitStreams(tb testing.TB, what string, endpoints []*Endpoint, ready func(*Endpoint) bool) {
	tb.Helper()
	if err := streamsReady(what, endpoints, ready); err != nil {
		tb.Fatal(err)
	}
}

// streamsReady waits until every endpoint passes ready and returns an
// error after setupTimeout.
func streamsReady(what string, endpoints []*Endpoint, ready func(*Endpoint) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := WaitAll(ctx, endpoints, ready); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// machine is the host the numbers were taken on.
type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Go        string `json:"go"`
	Kernel    string `json:"kernel"`
	LoadAvg   string `json:"loadavg_at_start"`
	Pinned    bool   `json:"pinned"`
	Quick     bool   `json:"quick"`
	WindowSec int    `json:"window_seconds"`
}

func describeMachine() machine {
	m := machine{
		Cores:     onlineCores(),
		Go:        runtime.Version(),
		Pinned:    pinning(),
		Quick:     *quickFlag,
		WindowSec: int(measureWindow().Seconds()),
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimLeft(name, "\t :"))
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return m
}

// writeResults writes the run's results as JSON into bench/results/ and
// returns the file's path.
func writeResults(tb testing.TB, name string, results any) string {
	tb.Helper()
	dir := filepath.Join(e2e.RepoRoot(tb), "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("creating %s: %v", dir, err)
	}
	path := filepath.Join(dir, name+"-"+time.Now().UTC().Format("20060102T150405Z")+".json")
	data, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		tb.Fatalf("encoding the results: %v", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		tb.Fatalf("writing %s: %v", path, err)
	}
	return path
}
