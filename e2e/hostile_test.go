package e2e

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileRTPPorts is the size of the RTP range of the hostile-input
// server: two even ports, one call's two legs.
const hostileRTPPorts = 4

// promptTimeout bounds the wait for the first prompt packet of a call.
const promptTimeout = 10 * time.Second

// The RFC 4475 torture messages and the PROTOS-style INVITEs, each over
// UDP and over TCP, get the outcome their expectation allows. Afterwards
// the server is alive and has logged no recovered panic. It responds 200
// to OPTIONS on both transports while TCP connections that sent half a
// message are still open. It takes a trunk call that hears the first
// prompt, serves /healthz, and keeps the counselor's registration.
func TestHostileMessagesKeepServerServing(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: narrowRTPRange(t)})
	phone := registeredPhone(t, srv, "1001", false)
	phone.WaitRegistered(t, phoneTimeout)
	srv.LoginCounselor(t, "1001")

	reserved := holdRTPPorts(t, srv)
	stalled := stallTCPConnections(t, srv)

	torture := LoadTorture(t)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run("rfc4475/"+transport, func(t *testing.T) {
			outcomes := SendHostile(t, srv, transport, torture)
			t.Logf("%d messages: %s", len(outcomes), SummarizeOutcomes(outcomes))
			CheckHostileOutcomes(t, transport, outcomes)
		})
		t.Run("protos/"+transport, func(t *testing.T) {
			outcomes := SendHostile(t, srv, transport, ProtosInvites(transport))
			t.Logf("%d messages: %s", len(outcomes), SummarizeOutcomes(outcomes))
			CheckHostileOutcomes(t, transport, outcomes)
		})
	}
	for _, conn := range reserved {
		conn.Close()
	}

	checkServerServes(t, srv, stalled)
}

// narrowRTPRange gives the server hostileRTPPorts RTP ports at the start
// of the range the harness picked, so that the test can hold them all.
func narrowRTPRange(t *testing.T) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		low, ok := ConfigValue(cfg, "rtp.port_min").(int)
		if !ok {
			t.Fatalf("rtp.port_min is %v, want a number", ConfigValue(cfg, "rtp.port_min"))
		}
		MustSetConfig(t, cfg, "rtp.port_max", low+hostileRTPPorts-1)
	}
}

// holdRTPPorts binds every even port of the server's RTP range, so that
// each INVITE that passes SDP negotiation gets 503 instead of opening a
// call. Hundreds of IVR calls would bury the test in audio.
func holdRTPPorts(t *testing.T, srv *Server) []*net.UDPConn {
	t.Helper()
	var reserved []*net.UDPConn
	for port := srv.RTP.Min + srv.RTP.Min%2; port < srv.RTP.Min+hostileRTPPorts; port += 2 {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(srv.Host), Port: port})
		if err != nil {
			t.Fatalf("holding the server's RTP port %d: %v", port, err)
		}
		t.Cleanup(func() { conn.Close() })
		reserved = append(reserved, conn)
	}
	return reserved
}

// stallTCPConnections opens TCP connections that each send part of a
// message and then nothing: one INVITE whose Content-Length promises more
// body than it sends, and one header block without its blank line. The
// server must go on serving other connections while they wait.
func stallTCPConnections(t *testing.T, srv *Server) []net.Conn {
	t.Helper()
	partial := []string{
		"OPTIONS sip:120@" + srv.Addr() + " SIP/2.0\r\nVia: SIP/2.0/TCP " + Loopback + ":9;branch=z9hG4bK-stalled-body\r\n" +
			"From: <sip:stalled@127.0.0.1>;tag=1\r\nTo: <sip:120@127.0.0.1>\r\nCall-ID: stalled-body\r\nCSeq: 1 OPTIONS\r\n" +
			"Content-Length: 5000\r\n\r\nonly a few bytes",
		"OPTIONS sip:120@" + srv.Addr() + " SIP/2.0\r\nVia: SIP/2.0/TCP " + Loopback + ":9;branch=z9hG4bK-stalled-head\r\nFrom: <sip:stalled",
	}
	var conns []net.Conn
	for _, message := range partial {
		conn, err := net.DialTimeout("tcp", srv.Addr(), rawTimeout)
		if err != nil {
			t.Fatalf("connecting to %s: %v", srv.Addr(), err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := conn.Write([]byte(message)); err != nil {
			t.Fatalf("sending a partial message: %v", err)
		}
		conns = append(conns, conn)
	}
	return conns
}

// checkServerServes runs the checks that follow the hostile messages.
func checkServerServes(t *testing.T, srv *Server, stalled []net.Conn) {
	t.Helper()

	if srv.Exited() {
		t.Fatal("the server exited during the hostile messages")
	}
	for _, entry := range srv.Logs() {
		if entry["message"] == "request handler failed" {
			t.Errorf("a request handler panicked: %v", entry)
		}
	}

	probe := ListenUDP(t)
	if got, msg := finalStatus(t, probe, srv, "valid/options.sip", nil); got != 200 {
		t.Errorf("OPTIONS over UDP answered %d, want 200\n%s", got, msg)
	}
	options := DialRaw(t, srv, "tcp")
	if res := options.Request("OPTIONS", nil, "", ""); SIPStatus(res) != 200 {
		t.Errorf("OPTIONS over TCP answered %d, want 200 while %d stalled connections are open\n%s", SIPStatus(res), len(stalled), res)
	}

	call := DialRaw(t, srv, "udp")
	answered := time.Now()
	wantStatus(t, "INVITE after the hostile messages", call.Invite(nil, callerOffer(call, "sendrecv")), 200)
	if !waitPrompt(call, answered, promptTimeout) {
		t.Errorf("the caller heard no prompt within %s of the 200", promptTimeout)
	}
	call.Request("BYE", nil, "", "")

	if health := srv.API(t, http.MethodGet, HealthPath, nil); health.Status != http.StatusOK {
		t.Errorf("GET %s = %s, want 200", HealthPath, health)
	}
	status := srv.CounselorStatus(t, "1001")
	if status["registered"] != true || status["state"] != "available" {
		t.Errorf("counselor 1001 is %v, want registered and available", status)
	}
}

// waitPrompt reports whether the caller receives RTP after since within
// timeout.
func waitPrompt(call *RawCall, since time.Time, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if len(call.ReceivedRTP(since, time.Now().Add(time.Second))) > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// ProtosInvites names every variant once and sends nothing over UDP that
// a datagram cannot hold.
func TestProtosInvitesShape(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		variants := ProtosInvites(transport)
		if len(variants) < 300 {
			t.Errorf("%s: %d variants, want a few hundred", transport, len(variants))
		}
		seen := map[string]bool{}
		for _, v := range variants {
			if seen[v.Name] {
				t.Errorf("%s: variant %s generated twice", transport, v.Name)
			}
			seen[v.Name] = true
			size := len(v.Fill("127.0.0.1:5060", "127.0.0.1:40000", transport))
			if transport == "udp" && size > 65507 {
				t.Errorf("udp: variant %s is %d bytes, more than a UDP datagram holds", v.Name, size)
			}
			if !strings.Contains(string(v.Template), "INVITE") && !strings.HasPrefix(v.Name, "overflow/request-method") {
				t.Errorf("%s: variant %s is not an INVITE", transport, v.Name)
			}
		}
	}
}

// Every torture message in the folder is listed in the manifest with
// expectations that parse, and every listed message exists.
func TestTortureManifestComplete(t *testing.T) {
	messages := LoadTorture(t)
	listed := map[string]bool{}
	for _, m := range messages {
		listed[m.Name] = true
	}
	paths, err := filepath.Glob(filepath.Join(RepoRoot(t), "e2e", "testdata", tortureDir, "*.sip"))
	if err != nil {
		t.Fatalf("listing the torture messages: %v", err)
	}
	for _, path := range paths {
		if name := strings.TrimSuffix(filepath.Base(path), ".sip"); !listed[name] {
			t.Errorf("%s is not in the manifest", filepath.Base(path))
		}
	}
	if len(messages) != len(paths) {
		t.Errorf("the manifest lists %d messages, the folder holds %d", len(messages), len(paths))
	}
}

func TestParseExpectation(t *testing.T) {
	tests := []struct {
		text    string
		allowed []int
		denied  []int
	}{
		{"400", []int{400}, []int{NoResponse, 401, 200}},
		{"4xx", []int{400, 404, 499}, []int{NoResponse, 500, 399}},
		{"400|drop", []int{400, NoResponse}, []int{404, 200}},
		{"505|2xx", []int{505, 200, 202}, []int{NoResponse, 500}},
	}
	for _, tt := range tests {
		e, err := ParseExpectation(tt.text)
		if err != nil {
			t.Errorf("ParseExpectation(%q): %v", tt.text, err)
			continue
		}
		for _, status := range tt.allowed {
			if !e.Allows(status) {
				t.Errorf("%q does not allow %s", tt.text, outcomeText(status))
			}
		}
		for _, status := range tt.denied {
			if e.Allows(status) {
				t.Errorf("%q allows %s", tt.text, outcomeText(status))
			}
		}
	}
	for _, bad := range []string{"", "abc", "700", "99", "7xx", "400|"} {
		if _, err := ParseExpectation(bad); err == nil {
			t.Errorf("ParseExpectation(%q) accepted it", bad)
		}
	}
}
