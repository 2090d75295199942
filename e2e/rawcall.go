package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RawCall is a caller that writes every SIP message by hand, for tests of
// exchanges that SIPp scenarios make awkward: re-INVITEs with chosen SDP,
// session refreshes, large messages, TCP from an ephemeral port. It
// answers every request the server sends (BYE, UPDATE) with 200 OK and
// keeps them for the test. It also owns an RTP socket that can send
// G.711 packets and counts what it receives.
type RawCall struct {
	t         testing.TB
	transport string
	server    string
	conn      net.Conn
	udp       *net.UDPConn
	rtp       *net.UDPConn

	callID  string
	fromTag string
	toTag   string
	cseq    int
	// branch is the Via branch of the last request, which the ACK of a
	// non-2xx final response repeats (RFC 3261 17.1.1.3).
	branch string

	responses chan []byte
	requests  *eventLog[string]
	readDone  chan struct{}

	rtpMu sync.Mutex // guards received, stopSend, remoteRTP
	// received lists the RTP packets that reached the RTP socket.
	received  []RawRTP
	stopSend  chan struct{}
	remoteRTP netip.AddrPort
}

// RawRTP is one RTP packet a RawCall received.
type RawRTP struct {
	Time        time.Time
	PayloadType uint8
	PayloadLen  int
	Source      netip.AddrPort
}

// rawResponseTimeout bounds the wait for one final response.
const rawResponseTimeout = 30 * time.Second

// DialRaw opens a RawCall to srv over "udp" or "tcp" (a fresh connection
// from an ephemeral port) with its own RTP socket. Nothing is sent yet.
func DialRaw(t testing.TB, srv *Server, transport string) *RawCall {
	t.Helper()

	c := &RawCall{
		t:         t,
		transport: strings.ToUpper(transport),
		server:    srv.Addr(),
		callID:    randomID(t) + "@" + Loopback,
		fromTag:   randomID(t),
		responses: make(chan []byte, 64),
		requests:  newEventLog[string](),
		readDone:  make(chan struct{}),
	}
	switch c.transport {
	case "UDP":
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(Loopback)})
		if err != nil {
			t.Fatalf("opening the caller's SIP socket: %v", err)
		}
		c.udp = udp
	case "TCP":
		conn, err := net.DialTimeout("tcp", c.server, 5*time.Second)
		if err != nil {
			t.Fatalf("connecting to %s over TCP: %v", c.server, err)
		}
		c.conn = conn
	default:
		t.Fatalf("transport %q: use udp or tcp", transport)
	}

	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(Loopback)})
	if err != nil {
		t.Fatalf("opening the caller's RTP socket: %v", err)
	}
	c.rtp = rtp

	go c.readSIP()
	go c.readRTP()
	t.Cleanup(c.close)
	return c
}

func (c *RawCall) close() {
	c.StopRTP()
	if c.udp != nil {
		c.udp.Close()
	}
	if c.conn != nil {
		c.conn.Close()
	}
	c.rtp.Close()
	<-c.readDone
}

// localAddr is the SIP socket's host:port.
func (c *RawCall) localAddr() string {
	if c.udp != nil {
		return c.udp.LocalAddr().String()
	}
	return c.conn.LocalAddr().String()
}

// RTPPort is the caller's RTP port, for the SDP it sends.
func (c *RawCall) RTPPort() int {
	return c.rtp.LocalAddr().(*net.UDPAddr).Port
}

// CallID is the call's Call-ID, the id of its record.
func (c *RawCall) CallID() string { return c.callID }

// send writes one message.
func (c *RawCall) send(message string) {
	c.t.Helper()
	data := []byte(message)
	var err error
	if c.udp != nil {
		addr, _ := net.ResolveUDPAddr("udp", c.server)
		if !addr.IP.IsLoopback() {
			c.t.Fatalf("refusing to send to %s: loopback only", c.server)
		}
		_, err = c.udp.WriteToUDP(data, addr)
	} else {
		_, err = c.conn.Write(data)
	}
	if err != nil {
		c.t.Fatalf("sending %d bytes of SIP: %v", len(data), err)
	}
}

// readSIP reads messages until the socket closes: responses go to the
// responses channel, requests are answered with 200 OK and logged.
func (c *RawCall) readSIP() {
	defer close(c.readDone)
	var next func() ([]byte, error)
	if c.udp != nil {
		buf := make([]byte, maxDatagramBytes)
		next = func() ([]byte, error) {
			n, _, err := c.udp.ReadFromUDP(buf)
			return append([]byte(nil), buf[:n]...), err
		}
	} else {
		reader := bufio.NewReader(c.conn)
		next = func() ([]byte, error) { return readStreamMessage(reader) }
	}

	for {
		msg, err := next()
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(msg)) == 0 {
			continue // a CRLF keep-alive
		}
		if SIPStatus(msg) != 0 {
			c.responses <- msg
			continue
		}
		c.answerRequest(msg)
	}
}

// readStreamMessage reads one SIP message from a TCP stream: the header
// block and Content-Length bytes of body.
func readStreamMessage(r *bufio.Reader) ([]byte, error) {
	var head bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if head.Len() == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		head.WriteString(line)
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	length, _ := strconv.Atoi(SIPHeader(head.Bytes(), "Content-Length"))
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(head.Bytes(), body...), nil
}

// answerRequest answers a request from the server with 200 OK.
func (c *RawCall) answerRequest(msg []byte) {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	method, _, _ := strings.Cut(string(line), " ")
	c.requests.add(method)
	if method == "ACK" {
		return
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 200 OK\r\n")
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for _, value := range sipHeaders(msg, name) {
			b.WriteString(name + ": " + value + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	c.send(b.String())
}

// Requests returns the methods of the requests the server sent, in order.
func (c *RawCall) Requests() []string {
	return c.requests.snapshot()
}

// WaitRequest waits for the server to send a request with method.
func (c *RawCall) WaitRequest(t testing.TB, method string, timeout time.Duration) {
	t.Helper()
	if _, _, err := c.requests.wait(0, func(m string) bool { return m == method }, timeout, nil); err != nil {
		t.Fatalf("waiting for the server's %s: %v (requests so far: %v)", method, err, c.Requests())
	}
}

// Request sends an in-dialog or dialog-creating request and returns its
// final response. headers are extra header lines; body, when not empty,
// goes with contentType.
func (c *RawCall) Request(method string, headers []string, contentType, body string) []byte {
	c.t.Helper()
	c.cseq++
	c.branch = randomID(c.t)
	c.send(c.build(method, c.cseq, c.branch, headers, contentType, body))
	return c.waitFinal(method, c.cseq)
}

// build writes a request of this dialog with the given Via branch.
func (c *RawCall) build(method string, cseq int, branch string, headers []string, contentType, body string) string {
	local := c.localAddr()
	to := "<sip:120@" + c.server + ">"
	if c.toTag != "" {
		to += ";tag=" + c.toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:120@%s;transport=%s SIP/2.0\r\n", method, c.server, strings.ToLower(c.transport))
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\n", c.transport, local, branch)
	fmt.Fprintf(&b, "From: <sip:01012345678@%s>;tag=%s\r\n", local, c.fromTag)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", c.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:01012345678@%s;transport=%s>\r\n", local, strings.ToLower(c.transport))
	b.WriteString("Max-Forwards: 70\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: " + contentType + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// waitFinal returns the first final response to CSeq cseq of method,
// resending the request over UDP is not needed on loopback.
func (c *RawCall) waitFinal(method string, cseq int) []byte {
	c.t.Helper()
	want := strconv.Itoa(cseq) + " " + method
	deadline := time.After(rawResponseTimeout)
	for {
		select {
		case msg := <-c.responses:
			if SIPHeader(msg, "CSeq") != want || SIPStatus(msg) < 200 {
				continue
			}
			return msg
		case <-deadline:
			c.t.Fatalf("no final response to %s within %s", want, rawResponseTimeout)
			return nil
		}
	}
}

// Invite sends the INVITE with sdp and returns its final response. A 2xx
// is acknowledged at once and its To tag and SDP address kept.
func (c *RawCall) Invite(headers []string, sdp string) []byte {
	c.t.Helper()
	res := c.Request("INVITE", headers, "application/sdp", sdp)
	c.toTag = tagOf(SIPHeader(res, "To"))
	switch status := SIPStatus(res); {
	case status >= 200 && status < 300:
		c.takeAnswer(res)
		c.Ack()
	case status >= 300:
		// The ACK of a failed INVITE belongs to its transaction, and no
		// dialog remains.
		c.send(c.build("ACK", c.cseq, c.branch, nil, "", ""))
		c.toTag = ""
	}
	return res
}

// Reinvite sends a re-INVITE in the dialog and acknowledges a 2xx.
func (c *RawCall) Reinvite(headers []string, sdp string) []byte {
	c.t.Helper()
	res := c.Request("INVITE", headers, "application/sdp", sdp)
	if status := SIPStatus(res); status >= 200 && status < 300 {
		c.takeAnswer(res)
		c.Ack()
	} else if status >= 300 {
		// The ACK of a failed INVITE belongs to its transaction: same
		// branch and CSeq number.
		c.send(c.build("ACK", c.cseq, c.branch, nil, "", ""))
	}
	return res
}

// Ack acknowledges the last INVITE's 2xx.
func (c *RawCall) Ack() {
	c.t.Helper()
	c.send(c.build("ACK", c.cseq, randomID(c.t), nil, "", ""))
}

// takeAnswer points the RTP sender at the address of an SDP answer.
func (c *RawCall) takeAnswer(res []byte) {
	addr, ok := SDPAudioAddr(SIPBody(res))
	if !ok {
		return
	}
	c.rtpMu.Lock()
	c.remoteRTP = addr
	c.rtpMu.Unlock()
}

// Digit sends one key as SIP INFO (application/dtmf-relay) and checks the 200.
func (c *RawCall) Digit(t testing.TB, key string) {
	t.Helper()
	res := c.Request("INFO", nil, "application/dtmf-relay", "Signal="+key+"\r\nDuration=160\r\n")
	if SIPStatus(res) != 200 {
		t.Fatalf("INFO %s answered %d, want 200\n%s", key, SIPStatus(res), res)
	}
}

// SendRTP sends packets of payload type pt with payloadLen bytes
// (payloadLen/8 ms of G.711 each) to the server's SDP address until
// StopRTP, so the server sees a caller who talks. Each payload byte is
// fill.
func (c *RawCall) SendRTP(pt uint8, payloadLen int, fill byte) {
	c.StopRTP()
	stop := make(chan struct{})
	c.rtpMu.Lock()
	c.stopSend = stop
	c.rtpMu.Unlock()

	interval := time.Duration(payloadLen) * time.Second / 8000
	go func() {
		packet := make([]byte, 12+payloadLen)
		packet[0] = 0x80
		packet[1] = pt & 0x7f
		ssrc := uint32(time.Now().UnixNano())
		packet[8], packet[9], packet[10], packet[11] = byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc)
		for i := 12; i < len(packet); i++ {
			packet[i] = fill
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq, ts := uint16(1), uint32(0); ; seq, ts = seq+1, ts+uint32(payloadLen) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			packet[2], packet[3] = byte(seq>>8), byte(seq)
			packet[4], packet[5], packet[6], packet[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
			c.rtpMu.Lock()
			remote := c.remoteRTP
			c.rtpMu.Unlock()
			if remote.IsValid() && remote.Addr().IsLoopback() {
				_, _ = c.rtp.WriteToUDPAddrPort(packet, remote)
			}
		}
	}()
}

// StopRTP stops SendRTP.
func (c *RawCall) StopRTP() {
	c.rtpMu.Lock()
	defer c.rtpMu.Unlock()
	if c.stopSend != nil {
		close(c.stopSend)
		c.stopSend = nil
	}
}

func (c *RawCall) readRTP() {
	buf := make([]byte, 2048)
	for {
		n, source, err := c.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		c.rtpMu.Lock()
		c.received = append(c.received, RawRTP{Time: time.Now(), PayloadType: buf[1] & 0x7f, PayloadLen: n - 12, Source: source})
		c.rtpMu.Unlock()
	}
}

// ReceivedRTP returns the RTP packets received between from and to.
func (c *RawCall) ReceivedRTP(from, to time.Time) []RawRTP {
	c.rtpMu.Lock()
	defer c.rtpMu.Unlock()
	var packets []RawRTP
	for _, p := range c.received {
		if !p.Time.Before(from) && p.Time.Before(to) {
			packets = append(packets, p)
		}
	}
	return packets
}

// SIPHeader returns the first value of a header (or "" when missing),
// matching the name without case; the compact forms of Via, From, To,
// Call-ID, Contact and Content-Length match too.
func SIPHeader(msg []byte, name string) string {
	values := sipHeaders(msg, name)
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// compactNames maps header names to their compact forms (RFC 3261 7.3.3).
var compactNames = map[string]string{"via": "v", "from": "f", "to": "t", "call-id": "i", "contact": "m", "content-length": "l", "content-type": "c", "supported": "k", "session-expires": "x"}

func sipHeaders(msg []byte, name string) []string {
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	lower := strings.ToLower(name)
	var values []string
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if key == lower || key == compactNames[lower] {
			values = append(values, strings.TrimSpace(value))
		}
	}
	return values
}

// SIPBody returns the body of a message.
func SIPBody(msg []byte) string {
	_, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	return string(body)
}

func tagOf(header string) string {
	_, after, found := strings.Cut(header, ";tag=")
	if !found {
		return ""
	}
	tag, _, _ := strings.Cut(after, ";")
	return tag
}

// SDPAudioAddr returns the address of the first audio m= line of an SDP
// body: its c= line, else the session's, with the m= port.
func SDPAudioAddr(sdp string) (netip.AddrPort, bool) {
	var session, media netip.Addr
	port := -1
	for _, line := range strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "c=IN IP4 "):
			addr, err := netip.ParseAddr(strings.TrimSpace(strings.TrimPrefix(line, "c=IN IP4 ")))
			if err != nil {
				continue
			}
			if port < 0 {
				session = addr
			} else if !media.IsValid() {
				media = addr
			}
		case strings.HasPrefix(line, "m=audio ") && port < 0:
			fields := strings.Fields(line)
			port, _ = strconv.Atoi(fields[1])
		}
	}
	addr := session
	if media.IsValid() {
		addr = media
	}
	if port <= 0 || !addr.IsValid() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// SIPStatus returns the status code of a SIP response, or 0 for a request.
func SIPStatus(msg []byte) int {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 || fields[0] != "SIP/2.0" {
		return 0
	}
	code, _ := strconv.Atoi(fields[1])
	return code
}
