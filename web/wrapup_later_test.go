package web

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestCounselorSavesEarlierCallWrapUp(t *testing.T) {
	f := newFollowUpFixture(t)
	f.startCall(t, "earlier", "01012345678", "1001", time.Now().Add(-3*time.Hour))
	f.startCall(t, "later", "01098765432", "1001", time.Now().Add(-10*time.Minute))
	kim := Principal{User: "kim", Role: RoleCounselor, Counselor: "1001"}
	body := `{"reporter":"self","isolation_score":1,"risk":"medium","notes":"Written after the wrap-up time.","followup":"none"}`

	rec := f.doAs(t, kim, http.MethodPost, "/api/v1/calls/earlier/wrap-up", body)

	if rec.Code != http.StatusCreated {
		t.Fatalf("wrap-up of the counselor's earlier call = %d, want 201: %s", rec.Code, rec.Body)
	}
	var saved wrapUpJSON
	decode(t, rec, &saved)
	if saved.CallID != "earlier" || saved.Counselor != "1001" || saved.Notes != "Written after the wrap-up time." {
		t.Errorf("saved = %+v, want the wrap-up of earlier by 1001 with its notes", saved)
	}
	if got := f.actions(); !slices.Equal(got, []string{"wrap_up_saved"}) {
		t.Errorf("audit = %v, want [wrap_up_saved]", got)
	}
	f.mu.Lock()
	endings := slices.Clone(f.endings)
	f.mu.Unlock()
	// The handler names the saved call; EndWrapUp ends a wrap-up only for
	// the counselor's latest call, so the later call's wrap-up runs on.
	if !slices.Equal(endings, []string{"1001 earlier"}) {
		t.Errorf("EndWrapUp calls = %v, want [1001 earlier]", endings)
	}

	other := Principal{User: "lee", Role: RoleCounselor, Counselor: "1002"}
	if rec := f.doAs(t, other, http.MethodPost, "/api/v1/calls/later/wrap-up", body); rec.Code != http.StatusForbidden {
		t.Errorf("wrap-up of another counselor's call = %d, want 403: %s", rec.Code, rec.Body)
	}
}
