package sip

import (
	"errors"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// inviteWith returns an INVITE carrying the given headers (name, value pairs).
func inviteWith(headers ...string) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "120", Host: "127.0.0.1"})
	for i := 0; i+1 < len(headers); i += 2 {
		req.AppendHeader(sipmsg.NewHeader(headers[i], headers[i+1]))
	}
	return req
}

func TestNegotiateSessionTimer(t *testing.T) {
	srv := &Server{opts: Options{SessionExpires: 1800 * time.Second, MinSE: 90 * time.Second}}
	tests := []struct {
		name    string
		req     *sipmsg.Request
		want    *sessionTimerPlan
		wantErr error
	}{
		{"T5 caller refreshes", inviteWith("Supported", "timer", "Session-Expires", "90;refresher=uac"),
			&sessionTimerPlan{interval: 90 * time.Second, refresher: refresherUAC, peerSupports: true}, nil},
		{"compact forms", inviteWith("k", "100rel, timer", "x", "120"),
			&sessionTimerPlan{interval: 120 * time.Second, refresher: refresherUAC, peerSupports: true}, nil},
		{"T5 below Min-SE", inviteWith("Supported", "timer", "Session-Expires", "60;refresher=uac"), nil, ErrSessionIntervalTooSmall},
		{"supported without interval gets the default", inviteWith("Supported", "timer"),
			&sessionTimerPlan{interval: 1800 * time.Second, refresher: refresherUAC, peerSupports: true}, nil},
		{"peer Min-SE raises the default", inviteWith("Supported", "timer", "Min-SE", "3600"),
			&sessionTimerPlan{interval: 3600 * time.Second, refresher: refresherUAC, peerSupports: true}, nil},
		{"refresher=uas", inviteWith("Supported", "timer", "Session-Expires", "300;refresher=uas"),
			&sessionTimerPlan{interval: 300 * time.Second, refresher: refresherUAS, peerSupports: true}, nil},
		{"no timer support makes this server refresh", inviteWith("Session-Expires", "300;refresher=uac"),
			&sessionTimerPlan{interval: 300 * time.Second, refresher: refresherUAS}, nil},
		{"no timer at all", inviteWith("Supported", "100rel"), nil, nil},
		{"not a number", inviteWith("Session-Expires", "soon"), nil, ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := srv.negotiateSessionTimer(tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil || *got != *tt.want:
				t.Errorf("plan = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSessionTimerHeaders(t *testing.T) {
	p := &sessionTimerPlan{interval: 90 * time.Second, refresher: refresherUAC, peerSupports: true}
	got := map[string]string{}
	for _, h := range p.headers() {
		got[h.Name()] = h.Value()
	}
	want := map[string]string{"Session-Expires": "90;refresher=uac", "Require": "timer", "Supported": "timer"}
	for name, value := range want {
		if got[name] != value {
			t.Errorf("%s = %q, want %q", name, got[name], value)
		}
	}

	p.peerSupports = false
	for _, h := range p.headers() {
		if h.Name() == "Require" {
			t.Error("Require: timer sent to a peer that does not support timers")
		}
	}
}

func TestHeaderTokensRequire(t *testing.T) {
	req := inviteWith("Require", "100rel, Timer", "Require", "replaces")
	got := headerTokens(req, "Require", "")
	want := []string{"100rel", "timer", "replaces"}
	if len(got) != len(want) {
		t.Fatalf("tokens = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("token %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// A refresh keeps the current interval when it names none, and a refresh
// from a caller that no longer lists timer support makes this server the
// refresher instead of ending the call later.
func TestRefreshSession(t *testing.T) {
	c, leg := testCall(t)
	c.srv.opts = Options{MinSE: 90 * time.Second, SessionExpires: 1800 * time.Second}
	c.useSessionTimer(&sessionTimerPlan{interval: 120 * time.Second, refresher: refresherUAC, peerSupports: true})

	tests := []struct {
		name        string
		req         *sipmsg.Request
		wantExpires string
		wantRequire bool
	}{
		{"Supported timer only", inviteWith("Supported", "timer"), "120;refresher=uac", true},
		{"no timer headers", inviteWith(), "120;refresher=uas", false},
		{"new interval", inviteWith("Supported", "timer", "Session-Expires", "300;refresher=uac"), "300;refresher=uac", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers, err := c.refreshSession(c.caller, tt.req)
			if err != nil {
				t.Fatalf("refreshSession: %v", err)
			}
			got := map[string]string{}
			for _, h := range headers {
				got[h.Name()] = h.Value()
			}
			if got["Session-Expires"] != tt.wantExpires {
				t.Errorf("Session-Expires = %q, want %q", got["Session-Expires"], tt.wantExpires)
			}
			if _, ok := got["Require"]; ok != tt.wantRequire {
				t.Errorf("Require present = %v, want %v", ok, tt.wantRequire)
			}
		})
	}

	if _, err := c.refreshSession(c.caller, inviteWith("Session-Expires", "30")); !errors.Is(err, ErrSessionIntervalTooSmall) {
		t.Errorf("refresh with Session-Expires 30 = %v, want ErrSessionIntervalTooSmall (422)", err)
	}
	if headers, err := c.refreshSession(leg, inviteWith("Session-Expires", "300")); err != nil || headers != nil {
		t.Errorf("refresh on the counselor leg = %v, %v; want no session timer there", headers, err)
	}
}
