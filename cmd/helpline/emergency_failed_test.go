package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/e2e"
	"helpline/events"
)

// rejectingGateway is an outbound gateway on loopback UDP that answers
// every INVITE with status and ignores every other request.
func rejectingGateway(t *testing.T, status int, reason string) int {
	t.Helper()
	conn, err := net.ListenPacket("udp", net.JoinHostPort(e2e.Loopback, "0"))
	if err != nil {
		t.Fatalf("opening the gateway socket: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			msg, err := sipmsg.ParseMessage(buf[:n])
			req, ok := msg.(*sipmsg.Request)
			if err != nil || !ok || req.Method != sipmsg.INVITE {
				continue
			}
			res := sipmsg.NewResponseFromRequest(req, status, reason, nil)
			_, _ = conn.WriteTo([]byte(res.String()), from)
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).Port
}

// get sends a GET to the API and decodes the JSON response into v.
func (s *inProcessServer) get(t *testing.T, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.api.URL+path, nil)
	if err != nil {
		t.Fatalf("building the request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	res, err := s.api.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decoding the response: %v", path, err)
	}
	return res.StatusCode
}

// emergencyFailedFor matches an emergency_failed event of callID.
func emergencyFailedFor(callID string) func(events.Event) bool {
	return func(e events.Event) bool { return e.CallID == callID }
}

// The outbound gateway rejects the emergency call with 503, once asked
// through the API and once with the counselor's *9119#. Each time the bus
// gets emergency_failed with the reason. The counselor's console shows
// the failure, the board raises an alert, and the call goes on.
func TestEmergencyFailedWhenGatewayRejects(t *testing.T) {
	e2e.RequireTool(t, "baresip")
	gatewayPort := rejectingGateway(t, 503, "Service Unavailable")
	srv := startInProcess(t, func(cfg map[string]any) {
		e2e.MustSetConfig(t, cfg, "trunk.outbound_uri", "sip:gw@"+net.JoinHostPort(e2e.Loopback, strconv.Itoa(gatewayPort)))
	})
	counselor := e2e.StartTonePhone(t, srv.addr, "1001", "demo-1001", e2e.CounselorToneHz, true)
	srv.login(t, "1001")
	caller := e2e.StartTonePhone(t, srv.addr, "7000", "", e2e.CallerToneHz, false)

	caller.Command(t, "dial", "sip:120@"+srv.addr)
	callerCall := caller.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	counselor.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	srv.waitConnected(t, callerCall.ID)

	status, body := srv.post(t, "/api/v1/calls/"+callerCall.ID+"/emergency", map[string]string{"target": "119"})
	if status != http.StatusAccepted {
		t.Fatalf("emergency: status %d %v, want 202", status, body)
	}
	calling := srv.waitEvent(t, events.EmergencyCalling, nil)
	if calling.CallID != callerCall.ID || calling.CounselorID != "1001" || calling.Data["target"] != "119" {
		t.Errorf("emergency_calling event = %+v, want call %s, counselor 1001, target 119", calling, callerCall.ID)
	}
	failed := srv.waitEvent(t, events.EmergencyFailed, emergencyFailedFor(callerCall.ID))
	checkEmergencyFailed(t, failed, "1001", "119")
	checkConsoleFailure(t, srv)
	checkBoardAlert(t, srv, callerCall.ID)

	// The feature code takes the same path, and may try again after a
	// failure.
	counselor.Command(t, "sndcode", "*9119#")
	failed = srv.waitEvent(t, events.EmergencyFailed, emergencyFailedFor(callerCall.ID))
	checkEmergencyFailed(t, failed, "1001", "119")

	for _, event := range caller.Events() {
		if event.Type == e2e.EventCallClosed {
			t.Fatalf("the caller's call closed when the emergency call failed: %+v", event)
		}
	}
	caller.Hangup(t)
	caller.WaitEvent(t, e2e.EventCallClosed, time.Minute)
}

// checkEmergencyFailed checks an emergency_failed event for a 503 from
// the gateway.
func checkEmergencyFailed(t *testing.T, e events.Event, counselorID, target string) {
	t.Helper()
	if e.CounselorID != counselorID || e.Data["target"] != target {
		t.Errorf("emergency_failed event = %+v, want counselor %s, target %s", e, counselorID, target)
	}
	if e.Data["reason"] != "rejected" || e.Data["status"] != "503" {
		t.Errorf("emergency_failed data = %v, want reason rejected with status 503", e.Data)
	}
}

// checkConsoleFailure checks that counselor 1001's console shows the
// failed emergency call.
func checkConsoleFailure(t *testing.T, srv *inProcessServer) {
	t.Helper()
	var snapshot struct {
		Emergency struct {
			Call struct {
				Target    string `json:"target"`
				Status    string `json:"status"`
				Reason    string `json:"reason"`
				SIPStatus int    `json:"sip_status"`
			} `json:"call"`
		} `json:"emergency"`
	}
	if status := srv.get(t, "/api/v1/console?counselor=1001", &snapshot); status != http.StatusOK {
		t.Fatalf("GET console: status %d, want 200", status)
	}
	got := snapshot.Emergency.Call
	if got.Target != "119" || got.Status != "failed" || got.Reason != "rejected" || got.SIPStatus != 503 {
		t.Errorf("console emergency.call = %+v, want 119 failed, rejected with 503", got)
	}
}

// checkBoardAlert checks that the board raises emergency_failed for the
// call.
func checkBoardAlert(t *testing.T, srv *inProcessServer, callID string) {
	t.Helper()
	var board struct {
		Alerts []map[string]any `json:"alerts"`
	}
	if status := srv.get(t, "/api/v1/board", &board); status != http.StatusOK {
		t.Fatalf("GET board: status %d, want 200", status)
	}
	for _, alert := range board.Alerts {
		if alert["kind"] == "emergency_failed" && alert["call_id"] == callID && alert["counselor"] == "1001" && alert["target"] == "119" {
			return
		}
	}
	t.Errorf("board alerts = %v, want emergency_failed for call %s, counselor 1001, target 119", board.Alerts, callID)
}
