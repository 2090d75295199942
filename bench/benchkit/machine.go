package benchkit

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPUModel string `json:"cpu_model"`
	// Cores is the number of online CPUs, whatever the affinity of this
	// process.
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	LoadAvg   string `json:"load_average"`
	// Pinned reports whether the server ran on core 1 and the load on
	// core 0.
	Pinned bool   `json:"pinned"`
	Date   string `json:"date"`
}

// DescribeMachine reads lscpu, the kernel release and the load average.
func DescribeMachine() Machine {
	m := Machine{
		GoVersion: runtime.Version(),
		Kernel:    readTrimmed("/proc/sys/kernel/osrelease"),
		LoadAvg:   readTrimmed("/proc/loadavg"),
		Cores:     OnlineCores(),
		Pinned:    CanPin(),
		Date:      time.Now().UTC().Format(time.RFC3339),
	}
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "Model name" {
				m.CPUModel = strings.TrimSpace(value)
				break
			}
		}
	}
	return m
}

// OnlineCores counts the CPUs in /sys/devices/system/cpu/online, such as
// "0-1", and falls back to runtime.NumCPU.
func OnlineCores() int {
	text := readTrimmed("/sys/devices/system/cpu/online")
	count := 0
	for _, part := range strings.Split(text, ",") {
		var first, last int
		if n, _ := fmt.Sscanf(part, "%d-%d", &first, &last); n == 2 {
			count += last - first + 1
		} else if n == 1 {
			count++
		}
	}
	if count == 0 {
		return runtime.NumCPU()
	}
	return count
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// WriteResult writes result as indented JSON to bench/results/NAME-TIME.json
// under the repository root and returns the path.
func WriteResult(root, name string, result any) (string, error) {
	dir := filepath.Join(root, "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	data, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding the %s result: %w", name, err)
	}
	path := filepath.Join(dir, name+"-"+time.Now().UTC().Format("20060102T150405Z")+".json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
