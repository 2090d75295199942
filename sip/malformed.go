package sip

import (
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// singleValueHeaders are the headers that RFC 3261 section 7.3 allows only
// once in a request, among those this server reads. A second value makes
// the dialog, the order or the length of the request ambiguous
// (RFC 4475 sections 3.3.8 and 3.3.9).
var singleValueHeaders = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length"}

// sipVersion is the only SIP version this server speaks.
const sipVersion = "SIP/2.0"

// statusUnsupportedURIScheme is 416 Unsupported URI Scheme (RFC 3261
// section 21.4.13), which sipgo v1.7.3 does not name.
const statusUnsupportedURIScheme = 416

// requestURISchemes are the Request-URI schemes this server serves.
var requestURISchemes = map[string]bool{"sip": true, "sips": true, "tel": true}

// requestFault is the status and reason phrase of a request rejected
// before any handler.
type requestFault struct {
	status int
	reason string
}

// checkRequest returns the fault of a request that no handler should
// serve, or nil:
//   - a SIP version other than SIP/2.0: 505 (RFC 3261 section 8.2.2.3
//     leaves the code to the server; RFC 4475 section 3.1.2.16 recommends
//     505);
//   - Call-ID, From or To missing: 400, because RFC 3261 section 8.1.1
//     requires them of every request, and no handler can find a dialog
//     or caller without them;
//   - a single-value header given twice: 400;
//   - a CSeq method that differs from the request method: 400 (RFC 3261
//     section 8.1.1.5);
//   - a Request-URI scheme other than sip, sips or tel: 416 (section
//     8.2.2.1).
//
// sipgo itself responds 400 to a request without Via or CSeq.
func checkRequest(req *sipmsg.Request) *requestFault {
	if req.SipVersion != sipVersion {
		return &requestFault{sipmsg.StatusVersionNotSupported, "Version Not Supported"}
	}
	if req.CallID() == nil || req.From() == nil || req.To() == nil {
		return &requestFault{sipmsg.StatusBadRequest, "Bad Request: missing Call-ID, From or To"}
	}
	for _, name := range singleValueHeaders {
		if len(req.GetHeaders(name)) > 1 {
			return &requestFault{sipmsg.StatusBadRequest, "Bad Request: more than one " + name}
		}
	}
	if cseq := req.CSeq(); cseq != nil && !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return &requestFault{sipmsg.StatusBadRequest, "Bad Request: CSeq method does not match the request method"}
	}
	if !requestURISchemes[strings.ToLower(req.Recipient.Scheme)] {
		return &requestFault{statusUnsupportedURIScheme, "Unsupported URI Scheme"}
	}
	return nil
}

// rejectMalformed responds to a request that checkRequest faults, and
// returns true. An ACK is dropped instead, because an ACK gets no
// response.
func (s *Server) rejectMalformed(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	fault := checkRequest(req)
	if fault == nil {
		return false
	}
	s.log.Warn().Str("method", string(req.Method)).Str("source", req.Source()).Int("status", fault.status).
		Str("reason", fault.reason).Msg("malformed request rejected")
	if !req.IsAck() {
		s.respond(req, tx, fault.status, fault.reason, nil)
	}
	return true
}
