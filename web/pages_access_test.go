package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
	f.server = httptest.NewServer(withTestSource(api))
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

func TestWrongRoleGetsForbiddenPage(t *testing.T) {
	f := newPagesFixture(t)
	b := f.browser(t)
	b.login(t, "kim", "kim-pass")

	res := b.do(t, http.MethodGet, "/board", "", "", nil)
	if res.status != http.StatusForbidden {
		t.Fatalf("GET /board as counselor = %d, want 403", res.status)
	}
	if got := res.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want HTML", got)
	}
	if got := res.header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q, want the pages' policy", got)
	}
	for _, want := range []string{
		`<html lang="ko">`, "이 화면을 열 권한이 없습니다", "You may not open this page.",
		"kim(상담사)", "감독자, 관리자", `id="forbidden-home" class="hl-btn" href="/console"`,
		`action="/logout"`, `name="csrf" value="` + b.csrf + `"`, "/static/app.css",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("forbidden page lacks %s", want)
		}
	}

	// The page's logout form works with the token it carries.
	form := url.Values{"csrf": {b.csrf}}.Encode()
	if out := b.do(t, http.MethodPost, "/logout", "application/x-www-form-urlencoded", form, nil); out.status != http.StatusSeeOther {
		t.Errorf("logout from the forbidden page = %d, want 303", out.status)
	}
}

func TestWrongRoleOnJSONRouteGetsJSON(t *testing.T) {
	f := newPagesFixture(t)
	b := f.browser(t)
	b.login(t, "choi", "choi-pass")

	res := b.api(t, http.MethodGet, "/api/v1/audit", "")
	if res.status != http.StatusForbidden {
		t.Fatalf("GET /api/v1/audit as followup = %d, want 403", res.status)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(res.body), &body); err != nil || !strings.Contains(body["error"], "role followup may not use") {
		t.Errorf("403 body = %q, want a JSON error naming the role", res.body)
	}
}
