package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/counselor"
	"helpline/queue"
	"helpline/records"
)

// countingAuditor counts the audit entries the API writes.
type countingAuditor struct {
	mu      sync.Mutex
	entries []records.AuditEntry
}

func (a *countingAuditor) Audit(_ context.Context, e records.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

func (a *countingAuditor) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

// consoleFixture is an API with the console routes on a real SQLite
// records store and an in-memory queue with counselors 1001 and 1002.
type consoleFixture struct {
	api     *API
	store   *records.Store
	auditor *countingAuditor
}

func newConsoleFixture(t *testing.T, emergency EmergencyOptions) *consoleFixture {
	t.Helper()
	ctx := context.Background()
	store, err := records.Open(ctx, filepath.Join(t.TempDir(), "records.db"), records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })

	q := queue.NewMemoryStore()
	for _, id := range []string{"1001", "1002"} {
		if err := q.AddCounselor(ctx, id, time.Now()); err != nil {
			t.Fatalf("AddCounselor(%s): %v", id, err)
		}
	}
	f := &consoleFixture{store: store, auditor: &countingAuditor{}}
	f.api = NewAPI([]string{testToken}, zerolog.Nop(), WithAuditor(f.auditor))
	RegisterConsole(f.api, ConsoleDeps{
		Counselors: counselor.New(counselor.Config{Store: q}),
		Records:    store,
		Emergency:  emergency,
		Log:        zerolog.Nop(),
	})
	return f
}

// doAs sends a GET as principal p, past the login check, the way
// API.ServeHTTP hands an authenticated request to a route.
func (f *consoleFixture) doAs(t *testing.T, p Principal, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req = req.WithContext(context.WithValue(req.Context(), authKey{}, &authState{principal: p}))
	rec := httptest.NewRecorder()
	f.api.mux.ServeHTTP(rec, req)
	return rec
}

// answered stores an ended call that counselor answered talkedAgo ago.
func (f *consoleFixture) answered(t *testing.T, callID, counselorID string, talkedAgo time.Duration) {
	t.Helper()
	ctx := context.Background()
	talked := time.Now().Add(-talkedAgo)
	if err := f.store.Start(ctx, records.StartInfo{CallID: callID, CallerNumber: "01012345678", StartedAt: talked.Add(-time.Minute)}); err != nil {
		t.Fatalf("Start(%s): %v", callID, err)
	}
	patch := records.Patch{Counselor: new(counselorID), CounselorAnsweredAt: new(talked), EndedAt: new(talked.Add(3 * time.Minute)),
		Outcome: new(records.OutcomeAnswered), Queue: new("loneliness_ko"), Language: new("ko"), CallerType: new("someone_else")}
	if err := f.store.Update(ctx, callID, patch); err != nil {
		t.Fatalf("Update(%s): %v", callID, err)
	}
}

var (
	kimCounselor   = Principal{User: "kim", Role: RoleCounselor, Counselor: "1001"}
	parkSupervisor = Principal{User: "park", Role: RoleSupervisor}
)

func pendingIDs(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	var body pendingWrapUpsJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	ids := []string{}
	for _, c := range body.Calls {
		ids = append(ids, c.CallID)
	}
	return ids
}

func TestPendingWrapUpsOfOwnCalls(t *testing.T) {
	f := newConsoleFixture(t, EmergencyOptions{})
	f.answered(t, "yesterday", "1001", 25*time.Hour)
	f.answered(t, "older", "1001", 2*time.Hour)
	f.answered(t, "newer", "1001", time.Hour)
	f.answered(t, "saved", "1001", 30*time.Minute)
	f.answered(t, "of-1002", "1002", 10*time.Minute)
	saved := records.WrapUp{CallID: "saved", Reporter: records.ReporterSelf, Risk: records.RiskLow, FollowUp: records.FollowUpNone}
	if _, err := f.store.SaveWrapUp(context.Background(), saved, false); err != nil {
		t.Fatalf("SaveWrapUp: %v", err)
	}

	rec := f.doAs(t, kimCounselor, "/api/v1/console/pending-wrap-ups")

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
	}
	if ids := pendingIDs(t, rec); !slices.Equal(ids, []string{"newer", "older"}) {
		t.Errorf("pending calls = %v, want [newer older]: the last 24 hours, newest first, unsaved, own", ids)
	}
	for _, field := range []string{`"started_at":`, `"queue":"loneliness_ko"`, `"language":"ko"`, `"caller_type":"someone_else"`, `"kind":"call"`, `"talked_at":`} {
		if !strings.Contains(rec.Body.String(), field) {
			t.Errorf("body %s lacks %s", rec.Body, field)
		}
	}
	if strings.Contains(rec.Body.String(), "5678") {
		t.Errorf("body %s holds part of the caller's number", rec.Body)
	}
	if got := f.auditor.count(); got != 0 {
		t.Errorf("audit entries = %d, want none: the list is not a record view", got)
	}
}

func TestPendingWrapUpsEmptyList(t *testing.T) {
	f := newConsoleFixture(t, EmergencyOptions{})

	rec := f.doAs(t, kimCounselor, "/api/v1/console/pending-wrap-ups")

	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"calls":[]}` {
		t.Errorf("response = %d %s, want 200 {\"calls\":[]}", rec.Code, rec.Body)
	}
}

func TestPendingWrapUpsAccess(t *testing.T) {
	tests := []struct {
		name       string
		principal  Principal
		path       string
		wantStatus int
		wantError  string
	}{
		{"supervisor names the counselor", parkSupervisor, "/api/v1/console/pending-wrap-ups?counselor=1001", http.StatusOK, ""},
		{"supervisor names nobody", parkSupervisor, "/api/v1/console/pending-wrap-ups", http.StatusBadRequest, `"counselor" query parameter is missing`},
		{"supervisor names an unknown counselor", parkSupervisor, "/api/v1/console/pending-wrap-ups?counselor=9999", http.StatusNotFound, "is not configured"},
		{"counselor names themselves", kimCounselor, "/api/v1/console/pending-wrap-ups?counselor=1001", http.StatusOK, ""},
		{"counselor names another", kimCounselor, "/api/v1/console/pending-wrap-ups?counselor=1002", http.StatusForbidden, "only their own console"},
		{"follow-up team", Principal{User: "choi", Role: RoleFollowUp}, "/api/v1/console/pending-wrap-ups?counselor=1001", http.StatusForbidden, "role followup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConsoleFixture(t, EmergencyOptions{})
			f.answered(t, "call-1", "1001", time.Hour)

			rec := f.doAs(t, tt.principal, tt.path)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantError != "" && !strings.Contains(errorOf(t, rec), tt.wantError) {
				t.Errorf("body %s, want an error containing %q", rec.Body, tt.wantError)
			}
			if tt.wantStatus == http.StatusOK && !slices.Equal(pendingIDs(t, rec), []string{"call-1"}) {
				t.Errorf("pending calls = %v, want [call-1]", pendingIDs(t, rec))
			}
		})
	}
}

func TestPendingWrapUpsStoreClosed(t *testing.T) {
	f := newConsoleFixture(t, EmergencyOptions{})
	if err := f.store.Close(); err != nil {
		t.Fatalf("closing the records: %v", err)
	}

	rec := f.doAs(t, kimCounselor, "/api/v1/console/pending-wrap-ups")

	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503: %s", rec.Code, rec.Body)
	}
}

func TestConsoleEmergencyAvailability(t *testing.T) {
	tests := []struct {
		name     string
		options  EmergencyOptions
		wantJSON string
	}{
		{"gateway and targets", EmergencyOptions{Targets: []string{"119", "112"}, OutboundRoute: true}, `"emergency":{"available":true,"targets":["119","112"]}`},
		{"targets without a gateway", EmergencyOptions{Targets: []string{"119"}}, `"emergency":{"available":false,"targets":["119"]}`},
		{"gateway without targets", EmergencyOptions{OutboundRoute: true}, `"emergency":{"available":false,"targets":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConsoleFixture(t, tt.options)

			rec := f.doAs(t, kimCounselor, "/api/v1/console")

			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantJSON) {
				t.Errorf("console %s lacks %s", rec.Body, tt.wantJSON)
			}
		})
	}
}
