package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// maxBodyBytes bounds a request body, so that a wrong client cannot make
// the server read without end.
const maxBodyBytes = 64 << 10

// API is the authenticated JSON API and the web pages. Create it with
// NewAPI, add routes with Handle, HandleRoles or HandlePage, and serve it
// as an http.Handler. Routes added with HandlePublic are served without a
// token.
type API struct {
	mux    *http.ServeMux
	public *http.ServeMux
	tokens [][]byte
	log    zerolog.Logger
	// pages holds the patterns registered with HandlePage.
	pages map[string]bool
	// login is nil while logins are off; then only the token is accepted.
	login   *loginService
	auditor Auditor
	now     func() time.Time
}

// Option changes how NewAPI sets up an API.
type Option func(*API)

// WithClock sets the clock of session expiry and lockouts. The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(a *API) { a.now = now }
}

// NewAPI returns an API that accepts requests bearing one of tokens
// ("Authorization: Bearer <token>") as RoleAdmin. Empty tokens are
// ignored, so an API built without a token or WithLogin refuses every
// request.
func NewAPI(tokens []string, log zerolog.Logger, opts ...Option) *API {
	a := &API{mux: http.NewServeMux(), public: http.NewServeMux(), log: log, pages: make(map[string]bool), now: time.Now}
	for _, t := range tokens {
		if t != "" {
			a.tokens = append(a.tokens, []byte(t))
		}
	}
	for _, opt := range opts {
		opt(a)
	}
	a.registerAccessRoutes()
	return a
}

// Handle registers h for pattern, in http.ServeMux syntax with a method,
// such as "POST /api/v1/counselors/{id}/state". Only the bearer token and
// admin logins may use it.
func (a *API) Handle(pattern string, h http.HandlerFunc) {
	a.HandleRoles(pattern, nil, h)
}

// HandlePublic registers h for pattern like Handle, but serves it without
// checking the token. Use it only for routes that reveal nothing, such as
// health checks.
func (a *API) HandlePublic(pattern string, h http.HandlerFunc) {
	a.public.HandleFunc(pattern, h)
}

// authorized reports whether r carries one of the API's tokens.
func (a *API) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	given := []byte(strings.TrimSpace(token))
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(given, t) == 1 {
			return true
		}
	}
	return false
}

// WriteJSON writes v as the JSON body of a response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// WriteError writes {"error": message} with status.
func WriteError(w http.ResponseWriter, status int, message string) {
	WriteJSON(w, status, errorBody{Error: message})
}

// ErrBadBody is wrapped by DecodeJSON errors; answer them with 400.
var ErrBadBody = errors.New("bad request body")

// DecodeJSON reads r's body into v. Unknown fields, trailing data and
// bodies over 64 KiB are errors wrapping ErrBadBody whose message names
// the problem.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w: send one JSON object", ErrBadBody, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JSON object: send one JSON object", ErrBadBody)
	}
	return nil
}
