package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"helpline/records"
)

// Role is the kind of logged-in user, which decides the routes they may
// use.
type Role string

// Roles of web users. The bearer token acts as RoleAdmin.
const (
	RoleCounselor  Role = "counselor"
	RoleSupervisor Role = "supervisor"
	RoleFollowUp   Role = "followup"
	RoleAdmin      Role = "admin"
)

// AllRoles lists every role, for routes open to any logged-in user.
var AllRoles = []Role{RoleCounselor, RoleSupervisor, RoleFollowUp, RoleAdmin}

// TokenUser is the Principal.User of a request with the bearer token.
const TokenUser = "api-token"

// Names of the cookies and the header of session authentication.
const (
	// SessionCookie holds the session token of a logged-in browser.
	SessionCookie = "hl_session"
	// LoginCSRFCookie holds the token that the login form must repeat.
	LoginCSRFCookie = "hl_login_csrf"
	// CSRFHeader carries the session's CSRF token on unsafe requests.
	CSRFHeader = "X-CSRF-Token"
	// csrfFormField carries the CSRF token in a form post, for the login
	// and logout forms, which cannot set headers.
	csrfFormField = "csrf"
)

// Principal is who sent a request.
type Principal struct {
	// User is the login name, or TokenUser for the bearer token.
	User string
	// Role is the user's role; the bearer token acts as RoleAdmin.
	Role Role
	// Counselor is the counselor id (SIP user) of a counselor login, else
	// empty.
	Counselor string
	// Source is the client's IP address, for the audit log.
	Source string
}

// Is reports whether the principal has one of roles. An admin always has.
func (p Principal) Is(roles ...Role) bool {
	return p.Role == RoleAdmin || slices.Contains(roles, p.Role)
}

// ActsFor reports whether the principal may act for the counselor
// counselorID: admins and supervisors for anyone, a counselor only for
// their own id.
func (p Principal) ActsFor(counselorID string) bool {
	switch p.Role {
	case RoleAdmin, RoleSupervisor:
		return true
	case RoleCounselor:
		return p.Counselor != "" && p.Counselor == counselorID
	default:
		return false
	}
}

// authState is the result of ServeHTTP's authentication check of a
// request.
type authState struct {
	principal Principal
	// session and token are set for cookie authentication, nil and empty
	// for the bearer token.
	session *records.Session
	token   string
}

type authKey struct{}

// PrincipalFrom returns the principal of an authenticated request's
// context. It returns false in public routes such as /healthz and /login.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	state, ok := ctx.Value(authKey{}).(*authState)
	if !ok {
		return Principal{}, false
	}
	return state.principal, true
}

func authFrom(ctx context.Context) *authState {
	state, _ := ctx.Value(authKey{}).(*authState)
	return state
}

// HandleRoles registers h for pattern, in http.ServeMux syntax with a
// method, for requests whose principal has one of roles. Admins and the
// bearer token are always allowed. Other roles get 403.
func (a *API) HandleRoles(pattern string, roles []Role, h http.HandlerFunc) {
	a.mux.HandleFunc(pattern, a.requireRoles(pattern, roles, h, false))
}

// HandlePage registers an HTML page like HandleRoles, but a request
// without a login is redirected (303) to /login?next=<path> instead of
// getting 401.
func (a *API) HandlePage(pattern string, roles []Role, h http.HandlerFunc) {
	a.pages[pattern] = true
	a.mux.HandleFunc(pattern, a.requireRoles(pattern, roles, h, true))
}

// requireRoles wraps h with the role check of pattern.
func (a *API) requireRoles(pattern string, roles []Role, h http.HandlerFunc, page bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		if p.Is(roles...) {
			h(w, r)
			return
		}
		if page {
			a.rejectPage(w, r, p, roles)
			return
		}
		WriteError(w, http.StatusForbidden, fmt.Sprintf("role %s may not use %s: it is open to %s", p.Role, pattern, allowedRoles(roles)))
	}
}

// allowedRoles names the roles of a route, admin last.
func allowedRoles(roles []Role) string {
	names := make([]string, 0, len(roles)+1)
	for _, role := range roles {
		if role != RoleAdmin {
			names = append(names, string(role))
		}
	}
	return strings.Join(append(names, string(RoleAdmin)), ", ")
}

// ServeHTTP serves a public route, or authenticates the request, checks
// its CSRF token and dispatches it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, pattern := a.public.Handler(r); pattern != "" {
		h.ServeHTTP(w, r)
		return
	}
	_, pattern := a.mux.Handler(r)

	state, err := a.authenticate(w, r)
	if err != nil {
		a.log.Error().Err(err).Str("path", r.URL.Path).Msg("checking the session failed")
		WriteError(w, http.StatusInternalServerError, "checking the login failed: try again, and see the server log")
		return
	}
	if state == nil {
		a.rejectUnauthenticated(w, r, a.pages[pattern])
		return
	}
	if state.session != nil && !safeMethod(r.Method) && !csrfMatches(r, state.session.CSRF) {
		WriteError(w, http.StatusForbidden, "missing or wrong CSRF token: reload the page")
		return
	}
	ctx := context.WithValue(r.Context(), authKey{}, state)
	if state.session != nil {
		var release func()
		ctx, release = a.bindToSession(ctx, state)
		defer release()
	}
	a.mux.ServeHTTP(w, r.WithContext(ctx))
}

// bindToSession returns a context that ends when the session expires or
// logs out, so that an event stream stops with its session, and the
// function that releases it when the request is done.
func (a *API) bindToSession(parent context.Context, state *authState) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	untrack := a.login.requests.track(state.token, cancel)
	expiry := time.AfterFunc(state.session.ExpiresAt.Sub(a.now()), func() { cancel(ErrSessionExpired) })
	return ctx, func() {
		expiry.Stop()
		untrack()
		cancel(context.Canceled)
	}
}

// rejectUnauthenticated answers a request without a token or session: 401
// for the API, a redirect to the login page for a page.
func (a *API) rejectUnauthenticated(w http.ResponseWriter, r *http.Request, page bool) {
	if page && a.login != nil {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="helpline"`)
	message := "missing or wrong API token: send Authorization: Bearer <token>"
	if a.login != nil {
		message = "not logged in: log in at /login, or send Authorization: Bearer <token>"
	}
	WriteError(w, http.StatusUnauthorized, message)
}

// authenticate returns the request's auth state from the bearer token or
// the session cookie, nil when it has neither, or an error when the
// session store fails. An expired session is removed and its cookie
// cleared.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (*authState, error) {
	source := clientIP(r)
	if a.authorized(r) {
		return &authState{principal: Principal{User: TokenUser, Role: RoleAdmin, Source: source}}, nil
	}
	if a.login == nil {
		return nil, nil
	}
	cookie, err := r.Cookie(SessionCookie)
	if err != nil || cookie.Value == "" {
		return nil, nil
	}
	session, err := a.login.sessions.GetSession(r.Context(), cookie.Value)
	switch {
	case errors.Is(err, records.ErrSessionNotFound):
		clearCookie(w, r, SessionCookie, "/")
		return nil, nil
	case err != nil:
		return nil, err
	}
	if !a.now().Before(session.ExpiresAt) {
		if err := a.login.sessions.DeleteSession(r.Context(), cookie.Value); err != nil {
			a.log.Warn().Err(err).Str("user", session.User).Msg("removing an expired session failed")
		}
		clearCookie(w, r, SessionCookie, "/")
		return nil, nil
	}
	principal := Principal{User: session.User, Role: Role(session.Role), Counselor: session.Counselor, Source: source}
	return &authState{principal: principal, session: &session, token: cookie.Value}, nil
}

// safeMethod reports whether method changes nothing, so that it needs no
// CSRF token.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// csrfMatches reports whether r carries want in the X-CSRF-Token header,
// or, for a form post, in the csrf field.
func csrfMatches(r *http.Request, want string) bool {
	given := r.Header.Get(CSRFHeader)
	if given == "" && isFormPost(r) {
		r.Body = http.MaxBytesReader(nil, r.Body, maxBodyBytes)
		given = r.PostFormValue(csrfFormField)
	}
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1
}

func isFormPost(r *http.Request) bool {
	contentType, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(strings.ToLower(contentType)) == "application/x-www-form-urlencoded"
}

// clientIP returns the IP address of the request's peer. Headers such as
// X-Forwarded-For are not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clearCookie sends the cookie name already expired, so the browser
// deletes it.
func clearCookie(w http.ResponseWriter, r *http.Request, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}
