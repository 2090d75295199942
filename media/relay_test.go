package media

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// bridgedPair is two started sessions, each with its own phone, bridged
// until the test ends.
type bridgedPair struct {
	phoneA, phoneB *peer
	a, b           *testSession
}

// startBridge starts Bridge(a, b) and waits until it relays. Each leg's
// SDP remote is its phone. before runs on the legs before the bridge
// starts.
func startBridge(t *testing.T, configA, configB SessionConfig, before func(p *bridgedPair)) *bridgedPair {
	t.Helper()
	p := &bridgedPair{phoneA: newPeer(t), phoneB: newPeer(t)}
	configA.Remote = p.phoneA.addr()
	configB.Remote = p.phoneB.addr()
	p.a = startSession(t, configA)
	p.b = startSession(t, configB)
	if before != nil {
		before(p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- Bridge(ctx, p.a.Session, p.b.Session) }()
	t.Cleanup(func() {
		cancel()
		if err := waitResult(t, "Bridge", result); !errors.Is(err, context.Canceled) {
			t.Errorf("Bridge: %v, want context.Canceled", err)
		}
	})
	p.a.logs.waitFor(t, "rtp bridge started", 1)
	return p
}

// audioPacket is an incoming audio packet for a test to send.
type audioPacket struct {
	seq       uint16
	timestamp uint32
	ssrc      uint32
	marker    bool
	payload   []byte
}

func (p *peer) sendAudio(to netip.AddrPort, payloadType uint8, packet audioPacket) {
	p.t.Helper()
	p.send(to, rtp.Header{
		PayloadType:    payloadType,
		SequenceNumber: packet.seq,
		Timestamp:      packet.timestamp,
		SSRC:           packet.ssrc,
		Marker:         packet.marker,
	}, packet.payload)
}

// After a Play on B, audio from A's phone reaches B's phone on B's stream:
// B's SSRC, sequence numbers that continue from the prompt, and the
// timestamp span of each incoming packet.
func TestBridgeContinuesStreamAfterPlay(t *testing.T) {
	var prompt []rtp.Packet
	p := startBridge(t, SessionConfig{Codec: PCMU}, SessionConfig{Codec: PCMU}, func(p *bridgedPair) {
		if err := p.b.Play(context.Background(), audioOf(2*FrameSamples, 0)); err != nil {
			t.Fatalf("Play on B: %v", err)
		}
		prompt = p.phoneB.readN(2)
	})

	// 20 ms, 10 ms, then 60 ms packets, with a timestamp base far from B's.
	incoming := []audioPacket{
		{seq: 7000, timestamp: 90000, ssrc: 0xA, marker: true, payload: bytes.Repeat([]byte{0x11}, 160)},
		{seq: 7001, timestamp: 90160, ssrc: 0xA, payload: bytes.Repeat([]byte{0x22}, 80)},
		{seq: 7002, timestamp: 90240, ssrc: 0xA, payload: bytes.Repeat([]byte{0x33}, 480)},
		{seq: 7003, timestamp: 90720, ssrc: 0xA, payload: bytes.Repeat([]byte{0x44}, 160)},
	}
	for _, packet := range incoming {
		p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMU, packet)
	}
	relayed := p.phoneB.readN(len(incoming))

	lastPrompt := prompt[len(prompt)-1]
	for i, packet := range relayed {
		if packet.SSRC != lastPrompt.SSRC {
			t.Errorf("packet %d: SSRC %#x, want B's %#x", i, packet.SSRC, lastPrompt.SSRC)
		}
		if want := lastPrompt.SequenceNumber + 1 + uint16(i); packet.SequenceNumber != want {
			t.Errorf("packet %d: sequence number %d, want %d", i, packet.SequenceNumber, want)
		}
		if packet.PayloadType != PayloadTypePCMU {
			t.Errorf("packet %d: payload type %d, want %d", i, packet.PayloadType, PayloadTypePCMU)
		}
		if !bytes.Equal(packet.Payload, incoming[i].payload) {
			t.Errorf("packet %d: payload changed", i)
		}
		if want := incoming[i].timestamp - incoming[0].timestamp; packet.Timestamp-relayed[0].Timestamp != want {
			t.Errorf("packet %d: timestamp %d after the first, want %d", i, packet.Timestamp-relayed[0].Timestamp, want)
		}
	}
	if !relayed[0].Marker {
		t.Errorf("first relayed packet has no marker bit")
	}
	if step := relayed[0].Timestamp - lastPrompt.Timestamp; step < FrameSamples {
		t.Errorf("first relayed timestamp %d after the prompt's last, want at least %d", step, FrameSamples)
	}
	if relayedIn := p.a.Stats().AudioRelayed; relayedIn != uint64(len(incoming)) {
		t.Errorf("A counted %d audio packets relayed, want %d", relayedIn, len(incoming))
	}
}

func TestBridgeRelaysBothWays(t *testing.T) {
	p := startBridge(t, SessionConfig{Codec: PCMU}, SessionConfig{Codec: PCMU}, nil)

	p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 1, timestamp: 160, ssrc: 0xA, payload: bytes.Repeat([]byte{1}, 160)})
	p.phoneB.sendAudio(p.b.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 1, timestamp: 160, ssrc: 0xB, payload: bytes.Repeat([]byte{2}, 160)})

	atB := p.phoneB.read()
	atA := p.phoneA.read()
	if atB.Payload[0] != 1 || atA.Payload[0] != 2 {
		t.Errorf("payloads %d at B and %d at A, want 1 and 2", atB.Payload[0], atA.Payload[0])
	}
	if atA.SSRC == atB.SSRC {
		t.Errorf("both legs send with SSRC %#x, want one stream each", atA.SSRC)
	}
}

func TestBridgeTranscodes(t *testing.T) {
	tests := []struct {
		name               string
		codecA, codecB     Codec
		incoming           []byte
		wantAtB            func(byte) byte
		wantPayloadTypeAtB uint8
	}{
		{name: "pcmu to pcma", codecA: PCMU, codecB: PCMA, wantAtB: ULawToALaw, wantPayloadTypeAtB: PayloadTypePCMA},
		{name: "pcma to pcmu", codecA: PCMA, codecB: PCMU, wantAtB: ALawToULaw, wantPayloadTypeAtB: PayloadTypePCMU},
		{name: "same codec copies", codecA: PCMU, codecB: PCMU, wantAtB: func(c byte) byte { return c }, wantPayloadTypeAtB: PayloadTypePCMU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startBridge(t, SessionConfig{Codec: tt.codecA}, SessionConfig{Codec: tt.codecB}, nil)

			payload := make([]byte, 256)
			for i := range payload {
				payload[i] = byte(i)
			}
			p.phoneA.sendAudio(p.a.LocalAddr(), tt.codecA.PayloadType, audioPacket{seq: 1, timestamp: 1, ssrc: 0xA, payload: payload})
			packet := p.phoneB.read()

			if packet.PayloadType != tt.wantPayloadTypeAtB {
				t.Errorf("payload type %d, want %d", packet.PayloadType, tt.wantPayloadTypeAtB)
			}
			for i, code := range packet.Payload {
				if want := tt.wantAtB(byte(i)); code != want {
					t.Errorf("code %#x became %#x, want %#x", i, code, want)
				}
			}
		})
	}
}

func TestBridgeRelaysTelephoneEvents(t *testing.T) {
	tests := []struct {
		name    string
		eventB  uint8
		relayed bool
	}{
		{name: "other leg has telephone-event", eventB: 96, relayed: true},
		{name: "other leg has none", eventB: 0, relayed: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startBridge(t,
				SessionConfig{Codec: PCMU, TelephoneEvent: telephoneEventPT},
				SessionConfig{Codec: PCMA, TelephoneEvent: tt.eventB}, nil)

			var seq uint16
			sendKeyPress(p.phoneA, p.a.LocalAddr(), 7, 0xA, &seq, 8000)
			// Audio after the key press shows when the events were handled.
			p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMU, audioPacket{seq: seq, timestamp: 8800, ssrc: 0xA, payload: make([]byte, 160)})

			if got := waitDigit(t, p.a.Session); got != '7' {
				t.Errorf("digit at A %q, want '7'", got)
			}

			if !tt.relayed {
				audio := p.phoneB.read()
				if audio.PayloadType != PayloadTypePCMA {
					t.Errorf("payload type %d at B, want only audio (%d)", audio.PayloadType, PayloadTypePCMA)
				}
				if dropped := p.a.Stats().EventsDropped; dropped != 6 {
					t.Errorf("%d events dropped, want 6", dropped)
				}
				return
			}

			events := p.phoneB.readN(6)
			for i, event := range events {
				if event.PayloadType != tt.eventB {
					t.Errorf("event packet %d: payload type %d, want %d", i, event.PayloadType, tt.eventB)
				}
				if event.Timestamp != events[0].Timestamp {
					t.Errorf("event packet %d: timestamp %d, want the event start %d", i, event.Timestamp, events[0].Timestamp)
				}
				if event.Payload[0] != 7 {
					t.Errorf("event packet %d: event code %d, want 7", i, event.Payload[0])
				}
			}
			if !events[0].Marker {
				t.Errorf("first event packet has no marker bit")
			}
			audio := p.phoneB.read()
			if step := audio.Timestamp - events[0].Timestamp; step != 800 {
				t.Errorf("audio timestamp %d after the event start, want 800", step)
			}
		})
	}
}

// A new incoming SSRC restarts the timestamp mapping, so the outbound
// timestamps do not follow the new stream's unrelated base.
func TestBridgeRemapsOnSSRCChange(t *testing.T) {
	p := startBridge(t, SessionConfig{Codec: PCMU}, SessionConfig{Codec: PCMU}, nil)

	payload := make([]byte, 160)
	p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 1, timestamp: 1000, ssrc: 0xA, payload: payload})
	p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 2, timestamp: 1160, ssrc: 0xA, payload: payload})
	p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 50000, timestamp: 3_000_000_000, ssrc: 0xC, payload: payload})
	p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 50001, timestamp: 3_000_000_160, ssrc: 0xC, payload: payload})

	packets := p.phoneB.readN(4)
	if !packets[2].Marker {
		t.Errorf("first packet of the new SSRC has no marker bit")
	}
	if packets[3].Marker {
		t.Errorf("second packet of the new SSRC has the marker bit")
	}
	if step := packets[2].Timestamp - packets[1].Timestamp; step < FrameSamples || step > 10*SampleRate {
		t.Errorf("timestamp step at the SSRC change %d, want the wall-clock gap (at least %d)", step, FrameSamples)
	}
	if step := packets[3].Timestamp - packets[2].Timestamp; step != FrameSamples {
		t.Errorf("timestamp step after the SSRC change %d, want %d", step, FrameSamples)
	}
	for i := 1; i < len(packets); i++ {
		if packets[i].SequenceNumber != packets[i-1].SequenceNumber+1 {
			t.Errorf("packet %d: sequence number %d after %d", i, packets[i].SequenceNumber, packets[i-1].SequenceNumber)
		}
	}
}

func TestRelayStateMapTimestamp(t *testing.T) {
	out := &outStream{lastTimestamp: 5000, lastSpan: FrameSamples, lastSent: time.Now()}
	var relay relayState
	now := out.lastSent

	steps := []struct {
		name        string
		ssrc        uint32
		timestamp   uint32
		want        uint32
		wantRestart bool
	}{
		{name: "first packet continues the stream", ssrc: 1, timestamp: 100, want: 5160, wantRestart: true},
		{name: "span kept", ssrc: 1, timestamp: 260, want: 5320},
		{name: "reordered packet kept", ssrc: 1, timestamp: 180, want: 5240},
		{name: "silence gap kept", ssrc: 1, timestamp: 8260, want: 13320},
		{name: "jump over 3 s restarts", ssrc: 1, timestamp: 8260 + 4*SampleRate, want: 5160, wantRestart: true},
		{name: "new SSRC restarts", ssrc: 2, timestamp: 7, want: 5160, wantRestart: true},
		{name: "new stream keeps spans", ssrc: 2, timestamp: 7 + 1000, want: 6160},
		{name: "stream near the top restarts", ssrc: 3, timestamp: math.MaxUint32 - 79, want: 5160, wantRestart: true},
		{name: "incoming timestamp wraps", ssrc: 3, timestamp: 80, want: 5320},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			got, restarted := relay.mapTimestamp(&rtp.Header{SSRC: step.ssrc, Timestamp: step.timestamp}, out, now)
			if got != step.want || restarted != step.wantRestart {
				t.Errorf("mapTimestamp = %d, %v, want %d, %v", got, restarted, step.want, step.wantRestart)
			}
		})
	}
}

func TestBridgeRejectsBadLegs(t *testing.T) {
	pcmu := NewSession(SessionConfig{Codec: PCMU})
	g722 := NewSession(SessionConfig{Codec: Codec{Name: "G722", PayloadType: 9, ClockRate: 8000}})

	tests := []struct {
		name string
		a, b *Session
		want error
	}{
		{name: "same session", a: pcmu, b: pcmu, want: ErrSameSession},
		{name: "unsupported codec", a: pcmu, b: g722, want: ErrUnsupportedCodec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Bridge(context.Background(), tt.a, tt.b); !errors.Is(err, tt.want) {
				t.Errorf("Bridge: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBridgeEndsWhenLegCloses(t *testing.T) {
	a := startSession(t, SessionConfig{Codec: PCMU})
	b := startSession(t, SessionConfig{Codec: PCMU})

	result := make(chan error, 1)
	go func() { result <- Bridge(context.Background(), a.Session, b.Session) }()
	a.logs.waitFor(t, "rtp bridge started", 1)

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitResult(t, "Bridge", result); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Bridge: %v, want ErrSessionClosed", err)
	}
	if a.relayTo != nil {
		t.Errorf("A still relays after Bridge returned")
	}
}

// Play on a bridged leg waits until the bridge ends, then continues the
// same stream.
func TestPlayWaitsForBridge(t *testing.T) {
	phoneA, phoneB := newPeer(t), newPeer(t)
	a := startSession(t, SessionConfig{Codec: PCMU, Remote: phoneA.addr()})
	b := startSession(t, SessionConfig{Codec: PCMU, Remote: phoneB.addr()})

	ctx, stopBridge := context.WithCancel(context.Background())
	defer stopBridge()
	bridgeResult := make(chan error, 1)
	go func() { bridgeResult <- Bridge(ctx, a.Session, b.Session) }()
	a.logs.waitFor(t, "rtp bridge started", 1)

	playResult := make(chan error, 1)
	go func() { playResult <- b.Play(context.Background(), audioOf(FrameSamples, 0)) }()

	phoneA.sendAudio(a.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 1, timestamp: 1, ssrc: 0xA, payload: bytes.Repeat([]byte{0x55}, 160)})
	relayed := phoneB.read()
	if relayed.Payload[0] != 0x55 {
		t.Fatalf("first packet at B is not the relayed audio")
	}

	stopBridge()
	if err := waitResult(t, "Bridge", bridgeResult); !errors.Is(err, context.Canceled) {
		t.Errorf("Bridge: %v, want context.Canceled", err)
	}
	if err := waitResult(t, "Play", playResult); err != nil {
		t.Errorf("Play: %v", err)
	}
	prompt := phoneB.read()
	if prompt.SequenceNumber != relayed.SequenceNumber+1 || prompt.SSRC != relayed.SSRC {
		t.Errorf("prompt packet seq %d SSRC %#x, want seq %d SSRC %#x",
			prompt.SequenceNumber, prompt.SSRC, relayed.SequenceNumber+1, relayed.SSRC)
	}
}

// relayBenchmarkLegs returns leg A bridged to leg B, PCMU to PCMA, with B
// sending to a loopback sink, and an incoming 20 ms packet for A.
func relayBenchmarkLegs(tb testing.TB) (*Session, []byte, netip.AddrPort) {
	tb.Helper()
	sink := listenLoopback(tb)
	a := NewSession(SessionConfig{Codec: PCMU, TelephoneEvent: telephoneEventPT})
	b := NewSession(SessionConfig{Conn: listenLoopback(tb), Codec: PCMA, TelephoneEvent: 96, Remote: addrOf(sink)})
	a.startRelay(b)

	datagram, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: PayloadTypePCMU, SequenceNumber: 1, Timestamp: 160, SSRC: 0xA},
		Payload: bytes.Repeat([]byte{0x42}, FrameSamples),
	}).Marshal()
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return a, datagram, netip.MustParseAddrPort("127.0.0.1:40000")
}

// advancePacket moves a datagram on to the next 20 ms packet of its stream.
func advancePacket(datagram []byte) {
	seq := uint16(datagram[2])<<8 | uint16(datagram[3])
	seq++
	datagram[2], datagram[3] = byte(seq>>8), byte(seq)
	timestamp := uint32(datagram[4])<<24 | uint32(datagram[5])<<16 | uint32(datagram[6])<<8 | uint32(datagram[7])
	timestamp += FrameSamples
	datagram[4], datagram[5], datagram[6], datagram[7] = byte(timestamp>>24), byte(timestamp>>16), byte(timestamp>>8), byte(timestamp)
}

// BenchmarkRelayPacket measures one received packet on its way through the
// relay: parse, source check, transcoding, marshal and the socket write.
func BenchmarkRelayPacket(b *testing.B) {
	a, datagram, source := relayBenchmarkLegs(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		advancePacket(datagram)
		a.handlePacket(datagram, source, time.Now())
	}
}

func TestRelayPacketAllocatesNothing(t *testing.T) {
	a, datagram, source := relayBenchmarkLegs(t)
	allocs := testing.AllocsPerRun(100, func() {
		advancePacket(datagram)
		a.handlePacket(datagram, source, time.Now())
	})
	if allocs != 0 {
		t.Errorf("relaying a packet allocates %.1f times, want 0", allocs)
	}
	if sent := a.relayTo.Stats().PacketsSent; sent == 0 {
		t.Errorf("no packet sent, so the write path was not measured")
	}
}

func TestSendFrameAllocatesNothing(t *testing.T) {
	sink := listenLoopback(t)
	session := NewSession(SessionConfig{Conn: listenLoopback(t), Codec: PCMA, Remote: addrOf(sink)})
	samples := audioOf(FrameSamples, 1000).Samples
	var timestamp uint32
	allocs := testing.AllocsPerRun(100, func() {
		timestamp += FrameSamples
		session.sendFrame(samples, timestamp, false)
	})
	if allocs != 0 {
		t.Errorf("sending a frame allocates %.1f times, want 0", allocs)
	}
}
