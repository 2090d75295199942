package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// perfFrequency is the sampling rate of perf record, in samples per second.
// An odd number keeps the samples from locking onto 1 ms or 20 ms timers.
const perfFrequency = 999

// Profile is a running `perf record` attached to one process.
type Profile struct {
	proc *Process
	data string
}

// StartProfile attaches `perf record -g` to the process pid and writes the
// samples to dir/perf.data. helpline has no pprof endpoint; perf samples
// Go code through its frame pointers and shows kernel time as well.
func StartProfile(pid int, dir string) (*Profile, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, fmt.Errorf("profiling needs perf on PATH (Debian package linux-perf): %w", err)
	}
	data := filepath.Join(dir, "perf.data")
	cmd := exec.Command("perf", "record", "-g", "-F", strconv.Itoa(perfFrequency), "-p", strconv.Itoa(pid), "-o", data)
	proc, err := StartProcess("perf", cmd, filepath.Join(dir, "perf.log"), "")
	if err != nil {
		return nil, err
	}
	return &Profile{proc: proc, data: data}, nil
}

// Stop ends the recording and writes dir/perf-report.txt: the symbols with
// at least 0.5% of the samples, by self time. It returns that file's path.
func (p *Profile) Stop(ctx context.Context) (string, error) {
	if err := p.proc.Stop(30 * time.Second); err != nil {
		return "", err
	}
	report := filepath.Join(filepath.Dir(p.data), "perf-report.txt")
	cmd := exec.CommandContext(ctx, "perf", "report", "-i", p.data, "--stdio", "--no-children",
		"--sort", "symbol", "--percent-limit", "0.5", "-g", "none")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("perf report on %s failed: %w", p.data, err)
	}
	if err := os.WriteFile(report, out, 0o644); err != nil {
		return "", fmt.Errorf("writing the perf report: %w", err)
	}
	return report, nil
}
