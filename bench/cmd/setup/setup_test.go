package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"helpline/bench/internal/harness"
)

// requireSipp skips the test when SIPp is missing, except under CI=true,
// where a missing tool fails it.
func requireSipp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sipp not found on PATH (Debian package sip-tester): %v", err)
		}
		t.Skipf("sipp not found on PATH: %v", err)
	}
}

// testCases builds helpline and refua, writes the prompt and returns the
// cases with 1 s steps.
func testCases(t *testing.T) (all []setupCase, root, helplineBinary, refuaBinary, promptDir string) {
	t.Helper()
	requireSipp(t)

	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	if helplineBinary, err = harness.BuildGo(root, "./cmd/helpline", binDir); err != nil {
		t.Fatal(err)
	}
	if refuaBinary, err = harness.BuildGo(root, "./bench/refua", binDir); err != nil {
		t.Fatal(err)
	}
	promptDir = filepath.Join(t.TempDir(), "prompts")
	if err := writePrompt(promptDir); err != nil {
		t.Fatal(err)
	}

	all = cases(root, true)
	for i := range all {
		all[i].plan.Step = time.Second
	}
	return all, root, helplineBinary, refuaBinary, promptDir
}

// Each case's menu runs on a real helpline and each target completes every
// call of one low-rate step: helpline accepts both benchmark menus, and
// in case b both servers hang up after the prompt.
func TestStepPassesAtLowRate(t *testing.T) {
	cases, root, helplineBinary, refuaBinary, promptDir := testCases(t)
	const rate = 10

	for _, c := range cases {
		dir := t.TempDir()
		targets := []target{
			&helplineTarget{root: root, binary: helplineBinary, dir: dir, nodes: c.nodes, start: c.start, promptDir: promptDir},
			&refuaTarget{binary: refuaBinary, dir: dir, play: c.refuaPlay},
		}
		for _, tg := range targets {
			t.Run(c.name+"/"+tg.Name(), func(t *testing.T) {
				addr, err := tg.Start(t.Context())
				if err != nil {
					t.Fatalf("starting %s: %v", tg.Name(), err)
				}
				t.Cleanup(func() {
					if err := tg.Stop(); err != nil {
						t.Errorf("stopping %s: %v", tg.Name(), err)
					}
				})

				s, err := runStep(t.Context(), c.plan, rate, addr, filepath.Join(dir, "step-"+tg.Name()), harness.Pinning{})
				if err != nil {
					t.Fatalf("running the step: %v", err)
				}
				if !s.Passed {
					t.Errorf("step at %d calls/s failed: %s (see %s)", rate, s.Reason, dir)
				}
				if s.Successful != rate {
					t.Errorf("successful calls = %d, want %d", s.Successful, rate)
				}
			})
		}
	}
}

// A target that answers nothing fails the step instead of passing it.
func TestStepFailsWithoutServer(t *testing.T) {
	cases, _, _, _, _ := testCases(t)
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(harness.Loopback, strconv.Itoa(port))

	s, err := runStep(t.Context(), cases[0].plan, 5, addr, t.TempDir(), harness.Pinning{})
	if err != nil {
		t.Fatalf("running the step: %v", err)
	}
	if s.Passed {
		t.Errorf("step against %s with no server passed: %+v", addr, s.SippStats)
	}
	if s.Failed == 0 {
		t.Errorf("failed calls = 0, want every call failed")
	}
}
