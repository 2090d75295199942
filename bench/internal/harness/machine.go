package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes the host a benchmark ran on.
type Machine struct {
	// Model is the "Model name" line of lscpu.
	Model string `json:"model"`
	// Cores is the number of online CPUs of the machine, whatever CPU
	// affinity the benchmark process itself runs with.
	Cores int `json:"cores"`
	// GoVersion is the toolchain that built the benchmark.
	GoVersion string `json:"go_version"`
	// Kernel is the kernel release (uname -r).
	Kernel string `json:"kernel"`
	// LoadAverage is the 1, 5 and 15 minute load average at the start.
	LoadAverage string `json:"load_average"`
	// Started is when the benchmark started, in UTC.
	Started time.Time `json:"started"`
}

// DescribeMachine reads the CPU model, core count, Go version, kernel
// release and load average. A value that cannot be read is "unknown".
func DescribeMachine() Machine {
	return Machine{
		Model:       cpuModel(),
		Cores:       OnlineCPUs(),
		GoVersion:   runtime.Version(),
		Kernel:      kernelRelease(),
		LoadAverage: loadAverage(),
		Started:     time.Now().UTC().Truncate(time.Second),
	}
}

// String formats the machine for a summary line.
func (m Machine) String() string {
	return m.Model + ", " + itoa(m.Cores) + " cores, " + m.GoVersion + ", Linux " + m.Kernel +
		", load average " + m.LoadAverage + " at " + m.Started.Format(time.RFC3339)
}

// OnlineCPUs returns the number of online CPUs from
// /sys/devices/system/cpu/online (such as "0-1" or "0,2-3"), or
// runtime.NumCPU when that file cannot be read. runtime.NumCPU alone counts
// only the CPUs of the process's affinity mask, which is one CPU under
// taskset.
func OnlineCPUs() int {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	count, err := countCPUList(strings.TrimSpace(string(data)))
	if err != nil {
		return runtime.NumCPU()
	}
	return count
}

// countCPUList counts the CPUs of a kernel CPU list such as "0-3,6".
func countCPUList(list string) (int, error) {
	count := 0
	for _, part := range strings.Split(list, ",") {
		first, last, isRange := strings.Cut(part, "-")
		low, err := strconv.Atoi(first)
		if err != nil {
			return 0, fmt.Errorf("invalid CPU list %q: %w", list, err)
		}
		high := low
		if isRange {
			if high, err = strconv.Atoi(last); err != nil {
				return 0, fmt.Errorf("invalid CPU list %q: %w", list, err)
			}
		}
		if high < low {
			return 0, fmt.Errorf("invalid CPU list %q: range %s runs backwards", list, part)
		}
		count += high - low + 1
	}
	return count, nil
}

func cpuModel() string {
	out, err := exec.Command("lscpu").Output()
	if err != nil {
		return unknown
	}
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if ok && strings.TrimSpace(name) == "Model name" {
			return strings.TrimSpace(value)
		}
	}
	return unknown
}

func kernelRelease() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return unknown
	}
	return strings.TrimSpace(string(data))
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return unknown
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return unknown
	}
	return strings.Join(fields[:3], " ")
}

const unknown = "unknown"
