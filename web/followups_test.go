package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/records"
)

// futureDate is a due date after any day the tests run on.
const futureDate = "2099-12-31"

// auditEntry is one call of FollowUpDeps.Audit.
type auditEntry struct {
	action, target, detail string
}

// followUpFixture is an API with the follow-up routes on a real SQLite
// records store, recording audit entries and ended wrap-ups.
type followUpFixture struct {
	api   *API
	store *records.Store

	mu      sync.Mutex
	audits  []auditEntry
	endings []string
}

func newFollowUpFixture(t *testing.T, options ...func(*FollowUpDeps)) *followUpFixture {
	t.Helper()
	store, err := records.Open(context.Background(), filepath.Join(t.TempDir(), "records.db"), records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })

	f := &followUpFixture{api: NewAPI([]string{testToken}, zerolog.Nop()), store: store}
	deps := FollowUpDeps{
		Store: store,
		EndWrapUp: func(_ context.Context, counselorID, callID string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.endings = append(f.endings, counselorID+" "+callID)
			return nil
		},
		Audit: func(_ *http.Request, action, target, detail string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.audits = append(f.audits, auditEntry{action, target, detail})
		},
		Log: zerolog.Nop(),
	}
	for _, option := range options {
		option(&deps)
	}
	RegisterFollowUps(f.api, deps)
	return f
}

// startCall stores an ended call from number answered by counselor.
func (f *followUpFixture) startCall(t *testing.T, callID, number, counselor string, startedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := f.store.Start(ctx, records.StartInfo{CallID: callID, CallerNumber: number, StartedAt: startedAt}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ended := startedAt.Add(time.Minute)
	patch := records.Patch{Counselor: &counselor, EndedAt: &ended, Outcome: new(records.OutcomeAnswered), QueueWait: new(12 * time.Second)}
	if err := f.store.Update(ctx, callID, patch); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// do sends a request with the token and a JSON body, if any.
func (f *followUpFixture) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	return rec
}

// actions returns the audited actions in order.
func (f *followUpFixture) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []string
	for _, a := range f.audits {
		list = append(list, a.action)
	}
	return list
}

// decode reads a JSON response body into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
}

// errorOf returns the error message of a response.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body errorBody
	decode(t, rec, &body)
	return body.Error
}

const homeVisitBody = `{"reporter":"self","isolation_score":3,"risk":"high","notes":"Lives alone.","followup":"home_visit","due_date":"` +
	futureDate + `","district":"Mapo-gu"}`

func TestWrapUpSaved(t *testing.T) {
	f := newFollowUpFixture(t)
	f.startCall(t, "call-1", "01012345678", "1001", time.Now().Add(-time.Hour))

	rec := f.do(t, http.MethodPost, "/api/v1/calls/call-1/wrap-up", homeVisitBody)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status = %d, want 201: %s", rec.Code, rec.Body)
	}
	var saved wrapUpJSON
	decode(t, rec, &saved)
	if saved.CallID != "call-1" || saved.Counselor != "1001" || saved.Risk != "high" || saved.FollowUpID == "" || saved.Notes != "Lives alone." {
		t.Errorf("saved = %+v, want the wrap-up with counselor 1001 and a follow-up id", saved)
	}
	if len(f.endings) != 1 || f.endings[0] != "1001 call-1" {
		t.Errorf("wrap-up endings = %v, want counselor 1001 after call-1", f.endings)
	}
	if actions := f.actions(); len(actions) != 1 || actions[0] != "wrap_up_saved" {
		t.Errorf("audit = %v, want wrap_up_saved", actions)
	}

	again := f.do(t, http.MethodPost, "/api/v1/calls/call-1/wrap-up", homeVisitBody)
	if again.Code != http.StatusConflict || !strings.Contains(errorOf(t, again), "?replace=1") {
		t.Errorf("second save = %d %s, want 409 naming ?replace=1", again.Code, again.Body)
	}
	replaced := f.do(t, http.MethodPost, "/api/v1/calls/call-1/wrap-up?replace=1",
		`{"reporter":"family","isolation_score":1,"risk":"low","followup":"none"}`)
	if replaced.Code != http.StatusCreated {
		t.Fatalf("replace status = %d, want 201: %s", replaced.Code, replaced.Body)
	}
	open, err := f.store.ListFollowUps(context.Background(), records.FollowUpFilter{State: records.FollowUpOpen})
	if err != nil || len(open) != 0 {
		t.Errorf("open tasks after replacing with followup none = %+v, %v; want none", open, err)
	}
}

func TestWrapUpRejectsBadInput(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		want   string
	}{
		{"unknown field", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"none","mood":"sad"}`, 400, "unknown field"},
		{"missing score", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","risk":"low","followup":"none"}`, 400, `"isolation_score" is missing`},
		{"score out of range", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":9,"risk":"low","followup":"none"}`, 400, `"isolation_score" is 9, out of range`},
		{"unknown risk", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"severe","followup":"none"}`, 400, `"risk" "severe" is unknown`},
		{"missing reporter", "/api/v1/calls/call-1/wrap-up", `{"isolation_score":1,"risk":"low","followup":"none"}`, 400, `"reporter" is missing`},
		{"missing followup", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low"}`, 400, `"followup" is missing`},
		{"missing due date", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"counseling","district":"Jung-gu"}`, 400, `"due_date" is missing`},
		{"malformed due date", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"counseling","district":"Jung-gu","due_date":"12/07/2099"}`, 400, "use YYYY-MM-DD"},
		{"past due date", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"counseling","district":"Jung-gu","due_date":"2001-01-01"}`, 400, "is in the past"},
		{"missing district", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"counseling","due_date":"` + futureDate + `"}`, 400, `"district" is missing`},
		{"district too long", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"counseling","due_date":"` + futureDate + `","district":"` + strings.Repeat("x", 101) + `"}`, 400, "shorten it to at most 100"},
		{"notes too long", "/api/v1/calls/call-1/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"none","notes":"` + strings.Repeat("x", 4001) + `"}`, 400, "shorten it to at most 4000"},
		{"bad replace", "/api/v1/calls/call-1/wrap-up?replace=yes", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"none"}`, 400, `"replace"`},
		{"unknown call", "/api/v1/calls/no-such-call/wrap-up", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"none"}`, 404, "call record not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFollowUpFixture(t)
			f.startCall(t, "call-1", "01012345678", "1001", time.Now().Add(-time.Hour))

			rec := f.do(t, http.MethodPost, tt.path, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.want)
			}
			if _, err := f.store.GetWrapUp(context.Background(), "call-1"); err == nil {
				t.Error("a wrap-up was saved although the request was rejected")
			}
			if tasks, _ := f.store.ListFollowUps(context.Background(), records.FollowUpFilter{}); len(tasks) != 0 {
				t.Errorf("tasks = %+v, want none", tasks)
			}
			if len(f.endings) != 0 || len(f.actions()) != 0 {
				t.Errorf("endings %v and audit %v after a rejected request, want none", f.endings, f.actions())
			}
		})
	}
}

func TestHistoryOfCall(t *testing.T) {
	f := newFollowUpFixture(t)
	now := time.Now()
	f.startCall(t, "old", "010-1234-5678", "1001", now.Add(-48*time.Hour))
	f.startCall(t, "middle", "+82 10 1234 5678", "1002", now.Add(-24*time.Hour))
	f.startCall(t, "current", "01012345678", "1001", now.Add(-time.Minute))
	f.startCall(t, "stranger", "01099998888", "1001", now.Add(-time.Hour))
	if rec := f.do(t, http.MethodPost, "/api/v1/calls/old/wrap-up", homeVisitBody); rec.Code != http.StatusCreated {
		t.Fatalf("wrap-up status = %d: %s", rec.Code, rec.Body)
	}

	rec := f.do(t, http.MethodGet, "/api/v1/calls/current/history", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
	}
	var body historyJSON
	decode(t, rec, &body)
	if len(body.Calls) != 2 || body.Calls[0].CallID != "middle" || body.Calls[1].CallID != "old" {
		t.Fatalf("calls = %+v, want middle then old", body.Calls)
	}
	old := body.Calls[1]
	if old.Risk != "high" || old.FollowUp != "home_visit" || old.Summary != "Lives alone." || old.QueueWaitS != 12 || old.Outcome != "answered" {
		t.Errorf("old = %+v, want its wrap-up, outcome and wait", old)
	}
	if len(body.OpenFollowUps) != 1 || body.OpenFollowUps[0].Number != "010-****-5678" {
		t.Errorf("open follow-ups = %+v, want the home visit with a masked number", body.OpenFollowUps)
	}
	if strings.Contains(rec.Body.String(), "01012345678") {
		t.Error("the history shows a full number")
	}
	if actions := f.actions(); actions[len(actions)-1] != "view_call" {
		t.Errorf("audit = %v, want view_call last", actions)
	}

	if missing := f.do(t, http.MethodGet, "/api/v1/calls/no-such-call/history", ""); missing.Code != http.StatusNotFound {
		t.Errorf("unknown call status = %d, want 404", missing.Code)
	}
}

func TestHistoryOfWithheldCaller(t *testing.T) {
	f := newFollowUpFixture(t)
	if err := f.store.Start(context.Background(), records.StartInfo{CallID: "hidden", CallerWithheld: true}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	rec := f.do(t, http.MethodGet, "/api/v1/calls/hidden/history", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"calls":[],"open_followups":[]}` {
		t.Errorf("history of a withheld caller = %d %s, want empty lists", rec.Code, rec.Body)
	}
}

// saveHomeVisit saves a home visit wrap-up of a new call and returns the
// task id.
func (f *followUpFixture) saveHomeVisit(t *testing.T, callID, body string) string {
	t.Helper()
	f.startCall(t, callID, "01012345678", "1001", time.Now().Add(-time.Hour))
	rec := f.do(t, http.MethodPost, "/api/v1/calls/"+callID+"/wrap-up", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("wrap-up status = %d: %s", rec.Code, rec.Body)
	}
	var saved wrapUpJSON
	decode(t, rec, &saved)
	return saved.FollowUpID
}

func TestListFollowUps(t *testing.T) {
	f := newFollowUpFixture(t)
	low := f.saveHomeVisit(t, "low", `{"reporter":"self","isolation_score":1,"risk":"low","followup":"counseling","due_date":"2099-01-01","district":"Jung-gu"}`)
	imminent := f.saveHomeVisit(t, "imminent", `{"reporter":"self","isolation_score":5,"risk":"imminent","followup":"emergency","due_date":"2099-02-01","district":"Mapo-gu"}`)

	tests := []struct {
		name string
		path string
		want []string
	}{
		{"all by risk", "/api/v1/followups", []string{imminent, low}},
		{"open", "/api/v1/followups?state=open", []string{imminent, low}},
		{"kind", "/api/v1/followups?kind=counseling", []string{low}},
		{"district", "/api/v1/followups?district=Mapo-gu", []string{imminent}},
		{"risk", "/api/v1/followups?risk=low", []string{low}},
		{"due before", "/api/v1/followups?due_before=2099-01-15", []string{low}},
		{"closed", "/api/v1/followups?state=closed&kind=", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, http.MethodGet, tt.path, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
			}
			var body struct {
				FollowUps []followUpJSON `json:"followups"`
			}
			decode(t, rec, &body)
			var ids []string
			for _, task := range body.FollowUps {
				ids = append(ids, task.ID)
				if task.Number != "010-****-5678" || task.State != "open" || task.ClosedAt != nil {
					t.Errorf("task = %+v, want open with a masked number", task)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
		})
	}

	bad := []struct {
		path string
		want string
	}{
		{"/api/v1/followups?state=pending", `"state" "pending" is unknown`},
		{"/api/v1/followups?risk=severe", `"risk" "severe" is unknown`},
		{"/api/v1/followups?due_before=soon", `"due_before" "soon" is not a date`},
		{"/api/v1/followups?owner=lee", `"owner" is not a filter`},
	}
	for _, b := range bad {
		rec := f.do(t, http.MethodGet, b.path, "")
		if rec.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, rec), b.want) {
			t.Errorf("GET %s = %d %s, want 400 with %q", b.path, rec.Code, rec.Body, b.want)
		}
	}
}

func TestFollowUpChanges(t *testing.T) {
	f := newFollowUpFixture(t)
	id := f.saveHomeVisit(t, "call-1", homeVisitBody)
	base := "/api/v1/followups/" + id

	rec := f.do(t, http.MethodPost, base+"/assign", `{"owner":"lee"}`)
	var task followUpJSON
	decode(t, rec, &task)
	if rec.Code != http.StatusOK || task.Owner != "lee" {
		t.Fatalf("assign = %d %+v, want 200 with owner lee", rec.Code, task)
	}
	rec = f.do(t, http.MethodPost, base+"/notes", `{"note":"Called twice."}`)
	decode(t, rec, &task)
	if rec.Code != http.StatusOK || !strings.HasSuffix(task.Notes, " api-token: Called twice.") {
		t.Fatalf("note = %d %q, want 200 with the note by api-token appended", rec.Code, task.Notes)
	}
	if got := f.do(t, http.MethodGet, base, ""); got.Code != http.StatusOK || !strings.Contains(got.Body.String(), "Called twice.") {
		t.Errorf("GET task = %d %s, want the task with its note", got.Code, got.Body)
	}
	rec = f.do(t, http.MethodPost, base+"/close", `{"outcome":"visited"}`)
	decode(t, rec, &task)
	if rec.Code != http.StatusOK || task.State != "closed" || task.Outcome != "visited" || task.ClosedAt == nil {
		t.Fatalf("close = %d %+v, want 200 closed with the outcome", rec.Code, task)
	}

	closedChanges := map[string]string{"/assign": `{"owner":"kim"}`, "/notes": `{"note":"late"}`, "/close": `{"outcome":"again"}`}
	for path, body := range closedChanges {
		if rec := f.do(t, http.MethodPost, base+path, body); rec.Code != http.StatusConflict || !strings.Contains(errorOf(t, rec), "closed") {
			t.Errorf("POST %s on a closed task = %d %s, want 409", path, rec.Code, rec.Body)
		}
	}
	stored, err := f.store.GetFollowUp(context.Background(), id)
	if err != nil || stored.Owner != "lee" || stored.Outcome != "visited" || strings.Contains(stored.Notes, "late") {
		t.Errorf("stored task = %+v, %v; want the closed task unchanged", stored, err)
	}
	changes := 0
	for _, action := range f.actions() {
		if action == "followup_changed" {
			changes++
		}
	}
	if changes != 3 {
		t.Errorf("followup_changed audits = %d, want 3", changes)
	}
}

func TestFollowUpChangesRejectBadInput(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		want   string
	}{
		{"empty owner", "/assign", `{"owner":""}`, 400, `"owner" is missing`},
		{"missing owner", "/assign", `{}`, 400, `"owner" is missing`},
		{"unknown field", "/assign", `{"owner":"lee","team":"a"}`, 400, "unknown field"},
		{"empty note", "/notes", `{"note":" "}`, 400, `"note" is missing`},
		{"note too long", "/notes", `{"note":"` + strings.Repeat("x", 4001) + `"}`, 400, "at most 4000"},
		{"empty outcome", "/close", `{"outcome":""}`, 400, `"outcome" is missing`},
		{"outcome too long", "/close", `{"outcome":"` + strings.Repeat("x", 201) + `"}`, 400, "at most 200"},
		{"not JSON", "/close", `outcome=done`, 400, "bad request body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFollowUpFixture(t)
			id := f.saveHomeVisit(t, "call-1", homeVisitBody)
			rec := f.do(t, http.MethodPost, "/api/v1/followups/"+id+tt.path, tt.body)
			if rec.Code != tt.status || !strings.Contains(errorOf(t, rec), tt.want) {
				t.Errorf("status = %d %s, want %d with %q", rec.Code, rec.Body, tt.status, tt.want)
			}
			task, err := f.store.GetFollowUp(context.Background(), id)
			if err != nil || task.Owner != "" || task.State != records.FollowUpOpen || strings.Count(task.Notes, "\n") != 0 {
				t.Errorf("task = %+v, %v; want it unchanged", task, err)
			}
		})
	}

	f := newFollowUpFixture(t)
	unknown := map[string]string{"/assign": `{"owner":"a"}`, "/notes": `{"note":"b"}`, "/close": `{"outcome":"c"}`, "/reveal": ""}
	for path, body := range unknown {
		if rec := f.do(t, http.MethodPost, "/api/v1/followups/fu-unknown"+path, body); rec.Code != http.StatusNotFound {
			t.Errorf("POST %s of an unknown task = %d %s, want 404", path, rec.Code, rec.Body)
		}
	}
	if rec := f.do(t, http.MethodGet, "/api/v1/followups/fu-unknown", ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET of an unknown task = %d, want 404", rec.Code)
	}
}

func TestRevealFollowUpNumber(t *testing.T) {
	f := newFollowUpFixture(t)
	id := f.saveHomeVisit(t, "call-1", homeVisitBody)

	rec := f.do(t, http.MethodPost, "/api/v1/followups/"+id+"/reveal", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"formatted":"010-1234-5678","number":"01012345678"}` {
		t.Errorf("reveal = %d %s, want the full number, plain and grouped", rec.Code, rec.Body)
	}
	if actions := f.actions(); actions[len(actions)-1] != "reveal_number" {
		t.Errorf("audit = %v, want reveal_number last", actions)
	}

	if _, err := f.store.Purge(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if _, err := f.store.CloseFollowUp(context.Background(), id, "done"); err != nil {
		t.Fatalf("CloseFollowUp: %v", err)
	}
	if _, err := f.store.Purge(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	rec = f.do(t, http.MethodPost, "/api/v1/followups/"+id+"/reveal", "")
	if rec.Code != http.StatusNotFound || !strings.Contains(errorOf(t, rec), "retention purge") {
		t.Errorf("reveal after the purge = %d %s, want 404 naming the purge", rec.Code, rec.Body)
	}
}

func TestExportFollowUpsCSV(t *testing.T) {
	exportDay := time.Date(2026, time.December, 7, 9, 0, 0, 0, time.Local)
	f := newFollowUpFixture(t, func(deps *FollowUpDeps) { deps.Now = func() time.Time { return exportDay } })
	f.saveHomeVisit(t, "call-1", homeVisitBody)
	tests := []struct {
		name   string
		query  string
		file   string
		header []string
		values map[int]string
	}{
		{"default masked", "", "followups-masked-20261207.csv", records.FollowUpCSVHeader,
			map[int]string{2: "home_visit", 8: "open", 10: "010-****-5678"}},
		{"masked", "?reveal=0", "followups-masked-20261207.csv", records.FollowUpCSVHeader,
			map[int]string{10: "010-****-5678"}},
		{"revealed", "?reveal=1&state=open", "followups-numbers-20261207.csv", records.FollowUpCSVHeader,
			map[int]string{10: "010-1234-5678"}},
		{"korean", "?reveal=1&lang=ko&kind=home_visit", "followups-numbers-20261207.csv", koreanFollowUpHeader,
			map[int]string{2: "가정 방문", 3: "상담 정리", 4: "높음", 8: "진행 중", 10: "010-1234-5678"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, http.MethodGet, "/api/v1/followups/export.csv"+tt.query, "")
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
				t.Fatalf("status = %d, type %q, want 200 text/csv: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="`+tt.file+`"`; got != want {
				t.Errorf("Content-Disposition = %q, want %q", got, want)
			}
			body, found := strings.CutPrefix(rec.Body.String(), "\uFEFF")
			if !found {
				t.Errorf("body does not start with the UTF-8 byte order mark")
			}
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatalf("reading the CSV: %v", err)
			}
			if len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(tt.header, ",") {
				t.Fatalf("rows = %v, want the header %v and one task", rows, tt.header)
			}
			for column, want := range tt.values {
				if rows[1][column] != want {
					t.Errorf("column %s = %q, want %q", records.FollowUpCSVHeader[column], rows[1][column], want)
				}
			}
			f.mu.Lock()
			last := f.audits[len(f.audits)-1]
			f.mu.Unlock()
			if last.action != "export_csv" || !strings.Contains(last.detail, "rows=1") {
				t.Errorf("last audit = %+v, want export_csv of one row", last)
			}
		})
	}

	for _, query := range []string{"?reveal=yes", "?format=xlsx", "?risk=severe", "?lang=ja"} {
		rec := f.do(t, http.MethodGet, "/api/v1/followups/export.csv"+query, "")
		if rec.Code != http.StatusBadRequest {
			t.Errorf("export%s = %d, want 400", query, rec.Code)
		}
	}
}

func TestKoreanExportKeepsFreeText(t *testing.T) {
	if got := translateKorean("outcome", "reached, visit booked"); got != "reached, visit booked" {
		t.Errorf("typed outcome = %q, want it unchanged", got)
	}
	if got := translateKorean("outcome", records.OutcomeCallbackCancelled); got != "콜백 취소" {
		t.Errorf("callback_cancelled = %q, want 콜백 취소", got)
	}
	if len(koreanFollowUpHeader) != len(records.FollowUpCSVHeader) {
		t.Errorf("Korean header has %d columns, want %d", len(koreanFollowUpHeader), len(records.FollowUpCSVHeader))
	}
}

func TestFollowUpRoutesNeedToken(t *testing.T) {
	f := newFollowUpFixture(t)
	for _, route := range []string{"GET /api/v1/followups", "GET /api/v1/followups/export.csv", "POST /api/v1/calls/x/wrap-up", "GET /api/v1/calls/x/history"} {
		method, path, _ := strings.Cut(route, " ")
		rec := httptest.NewRecorder()
		f.api.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without token = %d, want 401", route, rec.Code)
		}
	}
}
