package sip

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// A UDP datagram that sipgo v1.7.3 cannot parse never reaches a handler:
// its transport logs the failure and drops the datagram. RFC 3261 section
// 8.2 and RFC 4475 section 3.1.2 recommend 400 (505 for another SIP
// version) for a malformed request, so that the sender stops
// retransmitting and learns why. The UDP read filter below parses each
// datagram first. It responds to a request that fails with a stateless
// response built from the lines it can still find.
//
// NOTE: each datagram that parses is parsed a second time by sipgo, which
// cost about 7 µs for a 490-byte INVITE on a 2-core AMD EPYC (a one-off
// go test -bench of sipmsg.ParseMessage). Over TCP sipgo closes the
// connection on a parse failure without a response, and the read filter
// sees stream chunks rather than messages, so TCP keeps that behaviour.

// unparsableCopiedHeaders are the header lines a response to an
// unparsable request copies (RFC 3261 section 8.2.6.2), by full and
// compact name.
var unparsableCopiedHeaders = map[string]bool{
	"via": true, "v": true,
	"from": true, "f": true,
	"to": true, "t": true,
	"call-id": true, "i": true,
	"cseq": true,
}

// unparsableLogInterval bounds the warnings about unparsable datagrams to
// one per interval; the next warning counts the ones left out.
const unparsableLogInterval = time.Second

// maxLoggedMethod bounds the request method written to the log.
const maxLoggedMethod = 16

// filterDatagram is sipgo's transport read filter. It passes every TCP
// read and every datagram that parses on to sipgo. It responds to
// an unparsable UDP request with unparsableResponse, and drops every
// other unparsable datagram. It never returns an error, because sipgo stops
// reading the socket on one.
func (s *Server) filterDatagram(props sipmsg.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(props.Transport, "udp") || isKeepAlive(data) {
		return data, nil
	}
	if _, err := sipmsg.ParseMessage(data); err == nil {
		return data, nil
	}

	response, status := unparsableResponse(data, s.opts.UserAgent)
	s.logUnparsable(props.RemoteAddr, data, status)
	if response == nil || props.RemoteAddr == nil {
		return nil, nil
	}
	if conn := s.udpConn(props.LocalAddr); conn != nil {
		if _, err := conn.WriteTo(response, props.RemoteAddr); err != nil {
			s.log.Debug().Err(err).Int("status", status).Msg("response to an unparsable request not sent")
		}
	}
	return nil, nil
}

// isKeepAlive reports whether data is a CRLF keep-alive (RFC 5626 section
// 3.5.1), which sipgo skips itself.
func isKeepAlive(data []byte) bool {
	return len(data) <= 4 && len(bytes.Trim(data, "\r\n")) == 0
}

// unparsableResponse returns the stateless response to a datagram that
// did not parse, with its status. The status is 505 when the request line
// names a version other than SIP/2.0, else 400. It returns nil and 0 for
// a response, for text that is not a request line, and for a request
// without a Via line to copy.
func unparsableResponse(data []byte, server string) ([]byte, int) {
	lines := strings.Split(string(data), "\r\n")
	fields := strings.Fields(lines[0])
	if len(fields) < 3 || !strings.HasPrefix(fields[len(fields)-1], "SIP/") || strings.HasPrefix(fields[0], "SIP/") {
		return nil, 0
	}
	status, reason := sipmsg.StatusBadRequest, "Bad Request"
	if fields[len(fields)-1] != "SIP/2.0" {
		status, reason = sipmsg.StatusVersionNotSupported, "Version Not Supported"
	}

	copied, hasVia := copiedHeaderLines(lines[1:])
	if !hasVia {
		return nil, 0
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 ")
	b.WriteString(strconv.Itoa(status) + " " + reason)
	b.WriteString("\r\n")
	for _, line := range copied {
		b.WriteString(line + "\r\n")
	}
	if server != "" && isPlainText(server) {
		b.WriteString("Server: " + server + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String()), status
}

// copiedHeaderLines returns the Via, From, To, Call-ID and CSeq lines of
// a header block, with their folded continuation lines joined, and
// whether a Via line is among them. A From, To, Call-ID or CSeq line that
// sipgo cannot parse is left out, so that the sender can parse the
// response. A Via line is copied all the same, because the sender matches
// the response to its transaction by the Via branch (RFC 3261 section
// 17.1.3). A line with a control character other than tab is left out,
// because it would be read as the end of a line.
func copiedHeaderLines(lines []string) ([]string, bool) {
	var copied []string
	hasVia := false
	for i := 0; i < len(lines) && lines[i] != ""; i++ {
		line := lines[i]
		for i+1 < len(lines) && lines[i+1] != "" && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			line += " " + strings.TrimSpace(lines[i])
		}
		name, _, found := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !found || !unparsableCopiedHeaders[name] || !isPlainText(line) {
			continue
		}
		isVia := name == "via" || name == "v"
		if !isVia && !headerParses(line) {
			continue
		}
		copied = append(copied, line)
		hasVia = hasVia || isVia
	}
	return copied, hasVia
}

// headerParses reports whether sipgo parses line as a header of a
// response.
func headerParses(line string) bool {
	_, err := sipmsg.ParseMessage([]byte("SIP/2.0 400 Bad Request\r\n" + line + "\r\nContent-Length: 0\r\n\r\n"))
	return err == nil
}

// isPlainText reports whether s has no control character but tab.
func isPlainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// udpConn returns the UDP listener bound to local, nil when there is none.
func (s *Server) udpConn(local net.Addr) net.PacketConn {
	if local == nil {
		return nil
	}
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	return s.udpConns[local.String()]
}

// logUnparsable warns about an unparsable datagram, at most once per
// unparsableLogInterval. The log names the source, the size, the method
// token and the status sent (0 for none), never the message: it carries
// callers' numbers.
func (s *Server) logUnparsable(source net.Addr, data []byte, status int) {
	suppressed, ok := s.unparsableLog.allow(time.Now())
	if !ok {
		return
	}
	event := s.log.Warn().Int("bytes", len(data)).Str("method", loggedMethod(data)).Int("status", status).Int("suppressed", suppressed)
	if source != nil {
		event = event.Str("source", source.String())
	}
	event.Msg("unparsable SIP datagram")
}

// loggedMethod returns the first word of a datagram when it is a short
// token of letters, else "".
func loggedMethod(data []byte) string {
	word, _, _ := bytes.Cut(data, []byte(" "))
	if len(word) == 0 || len(word) > maxLoggedMethod {
		return ""
	}
	for _, c := range word {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && c != '-' {
			return ""
		}
	}
	return string(word)
}

// logGate lets one log line through per interval and counts the lines it
// held back.
type logGate struct {
	interval time.Duration

	mu sync.Mutex
	// last is when a line was let through; guarded by mu.
	last time.Time
	// suppressed counts the lines held back since; guarded by mu.
	suppressed int
}

// allow reports whether a line may be logged at now, and how many were
// held back before it.
func (g *logGate) allow(now time.Time) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.last.IsZero() && now.Sub(g.last) < g.interval {
		g.suppressed++
		return 0, false
	}
	suppressed := g.suppressed
	g.last, g.suppressed = now, 0
	return suppressed, true
}
