package media

// RFC 4733 telephone-event payload layout (section 2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	|     event     |E|R| volume    |          duration             |
const (
	// telephoneEventSize is the size of one event block in bytes.
	telephoneEventSize = 4
	// telephoneEventEndBit marks the last packets of an event.
	telephoneEventEndBit = 0x80
)

// DTMF event codes of RFC 4733 section 3.2: 0-9 are the digit keys, then
// *, #, and A-D.
const (
	eventCodeStar  = 10
	eventCodePound = 11
	eventCodeA     = 12
	eventCodeD     = 15
)

// EventDecoder turns RFC 4733 telephone-event packets of one RTP stream
// into key presses. A sender repeats every event in many packets, all with
// the event's start timestamp: start, continuation and, usually three
// times, end packets. The decoder reports each event once, at the first
// packet it receives, because the start packets may be lost.
//
// The zero value is ready to use. Use one decoder per received stream; a
// decoder is not safe for concurrent use.
type EventDecoder struct {
	// started is false until the first DTMF event.
	started bool
	// timestamp, code and duration describe the last event: its RTP
	// timestamp, event code and longest duration seen so far.
	timestamp uint32
	code      uint8
	duration  uint16
	// ended records that an end packet of the last event arrived.
	ended bool
}

// Decode reads one telephone-event payload with its RTP timestamp and
// returns the key when the packet starts a new event. It returns false
// for repeats of the last event, for event codes other than the 16 DTMF
// keys (tones, flash) and for payloads shorter than 4 bytes. Decode does
// not allocate.
//
// An event longer than the 16-bit duration field can count (about 8 s at
// 8000 Hz) is sent in segments. RFC 4733 section 2.5.1.3 gives each
// segment a new timestamp: the previous segment's timestamp plus its
// duration. Decode reports such a held key once, unless every packet that
// carried the previous segment's final duration was lost.
//
// NOTE: Only the first event block of a payload is read. A sender that
// packs several events into one packet (RFC 4733 section 2.5.1.5) has its
// later blocks ignored.
func (d *EventDecoder) Decode(timestamp uint32, payload []byte) (Digit, bool) {
	if len(payload) < telephoneEventSize {
		return 0, false
	}
	code := payload[0]
	end := payload[1]&telephoneEventEndBit != 0
	duration := uint16(payload[2])<<8 | uint16(payload[3])

	digit, isDigit := eventDigit(code)
	if !isDigit {
		return 0, false
	}

	if d.started && timestamp == d.timestamp {
		d.duration = max(d.duration, duration)
		d.ended = d.ended || end
		return 0, false
	}
	continued := d.continuesSegment(timestamp, code)

	d.started = true
	d.timestamp = timestamp
	d.code = code
	d.duration = duration
	d.ended = end
	if continued {
		return 0, false
	}
	return digit, true
}

// Reset clears the last event, for a stream that restarts with a new
// SSRC.
func (d *EventDecoder) Reset() {
	*d = EventDecoder{}
}

// continuesSegment reports whether a packet with a new timestamp is the
// next segment of the last event: same key, no end packet seen, and a
// timestamp where the last segment ended.
func (d *EventDecoder) continuesSegment(timestamp uint32, code uint8) bool {
	return d.started && !d.ended && code == d.code &&
		d.duration > 0 && timestamp == d.timestamp+uint32(d.duration)
}

// eventDigit returns the key of a DTMF event code, or false for any other
// event.
func eventDigit(code uint8) (Digit, bool) {
	switch {
	case code <= 9:
		return Digit('0' + code), true
	case code == eventCodeStar:
		return '*', true
	case code == eventCodePound:
		return '#', true
	case code >= eventCodeA && code <= eventCodeD:
		return Digit('A' + code - eventCodeA), true
	default:
		return 0, false
	}
}
