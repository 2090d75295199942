package media

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/rs/zerolog"
)

// toneAmplitude is the peak of the test tones, about -12 dBFS, so that
// three of them sum without clipping.
const toneAmplitude = 8000

// goertzelAmplitude returns the amplitude of the frequency component of
// samples at frequency Hz (8 kHz sampling), by the Goertzel algorithm. A
// pure tone of peak A gives about A.
func goertzelAmplitude(samples []int16, frequency float64) float64 {
	coefficient := 2 * math.Cos(2*math.Pi*frequency/SampleRate)
	var previous, beforePrevious float64
	for _, sample := range samples {
		current := float64(sample) + coefficient*previous - beforePrevious
		beforePrevious, previous = previous, current
	}
	power := previous*previous + beforePrevious*beforePrevious - coefficient*previous*beforePrevious
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(samples))
}

// tonePeer is a fake phone in a mix: it sends a tone in 20 ms packets and
// records the audio it receives.
type tonePeer struct {
	t         *testing.T
	conn      *net.UDPConn
	codec     Codec
	frequency float64

	mu       sync.Mutex
	received []int16
	// receivedAt holds the arrival time of each received frame.
	receivedAt []time.Time
}

func newTonePeer(t *testing.T, codec Codec, frequency float64) *tonePeer {
	t.Helper()
	return &tonePeer{t: t, conn: listenLoopback(t), codec: codec, frequency: frequency}
}

// sendTone sends the tone to to in 20 ms packets until ctx ends, dropping
// the packets whose number drop returns true for, and holding each packet
// back by delay(n) when delay is set, which makes the next ones follow in
// a burst.
func (p *tonePeer) sendTone(ctx context.Context, to netip.AddrPort, drop func(n int) bool, delay func(n int) time.Duration) {
	law := lawOf(p.codec)
	samples := make([]int16, FrameSamples)
	payload := make([]byte, FrameSamples)
	header := rtp.Header{Version: rtpVersion, PayloadType: p.codec.PayloadType, SSRC: uint32(p.frequency), Timestamp: 1000}
	ticker := time.NewTicker(FrameDuration)
	defer ticker.Stop()

	for n := 0; ; n++ {
		for i := range samples {
			phase := 2 * math.Pi * p.frequency * float64(n*FrameSamples+i) / SampleRate
			samples[i] = int16(toneAmplitude * math.Sin(phase))
		}
		law.encode(payload, samples)
		if delay != nil {
			time.Sleep(delay(n))
		}
		if drop == nil || !drop(n) {
			datagram, err := (&rtp.Packet{Header: header, Payload: payload}).Marshal()
			if err == nil {
				_, _ = p.conn.WriteToUDPAddrPort(datagram, to)
			}
		}
		header.SequenceNumber++
		header.Timestamp += FrameSamples

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// receive records decoded audio until the socket is closed or ctx ends.
func (p *tonePeer) receive(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { _ = p.conn.SetReadDeadline(pastDeadline) })
	defer stop()
	law := lawOf(p.codec)
	buf := make([]byte, maxDatagramSize)
	for {
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var packet rtp.Packet
		if packet.Unmarshal(buf[:n]) != nil || packet.PayloadType != p.codec.PayloadType {
			continue
		}
		samples := make([]int16, len(packet.Payload))
		law.decode(samples, packet.Payload)
		p.mu.Lock()
		p.received = append(p.received, samples...)
		p.receivedAt = append(p.receivedAt, time.Now())
		p.mu.Unlock()
	}
}

// audioSince returns the received audio of the frames that arrived after
// from.
func (p *tonePeer) audioSince(from time.Time) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, at := range p.receivedAt {
		if at.After(from) {
			return append([]int16(nil), p.received[i*FrameSamples:]...)
		}
	}
	return nil
}

// frames returns how many frames the peer has received.
func (p *tonePeer) frames() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.receivedAt)
}

// mixFixture is a running mixer with one tone peer per participant.
type mixFixture struct {
	mixer    *Mixer
	peers    map[string]*tonePeer
	sessions map[string]*testSession
}

// startMix starts a mixer with a participant per entry of tones, each
// sending its tone from a peer.
func startMix(t *testing.T, tones map[string]float64, codecs map[string]Codec, drop func(n int) bool, delay func(n int) time.Duration) *mixFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	f := &mixFixture{mixer: NewMixer(zerolog.Nop()), peers: map[string]*tonePeer{}, sessions: map[string]*testSession{}}
	mixDone := make(chan error, 1)
	go func() { mixDone <- f.mixer.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-mixDone; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})

	for id, frequency := range tones {
		codec := codecs[id]
		peer := newTonePeer(t, codec, frequency)
		session := startSession(t, SessionConfig{Remote: addrOf(peer.conn), Codec: codec})
		if err := f.mixer.Add(ctx, id, session.Session); err != nil {
			t.Fatalf("Add(%s): %v", id, err)
		}
		f.peers[id], f.sessions[id] = peer, session
		go peer.receive(ctx)
		go peer.sendTone(ctx, session.LocalAddr(), drop, delay)
	}
	return f
}

// waitFrames waits until every peer has received n more frames than now.
func (f *mixFixture) waitFrames(t *testing.T, n int) {
	t.Helper()
	want := map[string]int{}
	for id, p := range f.peers {
		want[id] = p.frames() + n
	}
	deadline := time.Now().Add(testDeadline)
	for id, p := range f.peers {
		for p.frames() < want[id] {
			if time.Now().After(deadline) {
				t.Fatalf("%s received %d frames within %s, want %d", id, p.frames(), testDeadline, want[id])
			}
			time.Sleep(FrameDuration)
		}
	}
}

// checkHears checks, by Goertzel amplitude, which tones each listener
// received after from.
func (f *mixFixture) checkHears(t *testing.T, from time.Time, want map[string][]string) {
	t.Helper()
	const heard, unheard = toneAmplitude / 2, toneAmplitude / 20
	for listener, peer := range f.peers {
		audio := peer.audioSince(from)
		if len(audio) < SampleRate/4 {
			t.Fatalf("%s received %d samples since the change, want at least %d", listener, len(audio), SampleRate/4)
		}
		for speaker, speakerPeer := range f.peers {
			amplitude := goertzelAmplitude(audio, speakerPeer.frequency)
			shouldHear := false
			for _, id := range want[listener] {
				shouldHear = shouldHear || id == speaker
			}
			switch {
			case shouldHear && amplitude < heard:
				t.Errorf("%s hears %s at amplitude %.0f, want at least %d", listener, speaker, amplitude, heard)
			case !shouldHear && amplitude > unheard:
				t.Errorf("%s hears %s at amplitude %.0f, want at most %d", listener, speaker, amplitude, unheard)
			}
		}
	}
}

var threeParties = map[string]float64{"caller": 440, "counselor": 1000, "target": 1700}

var threeCodecs = map[string]Codec{"caller": PCMU, "counselor": PCMA, "target": PCMU}

func TestMixerEachHearsTheOthers(t *testing.T) {
	f := startMix(t, threeParties, threeCodecs, nil, nil)
	f.mixer.SetHears("caller", "counselor", "target", "caller")
	f.mixer.SetHears("counselor", "caller", "target")
	f.mixer.SetHears("target", "caller", "counselor")

	f.waitFrames(t, 10)
	from := time.Now()
	f.waitFrames(t, 25)
	f.checkHears(t, from, map[string][]string{
		"caller":    {"counselor", "target"},
		"counselor": {"caller", "target"},
		"target":    {"caller", "counselor"},
	})
}

func TestMixerFollowsMatrixChanges(t *testing.T) {
	f := startMix(t, threeParties, threeCodecs, nil, nil)
	// Listen: the supervisor ("target" here) hears both, nobody hears it.
	f.mixer.SetHears("caller", "counselor")
	f.mixer.SetHears("counselor", "caller")
	f.mixer.SetHears("target", "caller", "counselor")
	f.waitFrames(t, 10)
	from := time.Now()
	f.waitFrames(t, 25)
	f.checkHears(t, from, map[string][]string{
		"caller":    {"counselor"},
		"counselor": {"caller"},
		"target":    {"caller", "counselor"},
	})

	// Whisper: only the counselor hears the supervisor.
	f.mixer.SetHears("counselor", "caller", "target")
	f.waitFrames(t, 5)
	from = time.Now()
	f.waitFrames(t, 25)
	f.checkHears(t, from, map[string][]string{
		"caller":    {"counselor"},
		"counselor": {"caller", "target"},
		"target":    {"caller", "counselor"},
	})
}

func TestMixerSendsSilenceForLostPackets(t *testing.T) {
	// Every third packet of every peer is lost: the mix goes on, and the
	// tones are still heard at two thirds of their energy.
	f := startMix(t, threeParties, threeCodecs, func(n int) bool { return n%3 == 2 }, nil)
	f.mixer.SetHears("caller", "counselor", "target")
	f.mixer.SetHears("counselor", "caller", "target")
	f.mixer.SetHears("target", "caller", "counselor")
	f.waitFrames(t, 10)
	from := time.Now()
	f.waitFrames(t, 25)
	for id, peer := range f.peers {
		audio := peer.audioSince(from)
		for speaker, speakerPeer := range f.peers {
			amplitude := goertzelAmplitude(audio, speakerPeer.frequency)
			if speaker == id && amplitude > toneAmplitude/20 {
				t.Errorf("%s hears itself at amplitude %.0f", id, amplitude)
			}
			if speaker != id && amplitude < toneAmplitude/3 {
				t.Errorf("%s hears %s at amplitude %.0f, want at least %d", id, speaker, amplitude, toneAmplitude/3)
			}
		}
	}
}

func TestMixerAbsorbsJitter(t *testing.T) {
	// Packets leave up to 35 ms late in a repeating pattern, and the ones
	// after a late packet follow in a burst. The 40 ms playout delay takes
	// it all, so the tones arrive whole.
	pattern := []time.Duration{0, 35, 5, 20, 0, 30, 10, 0}
	delay := func(n int) time.Duration { return pattern[n%len(pattern)] * time.Millisecond }
	f := startMix(t, threeParties, threeCodecs, nil, delay)
	f.mixer.SetHears("caller", "counselor", "target")
	f.mixer.SetHears("counselor", "caller", "target")
	f.mixer.SetHears("target", "caller", "counselor")
	f.waitFrames(t, 10)
	from := time.Now()
	f.waitFrames(t, 50)

	for id, peer := range f.peers {
		audio := peer.audioSince(from)
		for speaker, speakerPeer := range f.peers {
			amplitude := goertzelAmplitude(audio, speakerPeer.frequency)
			if speaker != id && amplitude < toneAmplitude*9/10 {
				t.Errorf("%s hears %s at amplitude %.0f, want at least %d: audio was lost to jitter", id, speaker, amplitude, toneAmplitude*9/10)
			}
		}
	}
	for id, session := range f.sessions {
		session.Session.relayMu.Lock()
		input := session.Session.mixInput
		session.Session.relayMu.Unlock()
		// A loaded machine may delay a packet beyond the playout delay
		// now and then; the pattern alone never does.
		if s := input.stats(); s.dropped*50 > s.packets {
			t.Errorf("%s jitter buffer: %+v, want under 2%% of packets late", id, s)
		}
	}
}

func TestMixerStreamIsContinuous(t *testing.T) {
	peer := newPeer(t)
	session := startSession(t, SessionConfig{Remote: peer.addr(), Codec: PCMA})
	mixer := NewMixer(zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mixer.Run(ctx) }()

	// The session played a clip before it joins: the mix continues its
	// sequence numbers and starts a talkspurt.
	if err := session.Play(ctx, audioOf(FrameSamples, 0)); err != nil {
		t.Fatalf("Play: %v", err)
	}
	before := peer.read()
	if err := mixer.Add(ctx, "a", session.Session); err != nil {
		t.Fatalf("Add: %v", err)
	}

	packets := peer.readN(20)
	if packets[0].SequenceNumber != before.SequenceNumber+1 || !packets[0].Marker {
		t.Errorf("first mixed packet: seq %d marker %v, want seq %d with marker", packets[0].SequenceNumber, packets[0].Marker, before.SequenceNumber+1)
	}
	for i := 1; i < len(packets); i++ {
		if packets[i].SSRC != before.SSRC {
			t.Fatalf("packet %d: SSRC %#x, want %#x", i, packets[i].SSRC, before.SSRC)
		}
		if packets[i].SequenceNumber != packets[i-1].SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d", i, packets[i].SequenceNumber, packets[i-1].SequenceNumber)
		}
		if packets[i].Timestamp != packets[i-1].Timestamp+FrameSamples {
			t.Errorf("packet %d: timestamp %d after %d", i, packets[i].Timestamp, packets[i-1].Timestamp)
		}
		if packets[i].PayloadType != PayloadTypePCMA || len(packets[i].Payload) != FrameSamples {
			t.Errorf("packet %d: payload type %d, %d bytes", i, packets[i].PayloadType, len(packets[i].Payload))
		}
	}
}

func TestMixerRemoveFreesSession(t *testing.T) {
	peer := newPeer(t)
	session := startSession(t, SessionConfig{Remote: peer.addr(), Codec: PCMU})
	mixer := NewMixer(zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mixer.Run(ctx) }()

	if err := mixer.Add(ctx, "a", session.Session); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := mixer.Add(ctx, "a", session.Session); !errors.Is(err, ErrParticipantExists) {
		t.Errorf("second Add: %v, want ErrParticipantExists", err)
	}
	playCtx, stopPlay := context.WithTimeout(ctx, 100*time.Millisecond)
	err := session.Play(playCtx, audioOf(FrameSamples, 0))
	stopPlay()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Play during the mix: %v, want it to wait", err)
	}

	mixer.Remove("a")
	if err := session.Play(ctx, audioOf(FrameSamples, 0)); err != nil {
		t.Errorf("Play after Remove: %v", err)
	}
	if got := mixer.Participants(); len(got) != 0 {
		t.Errorf("Participants after Remove = %v", got)
	}
}

func TestMixerRunEndRemovesAll(t *testing.T) {
	session := startSession(t, SessionConfig{Remote: newPeer(t).addr(), Codec: PCMU})
	mixer := NewMixer(zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mixer.Run(ctx) }()
	if err := mixer.Add(ctx, "a", session.Session); err != nil {
		t.Fatalf("Add: %v", err)
	}
	cancel()
	if err := waitResult(t, "Run", done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if err := mixer.Add(context.Background(), "b", session.Session); !errors.Is(err, ErrMixerClosed) {
		t.Errorf("Add after Run: %v, want ErrMixerClosed", err)
	}
	if err := session.Play(context.Background(), audioOf(FrameSamples, 0)); err != nil {
		t.Errorf("Play after Run: %v", err)
	}
}

func TestMixerRejectsUnsupportedCodec(t *testing.T) {
	session := startSession(t, SessionConfig{Codec: Codec{Name: "G729", PayloadType: 18, ClockRate: 8000}})
	err := NewMixer(zerolog.Nop()).Add(context.Background(), "a", session.Session)
	if !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("Add: %v, want ErrUnsupportedCodec", err)
	}
}

func TestSaturate(t *testing.T) {
	cases := []struct {
		in   int32
		want int16
	}{
		{0, 0},
		{32767, 32767},
		{40000, 32767},
		{-32768, -32768},
		{-50000, -32768},
		{1234, 1234},
	}
	for _, c := range cases {
		if got := saturate(c.in); got != c.want {
			t.Errorf("saturate(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestMixForClipsAndSkipsSelf(t *testing.T) {
	m := NewMixer(zerolog.Nop())
	a, b, c := &mixParty{id: "a"}, &mixParty{id: "b"}, &mixParty{id: "c"}
	for i := range FrameSamples {
		a.frame[i], b.frame[i], c.frame[i] = 100, 30000, 20000
	}
	m.parties = []*mixParty{a, b, c}
	m.hears["a"] = []string{"a", "b", "c", "missing"}
	m.hears["b"] = []string{"a"}

	m.mixFor(a)
	if m.out[0] != math.MaxInt16 {
		t.Errorf("a hears %d, want the clipped sum %d", m.out[0], math.MaxInt16)
	}
	m.mixFor(b)
	if m.out[0] != 100 {
		t.Errorf("b hears %d, want 100", m.out[0])
	}
	m.mixFor(c)
	if m.out[0] != 0 {
		t.Errorf("c hears %d, want silence", m.out[0])
	}
}

func TestMixerPlayToOneListener(t *testing.T) {
	m := NewMixer(zerolog.Nop())
	a, b := &mixParty{id: "a"}, &mixParty{id: "b"}
	m.parties = []*mixParty{a, b}
	m.hears["a"] = []string{"b"}
	for i := range FrameSamples {
		b.frame[i] = 100
	}

	if m.PlayTo("missing", audioOf(FrameSamples, 1)) {
		t.Error("PlayTo an unknown participant returned true")
	}
	if !m.PlayTo("a", audioOf(FrameSamples+FrameSamples/2, 1000)) {
		t.Fatal("PlayTo returned false for a participant in the mix")
	}

	want := []struct{ first, last int16 }{{1100, 1100}, {1100, 100}, {100, 100}}
	for n, w := range want {
		m.mixFor(a)
		if m.out[0] != w.first || m.out[FrameSamples-1] != w.last {
			t.Errorf("frame %d: first %d last %d, want %d and %d", n, m.out[0], m.out[FrameSamples-1], w.first, w.last)
		}
	}
	m.mixFor(b)
	if m.out[0] != 0 {
		t.Errorf("b hears %d, want silence: the clip is for a only", m.out[0])
	}
}

// jitterPacket writes a packet of n samples of value at timestamp.
func jitterPacket(j *jitterBuffer, ssrc, timestamp uint32, n int, value int16) {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = EncodeULaw(value)
	}
	j.write(&rtp.Header{SSRC: ssrc, Timestamp: timestamp}, payload, lawULaw)
}

// readFrame reads one frame and returns its first sample.
func readFrame(j *jitterBuffer) int16 {
	frame := make([]int16, FrameSamples)
	j.read(frame)
	return frame[0]
}

func TestJitterBufferOrderLossAndDelay(t *testing.T) {
	var j jitterBuffer
	if got := readFrame(&j); got != 0 {
		t.Fatalf("before any packet: %d, want silence", got)
	}
	value := DecodeULaw(EncodeULaw(1000))

	// Packets 0, 2 and 1 arrive in that order, packet 3 is lost, 4 comes.
	jitterPacket(&j, 1, 0, FrameSamples, 1000)
	jitterPacket(&j, 1, 2*FrameSamples, FrameSamples, 1000)
	jitterPacket(&j, 1, FrameSamples, FrameSamples, 1000)
	jitterPacket(&j, 1, 4*FrameSamples, FrameSamples, 1000)

	want := []int16{0, 0, value, value, value, 0, value, 0}
	for i, w := range want {
		if got := readFrame(&j); got != w {
			t.Errorf("frame %d: %d, want %d", i, got, w)
		}
	}
}

func TestJitterBufferDropsLateAndResyncs(t *testing.T) {
	var j jitterBuffer
	jitterPacket(&j, 1, 10000, FrameSamples, 1000)
	for range 4 {
		readFrame(&j)
	}
	// Playout passed 10000+160: a packet for 10000 is late.
	jitterPacket(&j, 1, 10000, FrameSamples, 1000)
	if s := j.stats(); s.dropped != 1 || s.restarts != 0 {
		t.Fatalf("after a late packet: %+v, want 1 dropped, no restart", s)
	}
	// Three late packets in a row: the sender's clock is behind, follow it.
	jitterPacket(&j, 1, 10000, FrameSamples, 1000)
	jitterPacket(&j, 1, 10000, FrameSamples, 1000)
	if s := j.stats(); s.restarts != 1 {
		t.Fatalf("after three late packets: %+v, want a restart", s)
	}

	// A new SSRC starts afresh with the playout delay.
	jitterPacket(&j, 2, 500, FrameSamples, 1000)
	if s := j.stats(); s.restarts != 2 {
		t.Errorf("after a new SSRC: %+v, want a second restart", s)
	}
	if got := readFrame(&j); got != 0 {
		t.Errorf("first frame after restart: %d, want the delay's silence", got)
	}
}

func TestJitterBufferBoundsDelay(t *testing.T) {
	var j jitterBuffer
	// A burst of 30 frames with no reads in between: playout skips ahead
	// so that no more than the max delay is buffered.
	for n := range 30 {
		jitterPacket(&j, 1, uint32(n*FrameSamples), FrameSamples, int16(n*10+10))
	}
	j.mu.Lock()
	buffered := int32(j.newest - j.playout)
	j.mu.Unlock()
	if buffered > jitterMaxDelay {
		t.Errorf("buffered %d samples, want at most %d", buffered, jitterMaxDelay)
	}
}

func TestGoertzelAmplitude(t *testing.T) {
	samples := make([]int16, SampleRate/2)
	for i := range samples {
		samples[i] = int16(5000 * math.Sin(2*math.Pi*1000*float64(i)/SampleRate))
	}
	if got := goertzelAmplitude(samples, 1000); math.Abs(got-5000) > 100 {
		t.Errorf("amplitude at 1000 Hz = %.0f, want about 5000", got)
	}
	if got := goertzelAmplitude(samples, 1700); got > 100 {
		t.Errorf("amplitude at 1700 Hz = %.0f, want about 0", got)
	}
}

// benchmarkParties builds a mixer with n participants whose sessions send
// to a loopback sink, each hearing all others, with a frame of audio
// buffered in each jitter buffer.
func benchmarkParties(b *testing.B, n int) *Mixer {
	b.Helper()
	sink := listenLoopback(b)
	m := NewMixer(zerolog.Nop())
	for i := range n {
		codec := PCMU
		if i%2 == 1 {
			codec = PCMA
		}
		session := NewSession(SessionConfig{Conn: listenLoopback(b), Remote: addrOf(sink), Codec: codec, Logger: zerolog.Nop()})
		id := fmt.Sprintf("p%d", i)
		if err := m.Add(context.Background(), id, session); err != nil {
			b.Fatalf("Add: %v", err)
		}
	}
	ids := m.Participants()
	for _, id := range ids {
		m.SetHears(id, ids...)
	}
	return m
}

// refill writes one frame of a tone into every participant's buffer, as
// the receive goroutines would between two ticks.
func refill(m *Mixer, payload []byte, timestamp uint32) {
	header := rtp.Header{SSRC: 1, Timestamp: timestamp}
	for _, p := range m.parties {
		p.input.write(&header, payload, p.session.law)
	}
}

// BenchmarkMixerTick measures one 20 ms tick: read each participant's
// frame from its jitter buffer, mix for each listener, encode and send
// one packet per participant to a loopback socket.
func BenchmarkMixerTick(b *testing.B) {
	for _, n := range []int{3, 4} {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) {
			m := benchmarkParties(b, n)
			payload := make([]byte, FrameSamples)
			for i := range payload {
				payload[i] = EncodeULaw(int16(4000 * math.Sin(float64(i))))
			}
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				refill(m, payload, uint32(i*FrameSamples))
				m.tick(now)
			}
		})
	}
}

// BenchmarkMixerMix measures the same tick without the socket writes:
// jitter buffer reads, sums with saturation and G.711 encoding.
func BenchmarkMixerMix(b *testing.B) {
	for _, n := range []int{3, 4} {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) {
			m := benchmarkParties(b, n)
			payload := make([]byte, FrameSamples)
			encoded := make([]byte, FrameSamples)
			for i := range payload {
				payload[i] = EncodeULaw(int16(4000 * math.Sin(float64(i))))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				refill(m, payload, uint32(i*FrameSamples))
				for _, p := range m.parties {
					p.input.read(p.frame[:])
				}
				for _, p := range m.parties {
					m.mixFor(p)
					p.session.law.encode(encoded, m.out[:])
				}
			}
		})
	}
}
