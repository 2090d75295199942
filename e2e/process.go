package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrProcessExited means the process ended while a test was waiting for an
// event from it.
var ErrProcessExited = errors.New("process exited")

// ErrWaitTimeout means the awaited event did not happen before the deadline.
var ErrWaitTimeout = errors.New("timed out")

// process is one child process with its exit status. Stop ends only this
// PID, never a process group or a name.
type process struct {
	name string
	cmd  *exec.Cmd

	exited chan struct{} // closed once cmd.Wait has returned

	mu       sync.Mutex // guards exitCode and waitErr
	exitCode int
	waitErr  error
}

// startProcess starts cmd and collects its exit status in the background.
func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}

	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	go p.wait()
	return p, nil
}

func (p *process) wait() {
	err := p.cmd.Wait()

	p.mu.Lock()
	p.waitErr = err
	p.exitCode = p.cmd.ProcessState.ExitCode()
	if status, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		p.exitCode = -int(status.Signal())
	}
	p.mu.Unlock()

	close(p.exited)
}

// pid returns the process ID, for messages.
func (p *process) pid() int {
	return p.cmd.Process.Pid
}

// result returns the exit code (negative: killed by that signal) once the
// process has exited.
func (p *process) result() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode, p.waitErr
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// signal sends sig unless the process has exited.
func (p *process) signal(sig syscall.Signal) {
	if p.running() {
		// The process may exit between the check and the signal. The
		// error then only reports that it is already gone.
		_ = p.cmd.Process.Signal(sig)
	}
}

// exitsWithin reports whether the process exits within d.
func (p *process) exitsWithin(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// stop sends sig, waits up to grace for the exit and then sends SIGKILL.
// It returns the exit code and whether SIGKILL was needed.
func (p *process) stop(sig syscall.Signal, grace time.Duration) (int, bool) {
	p.signal(sig)

	killed := false
	if !p.exitsWithin(grace) {
		killed = true
		_ = p.cmd.Process.Kill()
		<-p.exited
	}

	code, _ := p.result()
	return code, killed
}

// children returns the PIDs of the process's direct children, read from
// /proc; empty once the process has exited.
func (p *process) children() []int {
	taskDir := fmt.Sprintf("/proc/%d/task", p.pid())
	tasks, err := os.ReadDir(taskDir)
	if err != nil {
		return nil
	}

	var pids []int
	for _, task := range tasks {
		data, err := os.ReadFile(filepath.Join(taskDir, task.Name(), "children"))
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(field); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// killOrphans sends SIGKILL to each of pids that still runs the command
// name. It ends the helpers of a process that had to be killed, which would
// otherwise outlive it.
func killOrphans(pids []int, name string) {
	for _, pid := range pids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), name) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// waitExit waits until the process exits or ctx ends.
func (p *process) waitExit(ctx context.Context) error {
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s (pid %d) to exit: %w", p.name, p.pid(), context.Cause(ctx))
	}
}

// eventLog is an append-only list of events (log lines, parsed JSON objects,
// control events) that tests can wait on.
type eventLog[T any] struct {
	mu      sync.Mutex // guards entries and changed
	entries []T
	changed chan struct{} // closed and replaced on every add
}

func newEventLog[T any]() *eventLog[T] {
	return &eventLog[T]{changed: make(chan struct{})}
}

func (l *eventLog[T]) add(entry T) {
	l.mu.Lock()
	defer l.mu.Unlock()

	l.entries = append(l.entries, entry)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog[T]) snapshot() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.entries...)
}

// wait returns the first entry at index from or later that matches, waiting
// for new entries until timeout or until done is closed (the producer
// stopped). It also returns the index after the match, so that callers can
// wait for a later event next.
func (l *eventLog[T]) wait(from int, match func(T) bool, timeout time.Duration, done <-chan struct{}) (T, int, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()

	for {
		l.mu.Lock()
		entries, changed := l.entries, l.changed
		l.mu.Unlock()

		for i := from; i < len(entries); i++ {
			if match(entries[i]) {
				return entries[i], i + 1, nil
			}
		}
		from = len(entries)

		var zero T
		select {
		case <-changed:
		case <-done:
			// Entries written just before the exit are already in
			// the log: look once more before giving up.
			if entry, next, ok := l.find(from, match); ok {
				return entry, next, nil
			}
			return zero, from, ErrProcessExited
		case <-deadline.C:
			return zero, from, fmt.Errorf("%w after %s", ErrWaitTimeout, timeout)
		}
	}
}

func (l *eventLog[T]) find(from int, match func(T) bool) (T, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()

	for i := from; i < len(l.entries); i++ {
		if match(l.entries[i]) {
			return l.entries[i], i + 1, true
		}
	}
	var zero T
	return zero, from, false
}

// lineWriter is an io.Writer that hands every complete line (split at \n or
// \r, without the terminator) to emit. Close emits a final partial line.
type lineWriter struct {
	mu      sync.Mutex // guards pending
	pending []byte
	emit    func(line string)
}

func (w *lineWriter) Write(data []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	w.pending = append(w.pending, data...)
	for {
		end := bytes.IndexAny(w.pending, "\r\n")
		if end < 0 {
			break
		}
		line := string(w.pending[:end])
		w.pending = w.pending[end+1:]
		if line != "" {
			w.emit(line)
		}
	}
	return len(data), nil
}

func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()

	if len(w.pending) > 0 {
		w.emit(string(w.pending))
		w.pending = nil
	}
	return nil
}

// maxTailLines is how many lines of a process's output a failure report shows.
const maxTailLines = 200

// tail returns the last n lines joined for a failure message.
func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logTailOnFailure registers a cleanup that prints the output of a process
// when the test failed, so the report shows what the process did.
func logTailOnFailure(t testing.TB, name string, lines func() []string) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last %d lines of %s:\n%s", maxTailLines, name, tail(lines(), maxTailLines))
		}
	})
}
