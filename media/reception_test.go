package media

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// recordingObserver is a ReceptionObserver that keeps what it is given.
type recordingObserver struct {
	mu sync.Mutex
	// received and lost sum AddReception by leg, and adds counts its
	// calls.
	received map[Leg]uint64
	lost     map[Leg]uint64
	adds     int
	streams  []StreamStats
	legs     []Leg
	// changed is closed and replaced at each call.
	changed chan struct{}
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{
		received: map[Leg]uint64{},
		lost:     map[Leg]uint64{},
		changed:  make(chan struct{}),
	}
}

func (o *recordingObserver) AddReception(leg Leg, received, lost uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.received[leg] += received
	o.lost[leg] += lost
	o.adds++
	o.signal()
}

func (o *recordingObserver) StreamEnded(leg Leg, stream StreamStats) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.streams = append(o.streams, stream)
	o.legs = append(o.legs, leg)
	o.signal()
}

// signal wakes waiters. The caller holds o.mu.
func (o *recordingObserver) signal() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// snapshot returns the totals of leg and a copy of the ended streams.
func (o *recordingObserver) snapshot(leg Leg) (received, lost uint64, streams []StreamStats, changed chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.received[leg], o.lost[leg], append([]StreamStats(nil), o.streams...), o.changed
}

// feedSequence records packets with the sequence numbers seqs, 20 ms
// apart, on one stream of a reception without an observer.
func feedSequence(seqs []uint16) *reception {
	r := &reception{}
	now := time.Unix(1000, 0)
	for i, seq := range seqs {
		header := rtp.Header{SSRC: 0x1234, SequenceNumber: seq, Timestamp: uint32(i) * FrameSamples}
		r.record(&header, true, G711ClockRate, now.Add(time.Duration(i)*20*time.Millisecond))
	}
	return r
}

func TestStreamReceptionSequences(t *testing.T) {
	tests := []struct {
		name       string
		seqs       []uint16
		received   uint64
		lost       uint64
		duplicates uint64
	}{
		{name: "in order", seqs: []uint16{100, 101, 102, 103, 104, 105}, received: 6},
		{name: "single packet", seqs: []uint16{7}, received: 1},
		{name: "loss", seqs: []uint16{100, 101, 103, 104, 107}, received: 5, lost: 3},
		{name: "reordered", seqs: []uint16{100, 102, 101, 104, 103}, received: 5},
		{name: "reordered before first", seqs: []uint16{101, 100, 102}, received: 3},
		{name: "late packet fills loss", seqs: []uint16{100, 101, 103, 104, 102}, received: 5},
		{name: "duplicates", seqs: []uint16{100, 101, 101, 102, 100, 102}, received: 3, duplicates: 3},
		{name: "duplicate of reordered", seqs: []uint16{100, 102, 101, 101, 103}, received: 4, duplicates: 1},
		{name: "wrap", seqs: []uint16{65533, 65534, 65535, 0, 1, 2}, received: 6},
		{name: "loss across wrap", seqs: []uint16{65534, 1, 2}, received: 3, lost: 2},
		{name: "reordered across wrap", seqs: []uint16{65535, 1, 0, 2}, received: 4},
		{name: "reordered before first across wrap", seqs: []uint16{0, 65535, 1}, received: 3},
		{name: "many wraps", seqs: wrappingSeqs(60000, 3*65536), received: 3 * 65536},
		{name: "restart", seqs: []uint16{100, 101, 102, 40000, 40001, 40002}, received: 6},
		{name: "restart with loss", seqs: []uint16{100, 102, 40000, 40001, 40003}, received: 5, lost: 2},
		{name: "stray jump", seqs: []uint16{100, 101, 30000, 102, 103}, received: 4},
		{name: "too late", seqs: []uint16{300, 301, 100, 302}, received: 3},
		{name: "duplicate at misorder limit", seqs: []uint16{200, 101, 101, 300, 201}, received: 4, lost: 196, duplicates: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := feedSequence(tt.seqs)
			stats := r.stream.stats()

			if stats.Received != tt.received {
				t.Errorf("received = %d, want %d", stats.Received, tt.received)
			}
			if stats.Lost != tt.lost {
				t.Errorf("lost = %d, want %d", stats.Lost, tt.lost)
			}
			if stats.Duplicates != tt.duplicates {
				t.Errorf("duplicates = %d, want %d", stats.Duplicates, tt.duplicates)
			}
		})
	}
}

// wrappingSeqs returns n consecutive sequence numbers from first,
// wrapping at 65535.
func wrappingSeqs(first uint16, n int) []uint16 {
	seqs := make([]uint16, n)
	for i := range seqs {
		seqs[i] = first + uint16(i)
	}
	return seqs
}

func TestSeqWindowShifts(t *testing.T) {
	for _, step := range []uint16{1, 5, 63, 64, 65, 100, 127, 128, 3000} {
		var w seqWindow
		w.mark(0)
		w.mark(10)
		w.advance(step)

		for _, behind := range []uint16{step, step + 10} {
			want := behind < seqWindowBits
			if got := w.has(behind); got != want {
				t.Errorf("after advance(%d): has(%d) = %v, want %v", step, behind, got, want)
			}
		}
		if w.has(step + 1) {
			t.Errorf("after advance(%d): has(%d) = true for a packet never marked", step, step+1)
		}
	}
}

func TestStreamReceptionJitter(t *testing.T) {
	// Four 20 ms packets: the third arrives 10 ms late. At 8 kHz the
	// transit times change by 0, +80 and -80 units, so
	// J = 0 + (80-0)/16 = 5, then J = 5 + (80-5)/16 = 9.6875 units, which
	// is 9.6875/8000 s = 1.2109375 ms. The maximum is the same.
	arrivals := []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 60 * time.Millisecond}
	r := &reception{}
	start := time.Unix(1000, 0)
	for i, arrival := range arrivals {
		header := rtp.Header{SSRC: 1, SequenceNumber: uint16(i), Timestamp: 4_294_967_000 + uint32(i)*FrameSamples}
		r.record(&header, true, G711ClockRate, start.Add(arrival))
	}

	stats := r.stream.stats()
	want := time.Duration(1_210_937)
	if diff := stats.Jitter - want; diff < -time.Nanosecond || diff > time.Nanosecond {
		t.Errorf("jitter = %v, want %v", stats.Jitter, want)
	}
	if stats.MaxJitter != stats.Jitter {
		t.Errorf("max jitter = %v, want the final %v", stats.MaxJitter, stats.Jitter)
	}
	if !stats.HasJitter {
		t.Error("HasJitter = false after four audio packets")
	}
}

func TestStreamReceptionSteadyJitterIsZero(t *testing.T) {
	r := &reception{}
	start := time.Unix(1000, 0)
	for i := range 500 {
		header := rtp.Header{SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i) * FrameSamples}
		r.record(&header, true, G711ClockRate, start.Add(time.Duration(i)*20*time.Millisecond))
	}

	if stats := r.stream.stats(); stats.MaxJitter != 0 {
		t.Errorf("max jitter of packets arriving exactly on time = %v, want 0", stats.MaxJitter)
	}
}

func TestStreamReceptionJitterSkipsEvents(t *testing.T) {
	// Telephone events of one key press repeat the start timestamp while
	// arriving 50 ms apart. They count as received but not for jitter.
	r := &reception{}
	start := time.Unix(1000, 0)
	for i := range 10 {
		header := rtp.Header{SSRC: 1, SequenceNumber: uint16(i), Timestamp: 8000}
		r.record(&header, false, G711ClockRate, start.Add(time.Duration(i)*50*time.Millisecond))
	}

	stats := r.stream.stats()
	if stats.HasJitter || stats.MaxJitter != 0 {
		t.Errorf("events gave a jitter estimate: HasJitter %v, max %v", stats.HasJitter, stats.MaxJitter)
	}
	if stats.Received != 10 {
		t.Errorf("received = %d, want 10", stats.Received)
	}
}

func TestTimestampUnits(t *testing.T) {
	tests := []struct {
		elapsed   time.Duration
		clockRate uint32
		want      uint32
	}{
		{elapsed: 20 * time.Millisecond, clockRate: 8000, want: 160},
		{elapsed: 1500 * time.Millisecond, clockRate: 8000, want: 12000},
		{elapsed: 125 * time.Microsecond, clockRate: 8000, want: 1},
		{elapsed: 10 * time.Millisecond, clockRate: 48000, want: 480},
		// 2^32 units at 8 kHz is about 6.2 days: the value wraps.
		{elapsed: (1<<32 + 160) * sampleDuration, clockRate: 8000, want: 160},
	}
	for _, tt := range tests {
		if got := timestampUnits(tt.elapsed, tt.clockRate); got != tt.want {
			t.Errorf("timestampUnits(%v, %d) = %d, want %d", tt.elapsed, tt.clockRate, got, tt.want)
		}
	}
}

func TestReceptionSSRCChangeEndsStream(t *testing.T) {
	observer := newRecordingObserver()
	r := &reception{observer: observer, leg: LegCaller}
	now := time.Unix(1000, 0)
	send := func(ssrc uint32, seq uint16) {
		now = now.Add(20 * time.Millisecond)
		header := rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: uint32(seq) * FrameSamples}
		r.record(&header, true, G711ClockRate, now)
	}

	for _, seq := range []uint16{10, 11, 13, 14, 17} {
		send(0xA, seq)
	}
	for _, seq := range []uint16{500, 501, 502} {
		send(0xB, seq)
	}
	r.end()

	received, lost, streams, _ := observer.snapshot(LegCaller)
	if len(streams) != 2 {
		t.Fatalf("%d streams ended, want 2: %+v", len(streams), streams)
	}
	first, second := streams[0], streams[1]
	if first.SSRC != 0xA || first.Received != 5 || first.Lost != 3 {
		t.Errorf("first stream = %+v, want SSRC 0xa, 5 received, 3 lost", first)
	}
	if second.SSRC != 0xB || second.Received != 3 || second.Lost != 0 {
		t.Errorf("second stream = %+v, want SSRC 0xb, 3 received, 0 lost", second)
	}
	if received != 8 || lost != 3 {
		t.Errorf("observer totals: received %d, lost %d, want 8 and 3", received, lost)
	}
	for _, leg := range observer.legs {
		if leg != LegCaller {
			t.Errorf("stream reported on leg %q, want %q", leg, LegCaller)
		}
	}
}

func TestReceptionReportsPeriodically(t *testing.T) {
	observer := newRecordingObserver()
	r := &reception{observer: observer, leg: LegCounselor}
	start := time.Unix(1000, 0)
	// 12 s of 20 ms packets, every tenth lost.
	packets := 600
	for i := range packets {
		if i%10 == 5 {
			continue
		}
		header := rtp.Header{SSRC: 7, SequenceNumber: uint16(i), Timestamp: uint32(i) * FrameSamples}
		r.record(&header, true, G711ClockRate, start.Add(time.Duration(i)*20*time.Millisecond))
	}

	received, lost, streams, _ := observer.snapshot(LegCounselor)
	if observer.adds != 2 {
		t.Errorf("AddReception called %d times in 12 s, want 2 (every 5 s)", observer.adds)
	}
	if len(streams) != 0 {
		t.Errorf("a stream ended before end: %+v", streams)
	}
	if received < 400 || lost < 40 {
		t.Errorf("reported before the end: received %d, lost %d, want at least 400 and 40", received, lost)
	}

	r.end()
	received, lost, streams, _ = observer.snapshot(LegCounselor)
	if received != 540 || lost != 60 {
		t.Errorf("totals after end: received %d, lost %d, want 540 and 60", received, lost)
	}
	if len(streams) != 1 {
		t.Errorf("%d streams ended, want 1", len(streams))
	}
}

func TestReceptionLostNeverDecreases(t *testing.T) {
	observer := newRecordingObserver()
	r := &reception{observer: observer, leg: LegCaller}
	start := time.Unix(1000, 0)
	record := func(seq uint16, at time.Duration) {
		header := rtp.Header{SSRC: 7, SequenceNumber: seq, Timestamp: uint32(seq) * FrameSamples}
		r.record(&header, true, G711ClockRate, start.Add(at))
	}

	// Packet 2 is missing when the report at 5 s runs, then arrives.
	record(0, 0)
	record(1, 20*time.Millisecond)
	record(3, 5*time.Second)
	record(2, 5*time.Second+time.Millisecond)
	r.end()

	received, lost, streams, _ := observer.snapshot(LegCaller)
	if received != 4 {
		t.Errorf("received = %d, want 4", received)
	}
	if lost != 1 {
		t.Errorf("lost counter = %d, want 1: a counter keeps what it reported", lost)
	}
	if len(streams) != 1 || streams[0].Lost != 0 {
		t.Errorf("ended stream = %+v, want 0 lost", streams)
	}
}

func TestReceptionEndWithoutPackets(t *testing.T) {
	observer := newRecordingObserver()
	r := &reception{observer: observer, leg: LegCaller}

	r.end()

	if _, _, streams, _ := observer.snapshot(LegCaller); len(streams) != 0 || observer.adds != 0 {
		t.Errorf("a session without packets reported %d adds and streams %+v", observer.adds, streams)
	}
}

// receptionBenchmarkHeaders returns the headers of a stream with loss,
// reordering and duplicates, to record in a loop.
func receptionBenchmarkHeaders() []rtp.Header {
	seqs := []uint16{0, 1, 3, 2, 4, 4, 6, 7, 8, 9}
	headers := make([]rtp.Header, 0, 1000)
	for round := range 100 {
		for _, seq := range seqs {
			seq += uint16(round * len(seqs))
			headers = append(headers, rtp.Header{SSRC: 9, SequenceNumber: seq, Timestamp: uint32(seq) * FrameSamples})
		}
	}
	return headers
}

// BenchmarkReceptionRecord measures the reception accounting of one
// packet, with an observer that takes every report.
func BenchmarkReceptionRecord(b *testing.B) {
	headers := receptionBenchmarkHeaders()
	r := &reception{observer: discardObserver{}, leg: LegCaller}
	now := time.Unix(1000, 0)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(20 * time.Millisecond)
		r.record(&headers[i%len(headers)], true, G711ClockRate, now)
		i++
	}
}

func TestReceptionRecordAllocatesNothing(t *testing.T) {
	headers := receptionBenchmarkHeaders()
	r := &reception{observer: discardObserver{}, leg: LegCaller}
	now := time.Unix(1000, 0)
	i := 0
	allocs := testing.AllocsPerRun(len(headers)*2, func() {
		// One second per packet, so that reports run as well.
		now = now.Add(time.Second)
		r.record(&headers[i%len(headers)], true, G711ClockRate, now)
		i++
	})
	if allocs != 0 {
		t.Errorf("recording a packet allocates %.1f times, want 0", allocs)
	}
}

// discardObserver is a ReceptionObserver that does nothing.
type discardObserver struct{}

func (discardObserver) AddReception(Leg, uint64, uint64) {}
func (discardObserver) StreamEnded(Leg, StreamStats)     {}
