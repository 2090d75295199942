package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"helpline/bench/internal/harness"
	"helpline/e2e"
)

// Prompt of case b: a tone of promptLength that helpline plays before it
// hangs up.
const (
	promptName      = "bench_prompt"
	promptLength    = time.Second
	promptFrequency = 440
	promptAmplitude = 0.3
)

// rtpPorts is the size of helpline's RTP range in this benchmark: 4000
// calls at once, so that the search finds the server's own limit and not
// the range's. The 1 s prompt of case b at 2400 calls/s keeps about 2400
// calls open. The reference binds its RTP sockets on port 0 from the kernel's
// ephemeral range, and SIPp binds one media block for all its calls, so
// neither has a smaller cap. A wider block is often not free on a shared
// machine, where other servers hold ports in the same region.
const rtpPorts = 8000

// minRTPPorts is the smallest range Start falls back to when no block of
// rtpPorts is free: 1000 calls at once.
const minRTPPorts = 2000

// silentNodes is the menu of case a: answer and wait for a key without
// playing anything. The caller hangs up first. The menu has no node that
// answers and only waits, so a digit collection with no prompt and a
// ten-minute first-digit timeout stands in for one.
func silentNodes() map[string]any {
	return map[string]any{
		"wait": map[string]any{
			"collect": map[string]any{
				"max_digits":          1,
				"first_digit_timeout": "10m",
				"inter_digit_timeout": "3s",
				"max_tries":           1,
			},
			"branches": map[string]any{"1": map[string]any{"next": "bye"}},
			"on_fail":  map[string]any{"next": "bye"},
		},
		"bye": map[string]any{"hangup": true},
	}
}

// promptNodes is the menu of case b: answer, play the prompt, hang up.
func promptNodes() map[string]any {
	return map[string]any{
		"prompt": map[string]any{"play": []any{promptName}, "hangup": true},
	}
}

// target is a server under test that can be started again after a step
// that failed, so that a backlog does not spill into the next step.
type target interface {
	Name() string
	Start(ctx context.Context) (addr string, err error)
	Stop() error
}

// helplineTarget runs helpline with a menu of the benchmark.
type helplineTarget struct {
	root, binary, dir string
	pinning           harness.Pinning
	nodes             map[string]any
	start             string
	promptDir         string

	server *harness.Helpline
	runs   int
}

func (h *helplineTarget) Name() string { return "helpline" }

func (h *helplineTarget) Start(ctx context.Context) (string, error) {
	h.runs++
	dir := filepath.Join(h.dir, "helpline-"+strconv.Itoa(h.runs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the helpline folder: %w", err)
	}
	opts := harness.HelplineOptions{
		Root: h.root, Binary: h.binary, Dir: dir, Pinning: h.pinning,
		RTPPorts: rtpPorts,
		Mutate: func(cfg map[string]any) error {
			if err := e2e.SetConfig(cfg, "ivr.nodes", h.nodes); err != nil {
				return err
			}
			if err := e2e.SetConfig(cfg, "ivr.start", h.start); err != nil {
				return err
			}
			return e2e.SetConfig(cfg, "ivr.prompt_dir", h.promptDir)
		},
	}
	server, err := harness.StartHelpline(ctx, opts)
	// Other servers on a shared machine can hold ports in the middle of
	// the block region, so fall back to a smaller range and print its size.
	for errors.Is(err, harness.ErrNoFreePort) && opts.RTPPorts/2 >= minRTPPorts {
		fmt.Printf("  helpline: no free block of %d RTP ports, starting with %d\n", opts.RTPPorts, opts.RTPPorts/2)
		opts.RTPPorts /= 2
		server, err = harness.StartHelpline(ctx, opts)
	}
	if err != nil {
		return "", err
	}
	h.server = server
	return server.SIPAddr, nil
}

func (h *helplineTarget) Stop() error {
	if h.server == nil {
		return nil
	}
	err := h.server.Stop()
	h.server = nil
	return err
}

// refuaTarget runs the reference user agent.
type refuaTarget struct {
	binary, dir string
	pinning     harness.Pinning
	play        time.Duration

	proc *harness.Process
	runs int
}

func (r *refuaTarget) Name() string { return "refua" }

func (r *refuaTarget) Start(ctx context.Context) (string, error) {
	r.runs++
	port, err := harness.FreePort()
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort(harness.Loopback, strconv.Itoa(port))
	cmd := r.pinning.ServerCommand(r.binary, "-listen", addr, "-play", r.play.String())
	logPath := filepath.Join(r.dir, "refua-"+strconv.Itoa(r.runs)+".log")
	proc, err := harness.StartProcess("refua", cmd, logPath, "refua ready")
	if err != nil {
		return "", err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := proc.WaitReady(readyCtx); err != nil {
		_ = proc.Stop(5 * time.Second)
		return "", err
	}
	r.proc = proc
	return addr, nil
}

func (r *refuaTarget) Stop() error {
	if r.proc == nil {
		return nil
	}
	err := r.proc.Stop(10 * time.Second)
	r.proc = nil
	return err
}

// promptLanguages are the language folders of ivr.prompt_dir. helpline
// loads every prompt of the menu in each of them at start-up.
var promptLanguages = []string{"ko", "en"}

// writePrompt writes the case b prompt into each language folder of dir.
func writePrompt(dir string) error {
	for _, language := range promptLanguages {
		if err := os.MkdirAll(filepath.Join(dir, language), 0o755); err != nil {
			return fmt.Errorf("creating the prompt folder: %w", err)
		}
		path := filepath.Join(dir, language, promptName+".wav")
		if err := e2e.WriteToneWAV(path, promptLength, promptFrequency, promptAmplitude); err != nil {
			return fmt.Errorf("writing the benchmark prompt: %w", err)
		}
	}
	return nil
}
