package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

// healthAPI returns an API with the health routes and one check that
// fails while failing is set.
func healthAPI(failing *atomic.Bool) *API {
	api := NewAPI([]string{"t0ken"}, zerolog.Nop())
	RegisterHealth(api,
		ReadyCheck{Name: "draining", Check: func() error { return nil }},
		ReadyCheck{Name: "queue", Check: func() error {
			if failing.Load() {
				return errors.New("queue store unreachable: 2 callers held, 0 state changes waiting")
			}
			return nil
		}},
	)
	return api
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestHealthzWithoutToken(t *testing.T) {
	rec := get(t, healthAPI(&atomic.Bool{}), "/healthz")

	if rec.Code != http.StatusOK {
		t.Errorf("status = %d, want 200", rec.Code)
	}
	if body, _ := io.ReadAll(rec.Body); strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("body = %q, want ok", body)
	}
}

func TestReadyzStates(t *testing.T) {
	tests := []struct {
		name       string
		failing    bool
		wantStatus int
		wantBody   readyBody
	}{
		{name: "ready", wantStatus: http.StatusOK, wantBody: readyBody{Status: "ready"}},
		{name: "queue unreachable", failing: true, wantStatus: http.StatusServiceUnavailable, wantBody: readyBody{
			Status:  "not_ready",
			Reasons: []string{"queue: queue store unreachable: 2 callers held, 0 state changes waiting"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var failing atomic.Bool
			failing.Store(tt.failing)

			rec := get(t, healthAPI(&failing), "/readyz")

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			var got readyBody
			if err := json.NewDecoder(rec.Body).Decode(&got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if got.Status != tt.wantBody.Status || strings.Join(got.Reasons, "|") != strings.Join(tt.wantBody.Reasons, "|") {
				t.Errorf("body = %+v, want %+v", got, tt.wantBody)
			}
		})
	}
}

func TestHealthLeavesOtherRoutesAuthenticated(t *testing.T) {
	api := healthAPI(&atomic.Bool{})
	api.Handle("GET /api/v1/secret", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

	if rec := get(t, api, "/api/v1/secret"); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/secret without a token = %d, want 401", rec.Code)
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/readyz", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("POST /readyz without a token = %d, want 401", rec.Code)
	}
}
