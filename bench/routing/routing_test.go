// Package routing measures routing latency end to end: the time from a
// counselor becoming free (the end of wrap-up, posted to the API) to the
// INVITE of the next waiting caller arriving at that counselor's phone.
// It runs the server in embedded mode (queue in memory) and in shared mode
// (queue in Redis, records in PostgreSQL). Run it with bench/routing/run.
package routing

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"helpline/bench/benchkit"
	"helpline/e2e"
)

var samples = flag.Int("routing.samples", 200, "latency samples per mode")

// Benchmark settings.
const (
	// counselors take turns: each sample frees the next one.
	counselors = 4
	// wrapUp keeps a counselor in wrap-up until the benchmark ends it
	// through the API; 5m is queue.max_wrap_up in the example.
	wrapUp = "5m"
	// callerRate and callerLimit keep callers waiting at every sample.
	callerRate  = 10
	callerLimit = 30
	// spareCallers are placed beyond one per sample, so that the queue
	// is never empty when the last samples are taken.
	spareCallers = callerLimit + counselors
	// talk is how long the phone keeps each call before its BYE.
	talk = 100 * time.Millisecond
	// rtpPorts leaves room for the calls still ending and for other
	// processes that bind ports in the range after the harness chose it.
	rtpPorts = 1000
	// offerTimeout bounds the wait for one INVITE.
	offerTimeout = 10 * time.Second
	// settleTimeout bounds the wait for a counselor to reach wrap-up and
	// for a caller to be waiting.
	settleTimeout = 30 * time.Second
)

func TestMain(m *testing.M) {
	if os.Getenv(referenceEnv) != "" {
		os.Exit(runReferenceRouter())
	}
	os.Exit(e2e.RunTests(m))
}

// result is the JSON file of one mode.
type result struct {
	Benchmark string            `json:"benchmark"`
	Mode      string            `json:"mode"`
	Machine   benchkit.Machine  `json:"machine"`
	Latency   benchkit.Summary  `json:"latency"`
	APIRound  benchkit.Summary  `json:"api_round_trip"`
	Early     int               `json:"invite_before_api_response"`
	Settings  map[string]string `json:"settings"`
}

// BenchmarkRoutingLatency runs the reference and every mode once,
// whatever b.N: run it with -benchtime 1x.
func BenchmarkRoutingLatency(b *testing.B) {
	if *samples <= 0 {
		b.Fatalf("-routing.samples must be positive, got %d", *samples)
	}
	b.Run("reference", runReference)
	b.Run("embedded", func(b *testing.B) { runMode(b, "embedded", nil, nil) })
	b.Run("redis", func(b *testing.B) {
		redis := e2e.StartRedis(b)
		postgres := e2e.StartPostgres(b)
		shared := func(cfg map[string]any) {
			e2e.SharedConfig(cfg, "node-a", []string{redis.Addr}, "")
		}
		runMode(b, "redis", shared, []string{postgres.DSNEnv()})
	})
}

func runMode(b *testing.B, mode string, mutate func(map[string]any), env []string) {
	benchkit.PinLoad(b)
	ctx := b.Context()

	srv := benchkit.StartServer(b, benchkit.ServerSetup{
		Counselors: counselors,
		RTPPorts:   rtpPorts,
		Env:        env,
		Mutate: func(cfg map[string]any) {
			e2e.MustSetConfig(b, cfg, "queue.wrap_up", wrapUp)
			if mutate != nil {
				mutate(cfg)
			}
		},
	})
	api := benchkit.NewAPI(srv)
	phone, ids := startCounselors(b, srv, api)

	benchkit.StartCallers(b, srv, benchkit.CallerLoad{
		Rate: callerRate, Limit: callerLimit, Total: *samples + spareCallers, Hold: 5 * time.Minute,
	})
	// Every counselor takes one caller first and so reaches wrap-up.
	for range ids {
		if _, err := nextOffer(phone, 2*settleTimeout); err != nil {
			b.Fatalf("first offers: %v", err)
		}
	}

	b.ResetTimer()
	latencies, rounds, early := measure(b, ctx, api, phone, ids)
	b.StopTimer()

	res := result{
		Benchmark: "routing_latency",
		Mode:      mode,
		Machine:   benchkit.DescribeMachine(),
		Latency:   benchkit.Summarize(latencies),
		APIRound:  benchkit.Summarize(rounds),
		Early:     early,
		Settings: map[string]string{
			"counselors": fmt.Sprint(counselors), "caller_rate": fmt.Sprint(callerRate),
			"caller_limit": fmt.Sprint(callerLimit), "event": "POST /api/v1/counselors/{id}/wrap-up/end",
		},
	}
	writeResult(b, res)
	if errs := phone.Errors(); len(errs) > 0 {
		b.Logf("%s: the phone reported %d errors: %v", mode, len(errs), errs)
	}
}

// runReference times the reference router with the same phone and the
// same clock points as the modes.
func runReference(b *testing.B) {
	benchkit.PinLoad(b)
	router := startReferenceRouter(b)
	phone, err := benchkit.StartPhone(benchkit.PhoneOptions{Server: netip.MustParseAddrPort("127.0.0.1:9"), Passwords: benchkit.Passwords(counselors)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(phone.Close)

	b.ResetTimer()
	latencies := measureReference(b, b.Context(), phone, router)
	b.StopTimer()

	res := result{
		Benchmark: "routing_latency",
		Mode:      "reference",
		Machine:   benchkit.DescribeMachine(),
		Latency:   benchkit.Summarize(latencies),
		Settings:  map[string]string{"event": "POST /free to the reference router, which sends an INVITE without SDP"},
	}
	writeResult(b, res)
}

func writeResult(b *testing.B, res result) {
	b.ReportMetric(res.Latency.P50Ms, "p50-ms")
	b.ReportMetric(res.Latency.P99Ms, "p99-ms")
	path, err := benchkit.WriteResult(e2e.RepoRoot(b), "routing-"+res.Mode, res)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d samples, latency p50 %.3f ms p99 %.3f ms max %.3f ms; API round trip p50 %.3f ms; %d INVITEs before the API response; %s",
		res.Mode, res.Latency.Count, res.Latency.P50Ms, res.Latency.P99Ms, res.Latency.MaxMs, res.APIRound.P50Ms, res.Early, path)
}

// startCounselors registers the benchmark counselors on one phone that
// answers and hangs up after the talk time, and logs them in.
func startCounselors(b *testing.B, srv *e2e.Server, api *benchkit.API) (*benchkit.Phone, []string) {
	passwords := benchkit.Passwords(counselors)
	phone, err := benchkit.StartPhone(benchkit.PhoneOptions{Server: benchkit.ServerAddr(srv), Passwords: passwords, Talk: talk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(phone.Close)
	if err := phone.KeepRegistered(b.Context()); err != nil {
		b.Fatal(err)
	}

	ids := make([]string, 0, counselors)
	for i := range counselors {
		ids = append(ids, benchkit.CounselorID(i))
	}
	if err := api.LoginAll(b.Context(), ids, settleTimeout); err != nil {
		b.Fatal(err)
	}
	return phone, ids
}

// measure takes the samples: each frees the next counselor whose call
// ended, while callers wait, and times the INVITE that follows. A
// counselor who does not reach wrap-up in time (its phone missed an ACK,
// say) leaves the rotation, and the benchmark fails only when none is
// left.
func measure(b *testing.B, ctx context.Context, api *benchkit.API, phone *benchkit.Phone, ids []string) (latencies, rounds []time.Duration, early int) {
	rotation := slices.Clone(ids)
	for i := 0; len(latencies) < *samples; i++ {
		if len(rotation) == 0 {
			b.Fatalf("every counselor left the rotation after %d samples; phone errors: %v", len(latencies), phone.Errors())
		}
		id := rotation[i%len(rotation)]
		if err := waitReady(ctx, api, id); err != nil {
			b.Logf("sample %d: %v; counselor %s leaves the rotation; phone errors so far: %v", len(latencies), err, id, phone.Errors())
			rotation = slices.DeleteFunc(rotation, func(other string) bool { return other == id })
			continue
		}

		start := time.Now()
		status, err := api.Post(ctx, "/api/v1/counselors/"+id+"/wrap-up/end", nil)
		answered := time.Now()
		if err != nil || status != http.StatusOK {
			b.Fatalf("sample %d: ending the wrap-up of %s: status %d, %v", len(latencies), id, status, err)
		}
		offer, err := nextOffer(phone, offerTimeout)
		if err != nil {
			b.Fatalf("sample %d: %v", len(latencies), err)
		}
		if offer.User != id {
			b.Fatalf("sample %d: INVITE went to %s, expected %s", len(latencies), offer.User, id)
		}
		latencies = append(latencies, offer.Received.Sub(start))
		rounds = append(rounds, answered.Sub(start))
		if offer.Received.Before(answered) {
			early++
		}
	}
	return latencies, rounds, early
}

// waitReady waits until counselor id is in wrap-up and a caller waits in
// the benchmark queue.
func waitReady(ctx context.Context, api *benchkit.API, id string) error {
	return benchkit.WaitFor(ctx, settleTimeout, "counselor "+id+" in wrap-up with a caller waiting", func() (bool, error) {
		states, err := api.States(ctx)
		if err != nil || states[id] != "wrap_up" {
			return false, err
		}
		scrape, err := api.Metrics(ctx)
		if err != nil {
			return false, err
		}
		return scrape.Labeled(benchkit.MetricWaiting, "queue", benchkit.BenchQueue) >= 1, nil
	})
}

func nextOffer(phone *benchkit.Phone, timeout time.Duration) (benchkit.Offer, error) {
	select {
	case offer := <-phone.Offers:
		return offer, nil
	case <-time.After(timeout):
		return benchkit.Offer{}, fmt.Errorf("no INVITE reached the phone within %s", timeout)
	}
}
