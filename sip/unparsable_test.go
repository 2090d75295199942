package sip

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// quotbalRequest is RFC 4475 section 3.1.2.6 on loopback: the To display
// name opens a quoted string that never closes, so sipgo cannot parse it.
const quotbalRequest = "INVITE sip:user@127.0.0.1 SIP/2.0\r\n" +
	"To: \"Mr. J. User <sip:j.user@127.0.0.1>\r\n" +
	"From: sip:caller@127.0.0.1;tag=93334\r\n" +
	"Max-Forwards: 10\r\n" +
	"Call-ID: quotbal.aksdj\r\n" +
	"CSeq: 8 INVITE\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5050;branch=z9hG4bKkdjuw39234\r\n" +
	"Content-Length: 0\r\n\r\n"

func TestUnparsableResponse(t *testing.T) {
	tests := []struct {
		name    string
		message string
		status  int
		want    []string
	}{
		{"unterminated quote", quotbalRequest, 400, []string{
			"SIP/2.0 400 Bad Request\r\n",
			"\r\nFrom: sip:caller@127.0.0.1;tag=93334\r\n",
			"\r\nCall-ID: quotbal.aksdj\r\n",
			"\r\nCSeq: 8 INVITE\r\n",
			"\r\nVia: SIP/2.0/UDP 127.0.0.1:5050;branch=z9hG4bKkdjuw39234\r\n",
			"\r\nServer: helpline-test\r\n",
			"\r\nContent-Length: 0\r\n\r\n",
		}},
		{"other version", strings.Replace(quotbalRequest, "SIP/2.0\r\n", "SIP/7.0\r\n", 1), 505, []string{"SIP/2.0 505 Version Not Supported\r\n"}},
		{"folded Via", strings.Replace(quotbalRequest, "Via: SIP/2.0/UDP 127.0.0.1:5050;", "Via: SIP/2.0/UDP\r\n 127.0.0.1:5050;", 1), 400, []string{
			"\r\nVia: SIP/2.0/UDP 127.0.0.1:5050;branch=z9hG4bKkdjuw39234\r\n",
		}},
		{"compact names", strings.NewReplacer("Via:", "v:", "Call-ID:", "i:").Replace(quotbalRequest), 400, []string{"\r\nv: SIP/2.0/UDP", "\r\ni: quotbal.aksdj\r\n"}},
		{"no Via", strings.Replace(quotbalRequest, "Via: SIP/2.0/UDP 127.0.0.1:5050;branch=z9hG4bKkdjuw39234\r\n", "", 1), 0, nil},
		{"Via with a NUL byte", strings.Replace(quotbalRequest, "branch=", "bra\x00nch=", 1), 0, nil},
		{"response", "SIP/2.0 4294967301 better not break the receiver\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n", 0, nil},
		{"not SIP", "hello there\r\n\r\n", 0, nil},
		{"request line without version", "INVITE sip:120@127.0.0.1\r\nVia: SIP/2.0/UDP 127.0.0.1:5050\r\n\r\n", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			response, status := unparsableResponse([]byte(tt.message), "helpline-test")
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
			if tt.status == 0 {
				if response != nil {
					t.Errorf("response = %q, want none", response)
				}
				return
			}
			for _, want := range tt.want {
				if !strings.Contains(string(response), want) {
					t.Errorf("response lacks %q:\n%s", want, response)
				}
			}
		})
	}
}

// Only the Via, From, To, Call-ID and CSeq lines that parse reach the
// response: not Contact or Max-Forwards, and not the To line whose quote
// never closes.
func TestUnparsableResponseCopiesOnlyDialogHeaders(t *testing.T) {
	message := strings.Replace(quotbalRequest, "Max-Forwards: 10\r\n", "Contact: <sip:caller@127.0.0.1>\r\nMax-Forwards: 10\r\n", 1)
	response, _ := unparsableResponse([]byte(message), "")
	for _, absent := range []string{"Contact", "Max-Forwards", "Server", "To:"} {
		if strings.Contains(string(response), absent) {
			t.Errorf("response copies %s:\n%s", absent, response)
		}
	}
}

func TestLogGateCountsSuppressed(t *testing.T) {
	gate := logGate{interval: time.Second}
	start := time.Unix(1000, 0)
	if suppressed, ok := gate.allow(start); !ok || suppressed != 0 {
		t.Fatalf("first line: allow = %d, %v; want 0, true", suppressed, ok)
	}
	for i := range 3 {
		if _, ok := gate.allow(start.Add(time.Duration(i+1) * 100 * time.Millisecond)); ok {
			t.Fatalf("line %d within the interval was let through", i+2)
		}
	}
	if suppressed, ok := gate.allow(start.Add(time.Second)); !ok || suppressed != 3 {
		t.Errorf("line after the interval: allow = %d, %v; want 3, true", suppressed, ok)
	}
}

// Over a real UDP listener an unparsable request gets 400 on the socket
// it came from, an unparsable response gets nothing, and the listener
// still serves a valid request afterwards.
func TestUnparsableDatagramAnswered(t *testing.T) {
	peer := newDatagramPeer(t)

	peer.send(t, "SIP/2.0 4294967301 overlarge\r\nVia: SIP/2.0/UDP "+peer.local()+"\r\nContent-Length: 0\r\n\r\n")
	peer.send(t, strings.Replace(quotbalRequest, "127.0.0.1:5050", peer.local(), 1))
	if got := peer.receive(t); !strings.HasPrefix(got, "SIP/2.0 400 Bad Request\r\n") || !strings.Contains(got, "Call-ID: quotbal.aksdj") {
		t.Fatalf("unparsable INVITE answered:\n%s", got)
	}

	peer.send(t, "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "+peer.local()+";branch=z9hG4bK-after\r\n"+
		"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: after-unparsable\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	if got := peer.receive(t); !strings.HasPrefix(got, "SIP/2.0 200 OK\r\n") || !strings.Contains(got, "after-unparsable") {
		t.Fatalf("OPTIONS after the unparsable messages answered:\n%s", got)
	}
}

// A datagram larger than sipgo's default 32 KiB read buffer arrives
// whole: a 40 KB OPTIONS gets 200, not 400 for a cut message.
func TestLargeDatagramReadWhole(t *testing.T) {
	peer := newDatagramPeer(t)

	padding := strings.Repeat("X-Padding: "+strings.Repeat("p", 90)+"\r\n", 400)
	options := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + peer.local() + ";branch=z9hG4bK-large\r\n" +
		"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: large-datagram\r\nCSeq: 1 OPTIONS\r\n" +
		padding + "Content-Length: 0\r\n\r\n"
	if len(options) < 40000 {
		t.Fatalf("the test datagram has %d bytes, want more than 40000", len(options))
	}
	peer.send(t, options)
	if got := peer.receive(t); !strings.HasPrefix(got, "SIP/2.0 200 OK\r\n") {
		t.Errorf("a %d-byte OPTIONS answered:\n%s", len(options), got)
	}
}

// datagramPeer is a UDP socket on loopback that talks to a started
// server's UDP listener.
type datagramPeer struct {
	conn   *net.UDPConn
	server *net.UDPAddr
}

// newDatagramPeer starts a server with a UDP listener and opens a socket
// to it; t.Cleanup closes both.
func newDatagramPeer(t *testing.T) *datagramPeer {
	t.Helper()
	_, addr := startRelayNode(t, false)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &datagramPeer{conn: conn, server: net.UDPAddrFromAddrPort(addr)}
}

// local returns the socket's host:port, for Via.
func (p *datagramPeer) local() string { return p.conn.LocalAddr().String() }

func (p *datagramPeer) send(t *testing.T, message string) {
	t.Helper()
	if _, err := p.conn.WriteToUDP([]byte(message), p.server); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// receive returns the next datagram, failing the test after 5 s.
func (p *datagramPeer) receive(t *testing.T) string {
	t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65535)
	n, _, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	return string(buf[:n])
}

// Over TCP sipgo v1.7.3 closes the connection on a message it cannot
// parse, without a response, because the read filter sees stream chunks
// rather than messages. RFC 4475 recommends 400, and this test pins what the
// server does instead. A connection that stalls inside a message does not
// keep the listener from serving another connection.
func TestUnparsableTCPMessageClosesConnection(t *testing.T) {
	srv, _ := startRelayNode(t, true)
	var target string
	for _, l := range srv.Addrs() {
		if l.Network == "tcp" {
			target = l.Address.String()
		}
	}
	dial := func() net.Conn {
		t.Helper()
		conn, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}

	stalled := dial()
	if _, err := stalled.Write([]byte("OPTIONS sip:127.0.0.1 SIP/2.0\r\nContent-Length: 5000\r\n\r\nshort")); err != nil {
		t.Fatalf("send: %v", err)
	}

	bad := dial()
	message := strings.NewReplacer("UDP 127.0.0.1:5050", "TCP "+bad.LocalAddr().String()).Replace(quotbalRequest)
	if _, err := bad.Write([]byte(message)); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := bad.Read(buf)
	if n > 0 || !errors.Is(err, io.EOF) {
		t.Errorf("unparsable message over TCP: read %q, %v; want the connection closed without a response", buf[:n], err)
	}

	good := dial()
	options := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP " + good.LocalAddr().String() + ";branch=z9hG4bK-tcp-after\r\n" +
		"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tcp-after-unparsable\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := good.Write([]byte(options)); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = good.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err = good.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK\r\n") {
		t.Errorf("OPTIONS on another connection while one stalls: read %q, %v; want 200", buf[:n], err)
	}
}

// unparsableOverhead bounds the bytes a stateless response adds to the
// lines it copies: the status line, Server and Content-Length.
const unparsableOverhead = 128

// FuzzUnparsableResponse checks the stateless response to any datagram.
// When there is one, it has the 400 or 505 status line and a Via line, and
// it is never longer than the datagram plus unparsableOverhead, so an
// unparsable request cannot be used to send a larger reply elsewhere.
// When its Via lines parse, sipgo parses the whole response.
func FuzzUnparsableResponse(f *testing.F) {
	f.Add([]byte(quotbalRequest))
	f.Add([]byte(strings.Replace(quotbalRequest, "SIP/2.0\r\n", "SIP/7.0\r\n", 1)))
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP\r\n 127.0.0.1\r\ni: x\r\n\r\n"))
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;;,;,,\r\nCSeq: 1 INVITE\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		response, status := unparsableResponse(data, "helpline-fuzz")
		if response == nil {
			if status != 0 {
				t.Fatalf("no response but status %d", status)
			}
			return
		}
		if len(response) > len(data)+unparsableOverhead {
			t.Fatalf("response of %d bytes to a %d-byte datagram", len(response), len(data))
		}
		statusLine := map[int]string{
			sipmsg.StatusBadRequest:          "SIP/2.0 400 Bad Request\r\n",
			sipmsg.StatusVersionNotSupported: "SIP/2.0 505 Version Not Supported\r\n",
		}[status]
		if statusLine == "" || !strings.HasPrefix(string(response), statusLine) {
			t.Fatalf("status %d with response:\n%q", status, response)
		}

		viasParse, hasVia := true, false
		for _, line := range strings.Split(string(response), "\r\n")[1:] {
			name, _, _ := strings.Cut(line, ":")
			if name = strings.ToLower(strings.TrimSpace(name)); name == "via" || name == "v" {
				hasVia = true
				viasParse = viasParse && headerParses(line)
			}
		}
		if !hasVia {
			t.Fatalf("response without Via:\n%q", response)
		}
		if _, err := sipmsg.ParseMessage(response); viasParse && err != nil {
			t.Fatalf("response with parsable Via lines does not parse: %v\n%q", err, response)
		}
	})
}
