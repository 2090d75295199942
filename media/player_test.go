package media

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// checkStream checks that packets form one talkspurt of the stream: the
// same SSRC, consecutive sequence numbers, timestamps 160 apart, the marker
// bit on the first packet only, and the given payload type.
func checkStream(t *testing.T, packets []rtp.Packet, payloadType uint8) {
	t.Helper()
	first := packets[0]
	if !first.Marker {
		t.Errorf("first packet: marker not set")
	}
	for i, packet := range packets {
		if packet.PayloadType != payloadType {
			t.Errorf("packet %d: payload type %d, want %d", i, packet.PayloadType, payloadType)
		}
		if packet.SSRC != first.SSRC {
			t.Errorf("packet %d: SSRC %#x, want %#x", i, packet.SSRC, first.SSRC)
		}
		if want := first.SequenceNumber + uint16(i); packet.SequenceNumber != want {
			t.Errorf("packet %d: sequence number %d, want %d", i, packet.SequenceNumber, want)
		}
		if want := first.Timestamp + uint32(i)*FrameSamples; packet.Timestamp != want {
			t.Errorf("packet %d: timestamp %d, want %d", i, packet.Timestamp, want)
		}
		if i > 0 && packet.Marker {
			t.Errorf("packet %d: marker set after the first packet", i)
		}
		if len(packet.Payload) != FrameSamples {
			t.Errorf("packet %d: payload of %d bytes, want %d", i, len(packet.Payload), FrameSamples)
		}
	}
}

func TestPlayPacketStream(t *testing.T) {
	tests := []struct {
		name    string
		codec   Codec
		encode  func(int16) byte
		silence byte
	}{
		{name: "pcmu", codec: PCMU, encode: EncodeULaw, silence: ULawSilence},
		{name: "pcma", codec: PCMA, encode: EncodeALaw, silence: ALawSilence},
		{name: "pcmu with other payload type", codec: Codec{Name: "PCMU", PayloadType: 0, ClockRate: G711ClockRate}, encode: EncodeULaw, silence: ULawSilence},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phone := newPeer(t)
			session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: tt.codec})

			// Four and a half frames: the fifth packet is padded.
			const value = 1000
			clip := audioOf(4*FrameSamples+FrameSamples/2, value)
			started := time.Now()
			if err := session.Play(context.Background(), clip); err != nil {
				t.Fatalf("Play: %v", err)
			}
			elapsed := time.Since(started)

			packets := phone.readN(5)
			checkStream(t, packets, tt.codec.PayloadType)
			if got := packets[0].Payload[0]; got != tt.encode(value) {
				t.Errorf("first sample coded as %#x, want %#x", got, tt.encode(value))
			}
			last := packets[4].Payload
			if last[FrameSamples/2-1] != tt.encode(value) || last[FrameSamples/2] != tt.silence {
				t.Errorf("last packet: samples around the padding %#x %#x, want %#x then silence %#x",
					last[FrameSamples/2-1], last[FrameSamples/2], tt.encode(value), tt.silence)
			}
			// Play returns when the last frame has finished playing.
			if minimum := 5 * FrameDuration; elapsed < minimum {
				t.Errorf("Play returned after %s, want at least %s", elapsed, minimum)
			}
			if stats := session.Stats(); stats.PacketsSent != 5 || stats.BytesSent != 5*(rtpHeaderSize+FrameSamples) {
				t.Errorf("stats: %d packets and %d bytes sent, want 5 and %d",
					stats.PacketsSent, stats.BytesSent, 5*(rtpHeaderSize+FrameSamples))
			}
		})
	}
}

func TestPlayContinuesStream(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})

	for range 2 {
		if err := session.Play(context.Background(), audioOf(2*FrameSamples, 0)); err != nil {
			t.Fatalf("Play: %v", err)
		}
	}

	packets := phone.readN(4)
	checkStream(t, packets[:2], PayloadTypePCMU)
	second := packets[2:]
	if !second[0].Marker {
		t.Errorf("second Play: first packet has no marker bit")
	}
	if second[0].SSRC != packets[0].SSRC {
		t.Errorf("second Play: SSRC %#x, want %#x", second[0].SSRC, packets[0].SSRC)
	}
	if second[0].SequenceNumber != packets[1].SequenceNumber+1 {
		t.Errorf("second Play: sequence number %d, want %d", second[0].SequenceNumber, packets[1].SequenceNumber+1)
	}
	if step := second[0].Timestamp - packets[1].Timestamp; step < FrameSamples {
		t.Errorf("second Play: timestamp advanced by %d, want at least %d", step, FrameSamples)
	}
}

func TestPlaySequenceWraps(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})
	session.outMu.Lock()
	session.out.nextSeq = 65534
	session.outMu.Unlock()

	if err := session.Play(context.Background(), audioOf(4*FrameSamples, 0)); err != nil {
		t.Fatalf("Play: %v", err)
	}

	packets := phone.readN(4)
	for i, want := range []uint16{65534, 65535, 0, 1} {
		if packets[i].SequenceNumber != want {
			t.Errorf("packet %d: sequence number %d, want %d", i, packets[i].SequenceNumber, want)
		}
	}
}

func TestPlayEmptyClip(t *testing.T) {
	session := startSession(t, SessionConfig{Remote: newPeer(t).addr(), Codec: PCMU})
	for _, clip := range []*Audio{nil, {}} {
		if err := session.Play(context.Background(), clip); err != nil {
			t.Errorf("Play(%v): %v, want nil", clip, err)
		}
	}
	if sent := session.Stats().PacketsSent; sent != 0 {
		t.Errorf("%d packets sent for empty clips, want 0", sent)
	}
}

func TestPlayStops(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})

	t.Run("context cancelled before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := session.Play(ctx, audioOf(FrameSamples, 0)); !errors.Is(err, context.Canceled) {
			t.Errorf("Play: %v, want context.Canceled", err)
		}
	})

	t.Run("context cancelled while playing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		result := make(chan error, 1)
		go func() { result <- session.Play(ctx, audioOf(SampleRate*60, 0)) }()

		phone.readN(2)
		cancel()
		if err := waitResult(t, "Play", result); !errors.Is(err, context.Canceled) {
			t.Errorf("Play: %v, want context.Canceled", err)
		}
	})
}

func TestPlayLoopRepeats(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})

	const firstValue, loopValue = 2000, -3000
	first := audioOf(2*FrameSamples, firstValue)
	loop := audioOf(FrameSamples+FrameSamples/2, loopValue)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- session.PlayLoop(ctx, first, loop) }()

	packets := phone.readN(8)
	cancel()
	if err := waitResult(t, "PlayLoop", result); !errors.Is(err, context.Canceled) {
		t.Errorf("PlayLoop: %v, want context.Canceled", err)
	}

	checkStream(t, packets, PayloadTypePCMU)
	// first, first, then loop (one full and one padded frame) three times.
	wantValues := []int16{firstValue, firstValue, loopValue, loopValue, loopValue, loopValue, loopValue, loopValue}
	for i, packet := range packets {
		if got := packet.Payload[0]; got != EncodeULaw(wantValues[i]) {
			t.Errorf("packet %d: first sample %#x, want %#x", i, got, EncodeULaw(wantValues[i]))
		}
	}
	for _, i := range []int{3, 5, 7} {
		if got := packets[i].Payload[FrameSamples-1]; got != ULawSilence {
			t.Errorf("packet %d: padded loop end %#x, want silence", i, got)
		}
	}
}

func TestPlayLoopWithoutLoopClip(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- session.PlayLoop(ctx, audioOf(FrameSamples, 0), nil) }()

	phone.read()
	select {
	case err := <-result:
		t.Fatalf("PlayLoop returned %v before its context ended", err)
	default:
	}
	cancel()
	if err := waitResult(t, "PlayLoop", result); !errors.Is(err, context.Canceled) {
		t.Errorf("PlayLoop: %v, want context.Canceled", err)
	}
	if sent := session.Stats().PacketsSent; sent != 1 {
		t.Errorf("%d packets sent, want 1", sent)
	}
}

// A Play started while PlayLoop sends waits for it, so the peer receives
// the hold music, then the prompt, with no packet of one inside the other.
func TestPlayWaitsForEarlierSender(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})

	const holdValue, promptValue = 500, -500
	holdCtx, stopHold := context.WithCancel(context.Background())
	defer stopHold()
	holdResult := make(chan error, 1)
	go func() { holdResult <- session.PlayLoop(holdCtx, nil, audioOf(FrameSamples, holdValue)) }()
	phone.read()

	promptResult := make(chan error, 1)
	go func() { promptResult <- session.Play(context.Background(), audioOf(3*FrameSamples, promptValue)) }()
	phone.readN(3)
	stopHold()
	if err := waitResult(t, "PlayLoop", holdResult); !errors.Is(err, context.Canceled) {
		t.Errorf("PlayLoop: %v, want context.Canceled", err)
	}
	if err := waitResult(t, "Play", promptResult); err != nil {
		t.Errorf("Play: %v", err)
	}

	// Read what is left: the rest of the hold music, then the prompt.
	sent := session.Stats().PacketsSent
	packets := phone.readN(int(sent) - 4)
	promptStart := len(packets) - 3
	for i, packet := range packets {
		want := EncodeULaw(holdValue)
		if i >= promptStart {
			want = EncodeULaw(promptValue)
		}
		if packet.Payload[0] != want {
			t.Errorf("packet %d of %d: sample %#x, want %#x", i+5, sent, packet.Payload[0], want)
		}
	}
	if !packets[promptStart].Marker {
		t.Errorf("prompt: first packet has no marker bit")
	}
}

func TestOutStreamTalkspurtTimestamp(t *testing.T) {
	start := time.Now()
	tests := []struct {
		name          string
		lastTimestamp uint32
		lastSent      time.Time
		now           time.Time
		want          uint32
	}{
		{name: "first packet uses the initial timestamp", lastTimestamp: 1000, now: start, want: 1000},
		{name: "back to back advances by the last span", lastTimestamp: 1000, lastSent: start, now: start.Add(5 * time.Millisecond), want: 1000 + FrameSamples},
		{name: "gap advances by the wall clock", lastTimestamp: 1000, lastSent: start, now: start.Add(time.Second), want: 1000 + SampleRate},
		{name: "wraps around", lastTimestamp: math.MaxUint32 - 99, lastSent: start, now: start.Add(2 * time.Second), want: 2*SampleRate - 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := outStream{lastTimestamp: tt.lastTimestamp, lastSpan: FrameSamples, lastSent: tt.lastSent}
			if got := out.talkspurtTimestamp(tt.now); got != tt.want {
				t.Errorf("talkspurtTimestamp = %d, want %d", got, tt.want)
			}
		})
	}
}

// After a gap in sending, the next Play starts a talkspurt whose timestamp
// advanced by at least the time that passed.
func TestPlayAfterGap(t *testing.T) {
	phone := newPeer(t)
	session := startSession(t, SessionConfig{Remote: phone.addr(), Codec: PCMU})

	if err := session.Play(context.Background(), audioOf(FrameSamples, 0)); err != nil {
		t.Fatalf("Play: %v", err)
	}
	before := phone.read()

	// The sleep makes the gap under test; no step waits on it.
	gapStart := time.Now()
	time.Sleep(100 * time.Millisecond)
	gap := time.Since(gapStart)

	if err := session.Play(context.Background(), audioOf(FrameSamples, 0)); err != nil {
		t.Fatalf("Play: %v", err)
	}
	after := phone.read()
	if !after.Marker {
		t.Errorf("packet after the gap has no marker bit")
	}
	if step, minimum := after.Timestamp-before.Timestamp, uint32(gap/sampleDuration); step < minimum {
		t.Errorf("timestamp advanced by %d over a %s gap, want at least %d", step, gap, minimum)
	}
}
