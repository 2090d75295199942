package mediabench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpline/e2e"
)

// IVR playback benchmark settings.
const (
	// longPrompt is the prompt every call hears: a tone that outlasts
	// the largest step.
	longPrompt         = "bench_long"
	longPromptDuration = 5 * time.Minute
	longPromptHz       = 440
	longPromptLevel    = 0.3
	// jitterLimit is the p99 pacing deviation the sweep looks for.
	jitterLimit = 5 * time.Millisecond
	// A median deviation above brokenJitter, or more than brokenLoss of
	// the packets missing, ends the sweep, because more calls would only
	// measure an overloaded machine. The median, unlike the p99, does not jump
	// when another process on a shared machine takes the core for a
	// moment.
	brokenJitter = 5 * time.Millisecond
	brokenLoss   = 0.05
)

var (
	ivrStepsFull  = []int{10, 50, 100, 200, 400, 800}
	ivrStepsQuick = []int{10, 100, 400}
)

// pacingResult is one side of an IVR step: helpline or the reference.
type pacingResult struct {
	Streams int `json:"streams"`
	// Packets counts the packets that arrived inside the window. Expected
	// is 50 per stream and second.
	Packets  int `json:"packets"`
	Expected int `json:"expected"`
	// SeqGaps counts packets missing from the RTP sequence numbers.
	SeqGaps     int     `json:"seq_gaps"`
	JitterP50us float64 `json:"jitter_p50_us"`
	JitterP99us float64 `json:"jitter_p99_us"`
	JitterMaxus float64 `json:"jitter_max_us"`
	CPU         cpuUse  `json:"cpu"`
	// CPUPerCallPercent is the sender's CPU time over the window divided
	// by the streams and the seconds, in percent of one core.
	CPUPerCallPercent float64 `json:"cpu_per_call_percent"`
	// AllocsPerPacket and AllocBytesPerPacket are helpline's heap
	// allocations over the window, all of them, divided by the packets
	// that arrived: an upper bound of what one packet costs.
	AllocsPerPacket     float64 `json:"allocs_per_packet,omitempty"`
	AllocBytesPerPacket float64 `json:"alloc_bytes_per_packet,omitempty"`
	KernelTimestamps    bool    `json:"kernel_timestamps"`
}

type ivrStep struct {
	Calls     int          `json:"calls"`
	Helpline  pacingResult `json:"helpline"`
	Reference pacingResult `json:"reference"`
}

type ivrRun struct {
	Machine machine   `json:"machine"`
	Steps   []ivrStep `json:"steps"`
	// JitterLimitCalls is the first step whose helpline p99 exceeded
	// 5 ms, 0 when none did.
	JitterLimitCalls int `json:"jitter_limit_calls"`
	// Broken is the reason the sweep stopped at a step it could not measure.
	Broken string `json:"broken,omitempty"`
}

// BenchmarkIVRPlayback measures the pacing of the menu's prompt as the
// number of concurrent calls grows, beside mediaref send. The sweep runs
// once whatever b.N is; run it with -benchtime 1x (bench/media/run does).
func BenchmarkIVRPlayback(b *testing.B) {
	run := ivrRun{Machine: describeMachine()}
	promptDir := writeLongPrompt(b)

	sweep(b, "calls", steps(b, ivrStepsFull, ivrStepsQuick), func(b *testing.B, calls int) bool {
		helpline, err := measureIVRHelpline(b, calls, promptDir)
		if err != nil {
			run.Broken = fmt.Sprintf("%d calls: %v", calls, err)
			b.Logf("stopping the sweep at %s", run.Broken)
			return false
		}
		step := ivrStep{Calls: calls, Helpline: helpline, Reference: measureIVRReference(b, calls)}
		b.ReportMetric(step.Helpline.JitterP99us, "p99-jitter-us")
		b.ReportMetric(step.Reference.JitterP99us, "ref-p99-jitter-us")
		b.ReportMetric(step.Helpline.CPUPerCallPercent, "cpu%/call")
		b.ReportMetric(step.Reference.CPUPerCallPercent, "ref-cpu%/call")

		run.Steps = append(run.Steps, step)
		if run.JitterLimitCalls == 0 && step.Helpline.JitterP99us > Micros(jitterLimit) {
			run.JitterLimitCalls = calls
		}
		if ivrBroken(step.Helpline) {
			b.Logf("stopping the sweep at %d calls: p50 %.0f µs, %d of %d packets missing",
				calls, step.Helpline.JitterP50us, step.Helpline.Expected-step.Helpline.Packets, step.Helpline.Expected)
			return false
		}
		return true
	})

	report(b, "bench-media-ivr", run, len(run.Steps) > 0 || run.Broken != "", ivrTable(run))
}

func ivrBroken(r pacingResult) bool {
	missing := float64(r.Expected-r.Packets) / float64(max(r.Expected, 1))
	return r.JitterP50us > Micros(brokenJitter) || missing > brokenLoss
}

// writeLongPrompt writes the long prompt into a new prompt folder and
// returns the folder.
func writeLongPrompt(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	// The server checks at start that every prompt exists in both
	// languages.
	for _, language := range []string{"ko", "en"} {
		path := filepath.Join(dir, language, longPrompt+".wav")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatalf("creating the prompt folder: %v", err)
		}
		if err := e2e.WriteToneWAV(path, longPromptDuration, longPromptHz, longPromptLevel); err != nil {
			tb.Fatalf("writing the long prompt: %v", err)
		}
	}
	return dir
}

// longPromptMenu makes every call hear the long prompt and then hang up.
func longPromptMenu(promptDir string) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		_ = e2e.SetConfig(cfg, "ivr.prompt_dir", promptDir)
		_ = e2e.SetConfig(cfg, "ivr.default_language", "ko")
		_ = e2e.SetConfig(cfg, "ivr.start", "long")
		_ = e2e.SetConfig(cfg, "ivr.nodes", map[string]any{
			"long": map[string]any{"play": []any{longPrompt}, "hangup": true},
		})
		// The callers send no RTP, so the media timeout stays off.
		_ = e2e.SetConfig(cfg, "rtp.media_timeout", "0s")
	}
}

// measureIVRHelpline places calls that hear the long prompt and measures
// the arrival of its packets. It returns an error when the calls could not
// be set up, which ends the sweep.
func measureIVRHelpline(b *testing.B, calls int, promptDir string) (pacingResult, error) {
	srv := startHelpline(b, calls, longPromptMenu(promptDir))

	length := measureWindow()
	window := &Window{}
	endpoints, err := OpenEndpoints(calls, window, packetsIn(length))
	if err != nil {
		b.Fatal(err)
	}
	defer CloseEndpoints(endpoints)
	peer, err := NewPeer(srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	// Stopped before the peer closes, so that the peer still responds to
	// the drain's BYE requests.
	defer srv.Stop(b)

	began := time.Now()
	placed, err := placeCalls(peer, endpoints, false, "")
	if err != nil {
		return pacingResult{}, err
	}
	if err := streamsReady("the prompt on every call", endpoints, func(e *Endpoint) bool { return e.Received() > 0 }); err != nil {
		return pacingResult{}, err
	}
	b.Logf("%d calls: prompt on every call after %s, %d stray SIP responses",
		calls, time.Since(began).Round(time.Millisecond), peer.StrayResponses())
	use := measure(b, window, srv.PID(), srv, length)
	hangUp(b, placed)
	return pacingOf(CloseEndpoints(endpoints), use), nil
}

// measureIVRReference runs mediaref send with one stream per endpoint and
// measures it the same way.
func measureIVRReference(b *testing.B, streams int) pacingResult {
	length := measureWindow()
	window := &Window{}
	endpoints, err := OpenEndpoints(streams, window, packetsIn(length))
	if err != nil {
		b.Fatal(err)
	}
	defer CloseEndpoints(endpoints)

	ref, _ := startReference(b, "send", "-dests", writeDestinations(b, endpoints))
	defer ref.stop()
	waitStreams(b, "the reference streams", endpoints, func(e *Endpoint) bool { return e.Received() > 0 })
	use := measure(b, window, ref.pid(), nil, length)
	return pacingOf(CloseEndpoints(endpoints), use)
}

// writeDestinations writes the endpoints' addresses for mediaref send and
// returns the file's path.
func writeDestinations(tb testing.TB, endpoints []*Endpoint) string {
	tb.Helper()
	var dests strings.Builder
	for _, e := range endpoints {
		dests.WriteString(e.AddrPort().String() + "\n")
	}
	path := filepath.Join(tb.TempDir(), "dests")
	if err := os.WriteFile(path, []byte(dests.String()), 0o644); err != nil {
		tb.Fatalf("writing the destinations: %v", err)
	}
	return path
}

// packetsIn returns how many packets one stream sends in length, with
// room to spare.
func packetsIn(length time.Duration) int {
	return int(length/PacketInterval) + 16
}

// placeCalls calls 120 once per endpoint and returns the calls. Calls that
// failed are nil.
func placeCalls(peer *Peer, endpoints []*Endpoint, talk bool, digits string) ([]*Call, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	placed := make([]*Call, len(endpoints))
	err := forEach(len(endpoints), func(i int) error {
		call, err := peer.Call(ctx, CallOptions{
			Number:   "120",
			Caller:   fmt.Sprintf("0105555%04d", i),
			Endpoint: endpoints[i],
			Talk:     talk,
			Digits:   digits,
		})
		placed[i] = call
		return err
	})
	if err != nil {
		return placed, fmt.Errorf("placing %d calls: %w", len(endpoints), err)
	}
	return placed, nil
}

// hangUp sends BYE on every call.
func hangUp(b testing.TB, calls []*Call) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	err := forEach(len(calls), func(i int) error {
		if calls[i] == nil {
			return nil
		}
		return calls[i].Hangup(ctx)
	})
	if err != nil {
		b.Logf("hanging up: %v", err)
	}
}

func pacingOf(results []EndpointResult, use cpuUse) pacingResult {
	merged := Merge(results)
	streams := len(results)
	r := pacingResult{
		Streams:          streams,
		Packets:          merged.Packets,
		Expected:         int(use.Seconds * float64(time.Second/PacketInterval) * float64(streams)),
		SeqGaps:          merged.SeqGaps,
		JitterP50us:      Micros(Percentile(merged.Deviations, 50)),
		JitterP99us:      Micros(Percentile(merged.Deviations, 99)),
		JitterMaxus:      Micros(Percentile(merged.Deviations, 100)),
		CPU:              use,
		KernelTimestamps: merged.KernelTimestamps,
	}
	if streams > 0 && use.Seconds > 0 {
		r.CPUPerCallPercent = 100 * use.Target / use.Seconds / float64(streams)
	}
	if merged.Packets > 0 {
		r.AllocsPerPacket = use.Mallocs / float64(merged.Packets)
		r.AllocBytesPerPacket = use.AllocBytes / float64(merged.Packets)
	}
	return r
}

// ivrTable formats the run as a Markdown table.
func ivrTable(run ivrRun) string {
	var b strings.Builder
	b.WriteString("\n| calls | helpline p50 / p99 µs | reference p50 / p99 µs | p99 ratio | helpline CPU % per call | reference CPU % per call | CPU ratio | helpline allocs (bytes) per packet | helpline packets missing | load generator core share |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range run.Steps {
		h, r := s.Helpline, s.Reference
		fmt.Fprintf(&b, "| %d | %.0f / %.0f | %.0f / %.0f | %.1f | %.3f | %.3f | %.1f | %.2f (%.0f) | %d of %d | %.2f |\n",
			s.Calls, h.JitterP50us, h.JitterP99us, r.JitterP50us, r.JitterP99us, ratio(h.JitterP99us, r.JitterP99us),
			h.CPUPerCallPercent, r.CPUPerCallPercent, ratio(h.CPUPerCallPercent, r.CPUPerCallPercent),
			h.AllocsPerPacket, h.AllocBytesPerPacket, max(h.Expected-h.Packets, 0), h.Expected, h.CPU.LoadShare)
	}
	if run.JitterLimitCalls > 0 {
		fmt.Fprintf(&b, "\nhelpline p99 passed 5 ms at %d calls\n", run.JitterLimitCalls)
	} else {
		b.WriteString("\nhelpline p99 stayed under 5 ms at every step\n")
	}
	if run.Broken != "" {
		fmt.Fprintf(&b, "sweep stopped at %s\n", run.Broken)
	}
	return b.String()
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
