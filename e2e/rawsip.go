package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Raw SIP message files and their placeholders. RawSIP fills in:
//
//	{{target}}          the server's host:port
//	{{local}}           the sender's host:port (Via, Contact, From)
//	{{call_id}}         a random Call-ID
//	{{tag}}             a random From tag
//	{{branch}}          a random Via branch, after the z9hG4bK cookie
//	{{content_length}}  the body length after all other replacements
const (
	rawSIPDir           = "sip"
	rawSIPExtension     = ".sip"
	contentLengthMarker = "{{content_length}}"
	// maxDatagramBytes is the largest UDP payload a peer reads.
	maxDatagramBytes = 65535
	randomIDBytes    = 8
)

// RawSIPNames returns the names of the raw messages in testdata/sip.
func RawSIPNames(t testing.TB) []string {
	t.Helper()

	paths, err := filepath.Glob(filepath.Join(RepoRoot(t), "testdata", rawSIPDir, "*"+rawSIPExtension))
	if err != nil {
		t.Fatalf("listing raw SIP messages: %v", err)
	}
	names := make([]string, 0, len(paths))
	for _, path := range paths {
		names = append(names, filepath.Base(path))
	}
	sort.Strings(names)
	return names
}

// RawSIP loads testdata/sip/NAME, fills in the placeholders (vars override
// or add to target and local), and turns line ends into CRLF.
func RawSIP(t testing.TB, name, target, local string, vars map[string]string) []byte {
	t.Helper()

	data, err := os.ReadFile(filepath.Join(RepoRoot(t), "testdata", rawSIPDir, name))
	if err != nil {
		t.Fatalf("reading raw SIP message: %v", err)
	}

	values := map[string]string{
		"target":  target,
		"local":   local,
		"call_id": randomID(t) + "@" + Loopback,
		"tag":     randomID(t),
		"branch":  randomID(t),
	}
	for key, value := range vars {
		values[key] = value
	}

	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\n", "\r\n")
	for key, value := range values {
		text = strings.ReplaceAll(text, "{{"+key+"}}", value)
	}
	return fillContentLength([]byte(text))
}

// fillContentLength replaces {{content_length}} with the length of the
// body, the bytes after the first empty line.
func fillContentLength(message []byte) []byte {
	_, body, found := bytes.Cut(message, []byte("\r\n\r\n"))
	if !found {
		body = nil
	}
	return bytes.ReplaceAll(message, []byte(contentLengthMarker), []byte(strconv.Itoa(len(body))))
}

func randomID(t testing.TB) string {
	t.Helper()

	id := make([]byte, randomIDBytes)
	if _, err := rand.Read(id); err != nil {
		t.Fatalf("generating a random id: %v", err)
	}
	return hex.EncodeToString(id)
}

// UDPPeer is a UDP socket on 127.0.0.1 that sends raw datagrams and reads
// the responses.
type UDPPeer struct {
	conn *net.UDPConn
}

// ListenUDP opens a UDPPeer on 127.0.0.1 and a port chosen by the kernel;
// t.Cleanup closes it.
func ListenUDP(t testing.TB) *UDPPeer {
	t.Helper()
	return ListenUDPOn(t, Loopback)
}

// ListenUDPOn opens a UDPPeer on host, a loopback address such as
// 127.0.0.2, and a port chosen by the kernel; t.Cleanup closes it. The
// kernel routes all of 127.0.0.0/8 to the loopback interface, so a test
// can send from several source addresses.
func ListenUDPOn(t testing.TB, host string) *UDPPeer {
	t.Helper()

	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		t.Fatalf("UDP peer host %q: use a loopback address such as 127.0.0.2", host)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatalf("opening a UDP socket on %s: %v", host, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &UDPPeer{conn: conn}
}

// Addr returns the peer's host:port.
func (p *UDPPeer) Addr() string {
	return p.conn.LocalAddr().String()
}

// Send sends one datagram to target (host:port).
func (p *UDPPeer) Send(t testing.TB, target string, datagram []byte) {
	t.Helper()

	addr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatalf("resolving %s: %v", target, err)
	}
	if !addr.IP.IsLoopback() {
		t.Fatalf("refusing to send to %s: the harness sends to loopback addresses only", target)
	}
	if _, err := p.conn.WriteToUDP(datagram, addr); err != nil {
		t.Fatalf("sending %d bytes to %s: %v", len(datagram), target, err)
	}
}

// Receive returns the next datagram, or false when none arrives within
// timeout.
func (p *UDPPeer) Receive(t testing.TB, timeout time.Duration) ([]byte, bool) {
	t.Helper()

	if err := p.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatalf("setting the read deadline: %v", err)
	}
	buf := make([]byte, maxDatagramBytes)
	n, _, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return nil, false
		}
		t.Fatalf("reading from %s: %v", p.Addr(), err)
	}
	return buf[:n], true
}
