package sip

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/ivr"
	"helpline/media"
	"helpline/queue"
)

// Addresses of FuzzServeRequest's server. The trunk's network is trusted,
// so INVITEs from it reach SDP negotiation.
const (
	fuzzTrunkSource   = "127.0.0.2:5060"
	fuzzUnknownSource = "127.0.0.3:5060"
	fuzzNumber        = "1393"
)

// panicMessage is the log message of Server.guard when a handler panics.
const panicMessage = "request handler failed"

// errorLog collects a server's error log, so that a fuzz input that made
// a handler panic can be distinguished from one that got a deliberate 5xx.
type errorLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns the log written so far and empties it.
func (l *errorLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	text := l.buf.String()
	l.buf.Reset()
	return text
}

// newFuzzServer returns a server that is never started, trusting
// 127.0.0.2 as its trunk and answering fuzzNumber. Its one RTP port is
// held by the test, so a call that passes SDP negotiation is rejected with
// 503 instead of opening media.
func newFuzzServer(f testing.TB, logs *errorLog) *Server {
	f.Helper()
	return newFuzzServerWithRecords(f, logs, &patchRecorder{})
}

// newFuzzServerWithRecords is newFuzzServer writing its records to store.
func newFuzzServerWithRecords(f testing.TB, logs *errorLog, store RecordStore) *Server {
	f.Helper()
	log := zerolog.New(logs).Level(zerolog.ErrorLevel)
	registrar, err := NewRegistrar(RegistrarConfig{
		Realm:     testRealm,
		Passwords: map[string]string{testUser: testPassword},
		Logger:    log,
	})
	if err != nil {
		f.Fatalf("NewRegistrar: %v", err)
	}
	held := holdEvenPort(f)
	port := held.LocalAddr().(*net.UDPAddr).Port
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), port, port)
	if err != nil {
		f.Fatalf("NewPortRange: %v", err)
	}

	srv, err := New(Options{
		PublicHost:     "127.0.0.1",
		UserAgent:      "helpline-fuzz",
		ServiceUser:    "helpline",
		TrustedSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		NodeSources:    []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")},
		Numbers:        []string{fuzzNumber},
	}, Deps{
		Logger:    log,
		Registrar: registrar,
		Ports:     ports,
		Prompts:   &PromptCache{},
		Graph:     &ivr.Graph{},
		Queue:     queue.NewMemoryStore(),
		Records:   store,
	})
	if err != nil {
		f.Fatalf("sip.New: %v", err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	return srv
}

// holdEvenPort binds a free even UDP port on loopback until the test
// ends, so that a port range of only that port has none to hand out.
func holdEvenPort(tb testing.TB) *net.UDPConn {
	tb.Helper()
	for range 100 {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			tb.Fatalf("binding a loopback UDP port: %v", err)
		}
		if conn.LocalAddr().(*net.UDPAddr).Port%2 == 0 {
			tb.Cleanup(func() { _ = conn.Close() })
			return conn
		}
		_ = conn.Close()
	}
	tb.Fatal("no even loopback UDP port found in 100 tries")
	return nil
}

// serveRequest passes req to the handler sipgo would pick for its method.
func serveRequest(srv *Server, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	handlers, noRoute := srv.requestHandlers()
	handler, ok := handlers[req.Method]
	if !ok {
		handler = noRoute
	}
	handler(req, tx)
}

// reachesHandlers reports whether sipgo's transaction layer passes req on
// to a handler. It responds 400 itself to a request without Via or CSeq.
func reachesHandlers(req *sipmsg.Request) bool {
	return req.Via() != nil && req.CSeq() != nil
}

// lacksDialogHeaders reports whether req lacks a header that RFC 3261
// section 8.1.1 requires and that identifies its dialog.
func lacksDialogHeaders(req *sipmsg.Request) bool {
	return req.CallID() == nil || req.From() == nil || req.To() == nil
}

// FuzzServeRequest parses any datagram as sipgo's transport does and
// passes every request that reaches the handlers through the server's
// method table. Whatever arrives, no handler panics, an ACK gets no
// response, any other request gets exactly one final response after
// optional provisional ones, and every response carries a status from 100
// to 699 and the request's Call-ID and CSeq. A request without Call-ID,
// From or To gets 400 or nothing, or 505 when its version is not
// SIP/2.0.
func FuzzServeRequest(f *testing.F) {
	for _, seed := range loadSeeds(f, filepath.Join("testdata", "requests")) {
		f.Add(seed, true)
	}
	f.Add([]byte("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"), false)

	logs := &errorLog{}
	srv := newFuzzServer(f, logs)

	f.Fuzz(func(t *testing.T, data []byte, fromTrunk bool) {
		msg, err := sipmsg.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sipmsg.Request)
		if !ok || !reachesHandlers(req) {
			return
		}
		source := fuzzUnknownSource
		if fromTrunk {
			source = fuzzTrunkSource
		}
		req.SetSource(source)
		req.SetTransport("UDP")

		checkResponses(t, req, serveAndCollect(t, srv, logs, req))
	})
}

// serveAndCollect passes req through srv's method table, fails the test
// when a handler panicked, and returns the responses sent.
func serveAndCollect(t *testing.T, srv *Server, logs *errorLog, req *sipmsg.Request) []*sipmsg.Response {
	t.Helper()
	tx := newRecordingTx()
	serveRequest(srv, req, tx)

	if log := logs.take(); strings.Contains(log, panicMessage) {
		t.Fatalf("a handler panicked on %s:\n%s", req.Method, log)
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return append([]*sipmsg.Response(nil), tx.responses...)
}

// checkResponses verifies the responses a server sent to one request.
func checkResponses(t *testing.T, req *sipmsg.Request, responses []*sipmsg.Response) {
	t.Helper()
	if req.IsAck() {
		if len(responses) != 0 {
			t.Fatalf("ACK answered with %d responses, first %d", len(responses), responses[0].StatusCode)
		}
		return
	}

	for i, res := range responses {
		if res.StatusCode < 100 || res.StatusCode > 699 {
			t.Errorf("response %d has status %d, outside 100-699", i, res.StatusCode)
		}
		final := res.StatusCode >= 200
		if last := i == len(responses)-1; final != last {
			t.Errorf("response %d (%d) of %d: want provisional responses, then one final response", i, res.StatusCode, len(responses))
		}
		checkResponseHeaders(t, req, res)
	}

	if lacksDialogHeaders(req) {
		want := sipmsg.StatusBadRequest
		if req.SipVersion != sipVersion {
			want = sipmsg.StatusVersionNotSupported
		}
		if len(responses) > 0 && responses[len(responses)-1].StatusCode != want {
			t.Errorf("%s %s without Call-ID, From or To answered %d, want %d or no response", req.Method, req.SipVersion, responses[len(responses)-1].StatusCode, want)
		}
		return
	}
	if len(responses) == 0 {
		t.Fatalf("%s got no response", req.Method)
	}
}

// checkResponseHeaders verifies that a response echoes the request's
// Call-ID and CSeq (RFC 3261 section 8.2.6.2).
func checkResponseHeaders(t *testing.T, req *sipmsg.Request, res *sipmsg.Response) {
	t.Helper()
	if callID := req.CallID(); callID != nil {
		if got := res.CallID(); got == nil || got.Value() != callID.Value() {
			t.Errorf("%d response Call-ID = %v, want %q", res.StatusCode, got, callID.Value())
		}
	}
	cseq, got := req.CSeq(), res.CSeq()
	if got == nil || got.SeqNo != cseq.SeqNo || got.MethodName != cseq.MethodName {
		t.Errorf("%d response CSeq = %v, want %v", res.StatusCode, got, cseq)
	}
}

// loadRequestSeed reads one request seed for a unit test.
func loadRequestSeed(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "requests", name))
	if err != nil {
		t.Fatalf("read request seed: %v", err)
	}
	return data
}

func TestServeRequestSeeds(t *testing.T) {
	tests := []struct {
		seed      string
		fromTrunk bool
		status    int
	}{
		{"invite_pcmu", true, sipmsg.StatusServiceUnavailable},
		{"invite_pcmu", false, sipmsg.StatusForbidden},
		{"invite_g729_only", true, sipmsg.StatusNotAcceptableHere},
		{"invite_srtp_rtp_video", true, sipmsg.StatusServiceUnavailable},
		{"invite_bad_sdp", true, sipmsg.StatusBadRequest},
		{"invite_require_100rel", true, sipmsg.StatusBadExtension},
		{"invite_session_expires_low", true, 422},
		{"invite_unknown_number", true, sipmsg.StatusNotFound},
		{"invite_missing_callid", true, sipmsg.StatusBadRequest},
		{"options_missing_from", true, sipmsg.StatusBadRequest},
		{"bye_no_dialog", true, sipmsg.StatusCallTransactionDoesNotExists},
		{"info_dtmf_relay_no_dialog", true, sipmsg.StatusCallTransactionDoesNotExists},
		{"reinvite_no_dialog", true, sipmsg.StatusCallTransactionDoesNotExists},
		{"cancel_stray", true, sipmsg.StatusCallTransactionDoesNotExists},
		{"options", false, sipmsg.StatusOK},
		{"message_unknown_method", true, sipmsg.StatusMethodNotAllowed},
		{"register_no_auth", false, sipmsg.StatusUnauthorized},
		{"invite_duplicate_from_to", true, sipmsg.StatusBadRequest},
		{"options_two_content_lengths", false, sipmsg.StatusBadRequest},
		{"options_cseq_method_mismatch", false, sipmsg.StatusBadRequest},
		{"message_unknown_method_cseq_mismatch", false, sipmsg.StatusBadRequest},
		{"options_unknown_uri_scheme", false, statusUnsupportedURIScheme},
	}
	logs := &errorLog{}
	srv := newFuzzServer(t, logs)
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			msg, err := sipmsg.ParseMessage(loadRequestSeed(t, tt.seed))
			if err != nil {
				t.Fatalf("parse seed: %v", err)
			}
			req := msg.(*sipmsg.Request)
			req.SetSource(fuzzUnknownSource)
			if tt.fromTrunk {
				req.SetSource(fuzzTrunkSource)
			}
			req.SetTransport("UDP")

			tx := newRecordingTx()
			serveRequest(srv, req, tx)

			if log := logs.take(); strings.Contains(log, panicMessage) {
				t.Fatalf("a handler panicked:\n%s", log)
			}
			if len(tx.responses) == 0 {
				t.Fatal("no response")
			}
			if got := tx.responses[len(tx.responses)-1].StatusCode; got != tt.status {
				t.Errorf("final status = %d, want %d", got, tt.status)
			}
		})
	}
}
