package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rs/zerolog"
)

// maxBodyBytes bounds a request body, so that a wrong client cannot make
// the server read without end.
const maxBodyBytes = 64 << 10

// API is the authenticated JSON API. Create it with NewAPI, add routes with
// Handle, and serve it as an http.Handler. Routes added with HandlePublic
// are served without a token.
type API struct {
	mux    *http.ServeMux
	public *http.ServeMux
	tokens [][]byte
	log    zerolog.Logger
}

// NewAPI returns an API that accepts requests bearing one of tokens
// ("Authorization: Bearer <token>"). Empty tokens are ignored, so an API
// built without a token refuses every request.
func NewAPI(tokens []string, log zerolog.Logger) *API {
	a := &API{mux: http.NewServeMux(), public: http.NewServeMux(), log: log}
	for _, t := range tokens {
		if t != "" {
			a.tokens = append(a.tokens, []byte(t))
		}
	}
	return a
}

// Handle registers h for pattern, in http.ServeMux syntax with a method,
// such as "POST /api/v1/counselors/{id}/state".
func (a *API) Handle(pattern string, h http.HandlerFunc) {
	a.mux.HandleFunc(pattern, h)
}

// HandlePublic registers h for pattern like Handle, but serves it without
// checking the token. Use it only for routes that reveal nothing, such as
// health checks.
func (a *API) HandlePublic(pattern string, h http.HandlerFunc) {
	a.public.HandleFunc(pattern, h)
}

// ServeHTTP serves a public route, or checks the token and dispatches the
// request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, pattern := a.public.Handler(r); pattern != "" {
		h.ServeHTTP(w, r)
		return
	}
	if !a.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="helpline"`)
		WriteError(w, http.StatusUnauthorized, "missing or wrong API token: send Authorization: Bearer <token>")
		return
	}
	a.mux.ServeHTTP(w, r)
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
