package mediabench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpline/e2e"
)

// Bridged calls benchmark settings.
const (
	// counselorBase is the id of the first benchmark counselor; the
	// others follow.
	counselorBase = 7000
	// menuDigits reach the Korean loneliness queue in the example menu:
	// 5 for a counselor, then 1 for calling about oneself.
	menuDigits = "51"
	// lossLimit is the loss the sweep looks for, 0.1%.
	lossLimit = 0.001
)

var (
	bridgeStepsFull  = []int{10, 50, 100, 200, 400, 800}
	bridgeStepsQuick = []int{10, 100}
)

// relayResult is one path of a bridge step: through helpline, through the
// reference relay, or direct.
type relayResult struct {
	Pairs int `json:"pairs"`
	// Sent counts the peer's packets sent inside the window in both
	// directions, and Received those of them that arrived.
	Sent        int     `json:"sent"`
	Received    int     `json:"received"`
	LossPercent float64 `json:"loss_percent"`
	LatencyP50  float64 `json:"latency_p50_us"`
	LatencyP99  float64 `json:"latency_p99_us"`
	LatencyMean float64 `json:"latency_mean_us"`
	CPU         cpuUse  `json:"cpu"`
	// CPUPerPacketUs is the relay's CPU time over the window divided by
	// the packets it relayed that arrived.
	CPUPerPacketUs float64 `json:"cpu_per_packet_us"`
	// AllocsPerPacket and AllocBytesPerPacket are helpline's heap
	// allocations over the window, all of them, divided by the packets
	// relayed: an upper bound of what one packet costs.
	AllocsPerPacket     float64 `json:"allocs_per_packet,omitempty"`
	AllocBytesPerPacket float64 `json:"alloc_bytes_per_packet,omitempty"`
	KernelTimestamps    bool    `json:"kernel_timestamps"`
}

type bridgeStep struct {
	Pairs     int         `json:"pairs"`
	Helpline  relayResult `json:"helpline"`
	Reference relayResult `json:"reference"`
	Direct    relayResult `json:"direct"`
}

type bridgeRun struct {
	Machine machine      `json:"machine"`
	Steps   []bridgeStep `json:"steps"`
	// LossLimitPairs is the largest step whose helpline loss stayed
	// under 0.1%, 0 when none did.
	LossLimitPairs int `json:"loss_limit_pairs"`
	// Broken is the reason the sweep stopped at a step it could not measure.
	Broken string `json:"broken,omitempty"`
}

// BenchmarkBridgedCalls sends audio both ways through N caller-counselor
// pairs bridged by helpline, then through mediaref relay and directly.
// The sweep runs once whatever b.N is; run it with -benchtime 1x
// (bench/media/run does).
func BenchmarkBridgedCalls(b *testing.B) {
	run := bridgeRun{Machine: describeMachine()}

	sweep(b, "pairs", steps(b, bridgeStepsFull, bridgeStepsQuick), func(b *testing.B, pairs int) bool {
		helpline, err := measureBridgeHelpline(b, pairs)
		if err != nil {
			run.Broken = fmt.Sprintf("%d pairs: %v", pairs, err)
			b.Logf("stopping the sweep at %s", run.Broken)
			return false
		}
		step := bridgeStep{
			Pairs:     pairs,
			Helpline:  helpline,
			Reference: measureBridgeReference(b, pairs),
			Direct:    measureBridgeDirect(b, pairs),
		}
		b.ReportMetric(step.Helpline.CPUPerPacketUs, "cpu-us/packet")
		b.ReportMetric(step.Reference.CPUPerPacketUs, "ref-cpu-us/packet")
		b.ReportMetric(step.Helpline.LossPercent, "loss%")
		b.ReportMetric(step.Helpline.LatencyP50-step.Direct.LatencyP50, "added-p50-us")

		run.Steps = append(run.Steps, step)
		if step.Helpline.LossPercent < 100*lossLimit {
			run.LossLimitPairs = pairs
		}
		if step.Helpline.LossPercent > 100*brokenLoss {
			b.Logf("stopping the sweep at %d pairs: %.1f%% loss", pairs, step.Helpline.LossPercent)
			return false
		}
		return true
	})

	report(b, "bench-media-bridge", run, len(run.Steps) > 0 || run.Broken != "", bridgeTable(run))
}

// counselorID returns the id of benchmark counselor i.
func counselorID(i int) string {
	return strconv.Itoa(counselorBase + i)
}

// benchCounselors adds pairs counselors with the Korean skill to the
// example's counselors.
func benchCounselors(pairs int) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		list, _ := e2e.ConfigValue(cfg, "counselors").([]any)
		for i := range pairs {
			id := counselorID(i)
			list = append(list, map[string]any{
				"id":       id,
				"name":     "Bench " + id,
				"password": "bench-" + id,
				"skills":   map[string]any{"ko": 5},
			})
		}
		_ = e2e.SetConfig(cfg, "counselors", list)
	}
}

// measureBridgeHelpline registers and logs in pairs counselors, places
// pairs calls that press the menu keys, and measures the audio both ways
// once every call is bridged. It returns an error when the calls could not
// be set up, which ends the sweep.
func measureBridgeHelpline(b *testing.B, pairs int) (relayResult, error) {
	srv := startHelpline(b, 2*pairs, benchCounselors(pairs))

	length := measureWindow()
	window := &Window{}
	callers, counselors := openPairEndpoints(b, pairs, window, length)
	defer CloseEndpoints(callers)
	defer CloseEndpoints(counselors)
	peer, err := NewPeer(srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	// Stopped before the peer closes, so that the peer still responds to
	// the drain's BYE requests.
	defer srv.Stop(b)

	began := time.Now()
	registerCounselors(b, srv, peer, counselors)
	registered := time.Now()
	placed, err := placeCalls(peer, callers, true, menuDigits)
	if err != nil {
		return relayResult{}, err
	}
	answered := time.Now()
	all := append(append([]*Endpoint(nil), callers...), counselors...)
	if err := streamsReady("audio both ways on every bridged call", all, (*Endpoint).GotPeerPacket); err != nil {
		failed, firstErr := peer.AnswerErrors()
		saveServerLog(b, srv)
		return relayResult{}, fmt.Errorf("%w (%s; %d counselors failed to answer, first: %v)", err, unbridged(callers, counselors), failed, firstErr)
	}
	b.Logf("%d pairs: counselors registered and logged in after %s, calls answered after %s more, bridged after %s more, %d stray SIP responses",
		pairs, registered.Sub(began).Round(time.Millisecond), answered.Sub(registered).Round(time.Millisecond),
		time.Since(answered).Round(time.Millisecond), peer.StrayResponses())

	use := measure(b, window, srv.PID(), srv, length)
	hangUp(b, placed)
	waitByes(b, peer, pairs)
	return relayOf(pairs, CloseEndpoints(all), use), nil
}

// unbridged returns how many callers and counselors heard the other side.
func unbridged(callers, counselors []*Endpoint) string {
	var callersHearing, counselorsHearing int
	for i := range callers {
		if callers[i].GotPeerPacket() {
			callersHearing++
		}
		if counselors[i].GotPeerPacket() {
			counselorsHearing++
		}
	}
	return fmt.Sprintf("%d of %d callers heard a counselor, %d of %d counselors heard a caller",
		callersHearing, len(callers), counselorsHearing, len(counselors))
}

// openPairEndpoints opens the callers' and the counselors' endpoints.
func openPairEndpoints(b testing.TB, pairs int, window *Window, length time.Duration) (callers, counselors []*Endpoint) {
	b.Helper()
	callers, err := OpenEndpoints(pairs, window, packetsIn(length))
	if err != nil {
		b.Fatal(err)
	}
	counselors, err = OpenEndpoints(pairs, window, packetsIn(length))
	if err != nil {
		CloseEndpoints(callers)
		b.Fatal(err)
	}
	return callers, counselors
}

// registerCounselors registers one counselor per endpoint and logs each
// in through the API.
func registerCounselors(b testing.TB, srv *e2e.Server, peer *Peer, endpoints []*Endpoint) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	err := forEach(len(endpoints), func(i int) error {
		id := counselorID(i)
		_, err := peer.Register(ctx, id, "bench-"+id, endpoints[i])
		return err
	})
	if err != nil {
		b.Fatalf("registering %d counselors: %v", len(endpoints), err)
	}
	for i := range endpoints {
		srv.LoginCounselor(b, counselorID(i))
	}
}

// measureBridgeReference sends the same streams through mediaref relay.
func measureBridgeReference(b *testing.B, pairs int) relayResult {
	ref, line := startReference(b, "relay", "-pairs", strconv.Itoa(pairs))
	defer ref.stop()
	ports := parseRelayPorts(b, line, pairs)

	length := measureWindow()
	window := &Window{}
	all := sendPairs(b, pairs, window, "the reference relay", func(i int, _, _ []*Endpoint) (int, int) {
		return ports[i][0], ports[i][1]
	})
	defer CloseEndpoints(all)

	use := measure(b, window, ref.pid(), nil, length)
	return relayOf(pairs, CloseEndpoints(all), use)
}

// sendPairs opens the endpoints of pairs callers and counselors, has each
// send to the ports that destinations returns for its pair (the caller's
// first), and waits until every endpoint hears the other side through
// path. It returns the callers' endpoints followed by the counselors'.
func sendPairs(b *testing.B, pairs int, window *Window, path string, destinations func(i int, callers, counselors []*Endpoint) (int, int)) []*Endpoint {
	b.Helper()
	callers, counselors := openPairEndpoints(b, pairs, window, measureWindow())
	all := append(append([]*Endpoint(nil), callers...), counselors...)
	for i := range pairs {
		callerPort, counselorPort := destinations(i, callers, counselors)
		startSending(b, callers[i], callerPort)
		startSending(b, counselors[i], counselorPort)
	}
	if err := streamsReady("audio both ways through "+path, all, (*Endpoint).GotPeerPacket); err != nil {
		CloseEndpoints(all)
		b.Fatal(err)
	}
	return all
}

// relayPorts reads the port pairs from the line mediaref relay prints.
func relayPorts(line string, pairs int) ([][2]int, error) {
	var bound struct {
		Ports [][2]int `json:"ports"`
	}
	if err := json.Unmarshal([]byte(line), &bound); err != nil {
		return nil, fmt.Errorf("mediaref relay printed %q: %w", line, err)
	}
	if len(bound.Ports) != pairs {
		return nil, fmt.Errorf("mediaref relay printed %d port pairs, want %d", len(bound.Ports), pairs)
	}
	return bound.Ports, nil
}

func parseRelayPorts(tb testing.TB, line string, pairs int) [][2]int {
	tb.Helper()
	ports, err := relayPorts(line, pairs)
	if err != nil {
		tb.Fatal(err)
	}
	return ports
}

// measureBridgeDirect sends the same streams from each caller straight to
// its counselor and back, the latency floor of loopback.
func measureBridgeDirect(b *testing.B, pairs int) relayResult {
	length := measureWindow()
	window := &Window{}
	all := sendPairs(b, pairs, window, "loopback", func(i int, callers, counselors []*Endpoint) (int, int) {
		return counselors[i].Port(), callers[i].Port()
	})
	defer CloseEndpoints(all)

	start := time.Now()
	window.Set(start.Add(warmup), start.Add(warmup+length))
	time.Sleep(warmup + length + drainTime)
	return relayOf(pairs, CloseEndpoints(all), cpuUse{Seconds: length.Seconds()})
}

// waitByes waits for the server's BYE to every counselor.
func waitByes(b testing.TB, peer *Peer, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := peer.WaitByes(ctx, n); err != nil {
		b.Logf("waiting for the counselors' BYE: %v", err)
	}
}

func startSending(b testing.TB, e *Endpoint, port int) {
	b.Helper()
	destination := netip.AddrPortFrom(netip.MustParseAddr(e2e.Loopback), uint16(port))
	if err := e.Send(SendOptions{Destination: destination}); err != nil {
		b.Fatal(err)
	}
}

func relayOf(pairs int, results []EndpointResult, use cpuUse) relayResult {
	merged := Merge(results)
	r := relayResult{
		Pairs:            pairs,
		Sent:             merged.Sent,
		Received:         merged.PeerPackets,
		LatencyP50:       Micros(Percentile(merged.Latencies, 50)),
		LatencyP99:       Micros(Percentile(merged.Latencies, 99)),
		LatencyMean:      Micros(Mean(merged.Latencies)),
		CPU:              use,
		KernelTimestamps: merged.KernelTimestamps,
	}
	if merged.Sent > 0 {
		r.LossPercent = 100 * float64(max(merged.Sent-merged.PeerPackets, 0)) / float64(merged.Sent)
	}
	if merged.PeerPackets > 0 {
		r.CPUPerPacketUs = use.Target * 1e6 / float64(merged.PeerPackets)
		r.AllocsPerPacket = use.Mallocs / float64(merged.PeerPackets)
		r.AllocBytesPerPacket = use.AllocBytes / float64(merged.PeerPackets)
	}
	return r
}

// bridgeTable formats the run as a Markdown table.
func bridgeTable(run bridgeRun) string {
	var b strings.Builder
	b.WriteString("\n| pairs | packets/s relayed | helpline CPU µs/packet | reference CPU µs/packet | CPU ratio | helpline allocs (bytes) per packet | helpline loss % | reference loss % | latency p50 / p99 µs: direct | reference relay | helpline | load generator core share |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range run.Steps {
		h, r, d := s.Helpline, s.Reference, s.Direct
		fmt.Fprintf(&b, "| %d | %.0f | %.1f | %.1f | %.1f | %.2f (%.0f) | %.3f | %.3f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.2f |\n",
			s.Pairs, float64(h.Received)/float64(max(run.Machine.WindowSec, 1)), h.CPUPerPacketUs, r.CPUPerPacketUs,
			ratio(h.CPUPerPacketUs, r.CPUPerPacketUs), h.AllocsPerPacket, h.AllocBytesPerPacket, h.LossPercent, r.LossPercent,
			d.LatencyP50, d.LatencyP99, r.LatencyP50, r.LatencyP99, h.LatencyP50, h.LatencyP99, h.CPU.LoadShare)
	}
	if run.LossLimitPairs > 0 {
		fmt.Fprintf(&b, "\nlargest step with helpline loss under 0.1%%: %d pairs\n", run.LossLimitPairs)
	} else {
		b.WriteString("\nno step had helpline loss under 0.1%\n")
	}
	if run.Broken != "" {
		fmt.Fprintf(&b, "sweep stopped at %s\n", run.Broken)
	}
	return b.String()
}
