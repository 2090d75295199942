package media

import (
	"errors"
	"strings"
	"testing"
)

// eventPacket is one received telephone-event packet.
type eventPacket struct {
	timestamp uint32
	payload   []byte
}

// eventPayload returns an RFC 4733 payload with volume 10 (-10 dBm0).
func eventPayload(code uint8, end bool, duration uint16) []byte {
	flags := byte(10)
	if end {
		flags |= telephoneEventEndBit
	}
	return []byte{code, flags, byte(duration >> 8), byte(duration)}
}

// keyPress returns the packets a phone sends for one key press at
// timestamp: a start packet, continuations every 160 samples and three
// end packets.
func keyPress(timestamp uint32, code uint8, continuations int) []eventPacket {
	packets := []eventPacket{{timestamp, eventPayload(code, false, 0)}}
	duration := uint16(0)
	for range continuations {
		duration += 160
		packets = append(packets, eventPacket{timestamp, eventPayload(code, false, duration)})
	}
	for range 3 {
		packets = append(packets, eventPacket{timestamp, eventPayload(code, true, duration+160)})
	}
	return packets
}

// decodeAll feeds packets to a new decoder and returns the reported keys.
func decodeAll(t *testing.T, packets []eventPacket) string {
	t.Helper()
	var decoder EventDecoder
	var keys strings.Builder
	for _, packet := range packets {
		if digit, ok := decoder.Decode(packet.timestamp, packet.payload); ok {
			keys.WriteRune(rune(digit))
		}
	}
	return keys.String()
}

// concat joins packet sequences.
func concat(sequences ...[]eventPacket) []eventPacket {
	var all []eventPacket
	for _, sequence := range sequences {
		all = append(all, sequence...)
	}
	return all
}

func TestEventDecoder(t *testing.T) {
	const start = 48000
	tests := []struct {
		name    string
		packets []eventPacket
		want    string
	}{
		{
			name:    "eleven packets of one press",
			packets: keyPress(start, 5, 7),
			want:    "5",
		},
		{
			name: "same key three times is three digits",
			packets: concat(
				keyPress(start, 5, 7),
				keyPress(start+4000, 5, 5),
				keyPress(start+8000, 5, 6),
			),
			want: "555",
		},
		{
			name: "one press then the same key three times",
			packets: concat(
				keyPress(start, 1, 7),
				keyPress(start+4000, 2, 3),
				keyPress(start+8000, 2, 3),
				keyPress(start+12000, 2, 3),
			),
			want: "1222",
		},
		{
			name:    "start packets lost",
			packets: keyPress(start, 9, 7)[3:],
			want:    "9",
		},
		{
			name:    "only end packets arrive",
			packets: keyPress(start, 0, 4)[5:],
			want:    "0",
		},
		{
			name: "late continuation after end packets",
			packets: concat(
				keyPress(start, 3, 2),
				[]eventPacket{{start, eventPayload(3, false, 320)}},
			),
			want: "3",
		},
		{
			name: "all sixteen keys",
			packets: func() []eventPacket {
				var packets []eventPacket
				for code := range uint8(16) {
					packets = append(packets, keyPress(start+uint32(code)*1000, code, 1)...)
				}
				return packets
			}(),
			want: "0123456789*#ABCD",
		},
		{
			name: "flash and tone events are ignored",
			packets: concat(
				keyPress(start, 16, 3),
				keyPress(start+2000, 32, 3),
				keyPress(start+4000, 255, 3),
			),
			want: "",
		},
		{
			name: "tone between two presses of the same key",
			packets: concat(
				keyPress(start, 7, 2),
				keyPress(start+2000, 16, 2),
				keyPress(start+4000, 7, 2),
			),
			want: "77",
		},
		{
			name: "short payloads are ignored",
			packets: []eventPacket{
				{start, nil},
				{start, []byte{1}},
				{start, []byte{1, 0, 0}},
			},
			want: "",
		},
		{
			name:    "timestamp wraps around",
			packets: concat(keyPress(0xFFFFFF00, 4, 2), keyPress(0x00000200, 4, 2)),
			want:    "44",
		},
		{
			name:    "first event at timestamp 0",
			packets: concat(keyPress(0, 8, 2), keyPress(0, 8, 2)),
			want:    "8",
		},
		{
			name: "held key over two segments",
			packets: []eventPacket{
				{start, eventPayload(6, false, 0)},
				{start, eventPayload(6, false, 0x8000)},
				{start, eventPayload(6, false, 0xFFFF)},
				{start + 0xFFFF, eventPayload(6, false, 160)},
				{start + 0xFFFF, eventPayload(6, true, 320)},
				{start + 0xFFFF, eventPayload(6, true, 320)},
			},
			want: "6",
		},
		{
			name: "same key again after lost end packets",
			packets: concat(
				keyPress(start, 6, 2)[:3],
				keyPress(start+4000, 6, 2),
			),
			want: "66",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeAll(t, tt.packets); got != tt.want {
				t.Errorf("digits = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEventDecoderReset(t *testing.T) {
	var decoder EventDecoder
	payload := eventPayload(1, false, 160)
	if _, ok := decoder.Decode(100, payload); !ok {
		t.Fatal("first packet not reported")
	}
	if _, ok := decoder.Decode(100, payload); ok {
		t.Fatal("repeat reported before Reset")
	}
	decoder.Reset()
	if _, ok := decoder.Decode(100, payload); !ok {
		t.Error("packet after Reset not reported")
	}
}

func TestEventDecoderDoesNotAllocate(t *testing.T) {
	var decoder EventDecoder
	payload := eventPayload(5, false, 160)
	timestamp := uint32(0)
	allocations := testing.AllocsPerRun(1000, func() {
		timestamp += 800
		decoder.Decode(timestamp, payload)
		decoder.Decode(timestamp, payload)
	})
	if allocations != 0 {
		t.Errorf("Decode allocates %v times per call pair, want 0", allocations)
	}
}

func TestParseInfoDigit(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        Digit
	}{
		{name: "dtmf-relay digit", contentType: "application/dtmf-relay", body: "Signal=1\r\nDuration=160\r\n", want: '1'},
		{name: "dtmf-relay without final line end", contentType: "application/dtmf-relay", body: "Signal=1\r\nDuration=160", want: '1'},
		{name: "dtmf-relay spaces around equals", contentType: "application/dtmf-relay", body: "Signal = #\r\nDuration = 250\r\n", want: '#'},
		{name: "dtmf-relay key name in capitals", contentType: "application/dtmf-relay", body: "SIGNAL=*\nDURATION=100\n", want: '*'},
		{name: "dtmf-relay Duration first", contentType: "application/dtmf-relay", body: "Duration=160\r\nSignal=9\r\n", want: '9'},
		{name: "dtmf-relay event code for star", contentType: "application/dtmf-relay", body: "Signal=10\r\nDuration=160\r\n", want: '*'},
		{name: "dtmf-relay lowercase letter key", contentType: "application/dtmf-relay", body: "Signal=d\r\n", want: 'D'},
		{name: "content type parameters and case", contentType: "Application/DTMF-Relay; charset=UTF-8", body: "Signal=4\r\n", want: '4'},
		{name: "dtmf digit", contentType: "application/dtmf", body: "1", want: '1'},
		{name: "dtmf digit with line end", contentType: "application/dtmf", body: "1\r\n", want: '1'},
		{name: "dtmf event code for star", contentType: "application/dtmf", body: "10", want: '*'},
		{name: "dtmf event code for pound", contentType: "application/dtmf", body: "11\r\n", want: '#'},
		{name: "dtmf pound character", contentType: "APPLICATION/DTMF", body: "#", want: '#'},
		{name: "dtmf event code for A", contentType: "application/dtmf", body: "12", want: 'A'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfoDigit(tt.contentType, []byte(tt.body))
			if err != nil {
				t.Fatalf("ParseInfoDigit: %v", err)
			}
			if got != tt.want {
				t.Errorf("digit = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseInfoDigitErrors(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        error
	}{
		{name: "text/plain", contentType: "text/plain", body: "1", want: ErrUnsupportedContentType},
		{name: "no content type", contentType: "", body: "Signal=1", want: ErrUnsupportedContentType},
		{name: "SDP body", contentType: "application/sdp", body: "v=0\r\n", want: ErrUnsupportedContentType},
		{name: "large body of another type", contentType: "text/plain", body: strings.Repeat("x", 4096), want: ErrUnsupportedContentType},
		{name: "dtmf-relay without Signal", contentType: "application/dtmf-relay", body: "Duration=160\r\n", want: ErrInvalidDigit},
		{name: "dtmf-relay empty Signal", contentType: "application/dtmf-relay", body: "Signal=\r\nDuration=160\r\n", want: ErrInvalidDigit},
		{name: "dtmf-relay unknown key", contentType: "application/dtmf-relay", body: "Signal=X\r\n", want: ErrInvalidDigit},
		{name: "dtmf-relay flash", contentType: "application/dtmf-relay", body: "Signal=16\r\n", want: ErrInvalidDigit},
		{name: "dtmf-relay signal prefix only", contentType: "application/dtmf-relay", body: "Signals=1\r\n", want: ErrInvalidDigit},
		{name: "dtmf empty body", contentType: "application/dtmf", body: "", want: ErrInvalidDigit},
		{name: "dtmf several keys", contentType: "application/dtmf", body: "123", want: ErrInvalidDigit},
		{name: "dtmf negative number", contentType: "application/dtmf", body: "-1", want: ErrInvalidDigit},
		{name: "dtmf non-ASCII key", contentType: "application/dtmf", body: "١", want: ErrInvalidDigit},
		{name: "dtmf body above size limit", contentType: "application/dtmf", body: strings.Repeat(" ", maxInfoBodySize) + "1", want: ErrInvalidDigit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfoDigit(tt.contentType, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseInfoDigit = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestInfoDigitContentTypesAreAccepted(t *testing.T) {
	for contentType := range strings.SplitSeq(InfoDigitContentTypes, ",") {
		contentType = strings.TrimSpace(contentType)
		body := "1"
		if contentType == ContentTypeDTMFRelay {
			body = "Signal=1"
		}
		if _, err := ParseInfoDigit(contentType, []byte(body)); err != nil {
			t.Errorf("ParseInfoDigit(%q): %v", contentType, err)
		}
	}
}

func TestParseInfoDigitErrorAbbreviatesValue(t *testing.T) {
	_, err := ParseInfoDigit(ContentTypeDTMFRelay, []byte("Signal=01012345678\r\n"))
	if !errors.Is(err, ErrInvalidDigit) {
		t.Fatalf("ParseInfoDigit error = %v, want ErrInvalidDigit", err)
	}
	if strings.Contains(err.Error(), "01012345678") {
		t.Errorf("error %q repeats the whole value", err)
	}
	if !strings.Contains(err.Error(), "(11 bytes)") {
		t.Errorf("error %q does not give the value's length", err)
	}
}
