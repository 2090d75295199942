package media

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/rs/zerolog"
)

// testDeadline bounds every wait for a packet or an event.
const testDeadline = 10 * time.Second

// listenLoopback opens a UDP socket on 127.0.0.1 with a port the kernel
// picks, closed when the test ends.
func listenLoopback(tb testing.TB) *net.UDPConn {
	tb.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		tb.Fatalf("listen on loopback: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

func addrOf(conn *net.UDPConn) netip.AddrPort {
	return normalizeAddrPort(conn.LocalAddr().(*net.UDPAddr).AddrPort())
}

// peer is a fake phone: a loopback socket that sends and receives RTP.
type peer struct {
	t    *testing.T
	conn *net.UDPConn
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	return &peer{t: t, conn: listenLoopback(t)}
}

func (p *peer) addr() netip.AddrPort { return addrOf(p.conn) }

// read returns the next RTP packet the peer receives, failing the test
// after testDeadline.
func (p *peer) read() rtp.Packet {
	p.t.Helper()
	datagram := p.readDatagram()
	var packet rtp.Packet
	if err := packet.Unmarshal(datagram); err != nil {
		p.t.Fatalf("peer %s: unmarshal RTP: %v", p.addr(), err)
	}
	return packet
}

// readDatagram returns the next datagram the peer receives, failing the
// test after testDeadline.
func (p *peer) readDatagram() []byte {
	p.t.Helper()
	if err := p.conn.SetReadDeadline(time.Now().Add(testDeadline)); err != nil {
		p.t.Fatalf("set read deadline: %v", err)
	}
	buf := make([]byte, maxDatagramSize)
	n, _, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		p.t.Fatalf("peer %s: read RTP: %v", p.addr(), err)
	}
	return buf[:n]
}

// readN returns the next n packets.
func (p *peer) readN(n int) []rtp.Packet {
	p.t.Helper()
	packets := make([]rtp.Packet, n)
	for i := range packets {
		packets[i] = p.read()
	}
	return packets
}

// sendRaw sends a datagram to the session.
func (p *peer) sendRaw(to netip.AddrPort, datagram []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(datagram, to); err != nil {
		p.t.Fatalf("peer %s: send: %v", p.addr(), err)
	}
}

// send marshals and sends an RTP packet to the session.
func (p *peer) send(to netip.AddrPort, header rtp.Header, payload []byte) {
	p.t.Helper()
	header.Version = rtpVersion
	datagram, err := (&rtp.Packet{Header: header, Payload: payload}).Marshal()
	if err != nil {
		p.t.Fatalf("marshal RTP: %v", err)
	}
	p.sendRaw(to, datagram)
}

// logWatcher is a zerolog writer that lets a test wait for a log message,
// the session's signal that a step happened.
type logWatcher struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogWatcher() *logWatcher {
	return &logWatcher{changed: make(chan struct{})}
}

func (w *logWatcher) Write(line []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, string(bytes.TrimSpace(line)))
	close(w.changed)
	w.changed = make(chan struct{})
	return len(line), nil
}

// count returns how many logged lines contain message.
func (w *logWatcher) count(message string) (int, chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, line := range w.lines {
		if strings.Contains(line, `"message":"`+message+`"`) {
			n++
		}
	}
	return n, w.changed
}

// waitFor blocks until message has been logged at least n times.
func (w *logWatcher) waitFor(t *testing.T, message string, n int) {
	t.Helper()
	timeout := time.After(testDeadline)
	for {
		got, changed := w.count(message)
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("log message %q seen %d times within %s, want %d", message, got, testDeadline, n)
		}
	}
}

func (w *logWatcher) logger() zerolog.Logger {
	return zerolog.New(w).Level(zerolog.DebugLevel)
}

// testSession is a started session on a loopback socket, with a log
// watcher.
type testSession struct {
	*Session
	logs *logWatcher
}

// startSession creates and starts a session with cfg, filling in Conn and
// Logger. It is closed when the test ends.
func startSession(t *testing.T, cfg SessionConfig) *testSession {
	t.Helper()
	logs := newLogWatcher()
	if cfg.Conn == nil {
		cfg.Conn = listenLoopback(t)
	}
	cfg.Logger = logs.logger()

	session := NewSession(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	session.Start(ctx)
	t.Cleanup(func() {
		cancel()
		if err := session.Close(); err != nil {
			t.Errorf("close session: %v", err)
		}
	})
	return &testSession{Session: session, logs: logs}
}

// audioOf returns a clip of n samples, each set to value.
func audioOf(n int, value int16) *Audio {
	samples := make([]int16, n)
	for i := range samples {
		samples[i] = value
	}
	return &Audio{Samples: samples}
}

// waitDigit returns the next digit, failing after testDeadline.
func waitDigit(t *testing.T, s *Session) Digit {
	t.Helper()
	select {
	case d := <-s.Digits():
		return d
	case <-time.After(testDeadline):
		t.Fatalf("no digit within %s", testDeadline)
		return 0
	}
}

// waitResult returns the error sent on result, failing after testDeadline.
func waitResult(t *testing.T, what string, result <-chan error) error {
	t.Helper()
	select {
	case err := <-result:
		return err
	case <-time.After(testDeadline):
		t.Fatalf("%s did not return within %s", what, testDeadline)
		return nil
	}
}
