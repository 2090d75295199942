package web

import (
	"context"
	"errors"
	"sync"
)

// Causes of a request context that ends with its session.
var (
	// ErrSessionExpired ends the requests of a session at its expiry.
	ErrSessionExpired = errors.New("web session expired: log in again")
	// ErrLoggedOut ends the requests of a session at its logout.
	ErrLoggedOut = errors.New("web session logged out: log in again")
)

// sessionRequests tracks the requests in progress of each session, so
// that a logout ends them. Long requests such as event streams would
// otherwise go on sending data after the logout.
//
// NOTE: the tracking is per process. In shared mode a logout on one node
// ends the streams of that node only. Streams on other nodes end at the
// session's expiry, or when they reconnect and get 401.
type sessionRequests struct {
	// mu guards byToken.
	mu sync.Mutex
	// byToken maps a session token to the cancel functions of its
	// requests in progress.
	byToken map[string]map[*context.CancelCauseFunc]struct{}
}

func newSessionRequests() *sessionRequests {
	return &sessionRequests{byToken: make(map[string]map[*context.CancelCauseFunc]struct{})}
}

// track registers cancel under token and returns the function that
// removes it again.
func (s *sessionRequests) track(token string, cancel context.CancelCauseFunc) (untrack func()) {
	key := &cancel
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.byToken[token]
	if set == nil {
		set = make(map[*context.CancelCauseFunc]struct{})
		s.byToken[token] = set
	}
	set[key] = struct{}{}

	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.byToken[token], key)
		if len(s.byToken[token]) == 0 {
			delete(s.byToken, token)
		}
	}
}

// end cancels every request in progress of token with cause.
func (s *sessionRequests) end(token string, cause error) {
	s.mu.Lock()
	cancels := make([]context.CancelCauseFunc, 0, len(s.byToken[token]))
	for key := range s.byToken[token] {
		cancels = append(cancels, *key)
	}
	s.mu.Unlock()

	for _, cancel := range cancels {
		cancel(cause)
	}
}
