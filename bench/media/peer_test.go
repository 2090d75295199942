package mediabench

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"helpline/e2e"
)

// testWait bounds every wait of these tests.
const testWait = 60 * time.Second

func TestParseProcStat(t *testing.T) {
	cases := []struct {
		name string
		line string
		want time.Duration
		err  error
	}{
		{
			name: "name with spaces",
			line: "4242 (helpline serve) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0 100 0 0",
			want: 3250 * time.Millisecond,
		},
		{
			name: "name with parenthesis",
			line: "7 (a) b) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0",
			want: 30 * time.Millisecond,
		},
		{name: "no name", line: "4242 S 1", err: ErrProcStat},
		{name: "too few fields", line: "4242 (x) S 1 2 3", err: ErrProcStat},
		{name: "not a number", line: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ten 2 0", err: ErrProcStat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat(tc.line)
			if !errors.Is(err, tc.err) {
				t.Fatalf("parseProcStat error = %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("parseProcStat = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestProcessCPUReadsOwnProcess(t *testing.T) {
	if _, err := ProcessCPU(os.Getpid()); err != nil {
		t.Fatalf("ProcessCPU of this process: %v", err)
	}
	if _, err := ProcessCPU(-1); err == nil {
		t.Errorf("ProcessCPU(-1) returned no error")
	}
}

func TestPercentile(t *testing.T) {
	values := func() []time.Duration {
		var v []time.Duration
		for i := 100; i >= 1; i-- {
			v = append(v, time.Duration(i))
		}
		return v
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}}
	for _, tc := range cases {
		if got := Percentile(values(), tc.p); got != tc.want {
			t.Errorf("Percentile(1..100, %v) = %d, want %d", tc.p, got, tc.want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("Percentile(nil) = %d, want 0", got)
	}
}

func TestKernelTimestampParsesControlMessage(t *testing.T) {
	oob := make([]byte, 32)
	binary.NativeEndian.PutUint64(oob[0:8], 32)
	binary.NativeEndian.PutUint32(oob[8:12], syscall.SOL_SOCKET)
	binary.NativeEndian.PutUint32(oob[12:16], syscall.SO_TIMESTAMPNS)
	binary.NativeEndian.PutUint64(oob[16:24], 3)
	binary.NativeEndian.PutUint64(oob[24:32], 500)

	got, ok := kernelTimestamp(oob)
	if !ok || got != 3*int64(time.Second)+500 {
		t.Errorf("kernelTimestamp = %d, %v; want 3000000500, true", got, ok)
	}
	if _, ok := kernelTimestamp(oob[:20]); ok {
		t.Errorf("kernelTimestamp of a truncated buffer reported a time")
	}
	if _, ok := kernelTimestamp(nil); ok {
		t.Errorf("kernelTimestamp of no control message reported a time")
	}
}

func TestSDPBodyRoundTrip(t *testing.T) {
	body := string(sdpBody(4000, 101))
	addr, ok := e2e.SDPAudioAddr(body)
	if !ok || addr != netip.MustParseAddrPort("127.0.0.1:4000") {
		t.Errorf("audio address of the SDP = %v, %v; want 127.0.0.1:4000", addr, ok)
	}
	if pt := telephoneEventOf(body); pt != 101 {
		t.Errorf("telephone-event payload type = %d, want 101", pt)
	}
	if pt := telephoneEventOf(string(sdpBody(4000, 0))); pt != 0 {
		t.Errorf("telephone-event payload type without events = %d, want 0", pt)
	}
}

// openWindow returns a window that contains every moment of the test.
func openWindow() *Window {
	w := &Window{}
	now := time.Now()
	w.Set(now.Add(-time.Hour), now.Add(time.Hour))
	return w
}

func TestEndpointMeasuresDirectStream(t *testing.T) {
	window := openWindow()
	endpoints, err := OpenEndpoints(2, window, 64)
	if err != nil {
		t.Fatal(err)
	}
	sender, receiver := endpoints[0], endpoints[1]
	defer CloseEndpoints(endpoints)
	startSending(t, sender, receiver.Port())

	const packets = 10
	waitFor(t, "10 packets at the receiver", func() bool { return receiver.Received() >= packets })
	sent, got := sender.Close(), receiver.Close()

	if got.PeerPackets < packets || got.PeerPackets > sent.Sent {
		t.Errorf("receiver counted %d peer packets of %d sent, want %d to %d", got.PeerPackets, sent.Sent, packets, sent.Sent)
	}
	if !got.KernelTimestamps {
		t.Errorf("no kernel receive timestamps")
	}
	for _, latency := range got.Latencies {
		if latency < 0 || latency > time.Second {
			t.Fatalf("loopback latency %s, want between 0 and 1 s", latency)
		}
	}
	if len(got.Deviations) != got.Packets-1 {
		t.Errorf("%d deviations for %d packets, want one per consecutive pair", len(got.Deviations), got.Packets)
	}
	if got.SeqGaps != 0 {
		t.Errorf("%d sequence gaps on loopback, want 0", got.SeqGaps)
	}
}

func TestEndpointPressesDigitsAsEvents(t *testing.T) {
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	e, err := OpenEndpoint(openWindow(), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Send(SendOptions{Destination: sink.LocalAddr().(*net.UDPAddr).AddrPort(), Digits: "51", EventPayloadType: 101}); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, readBufferSize)
	var timestamps []uint32
	for i, want := range []struct {
		code   byte
		end    bool
		marker bool
	}{{5, false, true}, {5, true, false}, {5, true, false}, {5, true, false}, {1, false, true}, {1, true, false}, {1, true, false}, {1, true, false}} {
		_ = sink.SetReadDeadline(time.Now().Add(testWait))
		n, err := sink.Read(buf)
		if err != nil {
			t.Fatalf("reading event packet %d: %v", i, err)
		}
		if pt := buf[1] & 0x7f; pt != 101 || n != rtpHeaderSize+4 {
			t.Fatalf("packet %d: payload type %d, %d bytes; want 101, 16 bytes", i, pt, n)
		}
		if buf[12] != want.code || (buf[13]&eventEndBit != 0) != want.end || (buf[1]&0x80 != 0) != want.marker {
			t.Errorf("packet %d: code %d, flags %#x, marker %v; want code %d, end %v, marker %v",
				i, buf[12], buf[13], buf[1]&0x80 != 0, want.code, want.end, want.marker)
		}
		timestamps = append(timestamps, binary.BigEndian.Uint32(buf[4:8]))
	}
	if timestamps[0] == timestamps[4] {
		t.Errorf("both keys carry timestamp %d, want one per key", timestamps[0])
	}

	_ = sink.SetReadDeadline(time.Now().Add(testWait))
	n, err := sink.Read(buf)
	if err != nil || n != PacketSize || buf[1]&0x7f != payloadTypePCMU {
		t.Errorf("first packet after the keys: %d bytes, payload type %d, %v; want %d bytes of PCMU", n, buf[1]&0x7f, err, PacketSize)
	}
}

func TestEndpointSendMovesToNewDestination(t *testing.T) {
	window := openWindow()
	endpoints, err := OpenEndpoints(3, window, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseEndpoints(endpoints)
	sender, first, second := endpoints[0], endpoints[1], endpoints[2]

	startSending(t, sender, first.Port())
	waitFor(t, "a packet at the first destination", first.GotPeerPacket)
	startSending(t, sender, second.Port())
	waitFor(t, "a packet at the second destination", second.GotPeerPacket)
}

func TestEndpointRejectsOtherHosts(t *testing.T) {
	e, err := OpenEndpoint(openWindow(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Send(SendOptions{Destination: netip.MustParseAddrPort("192.0.2.1:4000")}); err == nil {
		t.Errorf("Send to 192.0.2.1 returned no error")
	}
}

func TestReferenceRelayForwardsBothWays(t *testing.T) {
	ref, line := startReference(t, "relay", "-pairs", "1")
	defer ref.stop()
	ports := parseRelayPorts(t, line, 1)

	endpoints, err := OpenEndpoints(2, openWindow(), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseEndpoints(endpoints)
	startSending(t, endpoints[0], ports[0][0])
	startSending(t, endpoints[1], ports[0][1])
	waitFor(t, "packets both ways through mediaref relay", func() bool {
		return endpoints[0].GotPeerPacket() && endpoints[1].GotPeerPacket()
	})
}

func TestReferenceSenderSendsEveryStream(t *testing.T) {
	endpoints, err := OpenEndpoints(3, openWindow(), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseEndpoints(endpoints)
	ref, _ := startReference(t, "send", "-dests", writeDestinations(t, endpoints))
	defer ref.stop()
	waitFor(t, "5 packets on every stream", func() bool {
		for _, e := range endpoints {
			if e.Received() < 5 {
				return false
			}
		}
		return true
	})
}

func TestPeerHearsLongPrompt(t *testing.T) {
	srv := startHelpline(t, 1, longPromptMenu(writeLongPrompt(t)))
	if _, err := ProcessCPU(srv.PID()); err != nil {
		t.Fatalf("reading the server's CPU time by its PID: %v", err)
	}
	endpoints, err := OpenEndpoints(1, openWindow(), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseEndpoints(endpoints)
	peer, err := NewPeer(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	calls, err := placeCalls(peer, endpoints, false, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "10 prompt packets", func() bool { return endpoints[0].Received() >= 10 })
	hangUp(t, calls)
	if got := endpoints[0].Close(); got.SeqGaps != 0 || len(got.Deviations) == 0 {
		t.Errorf("prompt stream: %d sequence gaps, %d deviations; want 0 gaps and some deviations", got.SeqGaps, len(got.Deviations))
	}
}

func TestPeerBridgesCallerAndCounselor(t *testing.T) {
	srv := startHelpline(t, 2, benchCounselors(1))
	callers, counselors := openPairEndpoints(t, 1, openWindow(), 0)
	defer CloseEndpoints(callers)
	defer CloseEndpoints(counselors)
	peer, err := NewPeer(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	registerCounselors(t, srv, peer, counselors)
	calls, err := placeCalls(peer, callers, true, menuDigits)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "audio both ways through helpline", func() bool {
		return callers[0].GotPeerPacket() && counselors[0].GotPeerPacket()
	})
	hangUp(t, calls)

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := peer.WaitByes(ctx, 1); err != nil {
		t.Errorf("the counselor got no BYE after the caller hung up: %v", err)
	}
}

// waitFor polls done until it holds, failing the test after testWait.
func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, testWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseRelayPortsRejectsBadLine(t *testing.T) {
	for _, line := range []string{"", "{}", `{"ports":[[1,2]]}`} {
		if _, err := relayPorts(line, 2); err == nil {
			t.Errorf("relayPorts(%q, 2) returned no error", line)
		}
	}
	ports, err := relayPorts(`{"ports":[[1000,1002]]}`+"\n", 1)
	if err != nil || ports[0] != [2]int{1000, 1002} {
		t.Errorf("relayPorts = %v, %v; want [[1000 1002]]", ports, err)
	}
}

func TestParseRuntimeCounters(t *testing.T) {
	text := "# HELP go_memstats_mallocs_total x\n" +
		"go_memstats_mallocs_total 1.5e+06\n" +
		"go_memstats_alloc_bytes_total 2048\n" +
		"go_gc_duration_seconds{quantile=\"0\"} 1e-05\n" +
		"go_gc_duration_seconds_count 7\n"
	got, err := parseRuntimeCounters(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parseRuntimeCounters: %v", err)
	}
	if got != (runtimeCounters{mallocs: 1.5e6, allocBytes: 2048, gcCycles: 7}) {
		t.Errorf("parseRuntimeCounters = %+v, want 1.5e6 mallocs, 2048 bytes, 7 cycles", got)
	}
	if _, err := parseRuntimeCounters(strings.NewReader("go_memstats_mallocs_total 3\n")); err == nil {
		t.Errorf("parseRuntimeCounters with two series missing returned no error")
	}
}
