package media

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// DTMF cost benchmarks: the RFC 4733 telephone-event path per packet, and
// in-band detection per channel. Each reports its figure per second of
// audio too, so the two paths compare as a fraction of one core.

// framesPerSecond is the number of 20 ms packets in one second of audio.
const framesPerSecond = SampleRate / FrameSamples

// keyPressSpacing is the distance in samples between the starts of two
// key presses of keyTrain: 100 ms of tone and 100 ms of pause.
const keyPressSpacing = 1600

// keyTrain returns the telephone-event packets of the ten digit keys
// pressed one after another for 100 ms each: per press a start packet,
// four continuations and three end packets, eight packets in all.
func keyTrain() []eventPacket {
	var train []eventPacket
	for code := range uint8(10) {
		train = append(train, keyPress(uint32(code)*keyPressSpacing, code, 4)...)
	}
	return train
}

// keyTrainSpan is the timestamp distance from one keyTrain to the next.
const keyTrainSpan = 10 * keyPressSpacing

// BenchmarkEventDecoderPacket measures the RFC 4733 event state machine
// alone: one EventDecoder.Decode per packet of a stream of key presses.
func BenchmarkEventDecoderPacket(b *testing.B) {
	train := keyTrain()
	var decoder EventDecoder
	var offset uint32
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := i % len(train)
		if n == 0 {
			offset += keyTrainSpan
		}
		decoder.Decode(train[n].timestamp+offset, train[n].payload)
	}
	reportPerSecondOfAudio(b)
}

// receiveBenchmark is a session and the datagrams of one stream it
// receives in turn, for handlePacket benchmarks without sockets.
type receiveBenchmark struct {
	session   *Session
	datagrams [][]byte
	// span is the timestamp distance from one pass over datagrams to the
	// next, so that a new pass continues the stream.
	span   uint32
	source netip.AddrPort
}

// eventReceiveBenchmark returns a PCMU session with telephone-event on
// PT 101 and the datagrams of keyTrain.
func eventReceiveBenchmark(tb testing.TB) *receiveBenchmark {
	tb.Helper()
	train := keyTrain()
	datagrams := make([][]byte, 0, len(train))
	for i, packet := range train {
		header := rtp.Header{Version: 2, PayloadType: telephoneEventPT, SequenceNumber: uint16(i),
			Timestamp: packet.timestamp, SSRC: 0xB, Marker: i%8 == 0}
		datagrams = append(datagrams, marshalPacket(tb, header, packet.payload))
	}
	return &receiveBenchmark{
		session:   NewSession(SessionConfig{Codec: PCMU, TelephoneEvent: telephoneEventPT}),
		datagrams: datagrams,
		span:      keyTrainSpan,
		source:    netip.MustParseAddrPort("127.0.0.1:40000"),
	}
}

// audioReceiveBenchmark returns a PCMU session, with telephone-event on
// PT 101 or without (then in-band detection runs), and one second of a
// held key as 20 ms PCMU datagrams: the worst case for the detector.
func audioReceiveBenchmark(tb testing.TB, telephoneEvent uint8) *receiveBenchmark {
	tb.Helper()
	samples := (&signal{}).key(tb, '5', time.Second, 0, 0).samples
	var datagrams [][]byte
	payload := make([]byte, FrameSamples)
	for frame := 0; frame+FrameSamples <= len(samples); frame += FrameSamples {
		lawULaw.encode(payload, samples[frame:frame+FrameSamples])
		header := rtp.Header{Version: 2, PayloadType: PayloadTypePCMU, SequenceNumber: uint16(len(datagrams)),
			Timestamp: uint32(frame), SSRC: 0xC}
		datagrams = append(datagrams, marshalPacket(tb, header, payload))
	}
	return &receiveBenchmark{
		session:   NewSession(SessionConfig{Codec: PCMU, TelephoneEvent: telephoneEvent}),
		datagrams: datagrams,
		span:      uint32(len(samples)),
		source:    netip.MustParseAddrPort("127.0.0.1:40000"),
	}
}

func marshalPacket(tb testing.TB, header rtp.Header, payload []byte) []byte {
	tb.Helper()
	datagram, err := (&rtp.Packet{Header: header, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return datagram
}

// receive hands the session packet i of the stream, with sequence number
// and timestamp moved on so that the stream never repeats itself.
func (r *receiveBenchmark) receive(i int) {
	n := i % len(r.datagrams)
	datagram := r.datagrams[n]
	pass := uint32(i / len(r.datagrams))
	sequence := uint16(i)
	timestamp := uint32(datagram[4])<<24 | uint32(datagram[5])<<16 | uint32(datagram[6])<<8 | uint32(datagram[7])
	timestamp = timestamp%r.span + pass*r.span
	datagram[2], datagram[3] = byte(sequence>>8), byte(sequence)
	datagram[4], datagram[5], datagram[6], datagram[7] = byte(timestamp>>24), byte(timestamp>>16), byte(timestamp>>8), byte(timestamp)
	r.session.handlePacket(datagram, r.source, time.Now())
}

// drainDigits empties the session's digit channel, as the IVR does.
func (r *receiveBenchmark) drainDigits() {
	for {
		select {
		case <-r.session.digits:
		default:
			return
		}
	}
}

// BenchmarkSessionReceivePacket measures one received packet through
// Session.handlePacket without a bridge: RTP parse, source latch,
// reception statistics and the DTMF path of its kind.
//
//   - audio: a PCMU packet when telephone-event was negotiated, so no
//     DTMF work. The reference every stream pays.
//   - telephone-event: an RFC 4733 packet of a key press: the same
//     steps, then the event state machine and, once per press, the digit
//     pushed to the IVR.
//   - audio-inband: a PCMU packet of a held key when telephone-event was
//     not negotiated: G.711 decoding and the tone detector on top of the
//     reference.
func BenchmarkSessionReceivePacket(b *testing.B) {
	cases := []struct {
		name  string
		setup func(testing.TB) *receiveBenchmark
	}{
		{"audio", func(tb testing.TB) *receiveBenchmark { return audioReceiveBenchmark(tb, telephoneEventPT) }},
		{"telephone-event", eventReceiveBenchmark},
		{"audio-inband", func(tb testing.TB) *receiveBenchmark { return audioReceiveBenchmark(tb, 0) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			r := tc.setup(b)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.receive(i)
				if i%len(r.datagrams) == 0 {
					r.drainDigits()
				}
			}
			reportPerSecondOfAudio(b)
		})
	}
}

func TestSessionEventPacketAllocatesNothing(t *testing.T) {
	r := eventReceiveBenchmark(t)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		r.receive(i)
		i++
		r.drainDigits()
	})
	if allocs != 0 {
		t.Errorf("receiving a telephone-event packet allocates %.1f times, want 0", allocs)
	}
	if got := r.session.Stats().AudioReceived; got != 0 {
		t.Errorf("%d packets counted as audio, want every packet taken as an event", got)
	}
}

func TestSessionEventPacketsReportKeys(t *testing.T) {
	r := eventReceiveBenchmark(t)
	var keys []Digit
	for i := range 2 * len(r.datagrams) {
		r.receive(i)
		select {
		case digit := <-r.session.digits:
			keys = append(keys, digit)
		default:
		}
	}
	if got, want := string(keys), "01234567890123456789"; got != want {
		t.Errorf("keys = %q over two passes, want %q: the benchmark stream must press each key once", got, want)
	}
}

// inbandChannel is one received stream under in-band detection: its own
// second of PCMU audio, sample buffer and detector.
type inbandChannel struct {
	payload  []byte
	samples  []int16
	detector ToneDetector
}

// BenchmarkToneDetectorChannels measures in-band detection for many
// streams at once. One iteration runs one second of audio for every
// channel, 20 ms frame by 20 ms frame across the channels as packets
// arrive: G.711 decoding and ToneDetector.Process, the work
// Session.detectTones does per packet. Each channel has its own audio, so
// the caches hold as little as they would with real streams.
//
// The key signal is a held key, the worst case, because every window runs
// the Goertzel filters. The speech signal imitates voiced speech. The
// silence signal is low noise, where the energy check skips the filters.
func BenchmarkToneDetectorChannels(b *testing.B) {
	signals := []struct {
		name    string
		samples func(testing.TB) []int16
	}{
		{"key", func(tb testing.TB) []int16 { return (&signal{}).key(tb, '5', time.Second, 0, 0).samples }},
		{"speech", func(testing.TB) []int16 { return (&signal{}).speech(time.Second).samples }},
		{"silence", func(testing.TB) []int16 { return (&signal{}).silence(time.Second).noise(testNoiseDBm0, 1).samples }},
	}
	for _, sig := range signals {
		audio := sig.samples(b)
		for _, channels := range []int{1, 10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/channels=%d", sig.name, channels), func(b *testing.B) {
				list := make([]inbandChannel, channels)
				for i := range list {
					list[i].payload = make([]byte, len(audio))
					lawULaw.encode(list[i].payload, audio)
					list[i].samples = make([]int16, FrameSamples)
				}
				b.ReportAllocs()
				for b.Loop() {
					for frame := 0; frame+FrameSamples <= len(audio); frame += FrameSamples {
						for i := range list {
							ch := &list[i]
							lawULaw.decode(ch.samples, ch.payload[frame:frame+FrameSamples])
							ch.detector.Process(ch.samples)
						}
					}
				}
				reportPerChannelSecond(b, channels)
			})
		}
	}
}

// reportPerSecondOfAudio adds the cost of one stream's second of audio,
// taken as framesPerSecond operations of one packet each, and that cost
// as a share of one core.
func reportPerSecondOfAudio(b *testing.B) {
	perPacket := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	perSecond := perPacket * framesPerSecond
	b.ReportMetric(perSecond, "ns/channel-s")
	b.ReportMetric(perSecond/1e9*100, "core%/channel")
}

// reportPerChannelSecond adds the cost of one channel's second of audio
// when one operation is one second of audio for every channel, that cost
// as a share of one core, and the channels one core could serve.
func reportPerChannelSecond(b *testing.B, channels int) {
	perChannel := float64(b.Elapsed().Nanoseconds()) / float64(b.N*channels)
	b.ReportMetric(perChannel, "ns/channel-s")
	b.ReportMetric(perChannel/1e9*100, "core%/channel")
	b.ReportMetric(1e9/perChannel, "channels/core")
}
