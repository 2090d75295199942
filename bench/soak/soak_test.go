// Package soak runs the server under steady load (callers arriving, the
// IVR, the queue, counselors who answer and hang up) for a set time, and
// checks that its resident memory, goroutines, open files and heap return
// to the idle baseline once the load stops. Run it with bench/soak/run.
package soak

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"helpline/bench/benchkit"
	"helpline/e2e"
)

var (
	minutes    = flag.Float64("soak.minutes", 30, "minutes of steady load")
	rate       = flag.Float64("soak.rate", 2, "new callers per second")
	counselors = flag.Int("soak.counselors", 16, "counselors who answer")
	talk       = flag.Duration("soak.talk", 3*time.Second, "how long a counselor talks before hanging up")
)

// Soak settings.
const (
	// wrapUp is the counselors' wrap-up after each call.
	wrapUp = "1s"
	// callerLimit caps the calls in progress, so that an overloaded
	// server is not buried under new callers.
	callerLimit = 200
	// callerHold is how long a caller waits in the queue before giving up.
	callerHold = 2 * time.Minute
	// warmUpCallers are served before the baseline is read.
	warmUpCallers = 10
	// sampleInterval is the pause between two samples under load.
	sampleInterval = 10 * time.Second
	// idleTimeout bounds the wait for the last calls to end.
	idleTimeout = 3 * time.Minute
	// settleWindow is how long the idle server is watched for its
	// figures to return to the baseline, and settleInterval how often.
	// The window is longer than the Go runtime's forced collection
	// period (forcegcperiod, 2 min in runtime/proc.go of Go 1.26), so an
	// idle phase includes at least one collection.
	settleWindow   = 150 * time.Second
	settleInterval = 500 * time.Millisecond
)

// Tolerances for "returned to the baseline": the idle figure after the
// load may exceed the idle figure before it by this much.
const (
	goroutineTolerance = 2
	fdTolerance        = 2
	// heapTolerance and rssTolerance are fractions of the baseline. The Go
	// runtime gives freed memory back to the system gradually, so RSS
	// gets more room than the heap.
	heapTolerance = 0.25
	rssTolerance  = 0.30
)

func TestMain(m *testing.M) { os.Exit(e2e.RunTests(m)) }

// sample is the server's state at one moment.
type sample struct {
	At        time.Time `json:"at"`
	Phase     string    `json:"phase"`
	RSS       float64   `json:"rss_bytes"`
	HeapInuse float64   `json:"heap_inuse_bytes"`
	// HeapRetained is heap memory that is idle but not yet given back to
	// the system: part of RSS that no object uses.
	HeapRetained float64 `json:"heap_retained_bytes"`
	Goroutines   float64 `json:"goroutines"`
	// OpenFDs counts /proc/PID/fd; MetricFDs is process_open_fds.
	OpenFDs   int     `json:"open_fds"`
	MetricFDs float64 `json:"process_open_fds"`
	Waiting   float64 `json:"callers_waiting"`
	OnCall    float64 `json:"counselors_on_call"`
	GCs       float64 `json:"gc_cycles"`
}

// verdict compares one figure before and after the load.
type verdict struct {
	Figure    string  `json:"figure"`
	Baseline  float64 `json:"baseline"`
	After     float64 `json:"after"`
	Allowed   float64 `json:"allowed"`
	Tolerance string  `json:"tolerance"`
	Returned  bool    `json:"returned"`
}

type result struct {
	Benchmark string           `json:"benchmark"`
	Machine   benchkit.Machine `json:"machine"`
	Minutes   float64          `json:"minutes"`
	Rate      float64          `json:"rate"`
	Callers   int              `json:"callers"`
	Answered  int              `json:"answered"`
	Baseline  sample           `json:"baseline"`
	Samples   []sample         `json:"samples"`
	Verdicts  []verdict        `json:"verdicts"`
}

// BenchmarkSoak runs once, whatever b.N: run it with -benchtime 1x and
// -timeout 0 for long runs.
func BenchmarkSoak(b *testing.B) {
	if *minutes <= 0 || *rate <= 0 || *counselors <= 0 {
		b.Fatalf("-soak.minutes, -soak.rate and -soak.counselors must be positive: %v, %v, %d", *minutes, *rate, *counselors)
	}
	benchkit.PinLoad(b)
	ctx := b.Context()

	srv := benchkit.StartServer(b, benchkit.ServerSetup{
		Counselors: *counselors,
		RTPPorts:   4*callerLimit + 100,
		Mutate: func(cfg map[string]any) {
			e2e.MustSetConfig(b, cfg, "queue.wrap_up", wrapUp)
		},
	})
	pid := benchkit.ServerPID(srv)
	if pid == 0 {
		b.Fatalf("no process runs with configuration %s", srv.ConfigPath)
	}
	api := benchkit.NewAPI(srv)
	phone := startCounselors(b, srv, api)

	warmUp := benchkit.StartCallers(b, srv, benchkit.CallerLoad{Rate: *rate, Limit: callerLimit, Total: warmUpCallers, Hold: callerHold})
	warmUp.Wait(b)
	waitIdle(b, ctx, api)
	baseline := settle(b, ctx, api, pid, "baseline", nil)

	res := result{Benchmark: "soak", Machine: benchkit.DescribeMachine(), Minutes: *minutes, Rate: *rate, Baseline: baseline}
	res.Callers = int(*rate * *minutes * 60)
	res.Samples = underLoad(b, ctx, srv, api, pid, res.Callers)
	waitIdle(b, ctx, api)
	after := settle(b, ctx, api, pid, "after", &baseline)
	res.Samples = append(res.Samples, after)
	res.Answered, _ = phone.Counts()
	res.Verdicts = compare(baseline, after)

	path, err := benchkit.WriteResult(e2e.RepoRoot(b), "soak", res)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%.1f min at %.1f callers/s: %d callers placed, %d answered; %s", *minutes, *rate, res.Callers, res.Answered, path)
	for _, v := range res.Verdicts {
		b.Logf("%s: baseline %.0f, after %.0f, allowed up to %.0f (%s): returned %v", v.Figure, v.Baseline, v.After, v.Allowed, v.Tolerance, v.Returned)
	}
	b.Logf("heap retained by the runtime (idle, not released): baseline %.0f, after %.0f", baseline.HeapRetained, after.HeapRetained)
}

func startCounselors(b *testing.B, srv *e2e.Server, api *benchkit.API) *benchkit.Phone {
	phone, err := benchkit.StartPhone(benchkit.PhoneOptions{
		Server: benchkit.ServerAddr(srv), Passwords: benchkit.Passwords(*counselors), Talk: *talk,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(phone.Close)
	if err := phone.KeepRegistered(b.Context()); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 0, *counselors)
	for i := range *counselors {
		ids = append(ids, benchkit.CounselorID(i))
	}
	if err := api.LoginAll(b.Context(), ids, idleTimeout); err != nil {
		b.Fatal(err)
	}
	return phone
}

// underLoad places callers at the set rate and samples every
// sampleInterval until SIPp has placed and ended every call.
func underLoad(b *testing.B, ctx context.Context, srv *e2e.Server, api *benchkit.API, pid, callers int) []sample {
	sipp := benchkit.StartCallers(b, srv, benchkit.CallerLoad{Rate: *rate, Limit: callerLimit, Total: callers, Hold: callerHold})
	var finished atomic.Bool
	done := make(chan e2e.SippResult, 1)
	go func() {
		done <- sipp.Wait(b)
		finished.Store(true)
	}()

	var samples []sample
	ticker := time.NewTicker(sampleInterval)
	defer ticker.Stop()
	for {
		select {
		case res := <-done:
			if res.ExitCode != 0 {
				b.Logf("SIPp exit code %d: some callers failed; tail of its errors:\n%s", res.ExitCode, tail(res.Errors, 2000))
			}
			return samples
		case <-ticker.C:
			samples = append(samples, take(b, ctx, api, pid, "load"))
		}
	}
}

func tail(text string, n int) string {
	if len(text) <= n {
		return text
	}
	return text[len(text)-n:]
}

// waitIdle waits until no caller waits and no counselor is offered a
// call or on a call. A counselor whose wrap-up time has passed may still
// be listed in wrap-up until the next offer, so wrap-up is not counted.
func waitIdle(b *testing.B, ctx context.Context, api *benchkit.API) {
	err := benchkit.WaitFor(ctx, idleTimeout, "the server to go idle", func() (bool, error) {
		scrape, err := api.Metrics(ctx)
		if err != nil {
			return false, err
		}
		busy := scrape.Sum(benchkit.MetricWaiting)
		for _, state := range []string{"offered", "on_call"} {
			busy += scrape.Labeled(benchkit.MetricCounselors, "state", state)
		}
		return busy == 0, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// settle watches the idle server for up to settleWindow and returns
// its idle reading. That is the last sample, with the heap in use replaced
// by the smallest one seen after a garbage collection completed in this
// phase: an idle server keeps the garbage of the load until its next
// collection. Without a baseline it returns once a collection was seen
// and goroutines and open files stayed the same over stableSamples
// samples (sipgo keeps a finished SIP transaction for up to 64×T1,
// 32 s). With a baseline it returns once every figure is back within
// tolerance.
func settle(b *testing.B, ctx context.Context, api *benchkit.API, pid int, phase string, baseline *sample) sample {
	deadline := time.Now().Add(settleWindow)
	var recent []sample
	firstGC := -1.0
	heapAfterGC := math.Inf(1)
	for {
		s := take(b, ctx, api, pid, phase)
		if firstGC < 0 {
			firstGC = s.GCs
		}
		collected := s.GCs > firstGC
		if collected {
			heapAfterGC = min(heapAfterGC, s.HeapInuse)
			s.HeapInuse = heapAfterGC
		}
		recent = append(recent, s)

		if collected && baseline == nil && stable(recent) {
			return s
		}
		if collected && baseline != nil && allReturned(compare(*baseline, s)) {
			return s
		}
		if time.Now().After(deadline) {
			if !collected {
				b.Logf("%s: no garbage collection within %s, so the heap figure includes garbage", phase, settleWindow)
			}
			return s
		}
		time.Sleep(settleInterval)
	}
}

// stableSamples is how many samples in a row must agree for the idle
// baseline: 10 s at settleInterval.
const stableSamples = 20

func stable(samples []sample) bool {
	if len(samples) < stableSamples {
		return false
	}
	last := samples[len(samples)-stableSamples:]
	for _, s := range last[1:] {
		if s.Goroutines != last[0].Goroutines || s.OpenFDs != last[0].OpenFDs {
			return false
		}
	}
	return true
}

func take(b *testing.B, ctx context.Context, api *benchkit.API, pid int, phase string) sample {
	scrape, err := api.Metrics(ctx)
	if err != nil {
		b.Fatal(err)
	}
	s := sample{At: scrape.At, Phase: phase, OpenFDs: benchkit.OpenFDs(pid)}
	s.RSS, _ = scrape.Value(benchkit.MetricRSS)
	s.HeapInuse, _ = scrape.Value(benchkit.MetricHeapInuse)
	idle, _ := scrape.Value(benchkit.MetricHeapIdle)
	released, _ := scrape.Value(benchkit.MetricHeapReleased)
	s.HeapRetained = idle - released
	s.Goroutines, _ = scrape.Value(benchkit.MetricGoroutines)
	s.MetricFDs, _ = scrape.Value(benchkit.MetricOpenFDs)
	s.Waiting = scrape.Sum(benchkit.MetricWaiting)
	s.OnCall = scrape.Labeled(benchkit.MetricCounselors, "state", "on_call")
	s.GCs, _ = scrape.Value(benchkit.MetricGCCount)
	return s
}

func compare(baseline, after sample) []verdict {
	absolute := func(figure string, before, now, extra float64) verdict {
		allowed := before + extra
		return verdict{Figure: figure, Baseline: before, After: now, Allowed: allowed, Tolerance: fmt.Sprintf("+%.0f", extra), Returned: now <= allowed}
	}
	relative := func(figure string, before, now, fraction float64) verdict {
		allowed := before * (1 + fraction)
		return verdict{Figure: figure, Baseline: before, After: now, Allowed: allowed, Tolerance: fmt.Sprintf("+%.0f%%", fraction*100), Returned: now <= allowed}
	}
	return []verdict{
		absolute("goroutines", baseline.Goroutines, after.Goroutines, goroutineTolerance),
		absolute("open files", float64(baseline.OpenFDs), float64(after.OpenFDs), fdTolerance),
		relative("heap in use", baseline.HeapInuse, after.HeapInuse, heapTolerance),
		relative("RSS", baseline.RSS, after.RSS, rssTolerance),
	}
}

func allReturned(verdicts []verdict) bool {
	for _, v := range verdicts {
		if !v.Returned {
			return false
		}
	}
	return true
}
