package mediabench

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. Linux reports
// them in USER_HZ, which is 100 on every architecture it supports.
const userHZ = 100

// ErrProcStat means /proc/PID/stat could not be parsed.
var ErrProcStat = errors.New("invalid /proc stat line")

// ProcessCPU returns the user plus system CPU time a process used so far,
// all threads together, from /proc/PID/stat. Its resolution is 10 ms.
func ProcessCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	return parseProcStat(string(data))
}

// parseProcStat reads utime and stime, fields 14 and 15 of proc(5). The
// command name in field 2 may contain spaces, so fields are counted from
// its closing parenthesis.
func parseProcStat(line string) (time.Duration, error) {
	end := strings.LastIndexByte(line, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: no command name in %q", ErrProcStat, line)
	}
	// After the name come field 3 (state) and on; utime is field 14.
	fields := strings.Fields(line[end+1:])
	const utimeIndex, stimeIndex = 14 - 3, 15 - 3
	if len(fields) <= stimeIndex {
		return 0, fmt.Errorf("%w: %d fields after the command name, want at least %d", ErrProcStat, len(fields), stimeIndex+1)
	}
	var ticks int64
	for _, index := range []int{utimeIndex, stimeIndex} {
		value, err := strconv.ParseInt(fields[index], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: field %d is %q, not a number", ErrProcStat, index+3, fields[index])
		}
		ticks += value
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// SelfCPU returns the CPU time this process used so far.
func SelfCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// Percentile returns the p-th percentile (0 < p <= 100) of values by the
// nearest-rank method, or 0 for no values. It sorts values in place.
func Percentile(values []time.Duration, p float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	rank := int(p/100*float64(len(values))+0.999999) - 1
	return values[min(max(rank, 0), len(values)-1)]
}

// Mean returns the mean of values, or 0 for no values.
func Mean(values []time.Duration) time.Duration {
	if len(values) == 0 {
		return 0
	}
	var sum time.Duration
	for _, v := range values {
		sum += v
	}
	return sum / time.Duration(len(values))
}

// Merged is the sum of several endpoints' results.
type Merged struct {
	Packets     int
	SeqGaps     int
	PeerPackets int
	Sent        int
	Deviations  []time.Duration
	Latencies   []time.Duration
	// KernelTimestamps is true when every endpoint had kernel timestamps.
	KernelTimestamps bool
}

// Merge adds up results.
func Merge(results []EndpointResult) Merged {
	m := Merged{KernelTimestamps: true}
	for _, r := range results {
		m.Packets += r.Packets
		m.SeqGaps += r.SeqGaps
		m.PeerPackets += r.PeerPackets
		m.Sent += r.Sent
		m.Deviations = append(m.Deviations, r.Deviations...)
		m.Latencies = append(m.Latencies, r.Latencies...)
		m.KernelTimestamps = m.KernelTimestamps && r.KernelTimestamps
	}
	return m
}

// Micros returns d in microseconds with one decimal, for reports.
func Micros(d time.Duration) float64 {
	return float64(d.Round(100*time.Nanosecond)) / float64(time.Microsecond)
}
