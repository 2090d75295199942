package media

import (
	"sync"

	"github.com/pion/rtp"
)

// Sizes of the mixer's per-participant jitter buffer, in 8 kHz samples.
const (
	// jitterRingSamples is the ring's capacity, 512 ms. It is a power of
	// two so that an RTP timestamp masked by jitterRingMask is its index.
	jitterRingSamples = 4096
	jitterRingMask    = jitterRingSamples - 1
	// jitterDelay is the playout delay set when a stream starts: the
	// buffer holds two 20 ms frames before the mixer reads the first.
	jitterDelay = 2 * FrameSamples
	// jitterMaxDelay is the most audio the buffer keeps ahead of playout,
	// 200 ms. A sender whose clock runs fast, or a burst after a stall,
	// pushes it beyond that, and playout skips ahead to jitterDelay.
	jitterMaxDelay = 10 * FrameSamples
	// jitterLateRestart is how many packets in a row may arrive wholly
	// behind playout before the buffer resynchronises on the stream, as
	// when the sender's clock runs slow.
	jitterLateRestart = 3
)

// jitterBuffer holds one participant's decoded audio between the receive
// goroutine, which writes each packet at the position of its RTP timestamp, and
// the mixer, which reads one 20 ms frame per tick. A lost packet leaves a
// gap that reads as silence, a reordered one fills its gap if it arrives
// before playout reaches it, and a packet behind playout is dropped.
//
// A new SSRC, or a timestamp jump of more than 3 s, starts the stream
// afresh with jitterDelay of buffering.
type jitterBuffer struct {
	// mu guards every field below. The receive goroutine holds it for one
	// packet, the mixer for one frame.
	mu sync.Mutex
	// ring holds samples by RTP timestamp. Samples are zeroed once read,
	// so a slot no packet filled is silence.
	ring [jitterRingSamples]int16
	// started is false until the first packet.
	started bool
	ssrc    uint32
	// playout is the RTP timestamp of the next sample the mixer reads.
	playout uint32
	// newest is the timestamp just after the newest sample written.
	newest uint32
	// lastTimestamp is the timestamp of the last packet, for jumps.
	lastTimestamp uint32
	// late counts consecutive packets that arrived wholly behind playout.
	late int
	// Counters for tests and logs.
	packets  uint64
	dropped  uint64
	restarts uint64
}

// write decodes one audio packet coded in law into the ring. It allocates
// nothing.
func (j *jitterBuffer) write(header *rtp.Header, payload []byte, law g711Law) {
	samples := len(payload)
	if samples == 0 || samples > jitterRingSamples-jitterMaxDelay {
		return
	}

	j.mu.Lock()
	defer j.mu.Unlock()
	j.packets++

	timestamp := header.Timestamp
	jump := int32(timestamp - j.lastTimestamp)
	if !j.started || header.SSRC != j.ssrc || jump > relayTimestampJump || jump < -relayTimestampJump {
		j.restart(header.SSRC, timestamp)
	}
	j.lastTimestamp = timestamp

	offset := int32(timestamp - j.playout)
	if offset+int32(samples) <= 0 {
		j.dropped++
		j.late++
		if j.late < jitterLateRestart {
			return
		}
		j.restart(header.SSRC, timestamp)
		offset = int32(timestamp - j.playout)
	}
	j.late = 0
	if offset+int32(samples) > jitterRingSamples-FrameSamples {
		j.restart(header.SSRC, timestamp)
		offset = int32(timestamp - j.playout)
	}

	// Samples before playout are too late to play; skip them.
	skip := 0
	if offset < 0 {
		skip = int(-offset)
	}
	table := &ulawDecodeTable
	if law == lawALaw {
		table = &alawDecodeTable
	}
	for i := skip; i < samples; i++ {
		j.ring[(timestamp+uint32(i))&jitterRingMask] = table[payload[i]]
	}

	end := timestamp + uint32(samples)
	if int32(end-j.newest) > 0 {
		j.newest = end
	}
	if int32(j.newest-j.playout) > jitterMaxDelay {
		j.skipTo(j.newest - jitterDelay)
	}
}

// restart clears the ring and starts playout jitterDelay before
// timestamp. The caller holds j.mu.
func (j *jitterBuffer) restart(ssrc, timestamp uint32) {
	if j.started {
		j.restarts++
	}
	clear(j.ring[:])
	j.started = true
	j.ssrc = ssrc
	j.playout = timestamp - jitterDelay
	j.newest = timestamp
	j.lastTimestamp = timestamp
	j.late = 0
}

// skipTo moves playout forward to timestamp, discarding the samples it
// passes. The caller holds j.mu.
func (j *jitterBuffer) skipTo(timestamp uint32) {
	for j.playout != timestamp {
		j.ring[j.playout&jitterRingMask] = 0
		j.playout++
	}
}

// read fills dst with the next len(dst) samples of playout, silence where
// no packet arrived, and advances playout. Before the first packet it
// returns silence and playout stays put.
func (j *jitterBuffer) read(dst []int16) {
	j.mu.Lock()
	defer j.mu.Unlock()

	if !j.started {
		clear(dst)
		return
	}
	for i := range dst {
		index := j.playout & jitterRingMask
		dst[i] = j.ring[index]
		j.ring[index] = 0
		j.playout++
	}
}

// jitterStats is a snapshot of a jitter buffer's counters.
type jitterStats struct {
	packets, dropped, restarts uint64
}

func (j *jitterBuffer) stats() jitterStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return jitterStats{packets: j.packets, dropped: j.dropped, restarts: j.restarts}
}
