package sip

import (
	"strings"
	"sync"

	sipmsg "github.com/emiago/sipgo/sip"
)

// SIP option tags (RFC 3261 section 19.2) this server reads.
const (
	// extensionTimer is session timers (RFC 4028), which this server
	// supports.
	extensionTimer = "timer"
)

// supportedExtensions are the option tags a request may Require. 100rel
// (RFC 3262) is not among them: this server sends no provisional response
// but 100 Trying, which is never sent reliably, so an INVITE that
// requires 100rel gets 420 Bad Extension. sipgo v1.7.3 would not help
// here either: it names the PRACK method but keeps no RSeq and retransmits
// no reliable provisional response.
var supportedExtensions = map[string]bool{extensionTimer: true}

// supportedHeader is the Supported header of this server's responses.
func supportedHeader() sipmsg.Header {
	return sipmsg.NewHeader("Supported", extensionTimer)
}

// headerTokens returns the comma-separated tokens of every header named
// name or its compact form (such as "k" for Supported), in lower case.
func headerTokens(req *sipmsg.Request, name, compact string) []string {
	var tokens []string
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), name) && (compact == "" || !strings.EqualFold(h.Name(), compact)) {
			continue
		}
		for _, token := range strings.Split(h.Value(), ",") {
			if token = strings.ToLower(strings.TrimSpace(token)); token != "" {
				tokens = append(tokens, token)
			}
		}
	}
	return tokens
}

// hasToken reports whether a header of req lists token.
func hasToken(req *sipmsg.Request, name, compact, token string) bool {
	for _, t := range headerTokens(req, name, compact) {
		if t == token {
			return true
		}
	}
	return false
}

// rejectUnsupportedRequire answers 420 Bad Extension, with an Unsupported
// header listing each option tag of Require this server does not support
// (RFC 3261 section 8.2.2.3), and returns true. It returns false, and
// answers nothing, for a request whose Require it meets. ACK and CANCEL
// are never rejected this way.
func (s *Server) rejectUnsupportedRequire(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if req.IsAck() || req.IsCancel() {
		return false
	}
	var unsupported []string
	for _, tag := range headerTokens(req, "Require", "") {
		if !supportedExtensions[tag] {
			unsupported = append(unsupported, tag)
		}
	}
	if len(unsupported) == 0 {
		return false
	}

	s.log.Warn().Str("method", string(req.Method)).Strs("unsupported", unsupported).Msg("request requires an unsupported extension, responding 420")
	s.respond(req, tx, sipmsg.StatusBadExtension, "Bad Extension", nil,
		sipmsg.NewHeader("Unsupported", strings.Join(unsupported, ", ")),
		supportedHeader())
	return true
}

// maxUDPPayload is the largest UDP payload over IPv4 (65535 less the IP
// and UDP headers).
const maxUDPPayload = 65507

// allowLargeUDPMessages lets sipgo send and receive SIP messages over UDP
// up to the largest datagram. sipgo v1.7.3 refuses to send any message
// within 200 bytes of its UDPMTUSize of 1500, so a 200 OK that copies the
// many Via and Record-Route headers of a large INVITE was never sent. RFC
// 3261 section 18.1.1 moves large requests to TCP, but a response goes
// back on the transport its request came on (section 18.2.2). sipgo also
// reads into a 32 KiB buffer, which cut every larger datagram short, so
// the read buffer grows to the largest datagram too. sipgo uses the same
// size for the read buffer of each TCP connection.
func allowLargeUDPMessages() {
	largeUDPOnce.Do(func() {
		// sipgo subtracts 200 bytes of headroom from UDPMTUSize.
		sipmsg.UDPMTUSize = maxUDPPayload + 200
		sipmsg.TransportBufferReadSize = maxUDPPayload
	})
}

// largeUDPOnce sets sipgo's global limit once, before any server serves.
var largeUDPOnce sync.Once
