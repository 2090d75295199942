package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// unregisterAll removes every binding of user with "Contact: *" and
// "Expires: 0" (RFC 3261 10.2.2), responding to the digest challenge.
func unregisterAll(t *testing.T, srv *Server, user, password string) {
	t.Helper()
	peer := ListenUDP(t)
	callID := randomID(t) + "@" + Loopback
	vars := map[string]string{"user": user, "call_id": callID, "cseq": "1", "authorization": ""}

	status, challengeMsg := finalStatus(t, peer, srv, "valid/unregister_all.sip", vars)
	if status != 401 {
		t.Fatalf("unauthenticated REGISTER got %d, want 401\n%s", status, challengeMsg)
	}
	vars["cseq"] = "2"
	vars["authorization"] = digestAuthorization(t, challengeMsg, "REGISTER", "sip:"+srv.Addr(), user, password)
	if status, msg := finalStatus(t, peer, srv, "valid/unregister_all.sip", vars); status != 200 {
		t.Fatalf("authenticated REGISTER got %d, want 200\n%s", status, msg)
	}
}

// digestAuthorization answers the first challenge of a 401 response with
// the credentials of username and password for a request of method to
// uri, and returns the Authorization header line with its CRLF.
func digestAuthorization(t *testing.T, challengeMsg []byte, method, uri, username, password string) string {
	t.Helper()
	challenge, err := digest.ParseChallenge(headerValue(challengeMsg, "WWW-Authenticate"))
	if err != nil {
		t.Fatalf("reading the challenge: %v\n%s", err, challengeMsg)
	}
	credentials, err := digest.Digest(challenge, digest.Options{
		Method:   method,
		URI:      uri,
		Username: username,
		Password: password,
		Count:    1,
	})
	if err != nil {
		t.Fatalf("computing digest credentials: %v", err)
	}
	return "Authorization: " + credentials.String() + "\r\n"
}

// headerValue returns the first value of a header in a SIP message.
func headerValue(msg []byte, name string) string {
	for _, line := range bytes.Split(msg, []byte("\r\n")) {
		key, value, found := strings.Cut(string(line), ":")
		if found && strings.EqualFold(strings.TrimSpace(key), name) {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// A counselor who unregisters during a call keeps the call, and gets no
// new offers after it.
func TestUnregisterDuringCallKeepsCall(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: fastQueue("1s")})
	phone := counselorPhone(t, srv, "1001", true)

	caller := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "3000", "hold_ms": "3000"},
		Timeout:  90 * time.Second,
	})
	phone.WaitEvent(t, EventCallEstablished, phoneTimeout)
	unregisterAll(t, srv, "1001", "demo-1001")
	srv.WaitLog(t, LogFields(map[string]any{"message": "binding removed", "user": "1001"}), logTimeout)

	first := caller.Wait(t)
	if first.ExitCode != 0 {
		t.Fatalf("caller failed:\n%s", first.Report())
	}
	rec := waitEndedRecord(t, srv, first.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001", "hangup_side": "caller"})

	second := RunSipp(t, SippOptions{
		Scenario: "uac_abandon.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"abandon_ms": "6000"},
	})
	rec = waitEndedRecord(t, srv, second.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "counselor": ""})

	rings := 0
	for _, entry := range srv.Logs() {
		if entry["message"] == "ringing counselor" {
			rings++
		}
	}
	if rings != 1 {
		t.Errorf("counselor 1001 was rung %d times, want once: no offers after unregistering", rings)
	}
}
