package media

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/rtp"
)

// ErrSameSession means Bridge was asked to connect a session to itself.
var ErrSameSession = errors.New("cannot bridge an RTP session to itself")

// relayTimestampJump is the largest change between the timestamps of two
// consecutive incoming packets that the relay takes as the same stream,
// 3 s at 8 kHz. A larger jump, forward or back, means the peer restarted
// its stream without a new SSRC, and the relay maps it afresh.
const relayTimestampJump = 3 * SampleRate

// Bridge relays audio and DTMF events between two started sessions until
// ctx ends, then returns ctx.Err(); it returns ErrSessionClosed if either
// session is closed first.
//
// Packets from a's peer are sent to b's peer on b's outbound stream, with
// b's SSRC and sequence numbers, and the other way round. Audio is
// transcoded between PCMU and PCMA when the legs differ and takes the
// receiving leg's payload type. Telephone-event packets take the receiving
// leg's event payload type, or are dropped when that leg negotiated none.
//
// Each relayed packet keeps the timestamp span of the incoming one. An
// offset, fixed at the first relayed packet, maps incoming timestamps to
// outgoing ones. It is computed again when the incoming SSRC changes or
// the incoming timestamps jump by more than 3 s. Sequence numbers stay
// consecutive, so a lost incoming packet shows at the far end only as a
// timestamp gap.
//
// Like Play, Bridge waits while either session has another sender.
func Bridge(ctx context.Context, a, b *Session) error {
	if a == b {
		return ErrSameSession
	}
	if a.currentLaw() == lawNone || b.currentLaw() == lawNone {
		return fmt.Errorf("bridge %s with %s: %w", a.currentCodec().Name, b.currentCodec().Name, ErrUnsupportedCodec)
	}

	release, err := acquireBothSenders(ctx, a, b)
	if err != nil {
		return err
	}
	defer release()

	a.startRelay(b)
	b.startRelay(a)
	defer a.stopRelay()
	defer b.stopRelay()
	a.log.Debug().Stringer("other_leg", b.local).Msg("rtp bridge started")

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-a.done:
		return ErrSessionClosed
	case <-b.done:
		return ErrSessionClosed
	}
}

// acquireBothSenders takes the sender slots of a and b, the session
// created first before the other, so that concurrent bridges that share a
// session cannot deadlock.
func acquireBothSenders(ctx context.Context, a, b *Session) (func(), error) {
	first, second := a, b
	if second.id < first.id {
		first, second = second, first
	}

	releaseFirst, err := first.acquireSender(ctx)
	if err != nil {
		return nil, err
	}
	releaseSecond, err := second.acquireSender(ctx)
	if err != nil {
		releaseFirst()
		return nil, err
	}
	return func() {
		releaseSecond()
		releaseFirst()
	}, nil
}

// startRelay forwards packets received on s to destination, whose
// timestamp mapping starts afresh.
func (s *Session) startRelay(destination *Session) {
	destination.outMu.Lock()
	destination.out.relay = relayState{}
	destination.outMu.Unlock()

	s.relayMu.Lock()
	s.relayTo = destination
	s.relayMu.Unlock()
}

// stopRelay stops forwarding and returns once no forward is under way.
func (s *Session) stopRelay() {
	s.relayMu.Lock()
	s.relayTo = nil
	s.relayMu.Unlock()
}

// relayPacket sends a packet received on the other leg, coded in law from,
// on s's outbound stream. It returns false when the packet was dropped: a
// telephone event for a leg without telephone-event. It allocates nothing.
func (s *Session) relayPacket(header *rtp.Header, payload []byte, from g711Law, kind packetKind, now time.Time) bool {
	s.outMu.Lock()
	defer s.outMu.Unlock()

	// SetFormat changes codec, law and eventPT only while holding outMu,
	// so they are read here without formatMu.
	codec, law, eventPT := s.codec, s.law, s.eventPT
	payloadType := codec.PayloadType
	span := uint32(len(payload))
	if kind == kindEvent {
		if eventPT == 0 {
			return false
		}
		payloadType = eventPT
		span = 0
	} else if from != law {
		converted := s.out.payload[:len(payload)]
		law.transcode(converted, payload, from)
		payload = converted
	}

	timestamp, restarted := s.out.relay.mapTimestamp(header, &s.out, now)
	s.out.send(s, payloadType, payload, timestamp, span, restarted || header.Marker, now)
	return true
}

// relayState maps the timestamps of one forwarded stream onto the
// outbound stream.
type relayState struct {
	// active is false until the first packet is mapped.
	active bool
	// ssrc and lastTimestamp are the incoming SSRC and the incoming
	// timestamp of the last mapped packet.
	ssrc          uint32
	lastTimestamp uint32
	// offset is added to incoming timestamps.
	offset uint32
}

// mapTimestamp returns the outbound timestamp of an incoming packet, and
// true when the packet starts a new mapping and so a talkspurt.
func (r *relayState) mapTimestamp(header *rtp.Header, out *outStream, now time.Time) (uint32, bool) {
	jump := int32(header.Timestamp - r.lastTimestamp)
	restart := !r.active || header.SSRC != r.ssrc || jump > relayTimestampJump || jump < -relayTimestampJump
	if restart {
		r.offset = out.talkspurtTimestamp(now) - header.Timestamp
		r.active = true
		r.ssrc = header.SSRC
	}
	r.lastTimestamp = header.Timestamp
	return header.Timestamp + r.offset, restart
}
