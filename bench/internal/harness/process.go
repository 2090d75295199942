package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrExited means a process exited while a benchmark waited for it.
var ErrExited = errors.New("process exited")

// Process is a child process whose output goes to a log file and is
// watched for one line.
type Process struct {
	// Name labels the process in messages.
	Name string
	// LogPath is the file with its stdout and stderr.
	LogPath string

	cmd    *exec.Cmd
	output *watchedOutput
	exited chan struct{}
	err    error // set before exited is closed
}

// StartProcess starts cmd with its output written to logPath. When
// readyLine is not empty, WaitReady returns once a line containing it
// appears.
func StartProcess(name string, cmd *exec.Cmd, logPath, readyLine string) (*Process, error) {
	file, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the log file of %s: %w", name, err)
	}

	output := &watchedOutput{file: file, pattern: readyLine, ready: make(chan struct{})}
	cmd.Stdout = output
	cmd.Stderr = output
	if err := cmd.Start(); err != nil {
		file.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, cmd.Path, err)
	}

	p := &Process{Name: name, LogPath: logPath, cmd: cmd, output: output, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		file.Close()
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// WaitReady waits for the ready line, the process's exit or ctx.
func (p *Process) WaitReady(ctx context.Context) error {
	select {
	case <-p.output.ready:
		return nil
	case <-p.exited:
		return fmt.Errorf("%s before printing %q: %w (%v); see %s", p.Name, p.output.pattern, ErrExited, p.err, p.LogPath)
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to print %q: %w; see %s", p.Name, p.output.pattern, ctx.Err(), p.LogPath)
	}
}

// Wait waits for the process to exit and returns its exit error.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.exited:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to exit: %w", p.Name, ctx.Err())
	}
}

// CPUTime returns the user and system CPU time of the exited process, or 0
// while it runs.
func (p *Process) CPUTime() time.Duration {
	select {
	case <-p.exited:
	default:
		return 0
	}
	if p.cmd.ProcessState == nil {
		return 0
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// Stop sends SIGTERM to the process's PID and SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping %s (PID %d): %w", p.Name, p.PID(), err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s (PID %d) after %s: %w", p.Name, p.PID(), grace, err)
	}
	<-p.exited
	return nil
}

// watchedOutput writes a process's output to a file and closes ready at
// the first line that contains pattern.
type watchedOutput struct {
	file    *os.File
	pattern string
	ready   chan struct{}

	mu      sync.Mutex // guards partial and seen
	partial []byte
	seen    bool
}

func (w *watchedOutput) Write(data []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	if !w.seen && w.pattern != "" {
		w.partial = append(w.partial, data...)
		for {
			line, rest, found := bytes.Cut(w.partial, []byte("\n"))
			if !found {
				break
			}
			w.partial = rest
			if strings.Contains(string(line), w.pattern) {
				w.seen = true
				w.partial = nil
				close(w.ready)
				break
			}
		}
	}
	return w.file.Write(data)
}
