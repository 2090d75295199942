package media

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
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
// one of its two sentinel errors, never both: the content type alone
// decides ErrUnsupportedContentType, and a body whose key value is not a
// single key or an event code from 0 to 15 gives ErrInvalidDigit. A key
// written back as an application/dtmf body, or as a dtmf-relay body with
// more lines around it, parses to itself.
func FuzzParseInfoDigit(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=1\r\nDuration=160\r\n"))
	f.Add("application/dtmf-relay; charset=utf-8", []byte("signal = #\nduration = 100"))
	f.Add("application/dtmf", []byte("11\r\n"))
	f.Add("text/plain", []byte("1"))
	f.Add("Application/DTMF", []byte("12"))
	f.Add("application/dtmf", []byte("016"))
	f.Add("application/dtmf-relay", []byte("Duration=160\r\nSignal=\r\nSignal=5"))

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		digit, err := ParseInfoDigit(contentType, body)
		mediaType, _, _ := strings.Cut(contentType, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
		dtmfType := mediaType == ContentTypeDTMF || mediaType == ContentTypeDTMFRelay
		if err != nil {
			checkInfoError(t, err, digit, dtmfType)
			return
		}
		if !dtmfType {
			t.Fatalf("content type %q accepted", contentType)
		}
		if !strings.ContainsRune("0123456789*#ABCD", rune(digit)) {
			t.Fatalf("ParseInfoDigit returned %q", digit)
		}
		if mediaType == ContentTypeDTMF && !isKeyValue(strings.TrimSpace(string(body))) {
			t.Fatalf("application/dtmf body %q gave %q", body, digit)
		}
		again, err := ParseInfoDigit(ContentTypeDTMF, []byte(string(rune(digit))))
		if err != nil || again != digit {
			t.Fatalf("key %q written back parses to %q, %v", digit, again, err)
		}
		relay := "Duration=160\r\nSignal=" + string(rune(digit)) + "\r\nSignal=x\r\n"
		if again, err := ParseInfoDigit(ContentTypeDTMFRelay, []byte(relay)); err != nil || again != digit {
			t.Fatalf("key %q in a dtmf-relay body parses to %q, %v", digit, again, err)
		}
	})
}

// checkInfoError verifies a ParseInfoDigit error: no key with it, and the
// sentinel that the content type calls for.
func checkInfoError(t *testing.T, err error, digit Digit, dtmfType bool) {
	t.Helper()
	if digit != 0 {
		t.Errorf("ParseInfoDigit returned key %q with error %v", digit, err)
	}
	want := ErrUnsupportedContentType
	if dtmfType {
		want = ErrInvalidDigit
	}
	if !errors.Is(err, want) {
		t.Fatalf("ParseInfoDigit error %v, want %v", err, want)
	}
}

// isKeyValue reports whether a trimmed body value names one key: a key
// character in either case, or a decimal event code from 0 to 15.
func isKeyValue(value string) bool {
	if len(value) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(value[0])) {
		return true
	}
	code, err := strconv.ParseUint(value, 10, 8)
	return err == nil && code <= 15
}

// pressRecordSize is the size of one key press in FuzzEventStream's input:
// event code, packet counts, volume byte, duration step and loss mask.
const pressRecordSize = 5

// maxFuzzPresses bounds the key presses of one FuzzEventStream input.
const maxFuzzPresses = 64

// pressPackets builds the packets of one key press from its record: 1-8
// packets without the end bit, then 0-3 with it. Durations grow by a step
// up to the 16-bit limit, the R bit and volume come from the record
// unchanged, and a packet whose bit is set in the loss mask is dropped.
// It also returns the press's longest duration.
func pressPackets(timestamp uint32, record []byte) ([]eventPacket, uint32) {
	code, counts, flags, step, lossMask := record[0], record[1], record[2], record[3], record[4]
	starts := 1 + int(counts%8)
	ends := int(counts>>4) % 4

	var packets []eventPacket
	var longest uint32
	for i := range starts + ends {
		duration := min(uint32(step)*uint32(i+1), 0xFFFF)
		longest = max(longest, duration)
		if lossMask>>(i%8)&1 != 0 {
			continue
		}
		second := flags &^ telephoneEventEndBit
		if i >= starts {
			second |= telephoneEventEndBit
		}
		payload := []byte{code, second, byte(duration >> 8), byte(duration)}
		packets = append(packets, eventPacket{timestamp, payload})
	}
	return packets, longest
}

// FuzzEventStream builds an RTP stream of key presses from records, with
// lost packets, repeated end packets and any volume. The decoder must
// report, in order, one key per press that has a DTMF code and at least
// one packet left. Presses start after the previous one ended, so none
// continues another as a long-event segment. The R bit and volume never
// change the result.
func FuzzEventStream(f *testing.F) {
	f.Add([]byte{0, 0, 0xBB, 0x80, 1, 0x37, 10, 160, 0, 1, 0x37, 10, 160, 0, 1, 0x37, 10, 160, 0})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0x00, 5, 0x30, 0x4A, 255, 0x0F, 16, 0x31, 10, 160, 0, 11, 0x07, 63, 160, 0xFF})
	f.Add([]byte{0, 0, 0, 0, 12, 0x20, 0, 0, 0})

	f.Fuzz(func(t *testing.T, input []byte) {
		if len(input) < 4 {
			return
		}
		timestamp := binary.BigEndian.Uint32(input)
		input = input[4:]

		var packets []eventPacket
		var want strings.Builder
		for presses := 0; len(input) >= pressRecordSize && presses < maxFuzzPresses; presses++ {
			record := input[:pressRecordSize]
			input = input[pressRecordSize:]

			press, longest := pressPackets(timestamp, record)
			packets = append(packets, press...)
			if digit, ok := eventDigit(record[0]); ok && len(press) > 0 {
				want.WriteRune(rune(digit))
			}
			timestamp += longest + 1 + uint32(record[3])*FrameSamples
		}

		if got := decodeAll(t, packets); got != want.String() {
			t.Errorf("decoded %q, want %q", got, want.String())
		}
		plain := make([]eventPacket, len(packets))
		for i, packet := range packets {
			payload := slices.Clone(packet.payload)
			payload[1] &= telephoneEventEndBit
			plain[i] = eventPacket{packet.timestamp, payload}
		}
		if got, again := decodeAll(t, packets), decodeAll(t, plain); got != again {
			t.Errorf("decoded %q, but %q without R bit and volume", got, again)
		}
	})
}
