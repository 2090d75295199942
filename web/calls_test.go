package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"helpline/sip"
)

// fakeCalls records the call actions and returns err.
type fakeCalls struct {
	err       error
	emergency []string
	monitor   []string
}

func (f *fakeCalls) CallEmergency(callID, target string) error {
	f.emergency = append(f.emergency, callID+" "+target)
	return f.err
}

func (f *fakeCalls) MonitorCall(callID, supervisorID string, mode sip.MonitorMode) error {
	f.monitor = append(f.monitor, callID+" "+supervisorID+" "+string(mode))
	return f.err
}

// postCall sends body to path on an API with the call routes.
func postCall(t *testing.T, calls CallControl, path, body string) (*httptest.ResponseRecorder, map[string]string) {
	t.Helper()
	api := NewAPI([]string{testToken}, zerolog.Nop())
	RegisterCalls(api, CallsDeps{Calls: calls, Log: zerolog.Nop()})

	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)

	var decoded map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &decoded); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", rec.Body.String(), err)
	}
	return rec, decoded
}

func TestEmergencyRouteAccepts(t *testing.T) {
	calls := &fakeCalls{}
	rec, body := postCall(t, calls, "/api/v1/calls/abc@trunk/emergency", `{"target":"119"}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %v", rec.Code, body)
	}
	if body["call_id"] != "abc@trunk" || body["target"] != "119" || body["status"] != "calling" {
		t.Errorf("body = %v", body)
	}
	if len(calls.emergency) != 1 || calls.emergency[0] != "abc@trunk 119" {
		t.Errorf("CallEmergency calls = %v", calls.emergency)
	}
}

func TestMonitorRouteAccepts(t *testing.T) {
	calls := &fakeCalls{}
	rec, body := postCall(t, calls, "/api/v1/calls/abc/monitor", `{"supervisor":"1003","mode":"whisper"}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %v", rec.Code, body)
	}
	if body["mode"] != "whisper" || body["supervisor"] != "1003" {
		t.Errorf("body = %v", body)
	}
	if len(calls.monitor) != 1 || calls.monitor[0] != "abc 1003 whisper" {
		t.Errorf("MonitorCall calls = %v", calls.monitor)
	}
}

func TestCallRoutesRejectBadRequests(t *testing.T) {
	cases := []struct {
		name    string
		path    string
		body    string
		status  int
		message string
	}{
		{"emergency without target", "/api/v1/calls/a/emergency", `{}`, http.StatusUnprocessableEntity, "target is missing"},
		{"emergency with unknown field", "/api/v1/calls/a/emergency", `{"number":"119"}`, http.StatusBadRequest, "unknown field"},
		{"emergency not JSON", "/api/v1/calls/a/emergency", `119`, http.StatusBadRequest, "bad request body"},
		{"monitor without supervisor", "/api/v1/calls/a/monitor", `{"mode":"listen"}`, http.StatusUnprocessableEntity, "supervisor is missing"},
		{"monitor with bad mode", "/api/v1/calls/a/monitor", `{"supervisor":"1003","mode":"spy"}`, http.StatusUnprocessableEntity, "use listen, whisper or barge"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := &fakeCalls{}
			rec, body := postCall(t, calls, c.path, c.body)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d: %v", rec.Code, c.status, body)
			}
			if !strings.Contains(body["error"], c.message) {
				t.Errorf("error %q does not contain %q", body["error"], c.message)
			}
			if len(calls.emergency)+len(calls.monitor) != 0 {
				t.Errorf("the server was called for a bad request")
			}
		})
	}
}

func TestCallRoutesMapServerErrors(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{sip.ErrCallNotFound, http.StatusNotFound},
		{sip.ErrTargetNotAllowed, http.StatusForbidden},
		{sip.ErrNotSupervisor, http.StatusForbidden},
		{sip.ErrNoOutboundRoute, http.StatusUnprocessableEntity},
		{sip.ErrMonitorOwnCall, http.StatusUnprocessableEntity},
		{sip.ErrCallNotTalking, http.StatusConflict},
		{sip.ErrPartyBusy, http.StatusConflict},
		{sip.ErrSupervisorNotRegistered, http.StatusConflict},
		{fmt.Errorf("unexpected"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			calls := &fakeCalls{err: fmt.Errorf("checking the request: %w", c.err)}
			for _, request := range []struct{ path, body string }{
				{"/api/v1/calls/a/emergency", `{"target":"118"}`},
				{"/api/v1/calls/a/monitor", `{"supervisor":"1003","mode":"barge"}`},
			} {
				rec, body := postCall(t, calls, request.path, request.body)
				if rec.Code != c.status {
					t.Errorf("%s: status %d, want %d", request.path, rec.Code, c.status)
				}
				if !strings.Contains(body["error"], c.err.Error()) {
					t.Errorf("%s: error %q does not contain %q", request.path, body["error"], c.err)
				}
			}
		})
	}
}

func TestCallRoutesNeedToken(t *testing.T) {
	api := NewAPI([]string{testToken}, zerolog.Nop())
	calls := &fakeCalls{}
	RegisterCalls(api, CallsDeps{Calls: calls, Log: zerolog.Nop()})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/calls/a/emergency", strings.NewReader(`{"target":"119"}`))
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || len(calls.emergency) != 0 {
		t.Errorf("status %d with %d calls, want 401 and none", rec.Code, len(calls.emergency))
	}
}
