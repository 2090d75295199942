package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/web"
)

// fakeCSRF is the CSRF token of the fake session; every POST must carry it.
const fakeCSRF = "csrf-test-token"

// fakeCallID is the call the fake console is on; its id has an @ so that
// the pages must escape it in paths.
const fakeCallID = "a84b4c76e66710@127.0.0.1"

// pageAPI is a fake of the JSON API behind the pages, shaped as the web
// design describes, serving the real embedded pages. It records the
// POSTs the pages send.
type pageAPI struct {
	mu    sync.Mutex // guards role, posts, ended, added, changed and emergency
	role  string
	posts []fakePost
	// ended closes when the fake session ends: then the session and the
	// streams answer 401, and open streams close.
	ended chan struct{}
	// added are the tasks addFollowUp added to fakeFollowUps.
	added []map[string]any
	// changed is closed, and replaced, when the tasks change, so that
	// follow-up streams send again.
	changed chan struct{}
	// emergency is the state of the emergency call of fakeCallID, which
	// the console and the board show when it is not nil.
	emergency map[string]any
}

// fakePost is one POST request the fake received.
type fakePost struct {
	Path string
	CSRF string
	Body map[string]any
}

// fakePagesToken is the bearer token the fake API signs page requests with.
const fakePagesToken = "page-test-token"

func startPageAPI(t *testing.T) (*pageAPI, string) {
	t.Helper()

	fake := &pageAPI{role: "supervisor", ended: make(chan struct{}), changed: make(chan struct{})}
	signed := signedPages()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/session", fake.session)
	mux.HandleFunc("GET /api/v1/board/stream", fake.stream("board", fake.boardSnapshots))
	mux.HandleFunc("GET /api/v1/console/stream", fake.stream("console", fake.consoleSnapshots))
	mux.HandleFunc("GET /api/v1/calls/{id}/history", fake.history)
	mux.HandleFunc("GET /api/v1/console/pending-wrap-ups", func(w http.ResponseWriter, _ *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]any{"calls": []map[string]any{}})
	})
	mux.HandleFunc("GET /api/v1/followups", fake.followups)
	mux.HandleFunc("GET /api/v1/followups/stream", fake.followUpStream)
	mux.HandleFunc("POST /api/v1/", fake.post)
	mux.Handle("/", signed)

	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return fake, server.URL
}

// signedPages serves the real embedded pages and the real login form. The
// real pages need a login, so it signs every page request with the bearer
// token, which acts as admin. The fake stores no sessions, so only the
// login form, never a login, works.
func signedPages() http.Handler {
	pages := web.NewAPI([]string{fakePagesToken}, zerolog.Nop(), web.WithLogin(web.LoginConfig{
		SessionTTL: time.Hour, Lockout: web.Lockout{Attempts: 5, SourceAttempts: 20, Window: time.Minute, Duration: time.Minute},
	}))
	web.RegisterPages(pages)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+fakePagesToken)
		pages.ServeHTTP(w, r)
	})
}

// setEmergency sets the emergency call state of fakeCallID that the next
// snapshots carry, or none for nil.
func (f *pageAPI) setEmergency(state map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emergency = state
}

func (f *pageAPI) emergencyState() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.emergency
}

// boardSnapshots returns the fixed board snapshots, with the emergency
// call on counselor 1001's row and, when it failed, its alert.
func (f *pageAPI) boardSnapshots(now time.Time) []map[string]any {
	snapshots := boardSnapshots(now)
	state := f.emergencyState()
	if state == nil {
		return snapshots
	}
	for i, snapshot := range snapshots {
		copied := map[string]any{}
		for key, value := range snapshot {
			copied[key] = value
		}
		counselors := []map[string]any{}
		for _, c := range snapshot["counselors"].([]map[string]any) {
			if c["id"] == "1001" {
				row := map[string]any{"emergency": state}
				for key, value := range c {
					row[key] = value
				}
				c = row
			}
			counselors = append(counselors, c)
		}
		copied["counselors"] = counselors
		if state["status"] == "failed" {
			alert := map[string]any{"kind": "emergency_failed", "call_id": fakeCallID, "counselor": "1001",
				"target": state["target"], "reason": state["reason"], "since": state["at"]}
			copied["alerts"] = append([]map[string]any{alert}, snapshot["alerts"].([]map[string]any)...)
		}
		snapshots[i] = copied
	}
	return snapshots
}

// consoleSnapshots returns the fixed console snapshots, with 109 among
// the targets and the emergency call state when there is one.
func (f *pageAPI) consoleSnapshots(now time.Time) []map[string]any {
	snapshots := consoleSnapshots(now)
	state := f.emergencyState()
	if state == nil {
		return snapshots
	}
	for _, snapshot := range snapshots {
		snapshot["emergency"] = map[string]any{"available": true, "targets": []string{"119", "112", "109"}, "call": state}
	}
	return snapshots
}

func (f *pageAPI) setRole(role string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.role = role
}

// takePosts returns the POSTs received since the last call.
func (f *pageAPI) takePosts() []fakePost {
	f.mu.Lock()
	defer f.mu.Unlock()
	posts := f.posts
	f.posts = nil
	return posts
}

// endSession ends the fake session, as a logout in another tab does.
func (f *pageAPI) endSession() {
	close(f.ended)
}

func (f *pageAPI) sessionEnded() bool {
	select {
	case <-f.ended:
		return true
	default:
		return false
	}
}

func (f *pageAPI) session(w http.ResponseWriter, _ *http.Request) {
	if f.sessionEnded() {
		web.WriteError(w, http.StatusUnauthorized, "not logged in: log in at /login")
		return
	}
	f.mu.Lock()
	role := f.role
	f.mu.Unlock()

	counselor := ""
	if role == "counselor" {
		counselor = "1001"
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"user": "kim", "role": role, "counselor": counselor, "csrf_token": fakeCSRF,
		"expires_at": time.Now().Add(time.Hour).Format(time.RFC3339),
	})
}

// stream sends the snapshots as SSE events named event, one after the
// other, and holds the stream open until the page goes.
func (f *pageAPI) stream(event string, snapshots func(now time.Time) []map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if f.sessionEnded() {
			web.WriteError(w, http.StatusUnauthorized, "not logged in: log in at /login")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		flusher := w.(http.Flusher)

		fmt.Fprint(w, "retry: 2000\n\n")
		for _, snapshot := range snapshots(time.Now()) {
			data, _ := json.Marshal(snapshot)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
		case <-f.ended:
		}
	}
}

func rfc3339(at time.Time) string {
	return at.UTC().Format(time.RFC3339)
}

// boardSnapshots returns two board snapshots. The second adds the
// callback cb-0123456789abcdef, so a page that shows it has taken the
// second update.
func boardSnapshots(now time.Time) []map[string]any {
	waiting := []map[string]any{{
		"call_id": "call-1", "number": "010-****-5678", "waited_s": 150, "enqueued_at": rfc3339(now.Add(-150 * time.Second)),
		"language": "ko", "caller_type": "self", "high_risk": true, "kind": "call", "offered_to": "",
	}, {
		"call_id": "cb-0123456789abcdef", "number": "010-****-1234", "waited_s": 40, "enqueued_at": rfc3339(now.Add(-40 * time.Second)),
		"language": "ko", "caller_type": "someone_else", "high_risk": false, "kind": "callback", "offered_to": "1002",
	}}
	figures := map[string]any{"offered": 42, "answered": 37, "abandoned": 5, "abandon_rate": 0.119, "service_level": 0.82,
		"asa_s": 18.4, "aht_s": 612, "callbacks_pending": 3}
	counselors := []map[string]any{
		{"id": "1001", "name": "김상담", "state": "on_call", "since": rfc3339(now.Add(-4 * time.Minute)), "registered": true,
			"call_id": fakeCallID, "calls_today": 7, "call_started_at": rfc3339(now.Add(-4 * time.Minute)), "missed_pause": false},
		{"id": "1002", "name": "이상담", "state": "available", "since": rfc3339(now.Add(-65 * time.Second)), "registered": true,
			"calls_today": 5, "missed_pause": false},
		{"id": "1003", "name": "박상담", "state": "break", "reason": "점심", "since": rfc3339(now.Add(-20 * time.Minute)),
			"registered": true, "calls_today": 3, "missed_pause": true},
		{"id": "1004", "name": "최상담", "state": "logged_out", "since": rfc3339(now.Add(-3 * time.Hour)), "registered": false,
			"calls_today": 0, "missed_pause": false},
	}
	alerts := []map[string]any{
		{"kind": "high_risk_waiting", "queue": "loneliness_ko", "call_id": "call-1", "since": rfc3339(now.Add(-150 * time.Second))},
		{"kind": "long_wait", "queue": "loneliness_ko", "call_id": "call-1", "since": rfc3339(now.Add(-30 * time.Second))},
		{"kind": "missed_pause", "counselor": "1003", "since": rfc3339(now.Add(-20 * time.Minute))},
		{"kind": "no_available"},
	}
	var series []map[string]any
	start := now.Add(-8 * time.Hour).Truncate(15 * time.Minute)
	for i := 0; start.Add(time.Duration(i) * 15 * time.Minute).Before(now); i++ {
		series = append(series, map[string]any{
			"at":            rfc3339(start.Add(time.Duration(i) * 15 * time.Minute)),
			"waiting":       (i * 7) % 6,
			"service_level": 0.6 + float64((i*13)%40)/100,
		})
	}

	first := map[string]any{
		"at": rfc3339(now), "service_level_s": 20, "wait_alert_s": 120,
		"queues": []map[string]any{
			{"name": "loneliness_ko", "label_ko": "외로움 상담(한국어)", "label_en": "Loneliness (Korean)", "waiting": waiting[:1], "longest_wait_s": 150},
			{"name": "loneliness_en", "waiting": []map[string]any{}, "longest_wait_s": 0},
		},
		"counselors": counselors, "today": figures, "last_hour": figures, "alerts": alerts, "series": series,
	}
	second := map[string]any{}
	for key, value := range first {
		second[key] = value
	}
	second["queues"] = []map[string]any{
		{"name": "loneliness_ko", "label_ko": "외로움 상담(한국어)", "label_en": "Loneliness (Korean)", "waiting": waiting, "longest_wait_s": 150},
		{"name": "loneliness_en", "waiting": []map[string]any{}, "longest_wait_s": 0},
	}
	return []map[string]any{first, second}
}

// consoleSnapshots returns the console offered the call, then on it.
func consoleSnapshots(now time.Time) []map[string]any {
	call := func(phase string) map[string]any {
		return map[string]any{"call_id": fakeCallID, "phase": phase, "queue": "loneliness_ko", "digits": "12",
			"language": "ko", "caller_type": "self", "waited_s": 95, "high_risk": true, "kind": "call"}
	}
	counselor := func(state string) map[string]any {
		return map[string]any{"id": "1001", "name": "김상담", "state": state, "since": rfc3339(now.Add(-10 * time.Second)),
			"registered": true, "call_id": fakeCallID}
	}
	emergency := map[string]any{"available": true, "targets": []string{"119", "112"}}
	return []map[string]any{
		{"at": rfc3339(now), "counselor": counselor("offered"), "call": call("offered"), "emergency": emergency},
		{"at": rfc3339(now), "counselor": counselor("on_call"), "call": call("on_call"), "emergency": emergency},
	}
}

func (f *pageAPI) history(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeCallID {
		web.WriteError(w, http.StatusNotFound, "call not found")
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"calls": []map[string]any{
			{"call_id": "old-2", "started_at": "2026-11-28T13:05:00Z", "outcome": "answered", "risk": "high",
				"summary": "잠을 잘 못 자고 밥을 거른다고 함. 다음 주 방문 약속.", "followup": "home_visit", "queue_wait_s": 42},
			{"call_id": "old-1", "started_at": "2026-11-02T09:40:00Z", "outcome": "abandoned_in_queue", "risk": "",
				"summary": "", "followup": "", "queue_wait_s": 300},
		},
		"open_followups": []map[string]any{
			{"id": "f-9", "call_id": "old-2", "kind": "home_visit", "origin": "wrap_up", "risk": "high", "district": "마포구",
				"due_date": "2026-12-07", "owner": "lee", "state": "open"},
		},
	})
}

var fakeFollowUps = []map[string]any{
	{"id": "f-1", "call_id": "c-1", "kind": "home_visit", "origin": "wrap_up", "risk": "imminent", "district": "마포구",
		"due_date": "2026-12-01", "owner": "", "state": "open", "outcome": "", "notes": "2026-12-01 10:02 kim: 문 앞에서 기다리기로 함",
		"number": "010-****-5678", "created_at": "2026-11-30T01:00:00Z", "updated_at": "2026-11-30T01:00:00Z"},
	{"id": "f-2", "call_id": "c-2", "kind": "callback", "origin": "server_callback", "risk": "none", "district": "",
		"due_date": "", "owner": "lee", "state": "open", "outcome": "", "notes": "",
		"number": "010-****-1234", "created_at": "2026-12-02T03:00:00Z", "updated_at": "2026-12-02T03:00:00Z"},
	{"id": "f-3", "call_id": "c-3", "kind": "counseling", "origin": "wrap_up", "risk": "medium", "district": "서대문구",
		"due_date": "2099-01-15", "owner": "park", "state": "open", "outcome": "", "notes": "",
		"number": "02-****-9876", "created_at": "2026-12-03T05:00:00Z", "updated_at": "2026-12-03T05:00:00Z"},
	{"id": "f-4", "call_id": "cb-4", "kind": "callback", "origin": "server_callback", "risk": "", "district": "",
		"due_date": "", "owner": "", "state": "closed", "outcome": "callback_completed", "notes": "",
		"number": "02-***-4567", "created_at": "2026-12-02T01:00:00Z", "updated_at": "2026-12-02T02:00:00Z",
		"closed_at": "2026-12-02T02:00:00Z"},
}

// liveFollowUp is the task a test adds while the page is open, to see
// that the page shows it without a reload.
var liveFollowUp = map[string]any{"id": "f-5", "call_id": "c-5", "kind": "interrupted", "origin": "interrupted", "risk": "",
	"district": "", "due_date": "", "owner": "", "state": "open", "outcome": "", "notes": "",
	"number": "010-****-4321", "created_at": "2026-12-04T05:00:00Z", "updated_at": "2026-12-04T05:00:00Z"}

// addFollowUp adds task to the list and wakes the follow-up streams.
func (f *pageAPI) addFollowUp(task map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, task)
	close(f.changed)
	f.changed = make(chan struct{})
}

// resetFollowUps removes the added tasks.
func (f *pageAPI) resetFollowUps() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = nil
}

// matchingFollowUps returns the tasks query selects, as the real route
// does, and the channel that closes at the next change.
func (f *pageAPI) matchingFollowUps(query url.Values) ([]map[string]any, <-chan struct{}) {
	f.mu.Lock()
	tasks := append(slices.Clone(fakeFollowUps), f.added...)
	changed := f.changed
	f.mu.Unlock()

	list := []map[string]any{}
	for _, task := range tasks {
		keep := true
		for _, field := range []string{"state", "kind", "district", "risk"} {
			if want := query.Get(field); want != "" && task[field] != want {
				keep = false
			}
		}
		if keep {
			list = append(list, task)
		}
	}
	return list, changed
}

func (f *pageAPI) followups(w http.ResponseWriter, r *http.Request) {
	list, _ := f.matchingFollowUps(r.URL.Query())
	web.WriteJSON(w, http.StatusOK, map[string]any{"followups": list})
}

// followUpStream sends the matching tasks at once and after every change,
// until the page goes.
func (f *pageAPI) followUpStream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher := w.(http.Flusher)
	fmt.Fprint(w, "retry: 2000\n\n")
	for {
		list, changed := f.matchingFollowUps(r.URL.Query())
		data, _ := json.Marshal(map[string]any{"at": rfc3339(time.Now()), "followups": list})
		fmt.Fprintf(w, "event: followups\ndata: %s\n\n", data)
		flusher.Flush()
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// post records every POST and responds as the routes the pages use do. A
// wrap-up whose district is "없는구" gets the 400 a real server gives for a
// bad field, so the page must show the server's message.
func (f *pageAPI) post(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{}
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.posts = append(f.posts, fakePost{Path: r.URL.EscapedPath(), CSRF: r.Header.Get("X-CSRF-Token"), Body: body})
	f.mu.Unlock()

	if r.Header.Get("X-CSRF-Token") != fakeCSRF {
		web.WriteError(w, http.StatusForbidden, "missing or wrong CSRF token: reload the page")
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/wrap-up"):
		if body["district"] == "없는구" {
			web.WriteError(w, http.StatusBadRequest, `"district" 없는구 is not a known district: use a Seoul district`)
			return
		}
		web.WriteJSON(w, http.StatusCreated, body)
	case r.URL.Path == "/api/v1/counselors/1003/state":
		web.WriteError(w, http.StatusConflict, "counselor 1003 cannot become available now: wait for the state to change")
	case strings.HasSuffix(r.URL.Path, "/reveal"):
		web.WriteJSON(w, http.StatusOK, map[string]any{"number": "01012345678", "formatted": "010-1234-5678"})
	default:
		web.WriteJSON(w, http.StatusOK, map[string]any{})
	}
}

// viewports are the screen sizes the pages must fit without scrolling
// sideways: a laptop and a tablet held upright.
var viewports = []struct{ Width, Height int }{{1280, 800}, {768, 1024}}

// languages lists the page languages with a word each must show.
var languages = []struct {
	Code       string
	BoardWord  string
	FormWord   string
	FilterWord string
	// QueueLabel is the board's heading of queue loneliness_ko.
	QueueLabel string
	// CancelOK and CancelClose are the buttons of the cancel-callback
	// dialog.
	CancelOK    string
	CancelClose string
	// Outcome is the text of the outcome callback_completed.
	Outcome string
}{
	{Code: "ko", BoardWord: "포기율", FormWord: "전화하신 분", FilterWord: "위험도",
		QueueLabel: "외로움 상담(한국어)", CancelOK: "콜백 취소하기", CancelClose: "닫기", Outcome: "콜백 완료"},
	{Code: "en", BoardWord: "Abandon rate", FormWord: "Who called", FilterWord: "Risk",
		QueueLabel: "Loneliness (Korean)", CancelOK: "Cancel callback", CancelClose: "Close", Outcome: "Callback completed"},
}

func TestPagesInBrowser(t *testing.T) {
	fake, base := startPageAPI(t)
	browser := StartBrowser(t, BrowserOptions{})

	for _, size := range viewports {
		browser.SetViewport(size.Width, size.Height)
		for _, lang := range languages {
			name := fmt.Sprintf("%dx%d-%s", size.Width, size.Height, lang.Code)
			t.Run(name, func(t *testing.T) {
				b := browser.For(t)
				checkBoard(t, b, fake, base, lang.Code, lang.BoardWord, name)
				checkBoardWording(t, b, lang.QueueLabel, lang.CancelOK, lang.CancelClose)
				checkConsole(t, b, fake, base, lang.Code, lang.FormWord, name)
				checkFollowUps(t, b, fake, base, lang.Code, lang.FilterWord, name)
				checkFollowUpActions(t, b, fake, lang.Code, lang.Outcome)
			})
		}
	}
}

// switchLanguage opens page, picks lang with the header switch and checks
// that <html lang> follows.
func switchLanguage(t *testing.T, b *Browser, url, lang string) {
	t.Helper()

	b.Navigate(url)
	b.Click(fmt.Sprintf(`.hl-lang button[data-lang=%q]`, lang))
	b.WaitTrue(fmt.Sprintf(`document.documentElement.lang === %q && localStorage.getItem("hl_lang") === %q`, lang, lang))
}

func checkBoard(t *testing.T, b *Browser, fake *pageAPI, base, lang, word, name string) {
	fake.setRole("supervisor")
	switchLanguage(t, b, base+"/board", lang)

	// The callback comes in the second snapshot only.
	b.WaitVisible(`.queue[data-queue="loneliness_ko"] .waiting-row[data-call-id="cb-0123456789abcdef"]`)
	b.WaitVisible(`.waiting-row[data-call-id="call-1"] .hl-badge-risk`)
	b.WaitVisible(`.counselor-row[data-counselor="1001"] [data-action="listen"]`)
	b.WaitVisible(`.counselor-row[data-counselor="1003"] [data-action="resume"]`)
	if got := b.Count(`#alerts .alert`); got != 4 {
		t.Errorf("board: %d alerts shown, want 4", got)
	}
	if text := b.Text(`#alerts .alert[data-kind="no_available"]`); !strings.Contains(text, ":") || strings.Contains(text, "{") {
		t.Errorf("board: no_available alert reads %q, want a filled sentence", text)
	}
	if text := b.Text("#figures-today"); !strings.Contains(text, word) || !strings.Contains(text, "82%") {
		t.Errorf("board: #figures-today reads %q, want %q and 82%%", text, word)
	}
	if got := b.Count(`#chart svg circle.point-waiting`); got < 2 {
		t.Errorf("board: chart has %d waiting points, want one per 15 minutes", got)
	}
	if points := Eval[string](b, `document.querySelector("#chart polyline.line-sl").getAttribute("points")`); strings.Count(points, ",") < 2 {
		t.Errorf("board: service level line has points %q, want several", points)
	}
	if text := b.Text(`.waiting-row[data-call-id="call-1"] .hl-tick`); !strings.HasPrefix(text, "02:") {
		t.Errorf("board: call-1 wait reads %q, want 02:xx", text)
	}
	if !Eval[bool](b, `document.getElementById("conn-status").hidden`) {
		t.Error("board: the reconnecting banner shows while the stream is up")
	}

	b.CheckLayout("board " + name)
	b.Screenshot("board-" + name)

	// Cancelling a callback opens a confirmation first, then posts with
	// the CSRF token.
	fake.takePosts()
	b.Click(`.waiting-row[data-call-id="cb-0123456789abcdef"] [data-action="cancel-callback"]`)
	b.WaitVisible("#hl-dialog-ok")
	b.Screenshot("board-dialog-" + name)
	b.Click("#hl-dialog-ok")
	b.WaitVisible("#notice.hl-ok")
	checkPosts(t, fake, []fakePost{{Path: "/api/v1/callbacks/cb-0123456789abcdef/cancel", CSRF: fakeCSRF, Body: map[string]any{}}})
}

// checkBoardWording checks, on the board that checkBoard left, the queue
// heading from its label and the buttons of the cancel-callback dialog,
// which must not read OK and Cancel.
func checkBoardWording(t *testing.T, b *Browser, queueLabel, cancelOK, cancelClose string) {
	if text := b.Text(`.queue[data-queue="loneliness_ko"] h3`); text != queueLabel {
		t.Errorf("board: queue heading reads %q, want %q", text, queueLabel)
	}
	if text := b.Text(`#alerts .alert[data-kind="high_risk_waiting"]`); !strings.Contains(text, queueLabel) {
		t.Errorf("board: high-risk alert reads %q, want the queue label %q", text, queueLabel)
	}

	b.Click(`.waiting-row[data-call-id="cb-0123456789abcdef"] [data-action="cancel-callback"]`)
	b.WaitVisible("#hl-dialog-ok")
	if ok, closeText := b.Text("#hl-dialog-ok"), b.Text("#hl-dialog-cancel"); ok != cancelOK || closeText != cancelClose {
		t.Errorf("board: cancel dialog buttons read %q and %q, want %q and %q", ok, closeText, cancelOK, cancelClose)
	}
	b.Click("#hl-dialog-cancel")
	b.WaitTrue(`!document.querySelector("dialog.hl-dialog").open`)
}

func checkConsole(t *testing.T, b *Browser, fake *pageAPI, base, lang, word, name string) {
	fake.setRole("counselor")
	switchLanguage(t, b, base+"/console", lang)

	b.WaitVisible(`#screen-pop[data-phase="on_call"]`)
	b.WaitVisible(`#history .history-row[data-call-id="old-2"]`)
	b.WaitVisible("#btn-emergency")
	if Eval[bool](b, `document.getElementById("btn-emergency").disabled`) {
		t.Error("console: the emergency button is disabled although the server offers emergency calls")
	}
	if got := Eval[int](b, `document.querySelectorAll("#emergency-target option").length`); got != 2 {
		t.Errorf("console: %d emergency targets offered, want the server's 119 and 112", got)
	}
	// The caller's earlier call was high risk and has an open follow-up.
	b.WaitVisible(`#pop-flags [data-flag="earlier-risk"]`)
	b.WaitVisible(`#pop-flags [data-flag="open-followup"]`)
	if text := b.Text("#screen-pop"); !strings.Contains(text, "1 › 2") || !strings.Contains(text, "01:35") {
		t.Errorf("console: screen pop reads %q, want the menu path 1 › 2 and the wait 01:35", text)
	}
	if got := b.Count(`#history .history-followup[data-id="f-9"]`); got != 1 {
		t.Errorf("console: %d open follow-ups shown, want 1", got)
	}
	if text := b.Text("#wrapup-form"); !strings.Contains(text, word) {
		t.Errorf("console: wrap-up form lacks %q", word)
	}

	// Submitting an empty form names the missing fields and sends nothing.
	fake.takePosts()
	b.Click("#wrapup-submit")
	b.WaitTrue(`document.getElementById("wrapup-error").textContent !== ""`)
	if posts := fake.takePosts(); len(posts) != 0 {
		t.Errorf("console: an incomplete wrap-up was posted: %+v", posts)
	}

	b.Click(`[name=reporter][value=family]`)
	b.Click(`[name=isolation_item][value="1"]`)
	b.Click(`[name=isolation_item][value="3"]`)
	b.Click(`[name=isolation_item][value="4"]`)
	b.SetValue(`[name=risk]`, "high")
	b.SetValue(`[name=followup]`, "home_visit")
	b.WaitVisible(`[name=due_date]`)
	b.SetValue(`[name=notes]`, "혼자 지내며 식사를 거름")

	// Due date and district are required once a follow-up is chosen.
	b.Click("#wrapup-submit")
	b.WaitTrue(`document.querySelector("[name=district]").getAttribute("aria-invalid") === "true"`)
	if posts := fake.takePosts(); len(posts) != 0 {
		t.Errorf("console: a wrap-up without due date and district was posted: %+v", posts)
	}

	// A due date in the past is rejected in the page, before sending.
	b.SetValue(`[name=due_date]`, time.Now().AddDate(0, 0, -1).Format(time.DateOnly))
	b.SetValue(`[name=district]`, "마포구")
	b.Click("#wrapup-submit")
	b.WaitTrue(`document.querySelector("[name=due_date]").getAttribute("aria-invalid") === "true"`)
	if text := b.Text("#wrapup-error"); !strings.Contains(text, pastDueWord[lang]) {
		t.Errorf("console: error for a past due date reads %q, want %q", text, pastDueWord[lang])
	}
	if posts := fake.takePosts(); len(posts) != 0 {
		t.Errorf("console: a wrap-up due in the past was posted: %+v", posts)
	}

	due := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)
	b.SetValue(`[name=due_date]`, due)
	b.SetValue(`[name=district]`, "없는구")
	b.Click("#wrapup-submit")
	b.WaitTrue(`document.getElementById("wrapup-error").textContent.includes("is not a known district")`)
	b.CheckLayout("console " + name)
	b.Screenshot("console-" + name)
	fake.takePosts()

	b.SetValue(`[name=district]`, "마포구")
	b.Click("#wrapup-submit")
	b.WaitVisible("#wrapup-saved")
	wrapUp := map[string]any{"reporter": "family", "isolation_score": 3.0, "risk": "high", "notes": "혼자 지내며 식사를 거름",
		"followup": "home_visit", "due_date": due, "district": "마포구"}
	checkPosts(t, fake, []fakePost{{Path: "/api/v1/calls/a84b4c76e66710%40127.0.0.1/wrap-up", CSRF: fakeCSRF, Body: wrapUp}})
}

// pastDueWord is a word of the console's error for a due date in the
// past, by page language.
var pastDueWord = map[string]string{"ko": "지난 날짜", "en": "in the past"}

func checkFollowUps(t *testing.T, b *Browser, fake *pageAPI, base, lang, word, name string) {
	fake.setRole("followup")
	fake.resetFollowUps()
	switchLanguage(t, b, base+"/followups", lang)

	b.WaitVisible(`.followup-row[data-id="f-1"]`)
	if got := b.Count(".followup-row"); got != 3 {
		t.Errorf("follow-ups: %d rows, want 3", got)
	}
	if text := b.Text(`label[for="f-risk"]`); text != word {
		t.Errorf("follow-ups: risk filter label %q, want %q", text, word)
	}
	b.WaitVisible("#export-csv-numbers")
	wantLink := fmt.Sprintf("/api/v1/followups/export.csv?state=open&kind=&district=&risk=&reveal=1&lang=%s", lang)
	if href := Eval[string](b, `document.getElementById("export-csv-numbers").getAttribute("href")`); href != wantLink {
		t.Errorf("follow-ups: export link %q, want %q", href, wantLink)
	}

	// A revealed number is grouped like the masked one, and "Hide" masks
	// it again.
	b.Click(`.followup-row[data-id="f-1"] [data-action="reveal"]`)
	b.WaitTrue(`document.querySelector('.followup-row[data-id="f-1"] .number').textContent === "010-1234-5678"`)
	b.CheckLayout("follow-ups " + name)
	b.Screenshot("followups-" + name)
	b.Click(`.followup-row[data-id="f-1"] [data-action="hide"]`)
	b.WaitTrue(`document.querySelector('.followup-row[data-id="f-1"] .number').textContent === "010-****-5678"`)

	// A task made while the page is open shows without a reload.
	fake.addFollowUp(liveFollowUp)
	b.WaitVisible(`.followup-row[data-id="f-5"]`)

	b.SetValue("#f-risk", "imminent")
	b.WaitTrue(`document.querySelectorAll(".followup-row").length === 1`)
	if href := Eval[string](b, `document.getElementById("export-csv").getAttribute("href")`); !strings.Contains(href, "risk=imminent") {
		t.Errorf("follow-ups: export link %q, want the risk filter", href)
	}
	b.SetValue("#f-risk", "")
	b.SetValue("#f-district", "서대문구")
	b.WaitTrue(`document.querySelectorAll(".followup-row").length === 1 && document.querySelector('.followup-row[data-id="f-3"]') !== null`)
	b.SetValue("#f-district", "")
	b.SetValue("#f-kind", "callback")
	b.WaitTrue(`document.querySelectorAll(".followup-row").length === 1 && document.querySelector('.followup-row[data-id="f-2"]') !== null`)
}

// checkFollowUpActions checks, on the list that checkFollowUps left
// filtered to callbacks, that a closed task offers no change and shows its
// outcome translated.
func checkFollowUpActions(t *testing.T, b *Browser, fake *pageAPI, lang, outcome string) {
	b.SetValue("#f-state", "")
	b.WaitVisible(`.followup-row[data-id="f-4"]`)
	closed := `.followup-row[data-id="f-4"]`
	for _, action := range []string{"assign", "note", "close"} {
		if got := b.Count(closed + ` [data-action="` + action + `"]`); got != 0 {
			t.Errorf("follow-ups (%s): closed task offers %s", lang, action)
		}
	}
	if got := b.Count(`.followup-row[data-id="f-2"] [data-action="assign"]`); got != 1 {
		t.Errorf("follow-ups (%s): open task f-2 offers no assign", lang)
	}
	if text := b.Text(closed + " .followup-outcome"); text != outcome {
		t.Errorf("follow-ups (%s): closed task outcome reads %q, want %q", lang, text, outcome)
	}
	fake.resetFollowUps()
	b.SetValue("#f-kind", "")
	b.SetValue("#f-state", "open")
}

func checkPosts(t *testing.T, fake *pageAPI, want []fakePost) {
	t.Helper()

	got := fake.takePosts()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("POSTs:\n got %+v\nwant %+v", got, want)
	}
}

// noticeScript returns the state of #notice: shown, its class, its text,
// whether it has a close button and its CSS position.
const noticeScript = `(() => {
	const notice = document.getElementById("notice");
	return {
		shown: !notice.hidden,
		error: notice.classList.contains("hl-error"),
		text: notice.textContent,
		close: notice.querySelector("button.hl-notice-close") !== null,
		position: getComputedStyle(notice).position,
	};
})()`

// noticeState is the result of noticeScript.
type noticeState struct {
	Shown    bool   `json:"shown"`
	Error    bool   `json:"error"`
	Text     string `json:"text"`
	Close    bool   `json:"close"`
	Position string `json:"position"`
}

func TestPageNoticesInBrowser(t *testing.T) {
	fake, base := startPageAPI(t)
	b := StartBrowser(t, BrowserOptions{})
	switchLanguage(t, b, base+"/board", "ko")
	b.WaitVisible(`.waiting-row[data-call-id="cb-0123456789abcdef"]`)
	if title := Eval[string](b, "document.title"); title != "상황판 · 외로움안녕120" {
		t.Errorf("board title = %q, want 상황판 · 외로움안녕120", title)
	}

	// A 409 shows the Korean explanation, then the server's text, in the
	// flow of the page, with a close button.
	b.Click(`.counselor-row[data-counselor="1003"] [data-action="resume"]`)
	b.WaitVisible("#notice.hl-error")
	notice := Eval[noticeState](b, noticeScript)
	if !strings.HasPrefix(notice.Text, "지금 상태에서는 할 수 없습니다") || !strings.Contains(notice.Text, "counselor 1003 cannot become available now") {
		t.Errorf("409 notice reads %q, want the Korean explanation and then the server's text", notice.Text)
	}
	if !notice.Close || notice.Position == "sticky" || notice.Position == "fixed" {
		t.Errorf("error notice has close button %t and position %s, want a button and a place in the flow", notice.Close, notice.Position)
	}
	b.Screenshot("notice-error")
	b.Click("#notice .hl-notice-close")
	b.WaitNotVisible("#notice")

	// The next successful action replaces an error, and its note fades
	// by itself.
	b.Click(`.counselor-row[data-counselor="1003"] [data-action="resume"]`)
	b.WaitVisible("#notice.hl-error")
	b.Click(`.waiting-row[data-call-id="cb-0123456789abcdef"] [data-action="cancel-callback"]`)
	b.Click("#hl-dialog-ok")
	b.WaitVisible("#notice.hl-ok")
	b.WaitNotVisible("#notice")
	fake.takePosts()

	// The session ends elsewhere: the page goes to the login page at
	// once, which says that the login ended.
	fake.endSession()
	b.WaitVisible("#login-notice")
	if at := Eval[string](b, `location.pathname + location.search`); at != "/login?next=%2Fboard&ended=1" {
		t.Errorf("the ended session opened %s, want /login?next=%%2Fboard&ended=1", at)
	}
	if text := b.Text("#login-notice"); !strings.Contains(text, "로그인이 끝났습니다. 다시 로그인하십시오.") || !strings.Contains(text, "Your login ended; log in again.") {
		t.Errorf("login notice reads %q, want that the login ended, in Korean and English", text)
	}
	b.Screenshot("login-ended")
}

// contrastScript returns the WCAG contrast ratio between the text colour
// of the element selector and the background of its nearest ancestor that
// has one.
func contrastScript(selector string) string {
	return fmt.Sprintf(`(() => {
	const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
	const luminance = ([r, g, b]) => {
		const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
	};
	const node = document.querySelector(%q);
	let back = node;
	while (back && rgb(getComputedStyle(back).backgroundColor)[3] === 0) back = back.parentElement;
	const fore = luminance(rgb(getComputedStyle(node).color));
	const ground = luminance(rgb(back ? getComputedStyle(back).backgroundColor : "rgb(255,255,255)"));
	return (Math.max(fore, ground) + 0.05) / (Math.min(fore, ground) + 0.05);
})()`, selector)
}

func TestLoginPageLooksLikePages(t *testing.T) {
	_, base := startPageAPI(t)
	b := StartBrowser(t, BrowserOptions{})
	b.Navigate(base + "/board")
	b.WaitVisible("#board")
	pageFont := Eval[string](b, `getComputedStyle(document.body).fontFamily`)

	for _, lang := range []string{"ko", "en"} {
		b.Navigate(base + "/login")
		b.Click(fmt.Sprintf(`[data-set-lang=%q]`, lang))
		b.WaitTrue(fmt.Sprintf(`document.documentElement.lang === %q`, lang))
		if font := Eval[string](b, `getComputedStyle(document.body).fontFamily`); font != pageFont {
			t.Errorf("login %s: font %q, want the pages' %q", lang, font, pageFont)
		}
		for _, selector := range []string{`[data-set-lang="ko"]`, `[data-set-lang="en"]`, ".hl-header h1", "#login-submit", `label[for="user"]`} {
			if ratio := Eval[float64](b, contrastScript(selector)); ratio < 4.5 {
				t.Errorf("login %s: %s has contrast %.2f, want at least 4.5 (WCAG AA)", lang, selector, ratio)
			}
		}
		want := map[string]string{"ko": "외로움안녕120", "en": "Goodbye Loneliness 120"}[lang]
		if header := b.Text(".hl-header h1"); header != want {
			t.Errorf("login %s: header reads %q, want %q", lang, header, want)
		}
		b.CheckLayout("login " + lang)
		b.Screenshot("login-" + lang)
	}
}
