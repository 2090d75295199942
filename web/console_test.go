package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"helpline/queue"
	"helpline/records"
)

// console is the decoded console snapshot.
type console struct {
	Counselor   map[string]any               `json:"counselor"`
	Call        map[string]any               `json:"call"`
	QueueLabels map[string]map[string]string `json:"queue_labels"`
	Error       string                       `json:"error"`
}

// connect offers callID to counselor 1001 and, with answer set, connects
// them, as the distributor does.
func (f *boardFixture) connect(t *testing.T, callID string, answer bool) {
	t.Helper()
	ctx := context.Background()
	f.setState(t, "1001", queue.StateAvailable, "")
	r, err := f.queue.Reserve(ctx, queue.ReserveRequest{CallID: callID, Now: time.Now()})
	if err != nil {
		t.Fatalf("Reserve(%s): %v", callID, err)
	}
	if !answer {
		return
	}
	if err := f.queue.Connect(ctx, r, time.Now()); err != nil {
		t.Fatalf("Connect(%s): %v", callID, err)
	}
}

// recordQueuedCall stores the record of a call that chose Korean, self and
// digits 12 in the IVR and was queued wait ago.
func (f *boardFixture) recordQueuedCall(t *testing.T, id string, wait time.Duration, p records.Patch) {
	t.Helper()
	queued := time.Now().Add(-wait)
	p.QueuedAt, p.Queue = &queued, ptr(boardQueue)
	p.Digits, p.Language, p.CallerType, p.Priority = ptr("12"), ptr("ko"), ptr("self"), ptr("high_risk")
	f.recordCall(t, id, "01012345678", queued.Add(-time.Minute), p)
}

func TestConsoleShowsCallOfEachPhase(t *testing.T) {
	tests := []struct {
		name        string
		wrapUpSaved bool
		setup       func(t *testing.T, f *boardFixture)
		wantState   string
		want        map[string]any
	}{
		{
			name: "offered",
			setup: func(t *testing.T, f *boardFixture) {
				f.recordQueuedCall(t, "call-1", 40*time.Second, records.Patch{})
				f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now().Add(-40 * time.Second)})
				f.connect(t, "call-1", false)
			},
			wantState: "offered",
			want: map[string]any{"call_id": "call-1", "phase": "offered", "queue": boardQueue, "digits": "12",
				"language": "ko", "caller_type": "self", "high_risk": true, "kind": "call"},
		},
		{
			name: "on call",
			setup: func(t *testing.T, f *boardFixture) {
				answered := time.Now()
				f.recordQueuedCall(t, "call-1", 40*time.Second, records.Patch{
					CounselorAnsweredAt: &answered, Counselor: ptr("1001"), QueueWait: ptr(40 * time.Second)})
				f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: answered.Add(-40 * time.Second)})
				f.connect(t, "call-1", true)
			},
			wantState: "on_call",
			want: map[string]any{"call_id": "call-1", "phase": "on_call", "digits": "12", "waited_s": 40.0,
				"high_risk": true, "kind": "call"},
		},
		{
			name:        "wrap-up with the wrap-up saved",
			wrapUpSaved: true,
			setup: func(t *testing.T, f *boardFixture) {
				answered := time.Now().Add(-2 * time.Minute)
				f.recordQueuedCall(t, "call-1", 3*time.Minute, records.Patch{
					CounselorAnsweredAt: &answered, Counselor: ptr("1001"), QueueWait: ptr(time.Minute)})
				f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now()})
				f.connect(t, "call-1", true)
				if err := f.queue.FinishCall(context.Background(), "1001", time.Now().Add(time.Hour), time.Now()); err != nil {
					t.Fatalf("FinishCall: %v", err)
				}
			},
			wantState: "wrap_up",
			want: map[string]any{"call_id": "call-1", "phase": "wrap_up", "digits": "12", "waited_s": 60.0,
				"kind": "call", "wrap_up_saved": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBoardFixture(t, time.Time{})
			f.wrapUpSaved = tt.wrapUpSaved
			tt.setup(t, f)

			var c console
			status := f.get(t, "/api/v1/console?counselor=1001", &c)

			if status != http.StatusOK {
				t.Fatalf("status = %d, want 200; error %q", status, c.Error)
			}
			if c.Counselor["id"] != "1001" || c.Counselor["state"] != tt.wantState {
				t.Errorf("counselor = %v, want 1001 in %s", c.Counselor, tt.wantState)
			}
			for key, value := range tt.want {
				if c.Call[key] != value {
					t.Errorf("call.%s = %v, want %v", key, c.Call[key], value)
				}
			}
			if waited, _ := c.Call["waited_s"].(float64); tt.wantState == "offered" && (waited < 40 || waited > 100) {
				t.Errorf("offered call waited_s = %v, want the time since queueing, about 40", waited)
			}
			checkWaitingSince(t, tt.wantState, c.Call["waiting_since"])
		})
	}
}

// checkWaitingSince checks the call's waiting_since: the time the caller
// was queued, about 40 s ago, while the call is offered, and no value in
// the other phases, whose wait has ended.
func checkWaitingSince(t *testing.T, state string, value any) {
	t.Helper()

	text, _ := value.(string)
	if state != "offered" {
		if value != nil {
			t.Errorf("%s call waiting_since = %v, want none", state, value)
		}
		return
	}
	since, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		t.Fatalf("offered call waiting_since = %v, want an RFC 3339 time: %v", value, err)
	}
	if ago := time.Since(since); ago < 40*time.Second || ago > 100*time.Second {
		t.Errorf("offered call waiting_since is %s ago, want the time of queueing, about 40 s ago", ago)
	}
}

func TestConsoleWithoutCall(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	f.setState(t, "1001", queue.StateAvailable, "")

	var c console
	status := f.get(t, "/api/v1/console?counselor=1001", &c)

	if status != http.StatusOK || c.Counselor["state"] != "available" {
		t.Fatalf("status = %d, counselor %v, want 200 and available", status, c.Counselor)
	}
	if c.Call != nil {
		t.Errorf("call = %v, want none", c.Call)
	}
	if got := c.QueueLabels[boardQueue]["label_ko"]; got != "외로움 상담(한국어)" {
		t.Errorf("queue_labels[%s].label_ko = %q, want the configured label", boardQueue, got)
	}
	if got := c.QueueLabels[boardQueue]["label_en"]; got != "Loneliness (Korean)" {
		t.Errorf("queue_labels[%s].label_en = %q, want the configured label", boardQueue, got)
	}
}

func TestConsoleShowsWrapUpNotSaved(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	answered := time.Now()
	f.recordQueuedCall(t, "call-1", time.Minute, records.Patch{CounselorAnsweredAt: &answered, Counselor: ptr("1001")})
	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now()})
	f.connect(t, "call-1", true)
	if err := f.queue.FinishCall(context.Background(), "1001", time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Fatalf("FinishCall: %v", err)
	}

	var c console
	f.get(t, "/api/v1/console?counselor=1001", &c)

	if c.Call["wrap_up_saved"] != false {
		t.Errorf("wrap_up_saved = %v, want false", c.Call["wrap_up_saved"])
	}
}

func TestConsoleErrors(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		closeStore bool
		wantStatus int
		wantError  string
	}{
		{name: "unknown counselor", path: "/api/v1/console?counselor=9999", wantStatus: 404, wantError: `counselor "9999" is not configured`},
		{name: "unknown counselor stream", path: "/api/v1/console/stream?counselor=9999", wantStatus: 404, wantError: "not configured"},
		{name: "no counselor", path: "/api/v1/console", wantStatus: 400, wantError: `"counselor" query parameter is missing`},
		{name: "no counselor stream", path: "/api/v1/console/stream", wantStatus: 400, wantError: "missing"},
		{name: "records closed", path: "/api/v1/console?counselor=1001", closeStore: true, wantStatus: 503, wantError: "did not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBoardFixture(t, time.Time{})
			if tt.closeStore {
				f.recordQueuedCall(t, "call-1", time.Minute, records.Patch{})
				f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now()})
				f.connect(t, "call-1", true)
				if err := f.records.Close(); err != nil {
					t.Fatalf("closing the records: %v", err)
				}
			}

			var c console
			status := f.get(t, tt.path, &c)

			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if !strings.Contains(c.Error, tt.wantError) {
				t.Errorf("error = %q, want it to contain %q", c.Error, tt.wantError)
			}
		})
	}
}
