package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/sip"
	"helpline/web"
	"helpline/web/password"
)

// memorySessions is a SessionStore and audit log in memory.
type memorySessions struct {
	mu       sync.Mutex
	sessions map[string]records.Session
	audit    []records.AuditEntry
}

func newMemorySessions() *memorySessions {
	return &memorySessions{sessions: make(map[string]records.Session)}
}

func (m *memorySessions) CreateSession(_ context.Context, token string, s records.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[records.SessionTokenHash(token)] = s
	return nil
}

func (m *memorySessions) GetSession(_ context.Context, token string) (records.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[records.SessionTokenHash(token)]
	if !ok {
		return records.Session{}, records.ErrSessionNotFound
	}
	return s, nil
}

func (m *memorySessions) DeleteSession(_ context.Context, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, records.SessionTokenHash(token))
	return nil
}

func (m *memorySessions) DeleteExpiredSessions(_ context.Context, now time.Time) (int64, error) {
	return 0, nil
}

func (m *memorySessions) Audit(_ context.Context, e records.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}

func (m *memorySessions) ListAudit(_ context.Context, limit int) ([]records.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []records.AuditEntry
	for i := len(m.audit) - 1; i >= 0 && len(list) < limit; i-- {
		list = append(list, m.audit[i])
	}
	return list, nil
}

func (m *memorySessions) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

func (m *memorySessions) actions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []string
	for _, e := range m.audit {
		list = append(list, e.Action+" "+e.User)
	}
	return list
}

// testClock is a clock that tests move.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// cheapHash hashes with small argon2id costs to keep the tests fast.
func cheapHash(t *testing.T, secret string) string {
	t.Helper()
	hash, err := password.HashWithParams(secret, password.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatalf("hashing: %v", err)
	}
	return hash
}

// loginFixture is an API with logins for kim (counselor 1001), lee
// (counselor 1002), park (supervisor), choi (followup) and admin.
type loginFixture struct {
	server   *httptest.Server
	sessions *memorySessions
	clock    *testClock
	events   *events.Subscription
	store    *queue.MemoryStore
	sipLocks *fakeSIPLocks
}

// acceptCalls accepts every call action.
type acceptCalls struct{}

func (acceptCalls) CallEmergency(string, string) error                { return nil }
func (acceptCalls) MonitorCall(string, string, sip.MonitorMode) error { return nil }

// onCallLookup reports counselor 1001 on call call-7.
type onCallLookup struct{}

func (onCallLookup) Get(_ context.Context, id string) (counselor.Status, error) {
	if id == "1001" {
		return counselor.Status{ID: id, State: queue.StateOnCall, CallID: "call-7"}, nil
	}
	return counselor.Status{ID: id, State: queue.StateAvailable}, nil
}

func newLoginFixture(t *testing.T) *loginFixture {
	t.Helper()
	return newLoginFixtureWithTTL(t, time.Hour)
}

// newLoginFixtureWithTTL is newLoginFixture with sessions that last ttl.
// The fixture also serves the console stream, for tests of streams that
// end with their session.
func newLoginFixtureWithTTL(t *testing.T, ttl time.Duration) *loginFixture {
	t.Helper()
	f := &loginFixture{sessions: newMemorySessions(), clock: &testClock{now: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)},
		store: queue.NewMemoryStore()}
	for _, id := range []string{"1001", "1002"} {
		if err := f.store.AddCounselor(context.Background(), id, time.Now()); err != nil {
			t.Fatalf("AddCounselor: %v", err)
		}
	}
	bus := events.NewBus()
	f.events = bus.Subscribe(0)
	t.Cleanup(f.events.Close)
	users := []web.User{
		{Name: "kim", Role: web.RoleCounselor, Counselor: "1001", PasswordHash: cheapHash(t, "kim-pass")},
		{Name: "lee", Role: web.RoleCounselor, Counselor: "1002", PasswordHash: cheapHash(t, "lee-pass")},
		{Name: "park", Role: web.RoleSupervisor, PasswordHash: cheapHash(t, "park-pass")},
		{Name: "choi", Role: web.RoleFollowUp, PasswordHash: cheapHash(t, "choi-pass")},
		{Name: "admin", Role: web.RoleAdmin, PasswordHash: cheapHash(t, "admin-pass")},
	}
	api := web.NewAPI([]string{testToken}, zerolog.Nop(),
		web.WithClock(f.clock.Now),
		web.WithAuditor(f.sessions),
		web.WithLogin(web.LoginConfig{Users: users, Sessions: f.sessions, SessionTTL: ttl,
			Lockout: web.Lockout{Attempts: 3, SourceAttempts: 6, Window: 10 * time.Minute, Duration: 15 * time.Minute}, Events: bus}))
	svc := counselor.New(counselor.Config{Store: f.store, Registered: func(string) bool { return true }})
	web.RegisterCounselors(api, svc)
	web.RegisterCalls(api, web.CallsDeps{Calls: acceptCalls{}, Counselors: onCallLookup{}, Log: zerolog.Nop()})
	web.RegisterPriority(api, web.PriorityDeps{RaisePriority: func(context.Context, string) error { return nil }})
	web.RegisterConsole(api, web.ConsoleDeps{Counselors: svc, Events: bus, Log: zerolog.Nop()})
	f.sipLocks = &fakeSIPLocks{}
	web.RegisterSIPLockouts(api, f.sipLocks.deps())
	api.HandlePage("GET /board", []web.Role{web.RoleSupervisor}, func(w http.ResponseWriter, r *http.Request) {
		p, _ := web.PrincipalFrom(r.Context())
		fmt.Fprint(w, "board for "+p.User)
	})
	f.server = httptest.NewServer(withTestSource(api))
	t.Cleanup(f.server.Close)
	return f
}

// testSourceHeader names the client address a test request pretends to
// come from, so that lockout tests can log in from several addresses.
const testSourceHeader = "X-Test-Source"

// withTestSource sets the request's remote address from testSourceHeader.
func withTestSource(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if source := r.Header.Get(testSourceHeader); source != "" {
			r.RemoteAddr = source + ":40000"
		}
		next.ServeHTTP(w, r)
	})
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
type browser struct {
	client *http.Client
	base   string
	csrf   string
	// source, when set, is the client address the requests claim.
	source string
}

func (f *loginFixture) browser(t *testing.T) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{base: f.server.URL, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// response is a status, a Location header and a body.
type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(t *testing.T, method, path, contentType, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if b.source != "" {
		req.Header.Set(testSourceHeader, b.source)
	}
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, location: res.Header.Get("Location"), body: string(data), header: res.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken opens the login page and returns its form token.
func (b *browser) formToken(t *testing.T) string {
	t.Helper()
	page := b.do(t, http.MethodGet, "/login", "", "", nil)
	if page.status != http.StatusOK {
		t.Fatalf("GET /login = %d, want 200", page.status)
	}
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("the login page has no csrf field: %s", page.body)
	}
	return m[1]
}

// postLogin submits the login form with the page's token.
func (b *browser) postLogin(t *testing.T, user, secret, next string) response {
	t.Helper()
	form := url.Values{"user": {user}, "password": {secret}, "csrf": {b.formToken(t)}, "next": {next}}
	return b.do(t, http.MethodPost, "/login", "application/x-www-form-urlencoded", form.Encode(), nil)
}

// login logs in and loads the session's CSRF token.
func (b *browser) login(t *testing.T, user, secret string) {
	t.Helper()
	res := b.postLogin(t, user, secret, "")
	if res.status != http.StatusSeeOther {
		t.Fatalf("login %s = %d, want 303: %s", user, res.status, res.body)
	}
	session := b.do(t, http.MethodGet, "/api/v1/session", "", "", nil)
	var body map[string]any
	if err := json.Unmarshal([]byte(session.body), &body); err != nil || session.status != http.StatusOK {
		t.Fatalf("GET /api/v1/session = %d %s", session.status, session.body)
	}
	b.csrf, _ = body["csrf_token"].(string)
}

// api sends a JSON request with the session's CSRF token.
func (b *browser) api(t *testing.T, method, path, body string) response {
	t.Helper()
	return b.do(t, method, path, "application/json", body, map[string]string{web.CSRFHeader: b.csrf})
}

func TestLoginRedirectsToRoleHome(t *testing.T) {
	f := newLoginFixture(t)
	tests := []struct{ user, home string }{
		{"kim", "/console"}, {"park", "/board"}, {"choi", "/followups"}, {"admin", "/board"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			res := f.browser(t).postLogin(t, tt.user, tt.user+"-pass", "")
			if res.status != http.StatusSeeOther || res.location != tt.home {
				t.Errorf("login = %d to %q, want 303 to %q", res.status, res.location, tt.home)
			}
			cookie := res.header.Get("Set-Cookie")
			for _, attr := range []string{web.SessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
				if !strings.Contains(strings.Join(res.header.Values("Set-Cookie"), "\n"), attr) {
					t.Errorf("Set-Cookie %q lacks %s", cookie, attr)
				}
			}
		})
	}
	if got := f.sessions.actions(); len(got) != 4 || got[0] != "login kim" {
		t.Errorf("audit = %v, want four logins", got)
	}
}

func TestSessionReportsUserAndCSRF(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	b.login(t, "kim", "kim-pass")
	res := b.do(t, http.MethodGet, "/api/v1/session", "", "", nil)
	var body map[string]any
	_ = json.Unmarshal([]byte(res.body), &body)
	if body["user"] != "kim" || body["role"] != "counselor" || body["counselor"] != "1001" {
		t.Errorf("session = %v, want kim, counselor, 1001", body)
	}
	if b.csrf == "" || body["expires_at"] != "2026-12-05T10:00:00Z" {
		t.Errorf("session = %v, want a CSRF token and expiry an hour after login", body)
	}
}

func TestLoginNextIsLocalOnly(t *testing.T) {
	f := newLoginFixture(t)
	tests := []struct{ next, want string }{
		{"/board?x=1", "/board?x=1"},
		{"//evil.example/", "/board"},
		{"https://evil.example/", "/board"},
		{`/\evil.example`, "/board"},
		{"/login", "/board"},
		{"javascript:alert(1)", "/board"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			res := f.browser(t).postLogin(t, "park", "park-pass", tt.next)
			if res.status != http.StatusSeeOther || res.location != tt.want {
				t.Errorf("login with next %q = %d to %q, want 303 to %q", tt.next, res.status, res.location, tt.want)
			}
		})
	}
}

func TestLoginRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		secret  string
		status  int
		message string
		action  string
	}{
		{"wrong password", "kim", "nope", http.StatusUnauthorized, "Wrong user name or password", "login_failed kim"},
		{"unknown user", "ghost", "kim-pass", http.StatusUnauthorized, "Wrong user name or password", "login_failed ghost"},
		{"missing user", "", "kim-pass", http.StatusBadRequest, "Enter both your user name and password", ""},
		{"missing password", "kim", "", http.StatusBadRequest, "Enter both your user name and password", ""},
		{"long user", strings.Repeat("k", 65), "x", http.StatusBadRequest, "too long", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLoginFixture(t)
			res := f.browser(t).postLogin(t, tt.user, tt.secret, "")
			if res.status != tt.status {
				t.Errorf("status = %d, want %d", res.status, tt.status)
			}
			if !strings.Contains(res.body, tt.message) || !strings.Contains(res.body, `id="login-error"`) {
				t.Errorf("body lacks %q in #login-error", tt.message)
			}
			if f.sessions.count() != 0 {
				t.Errorf("%d sessions saved, want none", f.sessions.count())
			}
			got := strings.Join(f.sessions.actions(), ",")
			if got != tt.action {
				t.Errorf("audit = %q, want %q", got, tt.action)
			}
		})
	}
}

func TestLoginRejectsBadFormToken(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	b.formToken(t)
	form := url.Values{"user": {"kim"}, "password": {"kim-pass"}, "csrf": {"forged"}}
	res := b.do(t, http.MethodPost, "/login", "application/x-www-form-urlencoded", form.Encode(), nil)
	if res.status != http.StatusForbidden || !strings.Contains(res.body, "login form expired") {
		t.Errorf("login with a forged form token = %d, want 403 with a reload message", res.status)
	}
	fresh := f.browser(t)
	res = fresh.do(t, http.MethodPost, "/login", "application/x-www-form-urlencoded", form.Encode(), nil)
	if res.status != http.StatusForbidden {
		t.Errorf("login without the form cookie = %d, want 403", res.status)
	}
	if f.sessions.count() != 0 {
		t.Errorf("%d sessions saved, want none", f.sessions.count())
	}
}

func TestLoginLockoutAndItsEnd(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	for i := range 2 {
		if res := b.postLogin(t, "kim", "wrong", ""); res.status != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, res.status)
		}
	}
	third := b.postLogin(t, "kim", "wrong", "")
	if third.status != http.StatusTooManyRequests || third.header.Get("Retry-After") != "900" {
		t.Errorf("third failure = %d Retry-After %q, want 429 and 900", third.status, third.header.Get("Retry-After"))
	}
	if !strings.Contains(third.body, "kim is locked here until") || !strings.Contains(third.body, "아이디 kim의") {
		t.Errorf("429 page does not say that kim is locked from this address:\n%s", third.body)
	}
	right := b.postLogin(t, "kim", "kim-pass", "")
	if right.status != http.StatusTooManyRequests || f.sessions.count() != 0 {
		t.Errorf("right password while locked = %d with %d sessions, want 429 and none", right.status, f.sessions.count())
	}
	waitForEvent(t, f.events, events.LoginLocked)

	f.clock.Advance(15 * time.Minute)
	if res := b.postLogin(t, "kim", "kim-pass", ""); res.status != http.StatusSeeOther {
		t.Errorf("login after the lock ended = %d, want 303", res.status)
	}
	actions := strings.Join(f.sessions.actions(), ",")
	want := "login_failed kim,login_failed kim,login_failed kim,login_locked kim,login_locked kim,login kim"
	if actions != want {
		t.Errorf("audit = %s, want %s", actions, want)
	}
}

func TestLoginLockoutPerSource(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	for i := range 6 {
		b.postLogin(t, fmt.Sprintf("ghost%d", i), "x", "")
	}
	// After source_attempts failures every name from the address is locked.
	res := b.postLogin(t, "park", "park-pass", "")
	if res.status != http.StatusTooManyRequests {
		t.Errorf("login from a locked source = %d, want 429", res.status)
	}
	if !strings.Contains(res.body, "every login from it is locked") || !strings.Contains(res.body, "이 주소의 모든 로그인이") {
		t.Errorf("429 page does not say that the whole address is locked:\n%s", res.body)
	}
	if e := waitForEvent(t, f.events, events.LoginLocked); e.Data["scope"] != web.LockScopeSource {
		t.Errorf("login_locked scope = %q, want source", e.Data["scope"])
	}
}

func TestLoginLockoutSparesOtherUsers(t *testing.T) {
	f := newLoginFixture(t)
	floor := f.browser(t)
	floor.source = "10.1.1.1"
	for range 3 {
		floor.postLogin(t, "kim", "wrong", "")
	}
	if res := floor.postLogin(t, "kim", "kim-pass", ""); res.status != http.StatusTooManyRequests {
		t.Errorf("kim from the locked address = %d, want 429", res.status)
	}
	if e := waitForEvent(t, f.events, events.LoginLocked); e.Data["scope"] != web.LockScopeUser || e.Data["source"] != "10.1.1.1" {
		t.Errorf("login_locked data = %v, want scope user from 10.1.1.1", e.Data)
	}

	colleague := f.browser(t)
	colleague.source = "10.1.1.1"
	if res := colleague.postLogin(t, "park", "park-pass", ""); res.status != http.StatusSeeOther {
		t.Errorf("park from the same address = %d, want 303", res.status)
	}
	elsewhere := f.browser(t)
	elsewhere.source = "10.2.2.2"
	if res := elsewhere.postLogin(t, "kim", "kim-pass", ""); res.status != http.StatusSeeOther {
		t.Errorf("kim from another address = %d, want 303", res.status)
	}
}

func TestLockoutsListAndClear(t *testing.T) {
	f := newLoginFixture(t)
	floor := f.browser(t)
	floor.source = "10.1.1.1"
	for range 3 {
		floor.postLogin(t, "kim", "wrong", "")
	}
	admin := f.browser(t)
	admin.login(t, "admin", "admin-pass")

	list := admin.api(t, http.MethodGet, "/api/v1/lockouts", "")
	var listed struct {
		Lockouts []map[string]any `json:"lockouts"`
	}
	if err := json.Unmarshal([]byte(list.body), &listed); err != nil || list.status != http.StatusOK {
		t.Fatalf("GET /api/v1/lockouts = %d %s", list.status, list.body)
	}
	want := map[string]any{"user": "kim", "source": "10.1.1.1", "scope": "user", "until": "2026-12-05T09:15:00Z"}
	if len(listed.Lockouts) != 1 || fmt.Sprint(listed.Lockouts[0]) != fmt.Sprint(want) {
		t.Errorf("lockouts = %v, want %v", listed.Lockouts, want)
	}

	supervisor := f.browser(t)
	supervisor.login(t, "park", "park-pass")
	if res := supervisor.api(t, http.MethodGet, "/api/v1/lockouts", ""); res.status != http.StatusForbidden {
		t.Errorf("GET /api/v1/lockouts as supervisor = %d, want 403", res.status)
	}
	if res := admin.do(t, http.MethodDelete, "/api/v1/lockouts", "", "", nil); res.status != http.StatusForbidden {
		t.Errorf("DELETE without CSRF = %d, want 403", res.status)
	}

	cleared := admin.api(t, http.MethodDelete, "/api/v1/lockouts?user=kim&source=10.1.1.1", "")
	if cleared.status != http.StatusOK || !strings.Contains(cleared.body, `"cleared":1`) {
		t.Errorf("DELETE /api/v1/lockouts = %d %s, want one cleared", cleared.status, cleared.body)
	}
	if res := floor.postLogin(t, "kim", "kim-pass", ""); res.status != http.StatusSeeOther {
		t.Errorf("kim after the clear = %d, want 303", res.status)
	}
	if !slices.Contains(f.sessions.actions(), "lockout_cleared admin") {
		t.Errorf("audit = %v, want lockout_cleared by admin", f.sessions.actions())
	}
	if res := admin.api(t, http.MethodDelete, "/api/v1/lockouts?user=a%0Ab", ""); res.status != http.StatusBadRequest {
		t.Errorf("DELETE with a control character = %d, want 400", res.status)
	}
}

// waitForEvent waits up to 5 s for an event of type want.
func waitForEvent(t *testing.T, sub *events.Subscription, want events.Type) events.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-sub.C():
			if e.Type == want {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within 5 s", want)
			return events.Event{}
		}
	}
}

func TestPageRedirectsToLogin(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	res := b.do(t, http.MethodGet, "/board?q=1", "", "", nil)
	if res.status != http.StatusSeeOther || res.location != "/login?next=%2Fboard%3Fq%3D1" {
		t.Errorf("GET /board without login = %d to %q, want 303 to the login page", res.status, res.location)
	}
	b.login(t, "park", "park-pass")
	if res := b.do(t, http.MethodGet, "/board", "", "", nil); res.status != http.StatusOK || res.body != "board for park" {
		t.Errorf("GET /board as park = %d %q", res.status, res.body)
	}
	kim := f.browser(t)
	kim.login(t, "kim", "kim-pass")
	if res := kim.do(t, http.MethodGet, "/board", "", "", nil); res.status != http.StatusForbidden {
		t.Errorf("GET /board as a counselor = %d, want 403", res.status)
	}
}

func TestExpiredSessionRejected(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	b.login(t, "park", "park-pass")
	f.clock.Advance(time.Hour)
	res := b.do(t, http.MethodGet, "/api/v1/session", "", "", nil)
	if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "not logged in") {
		t.Errorf("expired session = %d %s, want 401", res.status, res.body)
	}
	if f.sessions.count() != 0 {
		t.Errorf("%d sessions left, want the expired one removed", f.sessions.count())
	}
}

func TestCSRFRequiredForSessionChanges(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	b.login(t, "kim", "kim-pass")
	body := `{"state":"available"}`
	tests := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"missing", nil, http.StatusForbidden},
		{"wrong", map[string]string{web.CSRFHeader: "wrong"}, http.StatusForbidden},
		{"right", map[string]string{web.CSRFHeader: b.csrf}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.do(t, http.MethodPost, "/api/v1/counselors/1001/state", "application/json", body, tt.header)
			if res.status != tt.status {
				t.Errorf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.status == http.StatusForbidden && !strings.Contains(res.body, "missing or wrong CSRF token: reload the page") {
				t.Errorf("body = %s, want the CSRF message", res.body)
			}
		})
	}
}

func TestRolesPerRoute(t *testing.T) {
	f := newLoginFixture(t)
	kim, park, choi := f.browser(t), f.browser(t), f.browser(t)
	kim.login(t, "kim", "kim-pass")
	park.login(t, "park", "park-pass")
	choi.login(t, "choi", "choi-pass")

	tests := []struct {
		name   string
		who    *browser
		method string
		path   string
		body   string
		status int
	}{
		{"counselor own state", kim, "POST", "/api/v1/counselors/1001/state", `{"state":"available"}`, 200},
		{"counselor other state", kim, "POST", "/api/v1/counselors/1002/state", `{"state":"available"}`, 403},
		{"counselor other wrap-up", kim, "POST", "/api/v1/counselors/1002/wrap-up/end", ``, 403},
		{"supervisor other state", park, "POST", "/api/v1/counselors/1002/state", `{"state":"available"}`, 200},
		{"followup state", choi, "POST", "/api/v1/counselors/1001/state", `{"state":"break"}`, 403},
		{"counselor monitor", kim, "POST", "/api/v1/calls/c1/monitor", `{"supervisor":"1001","mode":"listen"}`, 403},
		{"counselor priority", kim, "POST", "/api/v1/calls/c1/priority", `{"priority":"high_risk"}`, 403},
		{"supervisor priority", park, "POST", "/api/v1/calls/c1/priority", `{"priority":"high_risk"}`, 200},
		{"counselor emergency not on call", kim, "POST", "/api/v1/calls/c1/emergency", `{"target":"119"}`, 403},
		{"supervisor emergency", park, "POST", "/api/v1/calls/c1/emergency", `{"target":"119"}`, 202},
		{"followup counselors", choi, "GET", "/api/v1/counselors", ``, 403},
		{"counselor audit", kim, "GET", "/api/v1/audit", ``, 403},
		{"supervisor audit", park, "GET", "/api/v1/audit", ``, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.who.api(t, tt.method, tt.path, tt.body)
			if res.status != tt.status {
				t.Errorf("%s %s = %d, want %d: %s", tt.method, tt.path, res.status, tt.status, res.body)
			}
			if res.status == http.StatusForbidden && !strings.Contains(res.body, "may not") {
				t.Errorf("403 body %s does not say what the role may not do", res.body)
			}
		})
	}
}

func TestCounselorListsOnlyOwnEntry(t *testing.T) {
	f := newLoginFixture(t)
	kim := f.browser(t)
	kim.login(t, "kim", "kim-pass")
	res := kim.api(t, "GET", "/api/v1/counselors", "")
	var body struct {
		Counselors []counselor.Status `json:"counselors"`
	}
	if err := json.Unmarshal([]byte(res.body), &body); err != nil || res.status != 200 {
		t.Fatalf("GET /api/v1/counselors = %d %s", res.status, res.body)
	}
	if len(body.Counselors) != 1 || body.Counselors[0].ID != "1001" {
		t.Errorf("counselor kim sees %+v, want only 1001", body.Counselors)
	}
}

func TestCounselorEmergencyOnOwnCall(t *testing.T) {
	f := newLoginFixture(t)
	kim := f.browser(t)
	kim.login(t, "kim", "kim-pass")
	if res := kim.api(t, "POST", "/api/v1/calls/call-7/emergency", `{"target":"119"}`); res.status != http.StatusAccepted {
		t.Errorf("emergency on own call = %d %s, want 202", res.status, res.body)
	}
	if res := kim.api(t, "POST", "/api/v1/calls/call-8/emergency", `{"target":"119"}`); res.status != http.StatusForbidden {
		t.Errorf("emergency on another call = %d, want 403", res.status)
	}
}

func TestBearerTokenActsAsAdmin(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	res := b.do(t, http.MethodGet, "/api/v1/session", "", "", auth)
	if res.status != 200 || !strings.Contains(res.body, `"role":"admin"`) || !strings.Contains(res.body, `"user":"api-token"`) {
		t.Errorf("session with the token = %d %s", res.status, res.body)
	}
	res = b.do(t, http.MethodPost, "/api/v1/counselors/1002/state", "application/json", `{"state":"available"}`, auth)
	if res.status != 200 {
		t.Errorf("token change without CSRF = %d %s, want 200", res.status, res.body)
	}
}

func TestLogoutEndsSession(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	b.login(t, "park", "park-pass")
	if res := b.do(t, http.MethodPost, "/logout", "", "", nil); res.status != http.StatusForbidden {
		t.Errorf("logout without CSRF = %d, want 403", res.status)
	}
	form := url.Values{"csrf": {b.csrf}}.Encode()
	res := b.do(t, http.MethodPost, "/logout", "application/x-www-form-urlencoded", form, nil)
	if res.status != http.StatusSeeOther || res.location != "/login" {
		t.Errorf("logout = %d to %q, want 303 to /login", res.status, res.location)
	}
	if f.sessions.count() != 0 {
		t.Errorf("%d sessions left after logout", f.sessions.count())
	}
	if res := b.do(t, http.MethodGet, "/api/v1/session", "", "", nil); res.status != http.StatusUnauthorized {
		t.Errorf("session after logout = %d, want 401", res.status)
	}
	if got := f.sessions.actions(); got[len(got)-1] != "logout park" {
		t.Errorf("audit = %v, want logout park last", got)
	}
}

func TestAuditListForAdmin(t *testing.T) {
	f := newLoginFixture(t)
	admin := f.browser(t)
	f.browser(t).postLogin(t, "kim", "wrong", "")
	admin.login(t, "admin", "admin-pass")

	res := admin.api(t, "GET", "/api/v1/audit?limit=1", "")
	var body struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal([]byte(res.body), &body); err != nil || res.status != 200 {
		t.Fatalf("GET /api/v1/audit = %d %s", res.status, res.body)
	}
	if len(body.Entries) != 1 || body.Entries[0]["action"] != "login" || body.Entries[0]["user"] != "admin" {
		t.Errorf("audit = %v, want the admin login only", body.Entries)
	}
	for _, bad := range []string{"0", "x", "1001"} {
		if res := admin.api(t, "GET", "/api/v1/audit?limit="+bad, ""); res.status != http.StatusBadRequest {
			t.Errorf("limit %s = %d, want 400", bad, res.status)
		}
	}
}

func TestLoginPageServesForm(t *testing.T) {
	f := newLoginFixture(t)
	res := f.browser(t).do(t, http.MethodGet, "/login?next=/console", "", "", nil)
	for _, want := range []string{`id="user"`, `id="password"`, `id="login-submit"`, `lang="ko"`, "/static/login.js", "/static/app.css", `value="/console"`, "Goodbye Loneliness 120"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if !strings.Contains(strings.Join(res.header.Values("Set-Cookie"), ";"), web.LoginCSRFCookie) {
		t.Error("login page sets no form token cookie")
	}
}

func TestLoginPageSaysLoginEnded(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	ended := b.do(t, http.MethodGet, "/login?next=%2Fconsole&ended=1", "", "", nil)
	for _, want := range []string{`id="login-notice"`, "로그인이 끝났습니다. 다시 로그인하십시오.", "Your login ended; log in again.", `value="/console"`} {
		if !strings.Contains(ended.body, want) {
			t.Errorf("login page with ended=1 lacks %s", want)
		}
	}
	if plain := b.do(t, http.MethodGet, "/login", "", "", nil); strings.Contains(plain.body, `id="login-notice"`) {
		t.Error("login page without ended=1 says that the login ended")
	}
}
