package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"helpline/queue"
)

func TestRegisterPriority(t *testing.T) {
	const token = "secret"
	tests := []struct {
		name       string
		callID     string
		body       string
		raiseErr   error
		wantStatus int
		wantBody   string
		wantRaised bool
	}{
		{name: "waiting caller", callID: "call-1", body: `{"priority":"high_risk"}`, wantStatus: http.StatusOK, wantBody: `"priority":"high_risk"`, wantRaised: true},
		{name: "caller gone", callID: "call-2", body: `{"priority":"high_risk"}`, raiseErr: fmt.Errorf("raise: %w", queue.ErrNotWaiting), wantStatus: http.StatusNotFound, wantBody: "not waiting", wantRaised: true},
		{name: "store failure", callID: "call-3", body: `{"priority":"high_risk"}`, raiseErr: errors.New("store down"), wantStatus: http.StatusInternalServerError, wantBody: "try again", wantRaised: true},
		{name: "other priority", callID: "call-4", body: `{"priority":"low"}`, wantStatus: http.StatusBadRequest, wantBody: "not supported"},
		{name: "bad body", callID: "call-5", body: `{"priority":`, wantStatus: http.StatusBadRequest, wantBody: "bad request body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raised []string
			api := NewAPI([]string{token}, zerolog.Nop())
			RegisterPriority(api, PriorityDeps{RaisePriority: func(_ context.Context, callID string) error {
				raised = append(raised, callID)
				return tt.raiseErr
			}})

			req := httptest.NewRequest(http.MethodPost, "/api/v1/calls/"+tt.callID+"/priority", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body = %s, want it to contain %q", rec.Body, tt.wantBody)
			}
			if got := len(raised) == 1 && raised[0] == tt.callID; got != tt.wantRaised {
				t.Errorf("RaisePriority calls = %v, want a call for %s: %v", raised, tt.callID, tt.wantRaised)
			}
		})
	}
}
