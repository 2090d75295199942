package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/routing"
	"helpline/sip"
	"helpline/web"
)

// boardQueue is the queue the board tests use.
const boardQueue = "loneliness_ko"

// kst is the time zone of the board tests' days.
var kst = time.FixedZone("KST", 9*60*60)

// boardNoon is the fixed clock of the board tests that check figures.
var boardNoon = time.Date(2026, time.March, 1, 12, 0, 0, 0, kst)

// boardFixture serves the board and console routes over a memory queue
// store, a real event bus and an SQLite records store.
type boardFixture struct {
	queue     *queue.MemoryStore
	bus       *events.Bus
	records   *records.Store
	callbacks *callback.Manager
	streams   *web.Streams
	server    *httptest.Server
	// wrapUpSaved is what ConsoleDeps.WrapUpSaved returns.
	wrapUpSaved bool
	// audit receives the API's audit entries.
	audit *memorySessions
	// emergencies are the emergency calls the board and console show.
	emergencies *fakeEmergencies
}

// newBoardFixture starts the routes. A zero now uses the real clock.
func newBoardFixture(t *testing.T, now time.Time) *boardFixture {
	t.Helper()
	ctx := context.Background()
	f := &boardFixture{queue: queue.NewMemoryStore(), bus: events.NewBus(), streams: web.NewStreams(), audit: newMemorySessions(),
		emergencies: &fakeEmergencies{states: map[string]sip.EmergencyState{}}}
	for _, id := range []string{"1001", "1002"} {
		if err := f.queue.AddCounselor(ctx, id, time.Now()); err != nil {
			t.Fatalf("AddCounselor(%s): %v", id, err)
		}
	}

	key, err := records.NewKey(bytes.Repeat([]byte{7}, records.KeySize))
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	f.records, err = records.Open(ctx, filepath.Join(t.TempDir(), "records.db"), key)
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	t.Cleanup(func() { _ = f.records.Close() })
	f.callbacks = callback.NewManager(callback.Config{Attempts: 3, Interval: time.Minute}, f.queue, nil)

	states := counselor.New(counselor.Config{Store: f.queue, Events: f.bus, Names: []counselor.Named{{ID: "1001", Name: "Kim"}}})
	clock := time.Now
	if !now.IsZero() {
		clock = func() time.Time { return now }
	}
	api := web.NewAPI([]string{testToken}, zerolog.Nop(), web.WithAuditor(f.audit))
	web.RegisterBoard(api, web.BoardDeps{
		Queue: f.queue, Queues: []string{boardQueue}, Labels: map[string]web.QueueLabel{boardQueue: {Ko: "외로움 상담(한국어)"}},
		Counselors: states, Records: f.records,
		Callbacks: f.callbacks, EmergencyStates: f.emergencies, Events: f.bus, Streams: f.streams, Now: clock, Location: kst,
	})
	web.RegisterConsole(api, web.ConsoleDeps{
		Labels:     map[string]web.QueueLabel{boardQueue: {Ko: "외로움 상담(한국어)", En: "Loneliness (Korean)"}},
		Counselors: states, Records: f.records, Callbacks: f.callbacks, EmergencyStates: f.emergencies,
		Events: f.bus, Streams: f.streams,
		WrapUpSaved: func(context.Context, string) (bool, error) { return f.wrapUpSaved, nil },
	})

	f.server = httptest.NewUnstartedServer(api)
	f.server.Config.RegisterOnShutdown(f.streams.Close)
	f.server.Start()
	t.Cleanup(f.server.Close)
	return f
}

// get sends a GET with the test token, decodes the JSON response into v
// and returns the status.
func (f *boardFixture) get(t *testing.T, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.server.URL+path, nil)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decoding body: %v", path, err)
	}
	return res.StatusCode
}

// recordCall stores a call record: started at started with number, then
// patched with p.
func (f *boardFixture) recordCall(t *testing.T, id, number string, started time.Time, p records.Patch) {
	t.Helper()
	ctx := context.Background()
	if err := f.records.Start(ctx, records.StartInfo{CallID: id, CallerNumber: number, StartedAt: started}); err != nil {
		t.Fatalf("Start(%s): %v", id, err)
	}
	if err := f.records.Update(ctx, id, p); err != nil {
		t.Fatalf("Update(%s): %v", id, err)
	}
}

// enqueue puts a caller in the board's queue.
func (f *boardFixture) enqueue(t *testing.T, c queue.Caller) {
	t.Helper()
	c.Queue = boardQueue
	if err := f.queue.Enqueue(context.Background(), c); err != nil {
		t.Fatalf("Enqueue(%s): %v", c.CallID, err)
	}
}

// setState applies a manual counselor state change in the queue store.
func (f *boardFixture) setState(t *testing.T, id string, state queue.CounselorState, reason string) {
	t.Helper()
	if err := f.queue.SetState(context.Background(), id, state, reason, time.Now()); err != nil {
		t.Fatalf("SetState(%s, %s): %v", id, state, err)
	}
}

// board is the decoded board snapshot.
type board struct {
	At            time.Time `json:"at"`
	ServiceLevelS int       `json:"service_level_s"`
	WaitAlertS    int       `json:"wait_alert_s"`
	Queues        []struct {
		Name         string           `json:"name"`
		Waiting      []map[string]any `json:"waiting"`
		LongestWaitS int              `json:"longest_wait_s"`
	} `json:"queues"`
	Counselors []map[string]any `json:"counselors"`
	Today      map[string]any   `json:"today"`
	LastHour   map[string]any   `json:"last_hour"`
	Alerts     []map[string]any `json:"alerts"`
	Series     []map[string]any `json:"series"`
}

func (f *boardFixture) board(t *testing.T) board {
	t.Helper()
	var b board
	if status := f.get(t, "/api/v1/board", &b); status != http.StatusOK {
		t.Fatalf("GET /api/v1/board status = %d, want 200", status)
	}
	return b
}

func TestBoardShowsWaitingCallersMasked(t *testing.T) {
	f := newBoardFixture(t, boardNoon)
	f.recordCall(t, "call-1", "01012345678", boardNoon.Add(-time.Minute), records.Patch{Digits: ptr("12")})
	f.recordCall(t, "call-2", "", boardNoon.Add(-time.Minute), records.Patch{Language: ptr("en")})
	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: boardNoon.Add(-35 * time.Second), Priority: 10,
		Attributes: map[string]string{"language": "ko", "caller_type": "self", "priority": "high_risk"}})
	f.enqueue(t, queue.Caller{CallID: "call-2", EnqueuedAt: boardNoon.Add(-10 * time.Second)})
	task, err := f.callbacks.Create(context.Background(), callback.Request{
		CallID: "call-0", Queue: boardQueue, Number: "01099998888", Reason: "requested", EnqueuedAt: boardNoon.Add(-5 * time.Second),
	})
	if err != nil {
		t.Fatalf("callback Create: %v", err)
	}
	f.setState(t, "1001", queue.StateAvailable, "")
	if _, err := f.queue.Reserve(context.Background(), queue.ReserveRequest{CallID: "call-1", Now: time.Now()}); err != nil {
		t.Fatalf("Reserve: %v", err)
	}

	b := f.board(t)

	if len(b.Queues) != 1 || b.Queues[0].Name != boardQueue {
		t.Fatalf("queues = %+v, want %s alone", b.Queues, boardQueue)
	}
	waiting := b.Queues[0].Waiting
	if len(waiting) != 3 {
		t.Fatalf("waiting = %v, want 3 entries", waiting)
	}
	want := []map[string]any{
		{"call_id": "call-1", "number": "010-****-5678", "waited_s": 35.0, "language": "ko", "caller_type": "self",
			"high_risk": true, "kind": "call", "offered_to": "1001"},
		{"call_id": "call-2", "number": "withheld", "waited_s": 10.0, "language": "en", "caller_type": "",
			"high_risk": false, "kind": "call", "offered_to": ""},
		{"call_id": task.ID, "number": "010-****-8888", "waited_s": 5.0, "high_risk": false, "kind": "callback"},
	}
	for i, fields := range want {
		for key, value := range fields {
			if waiting[i][key] != value {
				t.Errorf("waiting[%d].%s = %v, want %v", i, key, waiting[i][key], value)
			}
		}
	}
	if b.Queues[0].LongestWaitS != 35 {
		t.Errorf("longest_wait_s = %d, want 35", b.Queues[0].LongestWaitS)
	}
	raw, _ := json.Marshal(b)
	for _, full := range []string{"12345678", "99998888"} {
		if strings.Contains(string(raw), full) {
			t.Errorf("board contains the unmasked digits %s: %s", full, raw)
		}
	}
}

func TestBoardFiguresOfKnownRecords(t *testing.T) {
	f := newBoardFixture(t, boardNoon)
	call := func(id string, queued, answered, ended time.Duration, outcome records.Outcome, counselorID string) {
		t.Helper()
		q := boardNoon.Add(queued)
		p := records.Patch{QueuedAt: &q, Queue: ptr(boardQueue)}
		if answered != 0 {
			a := boardNoon.Add(answered)
			wait := a.Sub(q)
			p.CounselorAnsweredAt, p.QueueWait, p.Counselor = &a, &wait, &counselorID
		}
		e := boardNoon.Add(ended)
		p.EndedAt, p.Outcome = &e, &outcome
		f.recordCall(t, id, "01012345678", q.Add(-30*time.Second), p)
	}
	call("r1", -30*time.Minute, -30*time.Minute+10*time.Second, -25*time.Minute+10*time.Second, records.OutcomeAnswered, "1001")
	call("r2", -3*time.Hour, -3*time.Hour+time.Minute, -3*time.Hour+3*time.Minute, records.OutcomeAnswered, "1002")
	call("r3", -10*time.Minute, 0, -9*time.Minute, records.OutcomeAbandonedInQueue, "")
	call("r4", -13*time.Hour, -13*time.Hour+5*time.Second, -13*time.Hour+time.Minute, records.OutcomeAnswered, "1001")
	err := f.records.CreateCallback(context.Background(), records.Callback{TaskID: "cb-1", CallID: "r3", Queue: boardQueue,
		Reason: "abandoned", State: records.CallbackPending, Number: "01012345678", EnqueuedAt: boardNoon, CreatedAt: boardNoon})
	if err != nil {
		t.Fatalf("CreateCallback: %v", err)
	}

	b := f.board(t)

	wantToday := map[string]any{"offered": 3.0, "answered": 2.0, "abandoned": 1.0, "abandon_rate": 0.333,
		"service_level": 0.333, "asa_s": 35.0, "aht_s": 210.0, "callbacks_pending": 1.0}
	wantHour := map[string]any{"offered": 2.0, "answered": 1.0, "abandoned": 1.0, "abandon_rate": 0.5,
		"service_level": 0.5, "asa_s": 10.0, "aht_s": 300.0, "callbacks_pending": 1.0}
	for key, value := range wantToday {
		if b.Today[key] != value {
			t.Errorf("today.%s = %v, want %v", key, b.Today[key], value)
		}
	}
	for key, value := range wantHour {
		if b.LastHour[key] != value {
			t.Errorf("last_hour.%s = %v, want %v", key, b.LastHour[key], value)
		}
	}
	if b.ServiceLevelS != 20 || b.WaitAlertS != 120 {
		t.Errorf("settings = %d s and %d s, want the defaults 20 and 120", b.ServiceLevelS, b.WaitAlertS)
	}

	if len(b.Series) != 48 {
		t.Fatalf("series has %d points, want 48 quarter hours from midnight to noon", len(b.Series))
	}
	checks := map[int]any{36: 0.0, 46: 1.0, 47: 0.0, 10: nil}
	for i, want := range checks {
		if b.Series[i]["service_level"] != want {
			t.Errorf("series[%d].service_level = %v, want %v", i, b.Series[i]["service_level"], want)
		}
	}
	if last := b.Series[47]["at"]; last != boardNoon.Format(time.RFC3339) {
		t.Errorf("last point at %v, want %s", last, boardNoon.Format(time.RFC3339))
	}

	calls := map[string]any{}
	for _, c := range b.Counselors {
		calls[c["id"].(string)] = c["calls_today"]
	}
	if calls["1001"] != 1.0 || calls["1002"] != 1.0 {
		t.Errorf("calls_today = %v, want 1 each (r4 was answered yesterday)", calls)
	}
}

func TestBoardAlerts(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *boardFixture)
		want  map[string]any
		// absent is an alert kind that must not appear.
		absent string
	}{
		{
			name: "high risk caller waiting",
			setup: func(t *testing.T, f *boardFixture) {
				f.enqueue(t, queue.Caller{CallID: "risk", EnqueuedAt: boardNoon.Add(-5 * time.Second), Priority: 10})
			},
			want:   map[string]any{"kind": "high_risk_waiting", "queue": boardQueue, "call_id": "risk"},
			absent: "long_wait",
		},
		{
			name: "wait above the alert",
			setup: func(t *testing.T, f *boardFixture) {
				f.enqueue(t, queue.Caller{CallID: "slow", EnqueuedAt: boardNoon.Add(-3 * time.Minute)})
			},
			want:   map[string]any{"kind": "long_wait", "queue": boardQueue, "call_id": "slow"},
			absent: "high_risk_waiting",
		},
		{
			name:  "no counselor logged in",
			setup: func(*testing.T, *boardFixture) {},
			want:  map[string]any{"kind": "no_counselor"},
		},
		{
			name: "every logged-in counselor on break with a caller waiting",
			setup: func(t *testing.T, f *boardFixture) {
				f.setState(t, "1001", queue.StateAvailable, "")
				f.setState(t, "1001", queue.StateBreak, "lunch")
				f.enqueue(t, queue.Caller{CallID: "waiting", EnqueuedAt: boardNoon.Add(-5 * time.Second)})
			},
			want:   map[string]any{"kind": "no_available"},
			absent: "no_counselor",
		},
		{
			name: "counselor paused for missed calls",
			setup: func(t *testing.T, f *boardFixture) {
				f.setState(t, "1002", queue.StateAvailable, "")
				f.setState(t, "1002", queue.StateBreak, routing.MissedCallsReason)
			},
			want:   map[string]any{"kind": "missed_pause", "counselor": "1002"},
			absent: "no_counselor",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBoardFixture(t, boardNoon)
			tt.setup(t, f)

			b := f.board(t)

			if !hasAlert(b.Alerts, tt.want) {
				t.Errorf("alerts = %v, want one with %v", b.Alerts, tt.want)
			}
			if tt.absent != "" && hasAlert(b.Alerts, map[string]any{"kind": tt.absent}) {
				t.Errorf("alerts = %v, want no %s", b.Alerts, tt.absent)
			}
		})
	}
}

func TestBoardNoAvailableNeedsWaitingCallers(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *boardFixture)
	}{
		{"break without callers", func(t *testing.T, f *boardFixture) {
			f.setState(t, "1001", queue.StateAvailable, "")
			f.setState(t, "1001", queue.StateBreak, "lunch")
		}},
		{"one counselor available", func(t *testing.T, f *boardFixture) {
			f.setState(t, "1001", queue.StateAvailable, "")
			f.setState(t, "1001", queue.StateBreak, "lunch")
			f.setState(t, "1002", queue.StateAvailable, "")
			f.enqueue(t, queue.Caller{CallID: "waiting", EnqueuedAt: boardNoon.Add(-5 * time.Second)})
		}},
		{"nobody logged in", func(t *testing.T, f *boardFixture) {
			f.enqueue(t, queue.Caller{CallID: "waiting", EnqueuedAt: boardNoon.Add(-5 * time.Second)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBoardFixture(t, boardNoon)
			tt.setup(t, f)
			if b := f.board(t); hasAlert(b.Alerts, map[string]any{"kind": "no_available"}) {
				t.Errorf("alerts = %v, want no no_available", b.Alerts)
			}
		})
	}
}

func TestBoardShowsQueueLabels(t *testing.T) {
	f := newBoardFixture(t, boardNoon)
	var raw struct {
		Queues []map[string]any `json:"queues"`
	}
	if status := f.get(t, "/api/v1/board", &raw); status != http.StatusOK {
		t.Fatalf("GET /api/v1/board status = %d, want 200", status)
	}
	if len(raw.Queues) != 1 || raw.Queues[0]["label_ko"] != "외로움 상담(한국어)" || raw.Queues[0]["label_en"] != "" {
		t.Errorf("queues = %v, want the Korean label and an empty English one", raw.Queues)
	}
}

func TestBoardMarksMissedPause(t *testing.T) {
	f := newBoardFixture(t, boardNoon)
	f.setState(t, "1001", queue.StateAvailable, "")
	f.setState(t, "1001", queue.StateBreak, routing.MissedCallsReason)
	f.setState(t, "1002", queue.StateAvailable, "")
	f.setState(t, "1002", queue.StateBreak, "lunch")

	b := f.board(t)

	pauses := map[string]any{}
	for _, c := range b.Counselors {
		pauses[c["id"].(string)] = c["missed_pause"]
	}
	if pauses["1001"] != true || pauses["1002"] != false {
		t.Errorf("missed_pause = %v, want 1001 true and 1002 (lunch) false", pauses)
	}
}

func TestBoardStoreFailure(t *testing.T) {
	f := newBoardFixture(t, boardNoon)
	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: boardNoon})
	if err := f.records.Close(); err != nil {
		t.Fatalf("closing the records: %v", err)
	}

	for _, path := range []string{"/api/v1/board", "/api/v1/board/stream"} {
		var body map[string]any
		status := f.get(t, path, &body)

		if status != http.StatusServiceUnavailable {
			t.Errorf("GET %s status = %d, want 503", path, status)
		}
		if message, _ := body["error"].(string); !strings.Contains(message, "did not answer") {
			t.Errorf("GET %s error = %q, want a message that the store did not answer", path, message)
		}
	}
}

func TestBoardNeedsToken(t *testing.T) {
	f := newBoardFixture(t, boardNoon)

	res, err := http.Get(f.server.URL + "/api/v1/board")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	res.Body.Close()

	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", res.StatusCode)
	}
}

// hasAlert reports whether one alert has every field of want.
func hasAlert(alerts []map[string]any, want map[string]any) bool {
	for _, a := range alerts {
		match := true
		for key, value := range want {
			if a[key] != value {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
