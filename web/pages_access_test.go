package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/web"
)

// newPagesFixture serves the real pages behind the login of four users.
func newPagesFixture(t *testing.T) *loginFixture {
	t.Helper()
	f := &loginFixture{sessions: newMemorySessions(), clock: &testClock{now: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}}
	users := []web.User{
		{Name: "kim", Role: web.RoleCounselor, Counselor: "1001", PasswordHash: cheapHash(t, "kim-pass")},
		{Name: "park", Role: web.RoleSupervisor, PasswordHash: cheapHash(t, "park-pass")},
		{Name: "choi", Role: web.RoleFollowUp, PasswordHash: cheapHash(t, "choi-pass")},
		{Name: "admin", Role: web.RoleAdmin, PasswordHash: cheapHash(t, "admin-pass")},
	}
	api := web.NewAPI([]string{testToken}, zerolog.Nop(),
		web.WithClock(f.clock.Now),
		web.WithAuditor(f.sessions),
		web.WithLogin(web.LoginConfig{Users: users, Sessions: f.sessions, SessionTTL: time.Hour,
			Lockout: web.Lockout{Attempts: 3, Window: 10 * time.Minute, Duration: 15 * time.Minute}}))
	web.RegisterPages(api)
	f.server = httptest.NewServer(api)
	t.Cleanup(f.server.Close)
	return f
}

func TestPageWithoutSessionGoesToLogin(t *testing.T) {
	f := newPagesFixture(t)
	for _, path := range []string{"/board", "/console", "/followups", "/"} {
		res := f.browser(t).do(t, http.MethodGet, path, "", "", nil)
		if res.status != http.StatusSeeOther {
			t.Errorf("GET %s without a session = %d, want 303", path, res.status)
		}
		if want := "/login?next=" + url.QueryEscape(path); res.location != want {
			t.Errorf("GET %s without a session goes to %q, want %q", path, res.location, want)
		}
	}
}

func TestStaticAssetsNeedNoSession(t *testing.T) {
	f := newPagesFixture(t)
	res := f.browser(t).do(t, http.MethodGet, "/static/app.css", "", "", nil)
	if res.status != http.StatusOK {
		t.Errorf("GET /static/app.css without a session = %d, want 200 (the login page uses it)", res.status)
	}
}

func TestPagesFollowRoles(t *testing.T) {
	f := newPagesFixture(t)
	tests := []struct {
		user    string
		allowed []string
		denied  []string
		home    string
	}{
		{"kim", []string{"/console"}, []string{"/board", "/followups"}, "/console"},
		{"park", []string{"/board", "/console", "/followups"}, nil, "/board"},
		{"choi", []string{"/followups"}, []string{"/board", "/console"}, "/followups"},
		{"admin", []string{"/board", "/console", "/followups"}, nil, "/board"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			b := f.browser(t)
			b.login(t, tt.user, tt.user+"-pass")
			for _, path := range tt.allowed {
				if res := b.do(t, http.MethodGet, path, "", "", nil); res.status != http.StatusOK {
					t.Errorf("GET %s as %s = %d, want 200", path, tt.user, res.status)
				}
			}
			for _, path := range tt.denied {
				if res := b.do(t, http.MethodGet, path, "", "", nil); res.status != http.StatusForbidden {
					t.Errorf("GET %s as %s = %d, want 403", path, tt.user, res.status)
				}
			}
			res := b.do(t, http.MethodGet, "/", "", "", nil)
			if res.status != http.StatusSeeOther {
				t.Errorf("GET / as %s = %d, want 303", tt.user, res.status)
			}
			if res.location != tt.home {
				t.Errorf("GET / as %s goes to %q, want %q", tt.user, res.location, tt.home)
			}
		})
	}
}
