package media

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// sendNumbered sends 20 ms PCMU packets with sequence numbers 1 to last
// from phone to to, leaving out those in skip, and returns how many it
// sent.
func sendNumbered(phone *peer, to *Session, ssrc uint32, last uint16, skip map[uint16]bool) int {
	sent := 0
	payload := bytes.Repeat([]byte{0x55}, FrameSamples)
	for seq := uint16(1); seq <= last; seq++ {
		if skip[seq] {
			continue
		}
		phone.sendAudio(to.LocalAddr(), PayloadTypePCMU, audioPacket{seq: seq, timestamp: uint32(seq) * FrameSamples, ssrc: ssrc, payload: payload})
		sent++
	}
	return sent
}

// Two bridged legs over loopback UDP, each phone leaving out some
// packets: every leg's observer totals and ended stream count them.
func TestSessionReportsLossThroughBridge(t *testing.T) {
	observer := newRecordingObserver()
	phoneA, phoneB := newPeer(t), newPeer(t)
	a := startSession(t, SessionConfig{Codec: PCMU, Remote: phoneA.addr(), Leg: LegCaller, Reception: observer})
	b := startSession(t, SessionConfig{Codec: PCMU, Remote: phoneB.addr(), Leg: LegCounselor, Reception: observer})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- Bridge(ctx, a.Session, b.Session) }()
	a.logs.waitFor(t, "rtp bridge started", 1)

	// Waiting for each relayed packet at the other phone shows that the
	// session has handled it.
	sentByA := sendNumbered(phoneA, a.Session, 0xA, 50, map[uint16]bool{10: true, 20: true, 21: true, 30: true, 45: true})
	phoneB.readN(sentByA)
	sentByB := sendNumbered(phoneB, b.Session, 0xB, 20, map[uint16]bool{5: true})
	phoneA.readN(sentByB)

	cancel()
	if err := waitResult(t, "Bridge", result); !errors.Is(err, context.Canceled) {
		t.Fatalf("Bridge: %v, want context.Canceled", err)
	}
	// Close returns once the receive goroutine has ended its stream.
	if err := a.Close(); err != nil {
		t.Fatalf("close A: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("close B: %v", err)
	}

	callerReceived, callerLost, streams, _ := observer.snapshot(LegCaller)
	if callerReceived != 45 || callerLost != 5 {
		t.Errorf("caller leg: received %d, lost %d, want 45 and 5", callerReceived, callerLost)
	}
	counselorReceived, counselorLost, _, _ := observer.snapshot(LegCounselor)
	if counselorReceived != 19 || counselorLost != 1 {
		t.Errorf("counselor leg: received %d, lost %d, want 19 and 1", counselorReceived, counselorLost)
	}

	if len(streams) != 2 {
		t.Fatalf("%d streams ended, want 2: %+v", len(streams), streams)
	}
	bySSRC := map[uint32]StreamStats{streams[0].SSRC: streams[0], streams[1].SSRC: streams[1]}
	if got := bySSRC[0xA]; got.Received != 45 || got.Lost != 5 || !got.HasJitter {
		t.Errorf("stream 0xa = %+v, want 45 received, 5 lost and a jitter estimate", got)
	}
	if got := bySSRC[0xB]; got.Received != 19 || got.Lost != 1 {
		t.Errorf("stream 0xb = %+v, want 19 received and 1 lost", got)
	}
}
