package media

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// Test signal levels, per tone.
const (
	testToneDBm0  = -10
	testNoiseDBm0 = -40
)

// keyFrequencies returns the low- and high-group frequency of key.
func keyFrequencies(t testing.TB, key Digit) (low, high float64) {
	t.Helper()
	for row := range keypad {
		for column := range keypad[row] {
			if keypad[row][column] == key {
				return lowGroupHz[row], highGroupHz[column]
			}
		}
	}
	t.Fatalf("no key %q on the keypad", key)
	return 0, 0
}

// dbm0Amplitude returns the peak of a sine at level dBm0.
func dbm0Amplitude(level float64) float64 {
	return zeroDBm0Amplitude * math.Pow(10, level/20)
}

// signal builds test audio piece by piece.
type signal struct {
	samples []int16
}

// silence appends d of zero samples.
func (s *signal) silence(d time.Duration) *signal {
	s.samples = append(s.samples, make([]int16, durationSamples(d))...)
	return s
}

// tones appends d of a sum of sines, each given as frequency in Hz and
// level in dBm0.
func (s *signal) tones(d time.Duration, tones ...[2]float64) *signal {
	n := durationSamples(d)
	for i := range n {
		value := 0.0
		for _, tone := range tones {
			value += dbm0Amplitude(tone[1]) * math.Sin(2*math.Pi*tone[0]*float64(i)/SampleRate)
		}
		s.samples = append(s.samples, clampSample(value))
	}
	return s
}

// key appends d of key at testToneDBm0 per tone, with both frequencies
// scaled by 1+frequencyError and the high tone lowered by twistDB
// (negative for reverse twist).
func (s *signal) key(t testing.TB, key Digit, d time.Duration, frequencyError, twistDB float64) *signal {
	t.Helper()
	low, high := keyFrequencies(t, key)
	scale := 1 + frequencyError
	return s.tones(d, [2]float64{low * scale, testToneDBm0}, [2]float64{high * scale, testToneDBm0 - twistDB})
}

// noise adds uniform white noise at level dBm0 (RMS) to all samples.
func (s *signal) noise(level float64, seed uint64) *signal {
	random := rand.New(rand.NewPCG(seed, seed))
	// A uniform distribution on [-a, a] has RMS a/√3, and a sine of peak
	// p has RMS p/√2.
	limit := dbm0Amplitude(level) / math.Sqrt2 * math.Sqrt(3)
	for i, sample := range s.samples {
		s.samples[i] = clampSample(float64(sample) + (2*random.Float64()-1)*limit)
	}
	return s
}

// speech appends d of a voiced-speech imitation: a 120 Hz fundamental
// with 30 harmonics under two formant peaks, gliding in pitch.
func (s *signal) speech(d time.Duration) *signal {
	n := durationSamples(d)
	phase := 0.0
	for i := range n {
		pitch := 120 + 30*math.Sin(2*math.Pi*3*float64(i)/SampleRate)
		phase += 2 * math.Pi * pitch / SampleRate
		value := 0.0
		for harmonic := 1; harmonic <= 30; harmonic++ {
			hz := float64(harmonic) * pitch
			gain := formant(hz, 700, 150) + formant(hz, 1200, 200)
			value += gain * math.Sin(float64(harmonic)*phase)
		}
		s.samples = append(s.samples, clampSample(value*dbm0Amplitude(testToneDBm0)/2))
	}
	return s
}

// formant returns a resonance's gain at hz.
func formant(hz, centre, width float64) float64 {
	x := (hz - centre) / width
	return 1 / (1 + x*x)
}

func durationSamples(d time.Duration) int {
	return int(d * SampleRate / time.Second)
}

func clampSample(value float64) int16 {
	return int16(max(math.MinInt16, min(math.MaxInt16, math.Round(value))))
}

// detectAll feeds samples in packets of packetSamples and returns every
// key reported.
func detectAll(samples []int16, packetSamples int) string {
	detector := NewToneDetector()
	var keys []rune
	for len(samples) > 0 {
		n := min(packetSamples, len(samples))
		if key, ok := detector.Process(samples[:n]); ok {
			keys = append(keys, rune(key))
		}
		samples = samples[n:]
	}
	return string(keys)
}

// roundTrip codes every sample with G.711 and back.
func roundTrip(samples []int16, encode func(int16) byte, decode func(byte) int16) []int16 {
	out := make([]int16, len(samples))
	for i, sample := range samples {
		out[i] = decode(encode(sample))
	}
	return out
}

func TestToneDetector(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		build func(t *testing.T, s *signal)
		want  string
	}{
		{"40 ms accepted", func(t *testing.T, s *signal) { s.key(t, '5', 40*ms, 0, 0) }, "5"},
		{"23 ms rejected", func(t *testing.T, s *signal) { s.key(t, '5', 23*ms, 0, 0) }, ""},
		{"plus 1.5 percent accepted", func(t *testing.T, s *signal) { s.key(t, 'D', 40*ms, 0.015, 0) }, "D"},
		{"minus 1.5 percent accepted", func(t *testing.T, s *signal) { s.key(t, '1', 40*ms, -0.015, 0) }, "1"},
		{"plus 3.5 percent rejected", func(t *testing.T, s *signal) { s.key(t, 'D', 100*ms, 0.035, 0) }, ""},
		{"minus 3.5 percent rejected", func(t *testing.T, s *signal) { s.key(t, '1', 100*ms, -0.035, 0) }, ""},
		{"normal twist 8 dB accepted", func(t *testing.T, s *signal) { s.key(t, '9', 40*ms, 0, 8) }, "9"},
		{"reverse twist 4 dB accepted", func(t *testing.T, s *signal) { s.key(t, '9', 40*ms, 0, -4) }, "9"},
		{"normal twist 10 dB rejected", func(t *testing.T, s *signal) { s.key(t, '9', 100*ms, 0, 10) }, ""},
		{"reverse twist 6 dB rejected", func(t *testing.T, s *signal) { s.key(t, '9', 100*ms, 0, -6) }, ""},
		{"10 ms gap one digit", func(t *testing.T, s *signal) {
			s.key(t, '5', 60*ms, 0, 0).silence(10*ms).key(t, '5', 60*ms, 0, 0)
		}, "5"},
		{"50 ms gap two digits", func(t *testing.T, s *signal) {
			s.key(t, '5', 60*ms, 0, 0).silence(50*ms).key(t, '5', 60*ms, 0, 0)
		}, "55"},
		{"different keys without gap", func(t *testing.T, s *signal) {
			s.key(t, '1', 60*ms, 0, 0).key(t, '2', 60*ms, 0, 0)
		}, "12"},
		{"silence", func(t *testing.T, s *signal) { s.silence(time.Second) }, ""},
		{"single 697 Hz tone", func(t *testing.T, s *signal) { s.tones(time.Second, [2]float64{697, testToneDBm0}) }, ""},
		{"white noise", func(t *testing.T, s *signal) { s.silence(time.Second).noise(testToneDBm0, 1) }, ""},
		{"voiced speech", func(t *testing.T, s *signal) { s.speech(time.Second) }, ""},
		{"tone in low noise", func(t *testing.T, s *signal) {
			s.key(t, '7', 60*ms, 0, 0).silence(60*ms).key(t, '#', 60*ms, 0, 0).noise(testNoiseDBm0, 2)
		}, "7#"},
		{"weak tone below minimum", func(t *testing.T, s *signal) {
			s.tones(100*ms, [2]float64{770, -35}, [2]float64{1336, -35})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := (&signal{}).silence(30 * time.Millisecond)
			tt.build(t, s)
			s.silence(100 * time.Millisecond)

			// Every alignment of the signal to the analysis hop, fed in
			// 20 ms packets.
			for offset := range hopSamples {
				samples := append(make([]int16, offset), s.samples...)
				if got := detectAll(samples, FrameSamples); got != tt.want {
					t.Fatalf("offset %d samples: detected %q, want %q", offset, got, tt.want)
				}
			}
		})
	}
}

func TestToneDetectorAllKeys(t *testing.T) {
	for _, key := range "123A456B789C*0#D" {
		t.Run(string(key), func(t *testing.T) {
			s := (&signal{}).silence(20*time.Millisecond).key(t, Digit(key), 50*time.Millisecond, 0, 0).silence(50 * time.Millisecond)
			if got := detectAll(s.samples, FrameSamples); got != string(key) {
				t.Errorf("detected %q, want %q", got, string(key))
			}
		})
	}
}

func TestToneDetectorThroughG711(t *testing.T) {
	tests := []struct {
		name   string
		encode func(int16) byte
		decode func(byte) int16
	}{
		{"A-law", EncodeALaw, DecodeALaw},
		{"µ-law", EncodeULaw, DecodeULaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := (&signal{}).silence(20*time.Millisecond).key(t, '3', 40*time.Millisecond, 0.015, 8).
				silence(50*time.Millisecond).key(t, '*', 40*time.Millisecond, -0.015, -4).silence(50 * time.Millisecond)
			coded := roundTrip(s.samples, tt.encode, tt.decode)
			if got := detectAll(coded, FrameSamples); got != "3*" {
				t.Errorf("detected %q, want %q", got, "3*")
			}
		})
	}
}

func TestToneDetectorPacketSizes(t *testing.T) {
	s := (&signal{}).silence(20*time.Millisecond).key(t, '0', 45*time.Millisecond, 0, 0).silence(60 * time.Millisecond)
	for _, packetSamples := range []int{1, 80, 160, 240, 480} {
		if got := detectAll(s.samples, packetSamples); got != "0" {
			t.Errorf("%d-sample packets: detected %q, want %q", packetSamples, got, "0")
		}
	}
}

func TestToneDetectorReset(t *testing.T) {
	s := (&signal{}).key(t, '8', 100*time.Millisecond, 0, 0)
	detector := NewToneDetector()
	if _, ok := detector.Process(s.samples); !ok {
		t.Fatal("no key before Reset")
	}
	detector.Reset()
	if key, ok := detector.Process(s.samples); !ok || key != '8' {
		t.Errorf("after Reset: got %q, %t, want '8', true", key, ok)
	}
}

func TestToneDetectorDoesNotAllocate(t *testing.T) {
	s := (&signal{}).key(t, '4', 100*time.Millisecond, 0, 0).silence(100 * time.Millisecond)
	var detector ToneDetector
	allocs := testing.AllocsPerRun(20, func() {
		for frame := 0; frame+FrameSamples <= len(s.samples); frame += FrameSamples {
			detector.Process(s.samples[frame : frame+FrameSamples])
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

// BenchmarkToneDetector20ms measures one 20 ms frame of a key press: four
// analysis windows of eight Goertzel filters each.
func BenchmarkToneDetector20ms(b *testing.B) {
	s := (&signal{}).key(b, '5', time.Second, 0, 0)
	var detector ToneDetector
	frames := len(s.samples) / FrameSamples
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		frame := i % frames * FrameSamples
		detector.Process(s.samples[frame : frame+FrameSamples])
	}
}

// sendTonePackets sends samples to the session as 20 ms PCMA packets.
func sendTonePackets(p *peer, to netip.AddrPort, samples []int16) {
	p.t.Helper()
	var seq uint16
	payload := make([]byte, FrameSamples)
	for frame := 0; frame+FrameSamples <= len(samples); frame += FrameSamples {
		lawALaw.encode(payload, samples[frame:frame+FrameSamples])
		p.send(to, rtp.Header{PayloadType: PayloadTypePCMA, SequenceNumber: seq, Timestamp: uint32(frame), SSRC: 9}, payload)
		seq++
	}
}

func TestSessionDigitsFromInbandTones(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMA})

	s := (&signal{}).silence(20*time.Millisecond).key(t, '6', 60*time.Millisecond, 0, 0).silence(100 * time.Millisecond)
	sendTonePackets(phone, session.LocalAddr(), s.samples)

	if got := waitDigit(t, session.Session); got != '6' {
		t.Errorf("digit %q, want '6'", got)
	}
}

func TestSessionIgnoresInbandTonesWithEvents(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMA, TelephoneEvent: telephoneEventPT})

	s := (&signal{}).silence(20*time.Millisecond).key(t, '6', 60*time.Millisecond, 0, 0).silence(100 * time.Millisecond)
	sendTonePackets(phone, session.LocalAddr(), s.samples)
	// The event that follows the tone marks the end of the audio: the
	// receive goroutine handles packets in order.
	var seq uint16 = 1000
	sendKeyPress(phone, session.LocalAddr(), 1, 9, &seq, 50000)

	if got := waitDigit(t, session.Session); got != '1' {
		t.Errorf("first digit %q, want '1' from the event, not an in-band '6'", got)
	}
	select {
	case extra := <-session.Digits():
		t.Errorf("extra digit %q", extra)
	default:
	}
}

func TestSessionInbandReceiveAllocatesNothing(t *testing.T) {
	session := NewSession(SessionConfig{Codec: PCMA})
	s := (&signal{}).key(t, '2', time.Second, 0, 0)
	source := netip.MustParseAddrPort("127.0.0.1:40000")

	// Prepare one datagram per 20 ms frame, so the detector receives a real
	// key press.
	var datagrams [][]byte
	payload := make([]byte, FrameSamples)
	for frame := 0; frame+FrameSamples <= len(s.samples); frame += FrameSamples {
		lawALaw.encode(payload, s.samples[frame:frame+FrameSamples])
		datagram, err := (&rtp.Packet{
			Header:  rtp.Header{Version: rtpVersion, PayloadType: PayloadTypePCMA, SequenceNumber: uint16(frame), Timestamp: uint32(frame), SSRC: 0xB},
			Payload: payload,
		}).Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		datagrams = append(datagrams, datagram)
	}

	next := 0
	allocs := testing.AllocsPerRun(len(datagrams)-1, func() {
		session.handlePacket(datagrams[next], source, time.Now())
		next++
	})
	if allocs != 0 {
		t.Errorf("receiving a packet with in-band detection allocates %.1f times, want 0", allocs)
	}
	if got := len(session.Digits()); got != 1 {
		t.Errorf("%d digits queued, want 1", got)
	}
}
