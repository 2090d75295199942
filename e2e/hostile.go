package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile messages: the RFC 4475 torture messages in testdata/torture and
// the malformed INVITEs of ProtosInvites. Their templates take the
// placeholders of RawSIP ({{target}}, {{local}}, {{content_length}}) and
// {{transport}} (UDP or TCP), but keep their bytes otherwise: line ends,
// NUL bytes and bytes that are not UTF-8 reach the server as written.
const (
	tortureDir      = "torture"
	tortureManifest = "manifest.txt"
	// hostileResponseTimeout bounds the wait for the final response to a
	// message that must get one. It is generous because the whole suite
	// runs beside this test under the race detector on two cores. A
	// response that comes sooner ends the wait at once.
	hostileResponseTimeout = 30 * time.Second
	// hostileQuietWindow is how long the readers of messages that may go
	// without a response keep reading after every due response came.
	hostileQuietWindow = 500 * time.Millisecond
	// hostileReadSlice bounds one read of a background reader, so that it
	// notices the end of the quiet window.
	hostileReadSlice = 100 * time.Millisecond
	// hostileInFlight bounds the messages sent and not yet settled, so that
	// a burst does not overflow the server's UDP receive buffer, where the
	// kernel would drop datagrams that need a response.
	hostileInFlight = 16
	// hostileSettleGrace settles a message that may go unanswered when no
	// final response came this long after it was sent. Its reader goes on
	// reading until the quiet window ends.
	hostileSettleGrace = 200 * time.Millisecond
)

// NoResponse stands for "no final response" in an Expectation: the server
// dropped the message, or closed the TCP connection without a response.
const NoResponse = 0

// Expectation lists the outcomes allowed for one message: status codes
// (400), status classes (4xx) and "drop" for no final response.
type Expectation struct {
	alternatives []string
}

// ParseExpectation reads alternatives separated by "|", such as
// "400|drop" or "4xx".
func ParseExpectation(text string) (Expectation, error) {
	var e Expectation
	for _, alt := range strings.Split(text, "|") {
		alt = strings.TrimSpace(alt)
		switch {
		case alt == "drop":
		case len(alt) == 3 && alt[0] >= '1' && alt[0] <= '6' && strings.HasSuffix(alt, "xx"):
		default:
			if code, err := strconv.Atoi(alt); err != nil || code < 100 || code > 699 {
				return Expectation{}, fmt.Errorf("expectation %q: alternative %q is not a status code, a class like 4xx, or drop", text, alt)
			}
		}
		e.alternatives = append(e.alternatives, alt)
	}
	return e, nil
}

// MustExpect is ParseExpectation for expectations written in code.
func MustExpect(text string) Expectation {
	e, err := ParseExpectation(text)
	if err != nil {
		panic(err)
	}
	return e
}

// Allows reports whether a final status (NoResponse for none) is allowed.
func (e Expectation) Allows(status int) bool {
	for _, alt := range e.alternatives {
		switch {
		case alt == "drop":
			if status == NoResponse {
				return true
			}
		case strings.HasSuffix(alt, "xx"):
			if status/100 == int(alt[0]-'0') {
				return true
			}
		default:
			if strconv.Itoa(status) == alt {
				return true
			}
		}
	}
	return false
}

// MayDrop reports whether no response is allowed, so that the sender does
// not wait for one.
func (e Expectation) MayDrop() bool {
	return e.Allows(NoResponse)
}

func (e Expectation) String() string {
	return strings.Join(e.alternatives, "|")
}

// HostileMessage is one message of the hostile-input tests.
type HostileMessage struct {
	// Name identifies the message in failures, such as "wsinv".
	Name string
	// Source is where the message comes from: an RFC 4475 section, or the
	// generator group.
	Source string
	// Template is the message with its placeholders.
	Template []byte
	// UDP and TCP are the outcomes allowed on each transport.
	UDP, TCP Expectation
	// Note explains the expectation, and where the server departs from
	// what the RFC recommends.
	Note string
}

// Expect returns the expectation for transport "udp" or "tcp".
func (m HostileMessage) Expect(transport string) Expectation {
	if strings.EqualFold(transport, "tcp") {
		return m.TCP
	}
	return m.UDP
}

// Fill returns the message to send from local to target over transport.
func (m HostileMessage) Fill(target, local, transport string) []byte {
	data := m.Template
	for key, value := range map[string]string{"target": target, "local": local, "transport": strings.ToUpper(transport)} {
		data = bytes.ReplaceAll(data, []byte("{{"+key+"}}"), []byte(value))
	}
	return fillContentLength(data)
}

// LoadTorture reads the RFC 4475 messages listed in
// e2e/testdata/torture/manifest.txt. Each manifest line contains the file
// name, the RFC section, the UDP and TCP expectations and a note,
// separated by tabs. Lines starting with # are comments.
func LoadTorture(t testing.TB) []HostileMessage {
	t.Helper()

	dir := filepath.Join(RepoRoot(t), "e2e", "testdata", tortureDir)
	manifest, err := os.ReadFile(filepath.Join(dir, tortureManifest))
	if err != nil {
		t.Fatalf("reading the torture manifest: %v", err)
	}
	var messages []HostileMessage
	for i, line := range strings.Split(string(manifest), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		msg, err := parseManifestLine(line)
		if err != nil {
			t.Fatalf("%s line %d: %v", tortureManifest, i+1, err)
		}
		msg.Template, err = os.ReadFile(filepath.Join(dir, msg.Name+".sip"))
		if err != nil {
			t.Fatalf("%s line %d: reading the message: %v", tortureManifest, i+1, err)
		}
		messages = append(messages, msg)
	}
	return messages
}

func parseManifestLine(line string) (HostileMessage, error) {
	fields := strings.Split(line, "\t")
	if len(fields) != 5 {
		return HostileMessage{}, fmt.Errorf("want 5 tab-separated fields (name, section, udp, tcp, note), got %d", len(fields))
	}
	udp, err := ParseExpectation(fields[2])
	if err != nil {
		return HostileMessage{}, fmt.Errorf("udp: %w", err)
	}
	tcp, err := ParseExpectation(fields[3])
	if err != nil {
		return HostileMessage{}, fmt.Errorf("tcp: %w", err)
	}
	return HostileMessage{Name: fields[0], Source: "RFC 4475 " + fields[1], UDP: udp, TCP: tcp, Note: fields[4]}, nil
}

// HostileOutcome is what the server did with one message.
type HostileOutcome struct {
	Message HostileMessage
	// Status is the first final status, or NoResponse.
	Status int
	// Response is the final response, nil without one.
	Response []byte
	// Err is a failure of the test's own socket, never of the server.
	Err error
}

// hostileSender is one message on its own socket, from the send to the
// final response or the end of the quiet window.
type hostileSender struct {
	msg      HostileMessage
	expect   Expectation
	next     func(deadline time.Time) ([]byte, error)
	close    func()
	outcome  HostileOutcome
	finished chan struct{}
	// settled frees the message's place among those in flight.
	settled func()
}

// SendHostile sends each message from its own socket (UDP) or connection
// (TCP) to srv, at most hostileInFlight unsettled at a time, and returns
// what came back. A message is settled by its final response. A message
// that must get one is otherwise settled after hostileResponseTimeout. A
// message that may be dropped is otherwise settled after
// hostileSettleGrace, and its reader keeps reading until
// hostileQuietWindow after the last due response.
func SendHostile(t testing.TB, srv *Server, transport string, messages []HostileMessage) []HostileOutcome {
	t.Helper()

	senders := make([]*hostileSender, len(messages))
	slots := make(chan struct{}, hostileInFlight)
	quiet := make(chan struct{})
	var due sync.WaitGroup

	for i, msg := range messages {
		slots <- struct{}{}
		release := sync.OnceFunc(func() { <-slots })
		s := openHostileSender(t, srv, transport, msg)
		s.settled = release
		senders[i] = s
		if s.expect.MayDrop() {
			time.AfterFunc(hostileSettleGrace, release)
			go s.readUntil(quiet)
			continue
		}
		due.Add(1)
		go func() {
			defer due.Done()
			defer release()
			s.readUntilDeadline(time.Now().Add(hostileResponseTimeout))
		}()
	}

	due.Wait()
	time.AfterFunc(hostileQuietWindow, func() { close(quiet) })

	outcomes := make([]HostileOutcome, len(senders))
	for i, s := range senders {
		<-s.finished
		s.close()
		outcomes[i] = s.outcome
	}
	return outcomes
}

// openHostileSender opens the socket, sends the message and returns the
// sender, or fails the test when the test's own socket fails.
func openHostileSender(t testing.TB, srv *Server, transport string, msg HostileMessage) *hostileSender {
	t.Helper()

	s := &hostileSender{msg: msg, expect: msg.Expect(transport), finished: make(chan struct{})}
	s.outcome.Message = msg
	switch strings.ToLower(transport) {
	case "udp":
		peer := ListenUDP(t)
		peer.Send(t, srv.Addr(), msg.Fill(srv.Addr(), peer.Addr(), transport))
		s.next = peer.nextDatagram
		s.close = func() { peer.conn.Close() }
	case "tcp":
		conn, err := net.DialTimeout("tcp", srv.Addr(), hostileResponseTimeout)
		if err != nil {
			t.Fatalf("%s: connecting to %s: %v", msg.Name, srv.Addr(), err)
		}
		data := msg.Fill(srv.Addr(), conn.LocalAddr().String(), transport)
		if _, err := conn.Write(data); err != nil {
			t.Fatalf("%s: sending %d bytes over TCP: %v", msg.Name, len(data), err)
		}
		reader := bufio.NewReader(conn)
		s.next = func(deadline time.Time) ([]byte, error) {
			if err := conn.SetReadDeadline(deadline); err != nil {
				return nil, err
			}
			return readStreamMessage(reader)
		}
		s.close = func() { conn.Close() }
	default:
		t.Fatalf("transport %q: use udp or tcp", transport)
	}
	return s
}

// nextDatagram reads one datagram before deadline.
func (p *UDPPeer) nextDatagram(deadline time.Time) ([]byte, error) {
	if err := p.conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	buf := make([]byte, maxDatagramBytes)
	n, _, err := p.conn.ReadFromUDP(buf)
	return buf[:n], err
}

// readUntilDeadline reads until a final response, the deadline, or the
// connection's end.
func (s *hostileSender) readUntilDeadline(deadline time.Time) {
	defer close(s.finished)
	for {
		msg, err := s.next(deadline)
		if s.settle(msg, err) {
			return
		}
	}
}

// readUntil reads until a final response, the connection's end, or quiet
// closes.
func (s *hostileSender) readUntil(quiet <-chan struct{}) {
	defer close(s.finished)
	for {
		msg, err := s.next(time.Now().Add(hostileReadSlice))
		if isTimeout(err) {
			select {
			case <-quiet:
				return
			default:
				continue
			}
		}
		if s.settle(msg, err) {
			return
		}
	}
}

// settle records a read's result and reports whether reading is over.
func (s *hostileSender) settle(msg []byte, err error) bool {
	switch {
	case isTimeout(err), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), isConnReset(err):
		return true
	case err != nil:
		s.outcome.Err = err
		return true
	}
	if status := anyVersionStatus(msg); status >= 200 {
		s.outcome.Status = status
		s.outcome.Response = msg
		s.settled()
		return true
	}
	return false
}

// anyVersionStatus returns the status code of a response in any SIP
// version, or 0 for a request, so that a response in the wrong version
// counts as a response rather than as silence.
func anyVersionStatus(msg []byte) int {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "SIP/") {
		return 0
	}
	code, _ := strconv.Atoi(fields[1])
	return code
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// CheckHostileOutcomes fails the test for every outcome its expectation
// does not allow, naming the message and its source.
func CheckHostileOutcomes(t testing.TB, transport string, outcomes []HostileOutcome) {
	t.Helper()
	for _, o := range outcomes {
		expect := o.Message.Expect(transport)
		if o.Err != nil {
			t.Errorf("%s %s (%s): reading the response: %v", transport, o.Message.Name, o.Message.Source, o.Err)
			continue
		}
		if !expect.Allows(o.Status) {
			t.Errorf("%s %s (%s): got %s, want %s (%s)\n%s", transport, o.Message.Name, o.Message.Source,
				outcomeText(o.Status), expect, o.Message.Note, firstLines(o.Response, 12))
		}
	}
}

// SummarizeOutcomes counts the outcomes by status, "no response" last,
// for the test log: "400×12 404×3 no response×2".
func SummarizeOutcomes(outcomes []HostileOutcome) string {
	counts := map[int]int{}
	for _, o := range outcomes {
		counts[o.Status]++
	}
	statuses := make([]int, 0, len(counts))
	for status := range counts {
		if status != NoResponse {
			statuses = append(statuses, status)
		}
	}
	sort.Ints(statuses)
	if counts[NoResponse] > 0 {
		statuses = append(statuses, NoResponse)
	}
	parts := make([]string, 0, len(statuses))
	for _, status := range statuses {
		parts = append(parts, fmt.Sprintf("%s×%d", outcomeText(status), counts[status]))
	}
	return strings.Join(parts, " ")
}

func outcomeText(status int) string {
	if status == NoResponse {
		return "no response"
	}
	return strconv.Itoa(status)
}

// firstLines returns up to n lines of a message, for failure output.
func firstLines(msg []byte, n int) string {
	lines := strings.SplitN(string(msg), "\r\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
