package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// lockPollInterval is how often a test retries a request that a lock
// refuses, until the lock ends.
const lockPollInterval = 250 * time.Millisecond

// registerRaw sends valid/register_as.sip from peer with the given To and
// From URIs, answers a 401 with the digest of username and password, and
// returns the final status and response.
func registerRaw(t *testing.T, peer *UDPPeer, srv *Server, to, from, username, password string) (int, []byte) {
	t.Helper()
	vars := map[string]string{
		"to_uri": to, "from_uri": from, "contact_user": "phone",
		"call_id": randomID(t) + "@" + Loopback, "cseq": "1", "authorization": "",
	}
	status, msg := finalStatus(t, peer, srv, "valid/register_as.sip", vars)
	if status != 401 {
		return status, msg
	}
	vars["cseq"] = "2"
	vars["authorization"] = digestAuthorization(t, msg, "REGISTER", "sip:"+srv.Addr(), username, password)
	return finalStatus(t, peer, srv, "valid/register_as.sip", vars)
}

// aorOf is the address-of-record URI of user at srv.
func aorOf(srv *Server, user string) string {
	return "sip:" + user + "@" + srv.Addr()
}

// Wrong passwords lock one counselor id at one source address. Until the
// lock ends, the right password from there is rejected, for REGISTER and
// for a feature code INVITE. Another source, and another counselor at the
// same source, go on. The lock is logged once and published as
// sip_auth_locked.
func TestDigestLockoutPerSourceAndUser(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "sip.auth_lockout.attempts", 3)
		MustSetConfig(t, cfg, "sip.auth_lockout.duration", "4s")
	}})
	guesser := ListenUDPOn(t, floodHost)
	aor := aorOf(srv, "1001")

	for attempt := 1; attempt <= 3; attempt++ {
		if status, msg := registerRaw(t, guesser, srv, aor, aor, "1001", "guess"); status != 401 {
			t.Fatalf("wrong password %d: status %d, want 401\n%s", attempt, status, msg)
		}
	}
	locked := srv.WaitLog(t, LogFields(map[string]any{"message": lockStartsLog, "user": "1001", "source_address": floodHost, "method": "REGISTER"}), logTimeout)
	until, err := time.Parse(time.RFC3339, fmt.Sprint(locked["until"]))
	if err != nil {
		t.Fatalf("lock log entry has no valid until: %v\n%v", err, locked)
	}

	if status, msg := registerRaw(t, guesser, srv, aor, aor, "1001", "demo-1001"); status != 403 {
		t.Errorf("right password from the locked source: status %d, want 403\n%s", status, msg)
	}
	invitePeer := ListenUDPOn(t, floodHost)
	featureVars := map[string]string{"code": "*21", "user": "1001", "cseq": "1", "authorization": ""}
	if status, msg := finalStatus(t, invitePeer, srv, "valid/feature_invite.sip", featureVars); status != 403 {
		t.Errorf("feature code INVITE from the locked source: status %d, want 403\n%s", status, msg)
	}
	if status, msg := registerRaw(t, ListenUDPOn(t, otherHost), srv, aor, aor, "1001", "demo-1001"); status != 200 {
		t.Errorf("right password from another source: status %d, want 200\n%s", status, msg)
	}
	other := aorOf(srv, "1002")
	if status, msg := registerRaw(t, guesser, srv, other, other, "1002", "demo-1002"); status != 200 {
		t.Errorf("another counselor at the locked source: status %d, want 200\n%s", status, msg)
	}

	// The lock ends by itself: retry until the right password is taken.
	deadline := until.Add(logTimeout)
	for {
		status, msg := registerRaw(t, guesser, srv, aor, aor, "1001", "demo-1001")
		if status == 200 {
			break
		}
		if status != 403 || time.Now().After(deadline) {
			t.Fatalf("right password while waiting for the lock to end at %s: status %d\n%s", until.Format(time.RFC3339), status, msg)
		}
		<-time.After(lockPollInterval)
	}
	if now := time.Now(); now.Before(until) {
		t.Errorf("the lock ended at %s, before its until %s", now.Format(time.RFC3339Nano), until.Format(time.RFC3339))
	}

	if n := countMatchingLogs(srv, LogMessage(lockStartsLog)); n != 1 {
		t.Errorf("the lock was logged %d times, want once", n)
	}
	srv.WaitEvents(t, func(list []map[string]any) bool {
		for _, e := range list {
			if eventField(e, "type") == "sip_auth_locked" && eventData(e, "user") == "1001" &&
				eventData(e, "source") == floodHost && eventData(e, "until") != "" {
				return true
			}
		}
		return false
	}, eventTimeout)
}

// Authenticated as 1001, a REGISTER that names 1002 in To, From or the
// digest username, however spelled, fails and leaves 1002's binding as it
// was.
func TestRegisterNeverBindsAnotherUser(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	own, other := aorOf(srv, "1001"), aorOf(srv, "1002")
	if status, msg := registerRaw(t, ListenUDP(t), srv, other, other, "1002", "demo-1002"); status != 200 {
		t.Fatalf("1002 registering itself: status %d, want 200\n%s", status, msg)
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": "1002"}), logTimeout)

	tests := []struct {
		name, to, from, username, password string
		want                               int
	}{
		{"To names 1002", other, own, "1001", "demo-1001", 403},
		{"From names 1002", own, other, "1001", "demo-1001", 403},
		{"To and From name 1002", other, other, "1001", "demo-1001", 403},
		{"digest username 1002", own, own, "1002", "demo-1001", 403},
		{"all name 1002 with the password of 1001", other, other, "1002", "demo-1001", 401},
		{"To escaped as %31002", "sip:%31002@" + srv.Addr(), "sip:%31002@" + srv.Addr(), "1001", "demo-1001", 403},
		{"To over sips", "sips:1002@" + srv.Addr(), "sips:1002@" + srv.Addr(), "1001", "demo-1001", 403},
		{"From over sips names 1002", own, "sips:1002@" + srv.Addr(), "1001", "demo-1001", 403},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case comes from its own address, so that the failures
			// of one case cannot lock the next.
			peer := ListenUDPOn(t, fmt.Sprintf("127.0.1.%d", i+1))
			if status, msg := registerRaw(t, peer, srv, tt.to, tt.from, tt.username, tt.password); status != tt.want {
				t.Errorf("status %d, want %d\n%s", status, tt.want, msg)
			}
		})
	}

	if n := countMatchingLogs(srv, LogFields(map[string]any{"message": "binding added", "user": "1002"})); n != 1 {
		t.Errorf("1002 got %d bindings added, want its own only", n)
	}
	for _, message := range []string{"binding removed", "binding refreshed"} {
		if n := countMatchingLogs(srv, LogFields(map[string]any{"message": message, "user": "1002"})); n != 0 {
			t.Errorf("1002's binding was touched: %d %q log entries", n, message)
		}
	}
	if n := countMatchingLogs(srv, LogFields(map[string]any{"message": "binding added", "user": "1001"})); n != 0 {
		t.Errorf("1001 got %d bindings from the rejected REGISTERs, want none", n)
	}
	if status := srv.CounselorStatus(t, "1002"); status["registered"] != true {
		t.Errorf("1002's status = %v, want registered", status)
	}
}

// An admin lists a SIP digest lock through the API and ends it early, and
// the clear is audited: the right password then registers at once.
func TestAdminClearsSIPLockout(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "sip.auth_lockout.attempts", 3)
		MustSetConfig(t, cfg, "sip.auth_lockout.duration", "10m")
	}})
	phone := ListenUDPOn(t, floodHost)
	aor := aorOf(srv, "1001")
	for attempt := 1; attempt <= 3; attempt++ {
		if status, msg := registerRaw(t, phone, srv, aor, aor, "1001", "wrong"); status != 401 {
			t.Fatalf("wrong password %d: status %d, want 401\n%s", attempt, status, msg)
		}
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": lockStartsLog, "user": "1001", "source_address": floodHost}), logTimeout)

	listed := srv.API(t, http.MethodGet, "/api/v1/sip-lockouts", nil)
	locks, _ := listed.Body["lockouts"].([]any)
	if listed.Status != http.StatusOK || len(locks) != 1 {
		t.Fatalf("GET /api/v1/sip-lockouts = %s, want the one lock", listed)
	}
	if lock, _ := locks[0].(map[string]any); lock["user"] != "1001" || lock["source"] != floodHost {
		t.Errorf("listed lock = %v, want 1001 at %s", lock, floodHost)
	}

	cleared := srv.API(t, http.MethodDelete, "/api/v1/sip-lockouts?user=1001&source="+floodHost, nil)
	if cleared.Status != http.StatusOK || fmt.Sprint(cleared.Body["cleared"]) != "1" {
		t.Fatalf("DELETE /api/v1/sip-lockouts = %s, want one cleared", cleared)
	}
	if status, msg := registerRaw(t, phone, srv, aor, aor, "1001", "demo-1001"); status != 200 {
		t.Errorf("right password after the clear: status %d, want 200\n%s", status, msg)
	}

	audit := srv.API(t, http.MethodGet, "/api/v1/audit?limit=100", nil)
	entries, _ := audit.Body["entries"].([]any)
	found := false
	for _, entry := range entries {
		e, _ := entry.(map[string]any)
		found = found || (e["action"] == "sip_lockout_cleared" && e["target"] == "user=1001 source="+floodHost)
	}
	if !found {
		t.Errorf("audit log has no sip_lockout_cleared entry for 1001 at %s: %s", floodHost, audit.Raw)
	}
}
