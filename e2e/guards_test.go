package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Loopback addresses of the guard tests. The trunk is 127.0.0.1 alone, so
// that the others are sources the per-source limit applies to.
const (
	trunkNetwork  = "127.0.0.1/32"
	floodHost     = "127.0.0.2"
	otherHost     = "127.0.0.3"
	rateLimitLog  = "requests over the per-source rate limit (sip.rate_limit): further ones from this source are counted, not logged, until the interval passes"
	lockStartsLog = "counselor locked at this address after repeated authentication failures: requests get 403 until the lock ends; " +
		"check the SIP password set in the phone of this counselor id, because a phone retries a wrong password with each new nonce " +
		"and reaches the limit within a second; an admin can end the lock early with DELETE /api/v1/sip-lockouts"
)

// trunkOnly trusts 127.0.0.1 alone as the trunk.
func trunkOnly(t *testing.T, cfg map[string]any) {
	MustSetConfig(t, cfg, "trunk.trusted_sources", []any{trunkNetwork})
}

// countMatchingLogs returns how many log entries match.
func countMatchingLogs(srv *Server, match func(map[string]any) bool) int {
	n := 0
	for _, entry := range srv.Logs() {
		if match(entry) {
			n++
		}
	}
	return n
}

// metricValue returns the value of one series in the server's /metrics,
// or -1 when the series is missing.
func metricValue(t *testing.T, srv *Server, series string) float64 {
	t.Helper()
	res := srv.API(t, http.MethodGet, "/metrics", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /metrics = %s", res)
	}
	for line := range strings.Lines(res.Raw) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s has the value %q: %v", series, value, err)
			}
			return v
		}
	}
	return -1
}

// A flood of INVITEs from 127.0.0.2 is cut to its bucket: the excess is
// dropped, counted and logged once, and the trunk's call is answered
// during the flood.
func TestInviteFloodKeepsTrunkCalls(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		trunkOnly(t, cfg)
		MustSetConfig(t, cfg, "sip.rate_limit.invite_rate", 5)
		MustSetConfig(t, cfg, "sip.rate_limit.invite_burst", 10)
	}})

	const floodCalls = 600
	flood := StartSipp(t, SippOptions{
		Scenario: "uac_invite_flood.xml",
		Target:   srv.Addr(),
		Service:  "120",
		LocalIP:  floodHost,
		Calls:    floodCalls,
		Args:     []string{"-r", "200", "-nr", "-l", strconv.Itoa(floodCalls)},
		Timeout:  90 * time.Second,
	})
	srv.WaitLog(t, LogFields(map[string]any{"message": rateLimitLog, "source": floodHost, "method": "INVITE"}), logTimeout)

	// The trunk calls while the flood goes on.
	trunk := DialRaw(t, srv, "udp")
	wantStatus(t, "trunk INVITE during the flood", trunk.Invite(nil, callerOffer(trunk, "sendrecv")), 200)
	wantStatus(t, "trunk BYE", trunk.Request("BYE", nil, "", ""), 200)

	result := flood.Wait(t)
	dropped := strings.Count(result.Log, "no answer, dropped")
	answered := floodCalls - dropped
	t.Logf("flood of %d INVITEs at 200/s from %s: %d answered 403, %d dropped, in %s", floodCalls, floodHost, answered, dropped, result.Duration.Round(time.Millisecond))
	// 10 at once and 5 a second over the flood's 3 s, with room for a
	// slow machine that stretches the flood.
	if answered < 10 || answered > 60 {
		t.Errorf("%d flood INVITEs were answered, want the burst of 10 plus about 5 a second", answered)
	}

	counted := metricValue(t, srv, `helpline_sip_rate_limited_total{action="dropped",method="INVITE"}`)
	if counted != float64(dropped) {
		t.Errorf("helpline_sip_rate_limited_total dropped INVITE = %v, want the %d that SIPp saw dropped", counted, dropped)
	}
	if n := countMatchingLogs(srv, LogMessage(rateLimitLog)); n != 1 {
		t.Errorf("the limit was logged %d times, want once for one source within a minute", n)
	}
	if n := countMatchingLogs(srv, LogFields(map[string]any{"message": "call rejected", "source": floodHost})); n != 1 {
		t.Errorf("%d rejected calls were logged for %d answered INVITEs, want 1: one line per source a minute, the rest counted", n, answered)
	}
	srv.WaitEvents(t, func(list []map[string]any) bool {
		for _, e := range list {
			if eventField(e, "type") == "sip_rate_limited" && eventData(e, "source") == floodHost &&
				eventData(e, "method") == "INVITE" && eventData(e, "action") == "dropped" {
				return true
			}
		}
		return false
	}, eventTimeout)
}

// tcpRequest sends one request over a TCP connection from host and
// returns the response.
func tcpRequest(t *testing.T, srv *Server, host string, message []byte) []byte {
	t.Helper()
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}, Timeout: 5 * time.Second}
	conn, err := dialer.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatalf("connecting from %s to %s: %v", host, srv.Addr(), err)
	}
	defer conn.Close()
	if _, err := conn.Write(message); err != nil {
		t.Fatalf("sending over TCP: %v", err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(rawTimeout)); err != nil {
		t.Fatalf("setting the read deadline: %v", err)
	}
	res, err := readStreamMessage(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("reading the response over TCP: %v", err)
	}
	return res
}

// REGISTERs over the limit get 503 with Retry-After over TCP and no
// answer over UDP; another source registers meanwhile. Retransmissions
// of an answered INVITE are not charged again.
func TestRateLimitPerSourceAndTransport(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		trunkOnly(t, cfg)
		MustSetConfig(t, cfg, "sip.rate_limit.register_rate", 1)
		MustSetConfig(t, cfg, "sip.rate_limit.register_burst", 3)
		MustSetConfig(t, cfg, "sip.rate_limit.invite_rate", 1)
		MustSetConfig(t, cfg, "sip.rate_limit.invite_burst", 2)
	}})
	vars := func(cseq int) map[string]string {
		return map[string]string{"user": "1001", "call_id": randomID(t) + "@" + floodHost, "cseq": strconv.Itoa(cseq), "authorization": ""}
	}

	var statuses []int
	for i := range 5 {
		message := RawSIP(t, "valid/unregister_all.sip", srv.Addr(), net.JoinHostPort(floodHost, "5099"), vars(i+1))
		message = []byte(strings.Replace(string(message), "SIP/2.0/UDP", "SIP/2.0/TCP", 1))
		res := tcpRequest(t, srv, floodHost, message)
		statuses = append(statuses, SIPStatus(res))
		if SIPStatus(res) == 503 && SIPHeader(res, "Retry-After") != "1" {
			t.Errorf("503 carries Retry-After %q, want 1 (one token a second)", SIPHeader(res, "Retry-After"))
		}
	}
	if got := fmt.Sprint(statuses); got != "[401 401 401 503 503]" {
		t.Errorf("TCP REGISTER statuses = %s, want [401 401 401 503 503]: the burst of 3 is challenged, the rest get 503", got)
	}

	flood := ListenUDPOn(t, floodHost)
	if status, msg := finalStatus(t, flood, srv, "valid/unregister_all.sip", vars(10)); status != 0 {
		t.Errorf("UDP REGISTER over the limit: status %d, want no answer\n%s", status, msg)
	}
	other := ListenUDPOn(t, otherHost)
	if status, msg := finalStatus(t, other, srv, "valid/unregister_all.sip", vars(1)); status != 401 {
		t.Errorf("REGISTER from another source: status %d, want 401\n%s", status, msg)
	}

	if got := metricValue(t, srv, `helpline_sip_rate_limited_total{action="rejected",method="REGISTER"}`); got != 2 {
		t.Errorf("rejected REGISTERs counted %v, want 2", got)
	}
	if got := metricValue(t, srv, `helpline_sip_rate_limited_total{action="dropped",method="REGISTER"}`); got != 1 {
		t.Errorf("dropped REGISTERs counted %v, want 1", got)
	}
	if n := countMatchingLogs(srv, LogFields(map[string]any{"message": rateLimitLog, "source": floodHost})); n != 1 {
		t.Errorf("the limit of %s was logged %d times, want once", floodHost, n)
	}

	// One INVITE sent six times, as a phone retransmits it, takes one
	// token of the burst of 2: the next new INVITE still gets its 403.
	caller := ListenUDPOn(t, otherHost)
	invite := RawSIP(t, "valid/invite.sip", srv.Addr(), caller.Addr(), map[string]string{"number": "120"})
	for range 6 {
		caller.Send(t, srv.Addr(), invite)
	}
	if status, msg := finalStatus(t, ListenUDPOn(t, otherHost), srv, "valid/invite.sip", map[string]string{"number": "120"}); status != 403 {
		t.Errorf("new INVITE after a retransmitted one: status %d, want 403 from the second token\n%s", status, msg)
	}
	if got := metricValue(t, srv, `helpline_sip_rate_limited_total{action="dropped",method="INVITE"}`); got != 0 {
		t.Errorf("dropped INVITEs counted %v, want 0: retransmissions were charged", got)
	}
}

// A counselor's phone whose address is over its INVITE limit still takes
// a call and ends it: the ACK and BYE of its dialog are never limited.
func TestLimitedSourceKeepsItsCalls(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		DirectQueue(cfg)
		trunkOnly(t, cfg)
		MustSetConfig(t, cfg, "sip.rate_limit.invite_rate", 1)
		MustSetConfig(t, cfg, "sip.rate_limit.invite_burst", 1)
	}})
	phone := StartBaresip(t, Softphone{User: "1001", Password: "demo-1001", Server: srv.Addr(), AutoAnswer: true, Host: otherHost})
	srv.WaitLog(t, func(entry map[string]any) bool {
		source, _ := entry["source"].(string)
		return entry["message"] == "binding added" && strings.HasPrefix(source, otherHost+":")
	}, logTimeout)
	srv.LoginCounselor(t, "1001")

	// Use up the INVITE bucket of the phone's address.
	scanner := ListenUDPOn(t, otherHost)
	invite := map[string]string{"number": "120"}
	finalStatus(t, scanner, srv, "valid/invite.sip", invite)
	if status, msg := finalStatus(t, ListenUDPOn(t, otherHost), srv, "valid/invite.sip", invite); status != 0 {
		t.Fatalf("second INVITE from %s: status %d, want it dropped by the limit\n%s", otherHost, status, msg)
	}

	caller := DialRaw(t, srv, "udp")
	wantStatus(t, "trunk INVITE", caller.Invite(nil, callerOffer(caller, "sendrecv")), 200)
	phone.WaitEvent(t, EventCallEstablished, phoneTimeout)
	srv.WaitLog(t, LogMessage("counselor answered, bridging"), logTimeout)
	phone.Hangup(t)
	caller.WaitRequest(t, "BYE", logTimeout)

	rec := waitEndedRecord(t, srv, caller.CallID())
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001", "hangup_side": "counselor"})
	if got := metricValue(t, srv, `helpline_sip_rate_limited_total{action="dropped",method="INVITE"}`); got < 1 {
		t.Errorf("dropped INVITEs counted %v, want the one that used up the bucket", got)
	}
}
