package media

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// telephoneEventPT is the dynamic payload type the tests negotiate for
// RFC 4733 events.
const telephoneEventPT = 101

// dtmfEventPayload builds an RFC 4733 payload for a DTMF event code.
func dtmfEventPayload(code uint8, end bool, duration uint16) []byte {
	flags := byte(10) // volume -10 dBm0
	if end {
		flags |= telephoneEventEndBit
	}
	return []byte{code, flags, byte(duration >> 8), byte(duration)}
}

// sendKeyPress sends the packets of one key press the way phones do: a
// start packet with the marker bit, continuation packets and three end
// packets, all with the event's start timestamp.
func sendKeyPress(p *peer, to netip.AddrPort, code uint8, ssrc uint32, seq *uint16, timestamp uint32) {
	p.t.Helper()
	durations := []uint16{160, 320, 480, 640, 640, 640}
	for i, duration := range durations {
		end := i >= 3
		p.send(to, rtp.Header{PayloadType: telephoneEventPT, SequenceNumber: *seq, Timestamp: timestamp, SSRC: ssrc, Marker: i == 0},
			dtmfEventPayload(code, end, duration))
		*seq++
	}
}

// The N1 case: SDP names one address, but the peer's RTP comes from
// another. Replies go to where the RTP comes from.
func TestSessionLatchesActualSource(t *testing.T) {
	sdpAddress := newPeer(t)
	actual := newPeer(t)
	session := startSession(t, SessionConfig{Remote: sdpAddress.addr(), Codec: PCMU})

	actual.send(session.LocalAddr(), rtp.Header{PayloadType: PayloadTypePCMU, SequenceNumber: 1, Timestamp: 160, SSRC: 7}, make([]byte, FrameSamples))
	session.logs.waitFor(t, "rtp source latched", 1)

	if err := session.Play(context.Background(), audioOf(3*FrameSamples, 0)); err != nil {
		t.Fatalf("Play: %v", err)
	}
	actual.readN(3)

	stats := session.Stats()
	if stats.Latched != actual.addr() {
		t.Errorf("latched %s, want %s", stats.Latched, actual.addr())
	}
	if stats.Remote != sdpAddress.addr() {
		t.Errorf("remote %s, want the SDP address %s", stats.Remote, sdpAddress.addr())
	}
	// Every packet sent reached the actual source, so none went to SDP.
	if stats.PacketsSent != 3 {
		t.Errorf("%d packets sent, want 3", stats.PacketsSent)
	}
}

func TestSessionIgnoresOtherSourceWhileLatched(t *testing.T) {
	phone := newPeer(t)
	intruder := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU, TelephoneEvent: telephoneEventPT})

	var seq uint16
	phone.send(session.LocalAddr(), rtp.Header{PayloadType: PayloadTypePCMU, SequenceNumber: seq, SSRC: 1}, make([]byte, FrameSamples))
	session.logs.waitFor(t, "rtp source latched", 1)

	sendKeyPress(intruder, session.LocalAddr(), 9, 2, &seq, 1000)
	sendKeyPress(phone, session.LocalAddr(), 1, 1, &seq, 2000)

	if got := waitDigit(t, session.Session); got != '1' {
		t.Errorf("digit %q, want '1' from the latched source", got)
	}
	if foreign := session.Stats().Foreign; foreign != 6 {
		t.Errorf("%d foreign packets, want 6", foreign)
	}
}

func TestSessionRelatchesAfterSilence(t *testing.T) {
	session := NewSession(SessionConfig{Codec: PCMU})
	first := netip.MustParseAddrPort("127.0.0.1:40000")
	second := netip.MustParseAddrPort("127.0.0.1:40002")
	start := time.Now()

	tests := []struct {
		name   string
		source netip.AddrPort
		at     time.Duration
		accept bool
		want   netip.AddrPort
	}{
		{name: "first source latches", source: first, at: 0, accept: true, want: first},
		{name: "other source rejected while latched source is active", source: second, at: relatchIdle / 2, accept: false, want: first},
		{name: "latched source refreshes", source: first, at: relatchIdle, accept: true, want: first},
		{name: "other source still rejected", source: second, at: relatchIdle + relatchIdle/2, accept: false, want: first},
		{name: "other source latches after silence", source: second, at: 2*relatchIdle + time.Millisecond, accept: true, want: second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := session.acceptSource(tt.source, start.Add(tt.at)); got != tt.accept {
				t.Errorf("acceptSource(%s) = %v, want %v", tt.source, got, tt.accept)
			}
			if latched := session.Stats().Latched; latched != tt.want {
				t.Errorf("latched %s, want %s", latched, tt.want)
			}
		})
	}
}

func TestSessionSetRemoteClearsLatch(t *testing.T) {
	session := NewSession(SessionConfig{Codec: PCMU, Remote: netip.MustParseAddrPort("127.0.0.1:40000")})
	source := netip.MustParseAddrPort("127.0.0.1:40010")
	session.acceptSource(source, time.Now())

	session.SetRemote(netip.MustParseAddrPort("127.0.0.1:40000"))
	if latched := session.Stats().Latched; latched != source {
		t.Errorf("same remote: latched %s, want %s kept", latched, source)
	}

	moved := netip.MustParseAddrPort("127.0.0.1:40020")
	session.SetRemote(moved)
	stats := session.Stats()
	if stats.Latched.IsValid() {
		t.Errorf("new remote: latched %s, want cleared", stats.Latched)
	}
	if destination, ok := session.destination(); !ok || destination != moved {
		t.Errorf("destination %s %v, want %s", destination, ok, moved)
	}
}

func TestSessionDestination(t *testing.T) {
	tests := []struct {
		name   string
		remote netip.AddrPort
		want   bool
	}{
		{name: "zero remote", remote: netip.AddrPort{}, want: false},
		{name: "hold address 0.0.0.0", remote: netip.MustParseAddrPort("0.0.0.0:40000"), want: false},
		{name: "unspecified IPv6", remote: netip.MustParseAddrPort("[::]:40000"), want: false},
		{name: "port 0", remote: netip.MustParseAddrPort("127.0.0.1:0"), want: false},
		{name: "usable", remote: netip.MustParseAddrPort("127.0.0.1:40000"), want: true},
		{name: "IPv4-mapped", remote: netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session := NewSession(SessionConfig{Codec: PCMU, Remote: tt.remote})
			if _, ok := session.destination(); ok != tt.want {
				t.Errorf("destination usable = %v, want %v", ok, tt.want)
			}
		})
	}
}

// On hold (0.0.0.0 in SDP) nothing is sent until the peer's first packet
// shows where to send. The first packet sent then has the marker bit.
func TestSessionSendsNothingWithoutDestination(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: netip.MustParseAddrPort("0.0.0.0:40000"), Codec: PCMU})

	if err := session.Play(context.Background(), audioOf(3*FrameSamples, 0)); err != nil {
		t.Fatalf("Play: %v", err)
	}
	if stats := session.Stats(); stats.Unsent != 3 || stats.PacketsSent != 0 {
		t.Errorf("on hold: %d unsent and %d sent, want 3 and 0", stats.Unsent, stats.PacketsSent)
	}

	phone.send(session.LocalAddr(), rtp.Header{PayloadType: PayloadTypePCMU, SSRC: 1}, make([]byte, FrameSamples))
	session.logs.waitFor(t, "rtp source latched", 1)
	if err := session.Play(context.Background(), audioOf(2*FrameSamples, 0)); err != nil {
		t.Fatalf("Play: %v", err)
	}
	checkStream(t, phone.readN(2), PayloadTypePCMU)
}

func TestSessionCountsMalformedPackets(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU, TelephoneEvent: telephoneEventPT})

	valid := func(payloadType uint8, payload []byte) []byte {
		datagram, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: payloadType, SSRC: 1}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		return datagram
	}
	versionOne := valid(PayloadTypePCMU, make([]byte, FrameSamples))
	versionOne[0] = 1 << 6
	badPadding := valid(PayloadTypePCMU, make([]byte, FrameSamples))
	badPadding[0] |= 1 << 5 // padding flag, last byte 0: invalid padding
	badPadding[len(badPadding)-1] = 0
	truncatedCSRC := valid(PayloadTypePCMU, nil)[:rtpHeaderSize]
	truncatedCSRC[0] |= 0x0F // 15 CSRCs announced, none present

	malformed := []struct {
		name     string
		datagram []byte
	}{
		{name: "empty", datagram: []byte{}},
		{name: "shorter than a header", datagram: []byte{0x80, 0, 0, 1, 0}},
		{name: "version 1", datagram: versionOne},
		{name: "unknown payload type", datagram: valid(96, make([]byte, FrameSamples))},
		{name: "no payload", datagram: valid(PayloadTypePCMU, nil)},
		{name: "invalid padding", datagram: badPadding},
		{name: "truncated CSRC list", datagram: truncatedCSRC},
	}
	for _, m := range malformed {
		phone.sendRaw(session.LocalAddr(), m.datagram)
	}

	// Loopback keeps order, so once a digit sent afterwards arrives, every
	// malformed datagram has been handled.
	var seq uint16
	sendKeyPress(phone, session.LocalAddr(), 5, 1, &seq, 100)
	if got := waitDigit(t, session.Session); got != '5' {
		t.Errorf("digit %q, want '5'", got)
	}

	// The digit is reported at the first packet of the key press, so the
	// press's later packets may still be on their way: wait for all of them.
	want := uint64(len(malformed) + 6)
	deadline := time.Now().Add(10 * time.Second)
	stats := session.Stats()
	for stats.PacketsReceived < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		stats = session.Stats()
	}
	if stats.Invalid != uint64(len(malformed)) {
		t.Errorf("%d invalid packets counted, want %d", stats.Invalid, len(malformed))
	}
	if stats.PacketsReceived != want {
		t.Errorf("%d packets received, want %d", stats.PacketsReceived, want)
	}
}

func TestSessionDigitsFromEvents(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU, TelephoneEvent: telephoneEventPT})

	var seq uint16
	keys := []struct {
		code uint8
		want Digit
	}{{1, '1'}, {2, '2'}, {11, '#'}, {10, '*'}, {2, '2'}}
	for i, key := range keys {
		sendKeyPress(phone, session.LocalAddr(), key.code, 1, &seq, uint32(1000*(i+1)))
	}
	for _, key := range keys {
		if got := waitDigit(t, session.Session); got != key.want {
			t.Errorf("digit %q, want %q", got, key.want)
		}
	}

	// A new SSRC with a reused timestamp is a new stream: its key counts.
	sendKeyPress(phone, session.LocalAddr(), 3, 2, &seq, 1000)
	if got := waitDigit(t, session.Session); got != '3' {
		t.Errorf("digit after SSRC change %q, want '3'", got)
	}
	select {
	case extra := <-session.Digits():
		t.Errorf("unexpected extra digit %q", extra)
	default:
	}
}

func TestSessionInjectDigitDropsOldest(t *testing.T) {
	session := NewSession(SessionConfig{Codec: PCMU})
	const extra = 5
	for i := range digitBufferSize + extra {
		session.InjectDigit(Digit('0' + i%10))
	}

	if dropped := session.Stats().DigitsDropped; dropped != extra {
		t.Errorf("%d digits dropped, want %d", dropped, extra)
	}
	if got, want := <-session.Digits(), Digit('0'+extra); got != want {
		t.Errorf("oldest kept digit %q, want %q", got, want)
	}
}

func TestSessionAcceptsPacketSizes(t *testing.T) {
	tests := []struct {
		name    string
		samples int
	}{
		{name: "10 ms", samples: 80},
		{name: "20 ms", samples: 160},
		{name: "30 ms", samples: 240},
		{name: "60 ms", samples: 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session := NewSession(SessionConfig{Codec: PCMU})
			datagram, err := (&rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: PayloadTypePCMU, SSRC: 1},
				Payload: bytes.Repeat([]byte{ULawSilence}, tt.samples),
			}).Marshal()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			now := time.Now()
			session.handlePacket(datagram, netip.MustParseAddrPort("127.0.0.1:40000"), now)
			stats := session.Stats()
			if stats.AudioReceived != 1 || stats.Invalid != 0 {
				t.Errorf("%d audio and %d invalid packets, want 1 and 0", stats.AudioReceived, stats.Invalid)
			}
			if !stats.LastReceived.Equal(now) {
				t.Errorf("LastReceived = %s, want %s", stats.LastReceived, now)
			}
		})
	}
}

func TestSessionCloseStopsSenders(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})

	result := make(chan error, 1)
	go func() { result <- session.PlayLoop(context.Background(), nil, audioOf(FrameSamples, 0)) }()
	phone.read()

	if err := session.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitResult(t, "PlayLoop", result); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("PlayLoop: %v, want ErrSessionClosed", err)
	}
	if err := session.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := session.Play(context.Background(), audioOf(FrameSamples, 0)); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Play after Close: %v, want ErrSessionClosed", err)
	}

	unstarted := NewSession(SessionConfig{Conn: listenLoopback(t), Codec: PCMU})
	if err := unstarted.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	unstarted.Start(context.Background())
	if unstarted.started {
		t.Errorf("Start after Close started the receiver")
	}
}

func TestSessionReceiverStopsOnContext(t *testing.T) {
	conn := listenLoopback(t)
	session := NewSession(SessionConfig{Conn: conn, Codec: PCMU})
	t.Cleanup(func() { session.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	session.Start(ctx)
	cancel()

	stopped := make(chan struct{})
	go func() {
		session.receiver.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(testDeadline):
		t.Fatalf("receive goroutine still running %s after its context ended", testDeadline)
	}

	// The socket stays usable for a new session.
	phone := newPeer(t)
	next := startSession(t, SessionConfig{Conn: conn, Codec: PCMU, TelephoneEvent: telephoneEventPT})
	var seq uint16
	sendKeyPress(phone, next.LocalAddr(), 4, 1, &seq, 100)
	if got := waitDigit(t, next.Session); got != '4' {
		t.Errorf("digit on the reused socket %q, want '4'", got)
	}
}

func TestSessionUnsupportedCodec(t *testing.T) {
	session := NewSession(SessionConfig{Codec: Codec{Name: "G722", PayloadType: 9, ClockRate: 8000}})
	if err := session.Play(context.Background(), audioOf(FrameSamples, 0)); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("Play: %v, want ErrUnsupportedCodec", err)
	}
	if err := session.PlayLoop(context.Background(), nil, nil); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("PlayLoop: %v, want ErrUnsupportedCodec", err)
	}
}

func TestSessionLocalAddr(t *testing.T) {
	conn := listenLoopback(t)
	session := NewSession(SessionConfig{Conn: conn, Codec: PCMU})
	if got, want := session.LocalAddr(), addrOf(conn); got != want {
		t.Errorf("LocalAddr = %s, want %s", got, want)
	}
}

// FuzzSessionHandlePacket feeds arbitrary datagrams to the receive path:
// it must never panic, and every datagram is counted exactly once.
func FuzzSessionHandlePacket(f *testing.F) {
	seed := func(header rtp.Header, payload []byte) []byte {
		header.Version = 2
		datagram, err := (&rtp.Packet{Header: header, Payload: payload}).Marshal()
		if err != nil {
			f.Fatalf("marshal seed: %v", err)
		}
		return datagram
	}
	f.Add(seed(rtp.Header{PayloadType: PayloadTypePCMU, SSRC: 1}, make([]byte, FrameSamples)))
	f.Add(seed(rtp.Header{PayloadType: telephoneEventPT, SSRC: 1, Marker: true}, dtmfEventPayload(5, false, 160)))
	f.Add(seed(rtp.Header{PayloadType: PayloadTypePCMU, CSRC: []uint32{1, 2}}, []byte{1}))
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x10, 0xFF, 0, 0})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, datagram []byte) {
		session := NewSession(SessionConfig{Codec: PCMU, TelephoneEvent: telephoneEventPT})
		session.handlePacket(datagram, netip.MustParseAddrPort("127.0.0.1:40000"), time.Now())

		stats := session.Stats()
		if stats.PacketsReceived != 1 {
			t.Errorf("%d packets received, want 1", stats.PacketsReceived)
		}
		if handled := stats.Invalid + stats.AudioReceived; handled > 1 {
			t.Errorf("packet counted %d times", handled)
		}
		if stats.Invalid == 1 && !stats.LastReceived.IsZero() {
			t.Errorf("invalid packet set LastReceived")
		}
		if stats.AudioReceived == 1 && (len(datagram) <= rtpHeaderSize || datagram[1]&0x7F != PayloadTypePCMU) {
			t.Errorf("datagram %x accepted as audio", datagram)
		}
	})
}
