package sip

import (
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// optionsRequest is a valid OPTIONS that the cases below break one way
// each.
const optionsRequest = "OPTIONS sip:127.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-check-1\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: <sip:01012345678@127.0.0.2>;tag=f1\r\n" +
	"To: <sip:127.0.0.1>\r\n" +
	"Call-ID: check-1\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"Content-Length: 0\r\n\r\n"

func TestCheckRequest(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(string) string
		status int
	}{
		{"valid", func(m string) string { return m }, 0},
		{"SIP/7.0", func(m string) string { return strings.Replace(m, "SIP/2.0\r\n", "SIP/7.0\r\n", 1) }, 505},
		{"missing To", func(m string) string { return strings.Replace(m, "To: <sip:127.0.0.1>\r\n", "", 1) }, 400},
		{"two From", func(m string) string {
			return strings.Replace(m, "From: ", "From: <sip:other@127.0.0.2>;tag=f2\r\nFrom: ", 1)
		}, 400},
		{"two To", func(m string) string { return strings.Replace(m, "To: ", "To: <sip:other@127.0.0.1>\r\nTo: ", 1) }, 400},
		{"two Call-ID", func(m string) string { return strings.Replace(m, "Call-ID: ", "Call-ID: other\r\nCall-ID: ", 1) }, 400},
		{"two CSeq", func(m string) string { return strings.Replace(m, "CSeq: ", "CSeq: 2 OPTIONS\r\nCSeq: ", 1) }, 400},
		{"two Max-Forwards", func(m string) string {
			return strings.Replace(m, "Max-Forwards: ", "Max-Forwards: 5\r\nMax-Forwards: ", 1)
		}, 400},
		{"two Content-Length", func(m string) string {
			return strings.Replace(m, "Content-Length: 0", "Content-Length: 0\r\nContent-Length: 0", 1)
		}, 400},
		{"compact and full From", func(m string) string {
			return strings.Replace(m, "From: ", "f: <sip:other@127.0.0.2>;tag=f2\r\nFrom: ", 1)
		}, 400},
		{"CSeq method mismatch", func(m string) string { return strings.Replace(m, "CSeq: 1 OPTIONS", "CSeq: 1 INVITE", 1) }, 400},
		{"CSeq method other case", func(m string) string { return strings.Replace(m, "CSeq: 1 OPTIONS", "CSeq: 1 options", 1) }, 0},
		{"unknown URI scheme", func(m string) string {
			return strings.Replace(m, "OPTIONS sip:127.0.0.1", "OPTIONS nobodyknowsthisscheme:opaque", 1)
		}, statusUnsupportedURIScheme},
		{"tel URI", func(m string) string { return strings.Replace(m, "OPTIONS sip:127.0.0.1", "OPTIONS tel:120", 1) }, 0},
		{"sips URI", func(m string) string { return strings.Replace(m, "OPTIONS sip:127.0.0.1", "OPTIONS sips:127.0.0.1", 1) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := sipmsg.ParseMessage([]byte(tt.edit(optionsRequest)))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			fault := checkRequest(msg.(*sipmsg.Request))
			got := 0
			if fault != nil {
				got = fault.status
			}
			if got != tt.status {
				t.Errorf("status = %d, want %d (0: no fault) for %v", got, tt.status, fault)
			}
		})
	}
}

// An ACK with a fault is dropped without a response, since an ACK gets
// none (RFC 3261 section 17.2.3).
func TestRejectMalformedDropsAck(t *testing.T) {
	ack := strings.NewReplacer("OPTIONS sip:", "ACK sip:", "CSeq: 1 OPTIONS", "CSeq: 1 INVITE").Replace(optionsRequest)
	tx := serveRaw(t, []byte(ack))
	if len(tx.responses) != 0 {
		t.Errorf("ACK with a mismatched CSeq got %d responses, want none", len(tx.responses))
	}
}

// A request in another SIP version gets 505, written in SIP/2.0 rather
// than in the request's version.
func TestOtherVersionAnswered505(t *testing.T) {
	tx := serveRaw(t, loadRequestSeed(t, "options_sip_version_7"))
	if len(tx.responses) != 1 {
		t.Fatalf("got %d responses, want 1", len(tx.responses))
	}
	res := tx.responses[0]
	if res.StatusCode != sipmsg.StatusVersionNotSupported {
		t.Errorf("status = %d, want 505", res.StatusCode)
	}
	if res.SipVersion != "SIP/2.0" {
		t.Errorf("response version = %q, want SIP/2.0", res.SipVersion)
	}
}

// serveRaw parses a request, passes it through a fresh fuzz server's
// method table as if from an unknown UDP source, and returns what the
// server sent.
func serveRaw(t *testing.T, data []byte) *recordingTx {
	t.Helper()
	srv := newFuzzServer(t, &errorLog{})
	msg, err := sipmsg.ParseMessage(data)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	req := msg.(*sipmsg.Request)
	req.SetSource(fuzzUnknownSource)
	req.SetTransport("UDP")
	tx := newRecordingTx()
	serveRequest(srv, req, tx)
	return tx
}
