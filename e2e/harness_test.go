package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFreePortIsFreeForUDPAndTCP(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for range 5 {
		port := FreePort(t)
		if seen[port] {
			t.Fatalf("FreePort returned %d twice", port)
		}
		seen[port] = true

		address := net.JoinHostPort(Loopback, strconv.Itoa(port))
		listener, err := net.Listen("tcp", address)
		if err != nil {
			t.Fatalf("TCP port %d not free: %v", port, err)
		}
		listener.Close()
		conn, err := net.ListenPacket("udp", address)
		if err != nil {
			t.Fatalf("UDP port %d not free: %v", port, err)
		}
		conn.Close()
	}
}

func TestFreePortRangeIsEvenAndDisjoint(t *testing.T) {
	t.Parallel()
	first := FreePortRange(t, DefaultRTPPorts)
	second := FreePortRange(t, DefaultRTPPorts)

	for _, r := range []PortRange{first, second} {
		if r.Min%2 != 0 {
			t.Errorf("range %+v starts at an odd port", r)
		}
		if r.Max-r.Min+1 != DefaultRTPPorts {
			t.Errorf("range %+v has %d ports, want %d", r, r.Max-r.Min+1, DefaultRTPPorts)
		}
		if r.Min < largeBlockLow || r.Max >= largeBlockHigh {
			t.Errorf("range %+v outside [%d, %d)", r, largeBlockLow, largeBlockHigh)
		}
	}
	if first.Min <= second.Max && second.Min <= first.Max {
		t.Errorf("ranges %+v and %+v overlap", first, second)
	}
}

func TestWaitListening(t *testing.T) {
	t.Parallel()
	conn, err := net.ListenPacket("udp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		t.Fatalf("opening a UDP socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	udpPort := conn.LocalAddr().(*net.UDPAddr).Port

	listener, err := net.Listen("tcp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		t.Fatalf("opening a TCP listener: %v", err)
	}
	t.Cleanup(func() { listener.Close() })
	tcpPort := listener.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name    string
		network string
		port    int
		wantErr error
	}{
		{name: "bound udp", network: "udp", port: udpPort},
		{name: "listening tcp", network: "tcp", port: tcpPort},
		{name: "unbound udp", network: "udp", port: FreePort(t), wantErr: ErrNotListening},
		{name: "udp port is not tcp", network: "tcp", port: udpPort, wantErr: ErrNotListening},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()

			err := WaitListening(ctx, tt.network, tt.port)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("WaitListening(%s, %d) = %v, want %v", tt.network, tt.port, err, tt.wantErr)
			}
		})
	}
}

func TestSetConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    string
		value   any
		wantErr error
	}{
		{name: "existing key", path: "queue.ring_timeout", value: "3s"},
		{name: "new section", path: "extra.nested.key", value: 7},
		{name: "top level", path: "top", value: true},
		{name: "through a scalar", path: "queue.ring_timeout.deeper", value: 1, wantErr: ErrConfigPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{"queue": map[string]any{"ring_timeout": "15s"}}

			err := SetConfig(cfg, tt.path, tt.value)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetConfig(%q) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got := ConfigValue(cfg, tt.path); got != tt.value {
				t.Errorf("ConfigValue(%q) = %v, want %v", tt.path, got, tt.value)
			}
		})
	}
}

func TestExampleConfigHasHarnessKeys(t *testing.T) {
	t.Parallel()
	cfg := LoadExampleConfig(t)
	for _, path := range []string{
		"sip.listen", "sip.public_host", "rtp.address", "rtp.port_min", "rtp.port_max",
		"records.data_dir", "records.key_env", "records.allow_demo_key", "log.format", "log.level",
		"shutdown.drain_timeout",
	} {
		if ConfigValue(cfg, path) == nil {
			t.Errorf("%s has no %s, which StartServer sets", ExampleConfig, path)
		}
	}
}

func TestParseRTPLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		want    RTPPacket
		wantOK  bool
		wantErr error
	}{
		{
			name: "pcma with marker",
			line: "1796416396.589781652\t127.0.0.1\t40018\t127.0.0.1\t16000\t180\t0xd4ac231c\t7278\t43550\t8\t1\t0\t0\t\t0\t",
			want: RTPPacket{
				Time: time.Unix(1796416396, 589781652),
				Src:  netip.MustParseAddrPort("127.0.0.1:40018"), Dst: netip.MustParseAddrPort("127.0.0.1:16000"),
				SSRC: 0xd4ac231c, Seq: 7278, Timestamp: 43550, PT: 8, Marker: true, PayloadLen: 160,
			},
			wantOK: true,
		},
		{
			name: "telephone event",
			line: "1796416396.5\t127.0.0.1\t16000\t127.0.0.1\t40018\t24\t0x0e05384e\t8155\t43200\t101\t0\t0\t0\t\t0\t",
			want: RTPPacket{
				Time: time.Unix(1796416396, 500000000),
				Src:  netip.MustParseAddrPort("127.0.0.1:16000"), Dst: netip.MustParseAddrPort("127.0.0.1:40018"),
				SSRC: 0x0e05384e, Seq: 8155, Timestamp: 43200, PT: 101, PayloadLen: 4,
			},
			wantOK: true,
		},
		{
			name: "csrc extension and padding",
			line: "1.000000001\t127.0.0.1\t1\t127.0.0.1\t2\t200\t0x1\t1\t1\t0\t0\t2\t1\t1\t1\t4",
			want: RTPPacket{
				Time: time.Unix(1, 1),
				Src:  netip.MustParseAddrPort("127.0.0.1:1"), Dst: netip.MustParseAddrPort("127.0.0.1:2"),
				SSRC: 1, Seq: 1, Timestamp: 1, PT: 0, PayloadLen: 200 - 8 - 12 - 8 - 8 - 4,
			},
			wantOK: true,
		},
		{
			name:   "not rtp",
			line:   "1.0\t127.0.0.1\t1\t127.0.0.1\t2\t20\t\t\t\t\t\t\t\t\t\t",
			wantOK: false,
		},
		{
			name:    "too few fields",
			line:    "1.0\t127.0.0.1",
			wantErr: ErrBadCaptureLine,
		},
		{
			name:    "bad sequence number",
			line:    "1.0\t127.0.0.1\t1\t127.0.0.1\t2\t20\t0x1\tseq\t1\t8\t0\t0\t0\t\t0\t",
			wantErr: ErrBadCaptureLine,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseRTPLine(tt.line)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("parseRTPLine error = %v, want %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Fatalf("parseRTPLine ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && got != tt.want {
				t.Errorf("parseRTPLine = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseRTPLine(f *testing.F) {
	f.Add("1796416396.589781652\t127.0.0.1\t40018\t127.0.0.1\t16000\t180\t0xd4ac231c\t7278\t43550\t8\t1\t0\t0\t\t0\t")
	f.Add("1.0\t127.0.0.1\t1\t127.0.0.1\t2\t20\t\t\t\t\t\t\t\t\t\t")
	f.Add("1.000000001\t127.0.0.1\t1\t127.0.0.1\t2\t200\t0x1\t1\t1\t0\t0\t2\t1\t1\t1\t4")
	f.Fuzz(func(t *testing.T, line string) {
		packet, ok, err := parseRTPLine(line)
		if err != nil && !errors.Is(err, ErrBadCaptureLine) {
			t.Fatalf("error %v does not wrap ErrBadCaptureLine", err)
		}
		if err != nil && ok {
			t.Fatalf("parseRTPLine returned a packet together with error %v", err)
		}
		if ok && packet.PT > 127 {
			t.Fatalf("payload type %d does not fit 7 bits", packet.PT)
		}
	})
}

func TestCheckContinuous(t *testing.T) {
	t.Parallel()
	stream := func(ssrc uint32, seqs ...uint16) RTPPackets {
		var packets RTPPackets
		for _, seq := range seqs {
			packets = append(packets, RTPPacket{SSRC: ssrc, Seq: seq})
		}
		return packets
	}

	tests := []struct {
		name    string
		packets RTPPackets
		wantErr error
	}{
		{name: "consecutive", packets: stream(1, 10, 11, 12)},
		{name: "wraps at 65535", packets: stream(1, 65534, 65535, 0, 1)},
		{name: "single packet", packets: stream(1, 5)},
		{name: "empty", wantErr: ErrNoPackets},
		{name: "gap", packets: stream(1, 10, 12), wantErr: ErrSequenceGap},
		{name: "repeat", packets: stream(1, 10, 10), wantErr: ErrSequenceGap},
		{name: "new ssrc", packets: append(stream(1, 10), stream(2, 11)...), wantErr: ErrSSRCChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckContinuous(tt.packets); !errors.Is(err, tt.wantErr) {
				t.Errorf("CheckContinuous = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestReadNetstring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		input   string
		want    []string
		wantErr error
	}{
		{name: "one message", input: `5:hello,`, want: []string{"hello"}},
		{name: "two messages", input: `2:{},3:abc,`, want: []string{"{}", "abc"}},
		{name: "empty data", input: `0:,`, want: []string{""}},
		{name: "missing comma", input: `3:abcd`, wantErr: ErrBadNetstring},
		{name: "letter in length", input: `3a:abc,`, wantErr: ErrBadNetstring},
		{name: "no length", input: `:abc,`, wantErr: ErrBadNetstring},
		{name: "too long", input: `99999999:x,`, wantErr: ErrBadNetstring},
		{name: "cut off data", input: `10:abc`, wantErr: ErrBadNetstring},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := bufio.NewReader(strings.NewReader(tt.input))
			var got []string
			var err error
			for {
				var data []byte
				data, err = readNetstring(reader)
				if err != nil {
					break
				}
				got = append(got, string(data))
			}

			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("messages = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzReadNetstring(f *testing.F) {
	f.Add([]byte(`5:hello,`))
	f.Add([]byte(`2:{},3:abc,`))
	f.Add([]byte(`229:{"event":true,"type":"CALL_ESTABLISHED"},`))
	f.Fuzz(func(t *testing.T, input []byte) {
		reader := bufio.NewReader(bytes.NewReader(input))
		for {
			data, err := readNetstring(reader)
			if err != nil {
				return
			}
			encoded := appendNetstring(nil, data)
			again, err := readNetstring(bufio.NewReader(bytes.NewReader(encoded)))
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("round trip of %q gave %q, %v", data, again, err)
			}
		}
	})
}

func TestWAVRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tone.wav")
	if err := WriteToneWAV(path, 500*time.Millisecond, 440, 0.5); err != nil {
		t.Fatalf("WriteToneWAV: %v", err)
	}

	wav, err := ReadWAV(path)
	if err != nil {
		t.Fatalf("ReadWAV: %v", err)
	}
	if wav.Rate != TelephoneRate || wav.Channels != 1 {
		t.Errorf("format = %d Hz, %d channels, want %d Hz mono", wav.Rate, wav.Channels, TelephoneRate)
	}
	if wav.Duration() != 500*time.Millisecond {
		t.Errorf("duration = %s, want 500ms", wav.Duration())
	}
	// A sine at half of full scale has an RMS of 0.5/sqrt(2) of 32767.
	if rms := wav.RMS(); rms < 11000 || rms > 12200 {
		t.Errorf("RMS = %.0f, want about 11585", rms)
	}
}

func TestReadWAVRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
	}{
		{name: "empty", data: nil},
		{name: "not riff", data: []byte("RIFX0000WAVEfmt ")},
		{name: "no data chunk", data: append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00"), make([]byte, 16)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeWAV(tt.data); !errors.Is(err, ErrNotPCMWAV) {
				t.Errorf("decodeWAV error = %v, want ErrNotPCMWAV", err)
			}
		})
	}
}

func TestRawSIPMessages(t *testing.T) {
	t.Parallel()
	names := RawSIPNames(t)
	if len(names) == 0 {
		t.Fatal("no raw SIP messages in testdata/sip")
	}
	names = append(names, "valid/options.sip")

	sender := ListenUDP(t)
	receiver := ListenUDP(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			message := RawSIP(t, name, receiver.Addr(), sender.Addr(), nil)

			if bytes.Contains(message, []byte("{{")) {
				t.Errorf("placeholder left in %s:\n%s", name, message)
			}
			if bytes.Contains(bytes.ReplaceAll(message, []byte("\r\n"), nil), []byte("\n")) {
				t.Errorf("%s has a bare LF line end", name)
			}
			checkContentLength(t, message)

			sender.Send(t, receiver.Addr(), message)
			got, ok := receiver.Receive(t, 5*time.Second)
			if !ok {
				t.Fatalf("%s did not arrive", name)
			}
			if !bytes.Equal(got, message) {
				t.Errorf("received %q, sent %q", got, message)
			}
		})
	}
}

// checkContentLength checks a filled-in {{content_length}}. It skips the
// messages whose length is wrong on purpose (too long or negative).
func checkContentLength(t *testing.T, message []byte) {
	t.Helper()

	head, body, found := bytes.Cut(message, []byte("\r\n\r\n"))
	if !found {
		return
	}
	for _, line := range strings.Split(string(head), "\r\n") {
		value, ok := strings.CutPrefix(line, "Content-Length: ")
		if !ok {
			continue
		}
		length, err := strconv.Atoi(value)
		if err != nil || length < 0 || length > len(body) {
			return
		}
		if length != len(body) {
			t.Errorf("Content-Length %d, body has %d bytes", length, len(body))
		}
	}
}

func TestSmallPortRangeAboveLargeBlocks(t *testing.T) {
	t.Parallel()
	r := FreePortRange(t, sippMediaPorts)
	if r.Min < portBlockLow || r.Max >= portBlockHigh {
		t.Errorf("range %+v outside [%d, %d)", r, portBlockLow, portBlockHigh)
	}
}
