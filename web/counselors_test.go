package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/web"
)

const testToken = "test-token"

// apiFixture is an API over a memory store with counselors 1001 (registered)
// and 1002 (not registered).
type apiFixture struct {
	server *httptest.Server
	store  *queue.MemoryStore
	events *events.Subscription
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	store := queue.NewMemoryStore()
	for _, id := range []string{"1001", "1002"} {
		if err := store.AddCounselor(context.Background(), id, time.Now()); err != nil {
			t.Fatalf("AddCounselor(%s): %v", id, err)
		}
	}
	bus := events.NewBus()
	sub := bus.Subscribe(0)
	t.Cleanup(sub.Close)

	svc := counselor.New(counselor.Config{
		Store:      store,
		Events:     bus,
		Registered: func(id string) bool { return id == "1001" },
		Names:      []counselor.Named{{ID: "1001", Name: "Kim"}},
	})
	api := web.NewAPI([]string{testToken}, zerolog.Nop())
	web.RegisterCounselors(api, svc)
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)
	return &apiFixture{server: server, store: store, events: sub}
}

// do sends a request with the test token unless token is empty, and
// returns the status and the decoded JSON body.
func (f *apiFixture) do(t *testing.T, method, path, body, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.server.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var decoded map[string]any
	if err := json.NewDecoder(res.Body).Decode(&decoded); err != nil {
		t.Fatalf("%s %s: decoding body: %v", method, path, err)
	}
	return res.StatusCode, decoded
}

func TestCounselorStateChanges(t *testing.T) {
	tests := []struct {
		name       string
		before     queue.CounselorState
		path       string
		body       string
		token      string
		wantStatus int
		wantState  string
		// wantError is a part of the error message, if set.
		wantError string
	}{
		{name: "login", path: "/api/v1/counselors/1001/state", body: `{"state":"available"}`, wantStatus: 200, wantState: "available"},
		{name: "break with reason", before: queue.StateAvailable, path: "/api/v1/counselors/1001/state", body: `{"state":"break","reason":"lunch"}`, wantStatus: 200, wantState: "break"},
		{name: "logout", before: queue.StateAvailable, path: "/api/v1/counselors/1001/state", body: `{"state":"logged_out"}`, wantStatus: 200, wantState: "logged_out"},
		{name: "no token", path: "/api/v1/counselors/1001/state", body: `{"state":"available"}`, token: "-", wantStatus: 401, wantState: "logged_out"},
		{name: "wrong token", path: "/api/v1/counselors/1001/state", body: `{"state":"available"}`, token: "guess", wantStatus: 401, wantState: "logged_out"},
		{name: "bad JSON", path: "/api/v1/counselors/1001/state", body: `{"state":`, wantStatus: 400, wantState: "logged_out"},
		{name: "unknown field", path: "/api/v1/counselors/1001/state", body: `{"state":"available","mood":"good"}`, wantStatus: 400, wantState: "logged_out"},
		{name: "state not settable", path: "/api/v1/counselors/1001/state", body: `{"state":"on_call"}`, wantStatus: 400, wantState: "logged_out"},
		{name: "state missing", path: "/api/v1/counselors/1001/state", body: `{}`, wantStatus: 400, wantState: "logged_out"},
		{name: "reason too long", before: queue.StateAvailable, path: "/api/v1/counselors/1001/state", body: `{"state":"break","reason":"` + strings.Repeat("x", 201) + `"}`, wantStatus: 400, wantState: "available"},
		{name: "unknown counselor", path: "/api/v1/counselors/9999/state", body: `{"state":"available"}`, wantStatus: 404},
		{name: "break while logged out", path: "/api/v1/counselors/1001/state", body: `{"state":"break"}`, wantStatus: 409, wantState: "logged_out", wantError: "log the counselor in first"},
		{name: "end wrap-up while available", before: queue.StateAvailable, path: "/api/v1/counselors/1001/wrap-up/end", wantStatus: 409, wantState: "available", wantError: "not in wrap-up"},
		{name: "end wrap-up of unknown counselor", path: "/api/v1/counselors/9999/wrap-up/end", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAPIFixture(t)
			if tt.before != "" {
				if err := f.store.SetState(context.Background(), "1001", tt.before, "", time.Now()); err != nil {
					t.Fatalf("setting up %s: %v", tt.before, err)
				}
			}
			token := testToken
			switch tt.token {
			case "-":
				token = ""
			case "":
			default:
				token = tt.token
			}

			status, body := f.do(t, http.MethodPost, tt.path, tt.body, token)

			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %v", status, tt.wantStatus, body)
			}
			if status >= 400 && body["error"] == "" {
				t.Errorf("error body %v has no error message", body)
			}
			if message, _ := body["error"].(string); !strings.Contains(message, tt.wantError) {
				t.Errorf("error %q does not contain %q", message, tt.wantError)
			}
			if status == 200 && body["state"] != tt.wantState {
				t.Errorf("response state = %v, want %s", body["state"], tt.wantState)
			}
			if tt.wantState != "" {
				c, err := f.store.Counselor(context.Background(), "1001")
				if err != nil {
					t.Fatalf("reading counselor: %v", err)
				}
				if string(c.State) != tt.wantState {
					t.Errorf("stored state = %s, want %s", c.State, tt.wantState)
				}
			}
		})
	}
}

func TestLoginNeedsRegisteredPhone(t *testing.T) {
	f := newAPIFixture(t)

	status, body := f.do(t, http.MethodPost, "/api/v1/counselors/1002/state", `{"state":"available"}`, testToken)

	if status != http.StatusConflict {
		t.Errorf("status = %d, want 409; body %v", status, body)
	}
	if msg, _ := body["error"].(string); !strings.Contains(msg, "register") {
		t.Errorf("error %q does not say to register the phone", msg)
	}
}

func TestListCounselors(t *testing.T) {
	f := newAPIFixture(t)
	f.do(t, http.MethodPost, "/api/v1/counselors/1001/state", `{"state":"available"}`, testToken)
	f.do(t, http.MethodPost, "/api/v1/counselors/1001/state", `{"state":"break","reason":"lunch"}`, testToken)

	status, body := f.do(t, http.MethodGet, "/api/v1/counselors", "", testToken)

	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %v", status, body)
	}
	list, _ := body["counselors"].([]any)
	if len(list) != 2 {
		t.Fatalf("counselors = %v, want 2 entries", body["counselors"])
	}
	first, _ := list[0].(map[string]any)
	want := map[string]any{"id": "1001", "name": "Kim", "state": "break", "reason": "lunch", "registered": true}
	for key, value := range want {
		if first[key] != value {
			t.Errorf("counselor 1001 %s = %v, want %v", key, first[key], value)
		}
	}
	if since, _ := first["since"].(string); since == "" || strings.HasPrefix(since, "0001") {
		t.Errorf("counselor 1001 since = %q, want the time the break began", since)
	}
	second, _ := list[1].(map[string]any)
	if second["registered"] != false || second["state"] != "logged_out" {
		t.Errorf("counselor 1002 = %v, want logged_out and not registered", second)
	}
}

func TestListNeedsToken(t *testing.T) {
	f := newAPIFixture(t)

	status, _ := f.do(t, http.MethodGet, "/api/v1/counselors", "", "")

	if status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", status)
	}
}

func TestEndWrapUpOffersAtOnce(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	now := time.Now()
	f.store.SetState(ctx, "1001", queue.StateAvailable, "", now)
	f.store.Enqueue(ctx, queue.Caller{CallID: "c1", Queue: "q", EnqueuedAt: now})
	r, err := f.store.Reserve(ctx, queue.ReserveRequest{CallID: "c1", Now: now})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	f.store.Connect(ctx, r, now)
	f.store.FinishCall(ctx, "1001", now.Add(time.Hour), now)

	status, body := f.do(t, http.MethodPost, "/api/v1/counselors/1001/wrap-up/end", "", testToken)

	if status != http.StatusOK || body["state"] != "available" {
		t.Fatalf("status = %d, body %v, want 200 and available", status, body)
	}
	event := waitEvent(t, f.events)
	if event.Data["from"] != "wrap_up" || event.Data["to"] != "available" || event.Data["source"] != "api" {
		t.Errorf("event data = %v, want from wrap_up to available by api", event.Data)
	}
}

// waitEvent returns the next CounselorState event.
func waitEvent(t *testing.T, sub *events.Subscription) events.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-sub.C():
			if e.Type == events.CounselorState {
				return e
			}
		case <-deadline:
			t.Fatal("no counselor_state event within 5s")
		}
	}
}
