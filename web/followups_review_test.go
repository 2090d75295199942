package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
