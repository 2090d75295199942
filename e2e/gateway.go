package e2e

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// GatewayRequest is one request a MockGateway received.
type GatewayRequest struct {
	// Method is the request method, such as INVITE.
	Method string
	// URI is the Request-URI, such as sip:119@127.0.0.1:5072.
	URI string
	// Source is the sender's host:port.
	Source string
}

// MockGateway is a fake outbound gateway for trunk.outbound_uri: a
// UDP socket on 127.0.0.1 that records every request it gets. It answers
// an INVITE with 486 Busy Here, so that the server's outside call ends at
// once, ignores ACK and answers other requests with 200 OK.
type MockGateway struct {
	conn     *net.UDPConn
	requests *eventLog[GatewayRequest]
	done     chan struct{}
}

// StartMockGateway opens a MockGateway on a port chosen by the kernel.
// t.Cleanup closes it.
func StartMockGateway(t testing.TB) *MockGateway {
	t.Helper()

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(Loopback)})
	if err != nil {
		t.Fatalf("opening the mock gateway's socket: %v", err)
	}
	g := &MockGateway{conn: conn, requests: newEventLog[GatewayRequest](), done: make(chan struct{})}
	go g.serve()
	t.Cleanup(func() {
		conn.Close()
		<-g.done
	})
	return g
}

// Addr returns the gateway's host:port.
func (g *MockGateway) Addr() string {
	return g.conn.LocalAddr().String()
}

// URI returns the value for trunk.outbound_uri that routes outside calls
// to this gateway.
func (g *MockGateway) URI() string {
	return "sip:gw@" + g.Addr()
}

// Requests returns the requests received so far, oldest first.
func (g *MockGateway) Requests() []GatewayRequest {
	return g.requests.snapshot()
}

// Invites returns the INVITEs received so far.
func (g *MockGateway) Invites() []GatewayRequest {
	var invites []GatewayRequest
	for _, r := range g.Requests() {
		if r.Method == "INVITE" {
			invites = append(invites, r)
		}
	}
	return invites
}

// WaitInvite waits for an INVITE whose Request-URI user is number and
// returns it. It fails the test after timeout.
func (g *MockGateway) WaitInvite(t testing.TB, number string, timeout time.Duration) GatewayRequest {
	t.Helper()

	match := func(r GatewayRequest) bool {
		return r.Method == "INVITE" && strings.HasPrefix(r.URI, "sip:"+number+"@")
	}
	r, _, err := g.requests.wait(0, match, timeout, nil)
	if err != nil {
		t.Fatalf("waiting for the gateway to get an INVITE to %s: %v (requests so far: %v)", number, err, g.Requests())
	}
	return r
}

// serve records and answers requests until the socket closes.
func (g *MockGateway) serve() {
	defer close(g.done)
	buf := make([]byte, maxDatagramBytes)
	for {
		n, source, err := g.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg := append([]byte(nil), buf[:n]...)
		if SIPStatus(msg) != 0 || len(bytes.TrimSpace(msg)) == 0 {
			continue
		}
		g.answer(msg, source)
	}
}

// answer records one request and sends its response.
func (g *MockGateway) answer(msg []byte, source *net.UDPAddr) {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 {
		return
	}
	g.requests.add(GatewayRequest{Method: fields[0], URI: fields[1], Source: source.String()})

	status := "200 OK"
	switch fields[0] {
	case "ACK":
		return
	case "INVITE":
		status = "486 Busy Here"
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\r\n")
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for _, value := range sipHeaders(msg, name) {
			if name == "To" && fields[0] == "INVITE" && !strings.Contains(value, ";tag=") {
				value += ";tag=gateway"
			}
			b.WriteString(name + ": " + value + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	if source.IP.IsLoopback() {
		_, _ = g.conn.WriteToUDP([]byte(b.String()), source)
	}
}
