package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"helpline/bench/internal/harness"
)

// sippShortfall marks a step as limited by SIPp itself: it sent INVITEs
// at less than this share of the offered rate.
const sippShortfall = 0.9

// plan is the search settings of one case.
type plan struct {
	// Scenario is the SIPp scenario file.
	Scenario string
	// Start is the first offered rate, doubled while steps pass, up to
	// Ceiling, in calls per second.
	Start, Ceiling int
	// Step is how long each step offers calls.
	Step time.Duration
	// CallLength is how long one call lasts after its 200, added to the
	// time a step may take.
	CallLength time.Duration
	// Refine is the number of bisection steps between the highest rate
	// that passed and the lowest that failed.
	Refine int
	// MaxP95 is the highest INVITE to 200 p95 a step may have to pass,
	// in ms, or 0 for no limit.
	MaxP95 float64
}

// step is one SIPp run of a search.
type step struct {
	harness.SippStats
	Passed bool `json:"passed"`
	// SippLimited is true when SIPp sent INVITEs at less than 90% of the
	// offered rate: SIPp, or another job on its CPU, set the pace.
	SippLimited bool   `json:"sipp_limited"`
	Reason      string `json:"reason,omitempty"`
}

// search is the outcome of one case against one target.
type search struct {
	Target string `json:"target"`
	Steps  []step `json:"steps"`
	// MaxRate is the highest offered rate that passed (0: none did), and
	// AchievedRate the rate at which SIPp sent the INVITEs of that step.
	MaxRate      int     `json:"max_rate"`
	AchievedRate float64 `json:"achieved_rate"`
	// LowestFailed is the lowest offered rate that failed (0: none did).
	LowestFailed int `json:"lowest_failed"`
	// SippLimited is true when the search stopped because SIPp could not
	// offer more: MaxRate is then a lower bound of the target's rate.
	SippLimited bool `json:"sipp_limited"`
	// ResponseP95 is the INVITE to 200 p95 of the MaxRate step, in ms.
	ResponseP95 float64 `json:"response_p95_ms"`
}

// runSearch doubles the offered rate while steps pass, then bisects
// between the highest pass and the lowest failure. A target is started
// before the first step and again after each failed step.
func runSearch(ctx context.Context, p plan, t target, dir string, pinning harness.Pinning) (search, error) {
	result := search{Target: t.Name()}
	addr, err := t.Start(ctx)
	if err != nil {
		return result, err
	}
	defer func() { _ = t.Stop() }()

	runStep := func(rate int) (step, error) {
		s, err := runStep(ctx, p, rate, addr, filepath.Join(dir, "step-"+t.Name()+"-"+strconv.Itoa(rate)), pinning)
		if err != nil {
			return s, err
		}
		result.Steps = append(result.Steps, s)
		fmt.Printf("  %-8s %5d calls/s offered, %7.1f sent/s: %d ok, %d failed, p95 %.0f ms, SIPp CPU %.0f%%  %s\n",
			t.Name(), rate, s.AchievedRate, s.Successful, s.Failed, s.ResponseP95, 100*s.CPUShare, verdict(s))
		if !s.Passed {
			if err := t.Stop(); err != nil {
				return s, err
			}
			addr, err = t.Start(ctx)
		}
		return s, err
	}
	pass := func(rate int, s step) {
		if rate > result.MaxRate {
			result.MaxRate, result.AchievedRate, result.ResponseP95 = rate, s.AchievedRate, s.ResponseP95
		}
	}

	rate := p.Start
	for {
		s, err := runStep(rate)
		if err != nil {
			return result, err
		}
		if !s.Passed {
			result.LowestFailed = rate
			break
		}
		pass(rate, s)
		if s.SippLimited {
			result.SippLimited = true
			return result, nil
		}
		if rate >= p.Ceiling {
			return result, nil
		}
		rate = min(rate*2, p.Ceiling)
	}

	for range p.Refine {
		low, high := result.MaxRate, result.LowestFailed
		if high-low <= max(low/20, 1) {
			break
		}
		rate := (low + high) / 2
		s, err := runStep(rate)
		if err != nil {
			return result, err
		}
		if s.Passed {
			pass(rate, s)
		} else {
			result.LowestFailed = rate
		}
	}
	return result, nil
}

// runStep runs SIPp for one step and judges it.
func runStep(ctx context.Context, p plan, rate int, addr, dir string, pinning harness.Pinning) (step, error) {
	calls := max(int(float64(rate)*p.Step.Seconds()), 1)
	stats, err := harness.RunSipp(ctx, harness.SippRun{
		Scenario: p.Scenario, Target: addr, Service: "120",
		Rate: rate, Calls: calls, Dir: dir, Pinning: pinning,
		Expected: p.Step + p.CallLength,
	})
	if err != nil && stats.Created == 0 {
		if errors.Is(err, context.Canceled) {
			return step{}, err
		}
		return step{SippStats: stats, Reason: err.Error()}, nil
	}

	s := step{SippStats: stats, SippLimited: stats.AchievedRate < sippShortfall*float64(rate)}
	switch {
	case stats.Failed > 0:
		s.Reason = strconv.Itoa(stats.Failed) + " failed calls"
	case stats.Successful < calls:
		s.Reason = strconv.Itoa(calls-stats.Successful) + " calls did not complete"
	case stats.ExitCode != 0:
		s.Reason = "SIPp exit code " + strconv.Itoa(stats.ExitCode)
	case p.MaxP95 > 0 && stats.ResponseP95 >= p.MaxP95:
		s.Reason = fmt.Sprintf("p95 %.0f ms is not under %.0f ms", stats.ResponseP95, p.MaxP95)
	default:
		s.Passed = true
	}
	return s, nil
}

func verdict(s step) string {
	switch {
	case !s.Passed:
		return "FAIL (" + s.Reason + ")"
	case s.SippLimited:
		return "pass, SIPp limited"
	default:
		return "pass"
	}
}
