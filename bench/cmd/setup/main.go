// Command setup measures the call setup rate of helpline beside the
// reference user agent bench/refua, with SIPp as the caller:
//
//   - case a: answered calls hung up at once by the caller (INVITE, 200,
//     ACK, BYE, 200), helpline running a menu that plays nothing;
//   - case b: answered calls that the server ends with BYE after a 1 s
//     prompt, helpline playing the prompt and refua sending 1 s of RTP.
//
// For each case and server it reports the highest offered rate with no
// failed call (case b also needs INVITE to 200 p95 under 200 ms) and the
// ratio helpline/reference. Run it through bench/run:
//
//	bench/run setup [--quick] [--case a|b|all]
//
// Raw results go to bench/results/setup-TIMESTAMP/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"helpline/bench/internal/harness"
)

// caseBMaxP95 is the INVITE to 200 p95 limit of case b, in ms.
const caseBMaxP95 = 200

func main() {
	quick := flag.Bool("quick", false, "shorter steps and fewer bisections (under 3 minutes)")
	only := flag.String("case", "all", "which case to run: a (hang up at once), b (1 s prompt) or all")
	profileRate := flag.Int("profile", 0, "instead of the search, offer one step at this many calls/s to helpline under perf record (case a unless --case b)")
	flag.Parse()

	if *only != "a" && *only != "b" && *only != "all" {
		fmt.Fprintf(os.Stderr, "setup: invalid --case %q: use a, b or all\n", *only)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *profileRate < 0 {
		fmt.Fprintf(os.Stderr, "setup: invalid --profile %d: give a rate in calls/s\n", *profileRate)
		os.Exit(2)
	}
	if err := run(ctx, options{quick: *quick, only: *only, profileRate: *profileRate}); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
}

// report is the raw result file, results.json.
type report struct {
	Benchmark string          `json:"benchmark"`
	Quick     bool            `json:"quick"`
	Machine   harness.Machine `json:"machine"`
	Pinning   harness.Pinning `json:"pinning"`
	Cases     []caseResult    `json:"cases"`
	Seconds   float64         `json:"seconds"`
}

type caseResult struct {
	Name      string  `json:"name"`
	Plan      plan    `json:"plan"`
	Helpline  search  `json:"helpline"`
	Reference search  `json:"reference"`
	Ratio     float64 `json:"ratio"`
}

// options are the command-line settings.
type options struct {
	quick       bool
	only        string
	profileRate int
}

func run(ctx context.Context, opts options) error {
	started := time.Now()
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := harness.NewRunDir(root, "setup")
	if err != nil {
		return err
	}
	rep := report{Benchmark: "setup", Quick: opts.quick, Machine: harness.DescribeMachine(), Pinning: harness.PlanPinning()}
	fmt.Printf("machine: %s\npinning: %s\nresults: %s\n", rep.Machine, rep.Pinning, dir)

	binDir := filepath.Join(dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("creating the binary folder: %w", err)
	}
	helplineBinary, err := harness.BuildGo(root, "./cmd/helpline", binDir)
	if err != nil {
		return err
	}
	refuaBinary, err := harness.BuildGo(root, "./bench/refua", binDir)
	if err != nil {
		return err
	}
	promptDir := filepath.Join(dir, "prompts")
	if err := writePrompt(promptDir); err != nil {
		return err
	}

	if opts.profileRate > 0 && opts.only == "all" {
		opts.only = "a"
	}
	for _, c := range cases(root, opts.quick) {
		if opts.only != "all" && opts.only != c.name {
			continue
		}
		caseDir := filepath.Join(dir, "case-"+c.name)
		fmt.Printf("case %s: %s\n", c.name, c.title)
		helpline := &helplineTarget{root: root, binary: helplineBinary, dir: caseDir, pinning: rep.Pinning,
			nodes: c.nodes, start: c.start, promptDir: promptDir}
		if opts.profileRate > 0 {
			return runProfile(ctx, c, opts.profileRate, helpline, caseDir, rep.Pinning)
		}
		reference := &refuaTarget{binary: refuaBinary, dir: caseDir, pinning: rep.Pinning, play: c.refuaPlay}

		result := caseResult{Name: c.name, Plan: c.plan}
		if result.Helpline, err = runSearch(ctx, c.plan, helpline, caseDir, rep.Pinning); err != nil {
			return fmt.Errorf("case %s, helpline: %w", c.name, err)
		}
		if result.Reference, err = runSearch(ctx, c.plan, reference, caseDir, rep.Pinning); err != nil {
			return fmt.Errorf("case %s, refua: %w", c.name, err)
		}
		if result.Reference.MaxRate > 0 {
			result.Ratio = float64(result.Helpline.MaxRate) / float64(result.Reference.MaxRate)
		}
		rep.Cases = append(rep.Cases, result)
	}

	rep.Seconds = time.Since(started).Seconds()
	if err := harness.WriteJSON(dir, "results.json", rep); err != nil {
		return err
	}
	printSummary(rep)
	return nil
}

// setupCase is one case of the benchmark.
type setupCase struct {
	name, title string
	plan        plan
	nodes       map[string]any
	start       string
	refuaPlay   time.Duration
}

func cases(root string, quick bool) []setupCase {
	scenarios := filepath.Join(root, "bench", "scenarios")
	a := plan{Scenario: filepath.Join(scenarios, "uac_setup.xml"), Start: 100, Ceiling: 12800, Step: 10 * time.Second, Refine: 3}
	b := plan{Scenario: filepath.Join(scenarios, "uac_setup_prompt.xml"), Start: 25, Ceiling: 3200, Step: 10 * time.Second,
		CallLength: promptLength + 5*time.Second, Refine: 3, MaxP95: caseBMaxP95}
	if quick {
		a.Start, a.Step, a.Refine = 400, 3*time.Second, 1
		b.Start, b.Step, b.Refine = 50, 3*time.Second, 1
	}
	return []setupCase{
		{name: "a", title: "answer, then the caller hangs up at once", plan: a, nodes: silentNodes(), start: "wait"},
		{name: "b", title: "answer, 1 s prompt, the server hangs up", plan: b, nodes: promptNodes(), start: "prompt", refuaPlay: promptLength},
	}
}

func printSummary(rep report) {
	fmt.Printf("\nsummary (%s, %.0f s, machine shared with other work)\n", rep.Machine.Started.Format(time.RFC3339), rep.Seconds)
	for _, c := range rep.Cases {
		fmt.Printf("case %s: helpline %d calls/s%s, refua %d calls/s%s, ratio %.2f\n", c.Name,
			c.Helpline.MaxRate, limitNote(c.Helpline), c.Reference.MaxRate, limitNote(c.Reference), c.Ratio)
	}
}

func limitNote(s search) string {
	note := fmt.Sprintf(" (p95 %.0f ms", s.ResponseP95)
	if s.SippLimited {
		note += ", SIPp limited: a lower bound"
	} else if s.LowestFailed == 0 {
		note += ", no step failed up to the ceiling"
	} else {
		note += fmt.Sprintf(", %d calls/s failed", s.LowestFailed)
	}
	return note + ")"
}
