package harness

import (
	"os/exec"
	"strconv"
)

// CPUs on which the server under test and the load generator run when the
// machine has two cores or more.
const (
	ServerCPU = 1
	LoadCPU   = 0
)

// Pinning places processes on CPUs with taskset.
type Pinning struct {
	// Enabled is false on a one-core machine or when taskset is missing:
	// then commands run unpinned.
	Enabled bool `json:"enabled"`
	// Server and Load are the CPUs of the server under test and of the
	// load generator.
	Server int `json:"server_cpu"`
	Load   int `json:"load_cpu"`
}

// PlanPinning returns the pinning for this machine: server on CPU 1 and
// load on CPU 0 when there are two CPUs or more and taskset is on PATH.
func PlanPinning() Pinning {
	_, err := exec.LookPath("taskset")
	return Pinning{Enabled: OnlineCPUs() >= 2 && err == nil, Server: ServerCPU, Load: LoadCPU}
}

// ServerCommand returns a command for the server under test, pinned to the
// server CPU when pinning is enabled.
func (p Pinning) ServerCommand(name string, args ...string) *exec.Cmd {
	return p.command(p.Server, name, args)
}

// LoadCommand returns a command for the load generator, pinned to the load
// CPU when pinning is enabled.
func (p Pinning) LoadCommand(name string, args ...string) *exec.Cmd {
	return p.command(p.Load, name, args)
}

func (p Pinning) command(cpu int, name string, args []string) *exec.Cmd {
	if !p.Enabled {
		return exec.Command(name, args...)
	}
	pinned := append([]string{"-c", strconv.Itoa(cpu), name}, args...)
	return exec.Command("taskset", pinned...)
}

// String formats the pinning for a summary line.
func (p Pinning) String() string {
	if !p.Enabled {
		return "not pinned (fewer than 2 CPUs or no taskset)"
	}
	return "server on CPU " + strconv.Itoa(p.Server) + ", load on CPU " + strconv.Itoa(p.Load) + " (taskset)"
}

func itoa(n int) string { return strconv.Itoa(n) }
