package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kamailioProbeTimeout bounds each read of the relay test.
const kamailioProbeTimeout = 10 * time.Second

// Kamailio started from a configuration relays a request to the node in
// the dispatcher list the harness wrote, and the node's answer back.
func TestStartKamailioRelaysToNode(t *testing.T) {
	t.Parallel()
	node := listenLoopbackUDP(t)
	proxy := StartKamailio(t, KamailioOptions{
		Config: filepath.Join(RepoRoot(t), "e2e", "testdata", "kamailio", "relay.cfg"),
		Nodes:  []string{NodeURI(Loopback, node.LocalAddr().(*net.UDPAddr).Port)},
	})
	client := listenLoopbackUDP(t)

	request := optionsRequest(client.LocalAddr().String(), proxy.Addr())
	if _, err := client.WriteTo([]byte(request), udpAddr(t, proxy.Addr())); err != nil {
		t.Fatalf("sending OPTIONS to kamailio: %v", err)
	}

	relayed, from := readDatagram(t, node)
	if !strings.HasPrefix(relayed, "OPTIONS ") {
		t.Fatalf("node received %q, want the OPTIONS", relayed)
	}
	if vias := strings.Count(strings.ToLower(relayed), "\nvia:"); vias != 2 {
		t.Errorf("relayed OPTIONS has %d Via headers, want 2 (the proxy's and the client's):\n%s", vias, relayed)
	}
	if _, err := node.WriteTo([]byte(okResponse(relayed)), from); err != nil {
		t.Fatalf("answering the relayed OPTIONS: %v", err)
	}

	answer, _ := readDatagram(t, client)
	if !strings.HasPrefix(answer, "SIP/2.0 200 ") {
		t.Errorf("client received %q, want the node's 200", answer)
	}
}

func listenLoopbackUDP(t *testing.T) net.PacketConn {
	t.Helper()
	conn, err := net.ListenPacket("udp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		t.Fatalf("opening a UDP socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func udpAddr(t *testing.T, hostPort string) *net.UDPAddr {
	t.Helper()
	addr, err := net.ResolveUDPAddr("udp", hostPort)
	if err != nil {
		t.Fatalf("resolving %s: %v", hostPort, err)
	}
	return addr
}

func readDatagram(t *testing.T, conn net.PacketConn) (string, net.Addr) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(kamailioProbeTimeout)); err != nil {
		t.Fatalf("setting a read deadline: %v", err)
	}
	buf := make([]byte, 65535)
	n, from, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("reading from %s: %v", conn.LocalAddr(), err)
	}
	return string(buf[:n]), from
}

func optionsRequest(local, target string) string {
	lines := []string{
		"OPTIONS sip:" + target + " SIP/2.0",
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-harness-probe;rport",
		"Max-Forwards: 70",
		"From: <sip:probe@" + local + ">;tag=probe",
		"To: <sip:" + target + ">",
		"Call-ID: harness-probe@" + local,
		"CSeq: 1 OPTIONS",
		"Content-Length: 0",
	}
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

// okResponse builds a 200 to request that copies its Via, From, To,
// Call-ID and CSeq headers, as a UAS does.
func okResponse(request string) string {
	response := []string{"SIP/2.0 200 OK"}
	head, _, _ := strings.Cut(request, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, _, _ := strings.Cut(strings.ToLower(line), ":")
		switch strings.TrimSpace(name) {
		case "via", "v", "from", "f", "call-id", "i", "cseq":
			response = append(response, line)
		case "to", "t":
			response = append(response, line+";tag=node")
		}
	}
	response = append(response, fmt.Sprintf("Content-Length: %d", 0))
	return strings.Join(response, "\r\n") + "\r\n\r\n"
}
