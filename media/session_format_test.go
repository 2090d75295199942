package media

import (
	"context"
	"errors"
	"testing"
	"time"
)

// S3: a call on PCMU whose caller re-offers PCMA. After SetFormat the
// caller's PCMA packets are read (not dropped as an unknown payload type)
// and transcoded toward the other leg, which stays on PCMU, and the
// other leg's audio reaches the caller as PCMA.
func TestSetFormatSwitchesCodecMidBridge(t *testing.T) {
	p := startBridge(t, SessionConfig{Codec: PCMU}, SessionConfig{Codec: PCMU}, nil)
	if err := p.a.SetFormat(PCMA, 96); err != nil {
		t.Fatalf("SetFormat(PCMA): %v", err)
	}
	if got := p.a.Codec(); got != PCMA {
		t.Errorf("Codec() = %+v after SetFormat, want PCMA", got)
	}

	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(i)
	}
	p.phoneA.sendAudio(p.a.LocalAddr(), PayloadTypePCMA, audioPacket{seq: 1, timestamp: 160, ssrc: 0xA, payload: payload})
	atB := p.phoneB.read()
	if atB.PayloadType != PayloadTypePCMU {
		t.Errorf("counselor leg got payload type %d, want %d: that leg stays on PCMU", atB.PayloadType, PayloadTypePCMU)
	}
	for i, code := range atB.Payload {
		if want := ALawToULaw(byte(i)); code != want {
			t.Fatalf("PCMA code %#x reached the PCMU leg as %#x, want %#x", i, code, want)
		}
	}

	p.phoneB.sendAudio(p.b.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 7, timestamp: 320, ssrc: 0xB, payload: payload})
	atA := p.phoneA.read()
	if atA.PayloadType != PayloadTypePCMA {
		t.Errorf("caller got payload type %d after the switch, want %d (PCMA)", atA.PayloadType, PayloadTypePCMA)
	}
	if stats := p.a.Stats(); stats.Invalid != 0 {
		t.Errorf("caller leg dropped %d packets as invalid after the switch, want 0", stats.Invalid)
	}
}

// The old payload type is no longer read once the format changed.
func TestSetFormatDropsOldPayloadType(t *testing.T) {
	phone := newPeer(t)
	s := startSession(t, SessionConfig{Codec: PCMU, Remote: phone.addr()})
	if err := s.SetFormat(PCMA, 0); err != nil {
		t.Fatalf("SetFormat: %v", err)
	}
	phone.sendAudio(s.LocalAddr(), PayloadTypePCMU, audioPacket{seq: 1, timestamp: 1, ssrc: 1, payload: make([]byte, 160)})
	phone.sendAudio(s.LocalAddr(), PayloadTypePCMA, audioPacket{seq: 2, timestamp: 161, ssrc: 1, payload: make([]byte, 160)})

	deadline := time.Now().Add(testDeadline)
	for s.Stats().PacketsReceived < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stats := s.Stats()
	if stats.Invalid != 1 || stats.AudioReceived != 1 {
		t.Errorf("invalid = %d, audio = %d; want the PCMU packet dropped and the PCMA one read", stats.Invalid, stats.AudioReceived)
	}
}

func TestSetFormatRejectsOtherCodecs(t *testing.T) {
	s := startSession(t, SessionConfig{Codec: PCMU})
	g729 := Codec{Name: "G729", PayloadType: 18, ClockRate: G711ClockRate}
	if err := s.SetFormat(g729, 0); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("SetFormat(G729) = %v, want ErrUnsupportedCodec", err)
	}
	if got := s.Codec(); got != PCMU {
		t.Errorf("Codec() = %+v after a rejected switch, want PCMU kept", got)
	}
}

// S1: while the peer holds the call (our direction recvonly or inactive)
// nothing is sent to it, not even to a latched source; on resume the
// stream goes on with the marker bit.
func TestSetSendingMutesAndResumes(t *testing.T) {
	phone := newPeer(t)
	s := startSession(t, SessionConfig{Codec: PCMU, Remote: phone.addr()})
	s.SetSending(false)
	if s.Sending() {
		t.Fatal("Sending() = true after SetSending(false)")
	}

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- s.PlayLoop(ctx, nil, audioOf(FrameSamples, 1000)) }()
	deadline := time.Now().Add(testDeadline)
	for s.Stats().Muted < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if stats := s.Stats(); stats.PacketsSent != 0 || stats.Muted < 5 {
		t.Fatalf("sent %d packets and muted %d while on hold, want 0 sent and 5 or more muted", stats.PacketsSent, stats.Muted)
	}

	s.SetSending(true)
	packet := phone.read()
	if !packet.Marker {
		t.Error("first packet after resume has no marker bit")
	}
	cancel()
	if err := waitResult(t, "PlayLoop", result); !errors.Is(err, context.Canceled) {
		t.Errorf("PlayLoop = %v, want context.Canceled", err)
	}
}
