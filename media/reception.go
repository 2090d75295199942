package media

import (
	"math"
	"time"

	"github.com/pion/rtp"
)

// Leg is the role of a call leg, which labels its reception statistics.
// The set is small and fixed so that it can label a metric.
type Leg string

// The legs a session can have.
const (
	// LegCaller is the person who called the helpline, or who is called
	// back.
	LegCaller Leg = "caller"
	// LegCounselor is a counselor's or supervisor's registered phone.
	LegCounselor Leg = "counselor"
	// LegOutside is an outside number: a transfer target or an emergency
	// service.
	LegOutside Leg = "outside"
)

// Reception accounting limits (RFC 3550 appendix A.1).
const (
	// maxDropout bounds the forward jump in sequence numbers whose skipped
	// packets count as lost. A larger jump is ignored unless the next
	// packet confirms it as a restart.
	maxDropout = 3000
	// maxMisorder is how far behind the highest sequence number a packet
	// may arrive and still count as reordered instead of a restart.
	maxMisorder = 100
	// seqWindowBits is the size of the duplicate window. It is larger
	// than maxMisorder, so every packet counted as reordered is checked
	// for a duplicate.
	seqWindowBits = 128
	// seqRunBase starts the extended sequence numbers of a run one cycle
	// up, so that a packet reordered before the first one stays positive.
	seqRunBase = 1 << 16
	// noBadSeq is a badSeq value that no 16-bit sequence number equals.
	noBadSeq = math.MaxUint16 + 2
	// jitterGain is the inverse gain of the jitter estimate, 16 in RFC
	// 3550 section 6.4.1.
	jitterGain = 16
	// receptionReportInterval is how often a receiving session adds its
	// counts to the observer, so that long calls show before they end.
	receptionReportInterval = 5 * time.Second
)

// ReceptionObserver receives the reception statistics of the RTP streams
// that sessions receive, as a metrics collector does. Sessions call it on
// their receive goroutines, so an implementation must be safe for
// concurrent use and return quickly.
type ReceptionObserver interface {
	// AddReception adds the packets received and lost on a leg since the
	// session's previous report. A session reports every few seconds
	// while packets arrive, and once more when its stream ends.
	AddReception(leg Leg, received, lost uint64)
	// StreamEnded reports a received stream that ended, because its SSRC
	// changed or the session stopped receiving. Its counts have already
	// been added with AddReception.
	StreamEnded(leg Leg, stream StreamStats)
}

// StreamStats are the reception statistics of one received RTP stream,
// one SSRC, as RFC 3550 section 6.4.1 defines them.
type StreamStats struct {
	SSRC uint32
	// Received counts the packets received, duplicates excluded.
	Received uint64
	// Lost is the packets expected from the sequence numbers minus those
	// received. It is never negative.
	Lost uint64
	// Duplicates counts packets whose sequence number had arrived before.
	Duplicates uint64
	// HasJitter is true once two audio packets gave a jitter estimate.
	// Jitter is the interarrival jitter estimate when the stream ended,
	// and MaxJitter the highest estimate during the stream.
	HasJitter bool
	Jitter    time.Duration
	MaxJitter time.Duration
}

// seqWindow records which of the last seqWindowBits sequence numbers,
// counted back from the highest, have arrived. Bit i of the 128-bit value
// high:low is the packet i behind the highest.
type seqWindow struct {
	low, high uint64
}

// advance moves the window forward by n sequence numbers.
func (w *seqWindow) advance(n uint16) {
	switch {
	case n >= seqWindowBits:
		*w = seqWindow{}
	case n >= 64:
		w.high = w.low << (n - 64)
		w.low = 0
	default:
		w.high = w.high<<n | w.low>>(64-n)
		w.low <<= n
	}
}

// mark records the packet behind sequence numbers before the highest.
func (w *seqWindow) mark(behind uint16) {
	if behind < 64 {
		w.low |= 1 << behind
	} else if behind < seqWindowBits {
		w.high |= 1 << (behind - 64)
	}
}

// has reports whether the packet behind sequence numbers before the
// highest has arrived.
func (w *seqWindow) has(behind uint16) bool {
	if behind < 64 {
		return w.low&(1<<behind) != 0
	}
	if behind < seqWindowBits {
		return w.high&(1<<(behind-64)) != 0
	}
	return false
}

// streamReception accounts for one received stream: sequence numbers as
// in RFC 3550 appendix A.1 and interarrival jitter as in appendix A.8. A
// run is a part of the stream with continuous sequence numbers: a sender
// that restarts its sequence numbers without a new SSRC starts a new run.
type streamReception struct {
	active bool
	ssrc   uint32

	// maxSeq and baseSeq are the extended highest and lowest sequence
	// numbers of the current run, received counts its packets and seen
	// its recent sequence numbers.
	maxSeq   uint64
	baseSeq  uint64
	received uint64
	seen     seqWindow
	// badSeq is the sequence number that, arriving next, confirms a jump
	// as a restart. It is noBadSeq when no jump is pending.
	badSeq uint32
	// priorExpected and priorReceived sum the earlier runs.
	priorExpected uint64
	priorReceived uint64
	duplicates    uint64

	// epoch is the arrival of the stream's first packet, from which
	// arrival times in timestamp units count.
	epoch time.Time
	// clockRate is the rate of transit's and the timestamps' units.
	clockRate uint32
	// transit is the relative transit time of the last audio packet, in
	// timestamp units modulo 2^32, valid when hasTransit.
	transit    uint32
	hasTransit bool
	// jitter and maxJitter are in seconds.
	jitter    float64
	maxJitter float64
	hasJitter bool
}

// start begins a new stream with its first packet.
func (r *streamReception) start(ssrc uint32, seq uint16, now time.Time) {
	*r = streamReception{active: true, ssrc: ssrc, epoch: now}
	r.startRun(seq)
}

// startRun begins a run whose first packet, already received, is seq.
func (r *streamReception) startRun(seq uint16) {
	r.maxSeq = seqRunBase + uint64(seq)
	r.baseSeq = r.maxSeq
	r.received = 1
	r.seen = seqWindow{}
	r.seen.mark(0)
	r.badSeq = noBadSeq
}

// updateSequence accounts for a packet with sequence number seq after the
// first, and reports whether it counts as received: false for a duplicate
// or for the first packet after a jump.
func (r *streamReception) updateSequence(seq uint16) bool {
	delta := seq - uint16(r.maxSeq)
	switch {
	case delta == 0:
		r.duplicates++
		return false
	case delta < maxDropout:
		r.maxSeq += uint64(delta)
		r.seen.advance(delta)
		r.seen.mark(0)
		r.received++
		return true
	case uint32(delta) <= seqRunBase-maxMisorder:
		return r.jump(seq)
	default:
		return r.late(-delta)
	}
}

// jump handles a packet far from the highest sequence number. The first
// such packet is set aside. When the next packet follows it, the sender
// restarted its sequence numbers, and a new run starts with both.
func (r *streamReception) jump(seq uint16) bool {
	if uint32(seq) != r.badSeq {
		r.badSeq = uint32(seq + 1)
		return false
	}

	r.priorExpected += r.runExpected()
	r.priorReceived += r.received
	r.startRun(seq - 1)
	r.maxSeq++
	r.seen.advance(1)
	r.seen.mark(0)
	r.received++
	// The timestamps most likely restarted too.
	r.hasTransit = false
	return true
}

// late handles a packet that arrives behind sequence numbers after the
// highest one: reordered, or a duplicate.
func (r *streamReception) late(behind uint16) bool {
	if r.seen.has(behind) {
		r.duplicates++
		return false
	}
	r.seen.mark(behind)
	if extended := r.maxSeq - uint64(behind); extended < r.baseSeq {
		r.baseSeq = extended
	}
	r.received++
	return true
}

func (r *streamReception) runExpected() uint64 {
	return r.maxSeq - r.baseSeq + 1
}

func (r *streamReception) totalReceived() uint64 {
	return r.priorReceived + r.received
}

// lost returns the packets expected minus those received, never below 0.
func (r *streamReception) lost() uint64 {
	expected := r.priorExpected + r.runExpected()
	received := r.totalReceived()
	if received >= expected {
		return 0
	}
	return expected - received
}

// updateJitter adds an audio packet with RTP timestamp timestamp that
// arrived at now to the jitter estimate (RFC 3550 section 6.4.1):
// J += (|D| - J) / 16, where D is the change in transit time between
// consecutive packets.
func (r *streamReception) updateJitter(timestamp uint32, now time.Time, clockRate uint32) {
	if clockRate != r.clockRate {
		r.clockRate = clockRate
		r.hasTransit = false
	}

	arrival := timestampUnits(now.Sub(r.epoch), clockRate)
	transit := arrival - timestamp
	if !r.hasTransit {
		r.transit = transit
		r.hasTransit = true
		return
	}

	difference := int64(int32(transit - r.transit))
	r.transit = transit
	if difference < 0 {
		difference = -difference
	}
	seconds := float64(difference) / float64(clockRate)
	r.jitter += (seconds - r.jitter) / jitterGain
	r.maxJitter = max(r.maxJitter, r.jitter)
	r.hasJitter = true
}

// timestampUnits converts elapsed to units of a clock of clockRate Hz,
// modulo 2^32 as RTP timestamps are, without overflow for any duration.
func timestampUnits(elapsed time.Duration, clockRate uint32) uint32 {
	seconds := int64(elapsed / time.Second)
	rest := int64(elapsed % time.Second)
	return uint32(seconds*int64(clockRate) + rest*int64(clockRate)/int64(time.Second))
}

// stats returns the stream's statistics.
func (r *streamReception) stats() StreamStats {
	return StreamStats{
		SSRC:       r.ssrc,
		Received:   r.totalReceived(),
		Lost:       r.lost(),
		Duplicates: r.duplicates,
		HasJitter:  r.hasJitter,
		Jitter:     secondsToDuration(r.jitter),
		MaxJitter:  secondsToDuration(r.maxJitter),
	}
}

func secondsToDuration(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second))
}

// reception is a session's reception accounting: the current stream, the
// totals of the streams that ended, and the totals already reported to
// the observer. The receive goroutine owns it.
type reception struct {
	observer ReceptionObserver
	leg      Leg

	stream streamReception
	// endedReceived and endedLost sum the streams that ended.
	endedReceived uint64
	endedLost     uint64
	// reportedReceived and reportedLost are the totals the observer has
	// been given, and lastReport when.
	reportedReceived uint64
	reportedLost     uint64
	lastReport       time.Time
}

// record accounts for a valid packet from the latched source that arrived
// at now. Only audio packets feed the jitter estimate, because telephone
// events repeat the timestamp of the event's start. It allocates nothing.
func (r *reception) record(header *rtp.Header, audio bool, clockRate uint32, now time.Time) {
	counted := true
	if !r.stream.active || header.SSRC != r.stream.ssrc {
		r.end()
		r.stream.start(header.SSRC, header.SequenceNumber, now)
	} else {
		counted = r.stream.updateSequence(header.SequenceNumber)
	}
	if counted && audio {
		r.stream.updateJitter(header.Timestamp, now, clockRate)
	}

	if r.lastReport.IsZero() {
		r.lastReport = now
	} else if now.Sub(r.lastReport) >= receptionReportInterval {
		r.lastReport = now
		r.report()
	}
}

// report adds the packets received and lost since the last report to the
// observer.
//
// NOTE: a packet counted as lost in one report and arriving, reordered,
// before the next is still counted as lost, because a counter cannot go
// down. Reports every few seconds make that rare.
func (r *reception) report() {
	received := r.endedReceived
	lost := r.endedLost
	if r.stream.active {
		received += r.stream.totalReceived()
		lost += r.stream.lost()
	}

	addReceived := received - r.reportedReceived
	var addLost uint64
	if lost > r.reportedLost {
		addLost = lost - r.reportedLost
		r.reportedLost = lost
	}
	r.reportedReceived = received

	if r.observer != nil && (addReceived > 0 || addLost > 0) {
		r.observer.AddReception(r.leg, addReceived, addLost)
	}
}

// end reports the current stream's last counts and its statistics, and
// ends it. It does nothing when no stream is active.
func (r *reception) end() {
	if !r.stream.active {
		return
	}
	r.report()

	stats := r.stream.stats()
	r.endedReceived += stats.Received
	r.endedLost += stats.Lost
	r.stream.active = false
	if r.observer != nil {
		r.observer.StreamEnded(r.leg, stats)
	}
}

// clockRateOf returns the RTP clock rate of codec, or the G.711 rate when
// the codec's ClockRate is 0.
func clockRateOf(codec Codec) uint32 {
	if codec.ClockRate == 0 {
		return G711ClockRate
	}
	return codec.ClockRate
}
