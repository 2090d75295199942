package e2e

import (
	"net"
	"strconv"
	"testing"

	"github.com/pion/rtp"
)

func TestCaptureSeesRTP(t *testing.T) {
	t.Parallel()
	const (
		packets     = 50
		firstSeq    = 65530 // wraps past 65535 within the stream
		ssrc        = 0x0badcafe
		samples     = 160
		payloadSize = 160
	)

	receiver, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(Loopback)})
	if err != nil {
		t.Fatalf("opening the receiving socket: %v", err)
	}
	t.Cleanup(func() { receiver.Close() })
	port := receiver.LocalAddr().(*net.UDPAddr).Port

	capture := Capture(t, port)

	sender, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(Loopback)}, receiver.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatalf("opening the sending socket: %v", err)
	}
	t.Cleanup(func() { sender.Close() })

	for i := range packets {
		packet := rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				Marker:         i == 0,
				PayloadType:    payloadPCMA,
				SequenceNumber: uint16(firstSeq + i),
				Timestamp:      uint32(i * samples),
				SSRC:           ssrc,
			},
			Payload: make([]byte, payloadSize),
		}
		data, err := packet.Marshal()
		if err != nil {
			t.Fatalf("encoding RTP packet %d: %v", i, err)
		}
		if _, err := sender.Write(data); err != nil {
			t.Fatalf("sending RTP packet %d: %v", i, err)
		}
	}

	got := capture.Packets(t)

	if len(got) != packets {
		t.Fatalf("captured %d packets, want %d", len(got), packets)
	}
	if err := CheckContinuous(got); err != nil {
		t.Errorf("captured stream: %v", err)
	}
	if len(got.To(port)) != packets || len(got.From(port)) != 0 {
		t.Errorf("direction filters: %d to port %d, %d from it; want %d and 0",
			len(got.To(port)), port, len(got.From(port)), packets)
	}

	first, last := got[0], got[len(got)-1]
	checks := []struct {
		name string
		ok   bool
	}{
		{"SSRC", first.SSRC == ssrc},
		{"payload type", first.PT == payloadPCMA},
		{"marker on the first packet only", first.Marker && !last.Marker},
		{"payload length", first.PayloadLen == payloadSize},
		{"wrapped sequence number", last.Seq == uint16((firstSeq+packets-1)%65536)},
		{"timestamp", last.Timestamp == uint32((packets-1)*samples)},
		{"destination", first.Dst.String() == net.JoinHostPort(Loopback, strconv.Itoa(port))},
		{"time order", !last.Time.Before(first.Time)},
	}
	for _, check := range checks {
		if !check.ok {
			t.Errorf("%s wrong: first %+v, last %+v", check.name, first, last)
		}
	}
}
