package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"helpline/events"
	"helpline/records"
	"helpline/web/password"
)

// Limits of the login form.
const (
	// maxUserNameLength bounds a typed user name, in bytes.
	maxUserNameLength = 64
	// maxConcurrentVerifies bounds the password checks running at once,
	// because one argon2id check uses 64 MiB.
	maxConcurrentVerifies = 4
	// tokenBytes is the size of a session or CSRF token before encoding.
	tokenBytes = 32
	// loginCSRFMaxAge is how long a login form stays valid.
	loginCSRFMaxAge = time.Hour
)

// Audit actions of logins.
const (
	AuditLogin       = "login"
	AuditLoginFailed = "login_failed"
	AuditLoginLocked = "login_locked"
	AuditLogout      = "logout"
)

//go:embed ui/login.html
var loginFS embed.FS

var loginTemplate = template.Must(template.ParseFS(loginFS, "ui/login.html"))

// User is one login.
type User struct {
	Name string
	Role Role
	// Counselor is the counselor id of a counselor login, else empty.
	Counselor string
	// PasswordHash is an argon2id or bcrypt hash.
	PasswordHash string
}

// SessionStore keeps the sessions of logged-in users. *records.Store
// implements it.
type SessionStore interface {
	CreateSession(ctx context.Context, token string, s records.Session) error
	GetSession(ctx context.Context, token string) (records.Session, error)
	DeleteSession(ctx context.Context, token string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// LoginConfig turns on logins with a user name and password.
type LoginConfig struct {
	// Users are the people who may log in.
	Users []User
	// Sessions stores the sessions. Required.
	Sessions SessionStore
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// Lockout blocks a user name or source after repeated failures.
	Lockout Lockout
	// Events receives a login_locked event when a lockout begins. Nil
	// drops it.
	Events events.Publisher
}

// loginService is the state behind the login routes.
type loginService struct {
	users    map[string]User
	sessions SessionStore
	ttl      time.Duration
	lockout  *lockoutTracker
	events   events.Publisher
	// verifySlots bounds the password checks running at once.
	verifySlots chan struct{}
	// requests are the requests in progress of each session.
	requests *sessionRequests
}

// WithLogin turns on logins: GET and POST /login, POST /logout, GET
// /api/v1/session, and the session cookie next to the bearer token.
func WithLogin(cfg LoginConfig) Option {
	return func(a *API) {
		users := make(map[string]User, len(cfg.Users))
		for _, u := range cfg.Users {
			users[u.Name] = u
		}
		publisher := cfg.Events
		if publisher == nil {
			publisher = events.Nop{}
		}
		a.login = &loginService{users: users, sessions: cfg.Sessions, ttl: cfg.SessionTTL,
			lockout: newLockoutTracker(cfg.Lockout), events: publisher,
			verifySlots: make(chan struct{}, maxConcurrentVerifies), requests: newSessionRequests()}
	}
}

// registerAccessRoutes adds the login, session and audit routes that the
// options turned on.
func (a *API) registerAccessRoutes() {
	if a.login != nil {
		a.HandlePublic("GET /login", a.serveLoginForm)
		a.HandlePublic("POST /login", a.serveLogin)
		a.HandleRoles("POST /logout", AllRoles, a.serveLogout)
		a.HandleRoles("GET /api/v1/session", AllRoles, a.serveSession)
		a.Handle("GET /api/v1/lockouts", a.serveLockouts)
		a.Handle("DELETE /api/v1/lockouts", a.serveClearLockouts)
	}
	if list, ok := a.auditor.(AuditLister); ok {
		a.Handle("GET /api/v1/audit", func(w http.ResponseWriter, r *http.Request) { a.serveAudit(w, r, list) })
	}
}

// RoleHome returns the page a role lands on after login.
func RoleHome(role Role) string {
	switch role {
	case RoleCounselor:
		return "/console"
	case RoleFollowUp:
		return "/followups"
	default:
		return "/board"
	}
}

// loginPage is the data of ui/login.html.
type loginPage struct {
	CSRF    string
	Next    string
	User    string
	ErrorKO string
	ErrorEN string
	// NoticeKO and NoticeEN are an information line, such as that the
	// previous login ended.
	NoticeKO string
	NoticeEN string
}

// loginMessage is a message of the login page in both languages.
type loginMessage struct{ ko, en string }

var (
	msgMissingFields = loginMessage{"아이디와 비밀번호를 모두 입력하십시오.", "Enter both your user name and password."}
	msgTooLong       = loginMessage{"아이디 또는 비밀번호가 너무 깁니다.", "The user name or password is too long."}
	msgBadCSRF       = loginMessage{"로그인 양식이 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도하십시오.", "The login form expired: reload the page and try again."}
	msgBadLogin      = loginMessage{"아이디 또는 비밀번호가 맞지 않습니다.", "Wrong user name or password."}
	msgFailed        = loginMessage{"로그인을 처리하지 못했습니다. 잠시 뒤 다시 시도하십시오.", "The login could not be completed: try again in a moment."}
	msgEnded         = loginMessage{"로그인이 끝났습니다. 다시 로그인하십시오.", "Your login ended; log in again."}
)

// lockedMessage returns the message that states what is locked, until
// when, and that an administrator can end the lock early.
func lockedMessage(lock Lock, now time.Time) loginMessage {
	minutes := int(math.Ceil(lock.Until.Sub(now).Minutes()))
	at := lock.Until.Local().Format("15:04")
	if lock.Scope == LockScopeSource {
		return loginMessage{
			ko: fmt.Sprintf("이 주소(%s)에서 로그인 실패가 너무 많아 이 주소의 모든 로그인이 %s까지(약 %d분) 잠겼습니다. 관리자가 잠금을 풀 수 있습니다.", lock.Source, at, minutes),
			en: fmt.Sprintf("Too many failed logins from this address (%s): every login from it is locked until %s (about %d minutes). An administrator can clear the lock.", lock.Source, at, minutes),
		}
	}
	return loginMessage{
		ko: fmt.Sprintf("이 주소(%s)에서 아이디 %s의 로그인 실패가 너무 많아 %s까지(약 %d분) 잠겼습니다. 관리자가 잠금을 풀 수 있습니다.", lock.Source, lock.User, at, minutes),
		en: fmt.Sprintf("Too many failed logins for %s from this address (%s): %s is locked here until %s (about %d minutes). An administrator can clear the lock.", lock.User, lock.Source, lock.User, at, minutes),
	}
}

// serveLoginForm shows the login form with a fresh or reused form token.
// With ended=1, which the pages add when their session ended, the form
// states that the login ended.
func (a *API) serveLoginForm(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	next, _ := localPath(query.Get("next"))
	page := loginPage{Next: next}
	if query.Get("ended") == "1" {
		page.NoticeKO, page.NoticeEN = msgEnded.ko, msgEnded.en
	}
	a.renderLogin(w, r, http.StatusOK, page, nil)
}

// renderLogin writes the login page with status and message. It sets the
// form token cookie when the request has none.
func (a *API) renderLogin(w http.ResponseWriter, r *http.Request, status int, page loginPage, message *loginMessage) {
	token := ""
	if cookie, err := r.Cookie(LoginCSRFCookie); err == nil && validToken(cookie.Value) {
		token = cookie.Value
	} else {
		token = newToken()
		http.SetCookie(w, &http.Cookie{Name: LoginCSRFCookie, Value: token, Path: "/login",
			MaxAge: int(loginCSRFMaxAge.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	page.CSRF = token
	if message != nil {
		page.ErrorKO, page.ErrorEN = message.ko, message.en
	}
	header := w.Header()
	for name, value := range securityHeaders {
		header.Set(name, value)
	}
	header.Set("Content-Type", "text/html; charset=utf-8")
	header.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := loginTemplate.Execute(w, page); err != nil {
		a.log.Error().Err(err).Msg("rendering the login page failed")
	}
}

// loginAttempt is one POST /login.
type loginAttempt struct {
	user, password, next, source string
}

// serveLogin checks a login form, and on success starts a session and
// redirects to next or the role's home page.
func (a *API) serveLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		a.renderLogin(w, r, http.StatusBadRequest, loginPage{}, &msgMissingFields)
		return
	}
	next, _ := localPath(r.PostFormValue("next"))
	attempt := loginAttempt{user: r.PostFormValue("user"), password: r.PostFormValue("password"), next: next, source: clientIP(r)}
	page := loginPage{Next: next, User: attempt.user}

	if !loginCSRFMatches(r) {
		a.renderLogin(w, r, http.StatusForbidden, page, &msgBadCSRF)
		return
	}
	switch {
	case attempt.user == "" || attempt.password == "":
		a.renderLogin(w, r, http.StatusBadRequest, page, &msgMissingFields)
		return
	case len(attempt.user) > maxUserNameLength || len(attempt.password) > password.MaxLength || !printable(attempt.user):
		page.User = ""
		a.renderLogin(w, r, http.StatusBadRequest, page, &msgTooLong)
		return
	}

	if lock, locked := a.login.lockout.locked(a.now(), attempt.user, attempt.source); locked {
		a.rejectLocked(w, r, attempt, page, lock, false)
		return
	}
	user, ok := a.checkPassword(attempt)
	if !ok {
		a.rejectLogin(w, r, attempt, page)
		return
	}
	a.startSession(w, r, attempt, user)
}

// checkPassword returns the user whose password was typed. An unknown
// name costs as much time as a known one.
func (a *API) checkPassword(attempt loginAttempt) (User, bool) {
	a.login.verifySlots <- struct{}{}
	defer func() { <-a.login.verifySlots }()

	user, known := a.login.users[attempt.user]
	if !known {
		password.VerifyDummy(attempt.password)
		return User{}, false
	}
	err := password.Verify(user.PasswordHash, attempt.password)
	if err != nil && !errors.Is(err, password.ErrMismatch) {
		a.log.Error().Err(err).Str("user", user.Name).Msg("checking a password failed: fix web.users password_hash")
	}
	return user, err == nil
}

// rejectLogin responds to a wrong password, and locks when this failure
// reaches web.lockout.attempts for the name from this address or
// web.lockout.source_attempts for the address.
func (a *API) rejectLogin(w http.ResponseWriter, r *http.Request, attempt loginAttempt, page loginPage) {
	now := a.now()
	a.audit(r, records.AuditEntry{User: attempt.user, Source: attempt.source, Action: AuditLoginFailed})
	a.log.Info().Str("user", attempt.user).Str("source", attempt.source).Msg("login failed: wrong user name or password")

	started := a.login.lockout.fail(now, attempt.user, attempt.source)
	if len(started) == 0 {
		a.renderLogin(w, r, http.StatusUnauthorized, page, &msgBadLogin)
		return
	}
	for _, lock := range started {
		a.login.events.Publish(events.Event{At: now, Type: events.LoginLocked, Data: map[string]string{
			"user": attempt.user, "source": attempt.source, "scope": lock.Scope, "until": lock.Until.UTC().Format(time.RFC3339),
		}})
	}
	// The widest lock is the one to report: it also stops other names.
	a.rejectLocked(w, r, attempt, page, started[len(started)-1], true)
}

// rejectLocked responds 429 to a login for a locked name or source.
func (a *API) rejectLocked(w http.ResponseWriter, r *http.Request, attempt loginAttempt, page loginPage, lock Lock, started bool) {
	now := a.now()
	detail := lock.Scope + " locked until " + lock.Until.UTC().Format(time.RFC3339)
	a.audit(r, records.AuditEntry{User: attempt.user, Source: attempt.source, Action: AuditLoginLocked, Detail: detail})
	message := "login rejected: locked after repeated failures"
	if started {
		message = "login locked after repeated failures"
	}
	a.log.Warn().Str("user", attempt.user).Str("source", attempt.source).Str("scope", lock.Scope).Time("until", lock.Until).Msg(message)

	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(lock.Until.Sub(now).Seconds()))))
	locked := lockedMessage(lock, now)
	a.renderLogin(w, r, http.StatusTooManyRequests, page, &locked)
}

// startSession stores a new session, sets its cookie and redirects.
func (a *API) startSession(w http.ResponseWriter, r *http.Request, attempt loginAttempt, user User) {
	now := a.now()
	token := newToken()
	session := records.Session{User: user.Name, Role: string(user.Role), Counselor: user.Counselor, CSRF: newToken(),
		CreatedAt: now, ExpiresAt: now.Add(a.login.ttl)}
	if err := a.login.sessions.CreateSession(r.Context(), token, session); err != nil {
		a.log.Error().Err(err).Str("user", user.Name).Msg("storing a session failed")
		a.renderLogin(w, r, http.StatusInternalServerError, loginPage{Next: attempt.next, User: attempt.user}, &msgFailed)
		return
	}
	a.login.lockout.succeed(user.Name, attempt.source)
	a.endPreviousSession(r)

	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", MaxAge: int(a.login.ttl.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	clearCookie(w, r, LoginCSRFCookie, "/login")
	a.audit(r, records.AuditEntry{User: user.Name, Role: string(user.Role), Source: attempt.source, Action: AuditLogin})
	a.log.Info().Str("user", user.Name).Str("role", string(user.Role)).Str("source", attempt.source).Msg("logged in")

	target := attempt.next
	if target == "" {
		target = RoleHome(user.Role)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// endPreviousSession removes the session that the browser held before
// this login, so that its old token stops working at once instead of at
// its expiry. A failure is logged only, because the new session is stored.
func (a *API) endPreviousSession(r *http.Request) {
	old, err := r.Cookie(SessionCookie)
	if err != nil || old.Value == "" {
		return
	}
	if err := a.login.sessions.DeleteSession(r.Context(), old.Value); err != nil {
		a.log.Warn().Err(err).Msg("removing the session replaced by a new login failed")
	}
	a.login.requests.end(old.Value, ErrLoggedOut)
}

// serveLogout ends the session and redirects to the login page.
func (a *API) serveLogout(w http.ResponseWriter, r *http.Request) {
	state := authFrom(r.Context())
	if state.session != nil {
		if err := a.login.sessions.DeleteSession(r.Context(), state.token); err != nil {
			a.log.Error().Err(err).Str("user", state.principal.User).Msg("removing a session at logout failed")
			WriteError(w, http.StatusInternalServerError, "logging out failed: try again, and see the server log")
			return
		}
	}
	clearCookie(w, r, SessionCookie, "/")
	a.Audit(r, AuditLogout, "", "")
	a.log.Info().Str("user", state.principal.User).Str("source", state.principal.Source).Msg("logged out")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	if state.session != nil {
		a.login.requests.end(state.token, ErrLoggedOut)
	}
}

// sessionBody is the body of GET /api/v1/session.
type sessionBody struct {
	User      string     `json:"user"`
	Role      Role       `json:"role"`
	Counselor string     `json:"counselor"`
	CSRFToken string     `json:"csrf_token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func (a *API) serveSession(w http.ResponseWriter, r *http.Request) {
	state := authFrom(r.Context())
	body := sessionBody{User: state.principal.User, Role: state.principal.Role, Counselor: state.principal.Counselor}
	if state.session != nil {
		body.CSRFToken = state.session.CSRF
		body.ExpiresAt = &state.session.ExpiresAt
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, body)
}

// loginCSRFMatches reports whether the form's csrf field repeats the
// login form cookie.
func loginCSRFMatches(r *http.Request) bool {
	cookie, err := r.Cookie(LoginCSRFCookie)
	if err != nil || !validToken(cookie.Value) {
		return false
	}
	given := r.PostFormValue(csrfFormField)
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(cookie.Value)) == 1
}

// localPath returns next when it is a path on this server, so that a
// login link cannot send the browser elsewhere.
func localPath(next string) (string, bool) {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "", false
	}
	for _, r := range next {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", false
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", false
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return "", false
	}
	return next, true
}

// printable reports whether text has no control characters.
func printable(text string) bool {
	for _, r := range text {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// newToken returns 32 random bytes as unpadded base64url.
func newToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error.
	return base64.RawURLEncoding.EncodeToString(b)
}

// validToken reports whether text looks like a token of newToken.
func validToken(text string) bool {
	b, err := base64.RawURLEncoding.DecodeString(text)
	return err == nil && len(b) == tokenBytes
}
