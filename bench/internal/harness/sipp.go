package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SIPp settings shared by benchmark runs.
const (
	// sippRecvTimeout fails a call whose next message does not arrive
	// within this many milliseconds, so that a stuck call counts as failed.
	sippRecvTimeout = "5000"
	// sippExitGrace is how long past the expected end a run may take
	// before its PID is stopped.
	sippExitGrace = 30 * time.Second
	// sippMediaPorts is the block SIPp binds from -mp: audio RTP and RTCP,
	// video RTP and RTCP.
	sippMediaPorts = 4
	// sippBindError is SIPp's exit code for a socket it could not bind,
	// and sippBindAttempts how often a run is tried with new ports.
	sippBindError    = 254
	sippBindAttempts = 3
	// sippConcurrency bounds simultaneous calls at this many seconds of
	// calls at the offered rate, so that -l never limits a healthy run.
	sippConcurrency = 20
)

// SIPp's watchdog ends a run when its main loop is late too often. A busy
// shared machine trips the 500 ms default, so both thresholds are raised.
var sippWatchdogArgs = []string{"-watchdog_minor_threshold", "2000", "-watchdog_major_threshold", "10000"}

// SippRun is one SIPp run at a fixed call rate.
type SippRun struct {
	// Scenario is the path of the scenario file.
	Scenario string
	// Target is the host:port SIPp sends to.
	Target string
	// Service is the Request-URI user (-s).
	Service string
	// Rate is the offered call rate, in calls per second.
	Rate int
	// Calls is the number of calls (-m).
	Calls int
	// Dir receives the statistics, response times and error log.
	Dir string
	// Pinning runs SIPp on the load CPU.
	Pinning Pinning
	// Expected is how long the run should take. SIPp is stopped when it
	// runs sippExitGrace longer.
	Expected time.Duration
}

// SippStats is the outcome of one SippRun.
type SippStats struct {
	Rate int `json:"offered_rate"`
	// AchievedRate is the rate at which SIPp sent the INVITEs that got a
	// 200, from the first to the last, in calls per second. SIPp's own
	// CallRate(C) divides by the whole run, including the wait for the
	// last calls to end, so it reads low on short runs.
	AchievedRate float64 `json:"achieved_rate"`
	Created      int     `json:"created"`
	Successful   int     `json:"successful"`
	Failed       int     `json:"failed"`
	ExitCode     int     `json:"exit_code"`
	// Response time 1 (INVITE sent to 200 received) percentiles, in ms.
	// SIPp records whole milliseconds.
	ResponseP50 float64 `json:"response_p50_ms"`
	ResponseP95 float64 `json:"response_p95_ms"`
	ResponseP99 float64 `json:"response_p99_ms"`
	ResponseMax float64 `json:"response_max_ms"`
	Seconds     float64 `json:"seconds"`
	// CPUShare is SIPp's CPU time over the run's wall time: near 1, SIPp
	// used all of its CPU and may have set the pace itself.
	CPUShare float64 `json:"sipp_cpu_share"`
}

// RunSipp runs SIPp on the load CPU and reads its statistics file and
// response time log. A run whose ports another process took in the
// meantime (SIPp exit code 254, no call made) is tried again with new ports.
func RunSipp(ctx context.Context, run SippRun) (SippStats, error) {
	for attempt := 1; ; attempt++ {
		stats, err := runSippOnce(ctx, run)
		if stats.ExitCode != sippBindError || stats.Created > 0 || attempt == sippBindAttempts {
			return stats, err
		}
	}
}

func runSippOnce(ctx context.Context, run SippRun) (SippStats, error) {
	if err := os.MkdirAll(run.Dir, 0o755); err != nil {
		return SippStats{}, fmt.Errorf("creating the SIPp folder: %w", err)
	}
	// The response time file is named after SIPp's PID, so one left by an
	// earlier attempt would be read in place of this run's.
	earlier, _ := filepath.Glob(filepath.Join(run.Dir, "*_rtt.csv"))
	for _, path := range earlier {
		if err := os.Remove(path); err != nil {
			return SippStats{}, fmt.Errorf("removing an earlier response time file: %w", err)
		}
	}
	localPort, err := FreePort()
	if err != nil {
		return SippStats{}, err
	}
	mediaPort, err := FreeEphemeralBlock(sippMediaPorts)
	if err != nil {
		return SippStats{}, err
	}

	cmd := run.Pinning.LoadCommand("sipp", sippArgs(run, localPort, mediaPort)...)
	cmd.Dir = run.Dir
	started := time.Now()
	proc, err := StartProcess("sipp", cmd, filepath.Join(run.Dir, "sipp.log"), "")
	if err != nil {
		return SippStats{}, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, run.Expected+sippExitGrace)
	defer cancel()
	waitErr := proc.Wait(waitCtx)
	if waitCtx.Err() != nil {
		return SippStats{}, errors.Join(fmt.Errorf("SIPp at %d calls/s did not finish: %w", run.Rate, waitErr), proc.Stop(5*time.Second))
	}

	stats := SippStats{Rate: run.Rate, ExitCode: exitCode(waitErr), Seconds: time.Since(started).Seconds()}
	stats.CPUShare = proc.CPUTime().Seconds() / stats.Seconds
	if err := readSippStat(filepath.Join(run.Dir, "stat.csv"), &stats); err != nil {
		return stats, fmt.Errorf("SIPp exit code %d, see %s: %w", stats.ExitCode, proc.LogPath, err)
	}
	if err := readSippRTT(run.Dir, &stats); err != nil {
		return stats, err
	}
	return stats, nil
}

func sippArgs(run SippRun, localPort, mediaPort int) []string {
	args := []string{
		"-sf", run.Scenario,
		"-s", run.Service,
		"-r", strconv.Itoa(run.Rate), "-rp", "1000",
		"-m", strconv.Itoa(run.Calls),
		"-l", strconv.Itoa(max(run.Rate*sippConcurrency, 100)),
		"-nostdin",
		"-i", Loopback, "-mi", Loopback,
		"-p", strconv.Itoa(localPort), "-mp", strconv.Itoa(mediaPort),
		"-recv_timeout", sippRecvTimeout,
		"-trace_stat", "-stf", "stat.csv",
		"-trace_rtt", "-rtt_freq", "1",
		"-trace_err", "-error_file", "errors.log",
	}
	args = append(args, sippWatchdogArgs...)
	return append(args, run.Target)
}

func exitCode(err error) int {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// readSippStat reads the cumulative counters from the last line of SIPp's
// -trace_stat file (semicolon-separated, header on the first line).
func readSippStat(path string, stats *SippStats) error {
	header, last, err := firstAndLastLine(path)
	if err != nil {
		return err
	}
	names := strings.Split(header, ";")
	values := strings.Split(last, ";")
	field := func(name string) string {
		i := slices.Index(names, name)
		if i < 0 || i >= len(values) {
			return ""
		}
		return values[i]
	}

	counters := []struct {
		name string
		into *int
	}{
		{"OutgoingCall(C)", &stats.Created},
		{"SuccessfulCall(C)", &stats.Successful},
		{"FailedCall(C)", &stats.Failed},
	}
	for _, counter := range counters {
		value, err := strconv.Atoi(field(counter.name))
		if err != nil {
			return fmt.Errorf("reading %s from %s: %w", counter.name, path, err)
		}
		*counter.into = value
	}
	return nil
}

func firstAndLastLine(path string) (string, string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("opening the SIPp statistics: %w", err)
	}
	defer file.Close()

	var first, last string
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		if first == "" {
			first = line
		}
		last = line
	}
	if err := scanner.Err(); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	if first == last {
		return "", "", fmt.Errorf("%s has no data line", path)
	}
	return first, last, nil
}

// readSippRTT reads the response times of the -trace_rtt file
// (SCENARIO_PID_rtt.csv: Date_ms;response_time_ms;rtd_no, Date_ms counted
// from SIPp's start) and fills in their percentiles and the rate at which
// the INVITEs were sent: each was sent at Date_ms - response_time_ms.
func readSippRTT(dir string, stats *SippStats) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	if err != nil || len(paths) == 0 {
		return nil // no call got its 200: no response times
	}
	file, err := os.Open(paths[0])
	if err != nil {
		return fmt.Errorf("opening the SIPp response times: %w", err)
	}
	defer file.Close()

	var times []float64
	first, last := math.Inf(1), math.Inf(-1)
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.Split(scanner.Text(), ";")
		if len(fields) < 2 {
			continue
		}
		at, errAt := strconv.ParseFloat(fields[0], 64)
		value, err := strconv.ParseFloat(fields[1], 64)
		if err != nil || errAt != nil {
			continue // the header line
		}
		times = append(times, value)
		first, last = min(first, at-value), max(last, at-value)
	}
	if err := scanner.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", paths[0], err)
	}

	if len(times) > 1 && last > first {
		stats.AchievedRate = float64(len(times)-1) / ((last - first) / 1000)
	}
	slices.Sort(times)
	stats.ResponseP50 = Percentile(times, 50)
	stats.ResponseP95 = Percentile(times, 95)
	stats.ResponseP99 = Percentile(times, 99)
	if len(times) > 0 {
		stats.ResponseMax = times[len(times)-1]
	}
	return nil
}

// Percentile returns the p-th percentile (nearest rank) of sorted values,
// or 0 for none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
