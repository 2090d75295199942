package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"helpline/records"
)

// doAs sends a request as principal p, past the token check, the way
// API.ServeHTTP hands an authenticated request to a route.
func (f *followUpFixture) doAs(t *testing.T, p Principal, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req = req.WithContext(context.WithValue(req.Context(), authKey{}, &authState{principal: p}))
	rec := httptest.NewRecorder()
	f.api.mux.ServeHTTP(rec, req)
	return rec
}

func TestCounselorWithoutIDIsNoSupervisor(t *testing.T) {
	f := newFollowUpFixture(t)
	f.startCall(t, "c1", "01012345678", "1001", time.Now().Add(-time.Hour))
	nobody := Principal{User: "ghost", Role: RoleCounselor}

	if rec := f.doAs(t, nobody, http.MethodGet, "/api/v1/calls/c1/history", ""); rec.Code != http.StatusForbidden {
		t.Errorf("history by a counselor login without id = %d, want 403: %s", rec.Code, rec.Body)
	}
	body := `{"reporter":"self","isolation_score":1,"risk":"low","followup":"none"}`
	if rec := f.doAs(t, nobody, http.MethodPost, "/api/v1/calls/c1/wrap-up?replace=1", body); rec.Code != http.StatusForbidden {
		t.Errorf("wrap-up by a counselor login without id = %d, want 403: %s", rec.Code, rec.Body)
	}
	if got := f.actions(); len(got) != 0 {
		t.Errorf("audit = %v, want nothing for rejected requests", got)
	}
}

func TestCloseAuditOmitsOutcomeText(t *testing.T) {
	f := newFollowUpFixture(t)
	id := f.saveHomeVisit(t, "c2", `{"reporter":"self","isolation_score":2,"risk":"high","followup":"home_visit","due_date":"`+futureDate+`","district":"Mapo-gu"}`)
	rec := f.do(t, http.MethodPost, "/api/v1/followups/"+id+"/close", `{"outcome":"reached at 010-9876-5432"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("close = %d: %s", rec.Code, rec.Body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	last := f.audits[len(f.audits)-1]
	if last.action != "followup_changed" || last.target != id {
		t.Errorf("last audit = %+v, want followup_changed of %s", last, id)
	}
	if strings.Contains(last.detail, "9876") || strings.Contains(last.detail, "5432") {
		t.Errorf("audit detail %q contains the number typed in the outcome", last.detail)
	}
}

func TestWrapUpOfCallbackByItsCounselor(t *testing.T) {
	f := newFollowUpFixture(t)
	ctx := context.Background()
	f.startCall(t, "asked", "01012345678", "", time.Now().Add(-time.Hour))
	started := time.Now().Add(-10 * time.Minute)
	cb := records.Callback{TaskID: "cb-1", CallID: "asked", Queue: "loneliness_ko", Reason: "requested",
		State: records.CallbackCompleted, Number: "01012345678", EnqueuedAt: started, CreatedAt: started}
	if err := f.store.CreateCallback(ctx, cb); err != nil {
		t.Fatalf("CreateCallback: %v", err)
	}
	attempt := records.CallbackAttempt{TaskID: "cb-1", Attempt: 1, Counselor: "1001", StartedAt: started}
	if err := f.store.StartCallbackAttempt(ctx, attempt); err != nil {
		t.Fatalf("StartCallbackAttempt: %v", err)
	}
	attempt.EndedAt, attempt.SIPStatus, attempt.Outcome = time.Now(), 200, "answered"
	if err := f.store.FinishCallbackAttempt(ctx, attempt); err != nil {
		t.Fatalf("FinishCallbackAttempt: %v", err)
	}
	body := `{"reporter":"self","isolation_score":2,"risk":"low","followup":"none"}`

	other := Principal{User: "lee", Role: RoleCounselor, Counselor: "1002"}
	if rec := f.doAs(t, other, http.MethodPost, "/api/v1/calls/asked/wrap-up", body); rec.Code != http.StatusForbidden {
		t.Errorf("wrap-up by another counselor = %d, want 403: %s", rec.Code, rec.Body)
	}
	if rec := f.doAs(t, other, http.MethodGet, "/api/v1/calls/asked/history", ""); rec.Code != http.StatusForbidden {
		t.Errorf("history by another counselor = %d, want 403: %s", rec.Code, rec.Body)
	}

	kim := Principal{User: "kim", Role: RoleCounselor, Counselor: "1001"}
	rec := f.doAs(t, kim, http.MethodPost, "/api/v1/calls/asked/wrap-up", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("wrap-up by the callback's counselor = %d, want 201: %s", rec.Code, rec.Body)
	}
	var saved wrapUpJSON
	decode(t, rec, &saved)
	if saved.Counselor != "1001" {
		t.Errorf("wrap-up counselor = %q, want 1001, who talked on the callback", saved.Counselor)
	}
	if rec := f.doAs(t, kim, http.MethodGet, "/api/v1/calls/asked/history", ""); rec.Code != http.StatusOK {
		t.Errorf("history by the callback's counselor = %d, want 200: %s", rec.Code, rec.Body)
	}
}

func TestHistoryOfCallbackInProgress(t *testing.T) {
	f := newFollowUpFixture(t, func(deps *FollowUpDeps) {
		deps.CurrentCall = func(_ context.Context, counselor string) (string, error) {
			if counselor == "1001" {
				return "cb-1", nil
			}
			return "", nil
		}
	})
	ctx := context.Background()
	f.startCall(t, "earlier", "01012345678", "1002", time.Now().Add(-2*time.Hour))
	f.startCall(t, "asked", "01012345678", "", time.Now().Add(-time.Hour))
	created := time.Now().Add(-10 * time.Minute)
	cb := records.Callback{TaskID: "cb-1", CallID: "asked", Queue: "loneliness_ko", Reason: "requested",
		State: records.CallbackDialling, Number: "01012345678", EnqueuedAt: created, CreatedAt: created}
	if err := f.store.CreateCallback(ctx, cb); err != nil {
		t.Fatalf("CreateCallback: %v", err)
	}

	kim := Principal{User: "kim", Role: RoleCounselor, Counselor: "1001"}
	rec := f.doAs(t, kim, http.MethodGet, "/api/v1/calls/cb-1/history", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("history of the callback kim is offered = %d, want 200: %s", rec.Code, rec.Body)
	}
	var body historyJSON
	decode(t, rec, &body)
	if len(body.Calls) != 1 || body.Calls[0].CallID != "earlier" {
		t.Errorf("history calls = %+v, want the earlier call only", body.Calls)
	}

	lee := Principal{User: "lee", Role: RoleCounselor, Counselor: "1002"}
	if rec := f.doAs(t, lee, http.MethodGet, "/api/v1/calls/cb-1/history", ""); rec.Code != http.StatusForbidden {
		t.Errorf("history of another counselor's callback = %d, want 403: %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, http.MethodGet, "/api/v1/calls/cb-missing/history", ""); rec.Code != http.StatusNotFound {
		t.Errorf("history of an unknown id = %d, want 404: %s", rec.Code, rec.Body)
	}
}
