package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/events"
	"helpline/queue"
)

const testToken = "test-token"

func newCallbackAPI(t *testing.T) (*API, *callback.Manager, callback.Task) {
	t.Helper()
	m := callback.NewManager(callback.Config{Attempts: 3, Interval: time.Minute}, queue.NewMemoryStore(), nil)
	task, err := m.Create(context.Background(), callback.Request{
		CallID: "call-1", Queue: "q", Number: "01012345678", Reason: callback.ReasonRequested,
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	api := NewAPI([]string{testToken}, zerolog.Nop())
	RegisterCallbacks(api, CallbackDeps{Tasks: m})
	return api, m, task
}

func serve(t *testing.T, api *API, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	return rec
}

func TestListCallbacks(t *testing.T) {
	api, _, task := newCallbackAPI(t)
	rec := serve(t, api, http.MethodGet, "/api/v1/callbacks")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
	}
	var body struct {
		Callbacks []callbackJSON `json:"callbacks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	if len(body.Callbacks) != 1 {
		t.Fatalf("callbacks = %+v, want one", body.Callbacks)
	}
	got := body.Callbacks[0]
	if got.ID != task.ID || got.Kind != "callback" || got.State != "pending" {
		t.Errorf("task = %+v, want %s kind callback state pending", got, task.ID)
	}
	if got.Number != "010-****-5678" {
		t.Errorf("number = %q, want the masked number", got.Number)
	}
}

func TestCancelCallbackStatuses(t *testing.T) {
	api, _, task := newCallbackAPI(t)
	cases := []struct {
		name string
		path string
		want int
	}{
		{"unknown task", "/api/v1/callbacks/cb-nope/cancel", http.StatusNotFound},
		{"pending task", "/api/v1/callbacks/" + task.ID + "/cancel", http.StatusOK},
		{"cancelled task", "/api/v1/callbacks/" + task.ID + "/cancel", http.StatusConflict},
	}
	for _, tc := range cases {
		rec := serve(t, api, http.MethodPost, tc.path)
		if rec.Code != tc.want {
			t.Errorf("%s: status = %d, want %d: %s", tc.name, rec.Code, tc.want, rec.Body)
		}
	}
}

func TestCancelPublishesEventAndState(t *testing.T) {
	bus := events.NewBus()
	sub := bus.Subscribe(16)
	defer sub.Close()
	q := queue.NewMemoryStore()
	m := callback.NewManager(callback.Config{Attempts: 3, Interval: time.Minute}, q, nil, callback.WithEvents(bus))
	task, err := m.Create(context.Background(), callback.Request{CallID: "call-1", Queue: "q", Number: "01012345678", Reason: callback.ReasonAbandoned})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	api := NewAPI([]string{testToken}, zerolog.Nop())
	RegisterCallbacks(api, CallbackDeps{Tasks: m})

	if rec := serve(t, api, http.MethodPost, "/api/v1/callbacks/"+task.ID+"/cancel"); rec.Code != http.StatusOK {
		t.Fatalf("cancel status = %d, want 200: %s", rec.Code, rec.Body)
	}

	var types []events.Type
	for len(sub.C()) > 0 {
		e := <-sub.C()
		types = append(types, e.Type)
		if e.Type == events.CallbackCancelled && (e.CallID != task.ID || e.Data["call_id"] != "call-1") {
			t.Errorf("callback_cancelled event = %+v, want task %s of call-1", e, task.ID)
		}
	}
	if !slices.Contains(types, events.CallbackCancelled) {
		t.Errorf("events = %v, want callback_cancelled", types)
	}
	waiting, err := q.Waiting(context.Background(), "q")
	if err != nil {
		t.Fatalf("Waiting: %v", err)
	}
	if len(waiting) != 0 {
		t.Errorf("queue = %+v, want the cancelled task gone", waiting)
	}
	rec := serve(t, api, http.MethodGet, "/api/v1/callbacks")
	var body struct {
		Callbacks []callbackJSON `json:"callbacks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	if len(body.Callbacks) != 1 || body.Callbacks[0].State != "cancelled" || body.Callbacks[0].EndReason == "" {
		t.Errorf("listed tasks = %+v, want one cancelled with an end reason", body.Callbacks)
	}
}

func TestCallbackRoutesNeedToken(t *testing.T) {
	api, _, _ := newCallbackAPI(t)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/callbacks", nil)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status without token = %d, want 401", rec.Code)
	}
}
