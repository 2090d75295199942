// Package memory measures the server's heap per waiting caller and per
// bridged call. It reads the Go runtime's heap from /metrics with 0, 100
// and 500 callers waiting in the queue, and with 0, 50 and 100 bridged
// calls, and fits a line through the points. Run it with bench/memory/run.
package memory

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpline/bench/benchkit"
	"helpline/e2e"
)

var (
	waitingLevels = flag.String("memory.waiting", "0,100,500", "numbers of waiting callers to measure at, ascending")
	bridgedLevels = flag.String("memory.bridged", "0,50,100", "numbers of bridged calls to measure at, ascending")
)

// Benchmark settings.
const (
	// gogc is the server's GOGC: a low value keeps the heap in use close
	// to the live heap, so that the minimum over a few cycles is a steady
	// reading.
	gogc = "20"
	// callerRate is how fast SIPp adds callers, per second.
	callerRate = 50
	// hold keeps every caller on the line until the benchmark ends.
	hold = 10 * time.Minute
	// gcCycles is how many completed collections a reading spans.
	gcCycles = 3
	// readWindow bounds one reading; a quiet server may collect less
	// often than gcCycles in this time.
	readWindow = 45 * time.Second
	// scrapeInterval is the pause between two scrapes of one reading.
	scrapeInterval = 200 * time.Millisecond
	// levelTimeout bounds the wait for the callers or calls of one level.
	levelTimeout = 3 * time.Minute
	// warmUpCallers go through the IVR and the queue and hang up before
	// the first reading, so that one-time allocations are not counted
	// against the first level.
	warmUpCallers = 10
	warmUpHold    = 2 * time.Second
)

func TestMain(m *testing.M) { os.Exit(e2e.RunTests(m)) }

// reading is the server's memory at one level.
type reading struct {
	Level int `json:"level"`
	// HeapInuse and HeapAlloc are the minimum over the reading's scrapes.
	HeapInuse float64 `json:"heap_inuse_bytes"`
	HeapAlloc float64 `json:"heap_alloc_bytes"`
	// StackInuse is goroutine stacks, which the heap figures leave out.
	StackInuse float64 `json:"stack_inuse_bytes"`
	RSS        float64 `json:"rss_bytes"`
	Goroutines float64 `json:"goroutines"`
	GCs        float64 `json:"gc_cycles"`
	Scrapes    int     `json:"scrapes"`
}

// result is the JSON file of one kind of load.
type result struct {
	Benchmark string           `json:"benchmark"`
	Load      string           `json:"load"`
	Machine   benchkit.Machine `json:"machine"`
	GOGC      string           `json:"gogc"`
	Readings  []reading        `json:"readings"`
	// HeapInuseSlope and HeapAllocSlope are bytes per caller or call.
	HeapInuseSlope  float64 `json:"heap_inuse_bytes_per_unit"`
	HeapAllocSlope  float64 `json:"heap_alloc_bytes_per_unit"`
	StackSlope      float64 `json:"stack_inuse_bytes_per_unit"`
	RSSSlope        float64 `json:"rss_bytes_per_unit"`
	GoroutinesSlope float64 `json:"goroutines_per_unit"`
}

// BenchmarkMemory runs both loads once, whatever b.N: run it with
// -benchtime 1x.
func BenchmarkMemory(b *testing.B) {
	b.Run("waiting", func(b *testing.B) { runWaiting(b, parseLevels(b, *waitingLevels)) })
	b.Run("bridged", func(b *testing.B) { runBridged(b, parseLevels(b, *bridgedLevels)) })
}

func parseLevels(b *testing.B, text string) []int {
	var levels []int
	for _, field := range strings.Split(text, ",") {
		level, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || level < 0 {
			b.Fatalf("invalid level %q in %q: use ascending counts such as 0,100,500", field, text)
		}
		levels = append(levels, level)
	}
	if !slices.IsSorted(levels) {
		b.Fatalf("levels %q are not ascending", text)
	}
	return levels
}

// startServer starts a pinned server with room for the largest level's
// RTP ports (two per leg) and runs the warm-up callers.
func startServer(b *testing.B, counselors, legs int) (*e2e.Server, *benchkit.API) {
	benchkit.PinLoad(b)
	srv := benchkit.StartServer(b, benchkit.ServerSetup{
		Counselors: counselors,
		RTPPorts:   max(200, 2*legs+100),
		Env:        []string{"GOGC=" + gogc},
	})
	api := benchkit.NewAPI(srv)

	warmUp := benchkit.StartCallers(b, srv, benchkit.CallerLoad{Rate: callerRate, Limit: warmUpCallers, Total: warmUpCallers, Hold: warmUpHold})
	warmUp.Wait(b)
	if err := waitWaiting(b.Context(), api, 0); err != nil {
		b.Fatal(err)
	}
	return srv, api
}

func runWaiting(b *testing.B, levels []int) {
	ctx := b.Context()
	srv, api := startServer(b, 0, levels[len(levels)-1])

	var readings []reading
	placed := 0
	for _, level := range levels {
		if level > placed {
			benchkit.StartCallers(b, srv, benchkit.CallerLoad{Rate: callerRate, Limit: level - placed, Total: level - placed, Hold: hold})
			placed = level
		}
		if err := waitWaiting(ctx, api, level); err != nil {
			b.Fatal(err)
		}
		readings = append(readings, read(b, ctx, api, level))
	}
	report(b, "waiting", readings)
}

func runBridged(b *testing.B, levels []int) {
	ctx := b.Context()
	top := levels[len(levels)-1]
	srv, api := startServer(b, top, 2*top)

	phone, err := benchkit.StartPhone(benchkit.PhoneOptions{
		Server: benchkit.ServerAddr(srv), Passwords: benchkit.Passwords(top), Talk: hold,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(phone.Close)
	if err := phone.KeepRegistered(ctx); err != nil {
		b.Fatal(err)
	}

	var readings []reading
	placed := 0
	for _, level := range levels {
		if level > placed {
			var ids []string
			for i := placed; i < level; i++ {
				ids = append(ids, benchkit.CounselorID(i))
			}
			if err := api.LoginAll(ctx, ids, levelTimeout); err != nil {
				b.Fatal(err)
			}
			benchkit.StartCallers(b, srv, benchkit.CallerLoad{Rate: callerRate, Limit: level - placed, Total: level - placed, Hold: hold})
			placed = level
		}
		if err := waitBridged(ctx, api, level); err != nil {
			b.Fatal(err)
		}
		readings = append(readings, read(b, ctx, api, level))
	}
	report(b, "bridged", readings)
}

// waitWaiting waits until exactly n callers wait in the benchmark queue.
func waitWaiting(ctx context.Context, api *benchkit.API, n int) error {
	return benchkit.WaitFor(ctx, levelTimeout, fmt.Sprintf("%d waiting callers", n), func() (bool, error) {
		scrape, err := api.Metrics(ctx)
		if err != nil {
			return false, err
		}
		return scrape.Labeled(benchkit.MetricWaiting, "queue", benchkit.BenchQueue) == float64(n), nil
	})
}

// waitBridged waits until n counselors are on a call and no caller waits.
func waitBridged(ctx context.Context, api *benchkit.API, n int) error {
	return benchkit.WaitFor(ctx, levelTimeout, fmt.Sprintf("%d bridged calls", n), func() (bool, error) {
		scrape, err := api.Metrics(ctx)
		if err != nil {
			return false, err
		}
		onCall := scrape.Labeled(benchkit.MetricCounselors, "state", "on_call")
		waiting := scrape.Labeled(benchkit.MetricWaiting, "queue", benchkit.BenchQueue)
		return onCall == float64(n) && waiting == 0, nil
	})
}

// read scrapes /metrics until gcCycles collections completed or
// readWindow passed, and keeps the smallest heap figures.
func read(b *testing.B, ctx context.Context, api *benchkit.API, level int) reading {
	r := reading{Level: level, HeapInuse: math.Inf(1), HeapAlloc: math.Inf(1)}
	firstGC := -1.0
	deadline := time.Now().Add(readWindow)
	for {
		scrape, err := api.Metrics(ctx)
		if err != nil {
			b.Fatal(err)
		}
		r.Scrapes++
		gcs, _ := scrape.Value(benchkit.MetricGCCount)
		if firstGC < 0 {
			firstGC = gcs
		}
		inuse, _ := scrape.Value(benchkit.MetricHeapInuse)
		alloc, _ := scrape.Value(benchkit.MetricHeapAlloc)
		r.HeapInuse = min(r.HeapInuse, inuse)
		r.HeapAlloc = min(r.HeapAlloc, alloc)
		r.StackInuse, _ = scrape.Value(benchkit.MetricStackInuse)
		r.RSS, _ = scrape.Value(benchkit.MetricRSS)
		r.Goroutines, _ = scrape.Value(benchkit.MetricGoroutines)
		r.GCs = gcs - firstGC
		if r.GCs >= gcCycles || time.Now().After(deadline) {
			return r
		}
		time.Sleep(scrapeInterval)
	}
}

func report(b *testing.B, load string, readings []reading) {
	var levels, inuse, alloc, stack, rss, goroutines []float64
	for _, r := range readings {
		levels = append(levels, float64(r.Level))
		inuse = append(inuse, r.HeapInuse)
		alloc = append(alloc, r.HeapAlloc)
		stack = append(stack, r.StackInuse)
		rss = append(rss, r.RSS)
		goroutines = append(goroutines, r.Goroutines)
	}
	res := result{
		Benchmark:       "memory",
		Load:            load,
		Machine:         benchkit.DescribeMachine(),
		GOGC:            gogc,
		Readings:        readings,
		HeapInuseSlope:  benchkit.Slope(levels, inuse),
		HeapAllocSlope:  benchkit.Slope(levels, alloc),
		StackSlope:      benchkit.Slope(levels, stack),
		RSSSlope:        benchkit.Slope(levels, rss),
		GoroutinesSlope: benchkit.Slope(levels, goroutines),
	}
	b.ReportMetric(res.HeapInuseSlope, "heap-B/"+load)
	path, err := benchkit.WriteResult(e2e.RepoRoot(b), "memory-"+load, res)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range readings {
		b.Logf("%s %d: heap in use %.0f B, heap alloc %.0f B, stacks %.0f B, RSS %.0f B, %.0f goroutines, %.0f GCs over %d scrapes",
			load, r.Level, r.HeapInuse, r.HeapAlloc, r.StackInuse, r.RSS, r.Goroutines, r.GCs, r.Scrapes)
	}
	b.Logf("%s: %.0f B heap in use, %.0f B heap alloc, %.0f B stacks, %.0f B RSS, %.2f goroutines per unit; %s",
		load, res.HeapInuseSlope, res.HeapAllocSlope, res.StackSlope, res.RSSSlope, res.GoroutinesSlope, path)
}
