package benchkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpline/e2e"
)

// Cores of the pinned runs: the server on ServerCore, SIPp, the phones
// and the benchmark itself on LoadCore.
const (
	ServerCore = 1
	LoadCore   = 0
)

// Queue and IVR path of the benchmark callers: 5 then 1 in the example
// menu reaches the Korean loneliness queue, whose skill is ko.
const (
	BenchQueue = "loneliness_ko"
	benchSkill = "ko"
)

// CanPin reports whether taskset exists and the machine has two or more
// cores, so that server and load run on different cores.
func CanPin() bool {
	if OnlineCores() < 2 {
		return false
	}
	_, err := exec.LookPath("taskset")
	return err == nil
}

// pinnedCommand writes an executable script in dir that runs binary on
// one core through taskset with exec, so the process keeps the script's
// PID and a signal to that PID reaches it.
func pinnedCommand(tb testing.TB, dir, name, binary string, core int) string {
	tb.Helper()

	path := filepath.Join(dir, name)
	script := fmt.Sprintf("#!/bin/sh\nexec taskset -c %d %q \"$@\"\n", core, binary)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		tb.Fatalf("writing the pinning wrapper %s: %v", path, err)
	}
	return path
}

// PinLoad puts a sipp wrapper on core LoadCore first in PATH, so that the
// e2e harness's SIPp runs on the load core. It does nothing when CanPin
// is false.
func PinLoad(tb testing.TB) {
	tb.Helper()

	if !CanPin() {
		return
	}
	sipp := e2e.RequireTool(tb, "sipp")
	dir := tb.TempDir()
	pinnedCommand(tb, dir, "sipp", sipp, LoadCore)
	tb.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// ServerSetup adjusts the server a benchmark starts.
type ServerSetup struct {
	// Counselors is how many counselors with the ko skill the
	// configuration gets beside the demo ones: ids CounselorID(0) on.
	Counselors int
	// RTPPorts is the size of the RTP port range. Zero: 200.
	RTPPorts int
	// Mutate edits the configuration after the benchmark defaults.
	Mutate func(cfg map[string]any)
	// Env holds extra KEY=VALUE entries for the server.
	Env []string
}

// CounselorID returns the id of benchmark counselor i: 2000, 2001, ...
func CounselorID(i int) string { return strconv.Itoa(2000 + i) }

// CounselorPassword returns the digest password of counselor id.
func CounselorPassword(id string) string { return "bench-" + id + "-pass" }

// Passwords returns the ids and passwords of the first n counselors.
func Passwords(n int) map[string]string {
	passwords := make(map[string]string, n)
	for i := range n {
		id := CounselorID(i)
		passwords[id] = CounselorPassword(id)
	}
	return passwords
}

// StartServer builds helpline, and starts it pinned to ServerCore when
// CanPin, with info logs, no media timeout (the benchmark peers send no
// RTP), the benchmark counselors and a larger RTP range.
func StartServer(tb testing.TB, setup ServerSetup) *e2e.Server {
	tb.Helper()

	binary := e2e.BuildServer(tb)
	if CanPin() {
		binary = pinnedCommand(tb, tb.TempDir(), "helpline", binary, ServerCore)
	}
	ports := setup.RTPPorts
	if ports == 0 {
		ports = 200
	}
	rtp := e2e.FreePortRange(tb, ports)

	return e2e.StartServer(tb, e2e.ServerOptions{
		Binary: binary,
		Env:    setup.Env,
		Mutate: func(cfg map[string]any) {
			e2e.MustSetConfig(tb, cfg, "log.level", "info")
			e2e.MustSetConfig(tb, cfg, "rtp.media_timeout", "0s")
			e2e.MustSetConfig(tb, cfg, "rtp.port_min", rtp.Min)
			e2e.MustSetConfig(tb, cfg, "rtp.port_max", rtp.Max)
			addCounselors(cfg, setup.Counselors)
			if setup.Mutate != nil {
				setup.Mutate(cfg)
			}
		},
	})
}

func addCounselors(cfg map[string]any, n int) {
	list, _ := cfg["counselors"].([]any)
	for i := range n {
		id := CounselorID(i)
		list = append(list, map[string]any{
			"id":       id,
			"name":     "Bench counselor " + id,
			"password": CounselorPassword(id),
			"skills":   map[string]any{benchSkill: 5},
		})
	}
	cfg["counselors"] = list
}

// ServerAddr returns the server's SIP address.
func ServerAddr(srv *e2e.Server) netip.AddrPort {
	return netip.MustParseAddrPort(srv.Addr())
}

// ServerPID finds the server's PID: the process whose command line names
// its configuration file. It returns 0 when none does.
func ServerPID(srv *e2e.Server) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) != "taskset" && bytes.Contains(cmdline, []byte(srv.ConfigPath)) {
			return pid
		}
	}
	return 0
}

// OpenFDs counts the entries of /proc/PID/fd, or returns -1 when the
// folder cannot be read.
func OpenFDs(pid int) int {
	entries, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return -1
	}
	return len(entries)
}

// API is a keep-alive HTTP client for the server's API and /metrics.
type API struct {
	base   string
	token  string
	client *http.Client
}

// NewAPI returns a client for srv's API.
func NewAPI(srv *e2e.Server) *API {
	return &API{base: srv.APIURL(), token: srv.APIToken, client: &http.Client{Timeout: scrapeTimeout}}
}

// Post sends a JSON body (nil: none) and returns the status code.
func (a *API) Post(ctx context.Context, path string, body any) (int, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("encoding the body of POST %s: %w", path, err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, reader)
	if err != nil {
		return 0, fmt.Errorf("building POST %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// SetState posts a counselor state change (available, break, logged_out).
func (a *API) SetState(ctx context.Context, id, state string) (int, error) {
	body := map[string]string{"state": state}
	if state == "break" {
		body["reason"] = "benchmark"
	}
	return a.Post(ctx, "/api/v1/counselors/"+id+"/state", body)
}

// States returns every counselor's state from GET /api/v1/counselors.
func (a *API) States(ctx context.Context) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v1/counselors", nil)
	if err != nil {
		return nil, fmt.Errorf("building GET /api/v1/counselors: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /api/v1/counselors: %w", err)
	}
	defer res.Body.Close()
	var body struct {
		Counselors []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"counselors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding GET /api/v1/counselors (status %d): %w", res.StatusCode, err)
	}
	states := make(map[string]string, len(body.Counselors))
	for _, c := range body.Counselors {
		states[c.ID] = c.State
	}
	return states, nil
}

// Metrics scrapes the server's /metrics.
func (a *API) Metrics(ctx context.Context) (Scrape, error) {
	return ScrapeMetrics(ctx, a.client, a.base+"/metrics")
}

// LoginAll logs every counselor in, retrying while the server responds
// with 409 because the registration is not applied yet.
func (a *API) LoginAll(ctx context.Context, ids []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, id := range ids {
		for {
			status, err := a.SetState(ctx, id, "available")
			if err != nil {
				return err
			}
			if status == http.StatusOK {
				break
			}
			if status != http.StatusConflict || time.Now().After(deadline) {
				return fmt.Errorf("logging in counselor %s: status %d", id, status)
			}
			time.Sleep(pollInterval)
		}
	}
	return nil
}

// pollInterval is the pause between two reads of a state that a benchmark
// waits for.
const pollInterval = 20 * time.Millisecond

// WaitFor calls check every pollInterval until it returns true or an
// error, or until timeout.
func WaitFor(ctx context.Context, timeout time.Duration, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := check()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: timed out after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// CallerLoad describes SIPp callers that press 5 and 1 (SIP INFO) and so
// wait in BenchQueue until a counselor answers or Hold ends.
type CallerLoad struct {
	// Rate is new calls per second.
	Rate float64
	// Limit is the largest number of calls at once.
	Limit int
	// Total is how many calls SIPp places before it exits.
	Total int
	// Hold is how long a caller waits after the last key before hanging
	// up, when no counselor hung up first.
	Hold time.Duration
	// Timeout is SIPp's run limit. Zero: time for Total calls at Rate
	// plus Hold plus one minute.
	Timeout time.Duration
}

// StartCallers starts SIPp with CallerLoad against srv. The returned
// process ends by itself after Total calls; t.Cleanup stops it otherwise.
func StartCallers(tb testing.TB, srv *e2e.Server, load CallerLoad) *e2e.SippProcess {
	tb.Helper()

	timeout := load.Timeout
	if timeout == 0 {
		timeout = time.Duration(float64(load.Total)/load.Rate*float64(time.Second)) + load.Hold + time.Minute
	}
	return e2e.StartSipp(tb, e2e.SippOptions{
		Scenario: "uac_keys.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars: map[string]string{
			"key1":    "5",
			"key2":    "1",
			"hold_ms": strconv.FormatInt(load.Hold.Milliseconds(), 10),
		},
		Args: []string{
			"-r", strconv.FormatFloat(load.Rate, 'f', -1, 64), "-rp", "1000",
			"-l", strconv.Itoa(load.Limit),
		},
		Calls:        load.Total,
		Timeout:      timeout,
		AllowFailure: true,
	})
}
