package media

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// eventRecordSize is the size of one packet in FuzzEventDecoder's input:
// a 4-byte big-endian RTP timestamp and a 4-byte event payload.
const eventRecordSize = 8

// FuzzEventDecoder feeds a sequence of packets to a decoder and checks
// that a digit is reported only for a DTMF event code, never twice in a
// row for one timestamp, and always for a new timestamp after an end
// packet.
func FuzzEventDecoder(f *testing.F) {
	var seed []byte
	for _, packet := range concat(keyPress(8000, 5, 3), keyPress(12000, 5, 2), keyPress(16000, 16, 1)) {
		seed = binary.BigEndian.AppendUint32(seed, packet.timestamp)
		seed = append(seed, packet.payload...)
	}
	f.Add(seed)
	f.Add([]byte{0, 0, 0, 1, 11, 0x8a, 0, 0xa0})

	f.Fuzz(func(t *testing.T, input []byte) {
		var decoder EventDecoder
		var last struct {
			seen      bool
			timestamp uint32
			ended     bool
		}
		for len(input) >= eventRecordSize {
			timestamp := binary.BigEndian.Uint32(input)
			payload := input[4:eventRecordSize]
			input = input[eventRecordSize:]

			digit, ok := decoder.Decode(timestamp, payload)
			want, isDigit := eventDigit(payload[0])
			if ok && (!isDigit || digit != want) {
				t.Fatalf("event code %d reported as %q", payload[0], digit)
			}
			if !isDigit {
				continue
			}
			if ok && last.seen && timestamp == last.timestamp {
				t.Fatalf("timestamp %d reported twice", timestamp)
			}
			if !ok && last.seen && last.ended && timestamp != last.timestamp {
				t.Fatalf("new event at timestamp %d after an end packet not reported", timestamp)
			}

			end := payload[1]&telephoneEventEndBit != 0
			if !last.seen || timestamp != last.timestamp {
				last.ended = false
			}
			last.seen, last.timestamp, last.ended = true, timestamp, last.ended || end
		}
	})
}

// FuzzParseInfoDigit checks that ParseInfoDigit returns a valid key or
// one of its two sentinel errors, and that a key written back as an
// application/dtmf body parses to itself.
func FuzzParseInfoDigit(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=1\r\nDuration=160\r\n"))
	f.Add("application/dtmf-relay; charset=utf-8", []byte("signal = #\nduration = 100"))
	f.Add("application/dtmf", []byte("11\r\n"))
	f.Add("text/plain", []byte("1"))

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		digit, err := ParseInfoDigit(contentType, body)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedContentType) && !errors.Is(err, ErrInvalidDigit) {
				t.Fatalf("ParseInfoDigit error %v is neither sentinel", err)
			}
			return
		}
		if !strings.ContainsRune("0123456789*#ABCD", rune(digit)) {
			t.Fatalf("ParseInfoDigit returned %q", digit)
		}
		again, err := ParseInfoDigit(ContentTypeDTMF, []byte(string(rune(digit))))
		if err != nil || again != digit {
			t.Fatalf("key %q written back parses to %q, %v", digit, again, err)
		}
	})
}
