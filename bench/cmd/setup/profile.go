package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"helpline/bench/internal/harness"
)

// runProfile offers one step of case c at rate calls per second to helpline
// with perf attached, and prints the step and the report's path.
func runProfile(ctx context.Context, c setupCase, rate int, h *helplineTarget, dir string, pinning harness.Pinning) error {
	if _, err := h.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = h.Stop() }()

	profileDir := filepath.Join(dir, "profile-"+c.name+"-"+strconv.Itoa(rate))
	if err := os.MkdirAll(profileDir, 0o755); err != nil {
		return fmt.Errorf("creating the profile folder: %w", err)
	}
	profile, err := harness.StartProfile(h.server.PID(), profileDir)
	if err != nil {
		return err
	}
	s, stepErr := runStep(ctx, c.plan, rate, h.server.SIPAddr, filepath.Join(profileDir, "sipp"), pinning)
	report, err := profile.Stop(ctx)
	if stepErr != nil {
		return stepErr
	}
	if err != nil {
		return err
	}
	fmt.Printf("  helpline %5d calls/s offered, %7.1f sent/s: %d ok, %d failed, p95 %.0f ms  %s\n",
		rate, s.AchievedRate, s.Successful, s.Failed, s.ResponseP95, verdict(s))
	fmt.Printf("profile: %s\n", report)
	return nil
}
