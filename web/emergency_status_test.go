package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/sip"
)

// fakeEmergencies is the SIP server's view of the emergency calls, as
// the board and console read it.
type fakeEmergencies struct {
	mu     sync.Mutex // guards states
	states map[string]sip.EmergencyState
}

func (f *fakeEmergencies) EmergencyState(callID string) (sip.EmergencyState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	state, ok := f.states[callID]
	return state, ok
}

func (f *fakeEmergencies) set(callID string, state sip.EmergencyState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[callID] = state
}

// consoleEmergency decodes the emergency part of a console snapshot.
type consoleEmergency struct {
	Emergency struct {
		Available bool     `json:"available"`
		Targets   []string `json:"targets"`
		Call      *struct {
			Target    string    `json:"target"`
			Status    string    `json:"status"`
			Reason    string    `json:"reason"`
			SIPStatus int       `json:"sip_status"`
			At        time.Time `json:"at"`
		} `json:"call"`
	} `json:"emergency"`
}

// connectedCall records call-1 and connects it to counselor 1001.
func connectedCall(t *testing.T, f *boardFixture) {
	t.Helper()
	f.recordQueuedCall(t, "call-1", 40*time.Second, records.Patch{})
	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now().Add(-40 * time.Second)})
	f.connect(t, "call-1", true)
}

func TestConsoleShowsEmergencyCall(t *testing.T) {
	at := time.Date(2026, time.March, 1, 12, 0, 5, 0, time.UTC)
	tests := []struct {
		name  string
		state sip.EmergencyState
	}{
		{"calling", sip.EmergencyState{Target: "119", Status: sip.EmergencyCalling, At: at}},
		{"joined", sip.EmergencyState{Target: "119", Status: sip.EmergencyJoined, At: at}},
		{"failed", sip.EmergencyState{Target: "112", Status: sip.EmergencyFailed, Reason: sip.EmergencyReasonRejected, SIPStatus: 503, At: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBoardFixture(t, time.Time{})
			connectedCall(t, f)
			f.emergencies.set("call-1", tt.state)

			var c consoleEmergency
			if status := f.get(t, "/api/v1/console?counselor=1001", &c); status != http.StatusOK {
				t.Fatalf("GET console = %d, want 200", status)
			}

			got := c.Emergency.Call
			if got == nil {
				t.Fatalf("emergency.call missing, want %+v", tt.state)
			}
			if got.Target != tt.state.Target || got.Status != tt.state.Status {
				t.Errorf("emergency.call = %+v, want target %s status %s", got, tt.state.Target, tt.state.Status)
			}
			if got.Reason != tt.state.Reason || got.SIPStatus != tt.state.SIPStatus {
				t.Errorf("emergency.call reason %q status %d, want %q %d", got.Reason, got.SIPStatus, tt.state.Reason, tt.state.SIPStatus)
			}
			if !got.At.Equal(at) {
				t.Errorf("emergency.call at = %s, want %s", got.At, at)
			}
		})
	}
}

func TestConsoleEmergencyOnlyOnCall(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	f.recordQueuedCall(t, "call-1", 40*time.Second, records.Patch{})
	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now().Add(-40 * time.Second)})
	f.connect(t, "call-1", false)
	f.emergencies.set("call-1", sip.EmergencyState{Target: "119", Status: sip.EmergencyFailed, Reason: sip.EmergencyReasonTimeout})

	var c consoleEmergency
	if status := f.get(t, "/api/v1/console?counselor=1001", &c); status != http.StatusOK {
		t.Fatalf("GET console = %d, want 200", status)
	}
	if c.Emergency.Call != nil {
		t.Errorf("emergency.call = %+v while the call is only offered, want none", c.Emergency.Call)
	}
}

func TestConsoleStreamWakesOnEmergencyFailed(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	connectedCall(t, f)
	f.emergencies.set("call-1", sip.EmergencyState{Target: "119", Status: sip.EmergencyCalling, At: time.Now()})
	blocks := f.openStream(t, "/api/v1/console/stream?counselor=1001")

	first := nextEvent(t, blocks, "console", eventDeadline)
	if !strings.Contains(first.data, `"status":"calling"`) {
		t.Fatalf("first snapshot = %s, want the emergency call calling", first.data)
	}

	f.emergencies.set("call-1", sip.EmergencyState{Target: "119", Status: sip.EmergencyFailed, Reason: sip.EmergencyReasonTimeout, At: time.Now()})
	f.bus.Publish(events.Event{Type: events.EmergencyFailed, CallID: "call-1", CounselorID: "1001",
		Data: map[string]string{"target": "119", "reason": "timeout"}})

	after := nextEvent(t, blocks, "console", afterEventDeadline)
	var c consoleEmergency
	if err := json.Unmarshal([]byte(after.data), &c); err != nil {
		t.Fatalf("decoding the snapshot %s: %v", after.data, err)
	}
	if c.Emergency.Call == nil || c.Emergency.Call.Status != "failed" || c.Emergency.Call.Reason != "timeout" {
		t.Errorf("snapshot after emergency_failed = %s, want the emergency call failed for timeout", after.data)
	}
}

func TestBoardEmergencyFailedAlert(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	connectedCall(t, f)
	failedAt := time.Now().Add(-3 * time.Second).UTC().Truncate(time.Second)
	f.emergencies.set("call-1", sip.EmergencyState{Target: "119", Status: sip.EmergencyFailed, Reason: sip.EmergencyReasonBusy, At: failedAt})

	b := f.board(t)

	want := map[string]any{"kind": "emergency_failed", "counselor": "1001", "call_id": "call-1", "target": "119", "reason": "busy",
		"since": failedAt.Format(time.RFC3339)}
	if !hasAlert(b.Alerts, want) {
		t.Errorf("alerts = %v, want one with %v", b.Alerts, want)
	}
	if len(b.Alerts) == 0 || b.Alerts[0]["kind"] != "emergency_failed" {
		t.Errorf("alerts = %v, want emergency_failed first", b.Alerts)
	}
}

func TestBoardEmergencyBadge(t *testing.T) {
	tests := []struct {
		name       string
		status     string
		reason     string
		wantAlert  bool
		wantStatus string
	}{
		{"calling", sip.EmergencyCalling, "", false, "calling"},
		{"calling again after a failure", sip.EmergencyCalling, sip.EmergencyReasonTimeout, true, "calling"},
		{"joined", sip.EmergencyJoined, "", false, "joined"},
		{"failed", sip.EmergencyFailed, sip.EmergencyReasonBusy, true, "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBoardFixture(t, time.Time{})
			connectedCall(t, f)
			f.emergencies.set("call-1", sip.EmergencyState{Target: "119", Status: tt.status, Reason: tt.reason, At: time.Now()})

			b := f.board(t)

			var row map[string]any
			for _, c := range b.Counselors {
				if c["id"] == "1001" {
					row = c
				}
			}
			emergency, _ := row["emergency"].(map[string]any)
			if emergency["status"] != tt.wantStatus || emergency["target"] != "119" {
				t.Errorf("counselor 1001 emergency = %v, want status %s for 119", row["emergency"], tt.wantStatus)
			}
			if got := hasAlert(b.Alerts, map[string]any{"kind": "emergency_failed"}); got != tt.wantAlert {
				t.Errorf("emergency_failed alert present = %t, want %t (alerts %v)", got, tt.wantAlert, b.Alerts)
			}
		})
	}
}

func TestBoardNoEmergencyAfterCall(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	f.setState(t, "1001", queue.StateAvailable, "")
	f.emergencies.set("call-1", sip.EmergencyState{Target: "119", Status: sip.EmergencyFailed, Reason: sip.EmergencyReasonTimeout})

	b := f.board(t)

	if hasAlert(b.Alerts, map[string]any{"kind": "emergency_failed"}) {
		t.Errorf("alerts = %v, want no emergency_failed for a counselor off the call", b.Alerts)
	}
}
