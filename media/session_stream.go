package media

import (
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

// sampleDuration is the time one 8 kHz sample lasts.
const sampleDuration = time.Second / SampleRate

// outStream is a session's single outbound RTP stream (RFC 3550): one
// random SSRC, and a sequence number and timestamp that start at random
// values and continue across Play, PlayLoop and Bridge. The session's outMu
// guards it.
type outStream struct {
	ssrc uint32
	// nextSeq is the sequence number of the next packet. It wraps from
	// 65535 to 0 as uint16 arithmetic does.
	nextSeq uint16
	// lastTimestamp and lastSpan are the RTP timestamp of the last packet
	// sent and the number of samples it carried. Before the first packet,
	// lastTimestamp is the random initial timestamp.
	lastTimestamp uint32
	lastSpan      uint32
	// lastSent is the monotonic time of the last packet sent, zero before
	// the first.
	lastSent time.Time
	// gap is set when a packet was due but had nowhere to go, so the next
	// packet sent starts a talkspurt and carries the marker bit.
	gap bool

	// relay maps the timestamps of the stream Bridge forwards.
	relay relayState

	header rtp.Header
	packet []byte // marshal buffer, with room for an SRTP tag
	// srtpHeader is EncryptRTP's scratch header.
	srtpHeader rtp.Header
	payload    []byte // encoding and transcoding buffer
}

func newOutStream() outStream {
	return outStream{
		ssrc:          rand.Uint32(),
		nextSeq:       uint16(rand.Uint32()),
		lastTimestamp: rand.Uint32(),
		packet:        make([]byte, rtpHeaderSize+maxDatagramSize+srtpTagSize),
		payload:       make([]byte, maxDatagramSize),
	}
}

// talkspurtTimestamp returns the RTP timestamp for a packet that starts a
// talkspurt at now. After the first packet, the timestamp advances by the
// wall-clock time since the last packet was sent, and at least by that
// packet's span, so timestamps never overlap (RFC 3550 section 5.1).
func (o *outStream) talkspurtTimestamp(now time.Time) uint32 {
	if o.lastSent.IsZero() {
		return o.lastTimestamp
	}
	elapsed := uint32(now.Sub(o.lastSent) / sampleDuration)
	return o.lastTimestamp + max(o.lastSpan, elapsed)
}

// send writes one packet to the session's peer with the next sequence
// number. span is the number of samples the payload lasts, 0 for a
// telephone event. Without a usable destination (or a socket) the packet
// is counted as unsent and the next packet sent gets the marker bit. The
// caller holds s.outMu.
func (o *outStream) send(s *Session, payloadType uint8, payload []byte, timestamp, span uint32, marker bool, now time.Time) {
	if s.muted.Load() {
		o.gap = true
		s.stats.muted.Add(1)
		return
	}
	destination, ok := s.destination()
	if !ok || s.conn == nil {
		o.gap = true
		s.stats.unsent.Add(1)
		return
	}

	o.header = rtp.Header{
		Version:        rtpVersion,
		Marker:         marker || o.gap,
		PayloadType:    payloadType,
		SequenceNumber: o.nextSeq,
		Timestamp:      timestamp,
		SSRC:           o.ssrc,
	}
	headerSize, err := o.header.MarshalTo(o.packet)
	if err != nil {
		s.stats.sendErrors.Add(1)
		return
	}
	size := headerSize + copy(o.packet[headerSize:], payload)
	packet, err := s.protectInPlace(o.packet, size)
	if err != nil {
		s.stats.sendErrors.Add(1)
		return
	}

	o.nextSeq++
	o.lastTimestamp = timestamp
	o.lastSpan = span
	o.lastSent = now
	o.gap = false

	if _, err := s.conn.WriteToUDPAddrPort(packet, destination); err != nil {
		s.stats.sendErrors.Add(1)
		return
	}
	s.stats.packetsSent.Add(1)
	s.stats.bytesSent.Add(uint64(len(packet)))
}
